package workloads

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/schema"
)

// Workload is one workload's clients and checker.
type Workload interface {
	Name() string
	Schema() *schema.Schema
	// Open returns a DB of the run at site, opened with opts plus the
	// workload's schema, bug switches and queue handlers. Its writes and
	// reads go through a watch (rotation) that tells the workload how far
	// each of its entity groups got, so every DB of a run must come from
	// Open.
	Open(site client.Site, opts db.Options) *db.DB
	// Op runs one operation of a client; rng is the client's own stream.
	// It returns the operation's error (already recorded in the history),
	// so that a driver can back off after a failure.
	Op(ctx context.Context, d *db.DB, rng *rand.Rand) error
	// Final runs once, after every fault healed and every client stopped.
	Final(ctx context.Context, d *db.DB) error
	// Check judges the history.
	Check() Result
}

// Result is a checker's verdict.
type Result struct {
	// Anomalies: "" each: none found.
	Anomalies []string
	// Summary says what was checked (counts), for people reading a run.
	Summary string
	// Checked counts what the checker judged (committed operations); a
	// bug test needs some.
	Checked int
}

// Valid reports whether no anomaly was found.
func (r Result) Valid() bool { return len(r.Anomalies) == 0 }

func (r Result) String() string {
	if r.Valid() {
		return "valid: " + r.Summary
	}
	n := min(len(r.Anomalies), 5)
	return fmt.Sprintf("%d anomalies (%s): %s", len(r.Anomalies), r.Summary, strings.Join(r.Anomalies[:n], "; "))
}

// Names lists the workloads.
func Names() []string { return []string{"bank", "queue", "listappend"} }

// bugs lists each workload's bug switches.
var bugs = map[string][]string{
	"bank":       {"TwoPhaseOneSide", "IndexKeepsStale"},
	"queue":      {"QueueApplyTwice", "QueueLoseBatch"},
	"listappend": {"ListAppendLostUpdate"},
}

// BugNames lists the bug switches of workload name.
func BugNames(name string) []string { return bugs[name] }

// New returns a fresh workload (its own history) by name, with bug ""
// or one of BugNames(name).
func New(name, bug string) (Workload, error) {
	if bug != "" {
		ok := false
		for _, b := range bugs[name] {
			ok = ok || b == bug
		}
		if !ok {
			return nil, fmt.Errorf("workload %q has no bug %q (known: %s)", name, bug, strings.Join(bugs[name], ", "))
		}
	}
	switch name {
	case "bank":
		return newBank(bug), nil
	case "queue":
		return newQueue(bug), nil
	case "listappend":
		return newListAppend(bug), nil
	}
	return nil, fmt.Errorf("unknown workload %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Status is what a client learned of an operation's effect.
type Status uint8

const (
	Unknown Status = iota // may or may not have taken effect
	OK
	Failed // had no effect
)

func (s Status) String() string { return [...]string{"unknown", "ok", "failed"}[s] }

// statusOf classifies an operation's error as package client does.
func statusOf(err error) Status {
	if err == nil {
		return OK
	}
	if client.Classify(err) == client.Failed {
		return Failed
	}
	return Unknown
}

func sortedKeys[K ~int64 | ~string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Generations of entity groups. Trace validation replays each entity group
// through the spec mirror, whose state encoding holds 32 log positions, 31
// written values (every value proposed there, conflicting ones included),
// 64 voted (ballot, value) pairs and 100 ballots per group
// (tests/check). A workload that kept a few groups for a whole run
// outgrows that within seconds on real nodes, and the steps past it go
// unvalidated. So each workload works in a generation of fresh groups at a
// time (accounts, boxes, lists numbered gen*n+i, the schema unchanged) and
// moves to the next generation once a group of the current one has taken
// rotateWrites write requests or reached position rotatePositions. The
// rest of the bounds is headroom: operations that already passed their
// generation check finish in the old generation (an operation rerun after
// a conflict checks again and stops), and the final phase settles and
// drains every generation.
const (
	rotateWrites    = 10
	rotatePositions = 14
)

// rotation tracks a workload's generations and, through the watched sites
// of its DBs, what each entity group took.
type rotation struct {
	mu     sync.Mutex
	gen    int64
	writes map[core.GroupID]int
	pos    map[core.GroupID]core.Position
	// groups names the entity groups of a generation.
	groups func(gen int64) []core.GroupID
}

func newRotation(groups func(gen int64) []core.GroupID) *rotation {
	return &rotation{writes: map[core.GroupID]int{}, pos: map[core.GroupID]core.Position{}, groups: groups}
}

// current returns the generation new operations use, first moving to a
// fresh one if a group of the current one is near the mirror's bounds.
func (r *rotation) current() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rotate()
}

func (r *rotation) rotate() int64 {
	for _, g := range r.groups(r.gen) {
		if r.writes[g] >= rotateWrites || r.pos[g] >= rotatePositions {
			r.gen++
			break
		}
	}
	return r.gen
}

// retired reports whether generation gen is no longer current (moving on
// first if it is full): an operation of it that has not written yet stops.
// NB: it moves on itself, since at the end of a run no new operation asks
// for the current generation, while the last ones still rerun.
func (r *rotation) retired(gen int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return gen < r.rotate()
}

// generations is how many generations the run used (0..gen).
func (r *rotation) generations() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen + 1
}

func (r *rotation) note(g core.GroupID, writes int, pos core.Position) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes[g] += writes
	r.pos[g] = max(r.pos[g], pos)
}

// watched is the client.Site of a workload's DBs: every write request
// counts (before it is sent: one in flight may be proposed), and every
// position a read or write returns raises its group's.
type watched struct {
	site client.Site
	r    *rotation
}

func (w watched) Write(ctx context.Context, req core.WriteRequest) (core.Position, error) {
	w.r.note(req.Group, 1, req.ReadPosition+1)
	pos, err := w.site.Write(ctx, req)
	if err == nil {
		w.r.note(req.Group, 0, pos)
	}
	return pos, err
}

func (w watched) Read(ctx context.Context, req core.ReadRequest) (node.ReadResult, error) {
	res, err := w.site.Read(ctx, req)
	if err == nil {
		w.r.note(req.Group, 0, res.Position)
	}
	return res, err
}

// open opens a DB of a workload over a watched site.
func open(site client.Site, opts db.Options, s *schema.Schema, r *rotation, bugs db.Bugs) *db.DB {
	opts.Bugs = bugs
	return db.Open(watched{site, r}, s, &opts)
}

// groupNames names the root groups of table whose int64 keys are
// gen*n .. gen*n+n-1.
func groupNames(s *schema.Schema, table string, n int64) func(gen int64) []core.GroupID {
	return func(gen int64) []core.GroupID {
		out := make([]core.GroupID, n)
		for i := range n {
			g, err := s.GroupOf(table, schema.Key{gen*n + i})
			if err != nil {
				panic(err) // NB: a constant schema with an int64 root key
			}
			out[i] = core.GroupID(g.Name)
		}
		return out
	}
}
