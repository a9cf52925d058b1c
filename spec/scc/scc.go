// Package scc finds the strongly connected components of a directed graph
// (Tarjan), for the liveness check's state graphs and the list-append
// checker's dependency graphs.
package scc

import (
	"iter"
	"slices"
)

// Components returns the strongly connected components of the part of a
// graph reachable from roots, as All yields them.
func Components[N comparable](roots []N, out func(N) int, succ func(N, int) (N, bool)) [][]N {
	return slices.Collect(All(roots, out, succ))
}

// All yields the strongly connected components of the part of a graph
// reachable from roots, in the order Tarjan's algorithm completes them:
// a component comes after every component it has an edge into. The
// graph is given by out(v), v's number of edges, and succ(v, i), the node
// the i-th of them leads to, or false to leave that edge out (to walk a
// subgraph). A component lists its nodes as they leave Tarjan's stack:
// the node it was entered by last. A yielded slice is the caller's.
//
// It is iterative: a model's state graph has paths millions of states
// long, which a recursive walk would follow on the goroutine's stack.
func All[N comparable](roots []N, out func(N) int, succ func(N, int) (N, bool)) iter.Seq[[]N] {
	return func(yield func([]N) bool) {
		// NB: nodes are numbered in the order they are first reached;
		// index is the only lookup by node, the rest is by that number.
		index := map[N]int{}
		var (
			node    []N
			low     []int
			onStack []bool
			stack   []int
		)
		type frame struct {
			at   int // the node's number
			edge int // the next of its edges to follow
		}
		var call []frame
		enter := func(v N) {
			at := len(node)
			index[v] = at
			node = append(node, v)
			low = append(low, at)
			onStack = append(onStack, true)
			stack = append(stack, at)
			call = append(call, frame{at, 0})
		}
		for _, root := range roots {
			if _, done := index[root]; done {
				continue
			}
			enter(root)
			for len(call) > 0 {
				f := &call[len(call)-1]
				if v := node[f.at]; f.edge < out(v) {
					w, ok := succ(v, f.edge)
					f.edge++
					if !ok {
						continue
					}
					if iw, seen := index[w]; !seen {
						enter(w)
					} else if onStack[iw] && iw < low[f.at] {
						low[f.at] = iw
					}
					continue
				}
				at := f.at
				call = call[:len(call)-1]
				if len(call) > 0 {
					if u := call[len(call)-1].at; low[at] < low[u] {
						low[u] = low[at]
					}
				}
				if low[at] != at {
					continue
				}
				var comp []N
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, node[w])
					if w == at {
						break
					}
				}
				if !yield(comp) {
					return
				}
			}
		}
	}
}
