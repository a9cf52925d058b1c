package core

import "errors"

// Sentinel errors. Classify with errors.Is: returned errors may wrap these
// with detail. Operating errors are returned, never panicked; a panic in this
// package is a bug in it.
var (
	// ErrConflict: another transaction won the log position this write asked
	// for. Retryable: the client library reruns the transaction from its read.
	ErrConflict = errors.New("megastore: conflict: another write won the log position")
	// ErrUnavailable: no majority answered within the configured number of
	// rounds. Retryable later.
	ErrUnavailable = errors.New("megastore: unavailable: no quorum")
	// ErrWitnessNoReads: witness sites keep no data and serve no reads.
	ErrWitnessNoReads = errors.New("megastore: witness sites serve no reads")
	// ErrReadOnlySite: read-only sites serve only snapshot and inconsistent
	// reads; they neither vote nor write.
	ErrReadOnlySite = errors.New("megastore: read-only site: no votes, writes or current reads")
	// ErrNotApplied: a snapshot read asked for a position not yet applied here.
	ErrNotApplied = errors.New("megastore: position not applied at this site")
	// ErrKeyTooLarge, ErrValueTooLarge, ErrTooManyMutations: a request or
	// message exceeds the configured limits.
	ErrKeyTooLarge      = errors.New("megastore: key too large")
	ErrValueTooLarge    = errors.New("megastore: value too large")
	ErrTooManyMutations = errors.New("megastore: too many mutations")
	// ErrMalformed: a request or message is ill-formed (empty group, missing
	// value, unknown message type, wrong destination, ...).
	ErrMalformed = errors.New("megastore: malformed request or message")
	// ErrUnknownSite: a message came from a site that is not a member.
	ErrUnknownSite = errors.New("megastore: message from a non-member site")
	// ErrTooManyRequests: the replica's bound on in-flight operations is hit.
	ErrTooManyRequests = errors.New("megastore: too many requests in flight")
	// ErrDivergence: an assertion failure, in Ready.Fatal: a second value
	// was learned at a position whose chosen value this site already knew.
	// Paxos chooses one value per position, so the protocol (or a bug
	// switch, or the storage) is broken; the driver must stop the replica.
	ErrDivergence = errors.New("megastore: assertion failed: two values chosen at one position")
	// ErrNotLoaded: the replica was restored from a partial State and does
	// not hold the group a request or message names: the driver must
	// LoadGroup it first (a driver bug, never the client's).
	ErrNotLoaded = errors.New("megastore: entity group not loaded")
	// ErrTruncated: the log position a request needs is compacted away
	// (Config.RetainPositions). A snapshot read below the truncation point
	// cannot be served (the versions it needs are gone); a write whose
	// position another site reports truncated had its position chosen
	// long ago, by a value this site does not know: if this write's value
	// was ever sent for acceptance it may be that value, so the outcome is
	// unknown (client.Classify says so), not a conflict.
	ErrTruncated = errors.New("megastore: log position truncated: chosen and compacted")
	// ErrInvalidConfig: NewReplica/Restore got an inconsistent Config.
	ErrInvalidConfig = errors.New("megastore: invalid configuration")
)
