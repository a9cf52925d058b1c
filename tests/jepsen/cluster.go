package jepsen

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis"
	"github.com/megastore-verified/megastore/tests/containers"
)

// cluster is what the runner needs of the Docker side: the sites, their
// client addresses, their logs, the nemesis' view, and teardown.
type cluster struct {
	run    *containers.Run
	sites  []containers.Site
	client map[string]string // site -> client gRPC address
	nem    *nemesis.Cluster
	config *siteconfig.File
}

type clusterOptions struct {
	dir      string   // the run's directory: cluster.json is copied in
	traceDir string   // host directory every node traces into ("": no traces)
	nodeArgs []string // appended to every node's command line
	say      func(format string, args ...any)
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
	r, err := containers.Up(ctx, containers.UpOptions{Mounts: mounts, Args: args, Progress: o.say})
	if err != nil {
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
	c := &cluster{run: r, sites: r.Sites, client: map[string]string{}, nem: r.Nemesis(), config: cfg}
	for _, s := range r.Sites {
		c.client[s.ID] = netip.AddrPortFrom(r.Addrs[s.ID], containers.ClientPort).String()
	}
	return c, nil
}

func (c *cluster) logs(ctx context.Context, site string, w io.Writer) error {
	return c.run.WriteLogs(ctx, site, w)
}

func (c *cluster) down(ctx context.Context) error { return c.run.Down(ctx) }
