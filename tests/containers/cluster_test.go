package containers

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// requireDocker returns a client, or skips with one line when there is no
// engine outside CI. Under CI=true a missing engine is a failure: the
// container tests are part of what CI promises to run.
func requireDocker(t *testing.T) *Cluster {
	t.Helper()
	ctx := context.Background()
	cli, err := Connect(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is unavailable: %v", err)
		}
		t.Skipf("skipping container tests: no Docker engine here (%v)", err)
	}
	t.Cleanup(func() { cli.Close() })
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, err := BuildBinary(ctx, root, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := RemoveLeftovers(ctx, cli); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("megastore-test-%d", time.Now().UnixNano()%1_000_000)
	image := name + ":latest"
	if err := BuildImage(ctx, cli, root, bin, image); err != nil {
		t.Fatal(err)
	}
	c, err := Start(ctx, cli, name, image, bin, dir, []Site{{"a", "full"}, {"b", "full"}, {"c", "full"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for site := range c.Containers {
				logs, _ := c.Logs(context.Background(), site)
				t.Logf("site %s log:\n%s", site, logs)
			}
		}
		if err := c.Close(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		cli.ImageRemove(context.Background(), image, imageRemoveOptions())
	})
	t0 := time.Now()
	if err := c.WaitHealthy(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster healthy in %.1fs", time.Since(t0).Seconds())
	return c
}

// The same core that runs in-process and on loopback runs in containers:
// a write at one site is read at another; with one site killed, writes go
// on; on restart from its own disk, its current read catches up first.
func TestClusterInContainers(t *testing.T) {
	c := requireDocker(t)
	ctx := context.Background()
	start := time.Now()
	cli := func(args ...string) string {
		t.Helper()
		defer func(t0 time.Time) {
			t.Logf("%6.1fs megastore %s (%.1fs)", time.Since(start).Seconds(), strings.Join(args, " "), time.Since(t0).Seconds())
		}(time.Now())
		out, err := c.CLI(ctx, args...)
		if err != nil {
			t.Fatalf("megastore %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	cli("put", "--site", "a", "--group", "g1", "--key", "k", "--value", "v1")
	if out := cli("get", "--site", "b", "--group", "g1", "--key", "k"); !strings.Contains(out, "v1") {
		t.Fatalf("get at b after put at a: %q, want v1", out)
	}
	if err := c.Kill(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	cli("put", "--site", "a", "--group", "g1", "--key", "k", "--value", "v2")
	if out := cli("get", "--site", "b", "--group", "g1", "--key", "k"); !strings.Contains(out, "v2") {
		t.Fatalf("get at b with c down: %q, want v2", out)
	}
	if err := c.Restart(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if out := cli("get", "--site", "c", "--group", "g1", "--key", "k"); !strings.Contains(out, "v2") {
		t.Fatalf("current read at restarted c: %q, want v2 (it must catch up first)", out)
	}
}
