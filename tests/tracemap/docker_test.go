package tracemap

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/tests/containers"
)

// Five real nodes in containers record their traces through bind mounts;
// while clients write and read at the full sites, one site is paused, one
// is killed and restarted, and one's clock jumps within the lease bound.
// Every step of every node must validate against the spec.
func TestDockerNodesTraceValidates(t *testing.T) {
	if _, err := containers.Connect(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is unavailable: %v", err)
		}
		t.Skipf("skipping the Docker trace test: no Docker engine here (%v)", err)
	}
	ctx := context.Background()
	t0 := time.Now()
	say := func(format string, args ...any) {
		t.Logf("%6.1fs "+format, append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	// One host directory for every site: each writes <site>.trace.jsonl.
	traceDir := t.TempDir()
	mounts := map[string]containers.Mounts{}
	for _, s := range containers.DefaultSites {
		mounts[s.ID] = containers.Mounts{Trace: traceDir}
	}
	r, err := containers.Up(ctx, containers.UpOptions{Mounts: mounts, Args: []string{"--test-admin", "--trace-dir", "/trace"},
		Progress: say})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			for _, s := range r.Sites {
				logs, _ := r.Logs(context.Background(), s.ID)
				t.Logf("site %s log:\n%s", s.ID, logs)
			}
		}
		if err := r.Down(context.Background()); err != nil {
			t.Errorf("removing the run: %v", err)
		}
	}()
	cfg, err := siteconfig.Parse(r.Config)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(id string) *client.Client {
		s, err := cfg.Site(id)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := remote.Dial(s.ClientAddr, core.SiteID(id))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		return rs.Client()
	}
	clients := map[string]*client.Client{"a": dial("a"), "b": dial("b"), "c": dial("c"), "r": dial("r")}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := 0
	for _, s := range []string{"a", "b", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				// A fresh group every 8 writes keeps each group inside the
				// mirror's encoding bounds, so every step is validated.
				g := core.GroupID(fmt.Sprintf("%s-%d", s, k/8))
				octx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, err := clients[s].Transaction(octx, g, func(tx *client.Tx) error {
					v, err := tx.Get([]byte("k"))
					if err != nil {
						return err
					}
					tx.Put([]byte("k"), append(v, 'x'))
					return nil
				})
				if err == nil {
					mu.Lock()
					committed++
					mu.Unlock()
				}
				_, _, _ = clients[s].Get(octx, g, []byte("k"))
				_, _, _ = clients["r"].SnapshotGet(octx, g, []byte("k"))
				cancel()
			}
		}()
	}
	step := func(what string, f func() error) {
		say("%s", what)
		if err := f(); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	time.Sleep(2 * time.Second)
	step("pause b", func() error { return r.Pause(ctx, "b") })
	time.Sleep(1500 * time.Millisecond)
	step("unpause b", func() error { return r.Unpause(ctx, "b") })
	time.Sleep(time.Second)
	step("kill c", func() error { return r.Kill(ctx, "c") })
	time.Sleep(time.Second)
	step("start c", func() error { return r.Start(ctx, "c") })
	time.Sleep(time.Second)
	step("clock of a jumps 3 ticks back (within the lease bound)", func() error {
		resp, err := http.Post("http://"+r.HTTPAddr("a").String()+"/admin/clock-offset?ticks=-3", "", nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", resp.Status)
			}
		}
		return err
	})
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	say("%d transactions committed", committed)
	if committed == 0 {
		t.Fatal("no transaction committed: the run exercised nothing")
	}
	all, err := LoadDir(traceDir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ValidateNodes(all, cfg.Members(), core.SiteID(cfg.InitialLeader))
	if err != nil {
		t.Fatal(err)
	}
	say("%s", rep.Summary())
	say("lease steps: %d LoseLease, %d RegainLease", rep.Actions["LoseLease"], rep.Actions["RegainLease"])
	if !rep.Valid() || rep.Unvalidated() > 0 {
		t.Fatalf("real nodes' traces: %s\n%s", rep.Summary(), strings.Join(rep.Context, "\n"))
	}
	if rep.PerSite["c"].Incarnations != 2 {
		t.Errorf("site c: %d incarnations in its trace, want 2", rep.PerSite["c"].Incarnations)
	}
}
