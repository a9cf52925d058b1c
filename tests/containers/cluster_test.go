package containers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// One 5-site cluster serves every Docker test of the package: starting one
// costs seconds on a 2-core machine, and each test heals what it breaks.
var (
	sharedOnce sync.Once
	sharedRun  *Run
	sharedErr  error
	sharedT0   = time.Now()
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedRun != nil {
		if err := sharedRun.Down(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "removing run %s: %v\n", sharedRun.ID, err)
			code = 1
		}
	}
	os.Exit(code)
}

// shared returns the package's running cluster, or skips with one line
// when there is no engine outside CI. Under CI=true a missing engine is a
// failure: the container tests are part of what CI promises to run.
func shared(t *testing.T) *Run {
	t.Helper()
	cli, err := Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is unavailable: %v", err)
		}
		t.Skipf("skipping container tests: no Docker engine here (%v)", err)
	}
	cli.Close()
	sharedOnce.Do(func() {
		sharedRun, sharedErr = Up(context.Background(), UpOptions{
			Args: []string{"--test-admin"},
			Progress: func(format string, args ...any) {
				fmt.Fprintf(os.Stderr, "%6.1fs "+format+"\n", append([]any{time.Since(sharedT0).Seconds()}, args...)...)
			},
		})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range sharedRun.Sites {
				logs, _ := sharedRun.Logs(context.Background(), s.ID)
				t.Logf("site %s log:\n%s", s.ID, logs)
			}
		}
	})
	return sharedRun
}

// cliT runs a CLI command and fails the test on error.
func cliT(t *testing.T, c *Cluster, args ...string) string {
	t.Helper()
	t0 := time.Now()
	out, err := c.CLI(context.Background(), args...)
	t.Logf("%6.1fs megastore %s (%.1fs)", time.Since(sharedT0).Seconds(), strings.Join(args, " "), time.Since(t0).Seconds())
	if err != nil {
		t.Fatalf("megastore %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// The same core that runs in-process and on loopback runs in containers:
// a write at one site is read at another; with one site killed, writes go
// on; on restart from its own disk, its current read catches up first.
func TestClusterInContainers(t *testing.T) {
	r := shared(t)
	ctx := context.Background()
	cliT(t, r.Cluster, "put", "--site", "a", "--group", "g1", "--key", "k", "--value", "v1")
	if out := cliT(t, r.Cluster, "get", "--site", "b", "--group", "g1", "--key", "k"); !strings.Contains(out, "v1") {
		t.Fatalf("get at b after put at a: %q, want v1", out)
	}
	if err := r.Kill(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	cliT(t, r.Cluster, "put", "--site", "a", "--group", "g1", "--key", "k", "--value", "v2")
	if out := cliT(t, r.Cluster, "get", "--site", "b", "--group", "g1", "--key", "k"); !strings.Contains(out, "v2") {
		t.Fatalf("get at b with c down: %q, want v2", out)
	}
	if err := r.Start(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitHealthy(ctx, 30*time.Second, "c"); err != nil {
		t.Fatal(err)
	}
	if out := cliT(t, r.Cluster, "get", "--site", "c", "--group", "g1", "--key", "k"); !strings.Contains(out, "v2") {
		t.Fatalf("current read at restarted c: %q, want v2 (it must catch up first)", out)
	}
	// The witness and the read-only site are members: a snapshot read at
	// the read-only site sees the committed value once it has applied it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := r.CLI(ctx, "get", "--site", "r", "--snapshot", "--group", "g1", "--key", "k")
		if err == nil && strings.Contains(out, "v2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot read at read-only r: %v %q, want v2 eventually", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Cleanup by run id: removing abandoned runs leaves a live run alone and
// removes one whose owner process is gone; RemoveRun removes only its own.
func TestCleanupOnlyOwnRun(t *testing.T) {
	r := shared(t)
	ctx := context.Background()
	// A "dead" run: a network labelled as made by a process that has
	// exited (the pid of a finished child).
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := cmd.Process.Pid
	deadRun := fmt.Sprintf("%d-dead", deadPID)
	labels := runLabels(deadRun)
	labels[LabelPID] = fmt.Sprint(deadPID)
	n, err := r.Cli.NetworkCreate(ctx, "megastore-"+deadRun, network.CreateOptions{Driver: "bridge", Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	// Another live run (this process, another id) with a network.
	liveRun := NewRunID() + "-other"
	n2, err := r.Cli.NetworkCreate(ctx, "megastore-"+liveRun, network.CreateOptions{Driver: "bridge", Labels: runLabels(liveRun)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Cli.NetworkRemove(context.Background(), n2.ID) })
	removed, err := RemoveAbandoned(ctx, r.Cli)
	if err != nil {
		t.Fatal(err)
	}
	// NB: other crashed runs on this engine may be removed too; never a live one.
	if !slices.Contains(removed, deadRun) || slices.Contains(removed, r.ID) || slices.Contains(removed, liveRun) {
		t.Errorf("RemoveAbandoned removed %v, want %s and neither live run %s nor %s", removed, deadRun, r.ID, liveRun)
	}
	if _, err := r.Cli.NetworkInspect(ctx, n.ID, network.InspectOptions{}); err == nil {
		t.Errorf("the dead run's network %s is still there", n.ID)
		r.Cli.NetworkRemove(ctx, n.ID)
	}
	own := filters.NewArgs(filters.Arg("label", LabelRun+"="+r.ID))
	cs, err := r.Cli.ContainerList(ctx, container.ListOptions{All: true, Filters: own})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(r.Sites) {
		t.Errorf("the live run has %d containers after RemoveAbandoned, want %d", len(cs), len(r.Sites))
	}
	if err := RemoveRun(ctx, r.Cli, liveRun); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Cli.NetworkInspect(ctx, n2.ID, network.InspectOptions{}); err == nil {
		t.Errorf("RemoveRun(%s) left its network", liveRun)
	}
	cs, _ = r.Cli.ContainerList(ctx, container.ListOptions{All: true, Filters: own})
	if len(cs) != len(r.Sites) {
		t.Errorf("RemoveRun of another run id removed this run's containers: %d left", len(cs))
	}
}
