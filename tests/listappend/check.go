package listappend

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/megastore-verified/megastore/spec/scc"
)

// Status is what a transaction's client learned.
type Status uint8

const (
	OK Status = iota + 1
	Failed
	Unknown
)

// Op is one micro-operation: an append of Value to Key, or a read of Key
// that returned List.
type Op struct {
	Append bool
	Key    string
	Value  int64
	List   []int64
}

// Txn is one transaction of a history.
type Txn struct {
	ID     int
	Status Status
	Ops    []Op
}

// Anomaly is one finding.
type Anomaly struct {
	Kind   string // G1a, G1b, order, G0, G1c, G-single, G2, duplicate
	Detail string
}

// Report is what Check found.
type Report struct {
	Anomalies []Anomaly
	Txns      int
	Edges     int
}

// Valid reports whether no anomaly was found.
func (r Report) Valid() bool { return len(r.Anomalies) == 0 }

func (r Report) String() string {
	if r.Valid() {
		return fmt.Sprintf("valid: %d transactions, %d dependency edges, no anomaly", r.Txns, r.Edges)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d anomalies in %d transactions:", len(r.Anomalies), r.Txns)
	for _, a := range r.Anomalies {
		fmt.Fprintf(&b, "\n  %s: %s", a.Kind, a.Detail)
	}
	return b.String()
}

// Kinds returns the distinct anomaly kinds found, sorted.
func (r Report) Kinds() []string {
	var out []string
	for _, a := range r.Anomalies {
		if !slices.Contains(out, a.Kind) {
			out = append(out, a.Kind)
		}
	}
	sort.Strings(out)
	return out
}

type edgeKind uint8

const (
	ww edgeKind = 1 << iota
	wr
	rw
)

type writeRef struct {
	txn   int // index in history
	index int // which append of txn to this key (0-based)
	last  bool
}

// Check checks a history (see the package doc).
func Check(history []Txn) Report {
	rep := Report{Txns: len(history)}
	add := func(kind, format string, args ...any) {
		rep.Anomalies = append(rep.Anomalies, Anomaly{kind, fmt.Sprintf(format, args...)})
	}
	// Writers of each (key, value).
	writer := map[string]map[int64]writeRef{}
	for i, t := range history {
		count := map[string]int{}
		for _, op := range t.Ops {
			if op.Append {
				count[op.Key]++
			}
		}
		seen := map[string]int{}
		for _, op := range t.Ops {
			if !op.Append {
				continue
			}
			if writer[op.Key] == nil {
				writer[op.Key] = map[int64]writeRef{}
			}
			if w, dup := writer[op.Key][op.Value]; dup {
				add("duplicate", "value %d appended to %s by T%d and T%d", op.Value, op.Key, history[w.txn].ID, t.ID)
				continue
			}
			writer[op.Key][op.Value] = writeRef{txn: i, index: seen[op.Key], last: seen[op.Key] == count[op.Key]-1}
			seen[op.Key]++
		}
	}
	// Version order of each key: the longest read, which every other read
	// must be a prefix of.
	order := map[string][]int64{}
	for _, t := range history {
		if t.Status != OK {
			continue
		}
		for _, op := range t.Ops {
			if op.Append {
				continue
			}
			cur := order[op.Key]
			long, short := cur, op.List
			if len(short) > len(long) {
				long, short = short, long
			}
			if !slices.Equal(long[:len(short)], short) {
				add("order", "reads of %s disagree: %v and %v", op.Key, cur, op.List)
				continue
			}
			order[op.Key] = slices.Clone(long)
		}
	}
	// Reads: G1a, G1b, and wr / rw edges; ww edges from the orders.
	edges := map[[2]int]edgeKind{}
	link := func(from, to int, k edgeKind) {
		if from != to {
			edges[[2]int{from, to}] |= k
		}
	}
	for key, vs := range order {
		for i := 0; i+1 < len(vs); i++ {
			a, okA := writer[key][vs[i]]
			b, okB := writer[key][vs[i+1]]
			if okA && okB {
				link(a.txn, b.txn, ww)
			}
		}
	}
	for i, t := range history {
		if t.Status != OK {
			continue
		}
		for _, op := range t.Ops {
			if op.Append {
				continue
			}
			for _, v := range op.List {
				w, ok := writer[op.Key][v]
				if !ok {
					add("G1a", "T%d read %d in %s, which no transaction appended", t.ID, v, op.Key)
				} else if history[w.txn].Status == Failed {
					add("G1a", "T%d read %d in %s, appended by failed T%d", t.ID, v, op.Key, history[w.txn].ID)
				}
			}
			if n := len(op.List); n > 0 {
				w, ok := writer[op.Key][op.List[n-1]]
				if ok && w.txn != i && !w.last {
					add("G1b", "T%d read %s ending in %d, an intermediate append of T%d", t.ID, op.Key, op.List[n-1], history[w.txn].ID)
				}
				if ok {
					link(w.txn, i, wr)
				}
			}
			// NB: the next value after what t saw (none if t wrote it).
			vs := order[op.Key]
			if len(op.List) < len(vs) {
				if w, ok := writer[op.Key][vs[len(op.List)]]; ok {
					link(i, w.txn, rw)
				}
			}
		}
	}
	rep.Edges = len(edges)
	for _, comp := range components(len(history), edges) {
		if len(comp) < 2 {
			continue
		}
		kind, cycle := classify(comp, edges)
		ids := make([]string, len(cycle))
		for j, x := range cycle {
			ids[j] = fmt.Sprintf("T%d", history[x].ID)
		}
		add(kind, "cycle %s", strings.Join(ids, " -> "))
	}
	return rep
}

// components returns the strongly connected components, each sorted.
func components(n int, edges map[[2]int]edgeKind) [][]int {
	adj := make([][]int, n)
	for e := range edges {
		adj[e[0]] = append(adj[e[0]], e[1])
	}
	nodes := make([]int, n)
	for i := range adj {
		sort.Ints(adj[i])
		nodes[i] = i
	}
	out := func(v int) int { return len(adj[v]) }
	succ := func(v, i int) (int, bool) { return adj[v][i], true }
	comps := scc.Components(nodes, out, succ)
	for _, c := range comps {
		sort.Ints(c)
	}
	return comps
}

// path finds a path from a to b (a != b) inside set using edges of the
// allowed kinds (BFS), or nil.
func path(a, b int, set map[int]bool, edges map[[2]int]edgeKind, allowed edgeKind) []int {
	members := make([]int, 0, len(set))
	for v := range set {
		members = append(members, v)
	}
	sort.Ints(members)
	prev := map[int]int{a: -1}
	queue := []int{a}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		if v == b {
			var out []int
			for ; v != -1; v = prev[v] {
				out = append(out, v)
			}
			slices.Reverse(out)
			return out
		}
		for _, w := range members {
			if _, seen := prev[w]; !seen && edges[[2]int{v, w}]&allowed != 0 {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return nil
}

// classify names the strongest anomaly a component holds (G0 before G1c
// before G-single before G2) and a cycle showing it.
func classify(comp []int, edges map[[2]int]edgeKind) (string, []int) {
	set := map[int]bool{}
	for _, v := range comp {
		set[v] = true
	}
	cycleWith := func(allowed edgeKind) []int {
		for e, k := range edges {
			if k&allowed == 0 || !set[e[0]] || !set[e[1]] {
				continue
			}
			if p := path(e[1], e[0], set, edges, allowed); p != nil {
				return append(p, e[1])
			}
		}
		return nil
	}
	if c := cycleWith(ww); c != nil {
		return "G0", c
	}
	if c := cycleWith(ww | wr); c != nil {
		return "G1c", c
	}
	// One rw edge closed by a ww/wr path.
	for e, k := range edges {
		if k&rw == 0 || !set[e[0]] || !set[e[1]] {
			continue
		}
		if p := path(e[1], e[0], set, edges, ww|wr); p != nil {
			return "G-single", append(p, e[1])
		}
	}
	return "G2", append(slices.Clone(comp), comp[0])
}
