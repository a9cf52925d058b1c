// Package client is the Megastore client library (§3.3): Put, Get (current
// read), Scan, SnapshotGet, InconsistentGet and Transaction, which buffers
// mutations, commits them as one log entry and reruns the transaction on
// conflict. It talks to one site through the small Site interface, which
// node.Driver implements in process and a network stub can implement later.
package client
