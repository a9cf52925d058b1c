package core

import (
	"errors"
	"strings"
	"testing"
)

// A second value learned at a known position is an assertion failure:
// Ready.Fatal (ErrDivergence, naming site, group, position and both
// values) in that Ready and every later one, the Divergence event traced
// for the checkers, and the first value kept.
func TestSecondChosenValueIsFatal(t *testing.T) {
	r := newTestReplica(t, "B", threeFull(), nil)
	v1 := Value{ID: ValueID{Site: "A", Incarnation: 1, Seq: 1}}
	v2 := Value{ID: ValueID{Site: "C", Incarnation: 1, Seq: 2}}
	for _, c := range []struct {
		from SiteID
		v    Value
	}{{"A", v1}, {"A", v1}} {
		if err := r.Step(Message{Type: MsgCommit, From: c.from, To: "B", Group: "g", Position: 1, Value: &c.v}); err != nil {
			t.Fatal(err)
		}
		if rd := r.Ready(); rd.Fatal != nil {
			t.Fatalf("the same value twice is fatal: %v", rd.Fatal)
		}
	}
	if err := r.Step(Message{Type: MsgCommit, From: "C", To: "B", Group: "g", Position: 1, Value: &v2}); err != nil {
		t.Fatal(err)
	}
	rd := r.Ready()
	if !errors.Is(rd.Fatal, ErrDivergence) {
		t.Fatalf("a second value at position 1: Fatal %v", rd.Fatal)
	}
	for _, want := range []string{"site B", `group "g"`, "position 1", v1.ID.String(), v2.ID.String()} {
		if !strings.Contains(rd.Fatal.Error(), want) {
			t.Errorf("Fatal does not name %s: %v", want, rd.Fatal)
		}
	}
	if len(rd.Trace) != 1 || rd.Trace[0].Action != "Divergence" {
		t.Errorf("trace %+v, want one Divergence event", rd.Trace)
	}
	r.Advance(rd)
	r.Tick()
	if rd := r.Ready(); !errors.Is(rd.Fatal, ErrDivergence) {
		t.Errorf("a later Ready forgot the failure: %v", rd.Fatal)
	}
	if got := r.Status().Groups["g"].KnownPrefix; got != 1 {
		t.Errorf("known prefix %d", got)
	}
}
