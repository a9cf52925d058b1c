package tracemap

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/tests/check"
)

// NodeReport is the outcome of validating the traces of real nodes.
type NodeReport struct {
	check.Result
	// Mapping is the first trace event that could not be named ("" if
	// none); it fails the run like a validation failure.
	Mapping string
	Batches int
	Events  int
	// PerSite counts each site's trace events and incarnations.
	PerSite map[core.SiteID]SiteCounts
	// Actions counts the spec-level steps by action.
	Actions map[string]int
	// LostEvents counts traced steps a restart showed were never persisted
	// (the process died inside Save), dropped before validation.
	LostEvents int
	// Forgot lists acceptor state a site restarted without although its
	// trace shows an earlier Ready saved it (node.Forgotten): a durability
	// failure, whatever the spec steps say.
	Forgot []string
}

// SiteCounts describes one site's trace.
type SiteCounts struct {
	Events       int `json:"events"`
	Incarnations int `json:"incarnations"`
}

// Valid reports whether no step failed validation. A run may still have
// steps beyond the mirror's encoding bounds that were not validated
// (Unvalidated): a group that outgrows 32 positions or 31 writes stops
// there, so workloads that want every step validated spread their writes
// over many entity groups.
func (r NodeReport) Valid() bool { return r.Mapping == "" && r.Failure == "" && len(r.Forgot) == 0 }

// Unvalidated counts the steps not validated because their group outgrew
// the mirror's encoding bounds (check.DevBudget).
func (r NodeReport) Unvalidated() int { return r.Deviations[check.DevBudget] }

// Summary is one line for a person.
func (r NodeReport) Summary() string {
	switch {
	case len(r.Forgot) > 0:
		return fmt.Sprintf("durability failed: a site restarted without acceptor state it had saved: %s", strings.Join(r.Forgot, "; "))
	case r.Mapping != "":
		return fmt.Sprintf("trace mapping failed after %d events: %s", r.Events, r.Mapping)
	case r.Failure != "":
		return fmt.Sprintf("%s failed: %s", r.Check, r.Failure)
	case r.Unvalidated() > 0:
		return fmt.Sprintf("%d trace events of %d sites, %d of %d spec-level steps validated; %d beyond the mirror's encoding bounds (a group past 32 positions or 31 writes) not validated",
			r.Events, len(r.PerSite), r.Validated, r.Steps, r.Unvalidated())
	}
	lost := ""
	if r.LostEvents > 0 {
		lost = fmt.Sprintf(" (%d traced steps a restart showed were never persisted dropped first)", r.LostEvents)
	}
	return fmt.Sprintf("%d trace events of %d sites, %d spec-level steps, every one validated%s", r.Events, len(r.PerSite), r.Validated, lost)
}

// LoadDir reads every *.trace.jsonl file in dir (what daemon --trace-dir
// writes, one file per site).
func LoadDir(dir string) ([]node.TraceBatch, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.trace.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no *.trace.jsonl files in %s", dir)
	}
	return Load(paths...)
}

// Load reads trace files. A line that does not parse is an error naming
// the file and line: a trace with a hole cannot be validated.
func Load(paths ...string) ([]node.TraceBatch, error) {
	var out []node.TraceBatch
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
		line := 0
		for sc.Scan() {
			line++
			if len(strings.TrimSpace(sc.Text())) == 0 {
				continue
			}
			var b node.TraceBatch
			if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s:%d: %v", p, line, err)
			}
			out = append(out, b)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
	}
	return out, nil
}

// Merge orders the batches of every site into one causally consistent
// sequence. Every site stamps its batches with the wall clock of one host
// kernel after persisting and before sending (node.TraceBatch), so a step
// caused by a message is stamped later than the step that sent it; ties
// between sites (no message can cross in zero time) break by site. It
// checks that each site's own batches come in order.
func Merge(batches []node.TraceBatch) ([]node.TraceBatch, error) {
	out := slices.Clone(batches)
	slices.SortStableFunc(out, func(a, b node.TraceBatch) int {
		return cmp.Or(cmp.Compare(a.UnixNanos, b.UnixNanos), cmp.Compare(a.Site, b.Site))
	})
	type last struct{ inc, seq uint64 }
	seen := map[core.SiteID]last{}
	for _, b := range out {
		l, ok := seen[b.Site]
		switch {
		case ok && b.Incarnation < l.inc:
			return nil, fmt.Errorf("site %s: incarnation %d stamped after incarnation %d", b.Site, b.Incarnation, l.inc)
		case ok && b.Incarnation == l.inc && b.Seq <= l.seq:
			return nil, fmt.Errorf("site %s incarnation %d: batch %d stamped after batch %d", b.Site, b.Incarnation, b.Seq, l.seq)
		}
		seen[b.Site] = last{b.Incarnation, b.Seq}
	}
	return out, nil
}

// ValidateNodes maps merged batches to spec steps and validates them. A
// site whose trace shows a new incarnation crashed where its previous
// incarnation's trace ended: the spec's Restart of it goes there (Crash).
//
// The last batch of an incarnation is traced before it is persisted; the
// events of it that the next incarnation found lost (node.Lost) are
// dropped: the process died inside Save and sent nothing of them.
func ValidateNodes(batches []node.TraceBatch, sites []core.Site, initialLeader core.SiteID) (NodeReport, error) {
	return ValidateNodesWith(batches, sites, initialLeader, Options{})
}

// Options tune ValidateNodesWith.
type Options struct {
	// Progress, if set, hears how far validation got, every few seconds:
	// a ten-minute run's traces take minutes.
	Progress func(msg string)
}

// ValidateNodesWith is ValidateNodes with options.
func ValidateNodesWith(batches []node.TraceBatch, sites []core.Site, initialLeader core.SiteID, o Options) (NodeReport, error) {
	var forgot []string
	for _, b := range batches {
		for _, f := range b.Forgot {
			forgot = append(forgot, fmt.Sprintf("site %s incarnation %d: %s", b.Site, b.Incarnation, f))
		}
	}
	// A restart's marker (first batch of the new incarnation) says what of
	// each group's learned log it kept.
	type incKey struct {
		site core.SiteID
		inc  uint64
	}
	kept := map[incKey]map[core.GroupID]core.Position{}
	for _, b := range batches {
		if len(b.Kept) > 0 {
			kept[incKey{b.Site, b.Incarnation}] = b.Kept
		}
	}
	batches, lostEvents, err := dropLost(batches)
	if err != nil {
		return NodeReport{}, err
	}
	merged, err := Merge(batches)
	if err != nil {
		return NodeReport{}, err
	}
	// The last batch of every incarnation that a later one follows.
	ends := map[int]uint64{} // -> the incarnation that follows
	lastOf := map[core.SiteID]int{}
	for i, b := range merged {
		if j, ok := lastOf[b.Site]; ok && merged[j].Incarnation != b.Incarnation {
			ends[j] = b.Incarnation
		}
		lastOf[b.Site] = i
	}
	rep := NodeReport{PerSite: map[core.SiteID]SiteCounts{}, LostEvents: lostEvents, Forgot: forgot}
	m := New(sites, initialLeader)
	incs := map[core.SiteID]map[uint64]bool{}
	for i, b := range merged {
		if incs[b.Site] == nil {
			incs[b.Site] = map[uint64]bool{}
		}
		incs[b.Site][b.Incarnation] = true
		m.Batch(b.Site, b.Incarnation, b.Events)
		rep.Batches++
		rep.Events += len(b.Events)
		c := rep.PerSite[b.Site]
		c.Events += len(b.Events)
		rep.PerSite[b.Site] = c
		if next, ok := ends[i]; ok {
			m.Crash(b.Site, SyntheticRestart)
			m.Kept(b.Site, kept[incKey{b.Site, next}])
		}
		if f := m.Failure(); f != "" {
			rep.Mapping = fmt.Sprintf("%s (batch %d of %s, incarnation %d)", f, b.Seq, b.Site, b.Incarnation)
			return rep, nil
		}
	}
	for s, c := range rep.PerSite {
		c.Incarnations = len(incs[s])
		rep.PerSite[s] = c
	}
	rep.Actions = map[string]int{}
	for _, st := range m.Steps {
		rep.Actions[st.Action]++
	}
	run := m.Run()
	run.EndWindows = true
	run.CollapseLease = true
	if o.Progress != nil {
		o.Progress(fmt.Sprintf("mapped %d batches to %d spec steps", rep.Batches, len(run.Steps)))
		last := time.Now()
		run.Progress = func(done, total int) {
			if time.Since(last) >= 5*time.Second {
				last = time.Now()
				o.Progress(fmt.Sprintf("validated %d of %d entity groups", done, total))
			}
		}
	}
	rep.Result = check.Trace(run)
	return rep, nil
}

// dropLost removes the events that Lost markers name, and the markers.
func dropLost(batches []node.TraceBatch) ([]node.TraceBatch, int, error) {
	type key struct {
		site     core.SiteID
		inc, seq uint64
	}
	lost := map[key][]int{}
	for _, b := range batches {
		if b.Lost != nil {
			k := key{b.Site, b.Lost.Incarnation, b.Lost.Seq}
			lost[k] = append(lost[k], b.Lost.Events...)
		}
	}
	var out []node.TraceBatch
	n := 0
	for _, b := range batches {
		if (b.Lost != nil || len(b.Forgot) > 0 || len(b.Kept) > 0) && len(b.Events) == 0 {
			continue
		}
		k := key{b.Site, b.Incarnation, b.Seq}
		if idx, ok := lost[k]; ok {
			delete(lost, k)
			var kept []core.TraceEvent
			for i, ev := range b.Events {
				if slices.Contains(idx, i) {
					n++
					continue
				}
				kept = append(kept, ev)
			}
			b.Events = kept
		}
		out = append(out, b)
	}
	for k := range lost {
		return nil, 0, fmt.Errorf("site %s: a restart names lost events of batch %d of incarnation %d, which the trace does not hold", k.site, k.seq, k.inc)
	}
	return out, n, nil
}
