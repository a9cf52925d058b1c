package sim

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/megastore-verified/megastore/tests/check"
)

// bubbled gives a driver-mode run (the default) a testing/synctest bubble
// of t.
func bubbled(t *testing.T, o Options) Options {
	if o.Bubble == nil {
		o.Bubble = InBubble(t)
	}
	return o
}

// runSeeds runs seeds first..first+n-1 on every core and returns the
// reports in seed order.
func runSeeds(t *testing.T, o Options, first uint64, n int) []Report {
	o = bubbled(t, o)
	out := make([]Report, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := o
				c.Seed = first + uint64(i)
				// NB: on a goroutine of its own: a run whose bubble fails
				// the test from inside (the race detector does) ends the
				// goroutine that ran it, and a worker gone would leave the
				// sender below blocked until the test timed out.
				done := make(chan struct{})
				go func() {
					defer close(done)
					out[i] = Run(c)
				}()
				<-done
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// passSeeds runs seeds 0..n-1, fails t for each seed that fails a check
// (with the command that reproduces it) and returns what the runs did.
func passSeeds(t *testing.T, o Options, n int) Totals {
	t.Helper()
	var tot Totals
	for _, r := range runSeeds(t, o, 0, n) {
		tot.Add(r)
		if r.Failure != "" {
			t.Errorf("seed %d: %s: %s\n  reproduce: %s", r.Seed, r.Check, r.Failure, ReproCommand(r.Opts))
		}
	}
	return tot
}

// caught runs seeds 0..n-1, 16 at a time on every core, until one fails a
// check, logs that seed and returns its report: the first failing seed in
// seed order. If none fails, t fails: "n seeds <what> passed every check".
func caught(t *testing.T, o Options, n int, what string) Report {
	t.Helper()
	for start := 0; start < n; start += 16 {
		for _, r := range runSeeds(t, o, uint64(start), min(16, n-start)) {
			if r.Failure != "" {
				t.Logf("seed %d: %s: %s", r.Seed, r.Check, r.Failure)
				return r
			}
		}
	}
	t.Fatalf("%d seeds %s passed every check", n, what)
	return Report{}
}

// TestSameSeedSameRun: the event log (every delivery, tick, fault, client
// call and trace event, with its simulated time) hashes the same on two
// runs of a seed, and differently for different seeds.
func TestSameSeedSameRun(t *testing.T) {
	seen := map[string]uint64{}
	for seed := uint64(0); seed < 8; seed++ {
		o := Defaults()
		o.Seed = seed
		a, b := Run(bubbled(t, o)), Run(bubbled(t, o))
		if a.Hash != b.Hash || a.Events != b.Events || a.Events == 0 {
			t.Fatalf("seed %d: two runs differ: %s (%d events) vs %s (%d events)", seed, a.Hash, a.Events, b.Hash, b.Events)
		}
		if s, dup := seen[a.Hash]; dup {
			t.Fatalf("seeds %d and %d give the same run", s, seed)
		}
		seen[a.Hash] = seed
	}
}

// TestThousandSeeds is the CI run: 1,000 seeds of the default size, every
// check on every seed, and a floor on what the runs exercised so that a
// broken workload cannot pass by doing nothing.
func TestThousandSeeds(t *testing.T) {
	n := 1000
	tot := passSeeds(t, Defaults(), n)
	t.Log(tot.String())
	if tot.Ops.Done < 10*n || tot.Steps < 100*n {
		t.Fatalf("the runs did too little: %d ops returned, %d spec-level steps", tot.Ops.Done, tot.Steps)
	}
	if tot.Ops.SnapshotsAt < n/2 {
		t.Fatalf("only %d snapshot reads at a named position returned", tot.Ops.SnapshotsAt)
	}
	if tot.Ops.FailedOver == 0 {
		t.Fatal("no op failed over to another site: reads at a cut-off site went untested")
	}
	if float64(tot.Validated) < 0.99*float64(tot.Steps) {
		t.Fatalf("only %d of %d steps validated against the mirror", tot.Validated, tot.Steps)
	}
}

// TestHeavierProfiles: 500 seeds each of profiles that stress what the
// default does not: contention (a validation racing an invalidation),
// partition storms (leases lost and waited out; this profile found the
// lease-block hole), pauses (leases running out unnoticed), crash storms;
// and 300 of long delays (lease grants arriving leases late).
// Every spec-level step of them must be validated: none may outgrow the
// mirror's encoding bounds.
func TestHeavierProfiles(t *testing.T) {
	profiles := map[string]func(*Options){
		"contention":  func(o *Options) { *o = contention() },
		"partitions":  func(o *Options) { o.Groups, o.Writes, o.Reads, o.Partitions, o.Crashes = 1, 6, 6, 4, 0 },
		"pauses":      func(o *Options) { o.Pauses, o.Partitions, o.Crashes = 3, 0, 0 },
		"crashes":     func(o *Options) { o.Crashes, o.Partitions = 3, 3 },
		"long-delays": func(o *Options) { *o = longDelays() },
		"memberships": func(o *Options) { o.Memberships = true },
		"eviction":    func(o *Options) { o.HeldGroups = 1 },
		// Truncated groups evicted and loaded again: the ballots kept
		// below the point for late Invalidates must come back from disk.
		"truncation-eviction": func(o *Options) { *o = truncation(); o.Groups, o.HeldGroups = 2, 1 },
	}
	seeds := map[string]int{"long-delays": 300, "memberships": 300, "eviction": 300, "truncation-eviction": 300}
	for _, name := range []string{"contention", "partitions", "pauses", "crashes", "long-delays", "memberships", "eviction", "truncation-eviction"} {
		t.Run(name, func(t *testing.T) {
			o := Defaults()
			profiles[name](&o)
			n := 500
			if k, ok := seeds[name]; ok {
				n = k
			}
			tot := passSeeds(t, o, n)
			if tot.Validated != tot.Steps {
				t.Errorf("only %d of %d steps validated (%d beyond the mirror's encoding bounds)",
					tot.Validated, tot.Steps, tot.Deviations[check.DevBudget])
			}
			t.Logf("%d of %d steps validated; %d ops returned", tot.Validated, tot.Steps, tot.Ops.Done)
		})
	}
}

// contention is the profile under which a validation can race an
// invalidation at a higher position: one group, many reads and writes,
// heavy message loss.
func contention() Options {
	o := Defaults()
	o.Groups, o.Writes, o.Reads, o.DropPercent = 1, 6, 10, 25
	return o
}

// longDelays is the profile in which one message in four is late by more
// than the skew margin, up to three leases (120 ticks), and a message on
// its way when a partition begins still arrives.
func longDelays() Options {
	o := Defaults()
	o.LongDelayTicks = 120
	return o
}

// truncation is the profile in which sites keep one position of each
// group's log: one group, many writes and reads, crashes, partitions and
// lost messages, so sites fall behind the others' truncation points and
// catch up from compacted state, and proposals meet truncated positions.
func truncation() Options {
	o := Defaults()
	o.Groups, o.Writes, o.Reads, o.Crashes, o.Partitions, o.DropPercent = 1, 12, 6, 3, 3, 10
	o.RetainPositions = 1
	return o
}

// TestTruncationProfile: 300 seeds of the truncation profile, every step
// validated against the mirror (an install maps to the spec's Learns, see
// core/truncate.go), and judged by porcupine, the snapshot check and
// chosen agreement; the runs must truncate and install compacted states,
// or the profile tests nothing.
func TestTruncationProfile(t *testing.T) {
	n := 300
	tot := passSeeds(t, truncation(), n)
	truncs, installs := tot.Truncations, tot.Installs
	t.Logf("truncation: %d seeds, %d ops returned, %d truncations, %d compacted states installed", n, tot.Ops.Done, truncs, installs)
	if truncs < n || installs < n/20 || tot.Ops.Done < 10*n || tot.Steps < 100*n {
		t.Fatalf("the runs did too little: %d truncations, %d installs, %d ops returned, %d steps", truncs, installs, tot.Ops.Done, tot.Steps)
	}
	if tot.Validated != tot.Steps {
		t.Errorf("only %d of %d steps validated", tot.Validated, tot.Steps)
	}
}

// bugCases lists every bug switch of impl/core with the profile it is
// hunted under.
func bugCases() []struct {
	name    string
	profile string
	opts    Options
} {
	var out []struct {
		name    string
		profile string
		opts    Options
	}
	for _, name := range BugNames() {
		o, profile := Defaults(), "default"
		switch name {
		case "ValidateWithoutPositionCheck":
			o, profile = contention(), "contention"
		case "LeaseFromGrantArrival":
			o, profile = longDelays(), "long-delays"
		case "MajorityOfDataSites":
			o.Memberships, profile = true, "memberships"
		case "TruncatedAcceptorVotes":
			o, profile = truncation(), "truncation"
		}
		o.Bugs, _ = Bug(name)
		out = append(out, struct {
			name    string
			profile string
			opts    Options
		}{name, profile, o})
	}
	return out
}

const (
	maxSeedsPerBug     = 2000
	maxSeedsClientOnly = 192
)

// TestBugSwitchesAreCaught: for each bug switch, from each of three
// starting seeds, the simulator finds a violation within 2,000 seeds. It
// logs the table tests/README.md quotes: which check caught it first and
// the median number of seeds needed.
func TestBugSwitchesAreCaught(t *testing.T) {
	offsets := []uint64{0, 100_000, 200_000}
	var rows []string
	for _, bc := range bugCases() {
		var needed []int
		checks := map[string]int{}
		porcupineToo := 0
		for _, off := range offsets {
			found := false
			// NB: batches of 16 seeds on every core; the first failing seed
			// of a batch, in seed order, is the one counted.
			for start := 0; start < maxSeedsPerBug && !found; start += 16 {
				for i, r := range runSeeds(t, bc.opts, off+uint64(start), 16) {
					if r.Failure != "" {
						needed = append(needed, start+i+1)
						checks[r.Check]++
						if r.Lin.Failure != "" {
							porcupineToo++
						}
						found = true
						break
					}
				}
			}
			if !found {
				t.Errorf("%s: no violation in %d seeds from seed %d", bc.name, maxSeedsPerBug, off)
			}
		}
		if len(needed) == 0 {
			continue
		}
		// The client-level checks alone (what a Jepsen-style test would
		// see), from seed 0: the first seed whose history porcupine or the
		// snapshot check rejects.
		clientOnly := "none"
	client:
		for start := 0; start < maxSeedsClientOnly; start += 16 {
			for i, r := range runSeeds(t, bc.opts, uint64(start), 16) {
				if r.Lin.Failure != "" || r.Snap != "" {
					clientOnly = fmt.Sprintf("seed %d", start+i)
					break client
				}
			}
		}
		sort.Ints(needed)
		var names []string
		for c := range checks {
			names = append(names, c)
		}
		slices.Sort(names)
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %d | %v | %d of %d | %s |", bc.name, bc.profile,
			strings.Join(names, ", "), needed[len(needed)/2], needed, porcupineToo, len(needed), clientOnly))
	}
	t.Log("\n| bug switch | profile | caught first by | seeds needed (median) | per offset | porcupine also failed | client checks alone (<= 192 seeds) |\n|---|---|---|---|---|---|---|\n" +
		strings.Join(rows, "\n"))
}

// TestShrinkKeepsTheFailure: the shrinker removes schedule items and
// message loss while the same check still fails (AckBeforeMajorityFsync,
// first failing seed of the default profile).
func TestShrinkKeepsTheFailure(t *testing.T) {
	o := Defaults()
	o.Bugs.AckBeforeMajorityFsync = true
	var first Report
	for seed := uint64(0); seed < 200 && first.Failure == ""; seed++ {
		o.Seed = seed
		first = Run(bubbled(t, o))
	}
	if first.Failure == "" {
		t.Fatal("no failing seed in 200")
	}
	small := Shrink(bubbled(t, o), first.Check)
	r := Run(bubbled(t, small))
	if r.Failure == "" || r.Check != first.Check {
		t.Fatalf("the shrunk run no longer fails %s: %+v", first.Check, r.Failure)
	}
	if len(small.OmitOps)+len(small.OmitFaults) == 0 {
		t.Fatal("the shrinker removed nothing")
	}
	t.Logf("seed %d: %s\n  shrunk: %s\n  %s", o.Seed, first.Failure, ReproCommand(small), r.Failure)
}

// TestDriftBeyondTheBoundIsCaught breaks the assumption the lease argument
// rests on (clocks drift apart by less than ClockSkewTicks over a lease,
// here 40 % against the 2 % the default allows; the tick of rounding each
// side adds makes 25 % pass) and shows the checks
// noticing: a writer waits out a coordinator's lease by its own fast clock
// while the coordinator, by its slow one, still holds it.
func TestDriftBeyondTheBoundIsCaught(t *testing.T) {
	o := Defaults()
	o.Groups, o.Writes, o.Reads, o.Partitions, o.Crashes = 1, 6, 6, 4, 0
	o.MaxDriftPPM = 400_000
	if r := caught(t, o, 100, "with clocks drifting 25 % apart"); !strings.Contains(r.Failure, "WaitOutLease") {
		t.Fatalf("seed %d failed, but not at a WaitOutLease", r.Seed)
	}
}

// TestLostVoteIsCaughtAtRestart: a restarting site whose disk lost a
// synced vote is caught when it restarts (mirror agreement in the other
// direction: it must hold every vote and promise the mirror took for it),
// not only if it later grants a second value.
func TestLostVoteIsCaughtAtRestart(t *testing.T) {
	o := Defaults()
	o.LoseVoteOnRestart = true
	r := caught(t, o, 32, "whose restarts lose a vote")
	if r.Check != "mirror agreement" || !strings.Contains(r.Failure, "at restart") {
		t.Fatalf("seed %d: caught, but not at the restart", r.Seed)
	}
}

// TestLostChosenRecordIsCaughtAtRestart: chosen records are written without
// fsync, so a restart may lose the last ones learned (a suffix of each
// group's log, node.Kept); a disk that loses one a later synced Ready
// covered (a gap in the write-ahead log) is caught when the site restarts.
func TestLostChosenRecordIsCaughtAtRestart(t *testing.T) {
	o := Defaults()
	o.LoseChosenOnRestart = true
	r := caught(t, o, 32, "whose restarts lose a synced chosen record")
	if r.Check != "mirror agreement" || !strings.Contains(r.Failure, "a sync covers") {
		t.Fatalf("seed %d: caught, but not at the restart: %s: %s", r.Seed, r.Check, r.Failure)
	}
}

// TestQuorumBugNeedsAnotherMembership: MajorityOfDataSites counts the
// same majority as the voters' in the default membership, so seeds of it
// pass; drawn memberships (two witnesses, no read-only site) expose it.
func TestQuorumBugNeedsAnotherMembership(t *testing.T) {
	o := Defaults()
	o.Bugs.MajorityOfDataSites = true
	for _, r := range runSeeds(t, o, 0, 48) {
		if r.Failure != "" {
			t.Fatalf("seed %d of the default membership failed: %s: %s", r.Seed, r.Check, r.Failure)
		}
	}
	o.Memberships = true
	r := caught(t, o, 96, "of drawn memberships")
	t.Logf("seed %d's sites: %v", r.Seed, r.Opts.Sites)
}
