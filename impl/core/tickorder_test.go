package core

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// elapseSortedKeys is Elapse as it was before the replica kept its
// operations in id order: it sorts the maps' keys on every tick, and its
// scan walks every slot of every group (scanAllSlots). It is the reference
// the new tick must match step for step, and the baseline of
// BenchmarkElapse.
func elapseSortedKeys(r *Replica, n uint64) {
	if n == 0 {
		return
	}
	r.now += n
	if r.kind == Full {
		if r.now-r.lastRenewal >= r.cfg.LeaseRenewTicks {
			r.renewLeases()
		}
		r.refreshLease()
	}
	for _, id := range sortedKeys(r.proposals) {
		if p := r.proposals[id]; p != nil {
			r.tickProposal(p)
		}
	}
	for _, id := range sortedKeys(r.reads) {
		if op := r.reads[id]; op != nil {
			r.tickRead(op)
		}
	}
	if r.now-r.lastScan >= r.cfg.ScanIntervalTicks {
		r.lastScan = r.now
		scanAllSlots(r)
	}
}

// scanAllSlots is scan as it was before it started at the known prefix: it
// walks every slot of every group's log.
func scanAllSlots(r *Replica) {
	for _, gid := range sortedKeys(r.groups) {
		g := r.groups[gid]
		if r.kind == Full {
			for _, p := range sortedKeys(g.slots) {
				s := g.slots[p]
				if _, ok := g.known[p]; ok || !s.voted {
					s.inDoubtSince = 0
					continue
				}
				if s.inDoubtSince == 0 {
					s.inDoubtSince = r.now
				} else if r.now-s.inDoubtSince >= r.cfg.InDoubtTicks && g.active[p] == nil {
					s.inDoubtSince = r.now
					r.startNoOp(g, p)
				}
			}
		}
		if r.kind != Witness && g.knownPrefix < g.highest {
			for _, s := range r.cfg.Sites {
				if s.ID != r.cfg.Self && s.Kind != Witness {
					r.send(Message{Type: MsgCatchUp, To: s.ID, Group: g.id, Position: g.knownPrefix + 1,
						Limit: g.highest})
				}
			}
		}
		if r.kind == ReadOnly {
			r.askFullSites(g)
		}
	}
}

// twinRun drives three replicas through a random run (writes and current
// reads on a few groups from every site, messages delayed, reordered and
// dropped, now and then one site cut off for a while so others are left
// with votes in doubt, ticks) with tick as their clock, and returns every Ready they
// produced, in order, as JSON.
func twinRun(t *testing.T, seed uint64, tick func(*Replica)) []string {
	t.Helper()
	sites := threeFull()
	var reps []*Replica
	for i, s := range sites {
		cfg := DefaultConfig(s.ID, sites)
		cfg.Rand = rand.New(rand.NewPCG(uint64(i), seed))
		r, err := NewReplica(cfg)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	var queue []Message
	var out []string
	isolated := -1 // a site whose every message is lost, for a while
	for step := range 3000 {
		if step%400 == 0 {
			isolated = -1
			if rng.IntN(2) == 0 {
				isolated = rng.IntN(len(reps))
			}
		}
		r := reps[rng.IntN(len(reps))]
		g := GroupID(fmt.Sprint("g", rng.IntN(6)))
		switch rng.IntN(6) {
		case 0, 1:
			pos := Position(0)
			if grp := r.groups[g]; grp != nil {
				pos = grp.applied
			}
			_, _ = r.ProposeWrite(WriteRequest{Group: g, ReadPosition: pos,
				Mutations: []Mutation{{Key: []byte("k"), Value: []byte(fmt.Sprint(step))}}})
		case 2:
			_, _ = r.Read(ReadRequest{Group: g, Keys: [][]byte{[]byte("k")}, Mode: Current})
		case 3, 4:
			for _, r := range reps {
				tick(r)
			}
		}
		for i, r := range reps {
			if !r.HasReady() {
				continue
			}
			rd := r.Ready()
			b, err := json.Marshal(rd)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("step %d site %s: %s", step, sites[i].ID, b))
			queue = append(queue, rd.Messages...)
			r.Advance(rd)
		}
		var keep []Message
		for _, m := range queue {
			switch x := rng.IntN(10); {
			case isolated >= 0 && (m.From == sites[isolated].ID || m.To == sites[isolated].ID):
			case x < 6:
				_ = reps[indexOf(sites, m.To)].Step(m)
			case x < 7: // dropped
			default:
				keep = append(keep, m)
			}
		}
		queue = keep
	}
	return out
}

func indexOf(sites []Site, id SiteID) int {
	for i, s := range sites {
		if s.ID == id {
			return i
		}
	}
	panic("no site " + id)
}

// TestTickOrderUnchanged: a replica ticking over its timer heap (visiting
// only the operations due, in id order) produces exactly the Readys (messages, results, trace, in order) that
// ticking over sorted map keys produced, over random runs with many
// operations in flight at once, so the simulator's seeds and trace
// validation see the same steps. Visiting the proposals in reverse order,
// starting the scan one position above the known prefix, waking a backoff
// one tick late, or not waking a proposal on a reply or a read when it
// moves on, makes it fail.
func TestTickOrderUnchanged(t *testing.T) {
	for seed := range uint64(4) {
		want := twinRun(t, seed, func(r *Replica) { elapseSortedKeys(r, 1) })
		got := twinRun(t, seed, func(r *Replica) { r.Tick() })
		if len(want) < 100 {
			t.Fatalf("seed %d: only %d Readys: the run exercises nothing", seed, len(want))
		}
		if !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("seed %d: Ready %d differs:\nsorted keys: %s\nheap:        %s", seed, i, want[i], got[i])
				}
			}
			t.Fatalf("seed %d: %d Readys against %d", seed, len(got), len(want))
		}
	}
}

// BenchmarkElapse: one tick of a full site with n writes in flight on n
// groups (none answered: their messages are never delivered), ticking
// over sorted map keys (the old way) and over the timer heap.
// Compare the two in one run: benchstat or the ns/op ratio.
func BenchmarkElapse(b *testing.B) {
	for _, n := range []int{100, 1000, 4000} {
		for _, impl := range []struct {
			name string
			tick func(*Replica)
		}{{"sorted", func(r *Replica) { elapseSortedKeys(r, 1) }}, {"heap", func(r *Replica) { r.Elapse(1) }}} {
			b.Run(fmt.Sprintf("inflight=%d/%s", n, impl.name), func(b *testing.B) {
				sites := threeFull()
				cfg := DefaultConfig("A", sites)
				cfg.Rand = rand.New(rand.NewPCG(1, 1))
				// Timers far away: a tick fires none; sorted visits every
				// operation, heap none of them.
				cfg.ProposalTimeoutTicks = 1 << 40
				cfg.ScanIntervalTicks = 1 << 40
				r, err := NewReplica(cfg)
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					if _, err := r.ProposeWrite(WriteRequest{Group: GroupID(fmt.Sprint("g", i)),
						Mutations: []Mutation{{Key: []byte("k"), Value: []byte("v")}}}); err != nil {
						b.Fatal(err)
					}
				}
				r.Advance(r.Ready())
				b.ReportAllocs()
				for b.Loop() {
					impl.tick(r)
					if r.HasReady() {
						r.Advance(r.Ready())
					}
				}
			})
		}
	}
}

// BenchmarkScan: the replication-server scan of a full site hosting 10
// groups whose logs hold n committed positions each (all known, nothing in
// doubt), walking every slot (the old way) and starting at the known prefix.
func BenchmarkScan(b *testing.B) {
	for _, n := range []int{100, 10000} {
		for _, impl := range []struct {
			name string
			scan func(*Replica)
		}{{"allslots", scanAllSlots}, {"fromprefix", func(r *Replica) { r.scan() }}} {
			b.Run(fmt.Sprintf("positions=%d/%s", n, impl.name), func(b *testing.B) {
				sites := threeFull()
				cfg := DefaultConfig("A", sites)
				cfg.Rand = rand.New(rand.NewPCG(1, 1))
				st := State{Applied: map[GroupID]Position{}}
				for gi := range 10 {
					g := GroupID(fmt.Sprint("g", gi))
					for p := Position(1); p <= Position(n); p++ {
						v := Value{ID: ValueID{Site: "A", Incarnation: 1, Seq: uint64(p)}, NextLeader: "A"}
						st.Acceptor = append(st.Acceptor, AcceptorRecord{Group: g, Position: p, Voted: true, Vote: v})
						st.Chosen = append(st.Chosen, Entry{Group: g, Position: p, Value: v})
					}
					st.Applied[g] = Position(n)
				}
				r, err := Restore(cfg, st)
				if err != nil {
					b.Fatal(err)
				}
				r.Advance(r.Ready())
				b.ReportAllocs()
				for b.Loop() {
					impl.scan(r)
				}
			})
		}
	}
}
