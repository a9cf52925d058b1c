package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the harness binary: the
// harness starts every member as a child process of its own executable.
func TestMain(m *testing.M) {
	runChild(os.Args[1:])
	os.Exit(m.Run())
}

// TestSmoke runs the harness at tiny counts (both systems, both phases)
// and checks the table has every row with figures for both systems: the
// harness still starts both clusters, drives them and reports. It fails if
// either system answers no operation of a workload. No figure is checked:
// timings on a shared machine say nothing in a test.
func TestSmoke(t *testing.T) {
	var out strings.Builder
	o := options{duration: 150 * time.Millisecond, rounds: 1, clients: []int{3}, wanRTT: 10 * time.Millisecond,
		valueLen: 8, dir: t.TempDir()}
	if err := bench(o, &out); err != nil {
		t.Fatalf("%v\noutput so far:\n%s", err, out.String())
	}
	got := out.String()
	t.Log(got)
	for _, want := range []string{
		"| write, 1 client at the leader | p50 |",
		"| write, 3 clients over all members | ops/s |",
		"| current read, 1 client at the leader | p50 |",
		"| current read, 1 client at another member | p50 |",
		"| write, 1 client at another member | p50 |",
		"WAN: every peer link 10ms round trip",
		"Load: 3 members each",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the output has no %q", want)
		}
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "| ") && strings.Contains(line, " ms |") && strings.Contains(line, "| 0.00 ms |") {
			t.Errorf("a latency of zero: %s", line)
		}
		if strings.Contains(line, "| errors |") {
			t.Errorf("operations failed: %s", line)
		}
	}
}

// failing is a system whose every operation fails.
type failing struct{}

func (failing) Name() string                                   { return "failing" }
func (failing) Put(context.Context, int, string, []byte) error { return errors.New("down") }
func (failing) Get(context.Context, int, string) error         { return errors.New("down") }
func (failing) Leader() int                                    { return 0 }
func (failing) Close()                                         {}

// TestFailuresAreReported: a system that answers nothing is caught where
// the smoke test relies on it: run counts no operation (bench then stops
// with an error naming the workload) and the table lists the errors.
func TestFailuresAreReported(t *testing.T) {
	w := workload{name: "w", clients: 2, at: spread, key: func(c int) string { return "k" }}
	if err := prepare(failing{}, w, []byte("v")); err == nil || !strings.Contains(err.Error(), "preparing") {
		t.Errorf("prepare on a failing system: %v", err)
	}
	r := run(failing{}, w, 20*time.Millisecond, []byte("v"))
	if r.ops != 0 || r.errs == 0 || r.err == nil {
		t.Fatalf("run on a failing system: %d ops, %d errors, %v", r.ops, r.errs, r.err)
	}
	tab := table(phase{name: "p", workloads: []workload{w}}, [][2]result{{r, r}}, "etcd")
	if !strings.Contains(tab, "| errors |") {
		t.Errorf("the table hides the errors:\n%s", tab)
	}
}
