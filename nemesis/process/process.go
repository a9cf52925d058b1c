package process

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/megastore-verified/megastore/nemesis"
)

// Options narrow what a fault draws from.
type Options struct {
	// Sizes to draw from (nemesis.One, Minority, Majority); default all three.
	Sizes []string
	// Sites to draw from; default every site of the cluster.
	Sites []string
}

func (o Options) draw(c *nemesis.Cluster, rng *rand.Rand) (size string, sites []string) {
	sizes := o.Sizes
	if len(sizes) == 0 {
		sizes = []string{nemesis.One, nemesis.Minority, nemesis.Majority}
	}
	pool := o.Sites
	if len(pool) == 0 {
		pool = c.SiteIDs()
	}
	size = sizes[rng.IntN(len(sizes))]
	// NB: the size counts the whole cluster, so "majority" means a
	// majority of all sites even when the pool is smaller.
	return size, nemesis.Subset(rng, pool, nemesis.Size(size, len(c.Hosts)))
}

type fault struct {
	kind string
	cli  *client.Client
	c    *nemesis.Cluster
	o    Options
}

// Kill is the "kill" fault: SIGKILL, heal by starting again.
func Kill(cli *client.Client, c *nemesis.Cluster, o Options) nemesis.Fault {
	return &fault{kind: "kill", cli: cli, c: c, o: o}
}

// Pause is the "pause" fault: freeze, heal by thawing.
func Pause(cli *client.Client, c *nemesis.Cluster, o Options) nemesis.Fault {
	return &fault{kind: "pause", cli: cli, c: c, o: o}
}

func (f *fault) Kind() string { return f.kind }

func (f *fault) Start(ctx context.Context, rng *rand.Rand) (nemesis.Applied, error) {
	size, sites := f.o.draw(f.c, rng)
	if f.kind == "kill" {
		return KillSites(ctx, f.cli, f.c, size, sites)
	}
	return PauseSites(ctx, f.cli, f.c, size, sites)
}

// HealAll starts every stopped container of the cluster (kill) or thaws
// every paused one (pause).
func (f *fault) HealAll(ctx context.Context) error {
	var errs []error
	for _, h := range f.c.Hosts {
		st, err := f.cli.ContainerInspect(ctx, h.ContainerID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case f.kind == "pause" && st.State.Paused:
			errs = append(errs, f.cli.ContainerUnpause(ctx, h.ContainerID))
		case f.kind == "kill" && !st.State.Running:
			errs = append(errs, f.cli.ContainerStart(ctx, h.ContainerID, container.StartOptions{}))
		}
	}
	return errors.Join(errs...)
}

// applied is a kill or pause in force on sites.
type applied struct {
	kind, size string
	cli        *client.Client
	ids        map[string]string // site -> container
	sites      []string          // those it did act on
}

func (a *applied) Detail() string {
	if a.size == "" {
		return fmt.Sprintf("%s %v", a.kind, a.sites)
	}
	return fmt.Sprintf("%s %s %v", a.kind, a.size, a.sites)
}

func (a *applied) Sites() []string { return a.sites }

func (a *applied) Heal(ctx context.Context) error {
	var errs []error
	for _, s := range a.sites {
		id := a.ids[s]
		if a.kind == "pause" {
			if err := a.cli.ContainerUnpause(ctx, id); err != nil {
				errs = append(errs, fmt.Errorf("unpause %s: %w", s, err))
			}
			continue
		}
		// A killed container may still be tearing down; start it once it
		// has stopped.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		okc, errc := a.cli.ContainerWait(wctx, id, container.WaitConditionNotRunning)
		select {
		case <-okc:
		case <-errc:
		}
		cancel()
		if err := a.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("start %s: %w", s, err))
		}
	}
	return errors.Join(errs...)
}

func lookup(c *nemesis.Cluster, sites []string) (map[string]string, error) {
	ids := map[string]string{}
	for _, s := range sites {
		h, ok := c.Host(s)
		if !ok {
			return nil, fmt.Errorf("site %q is not in the cluster %v", s, c.SiteIDs())
		}
		ids[s] = h.ContainerID
	}
	return ids, nil
}

// KillSites SIGKILLs the containers of sites now; size only labels the
// detail ("" for none). On a partial failure the returned Applied heals
// the sites that were killed.
func KillSites(ctx context.Context, cli *client.Client, c *nemesis.Cluster, size string, sites []string) (nemesis.Applied, error) {
	return act(ctx, cli, c, "kill", size, sites, func(id string) error { return cli.ContainerKill(ctx, id, "KILL") })
}

// PauseSites freezes the containers of sites now.
func PauseSites(ctx context.Context, cli *client.Client, c *nemesis.Cluster, size string, sites []string) (nemesis.Applied, error) {
	return act(ctx, cli, c, "pause", size, sites, func(id string) error { return cli.ContainerPause(ctx, id) })
}

func act(ctx context.Context, cli *client.Client, c *nemesis.Cluster, kind, size string, sites []string, do func(id string) error) (nemesis.Applied, error) {
	ids, err := lookup(c, sites)
	if err != nil {
		return nil, err
	}
	a := &applied{kind: kind, size: size, cli: cli, ids: ids}
	var errs []error
	for _, s := range sites {
		if err := do(ids[s]); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", kind, s, err))
			continue
		}
		a.sites = append(a.sites, s)
	}
	slices.Sort(a.sites)
	if err := errors.Join(errs...); err != nil {
		if len(a.sites) == 0 {
			return nil, err
		}
		return a, err
	}
	return a, nil
}
