package sim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/tests/check"
)

// What a failing run's report adds for the person reading it: where the
// failing spec-level step sits in the event log, and annotations for
// porcupine's page (the failing step, the faults, the failing group's
// operations in flight at that step).

// FailMarker begins the line MarkedLog inserts after the failing step.
const FailMarker = ">>> FAILING STEP"

type stepMark struct {
	at   int64 // simulated time
	line int   // index in the kept log (KeepLog only)
}

// noteStep numbers a spec-level step, remembers when and where it was
// logged, and logs it.
func (s *Sim) noteStep(st *check.Step) {
	s.stepAt = append(s.stepAt, stepMark{at: s.now, line: len(s.logKept)})
	st.ID = len(s.stepAt)
	s.logf("step %s", *st)
}

// explain fills the report's pointers to the failing step.
func (s *Sim) explain(rep *Report) {
	rep.FailLine = -1
	f := rep.Trace.Fail
	if rep.Failure == "" {
		return
	}
	if f != nil && f.Step.ID > 0 && f.Step.ID <= len(s.stepAt) {
		m := s.stepAt[f.Step.ID-1]
		rep.FailAt = m.at
		if s.opts.KeepLog {
			rep.FailLine = m.line
		}
	}
	rep.Notes = s.annotations(rep)
}

// MarkedLog is the event log with a marker line after the failing step's
// own line (the log as is when no step failed or the log was not kept).
func (r Report) MarkedLog() []string {
	f := r.Trace.Fail
	if f == nil || r.FailLine < 0 || r.FailLine >= len(r.Log) {
		return r.Log
	}
	mark := fmt.Sprintf("%s (%s, group %s): %s", FailMarker, r.Trace.Check, f.Group, r.Trace.Failure)
	return slices.Insert(slices.Clone(r.Log), r.FailLine+1, mark)
}

// annotations for porcupine's page: one row per fault of the schedule (its
// span), a row with the failing step at its time, and a mark at that time
// on each operation of the failing group in flight then.
func (s *Sim) annotations(rep *Report) []porcupine.Annotation {
	var out []porcupine.Annotation
	for i, f := range s.faults {
		if slices.Contains(s.opts.OmitFaults, i) || f.at > s.now {
			continue
		}
		what, details := s.describeFault(f)
		out = append(out, porcupine.Annotation{
			Tag: fmt.Sprintf("fault %d", i), Start: f.at, End: f.at + f.dur,
			Description: what, Details: details, BackgroundColor: "#fde7b0",
		})
	}
	f := rep.Trace.Fail
	if f == nil || f.Step.ID == 0 {
		return out
	}
	out = append(out, porcupine.Annotation{
		Tag: "failing step", Start: rep.FailAt,
		Description: fmt.Sprintf("%s (group %s)", f.Step.Action, f.Group),
		Details:     rep.Trace.Failure + "\n\n" + f.Text(), BackgroundColor: "#f4a6a6",
	})
	// NB: porcupine numbers clients by their place in the history; the
	// history holds the ops in order, minus those without effect.
	for k, o := range s.history() {
		if o.Group == f.Group && o.Call <= rep.FailAt && rep.FailAt <= o.Return {
			out = append(out, porcupine.Annotation{
				ClientId: k, Start: rep.FailAt,
				Description:     "failing step: " + f.Step.Action,
				Details:         fmt.Sprintf("%s of group %s was in flight when trace validation failed at %s", s.ops[o.Client].value, f.Group, f.Step),
				BackgroundColor: "#f4a6a6",
			})
		}
	}
	return out
}

func (s *Sim) describeFault(f fault) (what, details string) {
	id := func(i int) core.SiteID { return s.sites[i].id }
	span := fmt.Sprintf("from %d to %d (simulated time; a tick is %d)", f.at, f.at+f.dur, tickUnits)
	switch {
	case f.isCrash:
		return fmt.Sprintf("crash %s", id(f.crash)), fmt.Sprintf("%s down and restarted from its disk, %s", id(f.crash), span)
	case f.isPause:
		return fmt.Sprintf("pause %s", id(f.crash)), fmt.Sprintf("%s takes no step and queues its messages, %s", id(f.crash), span)
	case f.isOperator:
		return fmt.Sprintf("operator: %s down", id(f.crash)), fmt.Sprintf("an operator marks coordinator %s down at every site up, %s", id(f.crash), span)
	}
	links := make([]string, len(f.links))
	for i, l := range f.links {
		links[i] = fmt.Sprintf("%s->%s", id(l[0]), id(l[1]))
	}
	return "partition", fmt.Sprintf("links cut: %s, %s", strings.Join(links, " "), span)
}
