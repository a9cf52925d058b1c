// Package sim is the deterministic simulator: N sites running the real
// impl/core Replica on impl/storage's crash-simulating Pebble, in one
// goroutine-free event loop, over a simulated network (delay, loss,
// duplication, reordering, partitions of any shape) with per-site clocks
// that drift within a bound, crashes that lose unsynced writes, and client
// transactions and reads. Every choice comes from one seed (math/rand/v2
// PCG), so a seed replays byte for byte.
//
// Each run maps the implementation's trace events to spec-level steps as
// they happen and hands them, with the client history, to tests/check.
//
// Usage:
//
//	rep := sim.Run(sim.Options{Seed: 7, Groups: 2, Writes: 3})
//	if rep.Failure != "" { ... rep.Check, rep.ReproCommand() ... }
//	small := sim.Shrink(opts)  // fewer ops and faults, same failure
package sim
