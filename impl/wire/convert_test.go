package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

var testSites = []core.Site{{ID: "a", Kind: core.Full}, {ID: "b", Kind: core.Full},
	{ID: "c", Kind: core.Full}, {ID: "w", Kind: core.Witness}, {ID: "r", Kind: core.ReadOnly}}

func testLimits() Limits {
	cfg := core.DefaultConfig("a", testSites)
	lim := LimitsFor(cfg)
	lim.MaxKeyBytes, lim.MaxValueBytes, lim.MaxMutations, lim.MaxCatchUpEntries = 16, 64, 4, 3
	return lim
}

func testValue() *core.Value {
	return &core.Value{ID: core.ValueID{Site: "b", Incarnation: 3, Seq: 9}, Timestamp: 77,
		NextLeader: "c", Mutations: []core.Mutation{{Key: []byte("k"), Value: []byte("v")},
			{Key: []byte("d"), Delete: true}}}
}

// validMessages are messages as the core sends them, one per type.
func validMessages() []core.Message {
	v := testValue()
	bal := core.MakeBallot(2, 5, 1)
	return []core.Message{
		{Type: core.MsgAcceptLeader, From: "b", To: "a", Group: "g", Position: 4, Proposal: 1, Value: v},
		{Type: core.MsgAcceptLeaderResp, From: "a", To: "b", Group: "g", Position: 4, Proposal: 1, Reject: true, Ballot: bal},
		{Type: core.MsgPrepare, From: "b", To: "a", Group: "g", Position: 4, Ballot: bal},
		{Type: core.MsgPromise, From: "w", To: "a", Group: "g", Position: 4, Ballot: bal, Value: v, VoteBallot: core.MakeBallot(1, 1, 2)},
		{Type: core.MsgAccept, From: "b", To: "a", Group: "g", Position: 4, Ballot: bal, Value: v},
		{Type: core.MsgAccepted, From: "a", To: "b", Group: "g", Position: 4, Ballot: bal},
		{Type: core.MsgInvalidate, From: "b", To: "a", Group: "g", Position: 4},
		{Type: core.MsgInvalidateResp, From: "a", To: "b", Group: "g", Position: 4},
		{Type: core.MsgCommit, From: "b", To: "a", Group: "g", Position: 4, Value: &core.Value{ID: core.ValueID{Site: "b"}, NoOp: true}},
		{Type: core.MsgFindPos, From: "r", To: "a", Group: "g:x/y", Proposal: 12},
		{Type: core.MsgFindPosResp, From: "a", To: "r", Group: "g", Position: 0},
		{Type: core.MsgCatchUp, From: "c", To: "a", Group: "g", Position: 1, Limit: 9},
		{Type: core.MsgCatchUpResp, From: "a", To: "c", Group: "g", Entries: []core.Entry{
			{Group: "g", Position: 1, Value: *v}, {Group: "g", Position: 2, Value: *v}}},
		{Type: core.MsgCatchUp, From: "c", To: "a", Group: "g", Position: 1, Limit: 9, Cursor: []byte("k\x00")},
		{Type: core.MsgCatchUpResp, From: "a", To: "c", Group: "g", Through: 7, Cursor: []byte("k"), More: true,
			Rows:    []core.KeyValue{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("l"), Value: []byte{}}},
			Entries: []core.Entry{{Group: "g", Position: 8, Value: *v}}},
		{Type: core.MsgPromise, From: "a", To: "b", Group: "g", Position: 4, Ballot: bal, Reject: true, Through: 6},
		{Type: core.MsgLeaseRequest, From: "b", To: "a", Proposal: 1<<40 | 5},
		{Type: core.MsgLeaseGrant, From: "a", To: "b", Proposal: 1<<40 | 5, Ticks: 40},
		{Type: core.MsgLeaseBlock, From: "c", To: "a", Coordinator: "b"},
		{Type: core.MsgLeaseBlockResp, From: "a", To: "c", Coordinator: "b", Ticks: 12},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	lim := testLimits()
	for _, m := range validMessages() {
		b, err := proto.Marshal(MessageToProto(m))
		if err != nil {
			t.Fatal(err)
		}
		var p wirepb.Message
		if err := proto.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		got, err := MessageFromProto(&p, lim)
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip of %v:\n got %+v\nwant %+v", m.Type, got, m)
		}
	}
}

func TestMessageRejects(t *testing.T) {
	lim := testLimits()
	base := func() *wirepb.Message {
		return MessageToProto(core.Message{Type: core.MsgAccept, From: "b", To: "a", Group: "g",
			Position: 4, Ballot: core.MakeBallot(1, 1, 1), Value: testValue()})
	}
	cases := []struct {
		name string
		edit func(*wirepb.Message)
		want error
		text string
	}{
		{"nil", nil, core.ErrMalformed, "missing"},
		{"type 0", func(p *wirepb.Message) { p.Type = 0 }, core.ErrMalformed, "unknown message type 0"},
		{"type 99", func(p *wirepb.Message) { p.Type = 99 }, core.ErrMalformed, "unknown message type 99"},
		{"negative type", func(p *wirepb.Message) { p.Type = -3 }, core.ErrMalformed, "unknown message type -3"},
		{"unknown sender", func(p *wirepb.Message) { p.From = "zz" }, core.ErrUnknownSite, `sender "zz" is not a member`},
		{"empty sender", func(p *wirepb.Message) { p.From = "" }, core.ErrMalformed, "empty site name"},
		{"bad sender syntax", func(p *wirepb.Message) { p.From = "a b" }, core.ErrMalformed, "not a letter"},
		{"unknown recipient", func(p *wirepb.Message) { p.To = "q" }, core.ErrUnknownSite, "recipient"},
		{"no group", func(p *wirepb.Message) { p.Group = "" }, core.ErrMalformed, "empty group name"},
		{"group syntax", func(p *wirepb.Message) { p.Group = "g\x00" }, core.ErrMalformed, "group name"},
		{"group too long", func(p *wirepb.Message) { p.Group = strings.Repeat("g", MaxGroupBytes+1) }, core.ErrMalformed, "exceeds"},
		{"no value", func(p *wirepb.Message) { p.Value = nil }, core.ErrMalformed, "without a value"},
		{"value without id", func(p *wirepb.Message) { p.Value.Id = nil }, core.ErrMalformed, "no id"},
		{"value from stranger", func(p *wirepb.Message) { p.Value.Id.Site = "x" }, core.ErrUnknownSite, "value id site"},
		{"position 0", func(p *wirepb.Message) { p.Position = 0 }, core.ErrMalformed, "position 0"},
		{"position huge", func(p *wirepb.Message) { p.Position = ^uint64(0) }, core.ErrMalformed, "beyond the largest position"},
		{"limit huge", func(p *wirepb.Message) { p.Limit = uint64(MaxPosition) + 1 }, core.ErrMalformed, "limit"},
		{"ballot round 0", func(p *wirepb.Message) { p.Ballot = 7 }, core.ErrMalformed, "round 0"},
		{"ballot site index", func(p *wirepb.Message) { p.Ballot = uint64(core.MakeBallot(1, 1, 9)) }, core.ErrMalformed, "site index 9"},
		{"vote ballot", func(p *wirepb.Message) { p.VoteBallot = 1 }, core.ErrMalformed, "vote ballot"},
		{"ticks", func(p *wirepb.Message) { p.Ticks = MaxTicks + 1 }, core.ErrMalformed, "ticks"},
		{"stray coordinator", func(p *wirepb.Message) { p.Coordinator = "a" }, core.ErrMalformed, "coordinator"},
		{"stray entries", func(p *wirepb.Message) { p.Entries = []*wirepb.Entry{{}} }, core.ErrMalformed, "catch-up entries"},
		{"key too large", func(p *wirepb.Message) { p.Value.Mutations[0].Key = make([]byte, 17) }, core.ErrKeyTooLarge, "17 bytes exceeds 16"},
		{"empty key", func(p *wirepb.Message) { p.Value.Mutations[0].Key = nil }, core.ErrMalformed, "empty key"},
		{"value too large", func(p *wirepb.Message) { p.Value.Mutations[0].Value = make([]byte, 65) }, core.ErrValueTooLarge, "65 bytes"},
		{"too many mutations", func(p *wirepb.Message) {
			for range 3 {
				p.Value.Mutations = append(p.Value.Mutations, &wirepb.Mutation{Key: []byte("x")})
			}
		}, core.ErrTooManyMutations, "5 mutations exceed 4"},
		{"nil mutation", func(p *wirepb.Message) { p.Value.Mutations[1] = nil }, core.ErrMalformed, "mutation 1 is missing"},
		{"delete with value", func(p *wirepb.Message) { p.Value.Mutations[1].Value = []byte("x") }, core.ErrMalformed, "deletes and carries"},
		{"noop with mutations", func(p *wirepb.Message) { p.Value.NoOp = true }, core.ErrMalformed, "no-op"},
		{"next leader stranger", func(p *wirepb.Message) { p.Value.NextLeader = "x" }, core.ErrUnknownSite, "next leader"},
		{"truncation point elsewhere", func(p *wirepb.Message) { p.Through = 3 }, core.ErrMalformed, "truncation point 3"},
		{"truncation point huge", func(p *wirepb.Message) { p.Through = ^uint64(0) }, core.ErrMalformed, "truncation point"},
		{"stray cursor", func(p *wirepb.Message) { p.Cursor = []byte("k") }, core.ErrMalformed, "cursor"},
		{"stray rows", func(p *wirepb.Message) { p.Rows = []*wirepb.KeyValue{{Key: []byte("k")}} }, core.ErrMalformed, "rows"},
	}
	for _, c := range cases {
		var p *wirepb.Message
		if c.edit != nil {
			p = base()
			c.edit(p)
		}
		_, err := MessageFromProto(p, lim)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got %v, want %v containing %q", c.name, err, c.want, c.text)
		}
	}
}

func TestCatchUpAndLeaseRejects(t *testing.T) {
	lim := testLimits()
	v := ValueToProto(*testValue())
	resp := &wirepb.Message{Type: wirepb.MessageType_CATCH_UP_RESP, From: "a", To: "b", Group: "g"}
	for _, c := range []struct {
		entries []*wirepb.Entry
		text    string
	}{
		{[]*wirepb.Entry{nil}, "entry 0 is missing"},
		{[]*wirepb.Entry{{Group: "h", Position: 1, Value: v}}, `for group "h"`},
		{[]*wirepb.Entry{{Group: "g", Position: 0, Value: v}}, "position 0"},
		{[]*wirepb.Entry{{Group: "g", Position: 1}}, "value is missing"},
		{[]*wirepb.Entry{{Group: "g", Position: 1, Value: v}, {Group: "g", Position: 2, Value: v},
			{Group: "g", Position: 3, Value: v}, {Group: "g", Position: 4, Value: v}}, "4 entries exceed 3"},
	} {
		resp.Entries = c.entries
		if _, err := MessageFromProto(resp, lim); !errors.Is(err, core.ErrMalformed) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("entries %v: got %v, want %q", c.entries, err, c.text)
		}
	}
	resp.Entries = nil
	for _, c := range []struct {
		edit func(*wirepb.Message)
		want error
		text string
	}{
		{func(p *wirepb.Message) { p.Rows = []*wirepb.KeyValue{{Key: []byte("k")}} }, core.ErrMalformed, "without a truncation point"},
		{func(p *wirepb.Message) { p.Through, p.Rows = 3, []*wirepb.KeyValue{nil} }, core.ErrMalformed, "row 0 is missing"},
		{func(p *wirepb.Message) { p.Through, p.Rows = 3, []*wirepb.KeyValue{{}} }, core.ErrMalformed, "empty key"},
		{func(p *wirepb.Message) { p.Through, p.Rows = 3, []*wirepb.KeyValue{{Key: make([]byte, 17)}} }, core.ErrKeyTooLarge, "row 0"},
		{func(p *wirepb.Message) {
			p.Through, p.Rows = 3, []*wirepb.KeyValue{{Key: []byte("k"), Value: make([]byte, 65)}}
		}, core.ErrValueTooLarge, "row 0"},
		{func(p *wirepb.Message) { p.Through, p.Cursor = 3, make([]byte, 18) }, core.ErrKeyTooLarge, "cursor"},
		{func(p *wirepb.Message) {
			p.Through = 3
			for range lim.MaxScanRows + 1 {
				p.Rows = append(p.Rows, &wirepb.KeyValue{Key: []byte("k")})
			}
		}, core.ErrMalformed, "rows exceed"},
	} {
		p := proto.Clone(resp).(*wirepb.Message)
		c.edit(p)
		if _, err := MessageFromProto(p, lim); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("compacted state: got %v, want %v containing %q", err, c.want, c.text)
		}
	}
	block := &wirepb.Message{Type: wirepb.MessageType_LEASE_BLOCK, From: "a", To: "b", Coordinator: "nobody"}
	if _, err := MessageFromProto(block, lim); !errors.Is(err, core.ErrUnknownSite) {
		t.Errorf("lease block for a stranger: %v", err)
	}
	block.Coordinator, block.Group = "c", "g"
	if _, err := MessageFromProto(block, lim); !errors.Is(err, core.ErrMalformed) {
		t.Errorf("lease block naming a group: %v", err)
	}
}

func TestBatchAllOrNothing(t *testing.T) {
	lim := testLimits()
	ms := validMessages()
	b := &wirepb.Batch{}
	for _, m := range ms {
		if m.To == "a" {
			b.Messages = append(b.Messages, MessageToProto(m))
		}
	}
	got, err := lim.BatchFromProto(b, "a", 100)
	if err != nil || len(got) != len(b.Messages) {
		t.Fatalf("valid batch: %d %v", len(got), err)
	}
	b.Messages = append(b.Messages, MessageToProto(ms[1])) // for "b"
	if got, err := lim.BatchFromProto(b, "a", 100); !errors.Is(err, ErrWrongSite) || got != nil {
		t.Fatalf("misdelivered message: %d %v", len(got), err)
	}
	if _, err := lim.BatchFromProto(b, "a", 2); !errors.Is(err, core.ErrMalformed) {
		t.Fatalf("oversized batch: %v", err)
	}
}

func TestRequestRejects(t *testing.T) {
	lim := testLimits()
	cases := []struct {
		name string
		run  func() error
		want error
		text string
	}{
		{"get ok", func() error {
			_, err := lim.GetFromProto(&wirepb.GetRequest{Site: "a", Group: "g", Keys: [][]byte{[]byte("k")}}, "a")
			return err
		}, nil, ""},
		{"get other site", func() error { _, err := lim.GetFromProto(&wirepb.GetRequest{Site: "b", Group: "g"}, "a"); return err }, ErrWrongSite, `this is site "a"`},
		{"get stranger", func() error { _, err := lim.GetFromProto(&wirepb.GetRequest{Site: "zz", Group: "g"}, "a"); return err }, core.ErrUnknownSite, "not a member"},
		{"get group", func() error { _, err := lim.GetFromProto(&wirepb.GetRequest{Group: "a b"}, "a"); return err }, core.ErrMalformed, "group name"},
		{"get mode", func() error { _, err := lim.GetFromProto(&wirepb.GetRequest{Group: "g", Mode: 7}, "a"); return err }, core.ErrMalformed, "read mode 7"},
		{"get position current", func() error { _, err := lim.GetFromProto(&wirepb.GetRequest{Group: "g", Position: 3}, "a"); return err }, core.ErrMalformed, "only meaningful"},
		{"get key", func() error {
			_, err := lim.GetFromProto(&wirepb.GetRequest{Group: "g", Keys: [][]byte{nil}}, "a")
			return err
		}, core.ErrMalformed, "empty key"},
		{"scan order", func() error {
			_, err := lim.ScanFromProto(&wirepb.ScanRequest{Group: "g", Start: []byte("z"), End: []byte("a")}, "a")
			return err
		}, core.ErrMalformed, "after its end"},
		{"scan limit", func() error {
			_, err := lim.ScanFromProto(&wirepb.ScanRequest{Group: "g", Limit: 1 << 20}, "a")
			return err
		}, core.ErrMalformed, "scan limit"},
		{"scan key", func() error {
			_, err := lim.ScanFromProto(&wirepb.ScanRequest{Group: "g", Start: make([]byte, 17)}, "a")
			return err
		}, core.ErrKeyTooLarge, "scan start"},
		{"commit empty", func() error { _, err := lim.CommitFromProto(&wirepb.CommitRequest{Group: "g"}, "a"); return err }, core.ErrMalformed, "without mutations"},
		{"commit value", func() error {
			_, err := lim.CommitFromProto(&wirepb.CommitRequest{Group: "g", Mutations: []*wirepb.Mutation{{Key: []byte("k"), Value: make([]byte, 65)}}}, "a")
			return err
		}, core.ErrValueTooLarge, "value of 65 bytes"},
		{"commit position", func() error {
			_, err := lim.CommitFromProto(&wirepb.CommitRequest{Group: "g", ReadPosition: ^uint64(0), Mutations: []*wirepb.Mutation{{Key: []byte("k")}}}, "a")
			return err
		}, core.ErrMalformed, "read position"},
		{"put key", func() error {
			_, _, err := lim.PutFromProto(&wirepb.PutRequest{Group: "g", Key: make([]byte, 17)}, "a")
			return err
		}, core.ErrKeyTooLarge, "17 bytes"},
		{"log zero", func() error { _, _, _, err := lim.LogFromProto(&wirepb.LogRequest{Group: "g"}, "a"); return err }, core.ErrMalformed, "start at 1"},
		{"log range", func() error {
			_, _, _, err := lim.LogFromProto(&wirepb.LogRequest{Group: "g", From: 1, To: MaxLogEntries + 1}, "a")
			return err
		}, core.ErrMalformed, "exceeds"},
		{"status group", func() error { _, err := lim.StatusFromProto(&wirepb.StatusRequest{Group: "\xff"}, "a"); return err }, core.ErrMalformed, "group name"},
		{"nil request", func() error { _, err := lim.GetFromProto(nil, "a"); return err }, core.ErrMalformed, "missing"},
	}
	for _, c := range cases {
		err := c.run()
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got %v, want %v containing %q", c.name, err, c.want, c.text)
		}
	}
}

func TestStatusRoundTrip(t *testing.T) {
	for _, r := range reasons {
		err := FromStatus(ToStatus(errors.Join(r.err)))
		if !errors.Is(err, r.err) {
			t.Errorf("%v did not survive the wire: %v", r.err, err)
		}
	}
	if err := FromStatus(ToStatus(errors.New("boom"))); errors.Is(err, core.ErrConflict) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("unknown error: %v", err)
	}
}
