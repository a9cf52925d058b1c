package core

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// retain sets RetainPositions at every site.
func retain(k uint64) func(*Config) { return func(c *Config) { c.RetainPositions = k } }

// writeN commits n writes at site, each after the last (key k<i%keys>,
// every fifth one a deletion of the previous key), and returns the last
// position.
func (n *testNet) writeN(site SiteID, g GroupID, from Position, count, keys int) Position {
	n.t.Helper()
	pos := from
	for i := 0; i < count; i++ {
		n.hold(site, g)
		mu := Mutation{Key: []byte(fmt.Sprintf("k%d", i%keys)), Value: []byte(fmt.Sprintf("v%d", pos+1))}
		if i%5 == 4 {
			mu = Mutation{Key: []byte(fmt.Sprintf("k%d", (i-1)%keys)), Delete: true}
		}
		id, err := n.reps[site].ProposeWrite(WriteRequest{Group: g, ReadPosition: pos, Mutations: []Mutation{mu}})
		if err != nil {
			n.t.Fatal(err)
		}
		res := n.waitResult(site, id)
		if res.Err != nil {
			n.t.Fatalf("write %d at %s: %v", i, site, res.Err)
		}
		pos = res.Position
	}
	return pos
}

func TestTruncationDropsHeldLogAndDurableRecords(t *testing.T) {
	n := newNet(t, retain(8), threeFull()...)
	n.warm()
	last := n.writeN("A", "g", 0, 40, 3)
	n.tick(2)
	for _, s := range n.order {
		gs := n.reps[s].Status().Groups["g"]
		// Truncated through applied-8 once it is 2 (8/4) past the last point.
		if gs.Truncated < last-8-2 || gs.Truncated > last-8 {
			t.Fatalf("%s truncated through %d, applied %d", s, gs.Truncated, gs.Applied)
		}
		if gs.Held > 2*(8+2) {
			t.Fatalf("%s holds %d slots and values with 8 retained", s, gs.Held)
		}
		st := n.durable[s]
		// NB: acceptor records stay a window (minKeptVotes) below the
		// point, for late Invalidates; the slots are gone from memory.
		for _, a := range st.Acceptor {
			if a.Position+minKeptVotes <= gs.Truncated {
				t.Fatalf("%s kept the acceptor record at %d, truncated through %d", s, a.Position, gs.Truncated)
			}
		}
		if _, ok := n.reps[s].Vote("g", gs.Truncated); ok {
			t.Fatalf("%s holds the slot at %d, truncated through it", s, gs.Truncated)
		}
		for _, e := range st.Chosen {
			if e.Position <= gs.Truncated {
				t.Fatalf("%s kept the chosen entry at %d, truncated through %d", s, e.Position, gs.Truncated)
			}
		}
		if st.Truncated["g"] != gs.Truncated {
			t.Fatalf("%s: durable truncation point %d, held %d", s, st.Truncated["g"], gs.Truncated)
		}
		if _, ok := n.reps[s].Known("g", gs.Truncated); ok {
			t.Fatalf("%s still knows position %d", s, gs.Truncated)
		}
		if _, ok := n.reps[s].Known("g", gs.Truncated+1); !ok {
			t.Fatalf("%s forgot position %d above the point", s, gs.Truncated+1)
		}
	}
	// A snapshot read below the point is refused; at the point it reads.
	trunc := n.reps["B"].Status().Groups["g"].Truncated
	id, err := n.reps["B"].Read(ReadRequest{Group: "g", Mode: Snapshot, Position: trunc - 1, Keys: [][]byte{[]byte("k0")}})
	if err != nil {
		t.Fatal(err)
	}
	if res := n.waitResult("B", id); !errors.Is(res.Err, ErrTruncated) || !strings.Contains(res.Err.Error(), "compacted") {
		t.Fatalf("snapshot read below the truncation point: %v", res.Err)
	}
	id, _ = n.reps["B"].Read(ReadRequest{Group: "g", Mode: Snapshot, Position: trunc, Keys: [][]byte{[]byte("k0")}})
	if res := n.waitResult("B", id); res.Err != nil || res.Position != trunc {
		t.Fatalf("snapshot read at the truncation point: %+v", res)
	}
	// A write from a read position at or below the point conflicts at once.
	if res := n.waitResult("A", n.write("A", "g", trunc-1, "k")); !errors.Is(res.Err, ErrConflict) {
		t.Fatalf("write at a truncated position: %v", res.Err)
	}
	n.checkAgreement("g")
}

func TestTruncatedAcceptorRefusesToVote(t *testing.T) {
	for _, bug := range []bool{false, true} {
		t.Run(fmt.Sprintf("TruncatedAcceptorVotes=%v", bug), func(t *testing.T) {
			n := newNet(t, func(c *Config) {
				c.RetainPositions = 4
				c.Bugs.TruncatedAcceptorVotes = bug
			}, threeFull()...)
			n.warm()
			n.down["C"] = true
			last := n.writeN("A", "g", 0, 20, 2)
			n.tick(2)
			if tr := n.reps["B"].Status().Groups["g"].Truncated; tr < 10 {
				t.Fatalf("B truncated through %d", tr)
			}
			// C, back, proposes at position 1 for a stale transaction: its
			// value went to the leader (A), so it may not call it lost.
			n.down["C"] = false
			id := n.write("C", "g", 0, "stale")
			res := n.waitResult("C", id)
			n.tick(5)
			// Two values chosen at one position: the learned values differ.
			learned := map[Position]map[ValueID]bool{}
			for _, ev := range n.trace {
				if ev.Action == ActLearn {
					if learned[ev.Position] == nil {
						learned[ev.Position] = map[ValueID]bool{}
					}
					learned[ev.Position][ev.Value] = true
				}
			}
			two := len(learned[1]) > 1
			if bug {
				if !two || res.Err != nil {
					t.Fatalf("the bug was not caught: values learned at 1: %v, stale write %+v", learned[1], res)
				}
				return
			}
			if two {
				t.Fatalf("two values learned at position 1: %v", learned[1])
			}
			if !errors.Is(res.Err, ErrTruncated) || errors.Is(res.Err, ErrConflict) {
				t.Fatalf("stale write at a truncated position: %v (want ErrTruncated: its outcome is unknown)", res.Err)
			}
			// The refusals sent C for the compacted state.
			if gs := n.reps["C"].Status().Groups["g"]; gs.KnownPrefix < last-4 || gs.Truncated == 0 {
				t.Fatalf("C did not catch up from the compacted state: %+v", gs)
			}
			// A refusal names the point, for Prepare as for Accept.
			b := n.reps["B"]
			tr := b.Status().Groups["g"].Truncated
			for _, typ := range []MessageType{MsgPrepare, MsgAccept, MsgAcceptLeader} {
				n.queue = nil
				v := Value{ID: ValueID{Site: "C", Incarnation: 9, Seq: 1}}
				if err := b.Step(Message{Type: typ, From: "C", To: "B", Group: "g", Position: 1,
					Ballot: MakeBallot(99, 9, 2), Proposal: 7, Value: &v}); err != nil {
					t.Fatal(err)
				}
				n.flush()
				if len(n.queue) != 1 || !n.queue[0].Reject || n.queue[0].Through != tr {
					t.Fatalf("%v at a truncated position answered %+v", typ, n.queue)
				}
				if _, ok := b.Vote("g", 1); ok {
					t.Fatalf("%v made a slot at a truncated position", typ)
				}
			}
		})
	}
}

// TestCatchUpFromCompactedState: a site that was down while the others
// wrote and truncated catches up through their compacted state, paged,
// and reads what they read.
func TestCatchUpFromCompactedState(t *testing.T) {
	for _, kind := range []SiteKind{Full, Witness} {
		t.Run(kind.String(), func(t *testing.T) {
			sites := []Site{{"A", Full}, {"B", Full}, {"C", kind}, {"D", Full}, {"E", Full}}
			n := newNet(t, retain(6), sites...)
			n.pageRows = 2
			n.warm()
			n.down["C"] = true
			last := n.writeN("A", "g", 0, 30, 7)
			n.tick(2)
			n.down["C"] = false
			if kind == Full {
				// A current read at C finds the position and catches up.
				id := n.read("C", "g", Current)
				res := n.waitResult("C", id)
				if res.Err != nil || res.Position < last {
					t.Fatalf("current read at C: %+v (last write at %d)", res, last)
				}
				for i := 0; i < 7; i++ {
					k := fmt.Sprintf("k%d", i)
					if got, want := n.readAt("C", "g", k, res.Position), n.readAt("A", "g", k, res.Position); string(got) != string(want) {
						t.Fatalf("C reads %s=%q at %d, A %q", k, got, res.Position, want)
					}
				}
				if n.durable["C"].Applied["g"] < last {
					t.Fatalf("C applied %d", n.durable["C"].Applied["g"])
				}
			} else {
				// A witness hears of new positions by commits; the scan
				// fetches the rest.
				n.writeN("A", "g", last, 1, 7)
				last++
				n.tick(int(DefaultConfig("A", sites).ScanIntervalTicks) + 2)
				if len(n.data["C"]["g"]) > 0 {
					t.Fatalf("the witness got rows")
				}
			}
			gs := n.reps["C"].Status().Groups["g"]
			if gs.Truncated == 0 || gs.KnownPrefix < last || n.durable["C"].Truncated["g"] != gs.Truncated && gs.Truncated < n.durable["C"].Truncated["g"] {
				t.Fatalf("C after catch-up: %+v, durable point %d", gs, n.durable["C"].Truncated["g"])
			}
			if len(n.stepErrs) > 0 {
				t.Fatalf("step errors: %v", n.stepErrs)
			}
			// C goes on: it writes after the installed state.
			if kind == Full {
				id := n.write("C", "g", gs.Applied, "after")
				if res := n.waitResult("C", id); res.Err != nil {
					t.Fatalf("write at C after the install: %v", res.Err)
				}
			}
			n.checkAgreement("g")
		})
	}
}

func TestRestartAfterTruncation(t *testing.T) {
	n := newNet(t, retain(4), threeFull()...)
	n.warm()
	last := n.writeN("A", "g", 0, 20, 3)
	n.tick(2)
	before := map[SiteID]GroupStatus{}
	for _, s := range n.order {
		before[s] = n.reps[s].Status().Groups["g"]
		n.restart(s)
	}
	for _, s := range n.order {
		gs := n.reps[s].Status().Groups["g"]
		if gs.Truncated != before[s].Truncated || gs.KnownPrefix != last || gs.Applied != last {
			t.Fatalf("%s restarted as %+v, was %+v", s, gs, before[s])
		}
		// Still refuses at the point after the restart.
		n.flush()
		n.queue = nil
		if err := n.reps[s].Step(Message{Type: MsgPrepare, From: "C", To: s, Group: "g", Position: gs.Truncated,
			Ballot: MakeBallot(50, 9, 2), Proposal: 3}); err != nil {
			t.Fatal(err)
		}
		n.flush()
		if len(n.queue) != 1 || !n.queue[0].Reject || n.queue[0].Through != gs.Truncated {
			t.Fatalf("%s after restart answered %+v", s, n.queue)
		}
		n.queue = nil
	}
	n.tick(60) // NB: a restarted lease service grants nothing for a lease and the skew
	last = n.writeN("B", "g", last, 10, 3)
	id := n.read("C", "g", Current)
	if res := n.waitResult("C", id); res.Err != nil || res.Position != last {
		t.Fatalf("read after restart: %+v", res)
	}
	n.checkAgreement("g")
}

// TestTruncationWithEviction: a group forgotten and loaded again keeps its
// truncation point.
func TestTruncationWithEviction(t *testing.T) {
	n := newNet(t, retain(4), threeFull()...)
	n.evict = true
	n.warm()
	last := n.writeN("A", "g", 0, 20, 3)
	n.tick(2)
	if n.evicted == 0 {
		t.Fatal("nothing was evicted")
	}
	n.hold("B", "g")
	if gs := n.reps["B"].Status().Groups["g"]; gs.Truncated == 0 || gs.KnownPrefix != last {
		t.Fatalf("B loaded %+v", gs)
	}
}

// TestCompactedStateBadInput: a malformed compacted-state page is refused
// with an error naming it, and changes nothing.
func TestCompactedStateBadInput(t *testing.T) {
	n := newNet(t, retain(4), []Site{{"A", Full}, {"B", Full}, {"C", Full}, {"W", Witness}}...)
	n.warm()
	page := func(mut func(*Message)) Message {
		m := Message{Type: MsgCatchUpResp, From: "A", To: "B", Group: "g", Through: 5,
			Rows: []KeyValue{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}}}
		mut(&m)
		return m
	}
	for name, m := range map[string]Message{
		"absurd point":      page(func(m *Message) { m.Through = LatestPosition - 1 }),
		"rows out of order": page(func(m *Message) { m.Rows[0], m.Rows[1] = m.Rows[1], m.Rows[0] }),
		"duplicate rows":    page(func(m *Message) { m.Rows[1].Key = []byte("a") }),
		"row before cursor": page(func(m *Message) { m.Cursor = []byte("b") }),
		"empty key":         page(func(m *Message) { m.Rows[0].Key = nil }),
		"rows, no point":    page(func(m *Message) { m.Through = 0 }),
		"more, no rows":     page(func(m *Message) { m.Rows, m.More = nil, true }),
		"fill rows":         page(func(m *Message) { m.FillRows = true }),
		"rows elsewhere":    page(func(m *Message) { m.Type = MsgCommit; m.Position = 1; m.Value = &Value{} }),
		"rows for witness":  page(func(m *Message) { m.To = "W" }),
		"too many rows": page(func(m *Message) {
			m.Rows = nil
			for i := range n.reps["B"].cfg.MaxScanRows + 1 {
				m.Rows = append(m.Rows, KeyValue{Key: fmt.Appendf(nil, "%08d", i)})
			}
		}),
	} {
		err := n.reps[m.To].Step(m)
		if err == nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	n.flush()
	for _, s := range []SiteID{"B", "W"} {
		if gs := n.reps[s].Status().Groups["g"]; gs.Truncated != 0 || gs.KnownPrefix != 0 || len(n.durable[s].Truncated) > 0 {
			t.Fatalf("%s changed: %+v", s, gs)
		}
	}
}

// TestTruncationBoundsHeldState: a group's held slots and values stay
// under 1.25 K + a few with truncation; without, they grow with the log.
func TestTruncationBoundsHeldState(t *testing.T) {
	for _, k := range []uint64{0, 16} {
		n := newNet(t, retain(k), threeFull()...)
		n.warm()
		maxHeld := 0
		pos := Position(0)
		for range 10 {
			pos = n.writeN("A", "g", pos, 20, 4)
			for _, s := range n.order {
				maxHeld = max(maxHeld, n.reps[s].Status().Groups["g"].Held)
			}
		}
		// Held counts a slot and a known value per position.
		t.Logf("K=%d: %d positions, at most %d held (slots + values)", k, pos, maxHeld)
		if k == 0 && maxHeld < int(2*pos) {
			t.Fatalf("without truncation %d held for %d positions", maxHeld, pos)
		}
		if k > 0 && maxHeld > int(2*(k+k/4+1)) {
			t.Fatalf("K=%d: %d held", k, maxHeld)
		}
	}
}

// TestInstallFinishesProposalsBelowThePoint: a write in flight at a
// position an installed compacted state covers is over: its value went to
// the leader, so its outcome is unknown (ErrTruncated), never a success or
// a conflict; a fetch restarts when its site truncates further.
func TestInstallFinishesProposalsBelowThePoint(t *testing.T) {
	n := newNet(t, retain(4), threeFull()...)
	n.warm()
	id := n.write("C", "g", 0, "stale")
	n.flush()
	n.queue = nil // C's AcceptLeader is lost
	n.down["C"] = true
	n.writeN("A", "g", 0, 20, 3)
	n.tick(2)
	n.down["C"] = false
	// C asks A alone for the log; A answers with its compacted state.
	a := n.reps["A"]
	if err := a.Step(Message{Type: MsgCatchUp, From: "C", To: "A", Group: "g", Position: 1, Limit: 20}); err != nil {
		t.Fatal(err)
	}
	n.flush()
	var page *Message
	for i := range n.queue {
		if m := n.queue[i]; m.Type == MsgCatchUpResp && m.To == "C" {
			page = &n.queue[i]
		}
	}
	n.queue = nil
	if page == nil || page.Through == 0 || len(page.Rows) == 0 {
		t.Fatalf("A answered %+v", page)
	}
	if _, ok := n.result("C", id); ok {
		t.Fatal("C's write finished before the install")
	}
	if err := n.reps["C"].Step(*page); err != nil {
		t.Fatal(err)
	}
	n.flush()
	res, ok := n.result("C", id)
	if !ok || !errors.Is(res.Err, ErrTruncated) {
		t.Fatalf("C's write after the install: %+v %v", res, ok)
	}
	if gs := n.reps["C"].Status().Groups["g"]; gs.Truncated != page.Through || gs.Applied < page.Through {
		t.Fatalf("C after the install: %+v", gs)
	}
	for _, k := range []string{"k0", "k1", "k2"} {
		if got, want := n.readAt("C", "g", k, page.Through), n.readAt("A", "g", k, page.Through); string(got) != string(want) {
			t.Fatalf("C has %s=%q at %d, A %q", k, got, page.Through, want)
		}
	}
	// A fetch whose site truncated further starts again from the new point.
	n.pageRows = 1
	b := n.reps["B"]
	if err := b.Step(Message{Type: MsgCatchUp, From: "C", To: "B", Group: "g", Position: 1, Limit: 40}); err != nil {
		t.Fatal(err)
	}
	n.flush()
	n.queue = nil
	c := n.reps["C"]
	c.groups["g"].snap = &snapshotFetch{from: "B", through: 1, next: []byte("k1\x00")}
	later := Message{Type: MsgCatchUpResp, From: "B", To: "C", Group: "g", Through: b.Truncated("g") + 5,
		Cursor: []byte("k1\x00"), Rows: []KeyValue{{Key: []byte("k2"), Value: []byte("x")}}, More: true}
	if err := c.Step(later); err != nil {
		t.Fatal(err)
	}
	n.flush()
	if c.groups["g"].snap != nil || len(n.queue) != 1 || n.queue[0].Type != MsgCatchUp || len(n.queue[0].Cursor) != 0 {
		t.Fatalf("a page past the fetch's point: fetch %+v, sent %+v", c.groups["g"].snap, n.queue)
	}
}

// TestLateInvalidateAtATruncatedPosition: an Invalidate for a vote this
// site gave at a position it has since truncated is answered without
// giving the group up (the spec's guard: the site is in the writer's
// acks), one for a ballot it did not vote at is applied; the same after a
// restart and after the group was evicted (the ballots are kept on disk
// a window below the point), and not for positions below the window.
func TestLateInvalidateAtATruncatedPosition(t *testing.T) {
	for _, how := range []string{"held", "restarted", "evicted"} {
		t.Run(how, func(t *testing.T) {
			n := newNet(t, retain(2), threeFull()...)
			n.evict = how == "evicted"
			n.warm()
			last := n.writeN("A", "g", 0, minKeptVotes+20, 3)
			n.tick(2)
			if how == "restarted" {
				n.restart("B")
			}
			n.hold("B", "g")
			b := n.reps["B"]
			tr := b.Truncated("g")
			if tr < last-4 {
				t.Fatalf("B truncated through %d of %d", tr, last)
			}
			for _, c := range []struct {
				pos    Position
				ballot Ballot
				voted  bool
			}{{tr - 1, 0, true}, {tr - minKeptVotes + 1, 0, true}, {tr - 1, MakeBallot(9, 9, 0), false}, {tr - minKeptVotes, 0, false}} {
				before := countAction(n.trace, ActInvalidate, "B")
				n.hold("B", "g")
				if err := n.reps["B"].Step(Message{Type: MsgInvalidate, From: "A", To: "B", Group: "g", Position: c.pos,
					Ballot: c.ballot, Proposal: 5}); err != nil {
					t.Fatal(err)
				}
				n.flush()
				n.queue = nil
				if got := countAction(n.trace, ActInvalidate, "B") - before; got != map[bool]int{true: 0, false: 1}[c.voted] {
					t.Fatalf("Invalidate at %d (truncated through %d) for ballot %#x (voted there, in the window: %v): %d traced",
						c.pos, tr, c.ballot, c.voted, got)
				}
			}
		})
	}
}
