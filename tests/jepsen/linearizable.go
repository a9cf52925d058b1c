package jepsen

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/megastore-verified/megastore/nemesis"
)

// linIn and linOut are one operation as the model sees it.
type linIn struct {
	Group  string
	Reads  []string // keys
	Range  *Range
	Writes []KV
}

type linOut struct {
	Reads   []string // values, as Reads' keys
	Rows    []KV
	Unknown bool // an info write: it may or may not have happened
}

// kvModel is a key-value map per entity group. Its state is the map
// encoded as a sorted "k=v\n" string, so porcupine compares states with ==.
// A transaction's reads see the state before its writes.
var kvModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		for _, o := range h {
			g := o.Input.(linIn).Group
			by[g] = append(by[g], o)
		}
		keys := make([]string, 0, len(by))
		for k := range by {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, in, out any) (bool, any) {
		i, o := in.(linIn), out.(linOut)
		st := decodeState(state.(string))
		if !o.Unknown {
			for n, k := range i.Reads {
				if st[k] != o.Reads[n] {
					return false, state
				}
			}
			if i.Range != nil && !equalRows(st.Scan(*i.Range), o.Rows) {
				return false, state
			}
		}
		if len(i.Writes) == 0 {
			return true, state
		}
		for _, w := range i.Writes {
			st[w.K] = w.V
		}
		return true, encodeState(st)
	},
	DescribeOperation: func(in, out any) string {
		i, o := in.(linIn), out.(linOut)
		var parts []string
		for n, k := range i.Reads {
			if o.Unknown {
				parts = append(parts, fmt.Sprintf("r %s ?", k))
			} else {
				parts = append(parts, fmt.Sprintf("r %s %q", k, o.Reads[n]))
			}
		}
		if i.Range != nil {
			parts = append(parts, fmt.Sprintf("scan [%s,%s) %s", i.Range.Start, i.Range.End, rows(o.Rows)))
		}
		for _, w := range i.Writes {
			parts = append(parts, fmt.Sprintf("w %s %q", w.K, w.V))
		}
		s := i.Group + ": " + strings.Join(parts, ", ")
		if o.Unknown {
			s += " (info)"
		}
		return s
	},
	DescribeState: func(s any) string { return s.(string) },
}

func equalRows(a, b []KV) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func decodeState(s string) State {
	st := State{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			st[k] = v
		}
	}
	return st
}

func encodeState(st State) string {
	keys := make([]string, 0, len(st))
	for k := range st {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if st[k] == "" {
			continue
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(st[k])
		b.WriteByte('\n')
	}
	return b.String()
}

// Linearization is porcupine's verdict with what its visualization needs.
type Linearization struct {
	Verdict
	info porcupine.LinearizationInfo
}

// Linearizable checks with porcupine that current reads, current scans,
// writes and transactions are linearizable per entity group, as a
// key-value map. Info writes may or may not have happened (their return is
// at infinity, their reads unchecked); failed ones and snapshot or
// inconsistent reads are not part of it. Past timeout the answer is
// unknown (porcupine's Unknown is never a pass).
func Linearizable(ops []*Operation, timeout time.Duration) Linearization {
	v := Verdict{Checker: "linearizable per group (porcupine)"}
	var hist []porcupine.Operation
	// An info write's return is after every other operation: it may take
	// effect at any time after its call, or never.
	var last int64
	for _, o := range ops {
		last = max(last, o.End)
	}
	for _, o := range ops {
		if o.Type == Fail || (o.Type == Info && !o.IsWrite()) {
			continue
		}
		if (o.F == FRead || o.F == FScan) && o.Mode != Current {
			continue
		}
		in := linIn{Group: o.Group, Range: o.Range, Writes: o.Writes}
		out := linOut{Rows: o.Rows, Unknown: o.Type == Info || o.Resolved != ""}
		for _, kv := range o.Reads {
			in.Reads = append(in.Reads, kv.K)
			out.Reads = append(out.Reads, kv.V)
		}
		ret := o.End
		if out.Unknown {
			ret = last + 1
		}
		hist = append(hist, porcupine.Operation{ClientId: o.Process, Input: in, Output: out, Call: o.Start, Return: ret, Metadata: o.ID})
		v.count("operations")
	}
	res, info := porcupine.CheckOperationsVerbose(kvModel, hist, timeout)
	switch res {
	case porcupine.Ok:
		v.Explanation = fmt.Sprintf("%d operations linearizable", len(hist))
	case porcupine.Illegal:
		v.Valid = Invalid
		v.Explanation = fmt.Sprintf("the history of %d operations is not linearizable: see porcupine.html", len(hist))
	default:
		v.Valid = Unknown
		v.Explanation = fmt.Sprintf("porcupine found no answer within %v for %d operations", timeout, len(hist))
	}
	return Linearization{Verdict: v, info: info}
}

// Visualize writes porcupine's HTML visualization, with the nemesis'
// faults as annotations on their own line.
func (l Linearization) Visualize(path string, begin time.Time, events []nemesis.Event) error {
	var anns []porcupine.Annotation
	open := map[string]nemesis.Event{}
	for _, e := range events {
		key := e.Kind + "\x00" + e.Detail
		switch e.Phase {
		case nemesis.PhaseStart:
			open[key] = e
		case nemesis.PhaseHeal:
			if s, ok := open[key]; ok {
				delete(open, key)
				anns = append(anns, porcupine.Annotation{Tag: "nemesis", Start: s.Time.Sub(begin).Nanoseconds(),
					End: e.Time.Sub(begin).Nanoseconds(), Description: s.Kind + " " + s.Detail, BackgroundColor: "#f4c7c3"})
			}
		}
	}
	info := l.info
	info.AddAnnotations(anns)
	return porcupine.VisualizePath(kvModel, info, path)
}
