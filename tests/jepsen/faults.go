package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis"
	"github.com/megastore-verified/megastore/nemesis/clock"
	"github.com/megastore-verified/megastore/nemesis/disk"
	"github.com/megastore-verified/megastore/nemesis/linkproxy"
	"github.com/megastore-verified/megastore/nemesis/partition"
	"github.com/megastore-verified/megastore/nemesis/process"
	"github.com/megastore-verified/megastore/tests/containers"
)

// Nemeses names every fault kind the runner can be asked for.
var Nemeses = []string{"kill", "pause", "partition", "link", "clock", "disk"}

// Available names the kinds BuildFaults builds today ("all" means these).
var Available = []string{"kill", "pause", "partition", "link", "clock", "disk"}

// FaultEnv is what fault kinds act on: the run's own containers.
type FaultEnv struct {
	Cluster *nemesis.Cluster
	Run     *containers.Run
	Disks   map[string]*disk.FS // by site, when the nodes run on the disk layer
	Config  *siteconfig.File
	Links   *linkproxy.Set // the link proxies, when the run has them
}

// BuildFaults builds the named fault kinds for the run from the nemesis
// packages (process, partition, clock, disk). "link" needs link proxies in
// the cluster's config and is not built here yet.
func BuildFaults(env FaultEnv, kinds []string) ([]nemesis.Fault, error) {
	var out []nemesis.Fault
	for _, k := range kinds {
		switch k {
		case "kill":
			out = append(out, process.Kill(env.Run.Cli, env.Cluster, process.Options{}))
		case "pause":
			out = append(out, process.Pause(env.Run.Cli, env.Cluster, process.Options{}))
		case "partition":
			out = append(out, partition.New(env.Run.Cli, env.Cluster, partition.Options{}))
		case "clock":
			b, err := clock.BoundsOf(env.Config)
			if err != nil {
				return nil, err
			}
			out = append(out, clock.New(env.Cluster, b, clock.Options{}))
		case "link":
			if env.Links == nil {
				return nil, fmt.Errorf("nemesis link: the run has no link proxies")
			}
			out = append(out, env.Links.Fault())
		case "disk":
			if len(env.Disks) == 0 {
				return nil, fmt.Errorf("nemesis disk: the nodes do not run on the disk layer")
			}
			out = append(out, disk.PowerLossFault(env.Run.Cli, env.Cluster, env.Disks))
		default:
			return nil, fmt.Errorf("nemesis %q is not available yet (available: %v)", k, Available)
		}
	}
	return out, nil
}

// processFault is the tests' own deterministic variant of the process and
// disk faults (a power loss at a majority every time, so a short run sees
// AckBeforeMajorityFsync). It kills (SIGKILL, then a restart at the heal) or pauses
// (the cgroup freezer) one site or a minority of the full sites. With
// powerLoss (the "disk" kind), each killed site, once dead, also loses every
// write it had not fsynced (the disk layer's PowerLoss) before its restart.
type processFault struct {
	env       FaultEnv
	kill      bool
	powerLoss bool
	// majorityOnly: every power loss hits a majority of the full sites (a
	// test's way to make AckBeforeMajorityFsync visible in a short run).
	majorityOnly bool
}

func (f *processFault) Kind() string {
	if f.powerLoss {
		return "disk"
	}
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
	x := rng.IntN(3)
	if f.majorityOnly {
		x = 2
	}
	switch {
	case x == 0:
		sites = []string{all[rng.IntN(len(all))]}
	case x == 1 || !f.powerLoss:
		// A minority of the full sites: the others keep a majority.
		rng.Shuffle(len(full), func(i, j int) { full[i], full[j] = full[j], full[i] })
		sites = slices.Clone(full[:(len(full)-1)/2])
	default:
		// A power loss at a majority at once: what was acknowledged is on
		// a majority's disks, so it must survive even this.
		rng.Shuffle(len(full), func(i, j int) { full[i], full[j] = full[j], full[i] })
		sites = slices.Clone(full[:len(full)/2+1])
	}
	slices.Sort(sites)
	a := &processApplied{f: f, sites: sites}
	for _, s := range sites {
		var err error
		if fs := f.env.Disks[s]; f.powerLoss && fs != nil {
			// NB: the disk loses power before the process dies: a process
			// killed inside an fsync stays until the FUSE request returns,
			// so a kill first would let every fsync in flight finish.
			if _, err := fs.PowerLoss(); err != nil {
				return nil, fmt.Errorf("%s %s: %w", f.Kind(), s, err)
			}
		}
		if f.kill {
			err = f.env.Run.Kill(ctx, s)
		} else {
			err = f.env.Run.Pause(ctx, s)
		}
		if err == nil && f.powerLoss {
			err = f.loseUnsynced(ctx, s, a)
		}
		if err != nil {
			a.Heal(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("%s %s: %w", f.Kind(), s, err)
		}
	}
	return a, nil
}

// loseUnsynced waits until site's container is dead, then reverts its disk
// again: what the dying process wrote after the power loss is lost too.
func (f *processFault) loseUnsynced(ctx context.Context, site string, a *processApplied) error {
	fs := f.env.Disks[site]
	if fs == nil {
		return nil
	}
	id := f.env.Run.Containers[site]
	for deadline := time.Now().Add(20 * time.Second); ; {
		st, err := f.env.Run.Cli.ContainerInspect(ctx, id)
		if err != nil {
			return err
		}
		if st.State != nil && !st.State.Running {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container of %s still running 20s after SIGKILL", site)
		}
		time.Sleep(50 * time.Millisecond)
	}
	loss, err := fs.PowerLoss()
	if err != nil {
		return err
	}
	a.losses = append(a.losses, fmt.Sprintf("%s: %+v", site, loss))
	return nil
}

type processApplied struct {
	f      *processFault
	sites  []string
	losses []string
}

// Detail names the sites and what each power loss reverted (fixed once
// Start returns, so the heal names the fault as its start did).
func (a *processApplied) Detail() string {
	d := "[" + strings.Join(a.sites, " ") + "]"
	if len(a.losses) > 0 {
		d += " lost unsynced: " + strings.Join(a.losses, "; ")
	}
	return d
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
