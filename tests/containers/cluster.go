package containers

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis"
)

// Ports every node listens on, at its container's address.
const (
	PeerPort   = 7000
	ClientPort = 7001
	HTTPPort   = 7002
)

// Site is one node to run: its site ID and kind (full, witness, readonly).
type Site struct {
	ID   string
	Kind string
}

// DefaultSites is the suite's membership: three full sites, a witness and
// a read-only site, as in the paper's deployments and the simulator.
var DefaultSites = []Site{{"a", "full"}, {"b", "full"}, {"c", "full"}, {"w", "witness"}, {"r", "readonly"}}

// Network is a run's own bridge network with a fixed /24: site i of a
// config gets the address .(i+2), so the config can be written before any
// container exists.
type Network struct {
	ID      string
	Name    string
	RunID   string
	Subnet  netip.Prefix
	Gateway netip.Addr // the host's address on the network: link proxies listen here
}

// NewNetwork creates the run's network on a free /24 of 172.31.0.0/16.
func NewNetwork(ctx context.Context, cli *client.Client, runID string) (*Network, error) {
	n := &Network{Name: "megastore-" + runID, RunID: runID}
	var lastErr error
	for try := 0; try < 20; try++ {
		// Another network on the engine (another run's) may hold a /24
		// already; a collision is retried elsewhere.
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 31, byte(rand.IntN(250) + 3), 0}), 24)
		gw := subnet.Addr().Next()
		resp, err := cli.NetworkCreate(ctx, n.Name, network.CreateOptions{
			Driver: "bridge",
			Labels: runLabels(runID),
			IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet.String(), Gateway: gw.String()}}},
		})
		if err != nil {
			lastErr = err
			continue
		}
		n.ID, n.Subnet, n.Gateway = resp.ID, subnet, gw
		return n, nil
	}
	return nil, fmt.Errorf("create network %s: %w", n.Name, lastErr)
}

// Addr is the address of the i-th site of a config (0-based).
func (n *Network) Addr(i int) netip.Addr {
	a := n.Gateway.Next()
	for ; i > 0; i-- {
		a = a.Next()
	}
	return a
}

// Config returns a cluster.json for sites at their addresses on the
// network (the first full site leads position 1). Callers may edit it
// before Launch, e.g. to add link-proxy dial addresses or change tick_ms.
func (n *Network) Config(sites []Site) *siteconfig.File {
	f := &siteconfig.File{}
	for i, s := range sites {
		a := n.Addr(i)
		f.Sites = append(f.Sites, siteconfig.Site{
			ID: s.ID, Kind: s.Kind,
			PeerAddr:   netip.AddrPortFrom(a, PeerPort).String(),
			ClientAddr: netip.AddrPortFrom(a, ClientPort).String(),
			HTTPAddr:   netip.AddrPortFrom(a, HTTPPort).String(),
		})
		if f.InitialLeader == "" && s.Kind == "full" {
			f.InitialLeader = s.ID
		}
	}
	return f
}

// Remove removes the network (its containers must be gone).
func (n *Network) Remove(ctx context.Context, cli *client.Client) error {
	return cli.NetworkRemove(ctx, n.ID)
}

// Mounts are a site's optional bind mounts from the host.
type Mounts struct {
	// Data, if set, is the host directory mounted at /data (the node's
	// store). Unset: /data lives in the container's own filesystem, which
	// survives a kill and restart but not Close.
	Data string
	// Trace, if set, is the host directory mounted at /trace.
	Trace string
	// Propagation of the binds (e.g. mount.PropagationRSlave when a FUSE
	// file system is mounted under Data after the container starts).
	Propagation mount.Propagation
}

// LaunchOptions say what to run on a network.
type LaunchOptions struct {
	Image  string // built by BuildImage
	Binary string // the same static binary, run on the host as the CLI
	// WorkDir receives the host-side cluster.json (the CLI's --config).
	WorkDir string
	// Config is the cluster.json every node gets; its sites get the
	// network's addresses in order (Network.Config builds a matching one).
	Config *siteconfig.File
	Mounts map[string]Mounts // by site; optional
	// Args are appended to every node's command line (e.g. --test-admin,
	// --trace-dir /trace); SiteArgs to one site's.
	Args     []string
	SiteArgs map[string][]string
}

// Cluster is a running set of node containers on a run's network.
type Cluster struct {
	cli        *client.Client
	Net        *Network
	Sites      []Site
	Containers map[string]string // site -> container ID
	Addrs      map[string]netip.Addr
	ConfigPath string // cluster.json on the host, naming the container addresses
	Config     []byte // its bytes, as every node has them
	Binary     string // the static binary, also usable as the CLI from the host
}

// Launch creates and starts one container per site of o.Config at its
// fixed address on n.
func Launch(ctx context.Context, cli *client.Client, n *Network, o LaunchOptions) (*Cluster, error) {
	if o.Config == nil {
		return nil, errors.New("launch: no config")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	cfg, err := json.MarshalIndent(o.Config, "", "  ")
	if err != nil {
		return nil, err
	}
	c := &Cluster{cli: cli, Net: n, Containers: map[string]string{}, Addrs: map[string]netip.Addr{},
		Config: cfg, Binary: o.Binary, ConfigPath: filepath.Join(o.WorkDir, "cluster.json")}
	if err := os.WriteFile(c.ConfigPath, cfg, 0o644); err != nil {
		return nil, err
	}
	for i, s := range o.Config.Sites {
		c.Sites = append(c.Sites, Site{ID: s.ID, Kind: s.Kind})
		c.Addrs[s.ID] = n.Addr(i)
	}
	for _, s := range c.Sites {
		args := append(append([]string{}, o.Args...), o.SiteArgs[s.ID]...)
		id, err := c.create(ctx, o.Image, s, o.Mounts[s.ID], args)
		if err != nil {
			c.Close(context.Background())
			return nil, err
		}
		c.Containers[s.ID] = id
		if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
			c.Close(context.Background())
			return nil, fmt.Errorf("start site %s: %w", s.ID, err)
		}
	}
	return c, nil
}

func (c *Cluster) create(ctx context.Context, image string, s Site, m Mounts, args []string) (string, error) {
	hc := &container.HostConfig{}
	for _, b := range []struct{ src, dst string }{{m.Data, "/data"}, {m.Trace, "/trace"}} {
		if b.src == "" {
			continue
		}
		abs, err := filepath.Abs(b.src)
		if err != nil {
			return "", err
		}
		mt := mount.Mount{Type: mount.TypeBind, Source: abs, Target: b.dst}
		if m.Propagation != "" {
			mt.BindOptions = &mount.BindOptions{Propagation: m.Propagation}
		}
		hc.Mounts = append(hc.Mounts, mt)
	}
	labels := runLabels(c.Net.RunID)
	labels[LabelSite] = s.ID
	cmd := append([]string{"node", "--config", "/etc/megastore/cluster.json", "--site", s.ID, "--data", "/data"}, args...)
	resp, err := c.cli.ContainerCreate(ctx,
		&container.Config{Image: image, Cmd: cmd, Labels: labels},
		hc,
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			c.Net.Name: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: c.Addrs[s.ID].String()}},
		}},
		nil, c.Net.Name+"-"+s.ID)
	if err != nil {
		return "", fmt.Errorf("create site %s: %w", s.ID, err)
	}
	// A scratch image has no shell to write files with; the config and
	// the directories not bound from the host are copied in before the
	// first start.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc/megastore/", Typeflag: tar.TypeDir, Mode: 0o755})
	if m.Data == "" {
		tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755})
	}
	if m.Trace == "" {
		tw.WriteHeader(&tar.Header{Name: "trace/", Typeflag: tar.TypeDir, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Name: "etc/megastore/cluster.json", Mode: 0o644, Size: int64(len(c.Config))})
	tw.Write(c.Config)
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := c.cli.CopyToContainer(ctx, resp.ID, "/", &buf, container.CopyToContainerOptions{}); err != nil {
		c.cli.ContainerRemove(context.Background(), resp.ID, container.RemoveOptions{Force: true})
		return "", fmt.Errorf("copy config into site %s: %w", s.ID, err)
	}
	return resp.ID, nil
}

// HTTPAddr is a site's /healthz, /metrics and /admin address.
func (c *Cluster) HTTPAddr(site string) netip.AddrPort {
	return netip.AddrPortFrom(c.Addrs[site], HTTPPort)
}

// Healthy reports whether a site's /healthz answers 200 within timeout.
func (c *Cluster) Healthy(ctx context.Context, site string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/healthz", c.HTTPAddr(site)), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("site %s /healthz: %s: %s", site, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// WaitHealthy polls the given sites' /healthz (all sites if none given)
// until each answers 200.
func (c *Cluster) WaitHealthy(ctx context.Context, timeout time.Duration, sites ...string) error {
	if len(sites) == 0 {
		for _, s := range c.Sites {
			sites = append(sites, s.ID)
		}
	}
	deadline := time.Now().Add(timeout)
	for _, site := range sites {
		for {
			err := c.Healthy(ctx, site, time.Second)
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				logs, _ := c.Logs(context.Background(), site)
				return fmt.Errorf("site %s not healthy after %v (last error %v); its log:\n%s", site, timeout, err, logs)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// Kill sends SIGKILL to a site's container.
func (c *Cluster) Kill(ctx context.Context, site string) error {
	return c.cli.ContainerKill(ctx, c.Containers[site], "KILL")
}

// Start starts a stopped (killed) site's container again with the same
// command line; its data directory survives (in the container's own
// filesystem or the host directory bound at /data).
func (c *Cluster) Start(ctx context.Context, site string) error {
	return c.cli.ContainerStart(ctx, c.Containers[site], container.StartOptions{})
}

// Restart kills a site's container if it runs and starts it again.
func (c *Cluster) Restart(ctx context.Context, site string) error {
	zero := 0
	return c.cli.ContainerRestart(ctx, c.Containers[site], container.StopOptions{Signal: "KILL", Timeout: &zero})
}

// Pause freezes a site's processes (the cgroup freezer); Unpause thaws them.
func (c *Cluster) Pause(ctx context.Context, site string) error {
	return c.cli.ContainerPause(ctx, c.Containers[site])
}

// Unpause thaws a paused site.
func (c *Cluster) Unpause(ctx context.Context, site string) error {
	return c.cli.ContainerUnpause(ctx, c.Containers[site])
}

// Logs returns the last 60 lines of a site's stdout and stderr.
func (c *Cluster) Logs(ctx context.Context, site string) (string, error) {
	var out bytes.Buffer
	err := c.copyLogs(ctx, site, "60", &out)
	return out.String(), err
}

// WriteLogs writes a site's whole stdout and stderr (across restarts) to w.
func (c *Cluster) WriteLogs(ctx context.Context, site string, w io.Writer) error {
	return c.copyLogs(ctx, site, "all", w)
}

func (c *Cluster) copyLogs(ctx context.Context, site, tail string, w io.Writer) error {
	rc, err := c.cli.ContainerLogs(ctx, c.Containers[site], container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: tail})
	if err != nil {
		return err
	}
	defer rc.Close()
	// The stream interleaves stdout and stderr behind 8-byte frame headers.
	_, err = stdcopy.StdCopy(w, w, rc)
	return err
}

// CLI runs the binary's client subcommands from the host against the
// containers' addresses.
func (c *Cluster) CLI(ctx context.Context, args ...string) (string, error) {
	full := append([]string{args[0], "--config", c.ConfigPath}, args[1:]...)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.Binary, full...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Nemesis describes the cluster to fault injectors. LinkAddrs is empty:
// whoever puts proxies on the links fills it in.
func (c *Cluster) Nemesis() *nemesis.Cluster {
	nc := &nemesis.Cluster{LinkAddrs: map[[2]string][]netip.AddrPort{}}
	for _, s := range c.Sites {
		nc.Hosts = append(nc.Hosts, nemesis.Host{
			Site: s.ID, Kind: s.Kind, ContainerID: c.Containers[s.ID], Addr: c.Addrs[s.ID],
			PeerPort: PeerPort, HTTPAddr: c.HTTPAddr(s.ID),
		})
	}
	return nc
}

// Close removes the cluster's containers (not its network: the caller
// created that and may have put other things on it).
func (c *Cluster) Close(ctx context.Context) error {
	var errs []error
	for _, id := range c.Containers {
		if err := c.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, err)
		}
	}
	c.Containers = map[string]string{}
	return errors.Join(errs...)
}
