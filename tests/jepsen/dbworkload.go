package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/nemesis"
	"github.com/megastore-verified/megastore/tests/workloads"
)

// runDBWorkload runs one of tests/workloads (bank, queue, listappend) over
// impl/db on the real nodes: Concurrency clients, each a DB at one full
// site over gRPC, for the time limit under the nemesis; then the heal, the
// workload's final phase at a full site, and its checker (plus the
// real-node trace validation when the nodes trace). The register
// checkers do not apply: the history is the workload's own.
func runDBWorkload(ctx context.Context, s *runState, c *cluster, sites map[string]*remote.Site, full, groups []string,
	faults []nemesis.Fault, traceDir, dir string, w workloads.Workload) (*Report, error) {
	cfg := s.cfg
	s.begin = time.Now()
	s.say("workload %s over impl/db (bug %q), nemeses %v, %d clients, seed %d, for %v",
		cfg.Workload, cfg.WorkloadBug, cfg.Nemeses, cfg.Concurrency, cfg.Seed, cfg.TimeLimit)
	wctx, stop := context.WithTimeout(ctx, cfg.TimeLimit)
	defer stop()
	open := func(site string, seed uint64) *db.DB {
		return w.Open(sites[site], db.Options{Seed: seed})
	}
	var wg sync.WaitGroup
	for i := 0; i < cfg.Concurrency; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d := open(full[i%len(full)], cfg.Seed<<8|uint64(i))
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1))
			for wctx.Err() == nil {
				// NB: an operation runs to its own timeout past the time
				// limit, as in Run; the workload records it unknown until
				// it returns.
				octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.OpTimeout)
				err := w.Op(octx, d, rng)
				cancel()
				s.count.ops.Add(1)
				if err != nil {
					// NB: a site that is down refuses at once; do not spin.
					s.count.fail.Add(1)
					time.Sleep(time.Duration(50+rng.IntN(100)) * time.Millisecond)
				}
			}
		}(i)
	}
	nemDone := make(chan struct{})
	go func() {
		defer close(nemDone)
		runNemesis(wctx, s, faults, cfg.Seed, cfg.NemesisInterval, cfg.TimeLimit)
	}()
	stopProgress := every(5*time.Second, func() {
		s.say("ops %d (%d with an error) | faults: %s", s.count.ops.Load(), s.count.fail.Load(), s.faults())
	})
	wg.Wait()
	<-nemDone
	stopProgress()
	s.say("workload done: %d operations (%d with an error)", s.count.ops.Load(), s.count.fail.Load())

	s.say("healed; waiting up to %v for every full site to catch up", cfg.Recovery)
	if err := awaitRecovery(ctx, sites, full, groups, cfg.Recovery, s.say); err != nil {
		s.say("warning: not every full site recovered: %v", err)
	}
	s.say("final phase at %s (drain queues, settle intents, read the final state)", full[0])
	fctx, cancel := context.WithTimeout(ctx, cfg.Recovery)
	finalErr := w.Final(fctx, open(full[0], cfg.Seed<<8|0xff))
	cancel()
	res := w.Check()
	v := Verdict{Checker: cfg.Workload + " workload (tests/workloads)", Counts: map[string]int{"checked": res.Checked}}
	switch {
	case finalErr != nil:
		v.Valid = Unknown
		v.Explanation = fmt.Sprintf("the final phase failed after the heal: %v (%s)", finalErr, res.Summary)
	case res.Valid():
		v.Explanation = res.Summary
	default:
		v.Valid = Invalid
		v.Explanation = fmt.Sprintf("%d anomalies (%s)", len(res.Anomalies), res.Summary)
		v.Problems = res.Anomalies[:min(len(res.Anomalies), maxProblems)]
	}
	verdicts := []Verdict{v}
	if cfg.Traces {
		s.say("validating every node's trace through the spec mirror")
		verdicts = append(verdicts, TraceValidation(NodeTraces(c.config.Members(), core.SiteID(c.config.InitialLeader),
			func(msg string) { s.say("  %s", msg) }), traceDir))
	}
	rep := &Report{Dir: dir, Results: Results{Valid: Combine(verdicts), Verdicts: verdicts}}
	b, err := rep.Results.MarshalIndent()
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644)
	}
	md := fmt.Sprintf("# %s\n\nvalid: %v\n\n", cfg.TestName(), rep.Results.Valid)
	for _, v := range verdicts {
		md += fmt.Sprintf("- **%s**: %v. %s\n", v.Checker, v.Valid, v.Explanation)
		for _, p := range v.Problems {
			md += "  - " + p + "\n"
		}
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "summary.md"), []byte(md), 0o644)
	}
	if err != nil {
		s.say("warning: writing the report: %v", err)
	}
	rep.Summary = strings.TrimSpace(md)
	for _, v := range verdicts {
		fmt.Fprintf(cfg.Out, "%-45s %-7v %s\n", v.Checker, v.Valid, v.Explanation)
	}
	fmt.Fprintf(cfg.Out, "\nresults: %s\nvalid: %v\n", dir, rep.Results.Valid)
	return rep, nil
}
