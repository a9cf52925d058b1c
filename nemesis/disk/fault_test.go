package disk

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/megastore-verified/megastore/nemesis"
)

// fakeDocker records kills and starts; a killed container is stopped.
type fakeDocker struct {
	running map[string]bool
	calls   []string
}

func (d *fakeDocker) ContainerKill(_ context.Context, id, signal string) error {
	d.calls = append(d.calls, "kill "+id+" "+signal)
	d.running[id] = false
	return nil
}

func (d *fakeDocker) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	d.calls = append(d.calls, "start "+id)
	d.running[id] = true
	return nil
}

func (d *fakeDocker) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{
		State: &container.State{Running: d.running[id]}}}, nil
}

// fiveSites mounts a layer per site of a 5-site cluster and writes one
// unsynced file in each.
func fiveSites(t *testing.T) (*fakeDocker, *nemesis.Cluster, map[string]*FS) {
	d := &fakeDocker{running: map[string]bool{}}
	c := &nemesis.Cluster{}
	disks := map[string]*FS{}
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		c.Hosts = append(c.Hosts, nemesis.Host{Site: s, ContainerID: "ctr-" + s})
		d.running["ctr-"+s] = true
		disks[s] = mount(t)
		if err := os.WriteFile(filepath.Join(disks[s].Mountpoint(), "wal"), []byte("unsynced"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d, c, disks
}

func TestPowerLossFault(t *testing.T) {
	d, c, disks := fiveSites(t)
	f := PowerLossFault(d, c, disks)
	if f.Kind() != "disk" {
		t.Fatalf("kind %q", f.Kind())
	}
	seen := map[int]bool{}
	for seed := uint64(0); seed < 20; seed++ {
		a, err := f.Start(context.Background(), rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		sites := a.Sites()
		seen[len(sites)] = true
		if len(sites) < 1 || len(sites) > 2 {
			t.Fatalf("seed %d drew %v: not one site or a minority of 5", seed, sites)
		}
		for _, s := range c.Hosts {
			b, _ := os.ReadFile(filepath.Join(disks[s.Site].Mountpoint(), "wal"))
			hit := slices.Contains(sites, s.Site)
			if hit && (len(b) != 0 || d.running[s.ContainerID]) {
				t.Fatalf("seed %d: site %s drawn but still has %q, running %v", seed, s.Site, b, d.running[s.ContainerID])
			}
			if !hit && (len(b) == 0 || !d.running[s.ContainerID]) {
				t.Fatalf("seed %d: site %s not drawn but lost its data (%q) or was stopped", seed, s.Site, b)
			}
		}
		if err := a.Heal(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, s := range sites {
			if !d.running["ctr-"+s] {
				t.Fatalf("site %s not restarted by Heal", s)
			}
			os.WriteFile(filepath.Join(disks[s].Mountpoint(), "wal"), []byte("unsynced"), 0o644)
		}
		// The same seed draws the same sites.
		again, _ := f.Start(context.Background(), rand.New(rand.NewPCG(seed, 0)))
		if fmt.Sprint(again.Sites()) != fmt.Sprint(sites) {
			t.Fatalf("seed %d drew %v then %v", seed, sites, again.Sites())
		}
		again.Heal(context.Background())
		for _, s := range sites {
			os.WriteFile(filepath.Join(disks[s].Mountpoint(), "wal"), []byte("unsynced"), 0o644)
		}
	}
	if !seen[1] || !seen[2] {
		t.Errorf("20 seeds drew only sizes %v, want both 1 and 2", seen)
	}
}

func TestCorruptFault(t *testing.T) {
	d, c, disks := fiveSites(t)
	for _, fs := range disks {
		if err := os.WriteFile(filepath.Join(fs.Mountpoint(), "000007.sst"), []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := CorruptFault(d, c, disks)
	a, err := f.Start(context.Background(), rand.New(rand.NewPCG(3, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(a.Detail())
	if len(a.Sites()) != 1 {
		t.Fatalf("disk-corrupt drew %v, want one site", a.Sites())
	}
	site := a.Sites()[0]
	b, _ := os.ReadFile(filepath.Join(disks[site].Mountpoint(), "000007.sst"))
	// The file was never synced: the power loss empties it, and there is
	// nothing left to damage; sync it and damage again.
	if len(b) != 0 {
		t.Fatalf("unsynced table survived the power loss: %q", b)
	}
	a.Heal(context.Background())
	file, err := os.OpenFile(filepath.Join(disks[site].Mountpoint(), "000007.sst"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	file.WriteAt([]byte("0123456789"), 0)
	file.Sync()
	file.Close()
	sites := []string{}
	for seed := uint64(0); ; seed++ {
		a, err = f.Start(context.Background(), rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		a.Heal(context.Background())
		sites = append(sites, a.Sites()...)
		if a.Sites()[0] == site {
			break
		}
		if seed > 100 {
			t.Fatalf("100 seeds never drew site %s: %v", site, sites)
		}
	}
	t.Log(a.Detail())
	b, _ = os.ReadFile(filepath.Join(disks[site].Mountpoint(), "000007.sst"))
	if string(b) == "0123456789" {
		t.Fatalf("disk-corrupt left the table intact: %s", a.Detail())
	}
}

// DrawOptions narrow the draw: a majority of the named sites, every time.
func TestPowerLossFaultDrawsAsTold(t *testing.T) {
	d, c, disks := fiveSites(t)
	pool := []string{c.Hosts[0].Site, c.Hosts[1].Site, c.Hosts[2].Site}
	f := PowerLossFaultWith(d, c, disks, DrawOptions{Sites: pool, Sizes: []string{nemesis.Majority}})
	for seed := uint64(0); seed < 10; seed++ {
		a, err := f.Start(context.Background(), rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		sites := a.Sites()
		if len(sites) != 2 {
			t.Fatalf("seed %d drew %v, want a majority (2) of %v", seed, sites, pool)
		}
		for _, s := range sites {
			if !slices.Contains(pool, s) {
				t.Fatalf("seed %d drew %s, outside %v", seed, s, pool)
			}
		}
		if err := a.Heal(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, s := range sites {
			os.WriteFile(filepath.Join(disks[s].Mountpoint(), "wal"), []byte("unsynced"), 0o644)
		}
	}
}
