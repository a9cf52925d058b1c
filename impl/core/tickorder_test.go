package core

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// elapseSortedKeys is Elapse as it was before the replica kept its
// operations in id order: it sorts the maps' keys on every tick. It is the
// reference the ordered lists must match step for step, and the baseline
// of BenchmarkElapse.
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
		r.scan()
	}
}

// twinRun drives three replicas through a random run (writes and current
// reads on a few groups from every site, messages delayed, reordered and
// dropped, ticks) with tick as their clock, and returns every Ready they
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
	for step := range 3000 {
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
		case 3:
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

// TestTickOrderUnchanged: a replica ticking over its id-ordered lists
// produces exactly the Readys (messages, results, trace, in order) that
// ticking over sorted map keys produced, over random runs with many
// operations in flight at once, so the simulator's seeds and trace
// validation see the same steps. Visiting the proposals in reverse order
// makes it fail at seed 0.
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
					t.Fatalf("seed %d: Ready %d differs:\nsorted keys: %s\nordered:     %s", seed, i, want[i], got[i])
				}
			}
			t.Fatalf("seed %d: %d Readys against %d", seed, len(got), len(want))
		}
	}
}

// BenchmarkElapse: one tick of a full site with n writes in flight on n
// groups (none answered: their messages are never delivered), ticking
// over sorted map keys (the old way) and over the id-ordered lists.
// Compare the two in one run: benchstat or the ns/op ratio.
func BenchmarkElapse(b *testing.B) {
	for _, n := range []int{100, 1000, 4000} {
		for _, impl := range []struct {
			name string
			tick func(*Replica)
		}{{"sorted", func(r *Replica) { elapseSortedKeys(r, 1) }}, {"ordered", func(r *Replica) { r.Elapse(1) }}} {
			b.Run(fmt.Sprintf("inflight=%d/%s", n, impl.name), func(b *testing.B) {
				sites := threeFull()
				cfg := DefaultConfig("A", sites)
				cfg.Rand = rand.New(rand.NewPCG(1, 1))
				// Timers far away: every tick visits every operation and
				// fires none, so the benchmark measures the visit.
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
