// Command bench runs this store and etcd side by side on one machine and
// prints a table of ratios (issue 14): three members each as processes on
// loopback, data on the same disk, default durability, the same clients and
// loads, runs alternated (megastore, etcd, megastore, etcd, ...), then the
// same over a link proxy that delays every peer link (the WAN phase).
//
//	cd tests/bench && go run . -duration 5s -rounds 3
//
// `make bench-etcd` runs it with the short defaults.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/version"
)

type options struct {
	duration time.Duration
	rounds   int
	clients  []int
	wanRTT   time.Duration
	valueLen int
	dir      string
	keep     bool
}

func main() {
	if runChild(os.Args[1:]) {
		return
	}
	var o options
	var clients string
	flag.DurationVar(&o.duration, "duration", 2*time.Second, "how long each system runs each workload in each round")
	flag.IntVar(&o.rounds, "rounds", 2, "rounds: each runs every workload on megastore then on etcd")
	flag.StringVar(&clients, "clients", "16,64", "client counts of the throughput workloads, comma-separated")
	flag.DurationVar(&o.wanRTT, "wan-rtt", 20*time.Millisecond, "round trip between members in the WAN phase (0: no WAN phase)")
	flag.IntVar(&o.valueLen, "value-bytes", 64, "bytes per written value")
	flag.StringVar(&o.dir, "dir", "", "where the members keep their data (default: a new temporary directory, removed after)")
	flag.BoolVar(&o.keep, "keep", false, "keep the data directory and the members' logs")
	flag.Parse()
	for _, f := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: -clients %q: want positive counts separated by commas\n", clients)
			os.Exit(2)
		}
		o.clients = append(o.clients, n)
	}
	if o.duration <= 0 || o.rounds < 1 || o.valueLen < 1 || o.wanRTT < 0 {
		fmt.Fprintln(os.Stderr, "bench: -duration, -rounds and -value-bytes must be positive, -wan-rtt not negative")
		os.Exit(2)
	}
	if err := bench(o, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// phase is one pair of clusters and the workloads run on them.
type phase struct {
	name      string
	wan       *wan
	workloads []workload
}

func atLeader(s system, c int) int { return s.Leader() }
func atOther(s system, c int) int  { return (s.Leader() + 1) % members }
func spread(s system, c int) int   { return c % members }

func phases(o options) []phase {
	key := func(prefix string) func(int) string {
		return func(c int) string { return fmt.Sprintf("%s-%d", prefix, c) }
	}
	lo := []workload{{name: "write, 1 client at the leader", clients: 1, at: atLeader, key: key("w1")}}
	for _, n := range o.clients {
		lo = append(lo, workload{name: fmt.Sprintf("write, %d clients over all members", n), clients: n,
			at: spread, key: key(fmt.Sprint("w", n))})
	}
	lo = append(lo,
		workload{name: "current read, 1 client at the leader", clients: 1, read: true, at: atLeader, key: key("r")},
		workload{name: "current read, 1 client at another member", clients: 1, read: true, at: atOther, key: key("r")})
	out := []phase{{name: "loopback", workloads: lo}}
	if o.wanRTT > 0 {
		out = append(out, phase{name: fmt.Sprintf("WAN: every peer link %v round trip", o.wanRTT), wan: &wan{rtt: o.wanRTT},
			workloads: []workload{
				{name: "write, 1 client at the leader", clients: 1, at: atLeader, key: key("wan-w1")},
				{name: "write, 1 client at another member", clients: 1, at: atOther, key: key("wan-w1-other")},
				{name: "current read, 1 client at the leader", clients: 1, read: true, at: atLeader, key: key("wan-r")},
				{name: "current read, 1 client at another member", clients: 1, read: true, at: atOther, key: key("wan-r")},
			}})
	}
	return out
}

func bench(o options, out io.Writer) error {
	dir := o.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "megastore-bench-"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	value := []byte(strings.Repeat("v", o.valueLen))
	etcdName := "etcd v" + version.Version
	load := fmt.Sprintf("%d members each as processes on loopback, data under %s, default durability (fsync); "+
		"%d rounds x %v per system per workload, alternated (megastore then etcd); %d-byte values; "+
		"one client connection per member shared by its clients; %d CPUs (GOMAXPROCS %d)",
		members, dir, o.rounds, o.duration, o.valueLen, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(out, "megastore vs %s: %s\n", etcdName, load)
	var tables []string
	for _, ph := range phases(o) {
		fmt.Fprintf(out, "==> %s: starting 3 megastore sites and 3 etcd members\n", ph.name)
		sub := filepath.Join(dir, strings.Fields(ph.name)[0])
		t0 := time.Now()
		ms, et, err := startBoth(sub, ph.wan)
		if err != nil {
			return fmt.Errorf("%s: %w", ph.name, err)
		}
		fmt.Fprintf(out, "    both up after %.1fs\n", time.Since(t0).Seconds())
		systems := []system{ms, et}
		res := make([][2]result, len(ph.workloads))
		for wi, w := range ph.workloads {
			for _, s := range systems {
				if err := prepare(s, w, value); err != nil {
					ms.Close()
					et.Close()
					return fmt.Errorf("%s: %s: %w", ph.name, w.name, err)
				}
			}
			for r := range o.rounds {
				for si, s := range systems {
					got := run(s, w, o.duration, value)
					fmt.Fprintf(out, "  round %d/%d %-9s %-42s %7d ops %8.0f/s p50 %7.2f ms p99 %7.2f ms%s\n",
						r+1, o.rounds, s.Name(), w.name, got.ops, got.rate(), got.quantile(0.5), got.quantile(0.99), errNote(got))
					if got.ops == 0 {
						ms.Close()
						et.Close()
						return fmt.Errorf("%s: %s on %s: no operation succeeded: %v", ph.name, w.name, s.Name(), got.err)
					}
					res[wi][si].add(got)
				}
			}
		}
		ms.Close()
		et.Close()
		tables = append(tables, table(ph, res, etcdName))
	}
	fmt.Fprintf(out, "\nLoad: %s.\n", load)
	fmt.Fprintln(out, "Ratios are megastore/etcd: below 1x megastore is faster (latency) or slower (ops/s).")
	for _, t := range tables {
		fmt.Fprint(out, "\n", t)
	}
	return nil
}

// startBoth starts the two clusters, each in its own subdirectory.
func startBoth(dir string, w *wan) (*megastore, *etcd, error) {
	for _, d := range []string{"megastore", "etcd"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, nil, err
		}
	}
	ms, err := startMegastore(filepath.Join(dir, "megastore"), w)
	if err != nil {
		return nil, nil, fmt.Errorf("starting megastore: %w", err)
	}
	et, err := startEtcd(filepath.Join(dir, "etcd"), w)
	if err != nil {
		ms.Close()
		return nil, nil, fmt.Errorf("starting etcd: %w", err)
	}
	return ms, et, nil
}

func errNote(r result) string {
	if r.errs == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d errors, first: %v)", r.errs, r.err)
}

// table renders one phase as Markdown, so the README can quote it as is.
func table(ph phase, res [][2]result, etcdName string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n| workload | measure | megastore | %s | megastore/etcd |\n|---|---|---:|---:|---:|\n", ph.name, etcdName)
	for wi, w := range ph.workloads {
		m, e := res[wi][0], res[wi][1]
		row := func(name, measure string, mv, ev float64, unit string) {
			ratio := "-"
			if ev > 0 {
				ratio = fmt.Sprintf("%.2fx", mv/ev)
				if mv/ev < 0.1 {
					ratio = fmt.Sprintf("%.3fx", mv/ev)
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s%s | %s%s | %s |\n", name, measure, num(mv), unit, num(ev), unit, ratio)
		}
		name := w.name
		if w.clients > 1 {
			row(name, "ops/s", m.rate(), e.rate(), "")
			name = ""
		}
		row(name, "p50", m.quantile(0.5), e.quantile(0.5), " ms")
		row("", "p99", m.quantile(0.99), e.quantile(0.99), " ms")
		if m.errs+e.errs > 0 {
			fmt.Fprintf(&b, "| | errors | %d | %d | |\n", m.errs, e.errs)
		}
	}
	return b.String()
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
