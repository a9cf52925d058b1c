package sim

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFailureReport: a deliberately broken variant's failing run names the
// failing step with the mirrored state around it, marks the step in the
// event log, and annotates porcupine's page; both for a step the spec does
// not take (SkipInvalidation: a Commit before every full site acked or was
// invalidated) and for one it takes into an invariant violation
// (ReadOnlyVotes: an Accept at the read-only site).
func TestFailureReport(t *testing.T) {
	for _, tc := range []struct {
		bug, check, action string
		taken              bool
		after              string // a variable the step changed
		guard              string // a false conjunct named
	}{
		{bug: "SkipInvalidation", check: "trace validation", action: "Commit", guard: `false guard: Full \subseteq prop[`},
		{bug: "ReadOnlyVotes", check: "invariant ReadOnlyNeverVotes", action: "Accept", taken: true, after: "votes"},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			o := Defaults()
			o.Bugs, _ = Bug(tc.bug)
			o.KeepLog = true
			var rep Report
			for o.Seed = 0; o.Seed < 20; o.Seed++ {
				if rep = Run(bubbled(t, o)); rep.Check == tc.check {
					break
				}
			}
			if rep.Check != tc.check {
				t.Fatalf("no seed in 20 failed %s (last: %s: %s)", tc.check, rep.Check, rep.Failure)
			}
			f := rep.Trace.Fail
			if f == nil {
				t.Fatalf("seed %d: %s: no failing step reported", o.Seed, rep.Failure)
			}
			if f.Step.Action != tc.action || !strings.HasPrefix(f.Event, tc.action+"(") || f.Taken != tc.taken {
				t.Fatalf("seed %d: failing step %s, event %q, taken %v; want %s, taken %v", o.Seed, f.Step, f.Event, f.Taken, tc.action, tc.taken)
			}
			text := f.Text()
			for _, want := range []string{"failing step (group " + f.Group + "): " + f.Step.String(), "spec action: " + f.Event,
				"mirrored state of group " + f.Group + " before the step:", "/\\ prop = ", "/\\ votes = ", f.Step.Prop} {
				if !strings.Contains(text, want) {
					t.Errorf("seed %d: the report lacks %q:\n%s", o.Seed, want, text)
				}
			}
			if !strings.Contains(text, tc.guard) {
				t.Errorf("seed %d: the report lacks %q:\n%s", o.Seed, tc.guard, text)
			}
			if tc.taken != strings.Contains(text, "after the step (the variables it changed):\n  /\\ "+tc.after) {
				t.Errorf("seed %d: the after-state (changed %s) shown: %v, want %v:\n%s", o.Seed, tc.after, !tc.taken, tc.taken, text)
			}

			// The marker follows the failing step's own line in the log.
			log := rep.MarkedLog()
			i := slices.IndexFunc(log, func(l string) bool { return strings.HasPrefix(l, FailMarker) })
			if i < 1 || !strings.HasSuffix(log[i-1], "step "+f.Step.String()) || !strings.Contains(log[i], rep.Trace.Failure) {
				t.Fatalf("seed %d: no marker after the failing step's line (marker at %d)", o.Seed, i)
			}
			if len(log) != len(rep.Log)+1 {
				t.Fatalf("the marked log has %d lines, the log %d", len(log), len(rep.Log))
			}

			// Porcupine's page carries the failing step and the faults.
			path := filepath.Join(t.TempDir(), "p.html")
			if err := rep.Lin.Visualize(path, rep.Notes...); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			html := string(b)
			for _, want := range []string{`"Tag":"failing step"`, `"Description":"` + tc.action + ` (group ` + f.Group + `)"`, `"Tag":"fault `} {
				if !strings.Contains(html, want) {
					t.Errorf("seed %d: the visualization lacks %s", o.Seed, want)
				}
			}
		})
	}
}

// TestPassingRunHasNoMarker: a run that passes gets no marker, no notes.
func TestPassingRunHasNoMarker(t *testing.T) {
	o := Defaults()
	o.KeepLog = true
	rep := Run(bubbled(t, o))
	if rep.Failure != "" {
		t.Fatalf("seed 0 fails: %s", rep.Failure)
	}
	if rep.Trace.Fail != nil || len(rep.Notes) > 0 || len(rep.MarkedLog()) != len(rep.Log) {
		t.Fatalf("a passing run reports a failing step: %+v, %d notes", rep.Trace.Fail, len(rep.Notes))
	}
}
