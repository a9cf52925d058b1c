package sim

import (
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/tests/check"
)

// TestReplyFromPreviousIncarnation is a finding of the rapid machine
// (rapid.checks=3000), fixed in impl/core: proposal ids restarted at every
// incarnation and replies were matched by id, group and position only, so
// the leader's ballot-0 grant to the value of A's previous incarnation was
// taken by A's new proposal, with another value, as its own grant; its
// Accepts at ballot 0 then carried a second value at ballot 0. Ids now
// carry the incarnation; the scenario must validate cleanly.
func TestReplyFromPreviousIncarnation(t *testing.T) {
	s := newManual(0)
	defer s.close()
	a := s.byID["A"] // the initial leader: its AcceptLeader goes to itself
	write := func() {
		g := core.GroupID("g0")
		req, err := a.rep.ProposeWrite(core.WriteRequest{Group: g, ReadPosition: a.rep.Status().Groups[g].Applied,
			Mutations: []core.Mutation{{Key: key, Value: []byte("x")}}})
		if err != nil {
			t.Fatal(err)
		}
		s.drain(a, input{kind: "write", req: req})
	}
	write()    // incarnation 1 asks itself for ballot 0; the message waits
	s.crash(a) // ... across a crash
	s.start(a) // incarnation 2 reuses proposal id 2
	write()    // for another value at the same position
	for k := 0; k < 300 && len(s.pending) > 0; k++ {
		e := s.pending[0]
		s.pending = s.pending[1:]
		s.deliver(e)
	}
	res := check.Trace(s.mapper.Run())
	if res.Failure != "" {
		t.Fatalf("a reply from before the restart was taken for the new proposal's: %s", res.Failure)
	}
}

// TestLocalReadAfterAPause is a finding of trace validation (seed 5853 of
// the default profile), fixed in impl/core: a site paused past its lease
// was handed its missed ticks one at a time on resume, so a writer's timer
// fired and the commit it applied completed a local read at a tick where the
// lease still looked held, though it had run out during the pause (the spec's
// ReadLocal was not enabled). Replica.Elapse now judges the lease at the
// time it is before any timer fires.
func TestLocalReadAfterAPause(t *testing.T) {
	o := Defaults()
	o.Seed, o.Inconsistent, o.Refused = 5853, 0, 0 // the profile it was found with
	o.OwnLoop = true                               // the loop it was found in (driver mode draws other runs)
	if r := Run(bubbled(t, o)); r.Failure != "" {
		t.Fatalf("%s: %s\n  reproduce: %s", r.Check, r.Failure, ReproCommand(r.Opts))
	}
}

// The refusal check fails a site that serves what its kind rules out, or
// that refuses it with the wrong reason, or that does anything on the way.
func TestRefusalCatchesAServedRequest(t *testing.T) {
	if bad := refusal("write", "R", core.ErrReadOnlySite, core.ErrReadOnlySite, false); bad != "" {
		t.Fatal(bad)
	}
	for _, c := range []struct {
		err     error
		changed bool
	}{{nil, false}, {core.ErrWitnessNoReads, false}, {core.ErrReadOnlySite, true}} {
		if refusal("write", "R", c.err, core.ErrReadOnlySite, c.changed) == "" {
			t.Fatalf("a write at a read-only site answered %v (changed %v) passed", c.err, c.changed)
		}
	}
}

// TestInstallUnderAnAdoptedValue is a finding of the truncation profile
// (seed 53), fixed in impl/core: a site whose proposal had reached a
// majority (chosen) installed a compacted state past its position and
// answered its write as committed, though the value chosen there was one
// the proposal had adopted from another writer's, not its own: two writes
// acknowledged at one position, which porcupine rejected.
func TestInstallUnderAnAdoptedValue(t *testing.T) {
	o := truncation()
	o.Seed = 53
	if r := Run(bubbled(t, o)); r.Failure != "" {
		t.Fatalf("%s: %s\n  reproduce: %s", r.Check, r.Failure, ReproCommand(r.Opts))
	}
}
