package spec

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/megastore-verified/megastore/spec/tla"
)

// Invariant is a state predicate. Name must be the TLA+ operator's name,
// because reports and replay configs quote it to TLC verbatim.
type Invariant[S any] struct {
	Name  string
	Holds func(S) bool
}

// Model is everything the explorer needs to know about a spec, kept
// generic so the explorer can be tested on toy specs and reused for every
// model config without knowing Megastore's state type.
type Model[S any] struct {
	Name string // the TLC config it mirrors, e.g. "MCSmall"; used in errors and progress

	// Init emits every initial state.
	Init func(emit func(S))
	// Next emits every successor of s with a TLC-style label such as
	// Accept("p1", "a"). An emitted state must not be mutated afterwards:
	// the explorer keeps it on its queue. Next must be deterministic (the
	// same successors for the same s), because traces are rebuilt by
	// calling it again.
	Next func(s S, emit func(action string, next S))

	Invariants []Invariant[S]

	// Key is the canonical encoding of a state: equal keys iff equal states.
	// It is the only thing the explorer remembers about a visited state.
	Key func(S) string
	// Vars gives the variables in declaration order, for printing traces;
	// it is only called for the states of a counterexample.
	Vars func(S) []VarValue

	// Actions, if set, names every action of Next (the part of a label
	// before "("), so coverage can report the ones never enabled.
	Actions []string
	// Antecedents, if set, say per invariant (by name) when it is not
	// vacuous: a state predicate that holds once the situation the
	// invariant is about has arisen (for ReadSeesAcked, a current read
	// returned while an acknowledged write had to be seen). The explorer
	// counts the states where each holds; an invariant whose antecedent
	// holds nowhere proved nothing in that config.
	Antecedents []Antecedent[S]
}

// Antecedent is the non-vacuity condition of one invariant.
type Antecedent[S any] struct {
	Invariant string // the invariant's name
	Means     string // what "reached" means, for reports
	Holds     func(S) bool
}

// ActionCoverage is TLC's coverage of one action: how many successors it
// produced (the states where it was enabled, once per witness of its
// existentials, duplicates included) and how many distinct states it was
// the first to reach.
type ActionCoverage struct {
	Action    string
	Generated int
	Distinct  int
}

// AntecedentCount is how many distinct reachable states satisfied one
// invariant's antecedent.
type AntecedentCount struct {
	Invariant string
	Means     string
	States    int
}

// VarValue is one variable of a state as TLC prints it.
type VarValue struct {
	Name  string
	Value tla.Value
}

// Options bound a run.
type Options struct {
	// MaxStates caps the number of distinct states (0 = unlimited).
	// Reaching the cap is an error, never a pass: a truncated search proves
	// nothing.
	MaxStates int
	// Progress, if set, receives TLC-style progress lines so long CI runs
	// show they are alive.
	Progress io.Writer
	// FullStates prints every variable of every state of a counterexample
	// (Check only; Explore ignores it). By default a step shows only the
	// variables it changed.
	FullStates bool
}

// Result holds the figures TLC prints at the end of a run, with the same
// meaning, so Go and TLC runs of one config can be compared number by number.
type Result struct {
	Generated int // initial states plus every successor emitted, duplicates included
	Distinct  int
	Depth     int // length of the longest shortest path, initial states at depth 1
	Left      int // states found but not (fully) expanded when the search stopped
	Elapsed   time.Duration
	Violation *Violation // nil if every invariant held in every reachable state

	// Coverage has one entry per action: Model.Actions in order, then any
	// other action seen, in order of first appearance.
	Coverage []ActionCoverage
	// Antecedents has one entry per Model.Antecedents, in order.
	Antecedents []AntecedentCount
}

// Violation is a shortest counterexample (the search is breadth-first).
type Violation struct {
	Invariant string
	Trace     []TraceStep
	// Mutation names the deliberately broken step the mirror ran with
	// (spec.Mutations' names, the same as impl/core's bug switches where
	// both exist), empty for the protocol as specified.
	Mutation string
}

// TraceStep is one state of a counterexample and the action that reached it.
type TraceStep struct {
	Action string // InitialPredicate for the first state
	Vars   []VarValue
}

// InitialPredicate is how TLC labels the first state of a trace.
const InitialPredicate = "Initial predicate"

// progressInterval is how often progress lines are written; TLC's default
// is a minute, which is too coarse for runs that take seconds.
const progressInterval = 5 * time.Second

// Explore checks every invariant on every state reachable from Init, in
// breadth-first order, and stops at the first violation.
//
// Memory is what bounds model checking, so a visited state costs only its
// key, a map slot and two int32s (parent, interned action label); full
// states exist only on the current and next BFS levels. A violation's states
// are rebuilt afterwards by replaying Next along the recorded parents.
//
// The returned error reports a misuse or an incomplete search (MaxStates);
// an invariant violation is not an error but Result.Violation.
func Explore[S any](m Model[S], opt Options) (Result, error) {
	if m.Init == nil || m.Next == nil || m.Key == nil {
		return Result{}, fmt.Errorf("explore %s: model needs Init, Next and Key", m.Name)
	}
	for _, inv := range m.Invariants {
		if inv.Holds == nil {
			return Result{}, fmt.Errorf("explore %s: invariant %q has no Holds", m.Name, inv.Name)
		}
	}

	start := time.Now()
	var (
		res      Result
		seen     = make(map[string]int32, min(max(opt.MaxStates, 1024), 1<<20))
		parent   []int32 // index of the state each state was first reached from; -1 for initial states
		action   []int32 // index into labels of the action that first reached each state
		labels   = []string{InitialPredicate}
		labelIdx = map[string]int32{InitialPredicate: 0}
		cur      []S // the level being expanded; cur[i] has index base+i
		next     []S // the level being discovered
		base     int32
		from     int32 = -1 // index of the state being expanded
		stopped  bool
		stopErr  error
		bad      int32 = -1 // index of the violating state
		badInv   string
	)

	// visit counts one generated state and, if it is new, records it,
	// checks the invariants and queues it. Emits after a stop are ignored:
	// Next cannot be interrupted midway.
	var (
		lastLabel = "\x00" // a one-entry cache: Next emits runs of one label
		lastIdx   int32
		genBy     []int // successors generated, per label
		antCount  = make([]int, len(m.Antecedents))
	)
	intern := func(label string) int32 {
		if label == lastLabel {
			return lastIdx
		}
		a, ok := labelIdx[label]
		if !ok {
			a = int32(len(labels))
			labels = append(labels, label)
			labelIdx[label] = a
		}
		for len(genBy) <= int(a) {
			genBy = append(genBy, 0)
		}
		lastLabel, lastIdx = label, a
		return a
	}
	visit := func(label string, s S) {
		if stopped {
			return
		}
		res.Generated++
		a := intern(label)
		genBy[a]++
		k := m.Key(s)
		if _, ok := seen[k]; ok {
			return
		}
		n := len(parent)
		if opt.MaxStates > 0 && n >= opt.MaxStates {
			stopped = true
			stopErr = fmt.Errorf("explore %s: more than %d distinct states (Options.MaxStates); the search is incomplete", m.Name, opt.MaxStates)
			return
		}
		if n == math.MaxInt32 {
			stopped = true
			stopErr = fmt.Errorf("explore %s: more than %d distinct states, the explorer's limit", m.Name, math.MaxInt32)
			return
		}
		seen[k] = int32(n)
		parent = append(parent, from)
		action = append(action, a)
		for i, ant := range m.Antecedents {
			if ant.Holds(s) {
				antCount[i]++
			}
		}
		for _, inv := range m.Invariants {
			if !inv.Holds(s) {
				stopped = true
				bad, badInv = int32(n), inv.Name
				return
			}
		}
		next = append(next, s)
	}

	m.Init(func(s S) { visit(InitialPredicate, s) })
	depth := 0
	if len(parent) > 0 {
		depth = 1
	}
	lastProgress := start
	if opt.Progress != nil {
		fmt.Fprintf(opt.Progress, "Finished computing initial states: %d distinct %s generated at %s.\n",
			len(parent), plural(len(parent), "state", "states"), start.Format(time.DateTime))
	}
	if stopped {
		res.Left = len(next) // stopped among the initial states: none expanded
	}

	for !stopped && len(next) > 0 {
		clear(cur) // let the garbage collector have the expanded level
		cur, next = next, cur[:0]
		for i := range cur {
			from = base + int32(i)
			m.Next(cur[i], visit)
			if stopped {
				// The state being expanded is unfinished if a cap stopped us.
				res.Left = len(cur) - i - 1 + len(next)
				if stopErr != nil {
					res.Left++
				}
				if bad >= 0 || len(next) > 0 {
					depth++ // the level being discovered
				}
				break
			}
			if opt.Progress != nil && i&4095 == 4095 && time.Since(lastProgress) >= progressInterval {
				lastProgress = time.Now()
				writeProgress(opt.Progress, depth, res.Generated, len(parent), len(cur)-i-1+len(next), start)
			}
		}
		base += int32(len(cur))
		if !stopped && len(next) > 0 {
			depth++
		}
	}

	res.Distinct = len(parent)
	res.Depth = depth
	res.Elapsed = time.Since(start)
	res.Coverage = coverage(m.Actions, labels, genBy, action)
	for i, ant := range m.Antecedents {
		res.Antecedents = append(res.Antecedents, AntecedentCount{Invariant: ant.Invariant, Means: ant.Means, States: antCount[i]})
	}
	if opt.Progress != nil {
		writeProgress(opt.Progress, depth, res.Generated, res.Distinct, res.Left, start)
	}
	if stopErr != nil {
		return res, stopErr
	}
	if bad >= 0 {
		trace, err := rebuildTrace(m, seen, parent, action, labels, bad)
		if err != nil {
			return res, err
		}
		res.Violation = &Violation{Invariant: badInv, Trace: trace}
	}
	return res, nil
}

// coverage folds per-label counts into per-action ones: an action is the
// label up to its first "(" (Accept("p1", "a") is Accept).
func coverage(actions, labels []string, genBy []int, action []int32) []ActionCoverage {
	idx := map[string]int{}
	var out []ActionCoverage
	get := func(name string) *ActionCoverage {
		i, ok := idx[name]
		if !ok {
			i = len(out)
			idx[name] = i
			out = append(out, ActionCoverage{Action: name})
		}
		return &out[i]
	}
	for _, a := range actions {
		get(a)
	}
	name := func(label string) string {
		if i := strings.IndexByte(label, '('); i >= 0 {
			return label[:i]
		}
		return label
	}
	distinctBy := make([]int, len(labels))
	for _, a := range action {
		distinctBy[a]++
	}
	for i, l := range labels {
		if i == 0 {
			continue // the initial predicate is not an action
		}
		c := get(name(l))
		if i < len(genBy) {
			c.Generated += genBy[i]
		}
		c.Distinct += distinctBy[i]
	}
	return out
}

// Vacuous lists the invariants whose antecedent no reachable state
// satisfied: they proved nothing in this run.
func (r Result) Vacuous() []string {
	var out []string
	for _, a := range r.Antecedents {
		if a.States == 0 {
			out = append(out, a.Invariant)
		}
	}
	return out
}

// WriteCoverage prints the per-action coverage and the invariants'
// antecedents, TLC's coverage report in the mirror's words.
func (r Result) WriteCoverage(w io.Writer) error {
	var b strings.Builder
	if len(r.Coverage) > 0 {
		b.WriteString("Coverage (per action: successors generated, i.e. times enabled; distinct states it found first):\n")
		for _, c := range r.Coverage {
			note := ""
			if c.Generated == 0 {
				note = "  never enabled"
			}
			fmt.Fprintf(&b, "  %-14s %12d %12d%s\n", c.Action, c.Generated, c.Distinct, note)
		}
	}
	if len(r.Antecedents) > 0 {
		b.WriteString("Non-vacuity (per invariant: distinct states where its antecedent holds):\n")
		for _, a := range r.Antecedents {
			note := ""
			if a.States == 0 {
				note = "  NEVER REACHED: the invariant is vacuous here"
			}
			fmt.Fprintf(&b, "  %-22s %12d  %s%s\n", a.Invariant, a.States, a.Means, note)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeProgress(w io.Writer, depth, generated, distinct, left int, start time.Time) {
	mins := max(time.Since(start).Minutes(), 1e-9)
	fmt.Fprintf(w, "Progress(%d) at %s: %d states generated (%.0f s/min), %d distinct states found (%.0f ds/min), %d states left on queue.\n",
		depth, time.Now().Format(time.DateTime), generated, float64(generated)/mins, distinct, float64(distinct)/mins, left)
}

// rebuildTrace recovers the states on the path to target by re-running Init
// and Next and keeping, at each step, the successor with the recorded label
// whose key maps to the recorded index. Storing only indices during the
// search is what makes it cheap; this replay costs one Next call per step.
func rebuildTrace[S any](m Model[S], seen map[string]int32, parent, action []int32, labels []string, target int32) ([]TraceStep, error) {
	var path []int32
	for i := target; i >= 0; i = parent[i] {
		path = append(path, i)
	}
	slices.Reverse(path)

	vars := func(s S) []VarValue {
		if m.Vars == nil {
			return nil
		}
		return m.Vars(s)
	}
	var (
		st    S
		found bool
		want  int32
		label string
	)
	match := func(l string, s S) {
		if found || l != label {
			return
		}
		if i, ok := seen[m.Key(s)]; ok && i == want {
			st, found = s, true
		}
	}
	trace := make([]TraceStep, 0, len(path))
	for step, idx := range path {
		want, label, found = idx, labels[action[idx]], false
		if step == 0 {
			m.Init(func(s S) { match(InitialPredicate, s) })
		} else {
			m.Next(st, match)
		}
		if !found {
			return nil, fmt.Errorf("explore %s: cannot rebuild the counterexample at state %d (%s): Init/Next or Key is not deterministic", m.Name, step+1, label)
		}
		trace = append(trace, TraceStep{Action: label, Vars: vars(st)})
	}
	return trace, nil
}

// Report writes the end-of-run summary in TLC's words, so CI logs read like
// TLC's and can be compared with a real TLC run of the same config.
func (r Result) Report(w io.Writer) error { return r.ReportStates(w, true) }

// ReportStates is Report with a choice of how a counterexample is printed:
// every variable of every state (fullStates, TLC's default) or only what
// each step changed (DiffText).
func (r Result) ReportStates(w io.Writer, fullStates bool) error {
	var b strings.Builder
	switch {
	case r.Violation != nil && fullStates:
		b.WriteString(r.Violation.Text())
	case r.Violation != nil:
		b.WriteString(r.Violation.DiffText())
	case r.Left == 0:
		b.WriteString("Model checking completed. No error has been found.\n")
	default:
		b.WriteString("Error: Model checking stopped before the state space was fully explored.\n")
	}
	fmt.Fprintf(&b, "%d states generated, %d distinct states found, %d states left on queue.\n", r.Generated, r.Distinct, r.Left)
	fmt.Fprintf(&b, "The depth of the complete state graph search is %d.\n", r.Depth)
	secs := max(r.Elapsed.Seconds(), 1e-9)
	elapsed := r.Elapsed.Round(time.Millisecond)
	if r.Elapsed < time.Second {
		elapsed = r.Elapsed.Round(time.Microsecond)
	}
	fmt.Fprintf(&b, "Finished in %s (%.0f distinct states/s, %.0f states generated/s).\n",
		elapsed, float64(r.Distinct)/secs, float64(r.Generated)/secs)
	_, err := io.WriteString(w, b.String())
	return err
}

// Text renders the counterexample exactly as TLC prints one: every
// variable of every state.
func (v *Violation) Text() string { return v.render(true) }

// DiffText renders the counterexample as TLC's -difftrace does: the first
// state whole, then per step only the variables that changed. Megastore's
// states are a dozen nested functions of which one step changes one or
// two, so this is the form an auditor can read.
func (v *Violation) DiffText() string { return v.render(false) }

func (v *Violation) render(full bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Error: Invariant %s is violated.\n", v.Invariant)
	if v.Mutation != "" {
		fmt.Fprintf(&b, "Mutation applied: %s (a deliberately broken step of the mirror; the replay module shows TLC refusing the step it invented).\n", v.Mutation)
	}
	b.WriteString("Error: The behavior up to this point is:\n")
	for i, st := range v.Trace {
		fmt.Fprintf(&b, "State %d: <%s>\n", i+1, st.Action)
		changed := 0
		for j, vv := range st.Vars {
			if !full && i > 0 && j < len(v.Trace[i-1].Vars) && v.Trace[i-1].Vars[j].Name == vv.Name &&
				v.Trace[i-1].Vars[j].Value.String() == vv.Value.String() {
				continue
			}
			changed++
			fmt.Fprintf(&b, "/\\ %s = %s\n", vv.Name, vv.Value)
		}
		if changed == 0 {
			b.WriteString("\\* no variable changed (a stuttering step)\n")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// WriteTrace saves Text to path, to be kept as a CI artifact.
func (v *Violation) WriteTrace(path string) error {
	return os.WriteFile(path, []byte(v.Text()), 0o644)
}

// ReplayConfig names the modules and operators of a replay. The replay
// module EXTENDS the model module, so it must see the spec's variables,
// Init, Next and the invariant under their TLA+ names.
type ReplayConfig struct {
	Module  string // the replay module (and its .tla/.cfg base name); default Extends+"Replay"
	Extends string // the model module, e.g. "MCSmall"; required
	Init    string // default "Init"
	Next    string // default "Next"
	// CfgLines are appended to the replay .cfg: whatever the model's own
	// .cfg needs besides INIT/NEXT, typically its CONSTANT assignments.
	CfgLines []string
}

// Replay renders the counterexample as a TLA+ module and TLC config that
// make TLC walk exactly this trace through the real spec: each step must be
// a Next step of the .tla and land on the recorded state, and the last state
// must violate the same invariant. An auditor thus checks the Go mirror's
// finding with TLC instead of trusting the mirror.
//
// The module is built so that TLC can never answer "No error has been
// found": the only clean outcome of the replay is the expected one.
//   - State 1 is pinned outright and ReplayStartsInInit checks it is an
//     Init state (so a bad first state is an invariant error, not an empty
//     state space).
//   - ReplayNext has exactly one successor per state, the next state of
//     the trace, if Next allows it; CHECK_DEADLOCK is TRUE, so a replay that
//     stops early (a step the spec does not take, e.g. one a mutation
//     invented) is reported as "Deadlock reached" at the last state TLC
//     could replay. Only the last state may stutter.
//   - ReplayEndsInViolation says the last state violates the invariant, and
//     the invariant itself is checked too; both cannot hold, so a trace that
//     replays whole ends in exactly one error: the invariant violated at
//     the last state (or, if the spec's invariant holds there and the
//     mirror's does not, ReplayEndsInViolation violated).
func (v *Violation) Replay(c ReplayConfig) (module, cfg string, err error) {
	if c.Extends == "" {
		return "", "", errors.New("replay: ReplayConfig.Extends (the model module) is required")
	}
	if c.Module == "" {
		c.Module = c.Extends + "Replay"
	}
	if c.Init == "" {
		c.Init = "Init"
	}
	if c.Next == "" {
		c.Next = "Next"
	}
	if len(v.Trace) == 0 || len(v.Trace[0].Vars) == 0 {
		return "", "", errors.New("replay: the trace has no states or no variables")
	}
	names := make([]string, len(v.Trace[0].Vars))
	for i, vv := range v.Trace[0].Vars {
		names[i] = vv.Name
	}
	record := func(vals func(i int) string) string {
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = n + " |-> " + vals(i)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}

	var b strings.Builder
	fmt.Fprintf(&b, "---- MODULE %s ----\n", c.Module)
	fmt.Fprintf(&b, "EXTENDS %s, Sequences, TLC\n", c.Extends)
	fmt.Fprintf(&b, "\\* Replays a counterexample to %s found by the Go explorer.\n", v.Invariant)
	if v.Mutation != "" {
		fmt.Fprintf(&b, "\\* The mirror ran with mutation %s: expect TLC to stop with \"Deadlock reached\" at the state before the step it invented.\n", v.Mutation)
	}
	fmt.Fprintf(&b, "\\* Expected: \"Invariant %s is violated\" at state %d. Any other outcome (\"Deadlock reached\": a step\n", v.Invariant, len(v.Trace))
	b.WriteString("\\* the spec does not take; ReplayStartsInInit or ReplayEndsInViolation violated) rejects the trace.\n")
	b.WriteString("VARIABLE replayStep\n")
	const head = "ReplayTrace == << "
	indent := strings.Repeat(" ", len(head))
	for i, st := range v.Trace {
		if len(st.Vars) != len(names) {
			return "", "", fmt.Errorf("replay: state %d has %d variables, state 1 has %d", i+1, len(st.Vars), len(names))
		}
		if i == 0 {
			b.WriteString(head)
		} else {
			b.WriteString(indent)
		}
		b.WriteString(record(func(j int) string { return st.Vars[j].Value.String() }))
		// The closing >> must precede the comment, which runs to end of line.
		if i == len(v.Trace)-1 {
			b.WriteString(" >>")
		} else {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "  \\* State %d: <%s>\n", i+1, oneLine(st.Action))
	}
	b.WriteString("ReplayInit == /\\ replayStep = 1\n")
	for _, n := range names {
		fmt.Fprintf(&b, "              /\\ %s = ReplayTrace[1].%s\n", n, n)
	}
	b.WriteString("ReplayNext == \\/ /\\ replayStep < Len(ReplayTrace)\n")
	fmt.Fprintf(&b, "                 /\\ %s\n", c.Next)
	fmt.Fprintf(&b, "                 /\\ %s = ReplayTrace[replayStep + 1]\n", record(func(j int) string { return names[j] + "'" }))
	b.WriteString("                 /\\ replayStep' = replayStep + 1\n")
	b.WriteString("              \\/ /\\ replayStep = Len(ReplayTrace)\n")
	fmt.Fprintf(&b, "                 /\\ UNCHANGED <<replayStep, %s>>\n", strings.Join(names, ", "))
	fmt.Fprintf(&b, "ReplayStartsInInit == replayStep = 1 => %s\n", c.Init)
	fmt.Fprintf(&b, "ReplayEndsInViolation == replayStep = Len(ReplayTrace) => ~%s\n", v.Invariant)
	b.WriteString("====\n")
	module = b.String()

	b.Reset()
	fmt.Fprintf(&b, "\\* TLC must report: Invariant %s is violated, at state %d. Anything else rejects the trace.\n", v.Invariant, len(v.Trace))
	b.WriteString("INIT ReplayInit\n")
	b.WriteString("NEXT ReplayNext\n")
	fmt.Fprintf(&b, "INVARIANTS ReplayStartsInInit %s ReplayEndsInViolation\n", v.Invariant)
	b.WriteString("CHECK_DEADLOCK TRUE\n")
	for _, l := range c.CfgLines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return module, b.String(), nil
}

// WriteReplay writes Replay's module and config as dir/<Module>.tla and
// dir/<Module>.cfg (TLC requires the file to be named after the module).
func (v *Violation) WriteReplay(dir string, c ReplayConfig) (tlaPath, cfgPath string, err error) {
	module, cfg, err := v.Replay(c)
	if err != nil {
		return "", "", err
	}
	name := c.Module
	if name == "" {
		name = c.Extends + "Replay"
	}
	tlaPath = filepath.Join(dir, name+".tla")
	cfgPath = filepath.Join(dir, name+".cfg")
	if err := os.WriteFile(tlaPath, []byte(module), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return "", "", err
	}
	return tlaPath, cfgPath, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// oneLine keeps an action label inside its end-of-line TLA+ comment.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
