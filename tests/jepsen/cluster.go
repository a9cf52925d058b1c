package jepsen

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/megastore-verified/megastore/nemesis"
	"github.com/megastore-verified/megastore/tests/containers"
)

// cluster is what the runner needs of the Docker side: the sites, their
// client addresses, their logs, the nemesis' view, and teardown.
type cluster struct {
	sites  []containers.Site
	client map[string]string // site -> client gRPC address
	logs   func(ctx context.Context, site string, w io.Writer) error
	nem    *nemesis.Cluster
	down   func(ctx context.Context) error
}

type clusterOptions struct {
	dir      string   // the run's directory: binary, config
	nodeArgs []string // appended to every node's command line
	say      func(format string, args ...any)
}

func startCluster(ctx context.Context, o clusterOptions) (*cluster, error) {
	cli, err := containers.Connect(ctx)
	if err != nil {
		return nil, err
	}
	root, err := containers.RepoRoot()
	if err != nil {
		return nil, err
	}
	// The binary (33 MB) stays out of the results; cluster.json goes in.
	bindir, err := os.MkdirTemp("", "megastore-jepsen-")
	if err != nil {
		return nil, err
	}
	work := filepath.Join(o.dir, "cluster")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	o.say("building the static binary")
	bin, err := containers.BuildBinary(ctx, root, bindir)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("megastore-jepsen-%d-%06x", os.Getpid(), time.Now().UnixNano()&0xffffff)
	tag := name + ":latest"
	o.say("building image %s", tag)
	if err := containers.BuildImage(ctx, cli, root, bin, tag); err != nil {
		return nil, err
	}
	sites := []containers.Site{{ID: "a", Kind: "full"}, {ID: "b", Kind: "full"}, {ID: "c", Kind: "full"}}
	c, err := containers.Start(ctx, cli, name, tag, bin, work, sites)
	if err != nil {
		return nil, err
	}
	out := &cluster{sites: sites, client: map[string]string{},
		logs: func(ctx context.Context, site string, w io.Writer) error {
			s, err := c.Logs(ctx, site)
			io.WriteString(w, s)
			return err
		},
		down: func(ctx context.Context) error {
			err := c.Close(ctx)
			cli.ImageRemove(ctx, tag, image.RemoveOptions{Force: true, PruneChildren: true})
			cli.Close()
			os.RemoveAll(bindir)
			return err
		},
		nem: &nemesis.Cluster{LinkAddrs: map[[2]string][]netip.AddrPort{}},
	}
	for _, s := range sites {
		out.client[s.ID] = netip.AddrPortFrom(c.Addrs[s.ID], containers.ClientPort).String()
		out.nem.Hosts = append(out.nem.Hosts, nemesis.Host{Site: s.ID, Kind: s.Kind, ContainerID: c.Containers[s.ID],
			Addr: c.Addrs[s.ID], PeerPort: containers.PeerPort, HTTPAddr: netip.AddrPortFrom(c.Addrs[s.ID], containers.HTTPPort)})
	}
	o.say("waiting for %d sites to be healthy", len(sites))
	if err := c.WaitHealthy(ctx, 60*time.Second); err != nil {
		out.down(context.Background())
		return nil, err
	}
	return out, nil
}
