package spec

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Tracer replays a sequence of spec-level events, named as the actions of
// Megastore.tla, against the mirror: each event must be an enabled action
// from the current state, and its successor becomes the current state.
// This is trace validation: a simulator builds a Config whose constants
// describe one run (its sites, groups, proposals and reads) and feeds the
// implementation's events through Step.
type Tracer struct {
	c     *Config
	s     State
	steps int
}

// NewTracer starts a trace at the initial state of c.
func NewTracer(c *Config) (*Tracer, error) {
	if err := c.compile(); err != nil {
		return nil, err
	}
	return &Tracer{c: c, s: c.Init()}, nil
}

// Event is one step of a trace. Args are the action's arguments by name,
// in the order of the TLA+ action: proposer, reader, site and group names
// as strings, ballots as ints, a quorum as []string, Restart's keep as a
// map[string]int from group to the entries its applied log keeps (a group
// it does not name, or a Restart with no keep, keeps its whole log). Learn also names the
// value it applies (Value), which the action leaves open when several are
// learnable.
type Event struct {
	Action string
	Args   []any
	Value  string
}

func (e Event) String() string {
	s := e.Action + "("
	for i, a := range e.Args {
		if i > 0 {
			s += ", "
		}
		switch a := a.(type) {
		case string:
			s += strconv.Quote(a)
		case map[string]int:
			s += "["
			for j, g := range slices.Sorted(maps.Keys(a)) {
				if j > 0 {
					s += ", "
				}
				s += fmt.Sprintf("%s |-> %d", g, a[g])
			}
			s += "]"
		case []string:
			q := slices.Clone(a)
			slices.Sort(q)
			s += "{"
			for j, x := range q {
				if j > 0 {
					s += ", "
				}
				s += strconv.Quote(x)
			}
			s += "}"
		default:
			s += fmt.Sprint(a)
		}
	}
	return s + ")"
}

// State is the current mirrored state.
func (t *Tracer) State() State { return t.s }

// Steps is the number of events accepted so far.
func (t *Tracer) Steps() int { return t.steps }

// Violated returns the name of the first invariant the current state
// violates, or "".
func (t *Tracer) Violated() string {
	for _, inv := range t.c.Invariants() {
		if !inv.Holds(t.s) {
			return inv.Name
		}
	}
	return ""
}

// Step applies e if it is an enabled action of the mirror from the current
// state, and returns an error naming the event otherwise.
func (t *Tracer) Step(e Event) error {
	next, ok, err := t.apply(e)
	if err != nil {
		return fmt.Errorf("spec: trace step %d %s: %w", t.steps+1, e, err)
	}
	if !ok {
		return fmt.Errorf("spec: trace step %d %s: not an enabled action of the spec from the current state", t.steps+1, e)
	}
	t.s = next
	t.steps++
	return nil
}

// keep reads Restart's second argument for site f: per group, the entries
// of f's applied log it keeps.
func (c *Config) restartKeep(s State, e Event, f int) ([]int, error) {
	keep := make([]int, len(c.Groups))
	for g := range c.Groups {
		keep[g] = int(s.Applied[c.dataSlot(g, f)].Len)
	}
	if len(e.Args) < 2 {
		return keep, nil
	}
	m, ok := e.Args[1].(map[string]int)
	if !ok {
		return nil, fmt.Errorf("argument 2: want keep (map[string]int), got %T", e.Args[1])
	}
	for name, k := range m {
		g := slices.Index(c.Groups, name)
		if g < 0 {
			return nil, fmt.Errorf("unknown group %q in keep", name)
		}
		keep[g] = k
	}
	return keep, nil
}

func (t *Tracer) apply(e Event) (State, bool, error) {
	c, s := t.c, t.s
	idx := func(k int, names []string, what string) (int, error) {
		if k >= len(e.Args) {
			return 0, fmt.Errorf("missing %s argument", what)
		}
		name, ok := e.Args[k].(string)
		if !ok {
			return 0, fmt.Errorf("argument %d: want a %s name, got %T", k+1, what, e.Args[k])
		}
		i := slices.Index(names, name)
		if i < 0 {
			return 0, fmt.Errorf("unknown %s %q", what, name)
		}
		return i, nil
	}
	proposer := func(k int) (int, error) {
		names := make([]string, len(c.Proposers))
		for i, p := range c.Proposers {
			names[i] = p.Name
		}
		return idx(k, names, "proposer")
	}
	readerIdx := func(k int) (int, error) {
		names := make([]string, len(c.Readers))
		for i, r := range c.Readers {
			names[i] = r.Name
		}
		return idx(k, names, "reader")
	}
	site := func(k int) (int, error) { return idx(k, c.sites, "site") }
	full := func(k int) (int, error) {
		f, err := site(k)
		if err == nil && f >= c.numFull {
			err = fmt.Errorf("%q is not a full site", c.sites[f])
		}
		return f, err
	}
	quorum := func(k int) (uint32, error) {
		if k >= len(e.Args) {
			return 0, fmt.Errorf("missing quorum argument")
		}
		names, ok := e.Args[k].([]string)
		if !ok {
			return 0, fmt.Errorf("argument %d: want a quorum ([]string), got %T", k+1, e.Args[k])
		}
		var q uint32
		for _, n := range names {
			a := slices.Index(c.sites, n)
			if a < 0 {
				return 0, fmt.Errorf("unknown site %q in quorum", n)
			}
			q |= 1 << a
		}
		if !slices.Contains(c.quorums, q) {
			return 0, fmt.Errorf("%v is not a quorum of the voters", names)
		}
		return q, nil
	}
	one := func(f func(State, int) (State, bool), get func(int) (int, error)) (State, bool, error) {
		i, err := get(0)
		if err != nil {
			return s, false, err
		}
		n, ok := f(s, i)
		return n, ok, nil
	}
	two := func(f func(State, int, int) (State, bool), get0, get1 func(int) (int, error)) (State, bool, error) {
		i, err := get0(0)
		if err != nil {
			return s, false, err
		}
		j, err := get1(1)
		if err != nil {
			return s, false, err
		}
		n, ok := f(s, i, j)
		return n, ok, nil
	}
	// A vote for a pair the config did not declare is an encoding limit,
	// not a verdict of the spec: say so.
	undeclared := func(p int) error {
		pr := s.Prop[p]
		b := max(int(pr.Bal), 0)
		v := int(pr.Val)
		if e.Action == "AcceptLeader" {
			v = c.props[p].value
		}
		if c.voteBit(b, v) == 0 {
			return fmt.Errorf("vote <<%d, %s>> is not among the config's VotePairs", b, c.values[v])
		}
		return nil
	}
	// voting names the proposer of a step that adds a vote, refusing one
	// whose pair is undeclared (only when the step could otherwise run).
	voting := func(k int) (int, error) {
		p, err := proposer(k)
		if err != nil {
			return p, err
		}
		if ph := s.Prop[p].Phase; (e.Action == "AcceptLeader" && ph == PhaseReady) || (e.Action == "Accept" && ph >= PhaseAccept) {
			err = undeclared(p)
		}
		return p, err
	}
	switch e.Action {
	case "BeginWrite":
		return one(c.BeginWrite, proposer)
	case "BeginClose":
		p, err := proposer(0)
		if err != nil {
			return s, false, err
		}
		if len(e.Args) < 2 {
			return s, false, fmt.Errorf("missing position argument")
		}
		i, ok := e.Args[1].(int)
		if !ok {
			return s, false, fmt.Errorf("position %v is not an int", e.Args[1])
		}
		n, ok := c.BeginClose(s, p, i)
		return n, ok, nil
	case "AcceptLeader":
		return one(c.AcceptLeader, voting)
	case "Prepare":
		p, err := proposer(0)
		if err != nil {
			return s, false, err
		}
		if len(e.Args) < 2 {
			return s, false, fmt.Errorf("missing ballot argument")
		}
		b, ok := e.Args[1].(int)
		if !ok || !slices.Contains(c.props[p].ballots, b) {
			return s, false, fmt.Errorf("ballot %v is not in PBallots[%q]", e.Args[1], c.Proposers[p].Name)
		}
		n, ok := c.Prepare(s, p, b)
		return n, ok, nil
	case "Promise":
		return two(c.Promise, proposer, site)
	case "Propose":
		p, err := proposer(0)
		if err != nil {
			return s, false, err
		}
		q, err := quorum(1)
		if err != nil {
			return s, false, err
		}
		n, ok := c.Propose(s, p, q)
		return n, ok, nil
	case "Accept":
		return two(c.Accept, voting, site)
	case "Invalidate":
		return two(c.Invalidate, proposer, full)
	case "WaitOutLease":
		return two(c.WaitOutLease, proposer, full)
	case "Commit":
		return one(c.Commit, proposer)
	case "Learn":
		g, err := idx(0, c.Groups, "group")
		if err != nil {
			return s, false, err
		}
		d, err := site(1)
		if err != nil {
			return s, false, err
		}
		if c.dataIndex[d] < 0 {
			return s, false, fmt.Errorf("%q keeps no data", c.sites[d])
		}
		v, ok := c.valueIndex[e.Value]
		if !ok {
			return s, false, fmt.Errorf("Learn needs the value it applies; %q is not a value", e.Value)
		}
		var found State
		var hit bool
		c.Learn(s, g, d, func(n State) {
			l := n.Applied[c.dataSlot(g, d)]
			if int(l.Entries[l.Len-1]) == v {
				found, hit = n, true
			}
		})
		return found, hit, nil
	case "LoseLease":
		return one(c.LoseLease, full)
	case "RegainLease":
		return one(c.RegainLease, full)
	case "Restart":
		f, err := full(0)
		if err != nil {
			return s, false, err
		}
		keep, err := c.restartKeep(s, e, f)
		if err != nil {
			return s, false, err
		}
		n, ok := c.Restart(s, f, keep)
		return n, ok, nil
	case "ReadBegin":
		return one(c.ReadBegin, readerIdx)
	case "ReadLocal":
		return one(c.ReadLocal, readerIdx)
	case "ReadFindPos":
		r, err := readerIdx(0)
		if err != nil {
			return s, false, err
		}
		q, err := quorum(1)
		if err != nil {
			return s, false, err
		}
		n, ok := c.ReadFindPos(s, r, q)
		return n, ok, nil
	case "ReadCatchUp":
		return one(c.ReadCatchUp, readerIdx)
	case "Validate":
		return one(c.Validate, readerIdx)
	case "SnapshotRead":
		return one(c.SnapshotRead, readerIdx)
	}
	return s, false, fmt.Errorf("no action %q in Megastore.tla", e.Action)
}
