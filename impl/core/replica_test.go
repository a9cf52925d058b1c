package core

import (
	"errors"
	"testing"
)

func countAction(tr []TraceEvent, action string, site SiteID) int {
	n := 0
	for _, ev := range tr {
		if ev.Action == action && (site == "" || ev.Site == site) {
			n++
		}
	}
	return n
}

func TestWriteFastPathCommitsEverywhere(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	id := n.write("A", "g", 0, "k")
	res := n.waitResult("A", id)
	if res.Err != nil || res.Position != 1 {
		t.Fatalf("write: %+v", res)
	}
	if countAction(n.trace, ActAcceptLeader, "A") != 1 || countAction(n.trace, ActPrepare, "") != 0 {
		t.Fatalf("expected the leader fast path without Prepare")
	}
	for _, s := range n.order {
		if v, ok := n.reps[s].Known("g", 1); !ok || v.ID.Site != "A" {
			t.Fatalf("%s does not know position 1: %v %v", s, v, ok)
		}
		if n.durable[s].Applied["g"] != 1 {
			t.Fatalf("%s applied %d", s, n.durable[s].Applied["g"])
		}
	}
	// The next position's leader is the writer's site: B asks A for ballot 0.
	id = n.write("B", "g", 1, "k")
	if res := n.waitResult("B", id); res.Err != nil || res.Position != 2 {
		t.Fatalf("second write: %+v", res)
	}
	if countAction(n.trace, ActPrepare, "") != 0 {
		t.Fatalf("second write should also take the fast path")
	}
}

func TestRacingWritersOneWinsPerPosition(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	readPos := map[SiteID]Position{"A": 0, "B": 0, "C": 0}
	wins := map[Position]int{}
	for round := 0; round < 6; round++ {
		ids := map[SiteID]RequestID{}
		for _, s := range n.order {
			ids[s] = n.write(s, "g", readPos[s], "k")
		}
		for _, s := range n.order {
			res := n.waitResult(s, ids[s])
			switch {
			case res.Err == nil:
				wins[res.Position]++
			case errors.Is(res.Err, ErrConflict):
			default:
				t.Fatalf("round %d %s: %v", round, s, res.Err)
			}
			// The client library would rerun after a current read.
			rid := n.read(s, "g", Current)
			rr := n.waitResult(s, rid)
			if rr.Err != nil {
				t.Fatal(rr.Err)
			}
			readPos[s] = rr.Position
		}
	}
	for p, w := range wins {
		if w != 1 {
			t.Fatalf("position %d has %d winners", p, w)
		}
	}
	n.tick(50)
	n.checkAgreement("g")
	last := n.reps["A"].Status().Groups["g"].KnownPrefix
	for _, s := range n.order {
		if got := n.reps[s].Status().Groups["g"].Applied; got != last {
			t.Fatalf("%s applied %d, want %d", s, got, last)
		}
	}
	if len(wins) == 0 || int(last) < len(wins) {
		t.Fatalf("wins %v, last %d", wins, last)
	}
}

func TestPartitionedSiteIsInvalidatedAndCatchesUpOnReturn(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	// Validate the group at C first so there is something to invalidate.
	if rr := n.waitResult("C", n.read("C", "g", Current)); rr.Err != nil {
		t.Fatal(rr.Err)
	}
	if !n.reps["C"].Status().Groups["g"].Valid {
		t.Fatal("C should be valid after a caught-up read")
	}
	n.down["C"] = true
	id := n.write("A", "g", 0, "k")
	if res := n.waitResult("A", id); res.Err != nil || res.Position != 1 {
		t.Fatalf("write with C partitioned: %+v", res)
	}
	if countAction(n.trace, ActWaitOutLease, "A") != 1 {
		t.Fatal("the writer should have waited out C's lease")
	}
	if st := n.reps["C"].Status(); st.Groups["g"].Valid && st.LeaseHeld {
		t.Fatal("C still serves the group locally while partitioned")
	}
	delete(n.down, "C")
	rr := n.waitResult("C", n.read("C", "g", Current))
	if rr.Err != nil || rr.Position != 1 {
		t.Fatalf("C's read after return: %+v", rr)
	}
	if n.durable["C"].Applied["g"] != 1 {
		t.Fatal("C did not apply position 1 before reading")
	}
}

func TestCurrentReadObservesAcknowledgedWrite(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	for i := Position(0); i < 5; i++ {
		writer := n.order[int(i)%3]
		if res := n.waitResult(writer, n.write(writer, "g", i, "k")); res.Err != nil {
			t.Fatal(res.Err)
		}
		for _, s := range n.order {
			if rr := n.waitResult(s, n.read(s, "g", Current)); rr.Err != nil || rr.Position != i+1 {
				t.Fatalf("read at %s after write %d: %+v", s, i+1, rr)
			}
		}
	}
}

func TestWitnessVotesButServesNoReadsAndKeepsNoData(t *testing.T) {
	n := newNet(t, nil, Site{"A", Full}, Site{"B", Full}, Site{"W", Witness})
	n.warm()
	n.down["B"] = true // A and W must form the majority
	if res := n.waitResult("A", n.write("A", "g", 0, "k")); res.Err != nil {
		t.Fatal(res.Err)
	}
	if rec, ok := n.reps["W"].Vote("g", 1); !ok || !rec.Voted {
		t.Fatal("witness did not vote")
	}
	for _, mode := range []ReadMode{Current, Snapshot, Inconsistent} {
		if _, err := n.reps["W"].Read(ReadRequest{Group: "g", Mode: mode}); !errors.Is(err, ErrWitnessNoReads) {
			t.Fatalf("%v read at witness: %v", mode, err)
		}
	}
	if _, err := n.reps["W"].ProposeWrite(WriteRequest{Group: "g"}); !errors.Is(err, ErrWitnessNoReads) {
		t.Fatalf("write at witness: %v", err)
	}
	if len(n.durable["W"].Applied) != 0 {
		t.Fatal("witness applied data")
	}
	if len(n.durable["W"].Chosen) == 0 {
		t.Fatal("witness keeps no log")
	}
}

func TestReadOnlyNeverVotesButServesSnapshotsAndCatchesUp(t *testing.T) {
	n := newNet(t, nil, Site{"A", Full}, Site{"B", Full}, Site{"C", Full}, Site{"R", ReadOnly})
	n.warm()
	n.cut[[2]SiteID{"A", "R"}] = true // R misses the commit broadcast from A
	for i := Position(0); i < 3; i++ {
		if res := n.waitResult("A", n.write("A", "g", i, "k")); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	if _, ok := n.reps["R"].Vote("g", 1); ok {
		t.Fatal("read-only site holds acceptor state")
	}
	err := n.reps["R"].Step(Message{Type: MsgPrepare, From: "A", To: "R", Group: "g", Position: 9, Ballot: 1 << 32})
	if !errors.Is(err, ErrReadOnlySite) {
		t.Fatalf("prepare at read-only: %v", err)
	}
	if _, err := n.reps["R"].Read(ReadRequest{Group: "g", Mode: Current}); !errors.Is(err, ErrReadOnlySite) {
		t.Fatalf("current read at read-only: %v", err)
	}
	n.waitResult("R", n.read("R", "g", Snapshot)) // may be stale; starts the catch-up
	n.tick(int(DefaultConfig("R", n.sites).ScanIntervalTicks) + 1)
	if rr := n.waitResult("R", n.read("R", "g", Snapshot)); rr.Err != nil || rr.Position != 3 {
		t.Fatalf("snapshot at read-only after catch-up: %+v", rr)
	}
}

// restart rebuilds a site from what it persisted, as after a crash.
func (n *testNet) restart(site SiteID) {
	n.t.Helper()
	st := *n.durable[site]
	cfg := n.reps[site].cfg
	if n.evict {
		st = State{HardState: st.HardState, Partial: true}
	}
	r, err := Restore(cfg, st)
	if err != nil {
		n.t.Fatal(err)
	}
	n.reps[site] = r
	n.unsynced[site] = nil
	// Request IDs restart with the replica: forget the old incarnation's.
	n.results[site] = nil
}

func TestRestartedReplicaKeepsVotesAndLog(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	for i := Position(0); i < 3; i++ {
		if res := n.waitResult("A", n.write("A", "g", i, "k")); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	for _, s := range n.order {
		n.restart(s)
	}
	if got := n.reps["A"].Status().Incarnation; got != 2 {
		t.Fatalf("incarnation %d", got)
	}
	n.tick(60) // the restarted lease services' grace period
	if rr := n.waitResult("B", n.read("B", "g", Current)); rr.Err != nil || rr.Position != 3 {
		t.Fatalf("read after restart: %+v", rr)
	}
	if res := n.waitResult("C", n.write("C", "g", 3, "k")); res.Err != nil || res.Position != 4 {
		t.Fatalf("write after restart: %+v", res)
	}
	n.checkAgreement("g")
}

func TestInDoubtPositionIsClosedByReplicationServer(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	// A's accept reaches only B; then A vanishes.
	n.cut[[2]SiteID{"A", "C"}] = true
	n.write("A", "g", 0, "k")
	n.stabilize()
	n.down["A"] = true
	if rec, ok := n.reps["B"].Vote("g", 1); !ok || !rec.Voted {
		t.Fatal("B should hold A's vote")
	}
	n.tick(int(DefaultConfig("B", n.sites).InDoubtTicks) * 3)
	v, ok := n.reps["C"].Known("g", 1)
	if !ok || v.ID.Site != "A" {
		t.Fatalf("C should know A's value chosen at 1: %v %v", v, ok)
	}
}

func TestValidateRace(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	r := n.reps["A"]
	g := r.group("g")
	r.handleInvalidate(Message{From: "B", To: "A", Group: "g", Position: 5})
	r.validate(g, 4, r.epoch, 0)
	if g.valid {
		t.Fatal("a validate below the last invalidate must be ignored")
	}
	r.validate(g, 5, r.epoch-1, 0)
	if g.valid {
		t.Fatal("a validate from an older epoch must be ignored")
	}
	r.validate(g, 5, r.epoch, 0)
	if !g.valid {
		t.Fatal("a current validate at the invalidated position must apply")
	}
	r.cfg.Bugs.ValidateWithoutPositionCheck = true
	g.valid = false
	r.validate(g, 1, r.epoch, 0)
	if !g.valid {
		t.Fatal("the bug switch should skip the position check")
	}
	g.valid = false
	r.validate(g, 9, r.epoch-1, 0)
	if g.valid {
		t.Fatal("the position bug must not skip the epoch check")
	}
	r.cfg.Bugs.ValidateWithoutEpochCheck = true
	r.validate(g, 9, r.epoch-1, 0)
	if !g.valid {
		t.Fatal("the epoch bug switch should skip the epoch check")
	}
}

// A fast-path proposer whose Accepts are refused (a reader's Prepare got
// there first) must retry through Prepare and still commit one value.
func TestFastPathAcceptRejectedFallsBackToPrepare(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	// B and C promise a higher ballot before A's ballot-0 Accepts arrive.
	for _, s := range []SiteID{"B", "C"} {
		if err := n.reps[s].Step(Message{Type: MsgPrepare, From: "C", To: s, Group: "g", Position: 1,
			Ballot: MakeBallot(1, 1, 2), Proposal: 999}); err != nil {
			t.Fatal(err)
		}
	}
	res := n.waitResult("A", n.write("A", "g", 0, "k"))
	if res.Err != nil || res.Position != 1 {
		t.Fatalf("%+v", res)
	}
	if countAction(n.trace, ActPrepare, "A") == 0 {
		t.Fatal("A should have fallen back to Prepare")
	}
	n.checkAgreement("g")
}

// An Invalidate for a ballot this site voted at (its vote reached the writer
// late) leaves the group valid; one for any other ballot, or for a ballot
// voted at before a later vote, is handled as the spec's Invalidate says.
func TestInvalidateOfAVoteThisSiteHolds(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	r := n.reps["A"]
	g := r.group("g")
	low, high := MakeBallot(1, 1, 1), MakeBallot(2, 1, 2)
	val := Value{ID: ValueID{Site: "B", Incarnation: 1, Seq: 1}}
	g.slot(3).recordVote(low, val)
	g.slot(3).recordVote(high, val)
	g.valid = true
	for _, b := range []Ballot{low, high} {
		r.handleInvalidate(Message{From: "B", To: "A", Group: "g", Position: 3, Ballot: b})
		if !g.valid || g.invPos != 0 {
			t.Fatalf("ballot %v: A voted at it, yet the Invalidate took the group (valid %v, invPos %d)", b, g.valid, g.invPos)
		}
	}
	r.handleInvalidate(Message{From: "C", To: "A", Group: "g", Position: 3, Ballot: MakeBallot(3, 1, 0)})
	if g.valid || g.invPos != 3 {
		t.Fatalf("an Invalidate for a ballot A never voted at must apply (valid %v, invPos %d)", g.valid, g.invPos)
	}
	g.valid = true
	r.handleInvalidate(Message{From: "B", To: "A", Group: "g", Position: 4, Ballot: low})
	if g.valid || g.invPos != 4 {
		t.Fatal("an Invalidate at a position A did not vote at must apply")
	}
}

// A snapshot read in the same Ready as a Learn reads after that Learn: the
// driver applies a Ready's entries before it completes the Ready's reads,
// and the spec's SnapshotRead reads the applied log that Learn extended.
// Found by real-node trace validation (tests/tracemap): a daemon hands a
// replica missed time and a client read in one Ready, which the simulator
// never did; the read was served at the position before the Learn.
func TestSnapshotReadInTheReadyOfALearn(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	id := n.write("A", "g", 0, "k")
	if res := n.waitResult("A", id); res.Err != nil || res.Position != 1 {
		t.Fatalf("write: %+v", res)
	}
	v, ok := n.reps["A"].Known("g", 1)
	if !ok {
		t.Fatal("A does not know position 1")
	}
	// A fresh replica learns position 1 and is read in the same Ready.
	cfg := DefaultConfig("B", threeFull())
	cfg.Rand = zeroRandForTest{}
	b, err := NewReplica(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Step(Message{Type: MsgCommit, From: "A", To: "B", Group: "g", Position: 1, Value: &v}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Read(ReadRequest{Group: "g", Mode: Snapshot, Keys: [][]byte{[]byte("k")}}); err != nil {
		t.Fatal(err)
	}
	rd := b.Ready()
	if countAction(rd.Trace, ActLearn, "") != 1 || len(rd.Results) != 1 {
		t.Fatalf("want one Learn and one result in the Ready: %+v", rd.Trace)
	}
	if got := rd.Results[0].Position; got != 1 {
		t.Fatalf("snapshot read after a Learn in the same Ready at position %d, want 1", got)
	}
}

type zeroRandForTest struct{}

func (zeroRandForTest) Uint64() uint64 { return 0 }
