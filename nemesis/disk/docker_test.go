package disk

import (
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/tests/containers"
)

// TestNodeOnLayerInContainer runs a one-site cluster from the FROM scratch
// image with /data bind-mounted from the layer: the node starts and
// serves, and after the disk fault (SIGKILL, power loss, restart) starts
// again from what it synced and still serves its acknowledged write.
func TestNodeOnLayerInContainer(t *testing.T) {
	f := mount(t)
	ctx := context.Background()
	t0 := time.Now()
	say := func(format string, args ...any) {
		t.Logf("%5.1fs "+format, append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	cli, err := containers.Connect(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is unavailable: %v", err)
		}
		t.Skipf("skipping the container test: no Docker engine here (%v)", err)
	}
	t.Cleanup(func() { cli.Close() })
	runID := containers.NewRunID()
	t.Cleanup(func() {
		if err := containers.RemoveRun(context.Background(), cli, runID); err != nil {
			t.Errorf("removing run %s: %v", runID, err)
		}
	})
	root, err := containers.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	say("building the binary and image (run %s)", runID)
	bin, err := containers.BuildBinary(ctx, root, dir)
	if err != nil {
		t.Fatal(err)
	}
	image := "megastore-disk-" + runID + ":latest"
	if err := containers.BuildImage(ctx, cli, root, bin, image, runID); err != nil {
		t.Fatal(err)
	}
	n, err := containers.NewNetwork(ctx, cli, runID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := containers.Launch(ctx, cli, n, containers.LaunchOptions{
		Image: image, Binary: bin, WorkDir: dir,
		Config: n.Config([]containers.Site{{ID: "a", Kind: "full"}}),
		Mounts: map[string]containers.Mounts{"a": {Data: f.Mountpoint()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, err := c.Logs(context.Background(), "a")
			t.Logf("site a log (%v):\n%s", err, logs)
			if st, err := cli.ContainerInspect(context.Background(), c.Containers["a"]); err == nil && st.State != nil {
				t.Logf("site a state: %s exit %d %s", st.State.Status, st.State.ExitCode, st.State.Error)
			}
		}
		c.Close(context.Background())
	})
	if err := c.WaitHealthy(ctx, 30*time.Second, "a"); err != nil {
		t.Fatal(err)
	}
	say("site a healthy on the layer")
	if out, err := c.CLI(ctx, "put", "--site", "a", "--group", "g1", "--key", "k", "--value", "v1"); err != nil {
		t.Fatalf("put: %v\n%s", err, out)
	}
	if files, _ := f.Pending(); files == 0 {
		t.Log("nothing unsynced on the layer after the put")
	}
	entries, err := os.ReadDir(f.Backing())
	if err != nil || len(entries) == 0 {
		t.Fatalf("the node wrote nothing through the layer: %v %v", entries, err)
	}

	fault := PowerLossFault(cli, c.Nemesis(), map[string]*FS{"a": f})
	a, err := fault.Start(ctx, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	say("%s", a.Detail())
	if strings.Join(a.Sites(), ",") != "a" {
		t.Fatalf("fault hit %v, want [a]", a.Sites())
	}
	st, err := cli.ContainerInspect(ctx, c.Containers["a"])
	if err != nil || st.State.Running {
		t.Fatalf("site a still running after the fault: %v", err)
	}
	if err := a.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx, 30*time.Second, "a"); err != nil {
		t.Fatal(err)
	}
	say("site a healthy again after the power loss")
	out, err := c.CLI(ctx, "get", "--site", "a", "--group", "g1", "--key", "k")
	if err != nil || !strings.Contains(out, "v1") {
		t.Fatalf("get after the power loss: %v %q, want v1 (it was acknowledged, so synced)", err, out)
	}
	say("the acknowledged write survived")
}
