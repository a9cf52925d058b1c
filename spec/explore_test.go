package spec_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/megastore-verified/megastore/spec"
	"github.com/megastore-verified/megastore/spec/tla"
)

// The DieHard jugs puzzle, as in the standard DieHard.tla: every action is
// always enabled, so each state has exactly six successors (some of them
// itself), which makes TLC's "states generated" figure predictable.
type jugs struct{ big, small int }

var jugsActions = []struct {
	name string
	step func(j jugs) jugs
}{
	{"FillSmall", func(j jugs) jugs { return jugs{j.big, 3} }},
	{"FillBig", func(j jugs) jugs { return jugs{5, j.small} }},
	{"EmptySmall", func(j jugs) jugs { return jugs{j.big, 0} }},
	{"EmptyBig", func(j jugs) jugs { return jugs{0, j.small} }},
	{"SmallToBig", func(j jugs) jugs {
		if j.big+j.small <= 5 {
			return jugs{j.big + j.small, 0}
		}
		return jugs{5, j.small - (5 - j.big)}
	}},
	{"BigToSmall", func(j jugs) jugs {
		if j.big+j.small <= 3 {
			return jugs{0, j.big + j.small}
		}
		return jugs{j.big - (3 - j.small), 3}
	}},
}

func jugsModel(invs ...spec.Invariant[jugs]) spec.Model[jugs] {
	return spec.Model[jugs]{
		Name: "DieHard",
		Init: func(emit func(jugs)) { emit(jugs{0, 0}) },
		Next: func(j jugs, emit func(string, jugs)) {
			for _, a := range jugsActions {
				emit(a.name, a.step(j))
			}
		},
		Invariants: invs,
		Key:        func(j jugs) string { return string([]byte{byte(j.big), byte(j.small)}) },
		Vars: func(j jugs) []spec.VarValue {
			return []spec.VarValue{{Name: "big", Value: tla.Int(j.big)}, {Name: "small", Value: tla.Int(j.small)}}
		},
	}
}

var (
	typeOK = spec.Invariant[jugs]{Name: "TypeOK", Holds: func(j jugs) bool {
		return 0 <= j.big && j.big <= 5 && 0 <= j.small && j.small <= 3
	}}
	notSolved = spec.Invariant[jugs]{Name: "NotSolved", Holds: func(j jugs) bool { return j.big != 4 }}
)

// naiveJugsBFS recounts the state graph with nothing shared with Explore but
// the actions, as an independent check of its figures.
func naiveJugsBFS() (generated, distinct, depth int) {
	level := []jugs{{0, 0}}
	seen := map[jugs]bool{{0, 0}: true}
	generated = 1
	for len(level) > 0 {
		depth++
		var next []jugs
		for _, j := range level {
			for _, a := range jugsActions {
				generated++
				if n := a.step(j); !seen[n] {
					seen[n] = true
					next = append(next, n)
				}
			}
		}
		level = next
	}
	return generated, len(seen), depth
}

func TestExploreDieHardFigures(t *testing.T) {
	res, err := spec.Explore(jugsModel(typeOK), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation != nil {
		t.Fatalf("unexpected violation of %s", res.Violation.Invariant)
	}
	gen, dist, depth := naiveJugsBFS()
	// TLC on DieHard.tla: "97 states generated, 16 distinct states found,
	// 0 states left on queue. The depth of the complete state graph search
	// is 8." (16 states x 6 successors + 1 initial state = 97.)
	if gen != 97 || dist != 16 || depth != 8 {
		t.Fatalf("independent count disagrees with TLC: %d generated, %d distinct, depth %d", gen, dist, depth)
	}
	if res.Generated != 97 || res.Distinct != 16 || res.Depth != 8 || res.Left != 0 {
		t.Fatalf("got %d generated, %d distinct, depth %d, %d left; want 97, 16, 8, 0",
			res.Generated, res.Distinct, res.Depth, res.Left)
	}

	var out bytes.Buffer
	if err := res.Report(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Model checking completed. No error has been found.\n",
		"97 states generated, 16 distinct states found, 0 states left on queue.\n",
		"The depth of the complete state graph search is 8.\n",
		"distinct states/s", "states generated/s",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestExploreFindsShortestTrace(t *testing.T) {
	m := jugsModel(typeOK, notSolved)
	res, err := spec.Explore(m, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Violation
	if v == nil || v.Invariant != "NotSolved" {
		t.Fatalf("want a violation of NotSolved, got %+v", v)
	}
	// The known shortest solution takes six steps, e.g. FillBig, BigToSmall,
	// EmptySmall, BigToSmall, FillBig, BigToSmall.
	if len(v.Trace) != 7 {
		t.Fatalf("trace has %d states, want 7:\n%s", len(v.Trace), v.Text())
	}
	if res.Depth != 7 {
		t.Errorf("depth %d at the violation, want 7", res.Depth)
	}
	if v.Trace[0].Action != spec.InitialPredicate || parseJugs(t, v.Trace[0].Vars) != (jugs{0, 0}) {
		t.Fatalf("trace does not start in the initial state: %+v", v.Trace[0])
	}
	if last := parseJugs(t, v.Trace[6].Vars); last.big != 4 {
		t.Fatalf("last state %+v does not violate NotSolved", last)
	}
	// Every step must be a step of the model, with its label.
	for i := 1; i < len(v.Trace); i++ {
		prev, want := parseJugs(t, v.Trace[i-1].Vars), parseJugs(t, v.Trace[i].Vars)
		ok := false
		m.Next(prev, func(label string, n jugs) { ok = ok || (label == v.Trace[i].Action && n == want) })
		if !ok {
			t.Fatalf("state %d (%+v) is not a %s-successor of %+v", i+1, want, v.Trace[i].Action, prev)
		}
	}

	var out bytes.Buffer
	if err := res.Report(&out); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, want := range []string{
		"Error: Invariant NotSolved is violated.\nError: The behavior up to this point is:\n",
		"State 1: <Initial predicate>\n/\\ big = 0\n/\\ small = 0\n\nState 2: <",
		"State 7: <BigToSmall>\n/\\ big = 4\n/\\ small = 3\n\n",
		fmt.Sprintf("%d states generated, %d distinct states found, %d states left on queue.\n", res.Generated, res.Distinct, res.Left),
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "No error has been found") {
		t.Errorf("report of a violation claims success:\n%s", report)
	}

	path := filepath.Join(t.TempDir(), "trace.txt")
	if err := v.WriteTrace(path); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != v.Text() || !strings.Contains(report, string(b)) {
		t.Fatalf("trace file differs from the reported trace (err %v)", err)
	}
}

func TestExploreViolationInInitialState(t *testing.T) {
	inv := spec.Invariant[jugs]{Name: "BigNotEmpty", Holds: func(j jugs) bool { return j.big != 0 }}
	res, err := spec.Explore(jugsModel(inv), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation == nil || len(res.Violation.Trace) != 1 || res.Depth != 1 || res.Distinct != 1 || res.Generated != 1 {
		t.Fatalf("want a one-state trace at depth 1, got %+v", res)
	}
}

func TestExploreMaxStates(t *testing.T) {
	res, err := spec.Explore(jugsModel(typeOK), spec.Options{MaxStates: 5})
	if err == nil {
		t.Fatal("exceeding MaxStates must be an error")
	}
	if res.Distinct != 5 || res.Left == 0 || res.Violation != nil {
		t.Fatalf("got %+v", res)
	}
	var out bytes.Buffer
	res.Report(&out)
	if strings.Contains(out.String(), "No error has been found") {
		t.Fatalf("report of a truncated search claims success:\n%s", out.String())
	}
	// Exactly the number of reachable states is not exceeding it.
	if _, err := spec.Explore(jugsModel(typeOK), spec.Options{MaxStates: 16}); err != nil {
		t.Fatal(err)
	}
}

func TestExploreRejectsIncompleteModel(t *testing.T) {
	m := jugsModel()
	m.Key = nil
	if _, err := spec.Explore(m, spec.Options{}); err == nil {
		t.Fatal("a model without Key must be rejected")
	}
}

func TestExploreDetectsNondeterministicNext(t *testing.T) {
	m := jugsModel(notSolved)
	calls := 0
	next := m.Next
	m.Next = func(j jugs, emit func(string, jugs)) {
		calls++
		if calls > 16 { // replaying: pretend the spec changed its mind
			return
		}
		next(j, emit)
	}
	if _, err := spec.Explore(m, spec.Options{}); err == nil {
		t.Fatal("want an error when the trace cannot be rebuilt")
	}
}

func TestExploreProgress(t *testing.T) {
	var out bytes.Buffer
	if _, err := spec.Explore(jugsModel(typeOK), spec.Options{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "97 states generated") || !strings.Contains(out.String(), "16 distinct states found") {
		t.Fatalf("progress output:\n%s", out.String())
	}
}

func TestReplayModule(t *testing.T) {
	vars := jugsModel().Vars
	v := &spec.Violation{Invariant: "NotSolved", Trace: []spec.TraceStep{
		{Action: spec.InitialPredicate, Vars: vars(jugs{0, 0})},
		{Action: "FillBig", Vars: vars(jugs{5, 0})},
		{Action: "BigToSmall", Vars: vars(jugs{2, 3})},
	}}
	module, cfg, err := v.Replay(spec.ReplayConfig{Module: "DieHardReplay", Extends: "MCDieHard", Next: "Spec_Next",
		CfgLines: []string{"CONSTANT Capacity = 5"}})
	if err != nil {
		t.Fatal(err)
	}
	wantModule := `---- MODULE DieHardReplay ----
EXTENDS MCDieHard, Sequences, TLC
\* Replays a counterexample to NotSolved found by the Go explorer.
\* Expected: "Invariant NotSolved is violated" at state 3. Any other outcome ("Deadlock reached": a step
\* the spec does not take; ReplayStartsInInit or ReplayEndsInViolation violated) rejects the trace.
VARIABLE replayStep
ReplayTrace == << [big |-> 0, small |-> 0],  \* State 1: <Initial predicate>
                  [big |-> 5, small |-> 0],  \* State 2: <FillBig>
                  [big |-> 2, small |-> 3] >>  \* State 3: <BigToSmall>
ReplayInit == /\ replayStep = 1
              /\ big = ReplayTrace[1].big
              /\ small = ReplayTrace[1].small
ReplayNext == \/ /\ replayStep < Len(ReplayTrace)
                 /\ Spec_Next
                 /\ [big |-> big', small |-> small'] = ReplayTrace[replayStep + 1]
                 /\ replayStep' = replayStep + 1
              \/ /\ replayStep = Len(ReplayTrace)
                 /\ UNCHANGED <<replayStep, big, small>>
ReplayStartsInInit == replayStep = 1 => Init
ReplayEndsInViolation == replayStep = Len(ReplayTrace) => ~NotSolved
====
`
	wantCfg := `\* TLC must report: Invariant NotSolved is violated, at state 3. Anything else rejects the trace.
INIT ReplayInit
NEXT ReplayNext
INVARIANTS ReplayStartsInInit NotSolved ReplayEndsInViolation
CHECK_DEADLOCK TRUE
CONSTANT Capacity = 5
`
	if module != wantModule {
		t.Errorf("module:\n%s\nwant:\n%s", module, wantModule)
	}
	if cfg != wantCfg {
		t.Errorf("cfg:\n%s\nwant:\n%s", cfg, wantCfg)
	}

	dir := t.TempDir()
	tlaPath, cfgPath, err := v.WriteReplay(dir, spec.ReplayConfig{Extends: "MCDieHard"})
	if err != nil {
		t.Fatal(err)
	}
	if tlaPath != filepath.Join(dir, "MCDieHardReplay.tla") || cfgPath != filepath.Join(dir, "MCDieHardReplay.cfg") {
		t.Fatalf("paths %s %s", tlaPath, cfgPath)
	}
	b, err := os.ReadFile(tlaPath)
	if err != nil || !strings.HasPrefix(string(b), "---- MODULE MCDieHardReplay ----\n") || !strings.Contains(string(b), "/\\ Next\n") {
		t.Fatalf("written module (err %v):\n%s", err, b)
	}
	if _, _, err := v.Replay(spec.ReplayConfig{}); err == nil {
		t.Fatal("a replay without a model module must be rejected")
	}

	// A mutation is named in the module, so an auditor knows to expect
	// TLC to refuse the step the mutation invented.
	v.Mutation = "AcceptLowerBallot"
	module, _, err = v.Replay(spec.ReplayConfig{Extends: "MCDieHard"})
	if err != nil || !strings.Contains(module, "mutation AcceptLowerBallot") {
		t.Fatalf("mutation not named (err %v):\n%s", err, module)
	}
}

// The default rendering shows only what each step changed, names the
// mutation, and loses nothing: the full form is still there on request.
func TestDiffText(t *testing.T) {
	vars := jugsModel().Vars
	v := &spec.Violation{Invariant: "NotSolved", Mutation: "SkipInvalidation", Trace: []spec.TraceStep{
		{Action: spec.InitialPredicate, Vars: vars(jugs{0, 0})},
		{Action: "FillBig", Vars: vars(jugs{5, 0})},
		{Action: "Stutter", Vars: vars(jugs{5, 0})},
	}}
	want := `Error: Invariant NotSolved is violated.
Mutation applied: SkipInvalidation (a deliberately broken step of the mirror; the replay module shows TLC refusing the step it invented).
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\ big = 0
/\ small = 0

State 2: <FillBig>
/\ big = 5

State 3: <Stutter>
\* no variable changed (a stuttering step)

`
	if got := v.DiffText(); got != want {
		t.Errorf("DiffText:\n%s\nwant:\n%s", got, want)
	}
	if full := v.Text(); !strings.Contains(full, "State 2: <FillBig>\n/\\ big = 5\n/\\ small = 0\n") {
		t.Errorf("Text must print whole states:\n%s", full)
	}
	var b strings.Builder
	if err := (spec.Result{Violation: v}).ReportStates(&b, false); err != nil || !strings.Contains(b.String(), want) {
		t.Errorf("ReportStates(diff) (err %v):\n%s", err, b.String())
	}
}

func parseJugs(t *testing.T, vars []spec.VarValue) jugs {
	t.Helper()
	var j jugs
	for _, v := range vars {
		n, err := strconv.Atoi(v.Value.String())
		if err != nil {
			t.Fatal(err)
		}
		switch v.Name {
		case "big":
			j.big = n
		case "small":
			j.small = n
		default:
			t.Fatalf("unknown variable %s", v.Name)
		}
	}
	return j
}

// grid is a synthetic model with 100^3 = 1e6 states and 6 successors each,
// the size of a mid-sized config, to keep the explorer's speed in view.
type grid [3]uint8

func gridModel() spec.Model[grid] {
	return spec.Model[grid]{
		Name: "Grid",
		Init: func(emit func(grid)) { emit(grid{}) },
		Next: func(g grid, emit func(string, grid)) {
			for i := range g {
				if g[i] < 99 {
					n := g
					n[i]++
					emit("Inc", n)
				}
				if g[i] > 0 {
					n := g
					n[i]--
					emit("Dec", n)
				}
			}
		},
		Invariants: []spec.Invariant[grid]{{Name: "Bounded", Holds: func(g grid) bool { return g[0] < 100 }}},
		Key:        func(g grid) string { return string(g[:]) },
	}
}

func BenchmarkExploreMillionStates(b *testing.B) {
	for b.Loop() {
		res, err := spec.Explore(gridModel(), spec.Options{})
		if err != nil || res.Distinct != 1_000_000 || res.Depth != 298 {
			b.Fatalf("%+v %v", res, err)
		}
	}
}
