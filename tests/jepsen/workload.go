package jepsen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// Workloads names the workloads Run knows: the register's, and those of
// tests/workloads over impl/db (dbworkload.go).
var Workloads = []string{"register", "txn", "scan", "bank", "queue", "listappend"}

// groupPool hands out entity groups. With a write budget, a group that
// has taken that many writes is retired and a fresh one takes its place:
// the spec mirror validates a group's trace only up to 32 positions and 31
// written values, so a run whose every step is validated spreads its writes
// over many short-lived groups (which also keeps porcupine's searches small).
type groupPool struct {
	mu     sync.Mutex
	active []string
	writes map[string]int
	budget int // write operations per group; 0: groups never retire
	all    []string
}

func newGroupPool(n, budget int) *groupPool {
	p := &groupPool{writes: map[string]int{}, budget: budget}
	for i := 0; i < n; i++ {
		p.fresh()
	}
	return p
}

func (p *groupPool) fresh() string {
	g := fmt.Sprintf("g%d", len(p.all))
	p.all = append(p.all, g)
	p.active = append(p.active, g)
	return g
}

func (p *groupPool) pick(rng *rand.Rand, write bool) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := rng.IntN(len(p.active))
	g := p.active[i]
	if write && p.budget > 0 {
		p.writes[g]++
		if p.writes[g] >= p.budget {
			p.active = slices.Delete(p.active, i, i+1)
			p.fresh()
		}
	}
	return g
}

// Groups lists every group used so far.
func (p *groupPool) Groups() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.all)
}

// gen draws one operation's invocation: what to do, where. IDs (and so
// write values) are unique across the run.
type gen struct {
	rng      *rand.Rand
	groups   *groupPool
	full     []string // sites that take writes and current reads
	readable []string // sites that serve snapshot and inconsistent reads
	refusing []string // witness and read-only sites: no writes, no current reads
	nextID   *atomic.Int64
}

func (g *gen) pick(from []string) string { return from[g.rng.IntN(len(from))] }

func (g *gen) op(f F, mode Mode, site string) *Operation {
	id := int(g.nextID.Add(1))
	group := g.groups.pick(g.rng, f == FTxn || f == FWrite)
	return &Operation{ID: id, F: f, Mode: mode, Group: group, Site: site}
}

func (g *gen) value(o *Operation) string {
	o.Value = fmt.Sprintf("v%d", o.ID)
	return o.Value
}

// next draws an operation of the named workload; one in fifty is a write
// or current read at a site that must refuse it.
func (g *gen) next(workload string) *Operation {
	if len(g.refusing) > 0 && g.rng.IntN(50) == 0 {
		site := g.pick(g.refusing)
		var o *Operation
		if g.rng.IntN(2) == 0 {
			o = g.op(FWrite, "", site)
			o.Writes = []KV{{"r", g.value(o)}}
		} else {
			o = g.op(FRead, Current, site)
			o.Reads = []KV{{K: "r"}}
		}
		o.ExpectRefusal = true
		return o
	}
	x := g.rng.IntN(100)
	switch workload {
	case "register":
		// One key per group: current and snapshot reads at random sites,
		// writes as read-modify-write transactions or blind puts.
		var o *Operation
		switch {
		case x < 35:
			o = g.op(FRead, Current, g.pick(g.full))
		case x < 50:
			o = g.op(FRead, Snapshot, g.pick(g.readable))
		case x < 55:
			o = g.op(FRead, Inconsistent, g.pick(g.readable))
		case x < 85:
			o = g.op(FTxn, "", g.pick(g.full))
			o.Writes = []KV{{"r", g.value(o)}}
		default:
			o = g.op(FWrite, "", g.pick(g.full))
			o.Writes = []KV{{"r", g.value(o)}}
			return o
		}
		o.Reads = []KV{{K: "r"}}
		return o
	case "txn":
		// Four keys per group: transactions read two and write one or
		// both; multi-key current and snapshot reads; inconsistent reads.
		keys := []string{"k0", "k1", "k2", "k3"}
		g.rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		var o *Operation
		switch {
		case x < 45:
			o = g.op(FTxn, "", g.pick(g.full))
			for _, k := range keys[:2] {
				o.Reads = append(o.Reads, KV{K: k})
			}
			for _, k := range keys[:1+g.rng.IntN(2)] {
				o.Writes = append(o.Writes, KV{k, g.value(o)})
			}
		case x < 60:
			o = g.op(FTxn, "", g.pick(g.full))
			for _, k := range keys[:2] {
				o.Writes = append(o.Writes, KV{k, g.value(o)})
			}
		case x < 80:
			o = g.op(FRead, Current, g.pick(g.full))
		case x < 92:
			o = g.op(FRead, Snapshot, g.pick(g.readable))
		default:
			o = g.op(FRead, Inconsistent, g.pick(g.readable))
			keys = keys[:1]
		}
		if o.F == FRead {
			ks := slices.Clone(keys[:min(3, len(keys))])
			slices.Sort(ks)
			for _, k := range ks {
				o.Reads = append(o.Reads, KV{K: k})
			}
		}
		return o
	case "scan":
		// Rows w/<id> inserted by transactions; range scans (current and
		// snapshot) over the recent ids.
		if x < 45 {
			o := g.op(FTxn, "", g.pick(g.full))
			o.Writes = []KV{{fmt.Sprintf("w/%08d", o.ID), g.value(o)}}
			return o
		}
		mode, site := Current, g.pick(g.full)
		if x >= 75 {
			mode, site = Snapshot, g.pick(g.readable)
		}
		o := g.op(FScan, mode, site)
		hi := int(g.nextID.Load()) + 1
		lo := max(0, hi-1-g.rng.IntN(300))
		o.Range = &Range{Start: fmt.Sprintf("w/%08d", lo), End: fmt.Sprintf("w/%08d", hi)}
		return o
	}
	panic("jepsen: unknown workload " + workload) // Config.validate rejects it first
}
