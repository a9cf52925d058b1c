package spec

import "strings"

// Mutation breaks one protocol step of the mirror on purpose. The tests
// turn each on and assert that the explorer reports the invariant it
// should; a check that no broken protocol can fail proves nothing.
type Mutation uint32

// The mutations, each named after the step it breaks.
const (
	// SkipInvalidation: Commit without every full site accepting or being
	// invalidated.
	SkipInvalidation Mutation = 1 << iota
	// AcceptLowerBallot: Accept ignores a higher promise.
	AcceptLowerBallot
	// LocalReadAfterLeaseLoss: ReadLocal trusts coordValid without the lease.
	LocalReadAfterLeaseLoss
	// CatchUpAppliesUnchosen: Learn applies any accepted value.
	CatchUpAppliesUnchosen
	// ValidateWithoutPositionCheck: Validate ignores a later invalidation.
	ValidateWithoutPositionCheck
	// ValidateWithoutEpochCheck: Validate ignores a new coordinator epoch.
	ValidateWithoutEpochCheck
	// GrantBallotZeroTwice: the leader accepts ballot 0 for a second writer.
	GrantBallotZeroTwice
	// AckBeforeQuorum: Commit before a quorum accepted.
	AckBeforeQuorum
	// LearnBeforeVisibility: Learn applies a chosen value before its
	// proposer invalidated the coordinators that missed it.
	LearnBeforeVisibility
	// WitnessServesReads: a witness begins a current read.
	WitnessServesReads
	// ReadOnlyVotes: read-only sites promise and accept.
	ReadOnlyVotes
	// EpochUnbounded: RegainLease ignores MaxEpoch.
	EpochUnbounded
	// LearnDisabled: catch-up never applies a position (WriteCompletes,
	// ReadCompletes and LearnsChosen catch it; no invariant can).
	LearnDisabled
	// CommitStalls: a proposer waits forever at the visibility point
	// (WriteCompletes catches it).
	CommitStalls
	// CatchUpPastTarget: a read waits until its site applied past its
	// target, not through it (ReadCompletes catches it).
	CatchUpPastTarget
	numMutations = iota
)

var mutationNames = [...]string{"SkipInvalidation", "AcceptLowerBallot", "LocalReadAfterLeaseLoss",
	"CatchUpAppliesUnchosen", "ValidateWithoutPositionCheck", "ValidateWithoutEpochCheck",
	"GrantBallotZeroTwice", "AckBeforeQuorum", "LearnBeforeVisibility", "WitnessServesReads",
	"ReadOnlyVotes", "EpochUnbounded", "LearnDisabled", "CommitStalls", "CatchUpPastTarget"}

// Mutations is a set of Mutation.
type Mutations uint32

// Has reports whether m is switched on.
func (ms Mutations) Has(m Mutation) bool { return uint32(ms)&uint32(m) != 0 }

func (m Mutation) String() string {
	for i := 0; i < numMutations; i++ {
		if m == 1<<i {
			return mutationNames[i]
		}
	}
	return "Mutation(?)"
}

// AllMutations lists every mutation, in declaration order.
func AllMutations() []Mutation {
	ms := make([]Mutation, numMutations)
	for i := range ms {
		ms[i] = 1 << i
	}
	return ms
}

func (ms Mutations) String() string {
	var names []string
	for _, m := range AllMutations() {
		if ms.Has(m) {
			names = append(names, m.String())
		}
	}
	return strings.Join(names, "+")
}
