package cluster

import (
	"context"
	"sync"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

// Network is the in-memory transport between the cluster's sites. Links
// can be cut one way; messages on a cut link, or to a site that is down,
// are dropped.
type Network struct {
	c   *Cluster
	mu  sync.RWMutex
	cut map[[2]core.SiteID]bool
}

func newNetwork(c *Cluster) *Network {
	return &Network{c: c, cut: map[[2]core.SiteID]bool{}}
}

// Cut drops every message from one site to another until Heal.
func (n *Network) Cut(from, to core.SiteID) {
	n.mu.Lock()
	n.cut[[2]core.SiteID{from, to}] = true
	n.mu.Unlock()
}

// Isolate cuts every link to and from site.
func (n *Network) Isolate(site core.SiteID) {
	for _, s := range n.c.opts.Sites {
		if s.ID != site {
			n.Cut(site, s.ID)
			n.Cut(s.ID, site)
		}
	}
}

// Heal restores every link.
func (n *Network) Heal() {
	n.mu.Lock()
	n.cut = map[[2]core.SiteID]bool{}
	n.mu.Unlock()
}

type transport struct {
	n    *Network
	from core.SiteID
}

func (n *Network) transport(from core.SiteID) core.Transport { return transport{n, from} }

func (t transport) Send(to core.SiteID, m core.Message) {
	t.n.mu.RLock()
	cut := t.n.cut[[2]core.SiteID{t.from, to}]
	t.n.mu.RUnlock()
	if cut {
		return
	}
	if d := t.n.c.Driver(to); d != nil {
		d.Deliver(m)
	}
}

func (p siteProxy) Write(ctx context.Context, req core.WriteRequest) (core.Position, error) {
	d := p.c.Driver(p.id)
	if d == nil {
		return 0, node.ErrStopped
	}
	return d.Write(ctx, req)
}

func (p siteProxy) Read(ctx context.Context, req core.ReadRequest) (node.ReadResult, error) {
	d := p.c.Driver(p.id)
	if d == nil {
		return node.ReadResult{}, node.ErrStopped
	}
	return d.Read(ctx, req)
}
