// Package listappend is a transactional workload and its checker, in the
// style of Elle (Kingsbury and Alvaro, VLDB 2020): transactions append
// unique values to lists and read whole lists; from the history alone the
// checker infers each list's version order and the dependencies between
// transactions, and reports the anomalies of Adya's hierarchy:
//
//	G1a       a read saw a value appended by a failed transaction
//	G1b       a read saw a value that was not its writer's last append to that list
//	order     two reads of one list that are not prefixes of one another
//	G0        a cycle of write-write edges
//	G1c       a cycle of write-write and write-read edges
//	G-single  a cycle with exactly one read-write (anti-dependency) edge
//	G2        a cycle with several read-write edges
//
// Edges: T1 ww T2 when T2 appended the value right after T1's in a list's
// order; T1 wr T2 when T2 read a list whose last value T1 appended; T1 rw T2
// when T1 read a list and T2 appended the next value after what T1 saw.
// A serializable store (a Megastore group is serial in log order) has none.
// Transactions with an unknown outcome may or may not have happened: their
// appends count if someone read them, and they are never G1a.
//
// Run drives the workload over package db (each list is a row of one
// entity group) and returns the history; Check checks any history.
package listappend
