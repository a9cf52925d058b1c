// Command jepsen runs one Jepsen-style test on the store's Docker cluster:
// a workload under a nemesis, then the heal, the checks and the report
// under store/<test>/<timestamp>/ (store/latest links to it). It ends with
// "valid: true|false|unknown" and exits 0, 1 or 2 (Jepsen's convention).
//
//	go run ./tests/cmd/jepsen --workload register --nemesis kill,partition --time-limit 120s --concurrency 10 --seed 1
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/megastore-verified/megastore/tests/jepsen"
)

func main() {
	cfg := jepsen.Config{Faults: jepsen.BuildFaults, Out: os.Stdout}
	var nemeses string
	flag.StringVar(&cfg.Workload, "workload", "register", "register, txn, scan, or over impl/db: bank, queue, listappend")
	flag.StringVar(&cfg.WorkloadBug, "workload-bug", "", "a bug switch of the bank, queue or listappend workload (TwoPhaseOneSide, QueueApplyTwice, QueueLoseBatch, ListAppendLostUpdate): the run must end invalid")
	flag.StringVar(&nemeses, "nemesis", "", "comma-separated fault kinds: "+strings.Join(jepsen.Nemeses, ",")+" (all: every kind available, "+strings.Join(jepsen.Available, ",")+"; empty: none)")
	flag.DurationVar(&cfg.TimeLimit, "time-limit", 60*time.Second, "how long the workload runs")
	flag.IntVar(&cfg.Concurrency, "concurrency", 10, "client workers")
	flag.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()%1_000_000), "seed of the workload and the nemesis schedule")
	flag.IntVar(&cfg.Groups, "groups", 5, "entity groups in use at once")
	flag.IntVar(&cfg.GroupWrites, "group-writes", 8, "register, txn, scan: retire a group after this many write operations for a fresh one (0: never); keeps every group within the spec mirror's bounds (bank, queue and listappend move to fresh groups themselves)")
	flag.BoolVar(&cfg.Traces, "trace", true, "nodes write spec-level traces (--trace-dir) and the run validates every step through the spec mirror")
	flag.StringVar(&cfg.Bug, "bug", "", "start the nodes with --test-bug NAME (a core.Bugs switch)")
	flag.StringVar(&cfg.Store, "store", "store", "results directory")
	flag.DurationVar(&cfg.OpTimeout, "op-timeout", 5*time.Second, "one operation's timeout (then info or fail)")
	flag.DurationVar(&cfg.NemesisInterval, "nemesis-interval", 10*time.Second, "pause between faults, and each fault's length")
	flag.StringVar(&cfg.LinkProfile, "link-profile", "", "put a proxy on every site-to-site link with this profile (lan, three-regions, slow-link, three-regions-capped, narrow); the link nemesis alone uses lan")
	flag.DurationVar(&cfg.Recovery, "recovery", 60*time.Second, "bound on the wait for every site to catch up after the heal")
	flag.DurationVar(&cfg.LinearizableTimeout, "lin-timeout", 60*time.Second, "bound on porcupine (then: unknown)")
	flag.Parse()
	switch nemeses {
	case "", "none":
	case "all":
		cfg.Nemeses = jepsen.Available
	default:
		cfg.Nemeses = strings.Split(nemeses, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("seed %d: go run ./tests/cmd/jepsen %s\n", cfg.Seed, strings.Join(os.Args[1:], " "))
	rep, err := jepsen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "jepsen: the run did not complete: %v\nvalid: unknown\n", err)
		os.Exit(jepsen.Unknown.ExitCode())
	}
	os.Exit(rep.Results.Valid.ExitCode())
}
