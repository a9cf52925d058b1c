// Package peer carries core messages between site processes over gRPC: a
// core.Transport that sends (one bounded queue and one reconnecting client
// stream per peer; Send never blocks and drops when the queue is full, since
// Paxos retries what matters), and the Peer service that receives, validates
// every batch through impl/wire and hands the messages to the driver.
//
// Usage:
//
//	tr := peer.NewTransport(self, addrs, peer.Options{...}); defer tr.Close()
//	node.Start(node.Config{Transport: tr, ...})
//	wirepb.RegisterPeerServer(srv, peer.NewServer(self, limits, driver.Deliver, ...))
package peer
