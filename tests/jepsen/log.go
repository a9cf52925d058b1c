package jepsen

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Entry is one committed log position as a site reported it (the Log RPC).
type Entry struct {
	Position int    `json:"position"`
	ID       string `json:"id"` // the value's proposer identity: site/incarnation/seq
	NoOp     bool   `json:"noop,omitempty"`
	Writes   []KV   `json:"writes,omitempty"` // a deletion has V ""
}

func (e Entry) equal(o Entry) bool {
	return e.Position == o.Position && e.ID == o.ID && e.NoOp == o.NoOp && slices.Equal(e.Writes, o.Writes)
}

func (e Entry) String() string {
	if e.NoOp {
		return fmt.Sprintf("%d:noop(%s)", e.Position, e.ID)
	}
	var ws []string
	for _, w := range e.Writes {
		ws = append(ws, w.K+"="+w.V)
	}
	return fmt.Sprintf("%d:%s{%s}", e.Position, e.ID, strings.Join(ws, ","))
}

// Values are the distinct written values of the entry: the operations it
// commits (one, for a well-formed entry of these workloads).
func (e Entry) Values() []string {
	var vs []string
	for _, w := range e.Writes {
		if w.V != "" && !slices.Contains(vs, w.V) {
			vs = append(vs, w.V)
		}
	}
	return vs
}

// maxPositions bounds a merged log (a malformed report must not
// allocate without bound).
const maxPositions = 1 << 22

// Logs are what every site reported: site -> group -> its contiguous
// committed prefix from position 1. A site missing from Logs could not be
// asked (down, or unreachable).
type Logs map[string]map[string][]Entry

// Merge is the chosen log per group: at each position the entry any site
// knows (agreement is LogsAgree's to check), contiguous from 1.
func (l Logs) Merge() map[string][]Entry {
	out := map[string][]Entry{}
	sites := make([]string, 0, len(l))
	for s := range l {
		sites = append(sites, s)
	}
	sort.Strings(sites)
	for _, s := range sites {
		for g, es := range l[s] {
			for _, e := range es {
				if e.Position < 1 || e.Position > maxPositions {
					continue
				}
				for len(out[g]) < e.Position {
					out[g] = append(out[g], Entry{})
				}
				if out[g][e.Position-1].Position == 0 {
					out[g][e.Position-1] = e
				}
			}
		}
	}
	for g, es := range out {
		// Only a contiguous prefix is a log; a hole ends it.
		for i, e := range es {
			if e.Position == 0 {
				out[g] = es[:i]
				break
			}
		}
	}
	return out
}

// State is a group's data after a prefix of its log.
type State map[string]string

// Apply applies one entry.
func (s State) Apply(e Entry) {
	for _, w := range e.Writes {
		if w.V == "" {
			delete(s, w.K)
		} else {
			s[w.K] = w.V
		}
	}
}

// StateAt replays log[0:pos].
func StateAt(log []Entry, pos int) State {
	s := State{}
	for _, e := range log[:pos] {
		s.Apply(e)
	}
	return s
}

// Scan returns the rows of r in key order.
func (s State) Scan(r Range) []KV {
	var out []KV
	for k, v := range s {
		if k >= r.Start && (r.End == "" || k < r.End) {
			out = append(out, KV{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}
