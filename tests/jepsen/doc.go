// Package jepsen is the Jepsen-style suite on real nodes: workloads that
// drive the store's containers over gRPC while a nemesis injects faults, a
// history of every operation (invoke, then ok, fail or info: Jepsen's
// types, with info for a write whose outcome is unknown, per
// client.Classify), checkers that judge it, and the report.
//
// Before checking, info writes are resolved from the committed log every
// site reports (the Log RPC), as etcd's robustness tests do with their WAL:
// a write whose unique value is in the log happened there; one whose
// proposed position holds another value did not.
//
// # Checkers (each a Verdict: valid true, false or unknown, with why)
//
//   - Linearizable: porcupine, per entity group, over current reads and
//     scans, writes and transactions as a key-value map; a time bound
//     answers unknown, never hangs.
//   - AckedInLog: every acknowledged write is in the final log exactly once,
//     at the position it was acknowledged at; no failed write is in it; no
//     entry holds a value nobody wrote.
//   - RealTime: an operation that begins after another of its group ended is
//     at an equal (a current read) or later (a write) position.
//   - ReadsMatchLog: current and snapshot reads and scans, and transactions'
//     reads, equal the replayed log at their position; inconsistent reads
//     return a value the key held.
//   - LogsAgree: after the heal, any two sites agree at every position both
//     know, and every full site knows the whole log.
//   - Refusals: a write or current read sent to the witness or the read-only
//     site is refused with the right sentinel.
//   - TraceValidation: every node's spec-level trace replayed through the
//     spec mirror (tests/tracemap; unknown when not run or when a group
//     outgrew the mirror's bounds, never valid then).
//
// # Nemeses
//
// BuildFaults builds nemesis/process (kill, pause), nemesis/partition,
// nemesis/clock (within the lease bound) and nemesis/disk (power loss on
// the FUSE layer; the nodes' data directories are mounted on it when disk
// is asked for); nemesis.Plan, Run and HealAll schedule them from the seed,
// one at a time. "link" is not built yet (it needs link proxies in the
// cluster's config).
//
// # Usage
//
//	go run ./tests/cmd/jepsen --workload txn --nemesis all --time-limit 120s --seed 1
//	go run ./tests/cmd/jepsen --workload bank --nemesis kill,partition --time-limit 30s --trace=false
//	rep, err := jepsen.Run(ctx, jepsen.Config{...}) // rep.Results.Valid, rep.Dir
//
// bank, queue and listappend are tests/workloads' workloads over impl/db
// (dbworkload.go): their own checker judges the run, not the register's.
//
// A run's verdict is the worst of them; the exit code is Jepsen's: 0 valid,
// 1 invalid, 2 unknown.
package jepsen
