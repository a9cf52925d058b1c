package sim

import (
	"os"
	"strconv"
	"testing"

	"github.com/megastore-verified/megastore/tests/workloads"
)

// workloadSeeds is how many seeds of each workload CI runs; the issue's
// 1,000 per workload run with MEGASTORE_WORKLOAD_SEEDS=1000 (or
// go run ./tests/cmd/sim -workload ... -seeds 1000).
func workloadSeeds(t *testing.T, ci int) int {
	if v := os.Getenv("MEGASTORE_WORKLOAD_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("MEGASTORE_WORKLOAD_SEEDS=%q: want a positive number", v)
		}
		return n
	}
	return ci
}

func workloadOpts(name, bug string) Options {
	o := Defaults()
	o.Workload, o.WorkloadBug = name, bug
	return o
}

// TestWorkloadsHaveNoAnomaly runs the bank, queue and list-append
// workloads over impl/db on the simulated cluster, with its faults, and
// their checkers, the trace validation (every step) and the mirror
// agreement on every seed; a floor on what was checked keeps a workload
// that does nothing from passing.
func TestWorkloadsHaveNoAnomaly(t *testing.T) {
	for _, w := range []struct {
		name string
		ci   int
	}{{"bank", 12}, {"queue", 40}, {"listappend", 40}} {
		t.Run(w.name, func(t *testing.T) {
			n := workloadSeeds(t, w.ci)
			tot := passSeeds(t, workloadOpts(w.name, ""), n)
			t.Log(tot.String())
			if tot.WorkloadChecked < 5*n {
				t.Fatalf("the runs checked too little: %d committed operations in %d seeds", tot.WorkloadChecked, n)
			}
			// NB: every step: the workloads move to fresh groups before one
			// outgrows the mirror's bounds (tests/workloads, rotation).
			if tot.Validated != tot.Steps || tot.Steps < 100*n {
				t.Fatalf("only %d of %d spec-level steps validated against the mirror", tot.Validated, tot.Steps)
			}
		})
	}
}

// TestWorkloadBugsAreCaught: each workload's checker catches its broken
// implementation (a two-phase commit applying one side only, a queue
// apply that is not idempotent or that drops messages, a list-append that
// reads outside its transaction and so loses appends) within a few seeds.
func TestWorkloadBugsAreCaught(t *testing.T) {
	for _, name := range workloads.Names() {
		for _, bug := range workloads.BugNames(name) {
			t.Run(bug, func(t *testing.T) {
				if r := caught(t, workloadOpts(name, bug), 64, "of "+bug); r.Check != name {
					t.Fatalf("seed %d: caught by %s, not by the %s checker", r.Seed, r.Check, name)
				}
			})
		}
	}
}

// TestWorkloadSameSeedSameRun: a workload run replays byte for byte (the
// processes hand control to the event loop explicitly).
func TestWorkloadSameSeedSameRun(t *testing.T) {
	for _, name := range workloads.Names() {
		o := workloadOpts(name, "")
		o.Seed = 3
		a, b := Run(bubbled(t, o)), Run(bubbled(t, o))
		if a.Hash != b.Hash || a.Events != b.Events || a.Workload == nil || a.Workload.Summary != b.Workload.Summary {
			t.Fatalf("%s: two runs of seed 3 differ: %s (%d events) vs %s (%d events)", name, a.Hash, a.Events, b.Hash, b.Events)
		}
	}
}

// TestWorkloadSendBeforePersistIsCaught: the db workloads run on the
// production driver loop (driver mode, the default), so a driver that
// sends a Ready's messages before it saves them
// (node.Config.TestSendBeforePersist) is caught in them too, once a crash
// comes inside such a Save.
func TestWorkloadSendBeforePersistIsCaught(t *testing.T) {
	for _, name := range workloads.Names() {
		t.Run(name, func(t *testing.T) {
			o := workloadOpts(name, "")
			o.SendBeforePersist = true
			caught(t, o, 256, "of a driver that sends before it persists")
		})
	}
}
