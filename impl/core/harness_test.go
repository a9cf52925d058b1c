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
	// data is each site's data rows, as a Storage holds them (versions
	// in position order), for compacted-state catch-up; pageRows bounds
	// the rows of one compacted-state page (0: MaxScanRows).
	data     map[SiteID]map[GroupID]map[string][]version
	pageRows int
}

type version struct {
	pos Position
	val []byte
	del bool
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
	gs.Truncated = st.Truncated[g]
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
		n.durable[s.ID] = &State{Applied: map[GroupID]Position{}, Truncated: map[GroupID]Position{}}
	}
	n.data = map[SiteID]map[GroupID]map[string][]version{}
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
		for _, in := range rd.Install {
			n.compact(id, in.Group, in.Through, in.VotesThrough)
			st.Applied[in.Group] = in.Through
			rows := map[string][]version{}
			for _, kv := range in.Rows {
				rows[string(kv.Key)] = []version{{pos: in.Through, val: kv.Value}}
			}
			n.groupData(id, in.Group)
			n.data[id][in.Group] = rows
		}
		for _, tr := range rd.Truncate {
			n.compact(id, tr.Group, tr.Through, tr.VotesThrough)
			for k, vs := range n.groupData(id, tr.Group) {
				// The newest version at or below the point, unless a
				// deletion, and every later one.
				i := len(vs)
				for i > 0 && vs[i-1].pos > tr.Through {
					i--
				}
				from := i
				if i > 0 && !vs[i-1].del {
					from = i - 1
				}
				n.data[id][tr.Group][k] = vs[from:]
			}
		}
		for _, e := range rd.Apply {
			st.Applied[e.Group] = e.Position
			data := n.groupData(id, e.Group)
			for _, mu := range e.Value.Mutations {
				data[string(mu.Key)] = append(data[string(mu.Key)], version{pos: e.Position, val: mu.Value, del: mu.Delete})
			}
		}
		for i := range rd.Messages {
			if m := &rd.Messages[i]; m.FillRows {
				n.fillRows(id, m)
			}
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

func (n *testNet) groupData(site SiteID, g GroupID) map[string][]version {
	if n.data[site] == nil {
		n.data[site] = map[GroupID]map[string][]version{}
	}
	if n.data[site][g] == nil {
		n.data[site][g] = map[string][]version{}
	}
	return n.data[site][g]
}

// compact drops the durable log of g at site through t, and its acceptor
// records through votes (truncation and install alike).
func (n *testNet) compact(site SiteID, g GroupID, t, votes Position) {
	st := n.durable[site]
	st.Truncated[g] = t
	drop := func(gr GroupID, p Position) bool { return gr == g && p <= t }
	dropVote := func(gr GroupID, p Position) bool { return gr == g && p <= votes }
	var acc []AcceptorRecord
	for _, a := range st.Acceptor {
		if !dropVote(a.Group, a.Position) {
			acc = append(acc, a)
		}
	}
	st.Acceptor = acc
	var un []AcceptorRecord
	for _, a := range n.unsynced[site] {
		if !dropVote(a.Group, a.Position) {
			un = append(un, a)
		}
	}
	n.unsynced[site] = un
	var ch []Entry
	for _, e := range st.Chosen {
		if !drop(e.Group, e.Position) {
			ch = append(ch, e)
		}
	}
	st.Chosen = ch
}

// readAt is a Storage read of one key at a site.
func (n *testNet) readAt(site SiteID, g GroupID, key string, at Position) []byte {
	var out []byte
	for _, v := range n.groupData(site, g)[key] {
		if v.pos <= at {
			out = v.val
			if v.del {
				out = nil
			}
		}
	}
	return out
}

// rowsAt is a Storage scan of a whole group at a site.
func (n *testNet) rowsAt(site SiteID, g GroupID, at Position) []KeyValue {
	var out []KeyValue
	for _, k := range sortedKeys(n.groupData(site, g)) {
		if v := n.readAt(site, g, k, at); v != nil {
			out = append(out, KeyValue{Key: []byte(k), Value: v})
		}
	}
	return out
}

// fillRows is what a driver does with a compacted-state page.
func (n *testNet) fillRows(site SiteID, m *Message) {
	limit := n.pageRows
	if limit == 0 {
		limit = n.reps[site].cfg.MaxScanRows
	}
	m.Rows, m.More, m.FillRows = nil, false, false
	for _, kv := range n.rowsAt(site, m.Group, m.Through) {
		if string(kv.Key) < string(m.Cursor) {
			continue
		}
		if len(m.Rows) == limit {
			m.More = true
			break
		}
		m.Rows = append(m.Rows, kv)
	}
}
