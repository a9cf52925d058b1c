// Package storage implements core.Storage on Pebble, standing in for the
// paper's Bigtable (§4.2): each entity group's acceptor state, log and
// multi-version data rows sit contiguously under one group prefix, and the
// group's root row holds the log metadata (the applied position).
//
// Layout (every integer is 8 bytes big-endian; strings are escaped so that
// no encoded string is a prefix of another):
//
//	h                                       hard state (incarnation)
//	g <group> 0x00 'm'                      root row: applied position
//	g <group> 0x00 'a' <position>           acceptor state (maxBal, vote)
//	g <group> 0x00 'l' <position>           known-committed log entry
//	g <group> 0x00 'd' <row key> <^position> one version of a data row
//
// Data versions are keyed by the complement of their position, so the first
// key at or after (row, ^at) is the newest version at or below at: that is
// what a snapshot read at a position needs.
//
// Save writes with Sync when asked: acceptor state is durable before the
// core's reply leaves (see core/doc.go). Apply writes without Sync: applied
// data is re-derived from the log after a crash.
//
// OpenMem gives the same code on pebble's crash-simulating in-memory
// filesystem; Crash simulates power loss, keeping only what was synced.
package storage
