package cluster

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/storage"
)

// Options configure a cluster.
type Options struct {
	Sites []core.Site
	// TickInterval is the wall-time length of a tick (default 2ms).
	TickInterval time.Duration
	// Seed seeds each replica's Rand (site i gets Seed+i).
	Seed uint64
	// Tune, if set, adjusts each site's core.Config.
	Tune func(*core.Config)
	// Dir, if set, puts each site's Pebble store on disk under Dir/<site>
	// (real fsyncs; Crash then is unavailable). Default: in memory.
	Dir string
	// OnTrace, if set, sees every trace event (from driver goroutines).
	OnTrace func(site core.SiteID, events []core.TraceEvent)
	// OnTraceBatch, if set, records each site's spec-level trace as a real
	// node does (node.Config.OnTraceBatch), for tests/tracemap.
	OnTraceBatch func(node.TraceBatch)
	// Driver, if set, adjusts each site's node.Config (tests that break the
	// driver on purpose).
	Driver func(*node.Config)
}

// Cluster is a set of in-process sites.
type Cluster struct {
	opts  Options
	clock *node.RealClock
	net   *Network

	mu      sync.Mutex
	drivers map[core.SiteID]*node.Driver
	stores  map[core.SiteID]*storage.Pebble
}

// New starts a cluster.
func New(opts Options) (*Cluster, error) {
	if opts.TickInterval == 0 {
		opts.TickInterval = 2 * time.Millisecond
	}
	c := &Cluster{
		opts:    opts,
		clock:   node.NewRealClock(opts.TickInterval),
		drivers: map[core.SiteID]*node.Driver{},
		stores:  map[core.SiteID]*storage.Pebble{},
	}
	c.net = newNetwork(c)
	for i, s := range opts.Sites {
		var st *storage.Pebble
		var err error
		if opts.Dir != "" {
			st, err = storage.Open(filepath.Join(opts.Dir, string(s.ID)))
		} else {
			st, err = storage.OpenMem()
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		c.stores[s.ID] = st
		if err := c.start(i, s.ID); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) index(id core.SiteID) int {
	for i, s := range c.opts.Sites {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// start runs a driver for site over its current storage.
// REQUIRES: c.mu not held by the caller if drivers may call back.
func (c *Cluster) start(i int, id core.SiteID) error {
	cfg := core.DefaultConfig(id, c.opts.Sites)
	cfg.Rand = rand.New(rand.NewPCG(c.opts.Seed+uint64(i), uint64(time.Now().UnixNano())))
	if c.opts.Tune != nil {
		c.opts.Tune(&cfg)
	}
	ncfg := node.Config{
		Core:         cfg,
		Storage:      c.stores[id],
		Transport:    c.net.transport(id),
		Clock:        c.clock,
		OnTrace:      c.opts.OnTrace,
		OnTraceBatch: c.opts.OnTraceBatch,
	}
	if c.opts.Driver != nil {
		c.opts.Driver(&ncfg)
	}
	d, err := node.Start(ncfg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.drivers[id] = d
	c.mu.Unlock()
	return nil
}

// Driver returns the running driver of a site (nil if stopped).
func (c *Cluster) Driver(id core.SiteID) *node.Driver {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.drivers[id]
}

// Client returns a client library talking to site id.
func (c *Cluster) Client(id core.SiteID) *client.Client {
	return client.New(c.Site(id))
}

// Site returns site id as a client.Site that follows its restarts.
func (c *Cluster) Site(id core.SiteID) client.Site { return siteProxy{c, id} }

// siteProxy resolves the site's current driver on every call, so clients
// survive a crash and restart of the site.
type siteProxy struct {
	c  *Cluster
	id core.SiteID
}

// Network returns the cluster's transport, for cutting links.
func (c *Cluster) Network() *Network { return c.net }

// Crash stops site id's driver, throws away every write its storage had not
// synced, and leaves the site down until Restart.
func (c *Cluster) Crash(id core.SiteID) error {
	c.mu.Lock()
	d := c.drivers[id]
	delete(c.drivers, id)
	c.mu.Unlock()
	if d == nil {
		return fmt.Errorf("cluster: %s is not running", id)
	}
	d.Stop()
	st, err := c.stores[id].Crash(0, nil)
	if err != nil {
		return err
	}
	c.stores[id] = st
	return nil
}

// Restart starts a crashed site again from what its storage kept.
func (c *Cluster) Restart(id core.SiteID) error {
	i := c.index(id)
	if i < 0 {
		return fmt.Errorf("cluster: unknown site %s", id)
	}
	return c.start(i, id)
}

// Close stops everything.
func (c *Cluster) Close() {
	c.mu.Lock()
	ds := c.drivers
	c.drivers = map[core.SiteID]*node.Driver{}
	c.mu.Unlock()
	for _, d := range ds {
		d.Stop()
	}
	for _, st := range c.stores {
		st.Close()
	}
	c.clock.Stop()
}
