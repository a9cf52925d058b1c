package core

import (
	"math/rand/v2"
	"testing"
)

// A pipelined driver takes Ready N+1 before Advance(N), while N is still
// being saved; EvictIdle must not forget a group until every Ready taken
// was Advanced. A promise above the known prefix leaves the group idle
// (nothing voted, nothing running), so without that wait the group would
// be forgotten with its promise unsaved and loaded back from a Storage
// that lacks it: the acceptor would break its promise.
func TestEvictIdleWaitsForEveryReadyTaken(t *testing.T) {
	cfg := DefaultConfig("A", []Site{{"A", Full}, {"B", Full}, {"C", Full}})
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	r, err := Restore(cfg, State{HardState: HardState{Incarnation: 1}, Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	r.Advance(r.Ready()) // the restart's hard state
	if err := r.LoadGroup("g", GroupState{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Step(Message{Type: MsgPrepare, From: "B", To: "A", Group: "g", Position: 1, Ballot: 7}); err != nil {
		t.Fatal(err)
	}
	rd := r.Ready()
	if len(rd.Acceptor) != 1 || rd.Acceptor[0].MaxBal != 7 {
		t.Fatalf("the promise is not in the Ready: %+v", rd.Acceptor)
	}
	if r.HasReady() {
		t.Fatal("work pending after Ready: the test would not isolate the handed-out Ready")
	}
	if n := r.EvictIdle(0); n != 0 {
		t.Fatalf("EvictIdle forgot %d groups while the Ready holding a promise was being saved", n)
	}
	r.Advance(rd)
	if n := r.EvictIdle(0); n != 1 {
		t.Fatalf("EvictIdle forgot %d groups once everything was Advanced, want 1 (the group is idle)", n)
	}
}
