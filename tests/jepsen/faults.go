package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/megastore-verified/megastore/nemesis"
	"github.com/megastore-verified/megastore/tests/containers"
)

// Nemeses names every fault kind the runner can be asked for.
var Nemeses = []string{"kill", "pause", "partition", "link", "clock", "disk"}

// FaultEnv is what fault kinds act on: the run's own containers.
type FaultEnv struct {
	Cluster *nemesis.Cluster
	Run     *containers.Run
}

// BuildFaults builds the named fault kinds for the run.
func BuildFaults(env FaultEnv, kinds []string) ([]nemesis.Fault, error) {
	var out []nemesis.Fault
	for _, k := range kinds {
		switch k {
		case "kill":
			out = append(out, &processFault{env: env, kill: true})
		case "pause":
			out = append(out, &processFault{env: env})
		default:
			return nil, fmt.Errorf("nemesis %q is not available yet (available: kill, pause)", k)
		}
	}
	return out, nil
}

// processFault kills (SIGKILL, then a restart at the heal) or pauses
// (the cgroup freezer) one site or a minority of the full sites.
type processFault struct {
	env  FaultEnv
	kill bool
}

func (f *processFault) Kind() string {
	if f.kill {
		return "kill"
	}
	return "pause"
}

func (f *processFault) Start(ctx context.Context, rng *rand.Rand) (nemesis.Applied, error) {
	var all, full []string
	for _, h := range f.env.Cluster.Hosts {
		all = append(all, h.Site)
		if h.Kind == "full" {
			full = append(full, h.Site)
		}
	}
	var sites []string
	if rng.IntN(2) == 0 {
		sites = []string{all[rng.IntN(len(all))]}
	} else {
		// A minority of the full sites: the others keep a majority.
		rng.Shuffle(len(full), func(i, j int) { full[i], full[j] = full[j], full[i] })
		sites = slices.Clone(full[:(len(full)-1)/2])
	}
	slices.Sort(sites)
	a := &processApplied{f: f, sites: sites}
	for _, s := range sites {
		var err error
		if f.kill {
			err = f.env.Run.Kill(ctx, s)
		} else {
			err = f.env.Run.Pause(ctx, s)
		}
		if err != nil {
			a.Heal(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("%s %s: %w", f.Kind(), s, err)
		}
	}
	return a, nil
}

type processApplied struct {
	f     *processFault
	sites []string
}

func (a *processApplied) Detail() string {
	return "[" + strings.Join(a.sites, " ") + "]"
}

func (a *processApplied) Sites() []string { return a.sites }

func (a *processApplied) Heal(ctx context.Context) error {
	for _, s := range a.sites {
		var err error
		if a.f.kill {
			err = a.f.env.Run.Start(ctx, s)
		} else {
			err = a.f.env.Run.Unpause(ctx, s)
		}
		if err != nil {
			return fmt.Errorf("heal %s %s: %w", a.f.Kind(), s, err)
		}
	}
	if a.f.kill {
		return a.f.env.Run.WaitHealthy(ctx, 30*time.Second, a.sites...)
	}
	return nil
}
