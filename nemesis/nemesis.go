// Package nemesis injects faults into the suite's own node containers: it
// kills, pauses and partitions them, slows their links, skews their clocks
// and loses their unsynced writes, each fault applied and healed with a
// timestamped event. It knows Docker, iptables, link proxies and disks, and
// nothing of Paxos.
//
// # Usage loop
//
//	nc := cluster.Nemesis() // tests/containers
//	faults := []nemesis.Fault{process.Kill(cli, nc, process.Options{}),
//		partition.New(cli, nc, partition.Options{}), clock.New(nc, bounds, clock.Options{}), ...}
//	plan := nemesis.Plan(seed, faults, duration, interval)
//	record := nemesis.Printer(os.Stdout, t0, appendToHistory)
//	nemesis.Run(ctx, plan, faults, record)  // applies, heals, records
//	nemesis.HealAll(ctx, faults, record)    // before the cluster recovers and the final checks
package nemesis

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Phase says what an Event records.
type Phase string

const (
	// PhaseStart: a fault was applied.
	PhaseStart Phase = "start"
	// PhaseHeal: a fault was healed.
	PhaseHeal Phase = "heal"
	// PhaseFail: applying or healing failed (the run goes on; the failure
	// is in the history and the report).
	PhaseFail Phase = "fail"
)

// Event is one line of the nemesis log and one record in the history.
type Event struct {
	Time   time.Time `json:"time"`
	Phase  Phase     `json:"phase"`
	Kind   string    `json:"kind"`   // the Fault's Kind: kill, pause, partition, link, clock, disk
	Detail string    `json:"detail"` // for a person: "isolate b", "kill [a c]", "clock a +60 ticks"
	Sites  []string  `json:"sites,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// Host is one site's container as the nemesis sees it.
type Host struct {
	Site        string
	Kind        string // full, witness, readonly
	ContainerID string
	Addr        netip.Addr // on the suite's network
	PeerPort    uint16     // site-to-site gRPC
	HTTPAddr    netip.AddrPort
}

// Cluster is what faults act on: the suite's own containers, never
// anything else on the engine.
type Cluster struct {
	Hosts []Host
	// LinkAddrs lists, for a directed link {from, to}, the addresses from
	// dials to send to to besides to's own peer address (a link proxy on
	// the host). A partition cuts those too.
	LinkAddrs map[[2]string][]netip.AddrPort
}

// Host returns the host of site, or false.
func (c *Cluster) Host(site string) (Host, bool) {
	for _, h := range c.Hosts {
		if h.Site == site {
			return h, true
		}
	}
	return Host{}, false
}

// Fault is one kind of fault the schedule can draw.
type Fault interface {
	// Kind names it in flags, events and reports (kill, pause, ...).
	Kind() string
	// Start draws one fault of this kind from rng and applies it. The
	// draw must depend only on rng, so a seed gives the same schedule.
	Start(ctx context.Context, rng *rand.Rand) (Applied, error)
}

// Applied is a fault in force.
type Applied interface {
	Detail() string
	Sites() []string
	// Heal undoes it; a healed cluster can make progress again.
	Heal(ctx context.Context) error
}
