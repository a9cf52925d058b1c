package spec_test

import (
	"slices"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/spec"
)

// The explorer's mutations and the simulator's bug switches (impl/core's
// Bugs, which tests/sim and the node's --test-bug use) break the same
// steps under the same names wherever both exist, so an auditor can match
// a mirror counterexample with a simulator failure by name. The rest is
// listed here with why it exists on one side only; a new name on either
// side fails this test until it is classified.
func TestBugNamesAgree(t *testing.T) {
	specOnly := map[string]string{
		"WitnessServesReads": "core refuses reads at a witness before any switch could apply",
		"EpochUnbounded":     "MaxEpoch is a model bound, not a protocol step",
		"AckBeforeQuorum":    "core counts acks in one place that no switch breaks; AckBeforeMajorityFsync is its durable-state cousin",
		"LearnDisabled":      "a liveness mutation: the simulator's checkers are about safety, so a core switch would show nothing",
		"CommitStalls":       "a liveness mutation: the simulator's checkers are about safety, so a core switch would show nothing",
		"CatchUpPastTarget":  "a liveness mutation: the simulator's checkers are about safety, so a core switch would show nothing",
	}
	coreOnly := map[string]string{
		"AckBeforeMajorityFsync":      "durability: the spec has no crash, so no unsynced vote to lose",
		"LocalReadWithoutCoordinator": "the spec's ReadLocal always asks coordValid; LocalReadAfterLeaseLoss is the shared cousin",
		"CoordinatorDownKeepsLease":   "operator controls (§4.9) are not in the spec",
		"SnapshotReadAtVotedPosition": "the spec's snapshot read names no position past the reader's log",
		"MajorityOfDataSites":         "the spec's quorums are the voters' majorities by definition; the mirror checks them against the simulator's drawn memberships",
		"LeaseFromGrantArrival":       "the spec has no message delay: a lease is held or lost, never counted in ticks",
		"TruncatedAcceptorVotes":      "the spec has no log truncation: its acceptors never forget a vote",
	}
	var specNames []string
	for _, m := range spec.AllMutations() {
		specNames = append(specNames, m.String())
	}
	coreNames := core.BugNames()
	shared := 0
	for _, n := range specNames {
		_, only := specOnly[n]
		inCore := slices.Contains(coreNames, n)
		switch {
		case inCore && only:
			t.Errorf("%s is listed as spec-only but impl/core has it too", n)
		case !inCore && !only:
			t.Errorf("mutation %s has no impl/core bug switch of the same name; name it the same there or list it in specOnly with why", n)
		case inCore:
			shared++
		}
	}
	for _, n := range coreNames {
		_, only := coreOnly[n]
		inSpec := slices.Contains(specNames, n)
		switch {
		case inSpec && only:
			t.Errorf("%s is listed as core-only but the spec has it too", n)
		case !inSpec && !only:
			t.Errorf("impl/core bug %s has no spec mutation of the same name; name it the same there or list it in coreOnly with why", n)
		}
	}
	if shared < 8 {
		t.Errorf("only %d names shared; the lists above drifted", shared)
	}
}
