// Package check judges one simulated run: it replays the spec-level steps
// the simulator derived from the implementation's trace through
// spec.Tracer (trace validation, with the spec's invariants evaluated on
// the mirrored state after every step), and checks client histories with
// porcupine (current reads and read-modify-write transactions
// linearizable per entity group) and against the chosen log (snapshot
// reads). It knows nothing of how the run was produced.
//
// Usage:
//
//	res := check.Trace(run)             // run: sites, proposers, readers, steps
//	lin := check.Linearizable(history)  // per-group register model
//	bad := check.Snapshots(snaps, log)  // snapshot reads vs the chosen log
package check
