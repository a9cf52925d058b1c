package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/tests/sim"
	"github.com/megastore-verified/megastore/tests/workloads"
)

func main() {
	// NB: driver mode (the default) runs each seed in a testing/synctest
	// bubble, which needs a *testing.T: the runner is a test run by
	// testing.Main, the one way a command gets one. It exits itself.
	testing.Init()
	flags()
	testing.Main(func(string, string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: "sim", F: run}}, nil, nil)
}

var (
	seeds, workers                                      *int
	seed                                                *uint64
	verbose, shrink, ownLoop, compare                   *bool
	bug, out, workload, workloadBug, omitOps, omitFault *string
	opts                                                sim.Options
	optFlags                                            func()
)

func flags() {
	seeds = flag.Int("seeds", 100, "how many seeds to run")
	seed = flag.Uint64("seed", 0, "first seed (with -seeds 1: exactly this seed)")
	verbose = flag.Bool("v", false, "print the event log of each run (use with one seed)")
	bug = flag.String("bug", "", "turn on one impl/core bug switch by name (see sim.BugNames)")
	out = flag.String("out", filepath.Join(os.TempDir(), "megastore-sim"), "directory for failure artifacts")
	shrink = flag.Bool("shrink", true, "shrink a failing seed's schedule")
	workers = flag.Int("j", runtime.GOMAXPROCS(0), "parallel seeds")
	d := sim.Defaults()
	groups := flag.Int("groups", d.Groups, "entity groups")
	writes := flag.Int("writes", d.Writes, "transactions per group")
	reads := flag.Int("reads", d.Reads, "current reads per group")
	snaps := flag.Int("snapshots", d.Snapshots, "snapshot reads (and scans) per group")
	snapsAt := flag.Int("snapshots-at", d.SnapshotsAt, "snapshot reads (and scans) per group at a position the client names")
	incons := flag.Int("inconsistent", d.Inconsistent, "inconsistent reads per group")
	refused := flag.Int("refused", d.Refused, "requests per group a witness or read-only site must refuse")
	parts := flag.Int("partitions", d.Partitions, "partition episodes")
	crashes := flag.Int("crashes", d.Crashes, "crash-restart episodes")
	pauses := flag.Int("pauses", d.Pauses, "process pauses")
	operatorDowns := flag.Int("operator-downs", d.OperatorDowns, "episodes of an operator marking a coordinator down")
	drop := flag.Int("drop", d.DropPercent, "message loss, percent")
	dup := flag.Int("dup", d.DupPercent, "message duplication, percent")
	drift := flag.Int("drift", d.MaxDriftPPM, "bound on each site's clock rate error, parts per million")
	workload = flag.String("workload", "", "run a workload over impl/db instead of the register: "+strings.Join(workloads.Names(), ", "))
	workloadBug = flag.String("workload-bug", "", "turn on one of the workload's bug switches (bank: TwoPhaseOneSide; queue: QueueApplyTwice, QueueLoseBatch; listappend: ListAppendLostUpdate)")
	clients := flag.Int("clients", 0, "workload client processes (0: the default)")
	clientOps := flag.Int("client-ops", 0, "operations per workload client (0: the default)")
	longDelay := flag.Int("long-delay", d.LongDelayTicks, "if above the skew margin (6 ticks): one message in 4 is late by more than it, and messages in flight outlive partitions, up to this many ticks (a lease is 40)")
	memberships := flag.Bool("memberships", false, "draw each seed's membership: 3 or 5 voters (0-2 witnesses), 0-1 read-only site")
	loseVote := flag.Bool("lose-vote-on-restart", false, "break the disk: a restarting site loads its state without its highest voted record")
	loseChosen := flag.Bool("lose-chosen-on-restart", false, "break the disk: a restarting site loads its state without the chosen record of the last position it applied (a gap a later sync covered)")
	omitOps = flag.String("omit-ops", "", "schedule ops to leave out (comma-separated, from a shrunk repro)")
	omitFault = flag.String("omit-faults", "", "schedule faults to leave out")
	ownLoop = flag.Bool("own-loop", false, "run every site through the simulator's own loop instead of the production node.Driver (driver mode, the default, also checks the driver's persist-before-send order and crashes inside a Save; the own loop is the one rapid steps by hand)")
	sendBefore := flag.Bool("send-before-persist", false, "break node.Driver: send a Ready's messages before its Save (node.Config.TestSendBeforePersist; driver mode, needs -tags "+core.BugTag+")")
	syncAfter := flag.Bool("sync-after-send", false, "break node.Driver: write, send, and only then sync (node.Config.TestSyncAfterSend; driver mode, needs -tags "+core.BugTag+")")
	retain := flag.Uint64("retain", 0, "core.Config.RetainPositions: sites truncate their logs past this many positions and catch up from compacted state (every check on, and chosen agreement)")
	heldGroups := flag.Int("held-groups", 0, "driver mode: the idle entity groups a driver holds before it evicts (node.Config.HeldGroups; 0: its default, which no run reaches); 1 evicts all the time")
	slowSaves := flag.Bool("slow-saves", false, "driver mode: every synced Save takes simulated time, so the pipelined driver steps inputs while one runs and crashes come with Readies in flight")
	pipelineDepth := flag.Int("pipeline-depth", 0, "driver mode: node.Config.PipelineDepth (0: the driver's default, 2; 1: unpipelined)")
	compare = flag.Bool("compare", false, "run the seeds in both modes, driver and own loop, alternating blocks of seeds, and print each mode's seeds per second")
	flag.Parse()

	opts = d
	opts.Groups, opts.Writes, opts.Reads, opts.Snapshots = *groups, *writes, *reads, *snaps
	opts.Partitions, opts.Crashes, opts.DropPercent, opts.DupPercent = *parts, *crashes, *drop, *dup
	opts.Pauses, opts.Inconsistent, opts.Refused = *pauses, *incons, *refused
	opts.SnapshotsAt = *snapsAt
	opts.OperatorDowns = *operatorDowns
	opts.MaxDriftPPM = *drift
	opts.LongDelayTicks = *longDelay
	opts.LoseVoteOnRestart = *loseVote
	opts.LoseChosenOnRestart = *loseChosen
	opts.Memberships = *memberships
	opts.OmitOps, opts.OmitFaults = ints(*omitOps), ints(*omitFault)
	opts.OwnLoop = *ownLoop
	opts.HeldGroups = *heldGroups
	opts.SendBeforePersist, opts.SyncAfterSend = *sendBefore, *syncAfter
	opts.RetainPositions = *retain
	opts.SlowSaves = *slowSaves
	opts.PipelineDepth = *pipelineDepth
	if *bug != "" {
		b, ok := sim.Bug(*bug)
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown bug %q; known: %s\n", *bug, strings.Join(sim.BugNames(), ", "))
			os.Exit(2)
		}
		if !core.BugsCompiled {
			fmt.Fprintf(os.Stderr, "-bug %s needs the bug switches compiled in: go run -tags %s ./tests/cmd/sim (make sim BUG=%s does)\n",
				*bug, core.BugTag, *bug)
			os.Exit(2)
		}
		opts.Bugs = b
	}
	opts.KeepLog = *verbose
	if *workload != "" {
		if _, err := workloads.New(*workload, *workloadBug); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if *workloadBug != "" && !core.BugsCompiled {
			fmt.Fprintf(os.Stderr, "-workload-bug %s needs the bug switches compiled in: go run -tags %s ./tests/cmd/sim\n", *workloadBug, core.BugTag)
			os.Exit(2)
		}
		opts.Workload, opts.WorkloadBug, opts.Clients, opts.ClientOps = *workload, *workloadBug, *clients, *clientOps
	}

}

// runSeeds runs seeds [from, to) of o on the workers; it returns the
// failing reports.
func runSeeds(o sim.Options, from, to uint64, stats *sim.Totals) []sim.Report {
	var mu sync.Mutex
	var failed []sim.Report
	next := from
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= to {
					mu.Unlock()
					return
				}
				s := next
				next++
				mu.Unlock()
				c := o
				c.Seed = s
				rep := sim.Run(c)
				mu.Lock()
				stats.Add(rep)
				if rep.Failure != "" {
					failed = append(failed, rep)
				}
				mu.Unlock()
				if *verbose {
					for _, l := range rep.Log {
						fmt.Println(l)
					}
				}
			}
		}()
	}
	wg.Wait()
	return failed
}

// compareBlock: -compare alternates the modes every this many seeds, so
// both see the same load (the machine is shared).
const compareBlock = 25

func run(t *testing.T) {
	opts.Bubble = sim.InBubble(t)
	var failed []sim.Report
	var stats sim.Totals
	if *compare {
		var took [2]time.Duration
		var tot [2]sim.Totals
		end := *seed + uint64(*seeds)
		for from := *seed; from < end; from += compareBlock {
			to := min(from+compareBlock, end)
			for m, own := range []bool{false, true} {
				o := opts
				o.OwnLoop = own
				start := time.Now()
				failed = append(failed, runSeeds(o, from, to, &tot[m])...)
				took[m] += time.Since(start)
			}
		}
		for m, name := range []string{"driver mode", "own loop"} {
			fmt.Printf("%s: %d seeds in %.1fs: %.1f seeds/s\n", name, *seeds, took[m].Seconds(), float64(*seeds)/took[m].Seconds())
		}
		fmt.Printf("driver mode takes %.2fx the own loop's time\n", took[0].Seconds()/took[1].Seconds())
		for m, name := range []string{"driver mode", "own loop"} {
			fmt.Printf("%s: %s", name, tot[m].String())
		}
	} else {
		start := time.Now()
		failed = runSeeds(opts, *seed, *seed+uint64(*seeds), &stats)
		el := time.Since(start)
		mode := "driver mode"
		if opts.OwnLoop {
			mode = "own loop"
		}
		fmt.Printf("%d seeds in %.1fs: %.1f seeds/s (%s)\n", *seeds, el.Seconds(), float64(*seeds)/el.Seconds(), mode)
		fmt.Print(stats.String())
	}
	if len(failed) == 0 {
		os.Exit(0)
	}
	sort.Slice(failed, func(i, j int) bool { return failed[i].Seed < failed[j].Seed })
	fmt.Printf("%d failing seeds; first: %d\n", len(failed), failed[0].Seed)
	for _, f := range failed {
		fmt.Printf("  seed %d: %s: %.200s\n", f.Seed, f.Check, f.Failure)
		if f.Lin.Failure != "" && f.Check != "porcupine" {
			fmt.Printf("    porcupine also: %s\n", f.Lin.Failure)
		}
	}
	f := failed[0]
	o := f.Opts
	o.KeepLog = false
	fmt.Printf("check: %s\nfailure: %s\n", f.Check, f.Failure)
	if *shrink {
		o = sim.Shrink(o, f.Check)
	}
	fmt.Printf("reproduce: %s\n", sim.ReproCommand(o))
	o.KeepLog = true
	rep := sim.Run(o)
	fmt.Printf("shrunk run (%d ops omitted, %d faults omitted): %s: %s\n", len(o.OmitOps), len(o.OmitFaults), rep.Check, rep.Failure)
	if len(rep.Trace.Context) > 0 {
		fmt.Println("shrunk spec-level trace of the failing group, up to the failing step:")
		for _, c := range rep.Trace.Context {
			fmt.Println("  ", c)
		}
	}
	if rep.Trace.Fail != nil {
		fmt.Print(rep.Trace.Fail.Text())
	}
	_ = os.MkdirAll(*out, 0o755)
	if len(rep.Trace.Context) == 0 {
		fmt.Println("shrunk run, last spec-level steps:")
		for _, s := range rep.Steps[max(0, len(rep.Steps)-40):] {
			fmt.Println("  ", s)
		}
	}
	logPath := filepath.Join(*out, fmt.Sprintf("seed-%d.log", f.Seed))
	_ = os.WriteFile(logPath, []byte(strings.Join(rep.MarkedLog(), "\n")+"\n"), 0o644)
	vis := filepath.Join(*out, fmt.Sprintf("seed-%d-porcupine.html", f.Seed))
	if err := rep.Lin.Visualize(vis, rep.Notes...); err == nil {
		fmt.Printf("event log: %s\nporcupine visualization: %s\n", logPath, vis)
	}
	os.Exit(1)
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			out = append(out, n)
		}
	}
	return out
}
