// Package sim is the deterministic simulator: N sites running the real
// impl/core Replica under the production node.Driver loop (driver.go; or,
// with Options.OwnLoop, under the simulator's own goroutine-free loop) on
// impl/storage's crash-simulating Pebble, over a simulated network (delay,
// loss, duplication, reordering, partitions of any shape) with per-site
// clocks that drift within a bound, crashes that lose unsynced writes (in
// driver mode, inside a Save too), and client transactions and reads.
// Every choice comes from one seed (math/rand/v2 PCG), and driver mode
// hands one input at a time to the drivers inside a testing/synctest
// bubble (Options.Bubble, InBubble), so a seed replays byte for byte.
//
// Each run maps the implementation's trace events to spec-level steps as
// they happen and hands them, with the client history, to tests/check.
//
// Usage:
//
//	rep := sim.Run(sim.Options{Seed: 7, Groups: 2, Writes: 3, Bubble: sim.InBubble(t)})
//	if rep.Failure != "" { ... rep.Check, rep.ReproCommand() ... }
//	small := sim.Shrink(opts)  // fewer ops and faults, same failure
package sim
