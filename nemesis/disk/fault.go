package disk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/megastore-verified/megastore/nemesis"
)

// Docker is the part of the Docker client the faults use
// (*client.Client has it).
type Docker interface {
	ContainerKill(ctx context.Context, containerID, signal string) error
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
}

// Kinds of the faults in this package.
const (
	// KindPowerLoss: kill one site or a minority, lose their unsynced
	// writes, restart them. In the default mix.
	KindPowerLoss = "disk"
	// KindCorrupt: as KindPowerLoss for one site, and also flip a bit in
	// or cut one of its sstables while it is down. Not in the default
	// mix: the damaged node is expected to refuse to start.
	KindCorrupt = "disk-corrupt"
)

// stopTimeout bounds the wait for a killed container to be dead.
const stopTimeout = 20 * time.Second

// Fault is a power loss (or damage) of sites whose data directories are on
// this package's layer.
type Fault struct {
	docker  Docker
	cluster *nemesis.Cluster
	disks   map[string]*FS // by site
	corrupt bool
	o       DrawOptions
}

// DrawOptions narrow what a power loss draws.
type DrawOptions struct {
	// Sites to draw from (default: every site with a layer).
	Sites []string
	// Sizes (nemesis.One, Minority, Majority) of Sites to draw (default:
	// one site, or up to a minority of the whole cluster). A run that
	// must see an acknowledgement made before a majority fsynced lost
	// names Majority and the voting sites.
	Sizes []string
}

var _ nemesis.Fault = (*Fault)(nil)

// PowerLossFault returns the "disk" fault over the sites of c that have a
// layer in disks (sites without one are never drawn).
func PowerLossFault(docker Docker, c *nemesis.Cluster, disks map[string]*FS) *Fault {
	return &Fault{docker: docker, cluster: c, disks: disks}
}

// PowerLossFaultWith is PowerLossFault drawing as o says.
func PowerLossFaultWith(docker Docker, c *nemesis.Cluster, disks map[string]*FS, o DrawOptions) *Fault {
	return &Fault{docker: docker, cluster: c, disks: disks, o: o}
}

// CorruptFault returns the "disk-corrupt" fault over the same sites.
func CorruptFault(docker Docker, c *nemesis.Cluster, disks map[string]*FS) *Fault {
	return &Fault{docker: docker, cluster: c, disks: disks, corrupt: true}
}

// Kind is "disk" or "disk-corrupt".
func (f *Fault) Kind() string {
	if f.corrupt {
		return KindCorrupt
	}
	return KindPowerLoss
}

// candidates are the hosts with a layer, in the cluster's order, so the
// draw depends on the seed and the cluster only.
func (f *Fault) candidates() []nemesis.Host {
	var hs []nemesis.Host
	for _, h := range f.cluster.Hosts {
		if f.disks[h.Site] != nil && (len(f.o.Sites) == 0 || slices.Contains(f.o.Sites, h.Site)) {
			hs = append(hs, h)
		}
	}
	return hs
}

// Start draws the sites from rng (one, or up to a minority of the whole
// cluster; one for disk-corrupt), SIGKILLs their containers, waits until
// they are dead and calls PowerLoss on their layers; disk-corrupt then
// damages one sstable. Heal starts the containers again.
func (f *Fault) Start(ctx context.Context, rng *rand.Rand) (nemesis.Applied, error) {
	hosts := f.candidates()
	if len(hosts) == 0 {
		return nil, errors.New("disk: no site has a disk layer")
	}
	n := 1
	if minority := (len(f.cluster.Hosts) - 1) / 2; !f.corrupt && minority > 1 {
		n = 1 + rng.IntN(minority)
	}
	if sizes := f.o.Sizes; len(sizes) > 0 && !f.corrupt {
		n = nemesis.Size(sizes[rng.IntN(len(sizes))], len(hosts))
	}
	n = min(n, len(hosts))
	perm := rng.Perm(len(hosts))[:n]
	slices.Sort(perm)
	// The damage is drawn now, whatever the files turn out to be, so rng
	// is used the same way on every run of a seed.
	pick, where, bit, cut := rng.Uint64(), rng.Float64(), uint(rng.IntN(8)), rng.IntN(2) == 0

	a := &applied{f: f}
	for _, i := range perm {
		a.hosts = append(a.hosts, hosts[i])
	}
	var details []string
	// NB: the disks lose power first, then the processes die: a process
	// killed inside an fsync stays until the FUSE request returns, so a kill
	// first would let every fsync in flight finish and nothing unsynced would
	// be at risk. The second PowerLoss drops what was written in between.
	first := map[string]Loss{}
	for _, h := range a.hosts {
		loss, err := f.disks[h.Site].PowerLoss()
		if err != nil {
			return a, fmt.Errorf("power loss of site %s: %w", h.Site, err)
		}
		first[h.Site] = loss
		if err := f.kill(ctx, h); err != nil {
			return a, err
		}
	}
	for _, h := range a.hosts {
		late, err := f.disks[h.Site].PowerLoss()
		if err != nil {
			return a, fmt.Errorf("power loss of site %s: %w", h.Site, err)
		}
		details = append(details, fmt.Sprintf("%s: %v, then %v written before it died", h.Site, first[h.Site], late))
	}
	a.detail = fmt.Sprintf("power loss %v (%s)", a.Sites(), strings.Join(details, "; "))
	if f.corrupt {
		d, err := damage(f.disks[a.hosts[0].Site], pick, where, bit, cut)
		if err != nil {
			return a, err
		}
		a.detail += "; " + d
	}
	return a, nil
}

func (f *Fault) kill(ctx context.Context, h nemesis.Host) error {
	if err := f.docker.ContainerKill(ctx, h.ContainerID, "KILL"); err != nil {
		// Killing a container that is already down is not an error here:
		// what matters is that it is dead before the power loss.
		if st, ierr := f.docker.ContainerInspect(ctx, h.ContainerID); ierr != nil || st.State == nil || st.State.Running {
			return fmt.Errorf("kill site %s: %w", h.Site, err)
		}
	}
	deadline := time.Now().Add(stopTimeout)
	for {
		st, err := f.docker.ContainerInspect(ctx, h.ContainerID)
		if err != nil {
			return fmt.Errorf("inspect site %s: %w", h.Site, err)
		}
		if st.State != nil && !st.State.Running {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("site %s still running %v after SIGKILL", h.Site, stopTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// damage flips a bit in, or cuts, one sstable of the layer, chosen by the
// numbers drawn in Start. Only sstables: Pebble checks their blocks and
// sizes, while a damaged WAL or MANIFEST reads to it as the torn tail of a
// crash and would silently lose synced data (see pebble_test.go).
func damage(d *FS, pick uint64, where float64, bit uint, cut bool) (string, error) {
	var tables []string
	filepath.WalkDir(d.Backing(), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(p, ".sst") {
			rel, _ := filepath.Rel(d.Backing(), p)
			tables = append(tables, rel)
		}
		return nil
	})
	if len(tables) == 0 {
		return "no sstable yet, nothing damaged", nil
	}
	slices.Sort(tables)
	rel := tables[pick%uint64(len(tables))]
	st, err := os.Stat(filepath.Join(d.Backing(), rel))
	if err != nil {
		return "", err
	}
	if st.Size() == 0 {
		return fmt.Sprintf("%s is empty, nothing damaged", rel), nil
	}
	off := int64(where * float64(st.Size()))
	if cut {
		return fmt.Sprintf("cut %s at %d of %d bytes", rel, off, st.Size()), d.Truncate(rel, off)
	}
	return fmt.Sprintf("flipped bit %d of byte %d of %s", bit, off, rel), d.FlipBit(rel, off, bit)
}

type applied struct {
	f      *Fault
	hosts  []nemesis.Host
	detail string
}

func (a *applied) Detail() string { return a.detail }

func (a *applied) Sites() []string {
	var s []string
	for _, h := range a.hosts {
		s = append(s, h.Site)
	}
	return s
}

// Heal starts the killed containers again. A site damaged by disk-corrupt
// is expected to exit at once (its store refuses to open); the rest of
// the cluster goes on without it.
func (a *applied) Heal(ctx context.Context) error {
	var errs []error
	for _, h := range a.hosts {
		if err := a.f.docker.ContainerStart(ctx, h.ContainerID, container.StartOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("start site %s: %w", h.Site, err))
		}
	}
	return errors.Join(errs...)
}
