package sim

import (
	"flag"
	"fmt"
	"testing"
)

// TestOwnLoop runs seeds of the default profile through the simulator's
// own loop (Options.OwnLoop), which every other test of the package no
// longer uses: it must stay a working, checked mode.
func TestOwnLoop(t *testing.T) {
	o := Defaults()
	o.OwnLoop = true
	tot := passSeeds(t, o, 100)
	t.Log(tot.String())
	if tot.Ops.Done < 1000 || tot.Steps < 10_000 {
		t.Fatalf("the runs did too little: %d ops returned, %d spec-level steps", tot.Ops.Done, tot.Steps)
	}
}

// TestDriverSendBeforePersistIsCaught: a driver that sends a Ready's
// messages before saving it (node.Config.TestSendBeforePersist) is caught
// once a crash comes inside that Save: other sites act on a promise or
// vote the restarted site never made durable. With slow Saves too, where
// the pipelined driver steps on while a Save runs.
func TestDriverSendBeforePersistIsCaught(t *testing.T) {
	for _, slow := range []bool{false, true} {
		t.Run(fmt.Sprintf("slow-saves=%v", slow), func(t *testing.T) {
			o := Defaults()
			o.SendBeforePersist, o.SlowSaves = true, slow
			caught(t, o, 256, "of a driver that sends before it persists")
		})
	}
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
	for _, slow := range []bool{false, true} {
		t.Run(fmt.Sprintf("slow-saves=%v", slow), func(t *testing.T) {
			o := Defaults()
			o.SyncAfterSend, o.SlowSaves = true, slow
			caught(t, o, 256, "of a driver that syncs after it sends")
		})
	}
}

// driverSeeds is how many seeds of each profile TestDriverLoop runs; make
// test's race step passes more (-driver-seeds=10) to a -race build.
var driverSeeds = flag.Int("driver-seeds", 3, "seeds of each profile TestDriverLoop runs")

// TestDriverLoop runs a few seeds of every profile through the production
// driver loop, so one short run reaches every path where a driver's
// goroutine meets the simulator: messages, ticks, requests, refusals,
// pauses, crashes (inside a Save too), operator marks, eviction, reads
// served beside the replica, db workloads, and the drivers that break the
// persist-before-send contract (failing is their point: only the run
// counts). Under -race (make test) it is the check that the simulator
// hands every input to a driver in a way the race detector sees ordered.
func TestDriverLoop(t *testing.T) {
	n := *driverSeeds
	profiles := []struct {
		name    string
		opts    func(*Options)
		mayFail bool
	}{
		{"default", func(*Options) {}, false},
		{"pauses", func(o *Options) { o.Pauses, o.Partitions, o.Crashes = 3, 0, 0 }, false},
		{"crashes", func(o *Options) { o.Crashes, o.Partitions = 3, 3 }, false},
		{"memberships", func(o *Options) { o.Memberships = true }, false},
		{"eviction", func(o *Options) { o.HeldGroups = 1 }, false},
		{"bank", func(o *Options) { o.Workload = "bank" }, false},
		{"truncation", func(o *Options) { *o = truncation() }, false},
		{"slow-saves", func(o *Options) { o.SlowSaves, o.Crashes, o.Pauses = true, 3, 2 }, false},
		{"send-before-persist", func(o *Options) { o.SendBeforePersist, o.Crashes = true, 3 }, true},
		{"sync-after-send", func(o *Options) { o.SyncAfterSend, o.Crashes = true, 3 }, true},
	}
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			o := Defaults()
			p.opts(&o)
			var tot Totals
			if p.mayFail {
				for _, r := range runSeeds(t, o, 0, n) {
					tot.Add(r)
				}
			} else {
				tot = passSeeds(t, o, n)
			}
			if tot.Steps == 0 {
				t.Errorf("%d seeds took no spec-level step", n)
			}
			if o.RetainPositions > 0 && tot.Installs == 0 {
				t.Errorf("%d seeds installed no compacted state", n)
			}
			t.Logf("%d seeds, %d steps, %d ops returned", n, tot.Steps, tot.Ops.Done)
		})
	}
}

// TestSlowSaves runs seeds where every synced Save takes simulated time
// (Options.SlowSaves): the pipelined driver (node.Config.PipelineDepth)
// steps messages, ticks and requests while a Save runs, and crashes come
// inside a Save with the next Ready built. Every check must pass, and
// the runs must have done what they are for.
func TestSlowSaves(t *testing.T) {
	o := Defaults()
	o.SlowSaves, o.Crashes, o.Pauses = true, 4, 2
	var tot Totals
	for _, r := range runSeeds(t, o, 0, 200) {
		tot.Add(r)
		if r.Failure != "" {
			t.Errorf("seed %d: %s: %s\n  reproduce: %s", r.Seed, r.Check, r.Failure, ReproCommand(r.Opts))
		}
	}
	t.Logf("%s; %d inputs stepped while a Save ran, %d crashes inside one", tot.String(), tot.SteppedWhileSaving, tot.DiedSaving)
	if tot.SteppedWhileSaving < 1000 || tot.DiedSaving < 20 || float64(tot.Validated) < float64(tot.Steps) {
		t.Fatalf("the runs did too little: %d inputs stepped while saving, %d crashes inside a Save, %d of %d steps validated",
			tot.SteppedWhileSaving, tot.DiedSaving, tot.Validated, tot.Steps)
	}
}

// TestSlowSavesSameSeedSameRun: slow Saves replay a seed byte for byte
// too: the driver steps while its persister waits, but only one of them
// runs at a time.
func TestSlowSavesSameSeedSameRun(t *testing.T) {
	for seed := uint64(0); seed < 4; seed++ {
		o := Defaults()
		o.Seed, o.SlowSaves, o.Crashes = seed, true, 4
		a, b := Run(bubbled(t, o)), Run(bubbled(t, o))
		if a.Hash != b.Hash || a.Events != b.Events || a.Events == 0 {
			t.Fatalf("seed %d: two runs differ: %s (%d events) vs %s (%d events)", seed, a.Hash, a.Events, b.Hash, b.Events)
		}
	}
}
