package sim

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/megastore-verified/megastore/impl/core"
)

// BugNames lists impl/core's bug switches (the fields of core.Bugs).
func BugNames() []string { return core.BugNames() }

// Bug returns a core.Bugs with the named switch on.
func Bug(name string) (core.Bugs, bool) { return core.BugByName(name) }

func bugName(b core.Bugs) string {
	v := reflect.ValueOf(b)
	for i := range v.NumField() {
		if v.Field(i).Bool() {
			return v.Type().Field(i).Name
		}
	}
	return ""
}

// ReproCommand is the one-line command that reruns exactly this run.
func ReproCommand(o Options) string {
	cmd := fmt.Sprintf("go run ./tests/cmd/sim -seeds 1 -seed %d", o.Seed)
	if b := bugName(o.Bugs); b != "" {
		cmd = fmt.Sprintf("go run -tags %s ./tests/cmd/sim -seeds 1 -seed %d -bug %s", core.BugTag, o.Seed, b)
	}
	if o.Memberships {
		cmd += " -memberships"
	}
	if o.OwnLoop {
		cmd += " -own-loop"
	}
	if o.HeldGroups != 0 {
		cmd += fmt.Sprintf(" -held-groups %d", o.HeldGroups)
	}
	if o.RetainPositions != 0 {
		cmd += fmt.Sprintf(" -retain %d", o.RetainPositions)
	}
	if o.SlowSaves {
		cmd += " -slow-saves"
	}
	if o.PipelineDepth != 0 {
		cmd += fmt.Sprintf(" -pipeline-depth %d", o.PipelineDepth)
	}
	if o.LoseVoteOnRestart {
		cmd += " -lose-vote-on-restart"
	}
	if o.LoseChosenOnRestart {
		cmd += " -lose-chosen-on-restart"
	}
	for _, f := range []struct {
		on   bool
		flag string
	}{{o.SendBeforePersist, " -send-before-persist"}, {o.SyncAfterSend, " -sync-after-send"}} {
		if !f.on {
			continue
		}
		// NB: the driver's switches are refused without the bug tag.
		if !strings.Contains(cmd, "-tags") {
			cmd = strings.Replace(cmd, "go run ", "go run -tags "+core.BugTag+" ", 1)
		}
		cmd += f.flag
	}
	if len(o.OmitOps) > 0 || len(o.OmitFaults) > 0 {
		cmd += fmt.Sprintf(" -omit-ops %s -omit-faults %s", joinInts(o.OmitOps), joinInts(o.OmitFaults))
	}
	if o.Workload != "" {
		cmd += " -workload " + o.Workload
		if o.WorkloadBug != "" {
			if !strings.Contains(cmd, "-tags") {
				cmd = strings.Replace(cmd, "go run ", "go run -tags "+core.BugTag+" ", 1)
			}
			cmd += " -workload-bug " + o.WorkloadBug
		}
		if o.Clients != 0 && o.Clients != defaultClients {
			cmd += fmt.Sprintf(" -clients %d", o.Clients)
		}
		if o.ClientOps != 0 && o.ClientOps != defaultClientOps {
			cmd += fmt.Sprintf(" -client-ops %d", o.ClientOps)
		}
	}
	d := Defaults()
	for _, f := range []struct {
		name      string
		got, want int
	}{{"groups", o.Groups, d.Groups}, {"writes", o.Writes, d.Writes}, {"reads", o.Reads, d.Reads},
		{"snapshots", o.Snapshots, d.Snapshots}, {"snapshots-at", o.SnapshotsAt, d.SnapshotsAt}, {"inconsistent", o.Inconsistent, d.Inconsistent},
		{"refused", o.Refused, d.Refused}, {"partitions", o.Partitions, d.Partitions},
		{"crashes", o.Crashes, d.Crashes}, {"pauses", o.Pauses, d.Pauses}, {"operator-downs", o.OperatorDowns, d.OperatorDowns}, {"drop", o.DropPercent, d.DropPercent}, {"dup", o.DupPercent, d.DupPercent}, {"drift", o.MaxDriftPPM, d.MaxDriftPPM}, {"long-delay", o.LongDelayTicks, d.LongDelayTicks}} {
		if f.got != f.want {
			cmd += fmt.Sprintf(" -%s %d", f.name, f.got)
		}
	}
	return cmd
}

func joinInts(xs []int) string {
	if len(xs) == 0 {
		return `""`
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

// Shrink removes schedule items (ops, faults) and message loss and
// duplication one at a time, keeping each removal while the run still
// fails the same check. Bounded: one pass over the items, twice.
func Shrink(o Options, check string) Options {
	fails := func(c Options) bool {
		r := Run(c)
		return r.Failure != "" && r.Check == check
	}
	if !fails(o) {
		return o
	}
	n := newSim(o)
	n.generate()
	nOps, nFaults := len(n.ops), len(n.faults)
	n.close()
	for range 2 {
		for _, try := range []func(Options) Options{
			func(c Options) Options { c.DropPercent = 0; return c },
			func(c Options) Options { c.DupPercent = 0; return c },
		} {
			if c := try(o); (c.DropPercent != o.DropPercent || c.DupPercent != o.DupPercent) && fails(c) {
				o = c
			}
		}
		// Leave out one schedule item at a time, keeping each omission
		// under which the run still fails.
		omitEach := func(n int, list func(*Options) *[]int) {
			for i := range n {
				if slices.Contains(*list(&o), i) {
					continue
				}
				c := o
				omitted := append(slices.Clone(*list(&o)), i)
				sort.Ints(omitted)
				*list(&c) = omitted
				if fails(c) {
					o = c
				}
			}
		}
		omitEach(nFaults, func(c *Options) *[]int { return &c.OmitFaults })
		omitEach(nOps, func(c *Options) *[]int { return &c.OmitOps })
	}
	return o
}

// Totals aggregates reports.
type Totals struct {
	Runs, Failures, Steps, Validated int
	// SteppedWhileSaving and DiedSaving sum the Reports'.
	SteppedWhileSaving, DiedSaving int
	// WorkloadChecked sums what the workload checkers judged.
	WorkloadChecked int
	Ops             OpStats
	Deviations      map[string]int
	ByCheck         map[string]int
	// Truncations and Installs sum Report's (Options.RetainPositions).
	Truncations, Installs int
}

// Add counts one report.
func (t *Totals) Add(r Report) {
	if t.Deviations == nil {
		t.Deviations, t.ByCheck = map[string]int{}, map[string]int{}
	}
	t.Runs++
	if r.Failure != "" {
		t.Failures++
		t.ByCheck[r.Check]++
	}
	if r.Workload != nil {
		t.WorkloadChecked += r.Workload.Checked
	}
	t.Truncations += r.Truncations
	t.Installs += r.Installs
	t.Steps += r.Trace.Steps
	t.SteppedWhileSaving += r.SteppedWhileSaving
	t.DiedSaving += r.DiedSaving
	t.Validated += r.Trace.Validated
	t.Ops.Done += r.Ops.Done
	t.Ops.NoEffect += r.Ops.NoEffect
	t.Ops.Unknown += r.Ops.Unknown
	t.Ops.Never += r.Ops.Never
	t.Ops.FailedOver += r.Ops.FailedOver
	t.Ops.SnapshotsAt += r.Ops.SnapshotsAt
	for k, v := range r.Trace.Deviations {
		t.Deviations[k] += v
	}
}

func (t Totals) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "runs %d, failing %d %v\n", t.Runs, t.Failures, t.ByCheck)
	if t.WorkloadChecked > 0 {
		fmt.Fprintf(&b, "workload: %d committed operations (or dependency edges) checked\n", t.WorkloadChecked)
	}
	if t.Ops != (OpStats{}) || t.WorkloadChecked == 0 {
		fmt.Fprintf(&b, "ops: %d returned (%d after failing over to another site, %d snapshot reads at a named position), %d without effect, %d unknown outcome\n",
			t.Ops.Done, t.Ops.FailedOver, t.Ops.SnapshotsAt, t.Ops.NoEffect, t.Ops.Unknown)
	}
	pct := 0.0
	if t.Steps > 0 {
		pct = 100 * float64(t.Validated) / float64(t.Steps)
	}
	fmt.Fprintf(&b, "spec-level steps: %d, validated against the mirror: %d (%.1f%%)\n", t.Steps, t.Validated, pct)
	keys := make([]string, 0, len(t.Deviations))
	for k := range t.Deviations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %6d  %s\n", t.Deviations[k], k)
	}
	return b.String()
}
