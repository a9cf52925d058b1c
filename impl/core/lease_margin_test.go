package core

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The lease argument (tla/README.md, "Lease safety argument") in real time:
// sites count whole ticks of their own clocks, which start at different
// moments, and messages take any time. A writer that waits out a
// coordinator's lease must act more than ClockSkewTicks ticks of real time
// after the coordinator stopped believing in it: those ticks are what clock
// drift may eat, and nothing else may. Tick rounding took two of them
// before the lease service and the writer each added one tick (a grant is
// counted from a request made during an earlier tick; the writer's wait
// starts during one), which let a clock drift within the configured bound
// open a window for a stale local read.
func TestWaitOutLeaseOutlastsTheLeaseByTheSkewBound(t *testing.T) {
	const unit = 100 // real-time units per tick
	worst := int64(1 << 62)
	var worstCase string
	for seed := uint64(0); seed < 400; seed++ {
		gap, desc := leaseMarginRun(t, seed, unit)
		if gap < worst {
			worst, worstCase = gap, desc
		}
	}
	cfg := DefaultConfig("A", threeFull())
	if want := int64(cfg.ClockSkewTicks) * unit; worst <= want {
		t.Fatalf("a writer waited out the lease only %d units (%.2f ticks) after the coordinator lost it, want more than ClockSkewTicks = %d ticks (%s)",
			worst, float64(worst)/unit, cfg.ClockSkewTicks, worstCase)
	}
	t.Logf("smallest margin over 400 runs: %.2f ticks (skew bound %d)", float64(worst)/unit, cfg.ClockSkewTicks)
}

type rtEvent struct {
	at   int64
	seq  int
	tick SiteID // a tick boundary of this site, or
	msg  *Message
}

type rtQueue []rtEvent

func (q rtQueue) Len() int { return len(q) }
func (q rtQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].seq < q[j].seq
}
func (q rtQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *rtQueue) Push(x any)   { *q = append(*q, x.(rtEvent)) }
func (q *rtQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// leaseMarginRun plays one run: coordinator A holds its lease with the
// services of A and C; writer B, cut off from A, writes and must wait A's
// lease out. Each site's clock starts at a random phase and every message
// takes a random time. It returns how long (real-time units) after A's
// LoseLease B's WaitOutLease came.
func leaseMarginRun(t *testing.T, seed uint64, unit int64) (int64, string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	sites := threeFull()
	reps := map[SiteID]*Replica{}
	phase := map[SiteID]int64{}
	var q rtQueue
	seq := 0
	push := func(e rtEvent) { seq++; e.seq = seq; heap.Push(&q, e) }
	for i, s := range sites {
		cfg := DefaultConfig(s.ID, sites)
		cfg.Rand = rand.New(rand.NewPCG(uint64(i), seed))
		// NB: no replication-server duty: it would complete B's write for
		// it (a no-op at the in-doubt position) before B's wait ends.
		cfg.InDoubtTicks = 100_000
		r, err := NewReplica(cfg)
		if err != nil {
			t.Fatal(err)
		}
		reps[s.ID] = r
		phase[s.ID] = rng.Int64N(unit)
		push(rtEvent{at: phase[s.ID] + unit, tick: s.ID})
	}
	cut := func(m Message) bool {
		return m.From == "A" && m.To == "B" || m.From == "B" && m.To == "A"
	}
	var lose, wait int64 = -1, -1
	wrote := false
	flush := func(now int64, id SiteID) {
		r := reps[id]
		for r.HasReady() {
			rd := r.Ready()
			for _, ev := range rd.Trace {
				switch {
				case ev.Action == ActLoseLease && id == "A" && wrote && lose < 0:
					lose = now
				case ev.Action == ActWaitOutLease && ev.Peer == "A" && wait < 0:
					wait = now
				}
			}
			for _, m := range rd.Messages {
				if m.To == id {
					if err := r.Step(m); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if cut(m) {
					continue
				}
				m := m
				push(rtEvent{at: now + rng.Int64N(3*unit), msg: &m})
			}
			r.Advance(rd)
		}
	}
	for q.Len() > 0 && wait < 0 {
		e := heap.Pop(&q).(rtEvent)
		if e.at > 400*unit {
			t.Fatalf("seed %d: the writer never waited the lease out", seed)
		}
		if e.tick != "" {
			reps[e.tick].Tick()
			flush(e.at, e.tick)
			push(rtEvent{at: e.at + unit, tick: e.tick})
			if !wrote && e.tick == "B" && reps["A"].Status().LeaseHeld && e.at > 20*unit {
				if _, err := reps["B"].ProposeWrite(WriteRequest{Group: "g",
					Mutations: []Mutation{{Key: []byte("k"), Value: []byte("v")}}}); err != nil {
					t.Fatal(err)
				}
				wrote = true
				flush(e.at, "B")
			}
			continue
		}
		if err := reps[e.msg.To].Step(*e.msg); err != nil {
			t.Fatal(err)
		}
		flush(e.at, e.msg.To)
	}
	if lose < 0 || wait < 0 {
		t.Fatalf("seed %d: LoseLease at %d, WaitOutLease at %d: the run did not reach both", seed, lose, wait)
	}
	return wait - lose, fmt.Sprintf("seed %d, phases A %d B %d C %d", seed, phase["A"], phase["B"], phase["C"])
}
