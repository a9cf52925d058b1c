package spec

import (
	"strings"
	"testing"
)

// A fast-path write and a local read replay step by step; a step the spec
// does not allow is refused with its name, and a mutated mirror's broken
// step shows up as an invariant violation.
func TestTracerReplaysAndRefuses(t *testing.T) {
	tr, err := NewTracer(ReadRace())
	if err != nil {
		t.Fatal(err)
	}
	steps := []Event{
		{Action: "BeginWrite", Args: []any{"p1"}},
		{Action: "AcceptLeader", Args: []any{"p1"}},
		{Action: "Accept", Args: []any{"p1", "c"}},
		{Action: "Invalidate", Args: []any{"p1", "b"}},
		{Action: "Commit", Args: []any{"p1"}},
		{Action: "Learn", Args: []any{"g1", "b"}, Value: "w1"},
		{Action: "ReadBegin", Args: []any{"r1"}},
		{Action: "ReadFindPos", Args: []any{"r1", []string{"a", "c"}}},
		{Action: "ReadCatchUp", Args: []any{"r1"}},
		{Action: "Validate", Args: []any{"r1"}},
	}
	for _, e := range steps {
		if err := tr.Step(e); err != nil {
			t.Fatal(err)
		}
		if v := tr.Violated(); v != "" {
			t.Fatalf("after %s: %s violated", e, v)
		}
	}
	if got := tr.State().Rd[0].Result; got != 1<<1 {
		t.Fatalf("r1 read %b, want w1", got)
	}
	// A second ballot-0 grant at the same position is not a spec step.
	err = tr.Step(Event{Action: "AcceptLeader", Args: []any{"p1"}})
	if err == nil || !strings.Contains(err.Error(), "not an enabled action") {
		t.Fatalf("AcceptLeader twice: err = %v", err)
	}
	for _, bad := range []Event{
		{Action: "Accept", Args: []any{"p9", "a"}},
		{Action: "NoSuchAction"},
		{Action: "ReadFindPos", Args: []any{"r2", []string{"a"}}},
		{Action: "Learn", Args: []any{"g1", "c"}, Value: "w1"},
	} {
		if err := tr.Step(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if tr.Steps() != len(steps) {
		t.Fatalf("refused steps changed the trace: %d steps", tr.Steps())
	}

	c := WriteRace()
	c.Mutations = Mutations(SkipInvalidation)
	tr, err = NewTracer(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{
		{Action: "BeginWrite", Args: []any{"p1"}},
		{Action: "AcceptLeader", Args: []any{"p1"}},
		{Action: "Accept", Args: []any{"p1", "c"}},
		{Action: "Commit", Args: []any{"p1"}},
	} {
		if err := tr.Step(e); err != nil {
			t.Fatal(err)
		}
	}
	if v := tr.Violated(); v != "AckedAfterInvalidation" {
		t.Fatalf("violated %q, want AckedAfterInvalidation", v)
	}
}

// With VotePairs declared, a vote for another pair is refused as beyond
// the encoding, never taken silently nor reported as a protocol verdict;
// declared pairs vote as the full ballot x value layout would.
func TestTracerVotePairs(t *testing.T) {
	c := ReadRace()
	c.VotePairs = []VotePair{{Ballot: 0, Value: "w1"}}
	tr, err := NewTracer(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{
		{Action: "BeginWrite", Args: []any{"p1"}},
		{Action: "AcceptLeader", Args: []any{"p1"}},
		{Action: "Accept", Args: []any{"p1", "c"}},
	} {
		if err := tr.Step(e); err != nil {
			t.Fatal(err)
		}
	}
	if !tr.HasVote("g1", "c", 1, 0, "w1") {
		t.Fatal("c's declared vote is missing")
	}
	c = ReadRace()
	c.VotePairs = []VotePair{}
	if tr, err = NewTracer(c); err != nil {
		t.Fatal(err)
	}
	if err := tr.Step(Event{Action: "BeginWrite", Args: []any{"p1"}}); err != nil {
		t.Fatal(err)
	}
	err = tr.Step(Event{Action: "AcceptLeader", Args: []any{"p1"}})
	if err == nil || !strings.Contains(err.Error(), "VotePairs") {
		t.Fatalf("a vote for an undeclared pair: err = %v", err)
	}
	c.VotePairs = []VotePair{{Ballot: 7, Value: "w1"}}
	if _, err := NewTracer(c); err == nil {
		t.Fatal("a pair naming no ballot of the config was accepted")
	}
}

// Restart(f, keep) keeps a prefix of each group's applied log (chosen
// records are written without fsync): the restarted site learns the lost
// entries again, and a current read there still sees the acknowledged
// write. A keep past the log, or on a site that is not crashable, is
// refused.
func TestRestartForgetsALearnedSuffix(t *testing.T) {
	tr, err := NewTracer(RestartRead())
	if err != nil {
		t.Fatal(err)
	}
	step := func(e Event) {
		t.Helper()
		if err := tr.Step(e); err != nil {
			t.Fatal(err)
		}
		if v := tr.Violated(); v != "" {
			t.Fatalf("after %s: %s violated", e, v)
		}
	}
	for _, e := range []Event{
		{Action: "BeginWrite", Args: []any{"p1"}},
		{Action: "AcceptLeader", Args: []any{"p1"}},
		{Action: "Accept", Args: []any{"p1", "b"}},
		{Action: "Commit", Args: []any{"p1"}},
		{Action: "Learn", Args: []any{"g1", "a"}, Value: "w1"},
	} {
		step(e)
	}
	for _, bad := range []Event{
		{Action: "Restart", Args: []any{"a", map[string]int{"g1": 2}}},
		{Action: "Restart", Args: []any{"b", map[string]int{"g1": 0}}},
		{Action: "Restart", Args: []any{"a", map[string]int{"g9": 0}}},
	} {
		if err := tr.Step(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if why := tr.Why(Event{Action: "Restart", Args: []any{"a", map[string]int{"g1": 2}}}); len(why) != 1 || !strings.Contains(why[0], "keep") {
		t.Errorf("Why = %v, want the keep guard", why)
	}
	step(Event{Action: "Restart", Args: []any{"a", map[string]int{"g1": 0}}})
	if got := tr.Applied("g1", "a"); len(got) != 0 {
		t.Fatalf("applied at a after Restart keeping 0: %v", got)
	}
	for _, e := range []Event{
		{Action: "RegainLease", Args: []any{"a"}},
		{Action: "ReadBegin", Args: []any{"r1"}},
		{Action: "ReadFindPos", Args: []any{"r1", []string{"a", "b"}}},
		{Action: "Learn", Args: []any{"g1", "a"}, Value: "w1"},
		{Action: "ReadCatchUp", Args: []any{"r1"}},
	} {
		step(e)
	}
	if got := tr.ReaderResult("r1"); len(got) != 1 || got[0] != "w1" {
		t.Fatalf("r1 read %v after the restart, want [w1]", got)
	}
}
