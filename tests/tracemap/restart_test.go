package tracemap

import (
	"strings"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/tests/check"
)

// A real node's restart (a new incarnation in its trace) is the spec's
// Restart of that site: it keeps its promises, votes and applied log and
// loses its coordinator (validity, invPos, lease) and the proposals and
// reads in flight there. These traces are written as real nodes write them
// (node.TraceBatch, restart markers included): site a is position 1's
// leader; reads and writes are in group g.

// traceBuilder writes batches as nodes do: per site and incarnation, Seq
// from 1, stamped in the order they are added.
type traceBuilder struct {
	batches []node.TraceBatch
	seq     map[core.SiteID]uint64
	inc     map[core.SiteID]uint64
}

func newTrace() *traceBuilder {
	return &traceBuilder{seq: map[core.SiteID]uint64{}, inc: map[core.SiteID]uint64{}}
}

func (x *traceBuilder) add(site core.SiteID, events ...core.TraceEvent) {
	if x.inc[site] == 0 {
		x.inc[site] = 1
	}
	x.seq[site]++
	x.batches = append(x.batches, node.TraceBatch{Site: site, Incarnation: x.inc[site], Seq: x.seq[site],
		UnixNanos: int64(len(x.batches) + 1), Events: events})
}

// restart begins site's next incarnation, with the marker batch a node
// writes when it finds its last batch's events lost (nil: none).
func (x *traceBuilder) restart(site core.SiteID, lost []int) {
	prev, seq := x.inc[site], x.seq[site]
	x.inc[site]++
	x.seq[site] = 0
	if lost != nil {
		x.batches = append(x.batches, node.TraceBatch{Site: site, Incarnation: x.inc[site], UnixNanos: int64(len(x.batches) + 1),
			Lost: &node.LostEvents{Incarnation: prev, Seq: seq, Events: lost}})
	}
}

func (x *traceBuilder) validate(t *testing.T) NodeReport {
	t.Helper()
	rep, err := ValidateNodes(x.batches, fiveSites, "a")
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

const g = core.GroupID("g")

func req(inc, n uint64) core.RequestID { return core.RequestID(inc<<32 | n) }

// validatedRead is a current read at site a that does not trust its
// coordinator: it finds the position at a quorum, catches up, and
// validates the coordinator (Validate applied), so later reads are local.
func validatedRead(r core.RequestID, epoch uint64) []core.TraceEvent {
	return []core.TraceEvent{
		{Action: core.ActReadBegin, Group: g, Request: r, Epoch: epoch},
		{Action: core.ActReadFindPos, Group: g, Request: r, Quorum: []core.SiteID{"a", "b", "w"}},
		{Action: core.ActReadCatchUp, Group: g, Request: r},
		{Action: core.ActValidate, Group: g, Request: r, Detail: "applied"},
	}
}

func localRead(r core.RequestID, epoch uint64) []core.TraceEvent {
	return []core.TraceEvent{
		{Action: core.ActReadBegin, Group: g, Request: r, Epoch: epoch, Detail: "valid"},
		{Action: core.ActReadLocal, Group: g, Request: r},
	}
}

// beforeCrash: a regains its lease, validates g with a read, and serves a
// local read: its coordinator holds g valid when it crashes.
func beforeCrash() *traceBuilder {
	x := newTrace()
	x.add("a", core.TraceEvent{Action: core.ActRegainLease, Epoch: 1})
	x.add("a", validatedRead(req(1, 1), 1)...)
	x.add("a", localRead(req(1, 2), 1)...)
	return x
}

// TestRestartValidates: a restarted site that regains its lease and
// validates its group again before reading locally is a Restart, then
// steps the spec enables.
func TestRestartValidates(t *testing.T) {
	x := beforeCrash()
	x.restart("a", nil)
	x.add("a", core.TraceEvent{Action: core.ActRegainLease, Epoch: 1})
	x.add("a", validatedRead(req(2, 1), 1)...)
	x.add("a", localRead(req(2, 2), 1)...)
	rep := x.validate(t)
	if !rep.Valid() {
		t.Fatalf("a correct restart was rejected: %s", rep.Summary())
	}
	if rep.Actions["Restart"] != 1 || rep.Validated != rep.Steps {
		t.Fatalf("want one Restart and every step validated: %v, %d of %d", rep.Actions, rep.Validated, rep.Steps)
	}
}

// TestRestartedSiteClaimsWhatItLost: each trace has a restarted site use
// something Restart takes from it; each is rejected. Where the old mapping
// (a crash as LoseLease) let it pass, that is shown too.
func TestRestartedSiteClaimsWhatItLost(t *testing.T) {
	const p = 1<<32 | 7 // a's proposal in incarnation 1
	v := core.ValueID{Site: "a", Incarnation: 1, Seq: 1}
	write := func(x *traceBuilder) {
		x.add("a", core.TraceEvent{Action: core.ActBeginWrite, Group: g, Position: 1, Proposal: p, Value: v, Request: req(1, 9)})
		x.add("a", core.TraceEvent{Action: core.ActAcceptLeader, Group: g, Position: 1, Peer: "a", Proposal: p, Value: v})
		x.add("b", core.TraceEvent{Action: core.ActAccept, Group: g, Position: 1, Peer: "a", Proposal: p, Value: v})
		x.add("c", core.TraceEvent{Action: core.ActAccept, Group: g, Position: 1, Peer: "a", Proposal: p, Value: v})
	}
	commit := core.TraceEvent{Action: core.ActCommit, Group: g, Position: 1, Proposal: p, Value: v}
	for _, tc := range []struct {
		name  string
		trace func() *traceBuilder
		want  string // in the failure
		// passedAsLeaseLoss: the trace passed when a crash was LoseLease.
		passedAsLeaseLoss bool
	}{
		{"local read right after restart, without validating", func() *traceBuilder {
			x := beforeCrash()
			x.restart("a", nil)
			x.add("a", core.TraceEvent{Action: core.ActRegainLease, Epoch: 1})
			x.add("a", localRead(req(2, 1), 1)...)
			return x
		}, "coordinator there is not valid", false},
		{"local read with the lease of the last incarnation", func() *traceBuilder {
			x := beforeCrash()
			x.restart("a", nil)
			x.add("a", localRead(req(2, 1), 0)...)
			return x
		}, "not valid", false},
		{"a read in flight completes after the restart", func() *traceBuilder {
			x := beforeCrash()
			r := validatedRead(req(1, 3), 1)
			x.add("a", r[:2]...)
			x.restart("a", nil)
			x.add("a", r[2:]...)
			return x
		}, "ReadCatchUp", true},
		{"a write in flight commits after the restart", func() *traceBuilder {
			x := newTrace()
			write(x)
			x.restart("a", nil)
			x.add("a", commit)
			return x
		}, "Commit", true},
		{"a vote the restart found lost is counted", func() *traceBuilder {
			x := newTrace()
			write(x)
			x.restart("b", []int{0}) // b died inside the Save of its Accept
			x.add("a", commit)
			return x
		}, "Commit", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := tc.trace()
			rep := x.validate(t)
			if rep.Valid() {
				t.Fatalf("validated: %s", rep.Summary())
			}
			if !strings.Contains(rep.Summary(), tc.want) {
				t.Fatalf("rejected, but not at %s: %s", tc.want, rep.Summary())
			}
			t.Log(rep.Summary())
			asLoss := validateCrashAsLeaseLoss(t, x)
			if asLoss.Failure == "" != tc.passedAsLeaseLoss {
				t.Fatalf("with crashes as LoseLease: %q, want passing %v", asLoss.Failure, tc.passedAsLeaseLoss)
			}
		})
	}
}

// validateCrashAsLeaseLoss validates x with every Restart replaced by the
// mapping it had before (LoseLease, after the regain Crash adds).
func validateCrashAsLeaseLoss(t *testing.T, x *traceBuilder) check.Result {
	t.Helper()
	batches, _, err := dropLost(x.batches)
	if err != nil {
		t.Fatal(err)
	}
	m := New(fiveSites, "a")
	for _, b := range batches {
		m.Batch(b.Site, b.Incarnation, b.Events)
	}
	run := m.Run()
	for i, s := range run.Steps {
		if s.Action == "Restart" {
			run.Steps[i].Action = "LoseLease"
		}
	}
	return check.Trace(run)
}

// TestLostProposalMessageAfterRestart: a fast-path request a writer sent
// before it crashed may reach the leader after (the spec's Restart drops it
// with the proposal): that group takes the crash as LoseLease, counted
// (check.DevCrashAsLeaseLoss), and the trace validates.
func TestLostProposalMessageAfterRestart(t *testing.T) {
	const p = 1<<32 | 7 // b's proposal in incarnation 1
	v := core.ValueID{Site: "b", Incarnation: 1, Seq: 1}
	x := newTrace()
	x.add("b", core.TraceEvent{Action: core.ActBeginWrite, Group: g, Position: 1, Proposal: p, Value: v, Request: req(1, 1)})
	x.restart("b", nil)
	x.add("b", core.TraceEvent{Action: core.ActRegainLease, Epoch: 1})
	x.add("a", core.TraceEvent{Action: core.ActAcceptLeader, Group: g, Position: 1, Peer: "b", Proposal: p, Value: v})
	rep := x.validate(t)
	if !rep.Valid() || rep.Deviations[check.DevCrashAsLeaseLoss] != 1 {
		t.Fatalf("want valid with one crash taken as LoseLease: %s, %v", rep.Summary(), rep.Deviations)
	}
}

// TestRestartLostLearnedSuffix: chosen records are written without fsync,
// so a restart may lose what its site learned after its last sync. The
// node's restart marker says how much of each group's learned log it kept
// (node.Kept), and the spec's Restart keeps that prefix of the applied
// log: a write the restarted site then begins at the position it forgot
// validates. Without the marker, the mirror still holds the entry and
// rejects the write's position.
func TestRestartLostLearnedSuffix(t *testing.T) {
	const p = 1<<32 | 7
	v := core.ValueID{Site: "a", Incarnation: 1, Seq: 1}
	w := core.ValueID{Site: "a", Incarnation: 2, Seq: 1}
	build := func(marker bool) *traceBuilder {
		x := newTrace()
		x.add("a", core.TraceEvent{Action: core.ActBeginWrite, Group: g, Position: 1, Proposal: p, Value: v, Request: req(1, 9)})
		x.add("a", core.TraceEvent{Action: core.ActAcceptLeader, Group: g, Position: 1, Peer: "a", Proposal: p, Value: v})
		x.add("b", core.TraceEvent{Action: core.ActAccept, Group: g, Position: 1, Peer: "a", Proposal: p, Value: v})
		x.add("c", core.TraceEvent{Action: core.ActAccept, Group: g, Position: 1, Peer: "a", Proposal: p, Value: v})
		x.add("a", core.TraceEvent{Action: core.ActCommit, Group: g, Position: 1, Proposal: p, Value: v},
			core.TraceEvent{Action: core.ActLearn, Group: g, Position: 1, Value: v})
		x.restart("a", nil)
		if marker {
			x.batches = append(x.batches, node.TraceBatch{Site: "a", Incarnation: x.inc["a"], UnixNanos: int64(len(x.batches) + 1),
				Kept: map[core.GroupID]core.Position{g: 0}})
		}
		x.add("a", core.TraceEvent{Action: core.ActBeginWrite, Group: g, Position: 1, Proposal: 2<<32 | 1, Value: w, Request: req(2, 1)})
		return x
	}
	rep := build(true).validate(t)
	if !rep.Valid() || rep.Deviations[check.DevRestartKeptPrefix] != 1 {
		t.Fatalf("want valid with the restart keeping a shorter log: %s, %v", rep.Summary(), rep.Deviations)
	}
	if rep := build(false).validate(t); rep.Valid() || !strings.Contains(rep.Summary(), "targets 1") {
		t.Fatalf("without the marker the mirror keeps the entry: want the write's position rejected, got %s", rep.Summary())
	}
}
