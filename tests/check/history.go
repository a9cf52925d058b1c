package check

import (
	"fmt"
	"slices"
	"sort"

	"github.com/anishathalye/porcupine"
)

// Op is one client operation of the history: a current read, or a
// read-modify-write transaction (its read, then its write of Value).
type Op struct {
	Client       int
	Group        string
	Write        bool
	Value        string // what a transaction writes
	Out          string // what it read
	Unknown      bool   // the write may or may not have happened
	Call, Return int64
}

type kvIn struct {
	Group string
	Write bool
	Value string
}

type kvOut struct {
	Value   string
	Unknown bool
}

// Model is a register per entity group: a transaction reads the current
// value and replaces it; a current read returns it.
var Model = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		for _, o := range h {
			g := o.Input.(kvIn).Group
			by[g] = append(by[g], o)
		}
		return partsOf(by)
	},
	Init: func() any { return "" },
	Step: func(state, in, out any) (bool, any) {
		i, o := in.(kvIn), out.(kvOut)
		if i.Write {
			if o.Unknown {
				return true, i.Value
			}
			return state.(string) == o.Value, i.Value
		}
		return state.(string) == o.Value, state
	},
	DescribeOperation: func(in, out any) string {
		i, o := in.(kvIn), out.(kvOut)
		if i.Write {
			if o.Unknown {
				return fmt.Sprintf("%s: txn(? -> %q) unknown", i.Group, i.Value)
			}
			return fmt.Sprintf("%s: txn(%q -> %q)", i.Group, o.Value, i.Value)
		}
		return fmt.Sprintf("%s: get() -> %q", i.Group, o.Value)
	},
	DescribeState: func(s any) string { return fmt.Sprintf("%q", s) },
}

func partsOf(by map[string][]porcupine.Operation) [][]porcupine.Operation {
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out [][]porcupine.Operation
	for _, k := range keys {
		out = append(out, by[k])
	}
	return out
}

// LinResult is porcupine's verdict on a history.
type LinResult struct {
	Failure string
	Ops     []porcupine.Operation
	Info    porcupine.LinearizationInfo
	Result  porcupine.CheckResult
}

// Linearizable checks current reads and transactions per group. There is
// no timeout: Unknown would not be a pass, and histories are small.
func Linearizable(h []Op) LinResult {
	ops := make([]porcupine.Operation, len(h))
	for i, o := range h {
		ops[i] = porcupine.Operation{ClientId: i, Input: kvIn{o.Group, o.Write, o.Value},
			Output: kvOut{o.Out, o.Unknown}, Call: o.Call, Return: o.Return}
	}
	res, info := porcupine.CheckOperationsVerbose(Model, ops, 0)
	r := LinResult{Ops: ops, Info: info, Result: res}
	if res != porcupine.Ok {
		r.Failure = fmt.Sprintf("history of %d ops is not linearizable (%s)", len(ops), res)
	}
	return r
}

// Visualize writes porcupine's HTML visualization of a checked history,
// with the annotations notes (faults, the failing step).
func (r LinResult) Visualize(path string, notes ...porcupine.Annotation) error {
	info := r.Info
	info.AddAnnotations(notes)
	return porcupine.VisualizePath(Model, info, path)
}

// Snapshot is a completed snapshot (or inconsistent) read.
type Snapshot struct {
	Group, Site string
	Pos         int
	Value       string
	Rows        []string // the scan of the workload's written-rows range; nil: no scan
}

// Entry is one position of a group's chosen log, as far as the key and the
// written-rows range of the workload go.
type Entry struct {
	Known  bool
	Writes bool // the entry writes the key
	Value  string
	Rows   []string // the values of the rows it adds to the written-rows range
}

// Snapshots checks that every snapshot read returned the key's value in a
// committed state: the one after position Pos of the chosen log.
func Snapshots(snaps []Snapshot, log map[string][]Entry) string {
	for _, sn := range snaps {
		l := log[sn.Group]
		if sn.Pos > len(l) {
			return fmt.Sprintf("snapshot read at %s of %s at position %d, beyond the known log (%d)", sn.Site, sn.Group, sn.Pos, len(l))
		}
		want := ""
		for _, e := range l[:sn.Pos] {
			if e.Writes {
				want = e.Value
			}
		}
		if sn.Value != want {
			return fmt.Sprintf("snapshot read at %s of %s at position %d returned %q, the chosen log has %q", sn.Site, sn.Group, sn.Pos, sn.Value, want)
		}
		if sn.Rows == nil {
			continue
		}
		var rows []string
		for _, e := range l[:sn.Pos] {
			rows = append(rows, e.Rows...)
		}
		slices.Sort(rows)
		got := slices.Sorted(slices.Values(sn.Rows))
		if !slices.Equal(got, rows) {
			return fmt.Sprintf("snapshot scan at %s of %s at position %d returned %v, the chosen log has %v", sn.Site, sn.Group, sn.Pos, got, rows)
		}
	}
	return ""
}

// Inconsistent checks that every inconsistent read returned the key's value
// in some state of the chosen log: stale at worst, never a write that was
// not chosen (Pos is not known: the read takes the newest local version).
func Inconsistent(reads []Snapshot, log map[string][]Entry) string {
	for _, rd := range reads {
		states := []string{""}
		for _, e := range log[rd.Group] {
			if e.Writes {
				states = append(states, e.Value)
			}
		}
		if !slices.Contains(states, rd.Value) {
			return fmt.Sprintf("inconsistent read at %s of %s returned %q, in no state of the chosen log %v", rd.Site, rd.Group, rd.Value, states)
		}
	}
	return ""
}
