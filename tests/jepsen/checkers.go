package jepsen

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/tests/check"
	"github.com/megastore-verified/megastore/tests/tracemap"
)

// Resolve learns the outcome of info writes from the committed log, as
// etcd's robustness tests do with their WAL: a write whose value is in
// the merged log happened (ok, at that position); one whose proposed
// position (Target) holds another value did not (fail). Others stay info.
// It returns how many it turned each way.
func Resolve(ops []*Operation, merged map[string][]Entry) (happened, failed int) {
	where := map[string][]int{} // value -> positions (in its group)
	for g, log := range merged {
		for _, e := range log {
			for _, v := range e.Values() {
				where[g+"\x00"+v] = append(where[g+"\x00"+v], e.Position)
			}
		}
	}
	for _, o := range ops {
		if o.Type != Info || !o.IsWrite() {
			continue
		}
		if ps := where[o.Group+"\x00"+o.Value]; len(ps) > 0 {
			o.Type, o.Position, o.Resolved = OK, ps[0], "found in the committed log"
			happened++
			continue
		}
		if log := merged[o.Group]; o.Target > 0 && o.Target <= len(log) {
			o.Type, o.Resolved = Fail, fmt.Sprintf("position %d holds another value", o.Target)
			failed++
		}
	}
	return happened, failed
}

// AckedInLog checks the merged log against the writes: every ok write
// (acknowledged, or resolved from the log) is in it exactly once, at its
// position (an info write resolved there must have proposed for it); no
// failed write is in it; every entry commits one invoked operation.
func AckedInLog(ops []*Operation, merged map[string][]Entry) Verdict {
	v := Verdict{Checker: "acknowledged writes in the log"}
	type at struct {
		group string
		pos   int
	}
	where := map[string][]at{}
	for g, log := range merged {
		for _, e := range log {
			vs := e.Values()
			if len(vs) > 1 {
				v.problem("%s position %d commits the writes of several operations %v", g, e.Position, vs)
			}
			for _, val := range vs {
				where[val] = append(where[val], at{g, e.Position})
			}
		}
	}
	byValue := map[string]*Operation{}
	for _, o := range ops {
		if !o.IsWrite() {
			continue
		}
		byValue[o.Value] = o
		found := where[o.Value]
		switch o.Type {
		case OK:
			v.count("ok writes")
			switch {
			case len(found) == 0:
				if o.Position > len(merged[o.Group]) {
					v.count("beyond the known log")
					v.unknown()
					continue
				}
				v.problem("op %d (%s at %s, value %s) acknowledged at %d is not in the log", o.ID, o.Group, o.Site, o.Value, o.Position)
			case len(found) > 1:
				v.problem("op %d (value %s) is in the log %d times: %v", o.ID, o.Value, len(found), found)
			case found[0].group != o.Group:
				v.problem("op %d wrote group %s but its value is in %s", o.ID, o.Group, found[0].group)
			case found[0].pos != o.Position:
				v.problem("op %d (%s, value %s) acknowledged at %d is at %d in the log", o.ID, o.Group, o.Value, o.Position, found[0].pos)
			case o.Target != 0 && o.Target != o.Position:
				v.problem("op %d (%s, value %s) proposed for %d but is in the log at %d", o.ID, o.Group, o.Value, o.Target, o.Position)
			}
		case Fail:
			if len(found) > 0 {
				v.problem("op %d (%s at %s, value %s) failed (%s) but is in the log at %v", o.ID, o.Group, o.Site, o.Value, o.Error, found)
			}
		}
	}
	for g, log := range merged {
		for _, e := range log {
			for _, val := range e.Values() {
				if byValue[val] == nil {
					v.problem("%s position %d holds %s, which no operation wrote", g, e.Position, val)
				}
			}
		}
	}
	return v.finish(fmt.Sprintf("%d acknowledged writes each once in the log at their position; no failed write in it", v.Counts["ok writes"]),
		fmt.Sprintf("%d acknowledged writes lie beyond the log any site reported", v.Counts["beyond the known log"]))
}

// RealTime checks that positions respect real time per group: an
// operation that begins after another ended is at an equal or later
// position (a current read) or a strictly later one (a write).
func RealTime(ops []*Operation) Verdict {
	v := Verdict{Checker: "positions respect real time"}
	by := map[string][]*Operation{}
	for _, o := range ops {
		if o.Positioned() {
			by[o.Group] = append(by[o.Group], o)
		}
	}
	for g, list := range by {
		ends := slices.Clone(list)
		sort.Slice(ends, func(i, j int) bool { return ends[i].End < ends[j].End })
		starts := slices.Clone(list)
		sort.Slice(starts, func(i, j int) bool { return starts[i].Start < starts[j].Start })
		var maxOp *Operation
		j := 0
		for _, b := range starts {
			for j < len(ends) && ends[j].End < b.Start {
				// An info write resolved ok has no known end: it
				// constrains nothing after it.
				if ends[j].Resolved == "" && (maxOp == nil || ends[j].Position > maxOp.Position) {
					maxOp = ends[j]
				}
				j++
			}
			if maxOp == nil {
				continue
			}
			v.count("checked")
			if b.IsWrite() && b.Position <= maxOp.Position {
				v.problem("%s: op %d (write at %s) at position %d began after op %d (%s at %s) at position %d had ended",
					g, b.ID, b.Site, b.Position, maxOp.ID, describe(maxOp), maxOp.Site, maxOp.Position)
			} else if b.Position < maxOp.Position {
				v.problem("%s: op %d (%s at %s) at position %d began after op %d (%s at %s) at position %d had ended",
					g, b.ID, describe(b), b.Site, b.Position, maxOp.ID, describe(maxOp), maxOp.Site, maxOp.Position)
			}
		}
	}
	return v.finish(fmt.Sprintf("%d operations at positions no earlier than every operation that ended before they began", v.Counts["checked"]), "")
}

func describe(o *Operation) string {
	if o.IsWrite() {
		return "write"
	}
	return string(o.Mode) + " " + string(o.F)
}

// ReadsMatchLog replays the merged log: every ok current or snapshot read
// and scan returned the state after its position, every transaction read
// the state at its read position, and every inconsistent read returned a
// value the key held in some state of the log.
func ReadsMatchLog(ops []*Operation, merged map[string][]Entry) Verdict {
	v := Verdict{Checker: "reads equal the log's state at their position"}
	type read struct {
		o   *Operation
		pos int
	}
	by := map[string][]read{}
	for _, o := range ops {
		if o.Type != OK {
			continue
		}
		switch {
		case o.F == FTxn && len(o.Reads) > 0:
			by[o.Group] = append(by[o.Group], read{o, o.ReadPosition})
		case (o.F == FRead || o.F == FScan) && o.Mode != Inconsistent:
			by[o.Group] = append(by[o.Group], read{o, o.Position})
		}
	}
	for g, reads := range by {
		log := merged[g]
		sort.Slice(reads, func(i, j int) bool { return reads[i].pos < reads[j].pos })
		st, at := State{}, 0
		for _, r := range reads {
			if r.pos > len(log) {
				v.count("beyond the known log")
				v.unknown()
				continue
			}
			for ; at < r.pos; at++ {
				st.Apply(log[at])
			}
			v.count("checked")
			o := r.o
			for _, kv := range o.Reads {
				if st[kv.K] != kv.V {
					v.problem("%s: op %d (%s %s at %s) read %s=%q at position %d; the log has %q", g, o.ID, o.Mode, o.F, o.Site, kv.K, kv.V, r.pos, st[kv.K])
				}
			}
			if o.Range != nil {
				if want := st.Scan(*o.Range); !slices.Equal(want, o.Rows) {
					v.problem("%s: op %d (%s scan at %s) of [%s, %s) at position %d returned %s; the log has %s",
						g, o.ID, o.Mode, o.Site, o.Range.Start, o.Range.End, r.pos, rows(o.Rows), rows(want))
				}
			}
		}
	}
	// Inconsistent reads: some state of the log, stale at worst.
	held := map[string]map[string]bool{} // group/key -> values it ever held
	for g, log := range merged {
		for _, e := range log {
			for _, w := range e.Writes {
				if held[g+"/"+w.K] == nil {
					held[g+"/"+w.K] = map[string]bool{}
				}
				held[g+"/"+w.K][w.V] = true
			}
		}
	}
	for _, o := range ops {
		if o.Type != OK || o.Mode != Inconsistent {
			continue
		}
		v.count("inconsistent")
		for _, kv := range o.Reads {
			if kv.V != "" && !held[o.Group+"/"+kv.K][kv.V] {
				v.problem("%s: op %d (inconsistent read at %s) returned %s=%q, a value the key never held in the log", o.Group, o.ID, o.Site, kv.K, kv.V)
			}
		}
	}
	return v.finish(fmt.Sprintf("%d reads equal the replayed log at their position; %d inconsistent reads each in some state", v.Counts["checked"], v.Counts["inconsistent"]),
		fmt.Sprintf("%d reads lie beyond the log any site reported", v.Counts["beyond the known log"]))
}

func rows(kvs []KV) string {
	var b []string
	for _, kv := range kvs {
		b = append(b, kv.K+"="+kv.V)
	}
	if len(b) > 8 {
		b = append(b[:8], fmt.Sprintf("... (%d rows)", len(kvs)))
	}
	return "[" + strings.Join(b, " ") + "]"
}

// LogsAgree checks every site's log after the heal: any two sites that
// know a position know the same value there, and every full site knows
// every position any site knows (it caught up). A full site that could not
// be asked makes the verdict unknown.
func LogsAgree(logs Logs, full []string, groups []string) Verdict {
	v := Verdict{Checker: "sites' logs agree after the heal"}
	var missing []string
	for _, s := range full {
		if _, ok := logs[s]; !ok {
			missing = append(missing, s)
			v.unknown()
		}
	}
	sites := make([]string, 0, len(logs))
	for s := range logs {
		sites = append(sites, s)
	}
	sort.Strings(sites)
	for _, g := range groups {
		longest, by := 0, ""
		for _, s := range sites {
			if n := len(logs[s][g]); n > longest {
				longest, by = n, s
			}
		}
		for pos := 1; pos <= longest; pos++ {
			var first Entry
			var firstSite string
			for _, s := range sites {
				es := logs[s][g]
				if pos > len(es) {
					continue
				}
				e := es[pos-1]
				v.count("compared")
				if firstSite == "" {
					first, firstSite = e, s
				} else if !e.equal(first) {
					v.problem("%s position %d: %s has %s, %s has %s", g, pos, firstSite, first, s, e)
				}
			}
		}
		for _, s := range full {
			if es, ok := logs[s]; ok && len(es[g]) < longest {
				v.problem("%s: full site %s knows %d positions after recovery, %s knows %d", g, s, len(es[g]), by, longest)
			}
		}
	}
	return v.finish(fmt.Sprintf("%d site positions agree; every full site knows the whole log", v.Counts["compared"]),
		fmt.Sprintf("full sites %v could not be asked for their logs", missing))
}

// Refusals checks that every write or current read sent to a witness or
// read-only site was refused with the right sentinel (ErrWitnessNoWrites,
// ErrWitnessNoReads, ErrReadOnlySite). One that failed otherwise (the site
// was down or cut off) proves nothing either way and is counted.
func Refusals(ops []*Operation) Verdict {
	v := Verdict{Checker: "witness and read-only sites refuse"}
	for _, o := range ops {
		if !o.ExpectRefusal {
			continue
		}
		switch {
		case o.Refused:
			v.count("refused")
		case o.Type == OK:
			v.problem("op %d (%s at %s, %s) was not refused: %s", o.ID, describe(o), o.Site, o.Group, o.Type)
		default:
			v.count("unanswered")
		}
	}
	return v.finish(fmt.Sprintf("%d refused as they must be; %d not answered (site down or cut off)", v.Counts["refused"], v.Counts["unanswered"]), "")
}

// TraceValidator validates the spec-level traces the nodes wrote under
// dir through the spec mirror (check.Trace); a non-empty Failure is a
// step the spec does not enable.
type TraceValidator func(dir string) (check.Result, error)

// NodeTraces validates the trace files real nodes wrote (tests/tracemap):
// every spec-level step through the mirror, and durability across restarts
// (a site that restarted without acceptor state it had saved fails).
func NodeTraces(members []core.Site, leader core.SiteID, progress func(msg string)) TraceValidator {
	return func(dir string) (check.Result, error) {
		batches, err := tracemap.LoadDir(dir)
		if err != nil {
			return check.Result{}, err
		}
		rep, err := tracemap.ValidateNodesWith(batches, members, leader, tracemap.Options{Progress: progress})
		if err != nil {
			return check.Result{}, err
		}
		res := rep.Result
		if !rep.Valid() && res.Failure == "" {
			// A mapping or durability failure, which check.Result cannot
			// name on its own.
			res.Check, res.Failure = "node traces", rep.Summary()
		}
		return res, nil
	}
}

// TraceValidation runs validate on the run's trace directory; without a
// validator or a directory the verdict is unknown, never valid.
func TraceValidation(validate TraceValidator, dir string) Verdict {
	v := Verdict{Checker: "real-node trace validation"}
	if validate == nil || dir == "" {
		v.Valid = Unknown
		v.Explanation = "trace validation: not run (no --trace-dir)"
		return v
	}
	res, err := validate(dir)
	if err != nil {
		v.Valid = Unknown
		v.Explanation = fmt.Sprintf("trace validation: could not run: %v", err)
		return v
	}
	v.Counts = map[string]int{"steps": res.Steps, "validated": res.Validated}
	for k, n := range res.Deviations {
		v.Counts[k] = n
	}
	if res.Failure != "" {
		v.Valid = Invalid
		v.Explanation = fmt.Sprintf("%s failed in group %s: %s", res.Check, res.Group, res.Failure)
		v.Problems = append(v.Problems, res.Context...)
		if res.Fail != nil {
			// The failing step, the spec action refused or taken, and the
			// group's mirrored state before (and after) it.
			v.Problems = append(v.Problems, strings.Split(strings.TrimSuffix(res.Fail.Text(), "\n"), "\n")...)
		}
		return v
	}
	if n := res.Deviations[check.DevBudget]; n > 0 {
		v.Valid = Unknown
		v.Explanation = fmt.Sprintf("trace validation: %d of %d steps validated, every one valid; %d beyond the mirror's bounds (a group past 32 positions or 31 writes) not validated: lower --group-writes (register, txn, scan; bank, queue and listappend move to fresh groups themselves, tests/workloads)",
			res.Validated, res.Steps, n)
		return v
	}
	if res.Steps == 0 {
		v.Valid = Unknown
		v.Explanation = "trace validation: the nodes' traces hold no steps"
		return v
	}
	v.Explanation = fmt.Sprintf("%d spec-level steps of every node, %d validated through the spec mirror", res.Steps, res.Validated)
	return v
}
