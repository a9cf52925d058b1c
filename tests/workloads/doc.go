// Package workloads holds the transactional workloads of issue 12 over
// package db, each with its checker, for any driver: the deterministic
// simulator (tests/sim, -workload) runs them on its simulated sites.
//
//	bank        transfers between accounts in different entity groups, each a
//	            two-phase transaction (db.TwoPhase); reads of every balance in
//	            one read-only two-phase transaction. Checked: every committed
//	            read, and the final balances, sum to the initial total, and no
//	            balance is negative.
//	queue       transactions send messages to other groups (Tx.Send); deliverers
//	            (db.Deliver) apply them, each handler appending the message's id
//	            to its receiver's row. After the faults heal a final delivery
//	            drains every outbox. Checked: every acknowledged message applied
//	            exactly once at its receiver; a failed send never; one of unknown
//	            outcome at most once; nothing applied that was not sent.
//	listappend  Elle-style list-append transactions inside groups
//	            (tests/listappend), with a final read of every list. Checked by
//	            listappend.Check: no G0, G1a, G1b, G1c, G-single, G2 or
//	            incompatible order.
//
// Each workload works in generations of fresh entity groups (workloads.go,
// rotation) so that every group stays within the bounds of the trace
// checker's spec mirror; a driver opens every DB of a run with
// Workload.Open, whose site watches what each group took.
//
// A driver calls Op for each client operation (a client's operations one at
// a time; clients may run concurrently), Final once after the faults have
// healed and the clients stopped, then Check. Histories record an operation
// as unknown from its start, so one cut off by the end of a run counts as
// one that may have happened.
//
// Each workload has bug switches (Bugs) that break the DB or the client on
// purpose; its checker must catch them (see the tests of tests/sim).
package workloads
