package jepsen

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis"
	"github.com/megastore-verified/megastore/nemesis/disk"
	"github.com/megastore-verified/megastore/nemesis/linkproxy"
	"github.com/megastore-verified/megastore/tests/containers"
)

// cluster is what the runner needs of the Docker side: the sites, their
// client addresses, their logs, the nemesis' view, and teardown.
type cluster struct {
	run    *containers.Run
	disks  map[string]*disk.FS // by site, with the disk layer
	sites  []containers.Site
	client map[string]string // site -> client gRPC address
	nem    *nemesis.Cluster
	config *siteconfig.File
	links  *linkproxy.Set // a proxy on every site-to-site link, if the run has them
}

type clusterOptions struct {
	dir      string   // the run's directory: cluster.json is copied in
	traceDir string   // host directory every node traces into ("": no traces)
	nodeArgs []string // appended to every node's command line
	disk     bool     // every node's data directory on the FUSE disk layer
	// links, if set, names the linkproxy profile of a proxy on every
	// site-to-site link (the sites dial them through cluster.json's links).
	links string
	say   func(format string, args ...any)
}

// startCluster brings up the suite's 5-site cluster (full a, b, c; witness
// w; read-only r) with the run's own id.
func startCluster(ctx context.Context, o clusterOptions) (*cluster, error) {
	args := append([]string{}, o.nodeArgs...)
	mounts := map[string]containers.Mounts{}
	if o.traceDir != "" {
		if err := os.MkdirAll(o.traceDir, 0o777); err != nil {
			return nil, err
		}
		args = append(args, "--trace-dir", "/trace")
		for _, s := range containers.DefaultSites {
			mounts[s.ID] = containers.Mounts{Trace: o.traceDir}
		}
	}
	disks := map[string]*disk.FS{}
	unmount := func() {
		for _, fs := range disks {
			fs.Unmount()
			os.RemoveAll(filepath.Dir(fs.Mountpoint()))
		}
	}
	if o.disk {
		if err := disk.Available(); err != nil {
			return nil, fmt.Errorf("the disk nemesis needs FUSE: %w", err)
		}
		// The node data under the layer stays out of the results (it can
		// be large); traces never go through it (a power loss must not drop
		// trace lines).
		for _, s := range containers.DefaultSites {
			root, err := os.MkdirTemp("", "megastore-jepsen-disk-"+s.ID+"-")
			if err != nil {
				unmount()
				return nil, err
			}
			backing, mnt := filepath.Join(root, "backing"), filepath.Join(root, "data")
			for _, d := range []string{backing, mnt} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					unmount()
					return nil, err
				}
			}
			fs, err := disk.Mount(backing, mnt, disk.Options{Name: "megastore-jepsen-" + s.ID})
			if err != nil {
				unmount()
				return nil, err
			}
			disks[s.ID] = fs
			m := mounts[s.ID]
			m.Data = mnt
			mounts[s.ID] = m
		}
	}
	var links *linkproxy.Set
	var edit func(n *containers.Network, f *siteconfig.File) error
	if o.links != "" {
		base, err := linkproxy.ProfileByName(o.links)
		if err != nil {
			unmount()
			return nil, err
		}
		// The proxies listen on the network's gateway (the host), which
		// exists only once the network does, and before any site starts.
		edit = func(n *containers.Network, f *siteconfig.File) error {
			var targets []linkproxy.Target
			for _, s := range f.Sites {
				peer, err := netip.ParseAddrPort(s.PeerAddr)
				if err != nil {
					return err
				}
				targets = append(targets, linkproxy.Target{Site: linkproxy.Site{ID: s.ID, Kind: s.Kind}, Peer: peer})
			}
			if links, err = linkproxy.Start(n.Gateway, targets, base); err != nil {
				return err
			}
			f.Links = links.ConfigLinks()
			o.say("a link proxy on every site-to-site link, on %s, profile %s", n.Gateway, base.Name)
			return nil
		}
	}
	r, err := containers.Up(ctx, containers.UpOptions{Mounts: mounts, Args: args, Progress: o.say, Edit: edit})
	if err != nil {
		if links != nil {
			links.Close()
		}
		unmount()
		return nil, err
	}
	cfg, err := siteconfig.Parse(r.Config)
	if err != nil {
		r.Down(context.Background())
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.dir, "cluster.json"), r.Config, 0o644); err != nil {
		r.Down(context.Background())
		return nil, err
	}
	c := &cluster{run: r, disks: disks, sites: r.Sites, client: map[string]string{}, nem: r.Nemesis(), config: cfg, links: links}
	if links != nil {
		// A partition cuts the proxied links too.
		c.nem.LinkAddrs = links.LinkAddrs()
	}
	for _, s := range r.Sites {
		c.client[s.ID] = netip.AddrPortFrom(r.Addrs[s.ID], containers.ClientPort).String()
	}
	return c, nil
}

func (c *cluster) logs(ctx context.Context, site string, w io.Writer) error {
	return c.run.WriteLogs(ctx, site, w)
}

func (c *cluster) down(ctx context.Context) error {
	if c.links != nil {
		// NB: before the containers go: open proxy connections slow the
		// removal of the network down (once 134 s against 0.9 s).
		c.links.Close()
	}
	err := c.run.Down(ctx)
	for _, fs := range c.disks {
		if uerr := fs.Unmount(); uerr != nil && err == nil {
			err = uerr
		}
		os.RemoveAll(filepath.Dir(fs.Mountpoint()))
	}
	return err
}
