package core

import "testing"

// An operator marks coordinator A down (§4.9 [ours]). Told at A, the
// coordinator drops its lease at once and asks for none; told only at the
// other sites (A unreachable), their lease services refuse A and its lease
// runs out within one lease. Either way A's current reads stop being
// local, and marked up A regains a lease in a new epoch.
func TestOperatorMarksACoordinatorDown(t *testing.T) {
	for _, where := range [][]SiteID{{"A", "B", "C"}, {"B", "C"}} {
		n := newNet(t, nil, threeFull()...)
		n.warm()
		epoch := n.reps["A"].Status().Epoch
		for _, s := range where {
			if err := n.reps[s].MarkCoordinatorDown("A", true); err != nil {
				t.Fatal(err)
			}
		}
		n.stabilize()
		n.tick(int(DefaultConfig("A", threeFull()).LeaseDurationTicks) + 2)
		st := n.reps["A"].Status()
		if st.LeaseHeld {
			t.Fatalf("told at %v: A still holds its lease a lease after it was marked down", where)
		}
		if down := n.reps["B"].Status().DownCoordinators; len(down) != 1 || down[0] != "A" {
			t.Fatalf("B's lease service lists %v as down, want [A]", down)
		}
		mark := len(n.trace)
		id := n.read("A", "g", Current)
		if res := n.waitResult("A", id); res.Err != nil {
			t.Fatalf("current read at a site whose coordinator is down: %v", res.Err)
		}
		for _, ev := range n.trace[mark:] {
			if ev.Site == "A" && ev.Action == ActReadLocal {
				t.Fatalf("told at %v: A served a local read with its coordinator down", where)
			}
		}
		for _, s := range where {
			if err := n.reps[s].MarkCoordinatorDown("A", false); err != nil {
				t.Fatal(err)
			}
		}
		n.tick(int(DefaultConfig("A", threeFull()).LeaseRenewTicks) + 2)
		if st := n.reps["A"].Status(); !st.LeaseHeld || st.Epoch <= epoch {
			t.Fatalf("told at %v: marked up, A has lease %v in epoch %d (was %d)", where, st.LeaseHeld, st.Epoch, epoch)
		}
	}
	n := newNet(t, nil, append(threeFull(), Site{"W", Witness})...)
	if err := n.reps["A"].MarkCoordinatorDown("W", true); err == nil {
		t.Fatal("a witness has no coordinator to mark down, but the mark was taken")
	}
}
