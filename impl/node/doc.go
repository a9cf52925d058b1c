// Package node drives one core.Replica: it owns the goroutines, the clock,
// the storage and the transport, and follows the driver's contract in
// core/doc.go (persist, send, apply, complete results, Advance). The
// replica's goroutine steps inputs and takes Readies; a persister
// goroutine saves, sends and applies them in order, while the replica
// steps on into the next (Config.PipelineDepth). It is the
// reusable loop under every host of a replica: the in-process cluster
// (impl/cluster) today, the gRPC daemon later.
//
// Usage:
//
//	d, err := node.Start(node.Config{Core: cfg, Storage: st, Transport: tr, Clock: clk})
//	tr delivers incoming messages with d.Deliver(m)
//	res, err := d.Write(ctx, req) / d.Read(ctx, req)
//	d.Stop()
package node
