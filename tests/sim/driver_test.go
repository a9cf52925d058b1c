package sim

import (
	"testing"
)

// TestOwnLoop runs seeds of the default profile through the simulator's
// own loop (Options.OwnLoop), which every other test of the package no
// longer uses: it must stay a working, checked mode.
func TestOwnLoop(t *testing.T) {
	o := Defaults()
	o.OwnLoop = true
	var tot Totals
	for _, r := range runSeeds(t, o, 0, 100) {
		tot.Add(r)
		if r.Failure != "" {
			t.Errorf("seed %d: %s: %s", r.Seed, r.Check, r.Failure)
		}
	}
	t.Log(tot.String())
	if tot.Ops.Done < 1000 || tot.Steps < 10_000 {
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
		for _, r := range runSeeds(t, o, start, 32) {
			if r.Failure != "" {
				t.Logf("seed %d: %s: %s", r.Seed, r.Check, r.Failure)
				return
			}
		}
	}
	t.Fatal("256 seeds of a driver that sends before it persists passed every check")
}

// TestOwnLoopSameSeedSameRun: the own loop replays a seed byte for byte
// too (TestSameSeedSameRun checks driver mode, the default).
func TestOwnLoopSameSeedSameRun(t *testing.T) {
	o := Defaults()
	o.OwnLoop = true
	for seed := uint64(0); seed < 4; seed++ {
		o.Seed = seed
		a, b := Run(o), Run(o)
		if a.Hash != b.Hash || a.Events == 0 {
			t.Fatalf("seed %d: two runs differ: %s (%d events) vs %s (%d events)", seed, a.Hash, a.Events, b.Hash, b.Events)
		}
	}
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
		for _, r := range runSeeds(t, o, start, 32) {
			if r.Failure != "" {
				t.Logf("seed %d: %s: %s", r.Seed, r.Check, r.Failure)
				return
			}
		}
	}
	t.Fatal("256 seeds of a driver that syncs after it sends passed every check")
}
