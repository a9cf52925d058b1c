package sim

import (
	"flag"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
)

var driverSeeds = flag.Int("driver-seeds", 100, "seeds TestDriverLoop runs through node.Driver")

// runDriverSeeds runs seeds first..first+n-1 in driver mode, each in a
// synctest bubble of its own (Settle is synctest.Wait), as parallel
// subtests, and returns the reports in seed order.
func runDriverSeeds(t *testing.T, o Options, first uint64, n int) []Report {
	out := make([]Report, n)
	var mu sync.Mutex
	t.Run("seeds", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(first+uint64(i)), func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					c := o
					c.Seed, c.Driver, c.Settle = first+uint64(i), true, synctest.Wait
					r := Run(c)
					mu.Lock()
					out[i] = r
					mu.Unlock()
				})
			})
		}
	})
	return out
}

// TestDriverLoop runs seeds of the default profile with every site on the
// production node.Driver loop (impl/node/driver.go): its persist-before-
// send order, time handover and request completion under every check, with
// crashes that may come inside a Save.
func TestDriverLoop(t *testing.T) {
	var tot Totals
	for _, r := range runDriverSeeds(t, Defaults(), 0, *driverSeeds) {
		tot.Add(r)
		if r.Failure != "" {
			t.Errorf("seed %d: %s: %s", r.Seed, r.Check, r.Failure)
		}
	}
	t.Log(tot.String())
	if tot.Ops.Done < 10**driverSeeds || tot.Steps < 100**driverSeeds {
		t.Fatalf("the runs did too little: %d ops returned, %d spec-level steps", tot.Ops.Done, tot.Steps)
	}
}

// TestDriverSendBeforePersistIsCaught: a driver that sends a Ready's
// messages before saving it (node.Config.TestSendBeforePersist) is caught
// once a crash comes inside that Save: other sites act on a promise or
// vote the restarted site never made durable.
func TestDriverSendBeforePersistIsCaught(t *testing.T) {
	o := Defaults()
	o.SendBeforePersist = true
	for start := uint64(0); start < 256; start += 32 {
		for _, r := range runDriverSeeds(t, o, start, 32) {
			if r.Failure != "" {
				t.Logf("seed %d: %s: %s", r.Seed, r.Check, r.Failure)
				return
			}
		}
	}
	t.Fatal("256 seeds of a driver that sends before it persists passed every check")
}

// TestDriverSyncAfterSendIsCaught: a driver whose fsync comes after the
// Ready's messages left (node.Config.TestSyncAfterSend: written, sent,
// then synced, as a group commit that answers before its batch's fsync)
// is caught once a crash between the two loses the unsynced write: other
// sites counted a promise or vote the restarted site no longer holds.
func TestDriverSyncAfterSendIsCaught(t *testing.T) {
	o := Defaults()
	o.SyncAfterSend = true
	for start := uint64(0); start < 256; start += 32 {
		for _, r := range runDriverSeeds(t, o, start, 32) {
			if r.Failure != "" {
				t.Logf("seed %d: %s: %s", r.Seed, r.Check, r.Failure)
				return
			}
		}
	}
	t.Fatal("256 seeds of a driver that syncs after it sends passed every check")
}

// TestDriverSameSeedSameRun: driver mode replays a seed byte for byte (the
// event log's hash), though every site runs on goroutines.
func TestDriverSameSeedSameRun(t *testing.T) {
	a := runDriverSeeds(t, Defaults(), 0, 8)
	b := runDriverSeeds(t, Defaults(), 0, 8)
	for i := range a {
		if a[i].Hash != b[i].Hash || a[i].Events == 0 {
			t.Fatalf("seed %d: two runs differ: %s (%d events) vs %s (%d events)", i, a[i].Hash, a[i].Events, b[i].Hash, b[i].Events)
		}
	}
}
