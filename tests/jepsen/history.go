package jepsen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/megastore-verified/megastore/nemesis"
)

// Type is a history line's type, as Jepsen names them.
type Type string

const (
	Invoke Type = "invoke"
	OK     Type = "ok"
	Fail   Type = "fail" // certainly did not happen
	Info   Type = "info" // may have happened: outcome unknown
)

// F is an operation's function.
type F string

const (
	FRead  F = "read"  // a Get of one or more keys
	FWrite F = "write" // a blind put of one key
	FTxn   F = "txn"   // reads, then writes the same transaction commits
	FScan  F = "scan"  // a range read
)

// Mode is a read's consistency (§3.3).
type Mode string

const (
	Current      Mode = "current"
	Snapshot     Mode = "snapshot"
	Inconsistent Mode = "inconsistent"
)

// KV is one key and value; V "" means absent (workloads never write "").
type KV struct {
	K string `json:"k"`
	V string `json:"v"`
}

// Range is a scan's key range [Start, End).
type Range struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Operation is one client operation, invocation and completion together.
// Times are nanoseconds since the run began.
type Operation struct {
	ID      int    `json:"id"`
	Process int    `json:"process"`
	F       F      `json:"f"`
	Mode    Mode   `json:"mode,omitempty"` // reads and scans
	Group   string `json:"group"`
	Site    string `json:"site"`
	// Reads are the keys a read or transaction reads and, once ok, the
	// values it saw. Writes are what it writes, each with the operation's
	// unique Value (so the committed log names the operation).
	Reads  []KV   `json:"reads,omitempty"`
	Writes []KV   `json:"writes,omitempty"`
	Range  *Range `json:"range,omitempty"`
	Rows   []KV   `json:"rows,omitempty"` // a scan's result
	Value  string `json:"value,omitempty"`
	// Position: a read's position, a write's committed position.
	// ReadPosition: the position a transaction read at. Target: the
	// position a write proposed for, when it is known (it did not return).
	Position     int    `json:"position,omitempty"`
	ReadPosition int    `json:"read_position,omitempty"`
	Target       int    `json:"target,omitempty"`
	Type         Type   `json:"type"` // the completion: ok, fail or info
	Error        string `json:"error,omitempty"`
	// Conflict: a write failed because other writes won its positions
	// (the store working as designed, not unavailable).
	Conflict bool `json:"conflict,omitempty"`
	// ExpectRefusal: sent where the site must refuse it (a write or a
	// current read at a witness or read-only site); Refused: the site did,
	// with the right sentinel.
	ExpectRefusal bool `json:"expect_refusal,omitempty"`
	Refused       bool `json:"refused,omitempty"`
	// Resolved says how an info write's outcome was learned afterwards.
	Resolved string `json:"resolved,omitempty"`
	Start    int64  `json:"start"`
	End      int64  `json:"end"`
}

// IsWrite: the operation writes (a blind put or a transaction with writes).
func (o *Operation) IsWrite() bool { return len(o.Writes) > 0 }

// Positioned: an ok operation whose position is linearizable evidence: a
// current read or scan, or a write (snapshot and inconsistent reads may be
// stale by design).
func (o *Operation) Positioned() bool {
	if o.Type != OK || o.Position == 0 {
		return false
	}
	return o.IsWrite() || o.Mode == Current || o.F == FTxn
}

// Line is one line of history.jsonl: an invocation, a completion, or a
// nemesis event.
type Line struct {
	Index   int            `json:"index"`
	Time    int64          `json:"time"` // ns since the run began
	Process int            `json:"process"`
	Type    Type           `json:"type"`
	Op      *Operation     `json:"op,omitempty"`
	Nemesis *nemesis.Event `json:"nemesis,omitempty"`
}

// History is a run's operations and nemesis events.
type History struct {
	Begin  time.Time
	Ops    []*Operation
	Events []nemesis.Event
}

// Lines orders the history as Jepsen's: each operation's invocation and
// completion, and each nemesis event, by time (an info operation's
// completion is where the client stopped waiting).
func (h *History) Lines() []Line {
	var out []Line
	for _, o := range h.Ops {
		inv := *o
		inv.Type, inv.Position, inv.Rows, inv.Error, inv.Resolved = Invoke, 0, nil, "", ""
		inv.Reads = nil
		for _, kv := range o.Reads {
			inv.Reads = append(inv.Reads, KV{K: kv.K})
		}
		out = append(out, Line{Time: o.Start, Process: o.Process, Type: Invoke, Op: &inv})
		out = append(out, Line{Time: o.End, Process: o.Process, Type: o.Type, Op: o})
	}
	for i := range h.Events {
		e := h.Events[i]
		out = append(out, Line{Time: e.Time.Sub(h.Begin).Nanoseconds(), Process: -1, Type: Info, Nemesis: &e})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time < out[j].Time })
	for i := range out {
		out[i].Index = i
	}
	return out
}

// WriteJSONL writes the history as JSON lines.
func (h *History) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, l := range h.Lines() {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadJSONL reads a history written by WriteJSONL (completions carry the
// whole operation; invocations are skipped).
func ReadJSONL(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := &History{}
	dec := json.NewDecoder(bufio.NewReader(f))
	for n := 1; ; n++ {
		var l Line
		if err := dec.Decode(&l); err == io.EOF {
			return h, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, n, err)
		}
		switch {
		case l.Nemesis != nil:
			h.Events = append(h.Events, *l.Nemesis)
		case l.Op != nil && l.Type != Invoke:
			h.Ops = append(h.Ops, l.Op)
		}
	}
}
