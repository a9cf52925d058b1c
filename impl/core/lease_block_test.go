package core

import "testing"

// A writer waiting out coordinator A blocks A at a lease service whose own
// grant to A already ran out. The service must still refuse A until every
// grant A could hold at the other blocked services has run out too;
// granting at once let A renew here, keep a lease majority and its valid
// groups, while the writer acknowledged as if A had lost them (the
// simulator's seed 17 of the contention profile).
func TestLeaseBlockOutlastsEveryBlockedGrant(t *testing.T) {
	b := newTestReplica(t, "B", threeFull(), nil)
	cfg := DefaultConfig("B", threeFull())
	lease, skew := cfg.LeaseDurationTicks, cfg.ClockSkewTicks

	request := func() Message {
		t.Helper()
		if err := b.Step(Message{Type: MsgLeaseRequest, From: "A", To: "B", Proposal: 1 << 40}); err != nil {
			t.Fatal(err)
		}
		for _, m := range b.Ready().Messages {
			if m.Type == MsgLeaseGrant && m.To == "A" {
				return m
			}
		}
		t.Fatal("no answer to the lease request")
		return Message{}
	}
	tick := func(n uint64) {
		for range n {
			b.Tick()
		}
		b.Ready()
	}

	if g := request(); g.Reject {
		t.Fatal("first request refused")
	}
	tick(lease + 1) // B's grant to A has run out
	if err := b.Step(Message{Type: MsgLeaseBlock, From: "C", To: "B", Coordinator: "A", Proposal: 7}); err != nil {
		t.Fatal(err)
	}
	b.Ready()
	if g := request(); !g.Reject {
		t.Fatal("blocked coordinator granted again at once, while its grants elsewhere may be live")
	}
	tick(lease + skew - 1)
	if g := request(); !g.Reject {
		t.Fatal("block lifted before one lease plus the skew bound")
	}
	tick(2)
	if g := request(); g.Reject {
		t.Fatal("block never lifts")
	}
}

// A lease service that restarted forgot the grants it made before its
// crash; until its grace ends any of them may still run, so its answer to
// a block must say so. Answering 0 let a writer stop waiting while the cut
// off coordinator still counted the forgotten grant toward its majority
// (the simulator, 1 of about 1,300 seeds with a crash).
func TestRestartedLeaseServiceReportsItsGrace(t *testing.T) {
	cfg := DefaultConfig("B", threeFull())
	cfg.Rand = newTestReplica(t, "B", threeFull(), nil).cfg.Rand
	b, err := Restore(cfg, State{HardState: HardState{Incarnation: 1}})
	if err != nil {
		t.Fatal(err)
	}
	b.Ready()
	b.Tick()
	b.Ready()
	if err := b.Step(Message{Type: MsgLeaseBlock, From: "C", To: "B", Coordinator: "A", Proposal: 7}); err != nil {
		t.Fatal(err)
	}
	want := cfg.LeaseDurationTicks + 1 + cfg.ClockSkewTicks - 1 // a grant runs a tick past LeaseDurationTicks
	for _, m := range b.Ready().Messages {
		if m.Type == MsgLeaseBlockResp {
			if m.Ticks != want {
				t.Fatalf("restarted service reports %d ticks remaining, want %d (its grace)", m.Ticks, want)
			}
			return
		}
	}
	t.Fatal("no answer to the block")
}
