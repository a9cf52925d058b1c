package jepsen

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/megastore-verified/megastore/nemesis"
)

// writeReport writes the run's files into dir: history.jsonl,
// results.json, porcupine.html, logs/<site>.log, site-logs.json,
// latency.svg, throughput.svg and summary.md.
func writeReport(ctx context.Context, dir string, s *runState, c *cluster, lin Linearization, logs Logs, rep *Report) error {
	var errs []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	s.hist.Begin = s.begin
	f, err := os.Create(filepath.Join(dir, "history.jsonl"))
	if err == nil {
		note(s.hist.WriteJSONL(f))
		note(f.Close())
	}
	note(err)
	b, err := rep.Results.MarshalIndent()
	note(err)
	note(os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644))
	note(lin.Visualize(filepath.Join(dir, "porcupine.html"), s.begin, s.hist.Events))
	if b, err := json.MarshalIndent(logs, "", " "); err == nil {
		note(os.WriteFile(filepath.Join(dir, "site-logs.json"), b, 0o644))
	}
	if c != nil {
		note(os.MkdirAll(filepath.Join(dir, "logs"), 0o755))
		for _, st := range c.sites {
			f, err := os.Create(filepath.Join(dir, "logs", st.ID+".log"))
			if err != nil {
				note(err)
				continue
			}
			lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			note(c.logs(lctx, st.ID, f))
			cancel()
			note(f.Close())
		}
	}
	end := time.Duration(0)
	for _, o := range s.hist.Ops {
		end = max(end, time.Duration(o.End))
	}
	windows := faultWindows(s.hist.Events, s.begin, end)
	note(os.WriteFile(filepath.Join(dir, "latency.svg"), []byte(latencySVG(s.hist.Ops, windows, end)), 0o644))
	note(os.WriteFile(filepath.Join(dir, "throughput.svg"), []byte(throughputSVG(s.hist.Ops, windows, end)), 0o644))
	rep.Summary = Summary(s.hist.Ops, windows)
	md := fmt.Sprintf("# %s\n\nvalid: %v\n\n", s.cfg.TestName(), rep.Results.Valid)
	for _, v := range rep.Results.Verdicts {
		md += fmt.Sprintf("- **%s**: %v. %s\n", v.Checker, v.Valid, v.Explanation)
	}
	md += "\n" + rep.Summary + "\n![latency](latency.svg)\n\n![throughput](throughput.svg)\n"
	note(os.WriteFile(filepath.Join(dir, "summary.md"), []byte(md), 0o644))
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// window is a fault in force, in time since the run began.
type window struct {
	start, end time.Duration
	label      string
}

// faultWindows pairs each fault's start with its heal (or the run's end).
func faultWindows(events []nemesis.Event, begin time.Time, end time.Duration) []window {
	var out []window
	open := map[string]int{}
	for _, e := range events {
		key := e.Kind + "\x00" + e.Detail
		t := e.Time.Sub(begin)
		switch e.Phase {
		case nemesis.PhaseStart:
			open[key] = len(out)
			out = append(out, window{start: t, end: -1, label: e.Kind + " " + e.Detail})
		case nemesis.PhaseHeal:
			if i, ok := open[key]; ok {
				out[i].end = t
				delete(open, key)
			}
		}
	}
	for i := range out {
		if out[i].end < 0 {
			out[i].end = max(end, out[i].start)
		}
	}
	return out
}

func overlaps(o *Operation, ws []window) bool {
	for _, w := range ws {
		if time.Duration(o.Start) <= w.end && time.Duration(o.End) >= w.start {
			return true
		}
	}
	return false
}

// Summary is the availability and latency table: per site, with and
// without a fault in force (an operation overlapping a fault's window
// counts as during it), as the paper reports them. Availability is the
// share of operations that succeeded, conflicts left out (a transaction
// that lost its position to another is the store working as designed);
// latencies are of ok operations.
func Summary(ops []*Operation, ws []window) string {
	type row struct {
		ok, conflict, fail, info int
		lat                      []float64
	}
	rows := map[[2]string]*row{}
	var sites []string
	for _, o := range ops {
		if o.ExpectRefusal {
			continue // sent to be refused: the Refusals checker's, not availability
		}
		phase := "no"
		if overlaps(o, ws) {
			phase = "yes"
		}
		for _, k := range [][2]string{{o.Site, phase}, {"all", phase}, {o.Site, "all"}, {"all", "all"}} {
			r := rows[k]
			if r == nil {
				r = &row{}
				rows[k] = r
				if k[1] == "all" && k[0] != "all" {
					sites = append(sites, k[0])
				}
			}
			switch {
			case o.Resolved != "":
				r.info++ // the client's view: it did not learn the outcome
			case o.Type == OK:
				r.ok++
				r.lat = append(r.lat, float64(o.End-o.Start)/1e6)
			case o.Type == Fail:
				r.fail++
				if o.Conflict {
					r.conflict++
				}
			default:
				r.info++
			}
		}
	}
	sort.Strings(sites)
	sites = append(sites, "all")
	var b strings.Builder
	b.WriteString("| site | during faults | ops | ok | fail (conflicts) | info | availability | p50 ms | p99 ms |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, site := range sites {
		for _, phase := range []string{"no", "yes", "all"} {
			r := rows[[2]string{site, phase}]
			if r == nil {
				continue
			}
			n := r.ok + r.fail + r.info
			sort.Float64s(r.lat)
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d (%d) | %d | %.2f%% | %s | %s |\n", site, phase, n, r.ok, r.fail, r.conflict, r.info,
				100*float64(r.ok)/float64(max(n-r.conflict, 1)), pct(r.lat, 0.50), pct(r.lat, 0.99))
		}
	}
	return b.String()
}

func pct(sorted []float64, p float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return fmt.Sprintf("%.1f", sorted[max(i, 0)])
}
