package sim

import (
	"strings"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/tests/check"
)

// A site that learns a second value at a position it knows chosen stops,
// as node.Driver stops it (core.Ready.Fatal): the simulator fails the run
// there, and trace validation still reports the step.
func TestSecondChosenValueStopsTheSite(t *testing.T) {
	s := newManual(0)
	defer s.close()
	b := s.byID["B"]
	commit := func(from core.SiteID, seq uint64) {
		v := core.Value{ID: core.ValueID{Site: from, Incarnation: 1, Seq: seq},
			Mutations: []core.Mutation{{Key: key, Value: []byte(from)}}}
		s.deliver(&event{kind: evDeliver, site: b.idx, fromInc: s.byID[from].inc,
			msg: core.Message{Type: core.MsgCommit, From: from, To: b.id, Group: "g0", Position: 1, Value: &v}})
	}
	// A real write chooses position 1 everywhere first.
	a := s.byID["A"]
	req, err := a.rep.ProposeWrite(core.WriteRequest{Group: "g0", Mutations: []core.Mutation{{Key: key, Value: []byte("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	s.drain(a, input{kind: "write", req: req})
	for k := 0; k < 300 && len(s.pending) > 0; k++ {
		e := s.pending[0]
		s.pending = s.pending[1:]
		s.deliver(e)
	}
	if s.failure != "" || b.rep.Status().Groups["g0"].KnownPrefix != 1 {
		t.Fatalf("the write did not reach B cleanly: %s: %s", s.check, s.failure)
	}
	commit("C", 2)
	if s.check != checkAssertion || !strings.Contains(s.failure, core.ErrDivergence.Error()) ||
		!strings.Contains(s.failure, "position 1") {
		t.Fatalf("a second value at position 1: the simulator reported %q: %q", s.check, s.failure)
	}
	if b.up {
		t.Fatal("the site runs on after a second value at position 1")
	}
	res := check.Trace(s.mapper.Run())
	if !strings.Contains(res.Failure, "two values committed at one position") {
		t.Fatalf("trace validation did not report the second value: %s: %q", res.Check, res.Failure)
	}
	t.Logf("trace validation: %s: %s", res.Check, res.Failure)
}
