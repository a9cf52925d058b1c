package scc

import (
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"testing"
)

// graph is an adjacency list; walk gives it to All, with every edge in.
type graph [][]int

func (g graph) out(v int) int             { return len(g[v]) }
func (g graph) succ(v, i int) (int, bool) { return g[v][i], true }
func (g graph) nodes() []int              { return seq(len(g)) }
func (g graph) comps(roots []int) [][]int { return Components(roots, g.out, g.succ) }
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// The graph of Tarjan's paper's usual illustration: {0 1 2}, {3 4}, {5 6}
// and {7}, each yielded after the components it has an edge into, each
// ending with the node it was entered by.
func TestKnownGraph(t *testing.T) {
	g := graph{
		0: {1},
		1: {2},
		2: {0},
		3: {1, 2, 4},
		4: {3, 5},
		5: {2, 6},
		6: {5},
		7: {4, 6, 7},
	}
	want := [][]int{{2, 1, 0}, {6, 5}, {4, 3}, {7}}
	if got := g.comps(g.nodes()); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("components %v, want %v", got, want)
	}
	// From 7 first: the same components, entered elsewhere.
	want = [][]int{{0, 2, 1}, {6, 5}, {3, 4}, {7}}
	if got := g.comps([]int{7, 0}); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("from 7: components %v, want %v", got, want)
	}
	// Only what the roots reach: not 3, 4 or 7.
	want = [][]int{{1, 0, 2}, {5, 6}}
	if got := g.comps([]int{6}); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("from 6: components %v, want %v", got, want)
	}
}

// An edge succ leaves out is not in the graph: without 2 -> 0 the cycle
// 0 -> 1 -> 2 falls apart.
func TestLeftOutEdges(t *testing.T) {
	g := graph{0: {1}, 1: {2}, 2: {0}}
	succ := func(v, i int) (int, bool) { return g[v][i], v != 2 }
	want := [][]int{{2}, {1}, {0}}
	if got := Components(g.nodes(), g.out, succ); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("components %v, want %v", got, want)
	}
}

// Stopping the range stops the walk: the liveness check ends at the first
// fair component.
func TestStop(t *testing.T) {
	g := graph{0: {1}, 1: {2}, 2: {}}
	var seen [][]int
	for c := range All(g.nodes(), g.out, g.succ) {
		seen = append(seen, c)
		break
	}
	if len(seen) != 1 || !slices.Equal(seen[0], []int{2}) {
		t.Fatalf("yielded %v before the stop, want [[2]]", seen)
	}
}

// On random graphs the components are the classes of mutual reachability,
// and none is yielded before one it has an edge into.
func TestRandomGraphs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		n := 1 + r.IntN(12)
		g := make(graph, n)
		for v := range g {
			for range r.IntN(4) {
				g[v] = append(g[v], r.IntN(n))
			}
		}
		comps := g.comps(g.nodes())
		if err := check(g, comps); err != nil {
			t.Fatalf("round %d, graph %v: components %v: %v", round, g, comps, err)
		}
	}
}

// check compares comps with the transitive closure of g.
func check(g graph, comps [][]int) error {
	n := len(g)
	reach := make([][]bool, n)
	for v := range reach {
		reach[v] = make([]bool, n)
		reach[v][v] = true
		for _, w := range g[v] {
			reach[v][w] = true
		}
	}
	for k := range n {
		for i := range n {
			for j := range n {
				reach[i][j] = reach[i][j] || reach[i][k] && reach[k][j]
			}
		}
	}
	pos := make([]int, n) // the component of each node, by its place in comps
	for i := range pos {
		pos[i] = -1
	}
	for i, c := range comps {
		for _, v := range c {
			if pos[v] >= 0 {
				return fmt.Errorf("node %d in two components", v)
			}
			pos[v] = i
		}
	}
	for v := range n {
		if pos[v] < 0 {
			return fmt.Errorf("node %d in no component", v)
		}
		for w := range n {
			if mutual := reach[v][w] && reach[w][v]; mutual != (pos[v] == pos[w]) {
				return fmt.Errorf("nodes %d and %d: mutually reachable %v, same component %v", v, w, mutual, pos[v] == pos[w])
			}
		}
		for _, w := range g[v] {
			if pos[w] > pos[v] {
				return fmt.Errorf("edge %d -> %d leads to a component yielded later", v, w)
			}
		}
	}
	return nil
}

// A path a million nodes long, closed into one cycle, with the goroutine
// stack capped well below what a recursive walk of it would need.
func TestDeepGraphIsWalkedWithoutRecursion(t *testing.T) {
	const n = 1_000_000
	defer debug.SetMaxStack(debug.SetMaxStack(1 << 20))
	out := func(int) int { return 1 }
	succ := func(v, _ int) (int, bool) { return (v + 1) % n, true }
	comps := Components([]int{0}, out, succ)
	if len(comps) != 1 || len(comps[0]) != n || comps[0][n-1] != 0 {
		t.Fatalf("want one component of %d nodes ending at the root, got %d components", n, len(comps))
	}
}
