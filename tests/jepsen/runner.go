package jepsen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/nemesis"
	"github.com/megastore-verified/megastore/tests/workloads"
)

// Config is one run.
type Config struct {
	Workload string // register, txn, scan, bank, queue or listappend
	// WorkloadBug turns on a bug switch of a tests/workloads workload
	// (workloads.BugNames): the run must end invalid.
	WorkloadBug string
	Nemeses     []string // fault kinds (kill, pause, partition, link, clock, disk); none: no faults
	// LinkProfile, if set, puts a proxy on every site-to-site link with
	// this nemesis/linkproxy profile (lan, three-regions, slow-link, ...);
	// the link nemesis alone starts them on lan.
	LinkProfile string
	TimeLimit   time.Duration // of the workload (the heal and checks come after)
	Concurrency int           // client workers
	Seed        uint64        // workload draws and the nemesis schedule
	Groups      int           // entity groups in use at once
	// GroupWrites retires a group after that many write operations for a
	// fresh one (0: never), so every group stays within the spec mirror's
	// bounds and every trace step can be validated.
	GroupWrites int
	Bug         string // a core bug switch the nodes start with (--test-bug)
	Store       string // results go under Store/<test>/<timestamp>
	// OpTimeout bounds one operation; one that runs out is info (a write)
	// or fail (a read).
	OpTimeout time.Duration
	// NemesisInterval is the time between faults and each fault's length.
	NemesisInterval time.Duration
	// Recovery bounds the wait after the heal for every full site to answer
	// a current read of every group.
	Recovery time.Duration
	// LinearizableTimeout bounds porcupine (then: unknown).
	LinearizableTimeout time.Duration
	// Traces: the nodes write their spec-level traces (--trace-dir) and
	// the run validates them through the spec mirror (tests/tracemap).
	Traces bool
	// Faults builds the named fault kinds for the cluster.
	Faults func(env FaultEnv, kinds []string) ([]nemesis.Fault, error)
	Out    io.Writer // progress and the report
}

func (c *Config) defaults() error {
	if !slices.Contains(Workloads, c.Workload) {
		return fmt.Errorf("unknown workload %q (want one of %v)", c.Workload, Workloads)
	}
	if c.WorkloadBug != "" {
		if _, err := workloads.New(c.Workload, c.WorkloadBug); err != nil {
			return err
		}
		if !core.BugsCompiled {
			return fmt.Errorf("workload bug %s needs the bug switches compiled into the runner: go run -tags %s ./tests/cmd/jepsen", c.WorkloadBug, core.BugTag)
		}
	}
	if c.TimeLimit <= 0 || c.Concurrency <= 0 || c.Groups <= 0 {
		return errors.New("time limit, concurrency and groups must be positive")
	}
	if len(c.Nemeses) > 0 && c.Faults == nil {
		return fmt.Errorf("nemeses %v asked for, but no fault kinds are built in", c.Nemeses)
	}
	if c.Store == "" {
		c.Store = "store"
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 5 * time.Second
	}
	if c.NemesisInterval == 0 {
		c.NemesisInterval = 10 * time.Second
	}
	if c.Recovery == 0 {
		c.Recovery = 60 * time.Second
	}
	if c.LinearizableTimeout == 0 {
		c.LinearizableTimeout = 60 * time.Second
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	return nil
}

// Report is what a run produced.
type Report struct {
	Dir     string
	Results Results
	Summary string
}

// runState is the run in progress, shared by the workers, the nemesis and
// the progress line.
type runState struct {
	cfg   Config
	begin time.Time
	mu    sync.Mutex
	hist  History
	now   map[string]string // fault in force: key -> description
	count struct{ ops, ok, fail, info atomic.Int64 }
}

func (s *runState) say(format string, args ...any) {
	fmt.Fprintf(s.cfg.Out, "[%6.1fs] %s\n", time.Since(s.begin).Seconds(), fmt.Sprintf(format, args...))
}

func (s *runState) record(o *Operation) {
	s.count.ops.Add(1)
	switch o.Type {
	case OK:
		s.count.ok.Add(1)
	case Fail:
		s.count.fail.Add(1)
	case Info:
		s.count.info.Add(1)
	}
	s.mu.Lock()
	s.hist.Ops = append(s.hist.Ops, o)
	s.mu.Unlock()
}

func (s *runState) event(e nemesis.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hist.Events = append(s.hist.Events, e)
	key := e.Kind + " " + e.Detail
	switch e.Phase {
	case nemesis.PhaseStart:
		s.now[key] = key
	case nemesis.PhaseHeal:
		delete(s.now, key)
	}
	line := fmt.Sprintf("nemesis %s %s %s", e.Phase, e.Kind, e.Detail)
	if e.Error != "" {
		line += ": " + e.Error
	}
	fmt.Fprintf(s.cfg.Out, "[%6.1fs] %s\n", e.Time.Sub(s.begin).Seconds(), line)
}

func (s *runState) faults() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.now) == 0 {
		return "none"
	}
	var fs []string
	for _, f := range s.now {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	return strings.Join(fs, "; ")
}

// TestName names a configuration in the store: workload and nemeses.
func (c *Config) TestName() string {
	n := "none"
	if len(c.Nemeses) > 0 {
		n = strings.Join(c.Nemeses, "+")
	}
	name := c.Workload + "-" + n
	if c.Bug != "" {
		name += "-bug-" + c.Bug
	}
	return name
}

// Run runs one test: starts the cluster, runs the workload under the
// nemesis for the time limit, heals, waits for recovery, reads every
// site's log, resolves info writes, checks, and writes the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &runState{cfg: cfg, begin: time.Now(), now: map[string]string{}}
	dir, err := storeDir(cfg.Store, cfg.TestName(), s.begin)
	if err != nil {
		return nil, err
	}
	s.say("results in %s", dir)
	var nodeArgs []string
	if cfg.Bug != "" || slices.Contains(cfg.Nemeses, "clock") {
		nodeArgs = append(nodeArgs, "--test-admin")
	}
	if cfg.Bug != "" {
		nodeArgs = append(nodeArgs, "--test-bug", cfg.Bug)
	}
	traceDir := ""
	if cfg.Traces {
		traceDir = filepath.Join(dir, "traces")
	}
	links := cfg.LinkProfile
	if links == "" && slices.Contains(cfg.Nemeses, "link") {
		links = "lan"
	}
	c, err := startCluster(ctx, clusterOptions{dir: dir, traceDir: traceDir, nodeArgs: nodeArgs, say: s.say,
		disk: slices.Contains(cfg.Nemeses, "disk"), links: links})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	defer func() {
		if err := c.down(context.Background()); err != nil {
			s.say("warning: tearing the cluster down: %v", err)
		}
	}()
	sites := map[string]*remote.Site{}
	var full, readable, refusing, all []string
	for _, st := range c.sites {
		rs, err := remote.Dial(c.client[st.ID], core.SiteID(st.ID))
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		sites[st.ID] = rs
		all = append(all, st.ID)
		switch st.Kind {
		case "full":
			full = append(full, st.ID)
			readable = append(readable, st.ID)
		case "readonly":
			readable = append(readable, st.ID)
			refusing = append(refusing, st.ID)
		case "witness":
			refusing = append(refusing, st.ID)
		}
	}
	pool := newGroupPool(cfg.Groups, cfg.GroupWrites)
	s.say("waiting for every full site to serve a current read of every group")
	if err := awaitRecovery(ctx, sites, full, pool.Groups(), cfg.Recovery, s.say); err != nil {
		return nil, fmt.Errorf("cluster never served reads: %w", err)
	}
	var faults []nemesis.Fault
	if len(cfg.Nemeses) > 0 {
		if faults, err = cfg.Faults(FaultEnv{Cluster: c.nem, Run: c.run, Disks: c.disks, Config: c.config, Links: c.links}, cfg.Nemeses); err != nil {
			return nil, err
		}
	}

	if w, err := workloads.New(cfg.Workload, cfg.WorkloadBug); err == nil {
		return runDBWorkload(ctx, s, c, sites, full, pool.Groups(), faults, traceDir, dir, w)
	}

	// The workload, the nemesis and the progress line, for the time limit.
	s.begin = time.Now()
	s.say("workload %s, nemeses %v, %d workers, %d groups, seed %d, for %v",
		cfg.Workload, cfg.Nemeses, cfg.Concurrency, cfg.Groups, cfg.Seed, cfg.TimeLimit)
	wctx, stop := context.WithTimeout(ctx, cfg.TimeLimit)
	defer stop()
	var nextID atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			g := &gen{rng: rand.New(rand.NewPCG(cfg.Seed, uint64(w)+1)), groups: pool, full: full,
				readable: readable, refusing: refusing, nextID: &nextID}
			process := w
			for wctx.Err() == nil {
				o := g.next(cfg.Workload)
				o.Process = process
				// Operations run to their own timeout even past the time
				// limit: cutting them short would make needless infos.
				execute(context.WithoutCancel(ctx), sites[o.Site], o, s.begin, cfg.OpTimeout)
				s.record(o)
				if o.Type == Info {
					// Jepsen's convention: a process whose operation may
					// still be running is gone; a new one takes its place.
					process += cfg.Concurrency
				}
			}
		}(w)
	}
	nemDone := make(chan struct{})
	go func() {
		defer close(nemDone)
		runNemesis(wctx, s, faults, cfg.Seed, cfg.NemesisInterval, cfg.TimeLimit)
	}()
	stopProgress := every(5*time.Second, func() {
		s.say("ops %d  ok %d  fail %d  info %d  | faults: %s", s.count.ops.Load(), s.count.ok.Load(),
			s.count.fail.Load(), s.count.info.Load(), s.faults())
	})
	wg.Wait()
	<-nemDone
	stopProgress()
	s.say("workload done: %d ops (ok %d, fail %d, info %d)", s.count.ops.Load(), s.count.ok.Load(), s.count.fail.Load(), s.count.info.Load())

	// Recovery, then every site's log.
	groups := pool.Groups()
	s.say("healed; waiting up to %v for every full site to catch up", cfg.Recovery)
	if err := awaitRecovery(ctx, sites, full, groups, cfg.Recovery, s.say); err != nil {
		s.say("warning: not every full site recovered: %v", err)
	}
	logs := fetchLogs(ctx, sites, all, groups, s.say)
	merged := logs.Merge()
	happened, failed := Resolve(s.hist.Ops, merged)
	s.say("resolved info writes from the committed log: %d happened, %d did not", happened, failed)

	verdicts := []Verdict{}
	s.say("checking linearizability (porcupine, at most %v)", cfg.LinearizableTimeout)
	lin := Linearizable(s.hist.Ops, cfg.LinearizableTimeout)
	verdicts = append(verdicts, lin.Verdict,
		AckedInLog(s.hist.Ops, merged),
		RealTime(s.hist.Ops),
		ReadsMatchLog(s.hist.Ops, merged),
		LogsAgree(logs, full, groups),
		Refusals(s.hist.Ops))
	var validate TraceValidator
	if cfg.Traces {
		s.say("validating every node's trace through the spec mirror")
		validate = NodeTraces(c.config.Members(), core.SiteID(c.config.InitialLeader),
			func(msg string) { s.say("  %s", msg) })
	}
	verdicts = append(verdicts, TraceValidation(validate, traceDir))
	res := Results{Valid: Combine(verdicts), Verdicts: verdicts}

	rep := &Report{Dir: dir, Results: res}
	if err := writeReport(ctx, dir, s, c, lin, logs, rep); err != nil {
		s.say("warning: writing the report: %v", err)
	}
	for _, v := range verdicts {
		fmt.Fprintf(cfg.Out, "%-45s %-7v %s\n", v.Checker, v.Valid, v.Explanation)
	}
	fmt.Fprintf(cfg.Out, "\n%s\nresults: %s\nvalid: %v\n", rep.Summary, dir, res.Valid)
	return rep, nil
}

// storeDir makes store/<test>/<timestamp> and points store/latest at it.
func storeDir(store, test string, t time.Time) (string, error) {
	rel := filepath.Join(test, t.UTC().Format("20060102T150405.000Z"))
	dir := filepath.Join(store, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	latest := filepath.Join(store, "latest")
	os.Remove(latest)
	if err := os.Symlink(rel, latest); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return abs, nil
}

// awaitRecovery waits until every full site answers a current read of every
// group (a current read catches the site up first).
func awaitRecovery(ctx context.Context, sites map[string]*remote.Site, full, groups []string, limit time.Duration,
	say func(string, ...any)) error {
	deadline := time.Now().Add(limit)
	errs := make([]error, len(full))
	var done atomic.Int64
	stop := every(5*time.Second, func() {
		say("  %d of %d (site, group) pairs serve a current read", done.Load(), len(full)*len(groups))
	})
	defer stop()
	var wg sync.WaitGroup
	for i, site := range full {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = recoverSite(ctx, sites[site], site, groups, deadline, &done)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// every calls f every d until the returned stop is called: progress for a
// phase of the run's end that takes a while (thousands of groups, one
// request each per site).
func every(d time.Duration, f func()) (stop func()) {
	quit := make(chan struct{})
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(quit) }
}

func recoverSite(ctx context.Context, rs *remote.Site, site string, groups []string, deadline time.Time, done *atomic.Int64) error {
	for _, g := range groups {
		done.Add(1)
		for {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := rs.Read(rctx, core.ReadRequest{Group: core.GroupID(g), Mode: core.Current, Keys: [][]byte{[]byte("r")}})
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("site %s group %s: %w", site, g, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// fetchLogs asks every site for its committed log of every group (in
// pages of the wire's bound). A site that does not answer is left out.
func fetchLogs(ctx context.Context, sites map[string]*remote.Site, all, groups []string, say func(string, ...any)) Logs {
	out := Logs{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var done atomic.Int64
	say("fetching every site's committed log: %d groups at %d sites", len(groups), len(all))
	stop := every(5*time.Second, func() {
		say("  %d of %d (site, group) logs fetched", done.Load(), len(all)*len(groups))
	})
	defer stop()
	for _, site := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m, err := siteLog(ctx, sites[site], groups, &done); err != nil {
				say("site %s: no log: %v", site, err)
			} else {
				mu.Lock()
				out[site] = m
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

func siteLog(ctx context.Context, rs *remote.Site, groups []string, done *atomic.Int64) (map[string][]Entry, error) {
	const page = 4096
	m := map[string][]Entry{}
	for _, g := range groups {
		done.Add(1)
		for from := core.Position(1); ; from += page {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			es, err := rs.Log(lctx, core.GroupID(g), from, from+page-1)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("group %s: %w", g, err)
			}
			for _, e := range es {
				m[g] = append(m[g], entryOf(e))
			}
			if len(es) < page {
				break
			}
		}
	}
	return m, nil
}

func entryOf(e core.Entry) Entry {
	out := Entry{Position: int(e.Position), NoOp: e.Value.NoOp,
		ID: fmt.Sprintf("%s/%d/%d", e.Value.ID.Site, e.Value.ID.Incarnation, e.Value.ID.Seq)}
	for _, m := range e.Value.Mutations {
		kv := KV{K: string(m.Key)}
		if !m.Delete {
			kv.V = string(m.Value)
		}
		out.Writes = append(out.Writes, kv)
	}
	return out
}

// runNemesis runs the seed's schedule (nemesis.Plan: faults one at a time,
// gaps and lengths around interval) until ctx ends, then heals whatever the
// faults may have left (nemesis.HealAll).
func runNemesis(ctx context.Context, s *runState, faults []nemesis.Fault, seed uint64, interval, duration time.Duration) {
	if len(faults) == 0 {
		return
	}
	plan := nemesis.Plan(seed, faults, duration, interval)
	for _, p := range plan {
		s.say("planned: %s", p)
	}
	nemesis.Run(ctx, plan, faults, s.event)
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	if err := nemesis.HealAll(hctx, faults, s.event); err != nil {
		s.say("warning: healing all: %v", err)
	}
}
