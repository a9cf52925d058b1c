// Package client is the Megastore client library (§3.3): Put, Get (current
// read), Scan, SnapshotGet, InconsistentGet and Transaction, which buffers
// mutations, commits them as one log entry and reruns the transaction on
// conflict. It talks to one site through the small Site interface, which
// node.Driver implements in process and a network stub can implement later.
//
// # Did my write happen?
//
// Classify (and Indeterminate) say what a write's error means for whether
// it took effect, as a history checker needs:
//
//	Ok       nil: committed at the returned position
//	Failed   ErrConflict, ErrTooManyAttempts (another value holds the position);
//	         ErrWitnessNoWrites, ErrWitnessNoReads, ErrReadOnlySite, ErrWrongSite, ErrNotApplied, ErrTooManyRequests,
//	         ErrKeyTooLarge, ErrValueTooLarge, ErrTooManyMutations, ErrMalformed,
//	         ErrUnknownSite (refused before any proposal)
//	Unknown  ErrUnavailable (a minority may hold the vote; a later proposer adopts
//	         it), ErrTruncated (the position was chosen and compacted elsewhere, maybe
//	         with our value), deadline or cancellation, a stopped site, a lost connection,
//	         anything not listed (the safe side)
//
// A read has no effect: a failed read is failed whatever its error.
//
// # Positions and attempts
//
// Every read names the log position it read at: Get, SnapshotGet,
// InconsistentGet and Scan in every mode (an inconsistent read is asked as a
// snapshot read at the site's last applied position, which returns the same
// values, since a site stores exactly what it has applied). Run is
// Transaction returning the attempt count too (TxResult); inside fn,
// Tx.Attempt says which run this is. Giving up after MaxAttempts is
// ErrTooManyAttempts, which wraps core.ErrConflict and is the same error a
// site's server-side Put gives over the wire.
package client
