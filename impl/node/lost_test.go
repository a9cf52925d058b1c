package node

import (
	"slices"
	"strings"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
)

// Lost names exactly the acceptor steps of a last traced batch whose
// effects the restored state does not hold (a Learn is never among them:
// chosen records are not synced, see Kept).
func TestLostNamesTheAcceptorStepsTheRestoredStateLacks(t *testing.T) {
	v := core.ValueID{Site: "a", Incarnation: 1, Seq: 3}
	last := TraceBatch{Site: "b", Incarnation: 1, Seq: 9, Events: []core.TraceEvent{
		{Action: core.ActPromise, Group: "g", Position: 4, Ballot: 7},
		{Action: core.ActAccept, Group: "g", Position: 5, Ballot: 7, Value: v},
		{Action: core.ActLearn, Group: "g", Position: 3, Value: v},
	}}
	durable := core.State{Acceptor: []core.AcceptorRecord{
		{Group: "g", Position: 4, MaxBal: 7},
		{Group: "g", Position: 5, MaxBal: 7, Voted: true, VoteBal: 7, Vote: core.Value{ID: v}},
	}, Chosen: []core.Entry{{Group: "g", Position: 3, Value: core.Value{ID: v}}}}
	if got := Lost(last, durable); len(got) != 0 {
		t.Fatalf("everything persisted, Lost says %v", got)
	}
	before := core.State{Acceptor: []core.AcceptorRecord{{Group: "g", Position: 4, MaxBal: 2}}}
	if got := Lost(last, before); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("nothing persisted: Lost = %v, want [0 1]", got)
	}
	applied := core.State{Acceptor: durable.Acceptor, Applied: map[core.GroupID]core.Position{"g": 3}}
	if got := Lost(last, applied); len(got) != 0 {
		t.Fatalf("a Learn at or below the applied position is kept (its chosen record may be truncated): Lost = %v", got)
	}
	earlier := core.State{Acceptor: []core.AcceptorRecord{
		{Group: "g", Position: 4, MaxBal: 9},
		{Group: "g", Position: 5, MaxBal: 9, Voted: true, VoteBal: 9, Earlier: []core.Ballot{7}},
	}, Chosen: durable.Chosen}
	if got := Lost(last, earlier); len(got) != 0 {
		t.Fatalf("a vote kept among Earlier ballots: Lost = %v", got)
	}
}

// Forgotten tells a durability bug (state an earlier saved Ready made,
// gone after restart) from the one legitimate loss (the last Ready, which
// died inside its Save).
func TestForgottenTellsADurabilityBugFromADyingSave(t *testing.T) {
	v := core.ValueID{Site: "a", Incarnation: 1, Seq: 1}
	trace := []TraceBatch{
		{Incarnation: 1, Seq: 1, Events: []core.TraceEvent{{Action: core.ActAccept, Group: "g", Position: 1, Ballot: 5, Value: v}}},
		{Incarnation: 1, Seq: 2, Events: []core.TraceEvent{{Action: core.ActPromise, Group: "g", Position: 2, Ballot: 7}}},
	}
	kept := core.State{Acceptor: []core.AcceptorRecord{
		{Group: "g", Position: 1, MaxBal: 5, Voted: true, VoteBal: 5, Vote: core.Value{ID: v}},
		{Group: "g", Position: 2, MaxBal: 7},
	}}
	if lost, forgot := Forgotten(trace, kept); len(lost) != 0 || len(forgot) != 0 {
		t.Fatalf("everything kept: lost %v forgot %v", lost, forgot)
	}
	dyingSave := core.State{Acceptor: kept.Acceptor[:1]}
	if lost, forgot := Forgotten(trace, dyingSave); len(lost) != 1 || lost[0].Seq != 2 || !slices.Equal(lost[0].Events, []int{0}) || len(forgot) != 0 {
		t.Fatalf("the last Ready lost: lost %v forgot %v", lost, forgot)
	}
	bug := core.State{Acceptor: []core.AcceptorRecord{{Group: "g", Position: 2, MaxBal: 7}}}
	if _, forgot := Forgotten(trace, bug); len(forgot) != 1 {
		t.Fatalf("a vote an earlier saved Ready made is gone: forgot %v, want one line", forgot)
	}
	truncated := core.State{Acceptor: bug.Acceptor, Truncated: map[core.GroupID]core.Position{"g": 1}}
	if lost, forgot := Forgotten(trace, truncated); len(lost) != 0 || len(forgot) != 0 {
		t.Fatalf("a vote at a truncated position is forgotten on purpose: lost %v forgot %v", lost, forgot)
	}
	if got := Lost(trace[0], truncated); len(got) != 0 {
		t.Fatalf("a vote at a truncated position: Lost = %v", got)
	}
	learnt := append([]TraceBatch{{Incarnation: 1, Seq: 0, Events: []core.TraceEvent{{Action: core.ActLearn, Group: "g", Position: 1, Value: v}}}}, trace...)
	if _, forgot := Forgotten(learnt, kept); len(forgot) != 1 {
		t.Fatalf("a Learn an earlier saved Ready made durable is gone: forgot %v, want one line", forgot)
	}
	kept.Chosen = []core.Entry{{Group: "g", Position: 1, Value: core.Value{ID: v}}}
	if _, forgot := Forgotten(learnt, kept); len(forgot) != 0 {
		t.Fatalf("the Learn is durable: forgot %v", forgot)
	}
}

// A Ready traced as several batches (one per clock reading) may lose all of
// them in a dying Save: a step lost from any of them is the last Ready's,
// not a durability bug.
func TestForgottenCountsEveryBatchOfTheLastReady(t *testing.T) {
	v := core.ValueID{Site: "a", Incarnation: 1, Seq: 1}
	trace := []TraceBatch{
		{Incarnation: 1, Seq: 1, Ready: 1, Events: []core.TraceEvent{{Action: core.ActAccept, Group: "g", Position: 1, Ballot: 5, Value: v}}},
		{Incarnation: 1, Seq: 2, Ready: 2, Events: []core.TraceEvent{{Action: core.ActPromise, Group: "g", Position: 2, Ballot: 7}}},
		{Incarnation: 1, Seq: 3, Ready: 2, Events: []core.TraceEvent{{Action: core.ActPromise, Group: "g", Position: 3, Ballot: 7}}},
	}
	firstOnly := core.State{Acceptor: []core.AcceptorRecord{
		{Group: "g", Position: 1, MaxBal: 5, Voted: true, VoteBal: 5, Vote: core.Value{ID: v}},
	}}
	lost, forgot := Forgotten(trace, firstOnly)
	if len(forgot) != 0 || len(lost) != 2 || lost[0].Seq != 2 || lost[1].Seq != 3 {
		t.Fatalf("both batches of the last Ready lost: lost %+v forgot %v", lost, forgot)
	}
	trace[2].Ready = 3
	if _, forgot := Forgotten(trace, firstOnly); len(forgot) != 1 {
		t.Fatalf("a promise of an earlier Ready is gone: forgot %v, want one line", forgot)
	}
}

// A restart may lose the chosen records learned after the last synced
// Ready (a suffix of each group's learned log: Kept names how much is
// left), never one a later sync covered (a gap).
func TestLearnedSuffixMayBeLostNotAGap(t *testing.T) {
	v1 := core.ValueID{Site: "a", Incarnation: 1, Seq: 1}
	v2 := core.ValueID{Site: "a", Incarnation: 1, Seq: 2}
	vote := core.AcceptorRecord{Group: "g", Position: 3, MaxBal: 5, Voted: true, VoteBal: 5, Vote: core.Value{ID: v2}}
	trace := []TraceBatch{
		{Incarnation: 1, Seq: 1, Ready: 1, Events: []core.TraceEvent{{Action: core.ActLearn, Group: "g", Position: 1, Value: v1}}},
		{Incarnation: 1, Seq: 2, Ready: 2, Events: []core.TraceEvent{{Action: core.ActAccept, Group: "g", Position: 3, Ballot: 5, Value: v2}}},
		{Incarnation: 1, Seq: 3, Ready: 3, Events: []core.TraceEvent{{Action: core.ActLearn, Group: "g", Position: 2, Value: v2}}},
		{Incarnation: 1, Seq: 4, Ready: 4, Events: []core.TraceEvent{{Action: core.ActLearn, Group: "h", Position: 1, Value: v1}}},
	}
	chosen := func(g core.GroupID, p core.Position, v core.ValueID) core.Entry {
		return core.Entry{Group: g, Position: p, Value: core.Value{ID: v}}
	}
	whole := core.State{Acceptor: []core.AcceptorRecord{vote},
		Chosen: []core.Entry{chosen("g", 1, v1), chosen("g", 2, v2), chosen("h", 1, v1)}}
	if lost, forgot := Forgotten(trace, whole); len(lost)+len(forgot) != 0 || Kept(trace, whole) != nil {
		t.Fatalf("everything kept: lost %v forgot %v kept %v", lost, forgot, Kept(trace, whole))
	}
	suffix := core.State{Acceptor: whole.Acceptor, Chosen: whole.Chosen[:1]}
	if _, forgot := Forgotten(trace, suffix); len(forgot) != 0 {
		t.Fatalf("the entries learned after the last sync are a suffix it may lose: forgot %v", forgot)
	}
	if k := Kept(trace, suffix); len(k) != 2 || k["g"] != 1 || k["h"] != 0 {
		t.Fatalf("Kept = %v, want g: 1, h: 0", k)
	}
	applied := core.State{Acceptor: whole.Acceptor, Applied: map[core.GroupID]core.Position{"g": 2}}
	if k := Kept(trace, applied); len(k) != 1 || k["h"] != 0 {
		t.Fatalf("entries at or below the applied position are kept (their records may be truncated): Kept = %v", k)
	}
	gap := core.State{Acceptor: whole.Acceptor, Chosen: whole.Chosen[1:]}
	if _, forgot := Forgotten(trace, gap); len(forgot) != 1 || !strings.Contains(forgot[0], "g/1") {
		t.Fatalf("position 1 was learned before the synced vote: losing it is a gap: forgot %v", forgot)
	}
	if k := Kept(trace, gap); k["g"] != 0 {
		t.Fatalf("Kept = %v, want g: 0", k)
	}
}

// An installed compacted state is one Learn of every position up to its
// own (core.DetailCompacted): held if the restored state applied or
// truncated that far.
func TestKeptCountsACompactedLearn(t *testing.T) {
	v := core.ValueID{Site: "a", Incarnation: 1, Seq: 6}
	trace := []TraceBatch{
		{Incarnation: 1, Seq: 1, Ready: 1, Events: []core.TraceEvent{{Action: core.ActLearn, Group: "g", Position: 5, Detail: core.DetailCompacted}}},
		{Incarnation: 1, Seq: 2, Ready: 2, Events: []core.TraceEvent{{Action: core.ActLearn, Group: "g", Position: 6, Value: v}}},
		{Incarnation: 1, Seq: 3, Ready: 3, Events: []core.TraceEvent{{Action: core.ActAccept, Group: "g", Position: 7, Ballot: 5, Value: v}}},
	}
	vote := core.AcceptorRecord{Group: "g", Position: 7, MaxBal: 5, Voted: true, VoteBal: 5, Vote: core.Value{ID: v}}
	st := core.State{Acceptor: []core.AcceptorRecord{vote}, Applied: map[core.GroupID]core.Position{"g": 5},
		Truncated: map[core.GroupID]core.Position{"g": 5}}
	if k := Kept(trace, st); len(k) != 1 || k["g"] != 5 {
		t.Fatalf("Kept = %v, want g: 5", k)
	}
	if _, forgot := Forgotten(trace[:2], st); len(forgot) != 0 {
		t.Fatalf("nothing synced after the Learn of 6: forgot %v", forgot)
	}
	if _, forgot := Forgotten(append(trace, TraceBatch{Incarnation: 1, Seq: 4, Ready: 4}), st); len(forgot) != 1 {
		t.Fatalf("a synced vote after the Learn of 6: forgot %v, want one line", forgot)
	}
	st.Chosen = []core.Entry{{Group: "g", Position: 6, Value: core.Value{ID: v}}}
	if k := Kept(trace, st); k != nil {
		t.Fatalf("everything held: Kept = %v", k)
	}
}
