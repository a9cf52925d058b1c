package core

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func newTestReplica(t *testing.T, self SiteID, sites []Site, mutate func(*Config)) *Replica {
	t.Helper()
	cfg := DefaultConfig(self, sites)
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := NewReplica(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.Ready() // drop the start-up work
	return r
}

func val(seq uint64) *Value {
	return &Value{ID: ValueID{Site: "A", Incarnation: 1, Seq: seq}, NextLeader: "A"}
}

// TestAcceptor drives one acceptor through scripted messages and checks each
// reply, table-driven.
func TestAcceptor(t *testing.T) {
	b := func(round uint64) Ballot { return MakeBallot(round, 1, 0) }
	type step struct {
		m      Message
		reject bool
		vote   *ValueID // expected vote after the step
	}
	id := func(seq uint64) *ValueID { v := val(seq).ID; return &v }
	tests := []struct {
		name  string
		bugs  Bugs
		steps []step
	}{
		{"leader grants ballot 0 once", Bugs{}, []step{
			{Message{Type: MsgAcceptLeader, Value: val(1)}, false, id(1)},
			{Message{Type: MsgAcceptLeader, Value: val(2)}, true, id(1)},
			{Message{Type: MsgAcceptLeader, Value: val(1)}, false, id(1)}, // duplicate
		}},
		{"GrantBallotZeroTwice bug", Bugs{GrantBallotZeroTwice: true}, []step{
			{Message{Type: MsgAcceptLeader, Value: val(1)}, false, id(1)},
			{Message{Type: MsgAcceptLeader, Value: val(2)}, false, id(2)},
		}},
		{"prepare blocks the fast path", Bugs{}, []step{
			{Message{Type: MsgPrepare, Ballot: b(1)}, false, nil},
			{Message{Type: MsgAcceptLeader, Value: val(1)}, true, nil},
		}},
		{"promise is monotonic", Bugs{}, []step{
			{Message{Type: MsgPrepare, Ballot: b(2)}, false, nil},
			{Message{Type: MsgPrepare, Ballot: b(1)}, true, nil},
			{Message{Type: MsgPrepare, Ballot: b(2)}, false, nil}, // duplicate
			{Message{Type: MsgPrepare, Ballot: 0}, true, nil},
		}},
		{"accept respects promise", Bugs{}, []step{
			{Message{Type: MsgPrepare, Ballot: b(2)}, false, nil},
			{Message{Type: MsgAccept, Ballot: b(1), Value: val(1)}, true, nil},
			{Message{Type: MsgAccept, Ballot: b(2), Value: val(2)}, false, id(2)},
			{Message{Type: MsgAccept, Ballot: b(3), Value: val(3)}, false, id(3)},
		}},
		{"AcceptLowerBallot bug", Bugs{AcceptLowerBallot: true}, []step{
			{Message{Type: MsgPrepare, Ballot: b(2)}, false, nil},
			{Message{Type: MsgAccept, Ballot: b(1), Value: val(1)}, false, id(1)},
		}},
		{"one value at ballot 0", Bugs{}, []step{
			{Message{Type: MsgAccept, Ballot: 0, Value: val(1)}, false, id(1)},
			{Message{Type: MsgAccept, Ballot: 0, Value: val(2)}, true, id(1)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestReplica(t, "B", threeFull(), func(c *Config) { c.Bugs = tt.bugs })
			for i, st := range tt.steps {
				m := st.m
				m.From, m.To, m.Group, m.Position, m.Proposal = "A", "B", "g", 1, 7
				if err := r.Step(m); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				rd := r.Ready()
				if len(rd.Messages) != 1 || rd.Messages[0].Reject != st.reject || rd.Messages[0].Proposal != 7 {
					t.Fatalf("step %d: replies %v, want reject=%v", i, rd.Messages, st.reject)
				}
				if len(rd.Acceptor) > 0 && !rd.MustSync {
					t.Fatalf("step %d: acceptor state without fsync", i)
				}
				rec, _ := r.Vote("g", 1)
				switch {
				case st.vote == nil && rec.Voted:
					t.Fatalf("step %d: unexpected vote %v", i, rec.Vote.ID)
				case st.vote != nil && (!rec.Voted || rec.Vote.ID != *st.vote):
					t.Fatalf("step %d: vote %v, want %v", i, rec.Vote.ID, *st.vote)
				}
				r.Advance(rd)
			}
		})
	}
}

func TestPromiseCarriesHighestVote(t *testing.T) {
	r := newTestReplica(t, "B", threeFull(), nil)
	b1, b2 := MakeBallot(1, 1, 0), MakeBallot(2, 1, 2)
	for _, m := range []Message{
		{Type: MsgAccept, Ballot: b1, Value: val(1)},
		{Type: MsgPrepare, Ballot: b2},
	} {
		m.From, m.To, m.Group, m.Position = "A", "B", "g", 3
		if err := r.Step(m); err != nil {
			t.Fatal(err)
		}
	}
	rd := r.Ready()
	last := rd.Messages[len(rd.Messages)-1]
	if last.Type != MsgPromise || last.Reject || last.Value == nil || last.VoteBallot != b1 ||
		last.Value.ID != val(1).ID {
		t.Fatalf("promise %+v", last)
	}
}

func TestAckBeforeMajorityFsyncBugClearsMustSync(t *testing.T) {
	r := newTestReplica(t, "B", threeFull(), func(c *Config) { c.Bugs.AckBeforeMajorityFsync = true })
	if err := r.Step(Message{Type: MsgAccept, From: "A", To: "B", Group: "g", Position: 1, Value: val(1)}); err != nil {
		t.Fatal(err)
	}
	if rd := r.Ready(); len(rd.Acceptor) != 1 || rd.MustSync {
		t.Fatalf("acceptor records %d, MustSync %v", len(rd.Acceptor), rd.MustSync)
	}
}

func TestBadInputIsRefusedWithSentinels(t *testing.T) {
	r := newTestReplica(t, "A", threeFull(), func(c *Config) { c.MaxKeyBytes, c.MaxValueBytes, c.MaxMutations = 4, 8, 2 })
	big := []byte("0123456789")
	writes := []struct {
		req  WriteRequest
		want error
	}{
		{WriteRequest{Group: ""}, ErrMalformed},
		{WriteRequest{Group: "g", Mutations: []Mutation{{Key: big}}}, ErrKeyTooLarge},
		{WriteRequest{Group: "g", Mutations: []Mutation{{Key: []byte("k"), Value: big}}}, ErrValueTooLarge},
		{WriteRequest{Group: "g", Mutations: []Mutation{{Key: []byte("k")}, {Key: []byte("l")}, {Key: []byte("m")}}}, ErrTooManyMutations},
		{WriteRequest{Group: "g", Mutations: []Mutation{{Key: nil}}}, ErrMalformed},
		{WriteRequest{Group: "g", ReadPosition: 5}, ErrNotApplied},
	}
	for i, w := range writes {
		if _, err := r.ProposeWrite(w.req); !errors.Is(err, w.want) {
			t.Errorf("write %d: %v, want %v", i, err, w.want)
		}
	}
	reads := []struct {
		req  ReadRequest
		want error
	}{
		{ReadRequest{Group: "g", Mode: 0}, ErrMalformed},
		{ReadRequest{Group: "", Mode: Current}, ErrMalformed},
		{ReadRequest{Group: "g", Mode: Current, Keys: [][]byte{big}}, ErrKeyTooLarge},
	}
	for i, rq := range reads {
		if _, err := r.Read(rq.req); !errors.Is(err, rq.want) {
			t.Errorf("read %d: %v, want %v", i, err, rq.want)
		}
	}
	msgs := []struct {
		m    Message
		want error
	}{
		{Message{Type: MsgPrepare, From: "Z", To: "A", Group: "g", Position: 1, Ballot: 1 << 32}, ErrUnknownSite},
		{Message{Type: MsgPrepare, From: "B", To: "C", Group: "g", Position: 1}, ErrMalformed},
		{Message{Type: 200, From: "B", To: "A", Group: "g"}, ErrMalformed},
		{Message{Type: MsgAccept, From: "B", To: "A", Group: "g", Position: 1}, ErrMalformed},
		{Message{Type: MsgAccept, From: "B", To: "A", Group: "", Position: 1, Value: val(1)}, ErrMalformed},
		{Message{Type: MsgAccept, From: "B", To: "A", Group: "g", Position: 0, Value: val(1)}, ErrMalformed},
		{Message{Type: MsgCommit, From: "B", To: "A", Group: "g", Position: 1,
			Value: &Value{Mutations: []Mutation{{Key: big}}}}, ErrKeyTooLarge},
		{Message{Type: MsgLeaseBlock, From: "B", To: "A", Coordinator: "Z"}, ErrUnknownSite},
		{Message{Type: MsgCatchUpResp, From: "B", To: "A", Group: "g",
			Entries: []Entry{{Group: "h", Position: 1}}}, ErrMalformed},
		{Message{Type: MsgCatchUp, From: "B", To: "A", Group: "g", Position: 1, Limit: LatestPosition}, nil},
		{Message{Type: MsgCatchUp, From: "B", To: "A", Group: "g", Position: LatestPosition, Limit: 1}, nil},
	}
	for i, m := range msgs {
		if err := r.Step(m.m); !errors.Is(err, m.want) {
			t.Errorf("message %d: %v, want %v", i, err, m.want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	base := func() Config {
		c := DefaultConfig("A", threeFull())
		c.Rand = rand.New(rand.NewPCG(1, 1))
		return c
	}
	cases := map[string]func(*Config){
		"no rand":          func(c *Config) { c.Rand = nil },
		"self not member":  func(c *Config) { c.Self = "Z" },
		"witness leader":   func(c *Config) { c.Sites = append(c.Sites, Site{"R", ReadOnly}); c.InitialLeader = "R" },
		"duplicate site":   func(c *Config) { c.Sites = append(c.Sites, Site{"A", Full}) },
		"skew above lease": func(c *Config) { c.ClockSkewTicks = c.LeaseDurationTicks },
		"renew too slow":   func(c *Config) { c.LeaseRenewTicks = c.LeaseDurationTicks },
		"zero limits":      func(c *Config) { c.MaxKeyBytes = 0 },
	}
	for name, mutate := range cases {
		c := base()
		mutate(&c)
		if _, err := NewReplica(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewReplica(base()); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseLossInvalidatesAndRegainStartsNewEpoch(t *testing.T) {
	n := newNet(t, nil, threeFull()...)
	n.warm()
	if rr := n.waitResult("A", n.read("A", "g", Current)); rr.Err != nil {
		t.Fatal(rr.Err)
	}
	st := n.reps["A"].Status()
	if !st.Groups["g"].Valid {
		t.Fatal("not valid after read")
	}
	epoch := st.Epoch
	n.cut[[2]SiteID{"A", "B"}], n.cut[[2]SiteID{"A", "C"}] = true, true
	n.tick(int(DefaultConfig("A", n.sites).LeaseDurationTicks) + 2)
	st = n.reps["A"].Status()
	if st.LeaseHeld || st.Groups["g"].Valid {
		t.Fatalf("A keeps lease or validity without a majority: %+v", st)
	}
	if countAction(n.trace, ActLoseLease, "A") != 1 {
		t.Fatal("no LoseLease")
	}
	n.cut = map[[2]SiteID]bool{}
	n.tick(int(DefaultConfig("A", n.sites).LeaseRenewTicks) + 1)
	st = n.reps["A"].Status()
	if !st.LeaseHeld || st.Epoch != epoch+1 || st.Groups["g"].Valid {
		t.Fatalf("after regain: %+v (epoch was %d)", st, epoch)
	}
}

func TestSkipInvalidationBugSkipsTheStep(t *testing.T) {
	n := newNet(t, func(c *Config) { c.Bugs.SkipInvalidation = true }, threeFull()...)
	n.warm()
	n.down["C"] = true
	if res := n.waitResult("A", n.write("A", "g", 0, "k")); res.Err != nil {
		t.Fatal(res.Err)
	}
	if countAction(n.trace, ActWaitOutLease, "") != 0 || countAction(n.trace, ActInvalidate, "") != 0 {
		t.Fatal("invalidation ran despite the bug switch")
	}
}

// A grant answering a request of an earlier incarnation counts ticks from
// another timeline and must not give a restarted coordinator its lease.
func TestLeaseGrantFromEarlierIncarnationIgnored(t *testing.T) {
	cfg := DefaultConfig("A", threeFull())
	cfg.Rand = rand.New(rand.NewPCG(1, 1))
	r, err := Restore(cfg, State{HardState: HardState{Incarnation: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []SiteID{"A", "B", "C"} {
		old := Message{Type: MsgLeaseGrant, From: s, To: "A", Proposal: 1 << 40, Ticks: 40}
		if err := r.Step(old); err != nil {
			t.Fatal(err)
		}
	}
	if r.Status().LeaseHeld {
		t.Fatal("stale grants gave the lease")
	}
	for _, s := range []SiteID{"A", "B"} {
		cur := Message{Type: MsgLeaseGrant, From: s, To: "A", Proposal: r.leaseStamp(), Ticks: 40}
		if err := r.Step(cur); err != nil {
			t.Fatal(err)
		}
	}
	if st := r.Status(); !st.LeaseHeld || st.Epoch != 1 {
		t.Fatalf("current grants: %+v", st)
	}
}

// A queued message must not change when its proposer later adopts another
// value.
func TestQueuedAcceptKeepsItsValue(t *testing.T) {
	r := newTestReplica(t, "A", threeFull(), nil)
	if _, err := r.ProposeWrite(WriteRequest{Group: "g", Mutations: []Mutation{{Key: []byte("k")}}}); err != nil {
		t.Fatal(err)
	}
	rd := r.Ready()
	var sent *Value
	for _, m := range rd.Messages {
		if m.Type == MsgAcceptLeader {
			sent = m.Value
		}
	}
	if sent == nil {
		t.Fatal("no AcceptLeader sent")
	}
	before := sent.ID
	for _, p := range r.proposals {
		p.value = Value{ID: ValueID{Site: "Z"}}
	}
	if sent.ID != before {
		t.Fatal("the queued message's value changed with the proposer's")
	}
}

// A Ready whose only durable content is chosen records needs no fsync
// (issue #14: Paxos does not, and the spec's Restart may lose a suffix of
// the learned log); acceptor state in the same Ready still asks for one,
// and SyncChosen restores the old behaviour.
func TestChosenRecordsAloneNeedNoFsync(t *testing.T) {
	for _, syncChosen := range []bool{false, true} {
		r := newTestReplica(t, "B", threeFull(), func(c *Config) { c.SyncChosen = syncChosen })
		r.Ready() // the hard state of the new incarnation
		v := val(1)
		if err := r.Step(Message{Type: MsgCommit, From: "A", To: "B", Group: "g", Position: 1, Value: v}); err != nil {
			t.Fatal(err)
		}
		rd := r.Ready()
		if len(rd.Chosen) != 1 || len(rd.Acceptor) != 0 || rd.HardState != nil || rd.MustSync != syncChosen {
			t.Fatalf("SyncChosen %v: chosen %d, acceptor %d, MustSync %v", syncChosen, len(rd.Chosen), len(rd.Acceptor), rd.MustSync)
		}
		r.Advance(rd)
		w := val(2)
		for _, m := range []Message{{Type: MsgCommit, Position: 2, Value: w}, {Type: MsgAccept, Position: 3, Value: w}} {
			m.From, m.To, m.Group = "A", "B", "g"
			if err := r.Step(m); err != nil {
				t.Fatal(err)
			}
		}
		if rd := r.Ready(); len(rd.Chosen) != 1 || len(rd.Acceptor) != 1 || !rd.MustSync {
			t.Fatalf("a chosen record beside a vote: chosen %d, acceptor %d, MustSync %v", len(rd.Chosen), len(rd.Acceptor), rd.MustSync)
		}
	}
}
