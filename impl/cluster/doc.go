// Package cluster runs N replicas in one process: one node.Driver per site
// on crash-simulating Pebble storage, connected by an in-memory transport
// that can cut links, all ticking from one clock. Tests and benchmarks use
// it, through the client library, as a whole Megastore.
package cluster
