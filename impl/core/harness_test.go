package core

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// testNet is a deterministic in-test network of replicas: messages are delivered
// in FIFO order unless a drop rule says otherwise.
type testNet struct {
	t        *testing.T
	sites    []Site
	reps     map[SiteID]*Replica
	order    []SiteID
	queue    []Message
	down     map[SiteID]bool
	cut      map[[2]SiteID]bool // directed links that drop everything
	results  map[SiteID][]Result
	trace    []TraceEvent
	durable  map[SiteID]*State
	unsynced map[SiteID][]AcceptorRecord
	stepErrs []error
	// evict: every replica forgets every idle group after each Ready and
	// restarts from a partial State; hold loads groups back from the
	// durable state, as a driver over GroupStorage does.
	evict   bool
	evicted int
}

// hold loads group g at site s from what its storage holds, if the
// replica does not hold it (see Replica.NeedsLoad).
func (n *testNet) hold(s SiteID, g GroupID) {
	r := n.reps[s]
	if g == "" || !r.NeedsLoad(g) {
		return
	}
	st := n.durable[s]
	var gs GroupState
	// NB: unsynced records are in the storage too until a crash; later
	// records of a slot overwrite earlier ones, as in Restore.
	for _, recs := range [][]AcceptorRecord{st.Acceptor, n.unsynced[s]} {
		for _, a := range recs {
			if a.Group == g {
				gs.Acceptor = append(gs.Acceptor, a)
			}
		}
	}
	for _, e := range st.Chosen {
		if e.Group == g {
			gs.Chosen = append(gs.Chosen, e)
		}
	}
	gs.Applied = st.Applied[g]
	if err := r.LoadGroup(g, gs); err != nil {
		n.t.Fatal(err)
	}
}

func newNet(t *testing.T, mutate func(*Config), sites ...Site) *testNet {
	t.Helper()
	n := &testNet{t: t, sites: sites, reps: map[SiteID]*Replica{}, down: map[SiteID]bool{},
		cut: map[[2]SiteID]bool{}, results: map[SiteID][]Result{}, durable: map[SiteID]*State{},
		unsynced: map[SiteID][]AcceptorRecord{}}
	for i, s := range sites {
		cfg := DefaultConfig(s.ID, sites)
		cfg.Rand = rand.New(rand.NewPCG(uint64(i), 1))
		if mutate != nil {
			mutate(&cfg)
		}
		r, err := NewReplica(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.reps[s.ID] = r
		n.order = append(n.order, s.ID)
		n.durable[s.ID] = &State{Applied: map[GroupID]Position{}}
	}
	return n
}

func threeFull() []Site {
	return []Site{{"A", Full}, {"B", Full}, {"C", Full}}
}

// flush handles every replica's Ready once.
func (n *testNet) flush() bool {
	any := false
	for _, id := range n.order {
		r := n.reps[id]
		if !r.HasReady() {
			continue
		}
		any = true
		rd := r.Ready()
		st := n.durable[id]
		if rd.HardState != nil {
			st.HardState = *rd.HardState
		}
		// Unsynced acceptor state is lost in a crash (restart), unless a
		// later synced write makes it durable.
		n.unsynced[id] = append(n.unsynced[id], rd.Acceptor...)
		if rd.MustSync {
			st.Acceptor = append(st.Acceptor, n.unsynced[id]...)
			n.unsynced[id] = nil
		}
		st.Chosen = append(st.Chosen, rd.Chosen...)
		for _, e := range rd.Apply {
			st.Applied[e.Group] = e.Position
		}
		n.queue = append(n.queue, rd.Messages...)
		n.results[id] = append(n.results[id], rd.Results...)
		n.trace = append(n.trace, rd.Trace...)
		r.Advance(rd)
		if n.evict {
			n.evicted += r.EvictIdle(0)
		}
	}
	return any
}

// deliver delivers every queued message once (new ones are queued behind).
func (n *testNet) deliver() bool {
	q := n.queue
	n.queue = nil
	for _, m := range q {
		if n.down[m.To] || n.down[m.From] || n.cut[[2]SiteID{m.From, m.To}] {
			continue
		}
		n.hold(m.To, m.Group)
		if err := n.reps[m.To].Step(m); err != nil {
			n.stepErrs = append(n.stepErrs, err)
		}
	}
	return len(q) > 0
}

// stabilize runs until no message or Ready is left.
func (n *testNet) stabilize() {
	for i := 0; i < 10000; i++ {
		f := n.flush()
		d := n.deliver()
		if !f && !d {
			return
		}
	}
	n.t.Fatal("network did not stabilize")
}

func (n *testNet) tick(k int) {
	for i := 0; i < k; i++ {
		// NB: a partitioned (down) site keeps ticking; a crash is restart.
		for _, id := range n.order {
			n.reps[id].Tick()
		}
		n.stabilize()
	}
}

// result returns the result of request id at site, if any.
func (n *testNet) result(site SiteID, id RequestID) (Result, bool) {
	for _, r := range n.results[site] {
		if r.ID == id {
			return r, true
		}
	}
	return Result{}, false
}

// waitResult ticks until the result arrives.
func (n *testNet) waitResult(site SiteID, id RequestID) Result {
	n.t.Helper()
	for i := 0; i < 2000; i++ {
		n.stabilize()
		if res, ok := n.result(site, id); ok {
			return res
		}
		n.tick(1)
	}
	n.t.Fatalf("no result for request %d at %s", id, site)
	return Result{}
}

func (n *testNet) write(site SiteID, g GroupID, readPos Position, key string) RequestID {
	n.t.Helper()
	n.hold(site, g)
	id, err := n.reps[site].ProposeWrite(WriteRequest{Group: g, ReadPosition: readPos,
		Mutations: []Mutation{{Key: []byte(key), Value: []byte(fmt.Sprint(site, key))}}})
	if err != nil {
		n.t.Fatal(err)
	}
	return id
}

func (n *testNet) read(site SiteID, g GroupID, mode ReadMode) RequestID {
	n.t.Helper()
	n.hold(site, g)
	id, err := n.reps[site].Read(ReadRequest{Group: g, Mode: mode, Keys: [][]byte{[]byte("k")}})
	if err != nil {
		n.t.Fatal(err)
	}
	return id
}

// warm ticks until every full coordinator holds its lease.
func (n *testNet) warm() {
	n.tick(2)
	for _, s := range n.sites {
		if s.Kind == Full && !n.down[s.ID] && !n.reps[s.ID].Status().LeaseHeld {
			n.t.Fatalf("%s holds no lease after warm-up", s.ID)
		}
	}
}

// violation is how chaos runs report a broken property (see runChaos).
type violation string

// checkAgreement fails if two sites know different values at a position.
func (n *testNet) checkAgreement(g GroupID) {
	n.t.Helper()
	if v := n.agreement(g); v != "" {
		n.t.Fatal(v)
	}
}

func (n *testNet) agreement(g GroupID) violation {
	seen := map[Position]ValueID{}
	for _, id := range n.order {
		n.hold(id, g)
		grp := n.reps[id].groups[g]
		if grp == nil {
			continue
		}
		for p, v := range grp.known {
			if old, ok := seen[p]; ok && old != v.ID {
				return violation(fmt.Sprintf("position %d: %s vs %s", p, old, v.ID))
			}
			seen[p] = v.ID
		}
	}
	return ""
}
