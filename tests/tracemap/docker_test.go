package tracemap

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis/disk"
	"github.com/megastore-verified/megastore/tests/containers"
)

// dockerRun is a 5-site Docker cluster whose nodes record their traces in
// one host directory, optionally with each node's /data on the FUSE disk
// layer.
type dockerRun struct {
	t        *testing.T
	r        *containers.Run
	cfg      *siteconfig.File
	traceDir string
	disks    map[string]*disk.FS
	clients  map[string]*client.Client
	t0       time.Time
}

func (d *dockerRun) say(format string, args ...any) {
	d.t.Helper()
	d.t.Logf("%6.1fs "+format, append([]any{time.Since(d.t0).Seconds()}, args...)...)
}

func upDocker(t *testing.T, withDisk bool, args ...string) *dockerRun {
	return upDockerDisk(t, withDisk, 0, args...)
}

// upDockerDisk is upDocker with every fsync on the disk layer taking
// syncDelay, as a real disk's flush does.
func upDockerDisk(t *testing.T, withDisk bool, syncDelay time.Duration, args ...string) *dockerRun {
	t.Helper()
	if _, err := containers.Connect(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is unavailable: %v", err)
		}
		t.Skipf("skipping the Docker trace test: no Docker engine here (%v)", err)
	}
	if withDisk {
		if err := disk.Available(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true but FUSE is unavailable: %v", err)
			}
			t.Skipf("skipping the disk-layer test: %v", err)
		}
	}
	d := &dockerRun{t: t, traceDir: t.TempDir(), disks: map[string]*disk.FS{}, clients: map[string]*client.Client{}, t0: time.Now()}
	mounts := map[string]containers.Mounts{}
	for _, s := range containers.DefaultSites {
		// One trace directory for every site (each writes <site>.trace.jsonl),
		// never on the disk layer: a power loss must not drop trace lines.
		m := containers.Mounts{Trace: d.traceDir}
		if withDisk {
			root := t.TempDir()
			backing, mnt := filepath.Join(root, "backing"), filepath.Join(root, "data")
			for _, dir := range []string{backing, mnt} {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			fs, err := disk.Mount(backing, mnt, disk.Options{Name: "megastore-test-" + s.ID, SyncDelay: syncDelay})
			if err != nil {
				t.Fatal(err)
			}
			d.disks[s.ID] = fs
			m.Data = mnt
		}
		mounts[s.ID] = m
	}
	r, err := containers.Up(context.Background(), containers.UpOptions{Mounts: mounts,
		Args: append([]string{"--test-admin", "--trace-dir", "/trace"}, args...), Progress: d.say})
	if err != nil {
		d.unmount()
		t.Fatal(err)
	}
	d.r = r
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range r.Sites {
				logs, _ := r.Logs(context.Background(), s.ID)
				t.Logf("site %s log:\n%s", s.ID, logs)
			}
		}
		if err := r.Down(context.Background()); err != nil {
			t.Errorf("removing the run: %v", err)
		}
		d.unmount()
	})
	if d.cfg, err = siteconfig.Parse(r.Config); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c", "r"} {
		s, _ := d.cfg.Site(id)
		rs, err := remote.Dial(s.ClientAddr, core.SiteID(id))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		d.clients[id] = rs.Client()
	}
	return d
}

func (d *dockerRun) unmount() {
	for _, fs := range d.disks {
		_ = fs.Unmount()
	}
}

// workload runs read-modify-write transactions, current reads and snapshot
// reads at the given full sites until stop closes; wait returns how many
// transactions committed. A fresh group every 8 writes keeps each group
// inside the mirror's encoding bounds, so every step is validated.
func (d *dockerRun) workload(sites ...string) (stop func() int) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := 0
	for _, s := range sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-done:
					return
				default:
				}
				g := core.GroupID(fmt.Sprintf("%s-%d", s, k/8))
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := d.clients[s].Transaction(ctx, g, func(tx *client.Tx) error {
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
				_, _, _ = d.clients[s].Get(ctx, g, []byte("k"))
				_, _, _ = d.clients["r"].SnapshotGet(ctx, g, []byte("k"))
				cancel()
			}
		}()
	}
	return func() int {
		close(done)
		wg.Wait()
		d.say("%d transactions committed", committed)
		return committed
	}
}

func (d *dockerRun) step(what string, f func(ctx context.Context) error) {
	d.t.Helper()
	d.say("%s", what)
	if err := f(context.Background()); err != nil {
		d.t.Errorf("%s: %v", what, err)
	}
}

// powerLoss cuts the power of sites: their disks drop every write not yet
// synced at that instant (an fsync in flight fails), then their containers
// are killed, and anything written in between is dropped too; then they
// start again. NB: the disks go first: a process killed inside an fsync
// stays until the FUSE request returns, so a kill first would let every
// fsync in flight finish.
func (d *dockerRun) powerLoss(sites ...string) {
	d.t.Helper()
	d.step(fmt.Sprintf("power loss at %v", sites), func(ctx context.Context) error {
		lost := map[string]disk.Loss{}
		for _, s := range sites {
			loss, err := d.disks[s].PowerLoss()
			if err != nil {
				return err
			}
			lost[s] = loss
			if err := d.r.Kill(ctx, s); err != nil {
				// NB: the fsync the power loss failed may have stopped the
				// node already (Pebble treats a failed WAL sync as fatal):
				// it is down either way.
				info, ierr := d.r.Cli.ContainerInspect(ctx, d.r.Containers[s])
				if ierr != nil || info.State == nil || info.State.Running {
					return err
				}
			}
		}
		for _, s := range sites {
			wait, errc := d.r.Cli.ContainerWait(ctx, d.r.Containers[s], container.WaitConditionNotRunning)
			select {
			case <-wait:
			case err := <-errc:
				return err
			}
			late, err := d.disks[s].PowerLoss()
			if err != nil {
				return err
			}
			d.say("  %s lost %d unsynced bytes in %d files (%d more written before it died)", s,
				lost[s].Bytes, lost[s].Files, late.Bytes)
		}
		for _, s := range sites {
			if err := d.r.Start(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

func (d *dockerRun) validate() NodeReport {
	d.t.Helper()
	all, err := LoadDir(d.traceDir)
	if err != nil {
		d.t.Fatal(err)
	}
	rep, err := ValidateNodes(all, d.cfg.Members(), core.SiteID(d.cfg.InitialLeader))
	if err != nil {
		d.t.Fatal(err)
	}
	d.say("%s", rep.Summary())
	d.say("lease steps: %d LoseLease, %d RegainLease", rep.Actions["LoseLease"], rep.Actions["RegainLease"])
	return rep
}

// Five real nodes in containers record their traces through bind mounts;
// while clients write and read at the full sites, one site is paused, one
// is killed and restarted, and one's clock jumps within the lease bound.
// Every step of every node must validate against the spec.
func TestDockerNodesTraceValidates(t *testing.T) {
	d := upDocker(t, false)
	stop := d.workload("a", "b", "c")
	time.Sleep(2 * time.Second)
	d.step("pause b", func(ctx context.Context) error { return d.r.Pause(ctx, "b") })
	time.Sleep(1500 * time.Millisecond)
	d.step("unpause b", func(ctx context.Context) error { return d.r.Unpause(ctx, "b") })
	time.Sleep(time.Second)
	d.step("kill c", func(ctx context.Context) error { return d.r.Kill(ctx, "c") })
	time.Sleep(time.Second)
	d.step("start c", func(ctx context.Context) error { return d.r.Start(ctx, "c") })
	time.Sleep(time.Second)
	d.step("clock of a jumps 3 ticks back (within the lease bound)", func(ctx context.Context) error {
		resp, err := http.Post("http://"+d.r.HTTPAddr("a").String()+"/admin/clock-offset?ticks=-3", "", nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", resp.Status)
			}
		}
		return err
	})
	time.Sleep(2 * time.Second)
	if stop() == 0 {
		t.Fatal("no transaction committed: the run exercised nothing")
	}
	rep := d.validate()
	if !rep.Valid() || rep.Unvalidated() > 0 {
		t.Fatalf("real nodes' traces: %s\n%s", rep.Summary(), strings.Join(rep.Context, "\n"))
	}
	if rep.PerSite["c"].Incarnations != 2 {
		t.Errorf("site c: %d incarnations in its trace, want 2", rep.PerSite["c"].Incarnations)
	}
}

// With each node's data on the FUSE disk layer, a power loss at two full
// sites loses only what they had not synced: a correct node restarts with
// every vote it traced, and every step validates.
func TestDockerPowerLossKeepsWhatWasSynced(t *testing.T) {
	d := upDockerDisk(t, true, 20*time.Millisecond)
	stop := d.workload("a")
	time.Sleep(3 * time.Second)
	d.powerLoss("b", "c")
	time.Sleep(3 * time.Second)
	if stop() == 0 {
		t.Fatal("no transaction committed: the run exercised nothing")
	}
	rep := d.validate()
	if !rep.Valid() || rep.Unvalidated() > 0 {
		t.Fatalf("real nodes' traces after a power loss: %s\n%s", rep.Summary(), strings.Join(rep.Context, "\n"))
	}
}

// The same power loss with nodes that acknowledge votes before fsync
// (AckBeforeMajorityFsync): a restarted site lacks a vote it answered, and
// the run is invalid, either because the restart finds the vote forgotten
// or because a writer counted an acceptance the mirror never saw.
func TestDockerPowerLossCatchesAckBeforeFsync(t *testing.T) {
	d := upDocker(t, true, "--test-bug", "AckBeforeMajorityFsync")
	stop := d.workload("a")
	time.Sleep(3 * time.Second)
	d.powerLoss("b", "c")
	time.Sleep(3 * time.Second)
	stop()
	rep := d.validate()
	if rep.Valid() {
		t.Fatalf("AckBeforeMajorityFsync with a power loss at a majority: the run validated: %s", rep.Summary())
	}
}

// A driver that sends a Ready's messages before persisting it (the
// contract in impl/core/doc.go broken), on disks whose fsync takes 20 ms as
// a real one's does: a power loss at two full sites lands inside a flush
// whose votes were already answered, the sites restart without them, and
// the run is invalid. The correct driver on the same disks is
// TestDockerPowerLossKeepsWhatWasSynced with the same delay.
func TestDockerPowerLossCatchesSendBeforePersist(t *testing.T) {
	d := upDockerDisk(t, true, 20*time.Millisecond, "--test-bug", "SendBeforePersist")
	stop := d.workload("a")
	defer stop()
	time.Sleep(2 * time.Second)
	// NB: a power loss catches the bug only if it lands inside a flush
	// whose votes were already answered: rounds of three until one does
	// (one round was enough in 3 of 4 runs here), at most five rounds.
	for round := 1; round <= 5; round++ {
		for range 3 {
			d.powerLoss("b", "c")
			time.Sleep(time.Second)
		}
		if rep := d.validate(); !rep.Valid() {
			d.say("caught in round %d", round)
			return
		}
	}
	t.Fatal("SendBeforePersist with fifteen power losses at a majority: the run validated")
}
