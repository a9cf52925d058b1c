package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A misspelt name must never look like a clean run: exit 2 and the list
// of names to choose from.
func TestUnknownNamesAreErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-config", "MCNope"}, []string{`unknown config "MCNope"`, "MCWriteRace", "MCReadRace", "MCTwoGroups"}},
		{[]string{"-mutate", "Nope"}, []string{`unknown mutation "Nope"`, "SkipInvalidation", "AcceptLowerBallot"}},
		{[]string{"MCWriteRace"}, []string{"unexpected arguments"}},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stdout %q)", tc.args, code, out.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tc.args, w, errb.String())
			}
		}
	}
}

// A mutated run exits 1, names the mutation, prints only what each step
// changed and writes the trace and a replay module.
func TestMutatedRunReport(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"-config", "MCWriteRace", "-mutate", "AcceptLowerBallot", "-traces", dir}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out.String(), errb.String())
	}
	s := out.String()
	for _, w := range []string{"Mutation applied: AcceptLowerBallot", "Invariant AtMostOneChosen is violated",
		"State 2: <BeginWrite(\"p1\")>\n/\\ prop = "} {
		if !strings.Contains(s, w) {
			t.Errorf("report lacks %q:\n%s", w, s)
		}
	}
	// State 2 changes prop only: the diff form must not repeat maxBal.
	st2 := s[strings.Index(s, "State 2:"):strings.Index(s, "State 3:")]
	if strings.Contains(st2, "maxBal") {
		t.Errorf("state 2 repeats an unchanged variable:\n%s", st2)
	}
	for _, f := range []string{"MCWriteRace.trace", "MCWriteRaceReplay.tla", "MCWriteRaceReplay.cfg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// -deep runs any config by name and checks its figures against the
// recorded ones.
func TestDeepRun(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-deep", "-config", "MCConsecutiveWrites", "-workers", "2"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, w := range []string{"=== MCConsecutiveWrites (deep)", "No error has been found", "Deep figures equal to the recorded ones",
		"fingerprints", "Non-vacuity"} {
		if !strings.Contains(out.String()+errb.String(), w) {
			t.Errorf("output lacks %q:\n%s\n%s", w, out.String(), errb.String())
		}
	}
}
