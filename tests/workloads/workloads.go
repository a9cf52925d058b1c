package workloads

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/schema"
)

// Workload is one workload's clients and checker.
type Workload interface {
	Name() string
	Schema() *schema.Schema
	// DBBugs are the db.Options.Bugs of every DB of the run.
	DBBugs() db.Bugs
	// Register installs what a DB of the run needs (queue handlers).
	Register(d *db.DB)
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
