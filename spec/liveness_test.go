package spec

import (
	"bytes"
	"strings"
	"testing"
)

// toyLive is 0 -> 1, 1 <-> 2 (Toggle, Back), 1 -> 3 (Finish), and, if
// finishFrom2, 2 -> 3 (Finish) too; the property is 0 ~> 3.
func toyLive(finishFrom2 bool) (Model[int], []Property[int]) {
	m := Model[int]{
		Name: "Toy",
		Init: func(emit func(int)) { emit(0) },
		Next: func(s int, emit func(string, int)) {
			switch s {
			case 0:
				emit("Go", 1)
			case 1:
				emit("Toggle", 2)
				emit("Finish", 3)
				emit("Idle", 1) // a stuttering step counts for nothing
			case 2:
				emit("Back", 1)
				if finishFrom2 {
					emit("Finish", 3)
				}
			}
		},
		Key:  func(s int) string { return string(rune('0' + s)) },
		Vars: func(s int) []VarValue { return nil },
	}
	props := []Property[int]{{Name: "Ends", Instances: []LeadsTo[int]{{
		Name: "toy", P: func(s int) bool { return s == 0 }, Q: func(s int) bool { return s == 3 }}}}}
	return m, props
}

// The SCC check tells a fair cycle from an unfair one under weak
// fairness, and finds a behaviour that stutters for ever.
func TestLivenessSCC(t *testing.T) {
	allFair := func(string) bool { return true }
	// Finish is enabled at 1 only: the loop 1 <-> 2 disables it at 2, so
	// weak fairness allows going round for ever.
	m, props := toyLive(false)
	res, err := CheckLiveness(m, allFair, props, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation == nil || res.Violation.Stuttering || len(res.Violation.Loop) != 2 {
		t.Fatalf("want a violation with the loop 1 -> 2 -> 1, got %+v", res.Violation)
	}
	// Finish enabled everywhere on the loop: the loop is unfair, so the
	// property holds.
	m, props = toyLive(true)
	if res, err = CheckLiveness(m, allFair, props, Options{}); err != nil || res.Violation != nil {
		t.Fatalf("want the property to hold, got %v, %+v", err, res.Violation)
	}
	// Nothing fair: the behaviour may stop at 0.
	res, err = CheckLiveness(m, func(string) bool { return false }, props, Options{})
	if err != nil || res.Violation == nil || !res.Violation.Stuttering || len(res.Violation.Prefix) != 1 {
		t.Fatalf("want a stuttering violation at state 1, got %v, %+v", err, res.Violation)
	}
	var out bytes.Buffer
	if err := res.Report(&out); err != nil || !strings.Contains(out.String(), "Temporal properties were violated") ||
		!strings.Contains(out.String(), "Stuttering") {
		t.Fatalf("report:\n%s", out.String())
	}
}

// liveConfigsInCI are the configs whose temporal properties CI checks
// (seconds); MCRestart's check runs in `make spec` (explore -liveness).
var liveConfigsInCI = []func() *Config{TwoGroups, ConsecutiveWrites}

// The temporal properties hold on the configs that list them, and the
// mirror's state graph is TLC's.
func TestLiveness(t *testing.T) {
	for _, mk := range liveConfigsInCI {
		c := mk()
		var out bytes.Buffer
		ok, err := CheckLive(c, &out, Options{MaxStates: 1_000_000})
		if err != nil {
			t.Fatal(err)
		}
		if !ok || !strings.Contains(out.String(), "equal to TLC's") {
			t.Fatalf("%s:\n%s", c.Name, out.String())
		}
		t.Logf("%s", out.String())
	}
}

// livenessMutations break progress, not safety: no invariant can catch
// them; each fails one temporal property.
var livenessMutations = []struct {
	mutation Mutation
	config   func() *Config
	property string
}{
	{LearnDisabled, ConsecutiveWrites, "LearnsChosen"},
	{CommitStalls, ConsecutiveWrites, "WriteCompletes"},
	{CatchUpPastTarget, TwoGroups, "ReadCompletes"},
}

// Each temporal property fails on a broken protocol, with a fair
// counterexample.
func TestLivenessMutationsAreCaught(t *testing.T) {
	caught := map[string]bool{}
	for _, tc := range livenessMutations {
		t.Run(tc.mutation.String(), func(t *testing.T) {
			c := tc.config()
			c.Mutations = Mutations(tc.mutation)
			c.Properties = []string{tc.property}
			var out bytes.Buffer
			ok, err := CheckLive(c, &out, Options{MaxStates: 1_000_000})
			if err != nil {
				t.Fatal(err)
			}
			if ok || !strings.Contains(out.String(), "Temporal properties were violated: "+tc.property) {
				t.Fatalf("%s with %s: %s not reported violated:\n%s", c.Name, tc.mutation, tc.property, out.String())
			}
			caught[tc.property] = true
			t.Logf("%s", out.String())
		})
	}
	for _, p := range PropertyNames {
		if !caught[p] {
			t.Errorf("temporal property %s is never shown to fail", p)
		}
	}
}
