package client

import (
	"context"
	"errors"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/wire"
)

// Outcome says what an error from a write (Transaction, Put, Site.Write)
// tells the caller about whether the write took effect. A read has no
// effect, so every failed read is simply failed; Outcome matters for
// writes, whose value may be chosen after the client stopped waiting.
type Outcome int

const (
	// Ok: the write is committed at the returned position.
	Ok Outcome = iota
	// Failed: the write did not and never will take effect.
	Failed
	// Unknown: the write may have taken effect, or may still: a history
	// must record it as indeterminate (Jepsen's :info).
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case Ok:
		return "ok"
	case Failed:
		return "fail"
	case Unknown:
		return "info"
	}
	return "invalid outcome"
}

// indefinite lists errors that mean Unknown even when wrapped together with
// a definite one (the client gave up, the quorum or the site went away).
var indefinite = []error{core.ErrUnavailable, core.ErrTruncated, context.DeadlineExceeded, context.Canceled, node.ErrStopped}

// definite lists the errors after which a write certainly did not happen,
// each with the reason it is certain. Everything else is Unknown.
var definite = []error{
	// Another value was chosen at the position this write proposed for;
	// a proposal names one position, so ours is not and never will be
	// in the log (the client library reruns, with a new proposal).
	core.ErrConflict,
	// Every attempt conflicted (each attempt as above).
	ErrTooManyAttempts,
	// Refused by the replica or the site's server before any proposal.
	ErrWitnessNoWrites,
	wire.ErrWrongSite,
	core.ErrWitnessNoReads,
	core.ErrReadOnlySite,
	core.ErrNotApplied,
	core.ErrKeyTooLarge,
	core.ErrValueTooLarge,
	core.ErrTooManyMutations,
	core.ErrMalformed,
	core.ErrUnknownSite,
	core.ErrTooManyRequests,
	core.ErrInvalidConfig,
}

// Classify maps an error returned by a write to its Outcome (sentinels
// survive gRPC: impl/wire's FromStatus keeps them for errors.Is).
//
//	error                                         outcome  why
//	nil                                           Ok       acknowledged
//	core.ErrConflict, ErrTooManyAttempts          Failed   another value holds the position proposed for
//	ErrWitnessNoWrites, ErrWitnessNoReads,
//	ErrReadOnlySite, the wire's ErrWrongSite      Failed   refused before proposing
//	ErrNotApplied, ErrTooManyRequests             Failed   refused before proposing
//	ErrKeyTooLarge, ErrValueTooLarge,
//	ErrTooManyMutations, ErrMalformed,
//	ErrUnknownSite, ErrInvalidConfig              Failed   invalid request, refused before proposing
//	core.ErrUnavailable                           Unknown  no quorum in time, but a minority may hold
//	                                                       our vote, and a later proposer adopts it
//	core.ErrTruncated                             Unknown  the position was chosen and compacted elsewhere;
//	                                                       our value, sent for acceptance, may be the one
//	context.DeadlineExceeded, context.Canceled    Unknown  the client stopped waiting; the proposal runs on
//	node.ErrStopped, the wire's ErrStopped        Unknown  the site stopped mid-proposal
//	a lost connection (gRPC Unavailable with no
//	sentinel), Internal, anything else            Unknown  the request may have been sent and run
//
// An error missing from the table is Unknown: the safe side, since a
// checker that treats an unknown write as failed can wrongly convict a
// correct store, and one that treats it as unknown cannot.
func Classify(err error) Outcome {
	if err == nil {
		return Ok
	}
	for _, d := range indefinite {
		if errors.Is(err, d) {
			return Unknown
		}
	}
	for _, d := range definite {
		if errors.Is(err, d) {
			return Failed
		}
	}
	return Unknown
}

// Indeterminate reports whether a write that returned err may have taken
// effect although it did not succeed: Classify(err) == Unknown.
func Indeterminate(err error) bool { return Classify(err) == Unknown }
