package jepsen

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/tests/containers"
)

// requireEngine skips with one line when there is no Docker engine,
// except under CI=true, where a missing engine is a failure.
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
}

// testWriter sends the runner's progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// A short run on the real cluster under kills, pauses, partitions and
// clock faults (not yet the disk: see tests/README, found by the runner): every
// checker valid, every node's trace step validated, and the report's
// files written.
func TestShortRun(t *testing.T) {
	requireEngine(t)
	store := t.TempDir()
	cfg := Config{Workload: "register", TimeLimit: 20 * time.Second, Concurrency: 6, Seed: 1, Groups: 4, GroupWrites: 8, Traces: true,
		Nemeses: []string{"kill", "pause", "partition", "clock"}, Store: store, Faults: BuildFaults, Out: testWriter{t}, NemesisInterval: 4 * time.Second}
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
	for _, c := range []struct {
		bug      string
		nemeses  []string
		caughtBy string
	}{
		// A writer that skips invalidating a coordinator that did not
		// accept commits a step the spec does not enable.
		{"SkipInvalidation", nil, "real-node trace validation"},
		// A coordinator cut off past its lease keeps reading locally
		// (porcupine and the real-time check usually see stale reads too).
		{"LocalReadAfterLeaseLoss", []string{"partition"}, "real-node trace validation"},
	} {
		t.Run(c.bug, func(t *testing.T) {
			cfg := Config{Workload: "register", TimeLimit: 12 * time.Second, Concurrency: 6, Seed: 1, Groups: 4,
				GroupWrites: 8, Traces: true, Bug: c.bug, Nemeses: c.nemeses, Store: t.TempDir(), Faults: BuildFaults,
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
