package spec

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite tla/MC*.tla and tla/MC*.cfg from spec/configs.go")

// The MC modules TLC reads are rendered from the Go configs; this keeps
// the two from drifting apart.
func TestMCModules(t *testing.T) {
	for _, c := range append(Configs(), DeepConfigs()...) {
		files := map[string]string{
			filepath.Join("..", "tla", c.Name+".tla"): c.MCModule(),
			filepath.Join("..", "tla", c.Name+".cfg"): c.MCConfig(),
		}
		for path, want := range files {
			if *update {
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run `go test ./spec -run TestMCModules -update`)", err)
			}
			if string(got) != want {
				t.Errorf("%s differs from spec/configs.go; run `go test ./spec -run TestMCModules -update` and review the diff", path)
			}
		}
	}
}

// Every shipped config: every invariant holds in every reachable state,
// and the mirror finds exactly the number of distinct states recorded for
// it, which is TLC's figure for the same config.
func TestShippedConfigs(t *testing.T) {
	for _, c := range Configs() {
		t.Run(c.Name, func(t *testing.T) {
			m, err := c.Model()
			if err != nil {
				t.Fatal(err)
			}
			res, err := Explore(m, Options{MaxStates: 5_000_000})
			if err != nil {
				t.Fatal(err)
			}
			if res.Violation != nil {
				t.Fatalf("invariant %s violated:\n%s", res.Violation.Invariant, res.Violation.Text())
			}
			want, ok := Recorded[c.Name]
			if !ok {
				t.Fatalf("no TLC figures recorded for %s (mirror: %d distinct)", c.Name, res.Distinct)
			}
			if res.Distinct != want.Distinct || res.Generated != want.Generated || res.Depth != want.Depth {
				t.Fatalf("%s: mirror found %d distinct, %d generated, depth %d; TLC reported %d, %d, %d",
					c.Name, res.Distinct, res.Generated, res.Depth, want.Distinct, want.Generated, want.Depth)
			}
			// Every config with a reader loses a lease and regains it in a
			// new epoch while reads run.
			if len(c.Readers) > 0 {
				for _, cv := range res.Coverage {
					if (cv.Action == "LoseLease" || cv.Action == "RegainLease") && cv.Distinct == 0 {
						t.Errorf("%s has a reader but %s never found a state", c.Name, cv.Action)
					}
				}
			}
			if v := res.Vacuous(); len(v) > 0 {
				t.Errorf("%s: invariants whose antecedent is never reached: %v", c.Name, v)
			}
			var report bytes.Buffer
			if err := res.WriteCoverage(&report); err != nil {
				t.Fatal(err)
			}
			if err := res.Report(&report); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", report.String())
		})
	}
}

// Every invariant is listed by some config, and the non-vacuity check can
// fail: MCWriteRace has no reader, so ReadSeesAcked listed there is vacuous.
func TestNonVacuity(t *testing.T) {
	listed := map[string]bool{}
	for _, c := range Configs() {
		for _, inv := range c.CheckedInvariants() {
			listed[inv] = true
		}
	}
	for _, inv := range InvariantNames {
		if !listed[inv] {
			t.Errorf("no config checks %s", inv)
		}
	}
	c := WriteRace()
	c.Checks = append(c.Checks, "ReadSeesAcked")
	ok, err := Check(c, new(bytes.Buffer), "", Options{})
	if ok || err == nil || !strings.Contains(err.Error(), "ReadSeesAcked") {
		t.Fatalf("a vacuous invariant passed: ok %v, err %v", ok, err)
	}
	if strings.Contains(err.Error(), "AckedIsChosen") {
		t.Fatalf("a non-vacuous invariant reported vacuous: %v", err)
	}
}

// MCConsecutiveWrites reaches what it is for: w2, written at b, accepted
// at position 2 with ballot 0 by a (the leader w1 nominated), and w3,
// written at a, accepted at position 3 with ballot 0 by b (nominated by w2),
// both acknowledged.
func TestConsecutiveWritesReachNominatedLeader(t *testing.T) {
	c := ConsecutiveWrites()
	m, err := c.Model()
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.siteIndex["a"], c.siteIndex["b"]
	w2, w3 := c.valueIndex["w2"], c.valueIndex["w3"]
	m.Invariants = append(m.Invariants, Invariant[State]{Name: "NeverTwoNominatedGrants", Holds: func(s State) bool {
		return !(c.hasVote(s.Votes[c.slot(0, a, 2)], 0, w2) && c.hasVote(s.Votes[c.slot(0, b, 3)], 0, w3) &&
			c.Acked(s, 0)&(1<<w2|1<<w3) == 1<<w2|1<<w3)
	}})
	res, err := Explore(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation == nil || res.Violation.Invariant != "NeverTwoNominatedGrants" {
		t.Fatalf("the nominated leaders' ballot-0 grants are never reached (%d states)", res.Distinct)
	}
	t.Logf("reached in %d steps:\n%s", len(res.Violation.Trace)-1, res.Violation.DiffText())
}

// A broken step must be caught by the invariant it breaks, with a trace
// an auditor can replay.
func TestMutationsAreCaught(t *testing.T) {
	cases := []struct {
		mutation  Mutation
		config    func() *Config
		invariant string
	}{
		{SkipInvalidation, WriteRace, "AckedAfterInvalidation"},
		{AcceptLowerBallot, WriteRace, "AtMostOneChosen"},
		{GrantBallotZeroTwice, WriteRace, "AtMostOneChosen"},
		{AckBeforeQuorum, WriteRace, "AckedIsChosen"},
		{CatchUpAppliesUnchosen, WriteRace, "AppliedIsChosenPrefix"},
		{LocalReadAfterLeaseLoss, ReadRace, "ReadSeesAcked"},
		{ValidateWithoutPositionCheck, ReadRace, "ReadSeesAcked"},
		{ValidateWithoutEpochCheck, ReadRace, "ReadSeesAcked"},
		{EpochUnbounded, ReadRace, "TypeOK"},
		{LearnBeforeVisibility, Visibility, "ReadSeesObserved"},
		{WitnessServesReads, ReplicaKinds, "WitnessNeverServes"},
		{ReadOnlyVotes, ReplicaKinds, "ReadOnlyNeverVotes"},
	}
	seen := map[Mutation]bool{}
	for _, tc := range cases {
		seen[tc.mutation] = true
		t.Run(tc.mutation.String(), func(t *testing.T) {
			c := tc.config()
			c.Mutations = Mutations(tc.mutation)
			m, err := c.Model()
			if err != nil {
				t.Fatal(err)
			}
			res, err := Explore(m, Options{MaxStates: 5_000_000})
			if err != nil {
				t.Fatal(err)
			}
			if res.Violation == nil {
				t.Fatalf("%s with %s: no violation found in %d states", c.Name, tc.mutation, res.Distinct)
			}
			if res.Violation.Invariant != tc.invariant {
				t.Fatalf("%s with %s: violated %s, want %s\n%s", c.Name, tc.mutation, res.Violation.Invariant, tc.invariant, res.Violation.Text())
			}
			text := res.Violation.Text()
			if len(res.Violation.Trace) < 2 || !strings.Contains(text, "State 1: <Initial predicate>") {
				t.Fatalf("trace too short or malformed:\n%s", text)
			}
			t.Logf("%s caught by %s in %d steps", tc.mutation, tc.invariant, len(res.Violation.Trace)-1)
		})
	}
	for _, lm := range livenessMutations {
		seen[lm.mutation] = true // TestLivenessMutationsAreCaught
	}
	for _, m := range AllMutations() {
		if !seen[m] {
			t.Errorf("mutation %s has no test", m)
		}
	}
	// Every invariant is the target of at least one mutation.
	targeted := map[string]bool{}
	for _, tc := range cases {
		targeted[tc.invariant] = true
	}
	for _, inv := range InvariantNames {
		if !targeted[inv] {
			t.Errorf("invariant %s is never shown to fail", inv)
		}
	}
}

// MCReadRace's SYMMETRY keeps exactly one state per orbit of the states
// reachable without it: exploring the unreduced spec (TLC's 116,504
// states before SYMMETRY) and mapping every state to its orbit's key gives
// as many orbits as the reduced search finds states.
func TestSymmetryKeepsOneStatePerOrbit(t *testing.T) {
	reduced := ReadRace()
	rm, err := reduced.Model()
	if err != nil {
		t.Fatal(err)
	}
	rres, err := Explore(rm, Options{})
	if err != nil || rres.Violation != nil {
		t.Fatalf("reduced: %v %v", err, rres.Violation)
	}
	full := ReadRace()
	full.Symmetry = nil
	fm, err := full.Model()
	if err != nil {
		t.Fatal(err)
	}
	orbits := map[string]bool{}
	inner := fm.Key
	fm.Key = func(s State) string {
		orbits[reduced.Key(s)] = true
		return inner(s)
	}
	fres, err := Explore(fm, Options{})
	if err != nil || fres.Violation != nil {
		t.Fatalf("unreduced: %v %v", err, fres.Violation)
	}
	if fres.Distinct != 116_504 || fres.Generated != 622_059 || fres.Depth != 24 {
		t.Fatalf("unreduced MCReadRace: %d distinct, %d generated, depth %d; TLC found 116,504, 622,059, 24",
			fres.Distinct, fres.Generated, fres.Depth)
	}
	if len(orbits) != rres.Distinct || rres.Depth != fres.Depth {
		t.Fatalf("%d orbits among the unreduced states, the reduced search found %d states (depth %d, unreduced %d)",
			len(orbits), rres.Distinct, rres.Depth, fres.Depth)
	}
	if rres.Distinct >= fres.Distinct {
		t.Fatalf("symmetry reduced nothing: %d states", rres.Distinct)
	}
}

// A symmetry set is refused unless it is sound: its readers agree in
// every constant that names them, and no temporal property is checked.
func TestSymmetryRefusedWhereUnsound(t *testing.T) {
	c := Visibility() // r1 reads at a, r2 at b
	c.Symmetry = [][]string{{"r1", "r2"}}
	if _, err := c.Model(); err == nil || !strings.Contains(err.Error(), "not interchangeable") {
		t.Fatalf("readers at different sites accepted as symmetric: %v", err)
	}
	c = ReadRace()
	c.Properties = []string{"ReadCompletes"}
	if _, err := c.Model(); err == nil || !strings.Contains(err.Error(), "liveness") {
		t.Fatalf("SYMMETRY with PROPERTIES accepted: %v", err)
	}
	c = ReadRace()
	c.Symmetry = [][]string{{"r1", "r9"}}
	if _, err := c.Model(); err == nil || !strings.Contains(err.Error(), "not a reader") {
		t.Fatalf("a symmetry set naming no reader accepted: %v", err)
	}
	// Asked for anyway, liveness runs on the whole graph, not the orbits.
	c = ReadRace()
	c.Properties = []string{"ReadCompletes"}
	var out bytes.Buffer
	ok, err := CheckLive(c, &out, Options{})
	if err != nil || !ok || !strings.Contains(out.String(), "116504 distinct states found") {
		t.Fatalf("liveness on MCReadRace (ok %v, err %v):\n%s", ok, err, out.String())
	}
}
