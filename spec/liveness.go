package spec

import (
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/megastore-verified/megastore/spec/scc"
)

// Liveness: the mirror's check of LiveSpec's temporal properties, P ~> Q
// under weak fairness, on the whole reachable state graph.
//
// A behaviour violates P ~> Q iff it reaches a state where P and not Q
// hold and then never again satisfies Q. On a finite graph, such a
// behaviour that is also fair exists iff, in the subgraph of not-Q states
// reachable from a P-and-not-Q state through not-Q states, either
//   - some state enables no fair action: the behaviour may stutter there
//     forever (a fair action enabled for ever would have to be taken), or
//   - some strongly connected component C (Tarjan) with at least one edge
//     is fair: every fair action enabled in every state of C is also taken
//     on some edge inside C. Under weak fairness only, checking the maximal
//     components suffices: a cycle inside C that is fair is fair in C too,
//     and a C failing the test fails it on every cycle inside it.
// Enabled means enabled with a change of state (ENABLED <<A>>_vars): a
// successor equal to the state is a stuttering step and counts for nothing.

// LeadsTo is one instance P ~> Q of a temporal property (one proposer, one
// reader, one site and position ...).
type LeadsTo[S any] struct {
	Name string // e.g. WriteCompletes!p1
	P, Q func(S) bool
}

// Property is a temporal property of the spec: the conjunction of its
// instances, as TLC expands \A x \in S : P(x) ~> Q(x).
type Property[S any] struct {
	Name      string
	Instances []LeadsTo[S]
}

// LivenessResult is what CheckLiveness found.
type LivenessResult struct {
	Generated, Distinct, Depth int
	FairClasses                int // fair action instances (one WF each) seen enabled somewhere
	Elapsed                    time.Duration
	// Checked names each property with its instance count, in order.
	Checked []string
	// Violation is the first counterexample, nil if every property holds.
	Violation *LivenessViolation
}

// LivenessViolation is a fair behaviour that violates one property
// instance: Prefix leads from an initial state to the loop; Loop (empty
// for stuttering) returns to Prefix's last state.
type LivenessViolation struct {
	Property, Instance string
	Prefix             []TraceStep
	Loop               []TraceStep
	Stuttering         bool
}

type liveEdge struct {
	to    int32
	label int32 // the action instance's label
	class int32 // its fair action instance, -1: not fair
}

// CheckLiveness explores every reachable state (keeping them all, so it is
// for configs of up to a few hundred thousand states) and checks each
// property. Fair names the labels (TLC-style action instances) that are
// weakly fair; each label is one WF conjunct.
func CheckLiveness[S any](m Model[S], fair func(label string) bool, props []Property[S], opt Options) (LivenessResult, error) {
	start := time.Now()
	var res LivenessResult
	seen := map[string]int32{}
	var (
		states  []S
		parent  []int32
		action  []int32
		labels  = []string{InitialPredicate}
		labelIx = map[string]int32{InitialPredicate: 0}
		classOf = []int32{-1}
		nClass  int32
		succ    [][]liveEdge
		level   []int32
		from    int32 = -1
		err     error
	)
	intern := func(l string) int32 {
		if i, ok := labelIx[l]; ok {
			return i
		}
		i := int32(len(labels))
		labels = append(labels, l)
		labelIx[l] = i
		cl := int32(-1)
		if fair(l) {
			cl = nClass
			nClass++
		}
		classOf = append(classOf, cl)
		return i
	}
	visit := func(label string, s S) {
		if err != nil {
			return
		}
		res.Generated++
		a := intern(label)
		k := m.Key(s)
		idx, ok := seen[k]
		if !ok {
			if opt.MaxStates > 0 && len(states) >= opt.MaxStates {
				err = fmt.Errorf("liveness %s: more than %d distinct states (Options.MaxStates); the check is incomplete", m.Name, opt.MaxStates)
				return
			}
			idx = int32(len(states))
			seen[k] = idx
			states = append(states, s)
			parent = append(parent, from)
			action = append(action, a)
			succ = append(succ, nil)
			level = append(level, idx)
		}
		if from >= 0 && idx != from {
			succ[from] = append(succ[from], liveEdge{to: idx, label: a, class: classOf[a]})
		}
	}
	m.Init(func(s S) { visit(InitialPredicate, s) })
	if len(states) > 0 {
		res.Depth = 1
	}
	for lo := 0; lo < len(states) && err == nil; {
		hi := len(states)
		for i := lo; i < hi && err == nil; i++ {
			from = int32(i)
			m.Next(states[i], visit)
		}
		if len(states) > hi {
			res.Depth++
		}
		lo = hi
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "Liveness %s: depth %d, %d distinct states, %d edges so far\n", m.Name, res.Depth, len(states), res.Generated)
		}
	}
	if err != nil {
		return res, err
	}
	res.Distinct = len(states)
	res.FairClasses = int(nClass)

	words := (int(nClass) + 63) / 64
	enabled := make([]uint64, len(states)*words)
	for s, es := range succ {
		for _, e := range es {
			if e.class >= 0 {
				enabled[s*words+int(e.class/64)] |= 1 << (e.class % 64)
			}
		}
	}
	en := func(s int32) []uint64 { return enabled[int(s)*words : int(s+1)*words] }
	none := func(b []uint64) bool {
		for _, w := range b {
			if w != 0 {
				return false
			}
		}
		return true
	}

	g := &liveGraph{succ: succ, words: words, enabled: en}
	for _, pr := range props {
		res.Checked = append(res.Checked, fmt.Sprintf("%s (%d %s)", pr.Name, len(pr.Instances), plural(len(pr.Instances), "instance", "instances")))
		for _, inst := range pr.Instances {
			in := make([]bool, len(states)) // not Q
			var starts []int32
			for i, s := range states {
				if !inst.Q(s) {
					in[i] = true
					if inst.P(s) {
						starts = append(starts, int32(i))
					}
				}
			}
			if len(starts) == 0 {
				continue
			}
			reach, via := g.reach(starts, in)
			// A state where the behaviour may stutter for ever.
			for _, s := range reach {
				if none(en(s)) {
					res.Violation = counterexample(m, g, states, parent, action, labels, via, s, nil)
					res.Violation.Property, res.Violation.Instance = pr.Name, inst.Name
					res.Elapsed = time.Since(start)
					return res, nil
				}
			}
			inR := make([]bool, len(states))
			for _, s := range reach {
				inR[s] = true
			}
			for comp := range g.sccs(reach, inR) {
				if loop, ok := g.fairLoop(comp); ok {
					res.Violation = counterexample(m, g, states, parent, action, labels, via, comp[0], loop)
					res.Violation.Property, res.Violation.Instance = pr.Name, inst.Name
					res.Elapsed = time.Since(start)
					return res, nil
				}
			}
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

type liveGraph struct {
	succ    [][]liveEdge
	words   int
	enabled func(int32) []uint64
}

// reach returns the states reachable from starts through states with in
// set, and for each the state it was first reached from (-1 for a start).
func (g *liveGraph) reach(starts []int32, in []bool) ([]int32, map[int32]int32) {
	via := map[int32]int32{}
	var out []int32
	for _, s := range starts {
		via[s] = -1
		out = append(out, s)
	}
	for i := 0; i < len(out); i++ {
		for _, e := range g.succ[out[i]] {
			if in[e.to] {
				if _, ok := via[e.to]; !ok {
					via[e.to] = out[i]
					out = append(out, e.to)
				}
			}
		}
	}
	return out, via
}

// sccs yields the strongly connected components of the subgraph induced
// by in, reachable from nodes, that have at least one edge inside them.
func (g *liveGraph) sccs(nodes []int32, in []bool) iter.Seq[[]int32] {
	out := func(v int32) int { return len(g.succ[v]) }
	succ := func(v int32, i int) (int32, bool) {
		w := g.succ[v][i].to
		return w, in[w]
	}
	return func(yield func([]int32) bool) {
		for comp := range scc.All(nodes, out, succ) {
			if len(comp) > 1 && !yield(comp) { // no self-loops: a single state has no edge inside
				return
			}
		}
	}
}

// fairLoop decides whether a component admits a fair cycle and, if so,
// returns one through comp[0] as the edges it takes: for every fair action
// enabled in all of comp, an edge of it; for every other fair action
// enabled somewhere in comp, a state where it is disabled.
func (g *liveGraph) fairLoop(comp []int32) ([]liveEdge, bool) {
	inC := map[int32]bool{}
	for _, s := range comp {
		inC[s] = true
	}
	all := make([]uint64, g.words)
	copy(all, g.enabled(comp[0]))
	taken := make([]uint64, g.words)
	edgeOf := map[int32][2]int32{} // class -> (from, to) inside comp
	for _, s := range comp {
		for w, b := range g.enabled(s) {
			all[w] &= b
		}
		for _, e := range g.succ[s] {
			if e.class >= 0 && inC[e.to] {
				taken[e.class/64] |= 1 << (e.class % 64)
				if _, ok := edgeOf[e.class]; !ok {
					edgeOf[e.class] = [2]int32{s, e.to}
				}
			}
		}
	}
	for w := range all {
		if all[w]&^taken[w] != 0 {
			return nil, false
		}
	}
	// Waypoints: the edges of always-enabled actions, then a state where
	// each other enabled action is disabled.
	type hop struct {
		from, to int32
		edge     bool
	}
	var hops []hop
	for cl := int32(0); cl < int32(g.words*64); cl++ {
		if all[cl/64]&(1<<(cl%64)) != 0 {
			e := edgeOf[cl]
			hops = append(hops, hop{e[0], e[1], true})
		}
	}
	somewhere := make([]uint64, g.words)
	for _, s := range comp {
		for w, b := range g.enabled(s) {
			somewhere[w] |= b
		}
	}
	for cl := int32(0); cl < int32(g.words*64); cl++ {
		if somewhere[cl/64]&(1<<(cl%64)) == 0 || all[cl/64]&(1<<(cl%64)) != 0 {
			continue
		}
		for _, s := range comp {
			if g.enabled(s)[cl/64]&(1<<(cl%64)) == 0 {
				hops = append(hops, hop{s, s, false})
				break
			}
		}
	}
	var loop []liveEdge
	at := comp[0]
	walk := func(to int32) {
		loop = append(loop, g.path(at, to, inC)...)
		at = to
	}
	for _, h := range hops {
		walk(h.from)
		if h.edge {
			loop = append(loop, g.edge(h.from, h.to))
			at = h.to
		}
	}
	walk(comp[0])
	if len(loop) == 0 { // every waypoint was comp[0]: go round once
		loop = append(loop, g.path(comp[0], g.anyIn(comp[0], inC), inC)...)
		walk(comp[0])
	}
	return loop, true
}

func (g *liveGraph) anyIn(s int32, inC map[int32]bool) int32 {
	for _, e := range g.succ[s] {
		if inC[e.to] {
			return e.to
		}
	}
	return s
}

// path is a shortest path from a to b inside inC, as the edges taken.
func (g *liveGraph) path(a, b int32, inC map[int32]bool) []liveEdge {
	if a == b {
		return nil
	}
	prev := map[int32]int32{a: -1}
	for q := []int32{a}; len(q) > 0; q = q[1:] {
		v := q[0]
		for _, e := range g.succ[v] {
			if _, ok := prev[e.to]; !ok && inC[e.to] {
				prev[e.to] = v
				q = append(q, e.to)
			}
		}
		if _, ok := prev[b]; ok {
			break
		}
	}
	var out []liveEdge
	for v := b; v != a; v = prev[v] {
		out = append(out, g.edge(prev[v], v))
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// edge is an edge from u to v (the first one found; several actions may
// lead from u to v).
func (g *liveGraph) edge(u, v int32) liveEdge {
	for _, e := range g.succ[u] {
		if e.to == v {
			return e
		}
	}
	panic(fmt.Sprintf("liveness: no edge %d -> %d", u, v))
}

// counterexample rebuilds the prefix (an initial state to the first state
// where P held and Q did not, then through states where Q does not hold to
// at) and the loop back to at.
func counterexample[S any](m Model[S], g *liveGraph, states []S, parent, action []int32, labels []string, via map[int32]int32, at int32, loop []liveEdge) *LivenessViolation {
	vars := func(s S) []VarValue {
		if m.Vars == nil {
			return nil
		}
		return m.Vars(s)
	}
	var tail []int32 // at back to the start state (via), reversed below
	for v := at; v >= 0; v = via[v] {
		tail = append(tail, v)
	}
	start := tail[len(tail)-1]
	var head []int32
	for v := start; v >= 0; v = parent[v] {
		head = append(head, v)
	}
	v := &LivenessViolation{Stuttering: loop == nil}
	for i := len(head) - 1; i >= 0; i-- {
		s := head[i]
		v.Prefix = append(v.Prefix, TraceStep{Action: labels[action[s]], Vars: vars(states[s])})
	}
	for i := len(tail) - 2; i >= 0; i-- {
		e := g.edge(tail[i+1], tail[i])
		v.Prefix = append(v.Prefix, TraceStep{Action: labels[e.label], Vars: vars(states[e.to])})
	}
	for _, e := range loop {
		v.Loop = append(v.Loop, TraceStep{Action: labels[e.label], Vars: vars(states[e.to])})
	}
	return v
}

// LivenessReport prints the result in TLC's words.
func (r LivenessResult) Report(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Checking temporal properties for the complete state space with %d total distinct states (%d fair action instances, each weakly fair)\n", r.Distinct, r.FairClasses)
	for _, c := range r.Checked {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	if r.Violation == nil {
		b.WriteString("Model checking completed. No error has been found.\n")
	} else {
		v := r.Violation
		fmt.Fprintf(&b, "Error: Temporal properties were violated: %s (instance %s).\n", v.Property, v.Instance)
		b.WriteString("Error: The following behavior constitutes a counter-example:\n")
		for i, st := range v.Prefix {
			fmt.Fprintf(&b, "State %d: <%s>\n", i+1, st.Action)
			for _, vv := range st.Vars {
				fmt.Fprintf(&b, "/\\ %s = %s\n", vv.Name, vv.Value)
			}
			b.WriteByte('\n')
		}
		n := len(v.Prefix)
		if v.Stuttering {
			fmt.Fprintf(&b, "State %d: Stuttering\n", n+1)
		} else {
			for i, st := range v.Loop {
				if i == len(v.Loop)-1 {
					fmt.Fprintf(&b, "Back to state %d: <%s>\n", n, st.Action)
					break
				}
				fmt.Fprintf(&b, "State %d: <%s>\n", n+i+1, st.Action)
				for _, vv := range st.Vars {
					fmt.Fprintf(&b, "/\\ %s = %s\n", vv.Name, vv.Value)
				}
				b.WriteByte('\n')
			}
		}
	}
	fmt.Fprintf(&b, "%d states generated, %d distinct states found, 0 states left on queue.\n", r.Generated, r.Distinct)
	fmt.Fprintf(&b, "The depth of the complete state graph search is %d.\n", r.Depth)
	fmt.Fprintf(&b, "Finished in %s.\n", r.Elapsed.Round(time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}
