package core

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// askedGroups runs one scan at r and returns, per group, how many MsgCatchUp
// it sent about it.
func askedGroups(t *testing.T, r *Replica) map[GroupID]int {
	t.Helper()
	r.Elapse(r.cfg.ScanIntervalTicks)
	asked := map[GroupID]int{}
	rd := r.Ready()
	for _, m := range rd.Messages {
		if m.Type == MsgCatchUp {
			asked[m.Group]++
		}
	}
	r.Advance(rd)
	return asked
}

// A read-only site's scan asks about a bounded number of held groups (it
// asked about every one, every scan), always about a group it knows it is
// behind in, and, round after round, about every group it holds: a commit
// it missed is found however many groups it holds.
func TestReadOnlySweepIsBoundedAndCoversEveryGroup(t *testing.T) {
	sites := []Site{{"A", Full}, {"B", Full}, {"C", Full}, {"R", ReadOnly}}
	cfg := DefaultConfig("R", sites)
	cfg.Rand = rand.New(rand.NewPCG(1, 1))
	r, err := NewReplica(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const groups = 1000
	for i := range groups {
		g := GroupID(fmt.Sprintf("g%04d", i))
		v := Value{ID: ValueID{Site: "A", Incarnation: 1, Seq: uint64(i + 1)}, NextLeader: "A"}
		if err := r.Step(Message{Type: MsgCommit, From: "A", To: "R", Group: g, Position: 1, Value: &v}); err != nil {
			t.Fatal(err)
		}
	}
	// A commit at position 3 of "behind" with 1 and 2 missed: R knows it is
	// behind there.
	v := Value{ID: ValueID{Site: "A", Incarnation: 1, Seq: 9999}, NextLeader: "A"}
	if err := r.Step(Message{Type: MsgCommit, From: "A", To: "R", Group: "behind", Position: 3, Value: &v}); err != nil {
		t.Fatal(err)
	}
	r.Advance(r.Ready())
	full := 3
	seen := map[GroupID]bool{}
	scans := 0
	for len(seen) < groups+1 {
		scans++
		if scans > 2*(groups/DefaultReadOnlySweepGroups+1) {
			t.Fatalf("after %d scans, %d of %d groups asked about", scans, len(seen), groups+1)
		}
		asked := askedGroups(t, r)
		if len(asked) > DefaultReadOnlySweepGroups+1 {
			t.Fatalf("scan %d asked about %d groups; at most %d plus the one behind", scans, len(asked),
				DefaultReadOnlySweepGroups)
		}
		if asked["behind"] != full {
			t.Fatalf("scan %d: the group R is behind in asked of %d full sites, want %d", scans, asked["behind"], full)
		}
		for g, n := range asked {
			if n != full {
				t.Fatalf("group %q asked of %d full sites, want %d", g, n, full)
			}
			seen[g] = true
		}
	}
}
