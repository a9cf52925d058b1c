package check

import (
	"strings"
	"testing"
)

// The checks must be able to fail: each is shown a small bad input next to
// a good one.

func TestLinearizableRejectsStaleRead(t *testing.T) {
	good := []Op{
		{Group: "g", Write: true, Value: "a", Out: "", Call: 0, Return: 10},
		{Group: "g", Out: "a", Call: 11, Return: 12},
		{Group: "g", Write: true, Value: "b", Unknown: true, Call: 13, Return: 1 << 62},
		{Group: "g", Out: "b", Call: 20, Return: 21},
	}
	if r := Linearizable(good); r.Failure != "" {
		t.Fatalf("good history rejected: %s", r.Failure)
	}
	stale := append(good[:2:2], Op{Group: "g", Out: "", Call: 13, Return: 14})
	if r := Linearizable(stale); r.Failure == "" {
		t.Fatal("a read of the initial value after an acknowledged write passed")
	}
	lostUpdate := []Op{
		{Group: "g", Write: true, Value: "a", Out: "", Call: 0, Return: 10},
		{Group: "g", Write: true, Value: "b", Out: "", Call: 11, Return: 20},
	}
	if r := Linearizable(lostUpdate); r.Failure == "" {
		t.Fatal("a transaction that read a value already replaced passed")
	}
}

func TestSnapshotsRejectsUncommittedState(t *testing.T) {
	log := map[string][]Entry{"g": {{Known: true, Writes: true, Value: "a"}, {Known: true}, {Known: true, Writes: true, Value: "b"}}}
	if bad := Snapshots([]Snapshot{{Group: "g", Pos: 2, Value: "a"}, {Group: "g", Pos: 0, Value: ""}}, log); bad != "" {
		t.Fatal(bad)
	}
	if bad := Snapshots([]Snapshot{{Group: "g", Pos: 2, Value: "b"}}, log); bad == "" {
		t.Fatal("a snapshot at 2 returning the value written at 3 passed")
	}
}

func TestSnapshotScansRejectMissingAndUncommittedRows(t *testing.T) {
	log := map[string][]Entry{"g": {{Known: true, Writes: true, Value: "a", Rows: []string{"a"}},
		{Known: true}, {Known: true, Writes: true, Value: "b", Rows: []string{"b"}}}}
	if bad := Snapshots([]Snapshot{{Group: "g", Pos: 2, Value: "a", Rows: []string{"a"}},
		{Group: "g", Pos: 0, Value: "", Rows: []string{}}}, log); bad != "" {
		t.Fatal(bad)
	}
	for _, rows := range [][]string{{}, {"a", "b"}, {"a", "a"}} {
		if bad := Snapshots([]Snapshot{{Group: "g", Pos: 2, Value: "a", Rows: rows}}, log); bad == "" {
			t.Fatalf("a scan at 2 returning %v passed", rows)
		}
	}
}

func TestInconsistentRejectsUnchosenValues(t *testing.T) {
	log := map[string][]Entry{"g": {{Known: true, Writes: true, Value: "a"}, {Known: true, Writes: true, Value: "b"}}}
	for _, v := range []string{"", "a", "b"} {
		if bad := Inconsistent([]Snapshot{{Group: "g", Value: v}}, log); bad != "" {
			t.Fatal(bad)
		}
	}
	if bad := Inconsistent([]Snapshot{{Group: "g", Value: "c"}}, log); bad == "" {
		t.Fatal("an inconsistent read of a value never chosen passed")
	}
}

func fastPathRun(commitEarly bool) Run {
	p := Proposer{Name: "A.1.p1.r0", Site: "A", Group: "g", Value: "A/1/1", Pos: 1}
	steps := []Step{
		{Action: "LoseLease", Site: "A"}, {Action: "LoseLease", Site: "B"}, {Action: "LoseLease", Site: "C"},
		{Action: "BeginWrite", Group: "g", Prop: p.Name, Pos: 1},
		{Action: "AcceptLeader", Group: "g", Prop: p.Name, Site: "A", Pos: 1},
		{Action: ExtProposeFast, Group: "g", Prop: p.Name, Pos: 1},
	}
	if commitEarly {
		steps = append(steps, Step{Action: "Commit", Group: "g", Prop: p.Name, Pos: 1, Value: p.Value})
	}
	steps = append(steps,
		Step{Action: "Accept", Group: "g", Prop: p.Name, Site: "B", Pos: 1, Value: p.Value},
		Step{Action: "Accept", Group: "g", Prop: p.Name, Site: "C", Pos: 1, Value: p.Value},
		Step{Action: "Commit", Group: "g", Prop: p.Name, Pos: 1, Value: p.Value},
		Step{Action: "Learn", Group: "g", Site: "B", Pos: 1, Value: p.Value},
	)
	return Run{Full: []string{"A", "B", "C"}, InitLeader: "A", Proposers: []Proposer{p}, Steps: steps}
}

func TestTraceRejectsCommitBeforeQuorum(t *testing.T) {
	if r := Trace(fastPathRun(false)); r.Failure != "" {
		t.Fatalf("good trace rejected: %s", r.Failure)
	}
	r := Trace(fastPathRun(true))
	if r.Failure == "" || r.Check != "trace validation" || !strings.Contains(r.Failure, "Commit") {
		t.Fatalf("a commit before a quorum accepted passed: %+v", r)
	}
	// The report names the step, the spec action refused, the false
	// conjunct, and the mirrored state it was tried from.
	f := r.Fail
	if f == nil || f.Step.Action != "Commit" || f.Taken || f.After != nil {
		t.Fatalf("failing step reported as %+v", f)
	}
	text := f.Text()
	for _, want := range []string{"spec action: Commit(", "not enabled", "false guard: HasQuorum(prop[",
		"mirrored state of group g before the step:", "/\\ prop = "} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %q:\n%s", want, text)
		}
	}
}

// A catch-up read: each of its values must be the spec's, or trace
// validation fails: the read target, the result, the Validate verdict.
func TestTraceRejectsAReadThatDiffersFromTheSpec(t *testing.T) {
	run := func(mutate func([]Step)) Result {
		p := Proposer{Name: "A.1.p1.r0", Site: "A", Group: "g", Value: "A/1/1", Pos: 1}
		r := Reader{Name: "B.1.q1", Site: "B", Group: "g", Kind: "current"}
		steps := []Step{
			{Action: "LoseLease", Site: "A"}, {Action: "LoseLease", Site: "B"}, {Action: "LoseLease", Site: "C"},
			{Action: "RegainLease", Site: "B", Epoch: 1},
			{Action: "BeginWrite", Group: "g", Prop: p.Name, Pos: 1},
			{Action: "AcceptLeader", Group: "g", Prop: p.Name, Site: "A", Pos: 1},
			{Action: ExtProposeFast, Group: "g", Prop: p.Name, Pos: 1},
			{Action: "Accept", Group: "g", Prop: p.Name, Site: "C", Pos: 1, Value: p.Value},
			{Action: "Accept", Group: "g", Prop: p.Name, Site: "B", Pos: 1, Value: p.Value},
			{Action: "Commit", Group: "g", Prop: p.Name, Pos: 1, Value: p.Value},
			{Action: "Learn", Group: "g", Site: "B", Pos: 1, Value: p.Value},
			{Action: "ReadBegin", Group: "g", Reader: r.Name, Epoch: 1},
			{Action: "ReadFindPos", Group: "g", Reader: r.Name, Quorum: []string{"A", "B"}, Target: 1},
			{Action: "ReadCatchUp", Group: "g", Reader: r.Name, Target: 1, Result: []string{p.Value}},
			{Action: "Validate", Group: "g", Reader: r.Name, Target: 1, Flag: true},
		}
		mutate(steps)
		return Trace(Run{Full: []string{"A", "B", "C"}, InitLeader: "A", Proposers: []Proposer{p},
			Readers: []Reader{r}, Steps: steps})
	}
	if res := run(func([]Step) {}); res.Failure != "" {
		t.Fatalf("the correct read failed: %s", res.Failure)
	}
	for name, mutate := range map[string]func([]Step){
		"a lower target":        func(s []Step) { s[13].Target = 0 },
		"a stale result":        func(s []Step) { s[13].Result = nil },
		"an ignored validation": func(s []Step) { s[14].Flag = false },
	} {
		if res := run(mutate); res.Failure == "" || res.Check != "trace validation" {
			t.Errorf("%s passed: %+v", name, res)
		} else {
			t.Logf("%s: %s", name, res.Failure)
		}
	}
}

// An Invalidate of a coordinator whose site accepted the value is not a
// step of the spec (its guard is f \notin acks): trace validation fails.
func TestTraceRejectsInvalidatingASiteThatAccepted(t *testing.T) {
	run := fastPathRun(false)
	p := run.Proposers[0]
	inv := Step{Action: "Invalidate", Group: "g", Prop: p.Name, Site: "C", Pos: 1}
	k := len(run.Steps) - 2 // after both Accepts, before Commit
	run.Steps = append(run.Steps[:k:k], append([]Step{inv}, run.Steps[k:]...)...)
	r := Trace(run)
	if r.Failure == "" || !strings.Contains(r.Failure, "Invalidate") {
		t.Fatalf("invalidating a site that accepted passed: %+v", r)
	}
	t.Log(r.Failure)
	if r := Trace(fastPathRun(false)); r.Failure != "" {
		t.Fatalf("the run without it failed: %s", r.Failure)
	}
}

// A group whose trace begins after 150 lease losses and regains at B still
// has every step validated: its window renumbers epochs from where it
// begins. Without the window the mirror's epoch bound (100) would stop it.
// The renumbering keeps the checks: a reader's epoch that is off by one
// still fails.
func TestLongLeaseHistoryBeforeAGroupIsWindowed(t *testing.T) {
	run := func(readerEpoch int) Result {
		p := Proposer{Name: "A.1.p1.r0", Site: "A", Group: "g", Value: "A/1/1", Pos: 1}
		r := Reader{Name: "B.1.q1", Site: "B", Group: "g", Kind: "current"}
		steps := []Step{{Action: "LoseLease", Site: "A"}, {Action: "LoseLease", Site: "B"}, {Action: "LoseLease", Site: "C"}}
		for e := 1; e <= 150; e++ {
			steps = append(steps, Step{Action: "RegainLease", Site: "B", Epoch: e}, Step{Action: "LoseLease", Site: "B"})
		}
		steps = append(steps,
			Step{Action: "RegainLease", Site: "B", Epoch: 151},
			Step{Action: "BeginWrite", Group: "g", Prop: p.Name, Pos: 1},
			Step{Action: "AcceptLeader", Group: "g", Prop: p.Name, Site: "A", Pos: 1},
			Step{Action: ExtProposeFast, Group: "g", Prop: p.Name, Pos: 1},
			Step{Action: "Accept", Group: "g", Prop: p.Name, Site: "C", Pos: 1, Value: p.Value},
			Step{Action: "Accept", Group: "g", Prop: p.Name, Site: "B", Pos: 1, Value: p.Value},
			Step{Action: "Commit", Group: "g", Prop: p.Name, Pos: 1, Value: p.Value},
			Step{Action: "Learn", Group: "g", Site: "B", Pos: 1, Value: p.Value},
			Step{Action: "LoseLease", Site: "B"},
			Step{Action: "RegainLease", Site: "B", Epoch: 152},
			Step{Action: "ReadBegin", Group: "g", Reader: r.Name, Epoch: readerEpoch},
			Step{Action: "ReadFindPos", Group: "g", Reader: r.Name, Quorum: []string{"A", "B"}, Target: 1},
			Step{Action: "ReadCatchUp", Group: "g", Reader: r.Name, Target: 1, Result: []string{p.Value}},
			Step{Action: "Validate", Group: "g", Reader: r.Name, Target: 1, Flag: true},
		)
		return Trace(Run{Full: []string{"A", "B", "C"}, InitLeader: "A", Proposers: []Proposer{p},
			Readers: []Reader{r}, Steps: steps})
	}
	res := run(152)
	if res.Failure != "" || res.Deviations[DevBudget] != 0 || res.Validated != res.Steps {
		t.Fatalf("a group after 150 regains: failure %q, %d of %d steps validated, %d beyond the bounds",
			res.Failure, res.Validated, res.Steps, res.Deviations[DevBudget])
	}
	if res := run(151); !strings.Contains(res.Failure, "epoch") {
		t.Fatalf("a reader with the wrong epoch passed: %+v", res.Failure)
	}
}

// A snapshot read at a named position (a transaction's read) must return
// the writes of its site's applied log up to there, and be served only
// where the site applied that far.
func TestSnapshotReadAtPosition(t *testing.T) {
	run := func(read Step) Result {
		r := fastPathRun(false)
		r.Steps = append(r.Steps, read)
		return Trace(r)
	}
	if res := run(Step{Action: ExtSnapshotReadAt, Group: "g", Site: "B", Pos: 1, Result: []string{"A/1/1"}}); res.Failure != "" {
		t.Fatalf("a correct read at position 1 failed: %s", res.Failure)
	}
	for name, read := range map[string]Step{
		"a wrong result":          {Action: ExtSnapshotReadAt, Group: "g", Site: "B", Pos: 1},
		"a position not applied":  {Action: ExtSnapshotReadAt, Group: "g", Site: "C", Pos: 1, Result: []string{"A/1/1"}},
		"a position past the log": {Action: ExtSnapshotReadAt, Group: "g", Site: "B", Pos: 2, Result: []string{"A/1/1"}},
	} {
		if res := run(read); res.Failure == "" {
			t.Errorf("%s passed", name)
		}
	}
}

// Inside a group's window, 150 lease losses and regains at B between two
// of the group's steps exceed the mirror's epoch bound unless collapsed
// (Run.CollapseLease): collapsed, every step validates. Collapsing keeps
// the checks: a reader whose epoch is that of a regain before the last
// still fails, and so does a WaitOutLease of B while B holds its lease
// again at the end of the run of losses and regains.
func TestCollapsedLeaseStepsKeepTheChecks(t *testing.T) {
	p := Proposer{Name: "A.1.p1.r0", Site: "A", Group: "g", Value: "A/1/1", Pos: 1}
	r := Reader{Name: "B.1.q1", Site: "B", Group: "g", Kind: "current"}
	churn := func(from, n int) []Step {
		var out []Step
		for e := from; e < from+n; e++ {
			out = append(out, Step{Action: "LoseLease", Site: "B"}, Step{Action: "RegainLease", Site: "B", Epoch: e})
		}
		return out
	}
	run := func(collapse bool, readerEpoch int) Result {
		steps := []Step{{Action: "LoseLease", Site: "A"}, {Action: "LoseLease", Site: "B"}, {Action: "LoseLease", Site: "C"},
			{Action: "RegainLease", Site: "B", Epoch: 1},
			{Action: "BeginWrite", Group: "g", Prop: p.Name, Pos: 1},
			{Action: "AcceptLeader", Group: "g", Prop: p.Name, Site: "A", Pos: 1},
			{Action: ExtProposeFast, Group: "g", Prop: p.Name, Pos: 1},
			{Action: "Accept", Group: "g", Prop: p.Name, Site: "C", Pos: 1, Value: p.Value},
			{Action: "Accept", Group: "g", Prop: p.Name, Site: "B", Pos: 1, Value: p.Value},
			{Action: "Commit", Group: "g", Prop: p.Name, Pos: 1, Value: p.Value},
			{Action: "Learn", Group: "g", Site: "B", Pos: 1, Value: p.Value}}
		steps = append(steps, churn(2, 150)...)
		steps = append(steps,
			Step{Action: "ReadBegin", Group: "g", Reader: r.Name, Epoch: readerEpoch},
			Step{Action: "ReadFindPos", Group: "g", Reader: r.Name, Quorum: []string{"A", "B"}, Target: 1},
			Step{Action: "ReadCatchUp", Group: "g", Reader: r.Name, Target: 1, Result: []string{p.Value}},
			Step{Action: "Validate", Group: "g", Reader: r.Name, Target: 1, Flag: true})
		return Trace(Run{Full: []string{"A", "B", "C"}, InitLeader: "A", Proposers: []Proposer{p},
			Readers: []Reader{r}, Steps: steps, EndWindows: true, CollapseLease: collapse})
	}
	if res := run(false, 151); res.Deviations[DevBudget] == 0 {
		t.Fatalf("without collapsing, 150 regains inside the window fit the mirror: %+v", res)
	}
	res := run(true, 151)
	if res.Failure != "" || res.Deviations[DevBudget] != 0 || res.Validated != res.Steps {
		t.Fatalf("collapsed: failure %q, %d of %d steps validated, %d beyond the bounds",
			res.Failure, res.Validated, res.Steps, res.Deviations[DevBudget])
	}
	if res := run(true, 150); !strings.Contains(res.Failure, "epoch") {
		t.Fatalf("a reader at the epoch of an earlier regain passed: %+v", res.Failure)
	}

	// A writer waits out C's lease (C did not accept) after C's losses and
	// regains ended with C lease-less: a step. If the losses and regains
	// were B's and C held its lease all along, the wait is not a step of
	// the spec, collapsed or not.
	waitRun := func(endHeld bool) Run {
		steps := []Step{{Action: "LoseLease", Site: "A"}, {Action: "LoseLease", Site: "B"}, {Action: "LoseLease", Site: "C"},
			{Action: "RegainLease", Site: "C", Epoch: 1},
			{Action: "BeginWrite", Group: "g", Prop: p.Name, Pos: 1},
			{Action: "AcceptLeader", Group: "g", Prop: p.Name, Site: "A", Pos: 1},
			{Action: ExtProposeFast, Group: "g", Prop: p.Name, Pos: 1},
			{Action: "Accept", Group: "g", Prop: p.Name, Site: "B", Pos: 1, Value: p.Value}}
		for _, st := range churn(2, 150) {
			if !endHeld {
				st.Site = "C"
			}
			steps = append(steps, st)
		}
		if !endHeld {
			steps = append(steps, Step{Action: "LoseLease", Site: "C"})
		}
		steps = append(steps, Step{Action: "WaitOutLease", Group: "g", Prop: p.Name, Site: "C", Pos: 1},
			Step{Action: "Commit", Group: "g", Prop: p.Name, Pos: 1, Value: p.Value})
		return Run{Full: []string{"A", "B", "C"}, InitLeader: "A", Proposers: []Proposer{p}, Steps: steps,
			EndWindows: true, CollapseLease: true}
	}
	if res := Trace(waitRun(false)); res.Failure != "" || res.Validated != res.Steps {
		t.Fatalf("a WaitOutLease after C's lease ran out: failure %q, %d of %d validated", res.Failure, res.Validated, res.Steps)
	}
	wait := waitRun(true)
	if res := Trace(wait); !strings.Contains(res.Failure, "WaitOutLease") {
		t.Fatalf("a WaitOutLease of a coordinator that held its lease throughout passed: %+v", res)
	}
}
