package jepsen

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/nemesis"
	"github.com/megastore-verified/megastore/nemesis/disk"
	"github.com/megastore-verified/megastore/nemesis/partition"
	"github.com/megastore-verified/megastore/tests/containers"
)

// requireEngine skips with one line when there is no Docker engine or no
// FUSE, except under CI=true, where either missing is a failure.
func requireEngine(t *testing.T) {
	t.Helper()
	cli, err := containers.Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is unavailable: %v", err)
		}
		t.Skipf("skipping the Docker run: no Docker engine here (%v)", err)
	}
	cli.Close()
	if err := disk.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but FUSE (the disk layer) is unavailable: %v", err)
		}
		t.Skipf("skipping the Docker run: the disk layer needs FUSE (%v)", err)
	}
}

// keptStore is a results directory removed when the test passes and kept,
// with its path logged, when it fails: the report is the evidence.
func keptStore(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "megastore-jepsen-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the run's report is kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// testWriter sends the runner's progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// A short run on the real cluster under every fault kind built (kills,
// pauses, partitions, clock faults, power losses on the disk layer): every
// checker valid, every node's trace step validated, and the report's
// files written.
func TestShortRun(t *testing.T) {
	requireEngine(t)
	store := keptStore(t)
	cfg := Config{Workload: "register", TimeLimit: 20 * time.Second, Concurrency: 6, Seed: 1, Groups: 4, GroupWrites: 8, Traces: true,
		Nemeses: []string{"kill", "pause", "partition", "clock", "disk"}, Store: store, Faults: BuildFaults, Out: testWriter{t}, NemesisInterval: 4 * time.Second}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Results.Verdicts {
		want := Valid
		if v.Valid != want {
			t.Errorf("%s: %v, want %v: %s %v", v.Checker, v.Valid, want, v.Explanation, v.Problems)
		}
	}
	for _, f := range []string{"history.jsonl", "results.json", "porcupine.html", "latency.svg", "throughput.svg",
		"summary.md", "site-logs.json", "logs/a.log", "traces/a.trace.jsonl"} {
		if st, err := os.Stat(filepath.Join(rep.Dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
	}
	if target, err := os.Readlink(filepath.Join(store, "latest")); err != nil || filepath.Join(store, target) != rep.Dir {
		t.Errorf("store/latest -> %q (%v), want %s", target, err, rep.Dir)
	}
	h, err := ReadJSONL(filepath.Join(rep.Dir, "history.jsonl"))
	if err != nil || len(h.Ops) == 0 {
		t.Fatalf("history: %d ops, %v", len(h.Ops), err)
	}
}

// It must fail when it should: nodes started with a core bug switch end the
// run invalid, and the verdict names the checker that caught it.
func TestBugSwitchesEndInvalid(t *testing.T) {
	requireEngine(t)
	// The bug tests draw only the faults that expose their bug, so a short
	// run does not depend on the draw.
	full := func(env FaultEnv) []string {
		var out []string
		for _, h := range env.Cluster.Hosts {
			if h.Kind == "full" {
				out = append(out, h.Site)
			}
		}
		return out
	}
	majorityPowerLoss := func(env FaultEnv, kinds []string) ([]nemesis.Fault, error) {
		return []nemesis.Fault{disk.PowerLossFaultWith(env.Run.Cli, env.Cluster, env.Disks,
			disk.DrawOptions{Sites: full(env), Sizes: []string{nemesis.Majority}})}, nil
	}
	isolateFull := func(env FaultEnv, kinds []string) ([]nemesis.Fault, error) {
		return []nemesis.Fault{partition.New(env.Run.Cli, env.Cluster,
			partition.Options{Shapes: []partition.Shape{partition.Isolate}, Isolate: full(env)})}, nil
	}
	for _, c := range []struct {
		bug      string
		nemeses  []string
		caughtBy string
		faults   func(FaultEnv, []string) ([]nemesis.Fault, error)
	}{
		// A writer that skips invalidating a coordinator that did not
		// accept commits a step the spec does not enable.
		{"SkipInvalidation", nil, "real-node trace validation", nil},
		// A coordinator cut off past its lease keeps reading locally
		// (porcupine and the real-time check usually see stale reads too).
		{"LocalReadAfterLeaseLoss", []string{"partition"}, "real-node trace validation", isolateFull},
		// An acknowledgement before a majority fsynced, then a power loss
		// at a majority: a value the spec saw chosen is lost.
		{"AckBeforeMajorityFsync", []string{"disk"}, "real-node trace validation", majorityPowerLoss},
	} {
		t.Run(c.bug, func(t *testing.T) {
			if c.faults == nil {
				c.faults = BuildFaults
			}
			cfg := Config{Workload: "register", TimeLimit: 12 * time.Second, Concurrency: 6, Seed: 1, Groups: 4,
				GroupWrites: 8, Traces: true, Bug: c.bug, Nemeses: c.nemeses, Store: keptStore(t), Faults: c.faults,
				Out: testWriter{t}, NemesisInterval: 3 * time.Second}
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Results.Valid != Invalid {
				t.Fatalf("with bug %s the run is %v, want false", c.bug, rep.Results.Valid)
			}
			for _, v := range rep.Results.Verdicts {
				if v.Checker == c.caughtBy && v.Valid != Invalid {
					t.Errorf("%s did not catch %s: %v: %s", c.caughtBy, c.bug, v.Valid, v.Explanation)
				}
			}
		})
	}
}

// The workloads over impl/db on the real nodes: a short bank run under
// kills and partitions ends valid (every committed read and the final
// balances conserve the total, and every node's traced step is validated
// through the spec mirror), and the same run with a two-phase commit
// that applies one side only ends invalid, caught by the bank checker.
func TestDBWorkloadShortRun(t *testing.T) {
	requireEngine(t)
	for _, c := range []struct {
		bug     string
		nemeses []string
		want    Validity
	}{{"", []string{"kill", "partition"}, Valid}, {"TwoPhaseOneSide", nil, Invalid}} {
		t.Run("bank"+c.bug, func(t *testing.T) {
			if c.bug != "" && !core.BugsCompiled {
				t.Skipf("the runner needs -tags %s for a workload bug switch (make test passes it)", core.BugTag)
			}
			// NB: valid needs every traced step within the mirror's bounds,
			// which the workload's move to fresh accounts keeps.
			cfg := Config{Workload: "bank", WorkloadBug: c.bug, TimeLimit: 12 * time.Second, Concurrency: 4, Seed: 1, Groups: 1,
				Nemeses: c.nemeses, Store: keptStore(t), Faults: BuildFaults, Out: testWriter{t}, NemesisInterval: 3 * time.Second,
				Traces: c.bug == ""}
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Results.Valid != c.want || len(rep.Results.Verdicts) == 0 {
				t.Fatalf("the run is %v, want %v: %+v", rep.Results.Valid, c.want, rep.Results.Verdicts)
			}
			if v := rep.Results.Verdicts[0]; v.Checker != "bank workload (tests/workloads)" || v.Valid != c.want || v.Counts["checked"] == 0 {
				t.Fatalf("the bank checker: %+v (want %v with committed operations checked)", v, c.want)
			}
			if c.bug == "" {
				if len(rep.Results.Verdicts) != 2 || rep.Results.Verdicts[1].Counts["validated"] == 0 {
					t.Fatalf("no real-node trace validation: %+v", rep.Results.Verdicts)
				}
			}
		})
	}
}
