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

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Label marks every container and network the suite creates, so cleanup
// never touches anything else on the engine.
const Label = "megastore.suite"

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

// Cluster is a running set of node containers on a private network.
type Cluster struct {
	cli        *client.Client
	Name       string            // prefix of the network and container names
	Network    string            // network ID
	Containers map[string]string // site -> container ID
	Addrs      map[string]netip.Addr
	ConfigPath string // cluster.json on the host, naming the container addresses
	Binary     string // the static binary, also usable as the CLI from the host
	image      string
}

// Connect returns a Docker client for the engine in the environment, or an
// error saying why there is none. The engine here speaks API 1.41, so the
// version is negotiated rather than the SDK's newest assumed.
func Connect(ctx context.Context) (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("no Docker engine answers: %w", err)
	}
	return cli, nil
}

// RepoRoot finds the module root, where docker/Dockerfile and the binary's
// package live.
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the megastore module")
	}
	return filepath.Dir(mod), nil
}

// BuildBinary builds the static node binary into dir.
func BuildBinary(ctx context.Context, root, dir string) (string, error) {
	out := filepath.Join(dir, "megastore")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./impl/cmd/megastore")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./impl/cmd/megastore: %v\n%s", err, b)
	}
	return out, nil
}

// BuildImage builds docker/Dockerfile around the binary and returns the
// image tag.
func BuildImage(ctx context.Context, cli *client.Client, root, binary, tag string) error {
	dockerfile, err := os.ReadFile(filepath.Join(root, "docker", "Dockerfile"))
	if err != nil {
		return err
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, dockerfile}, {"megastore", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Labels: map[string]string{Label: "1"},
	})
	if err != nil {
		return fmt.Errorf("image build: %w", err)
	}
	defer resp.Body.Close()
	// The build reports failure inside the JSON stream, not as an error.
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("image build output: %w", err)
		}
		if msg.Error != "" {
			return fmt.Errorf("image build: %s", msg.Error)
		}
	}
}

// Start creates a network with a fresh /24, and one stopped-then-started
// container per site at a fixed address, with cluster.json copied in.
func Start(ctx context.Context, cli *client.Client, name, image, binary, workDir string, sites []Site) (*Cluster, error) {
	c := &Cluster{cli: cli, Name: name, Containers: map[string]string{}, Addrs: map[string]netip.Addr{}, Binary: binary, image: image}
	var subnet netip.Prefix
	var lastErr error
	for try := 0; try < 20 && c.Network == ""; try++ {
		// 172.31.0.0/16 is carved into /24s; another network on the engine
		// may hold one already, so collisions are retried elsewhere.
		subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 31, byte(rand.IntN(250) + 3), 0}), 24)
		gw := subnet.Addr().Next()
		resp, err := cli.NetworkCreate(ctx, name, network.CreateOptions{
			Driver: "bridge",
			Labels: map[string]string{Label: "1"},
			IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet.String(), Gateway: gw.String()}}},
		})
		if err != nil {
			lastErr = err
			continue
		}
		c.Network = resp.ID
	}
	if c.Network == "" {
		return nil, fmt.Errorf("create network %s: %w", name, lastErr)
	}
	addr := subnet.Addr().Next().Next() // .2 onwards; .1 is the gateway
	type siteJSON struct {
		ID         string `json:"id"`
		Kind       string `json:"kind"`
		PeerAddr   string `json:"peer_addr"`
		ClientAddr string `json:"client_addr"`
		HTTPAddr   string `json:"http_addr"`
	}
	var file struct {
		Sites         []siteJSON `json:"sites"`
		InitialLeader string     `json:"initial_leader,omitempty"`
	}
	for _, s := range sites {
		c.Addrs[s.ID] = addr
		file.Sites = append(file.Sites, siteJSON{
			ID: s.ID, Kind: s.Kind,
			PeerAddr:   netip.AddrPortFrom(addr, PeerPort).String(),
			ClientAddr: netip.AddrPortFrom(addr, ClientPort).String(),
			HTTPAddr:   netip.AddrPortFrom(addr, HTTPPort).String(),
		})
		addr = addr.Next()
	}
	file.InitialLeader = sites[0].ID
	cfg, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return nil, err
	}
	c.ConfigPath = filepath.Join(workDir, "cluster.json")
	if err := os.WriteFile(c.ConfigPath, cfg, 0o644); err != nil {
		return nil, err
	}
	for _, s := range sites {
		id, err := c.create(ctx, s, cfg)
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

func (c *Cluster) create(ctx context.Context, s Site, cfg []byte) (string, error) {
	resp, err := c.cli.ContainerCreate(ctx,
		&container.Config{
			Image:  c.image,
			Cmd:    []string{"node", "--config", "/etc/megastore/cluster.json", "--site", s.ID, "--data", "/data"},
			Labels: map[string]string{Label: "1", Label + ".site": s.ID},
		},
		&container.HostConfig{},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			c.Name: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: c.Addrs[s.ID].String()}},
		}},
		nil, c.Name+"-"+s.ID)
	if err != nil {
		return "", fmt.Errorf("create site %s: %w", s.ID, err)
	}
	// A scratch image has no shell to write files with; the config and an
	// empty data directory are copied in before the first start.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc/megastore/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "etc/megastore/cluster.json", Mode: 0o644, Size: int64(len(cfg))})
	tw.Write(cfg)
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := c.cli.CopyToContainer(ctx, resp.ID, "/", &buf, container.CopyToContainerOptions{}); err != nil {
		return "", fmt.Errorf("copy config into site %s: %w", s.ID, err)
	}
	return resp.ID, nil
}

// WaitHealthy polls every node's /healthz until all answer 200.
func (c *Cluster) WaitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for site, addr := range c.Addrs {
		url := fmt.Sprintf("http://%s/healthz", netip.AddrPortFrom(addr, HTTPPort))
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				logs, _ := c.Logs(ctx, site)
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

// Restart starts a killed site's container again; its data directory
// survives in the container's filesystem.
func (c *Cluster) Restart(ctx context.Context, site string) error {
	return c.cli.ContainerStart(ctx, c.Containers[site], container.StartOptions{})
}

// Pause freezes a site's processes; Unpause thaws them.
func (c *Cluster) Pause(ctx context.Context, site string) error {
	return c.cli.ContainerPause(ctx, c.Containers[site])
}

// Unpause thaws a paused site.
func (c *Cluster) Unpause(ctx context.Context, site string) error {
	return c.cli.ContainerUnpause(ctx, c.Containers[site])
}

// Logs returns a site's stdout and stderr so far.
func (c *Cluster) Logs(ctx context.Context, site string) (string, error) {
	rc, err := c.cli.ContainerLogs(ctx, c.Containers[site], container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "60"})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	// The stream interleaves stdout and stderr behind 8-byte frame headers.
	var out bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &out, io.LimitReader(rc, 1<<20))
	return out.String(), err
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

// Close removes the cluster's containers and network.
func (c *Cluster) Close(ctx context.Context) error {
	var errs []error
	for _, id := range c.Containers {
		if err := c.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Network != "" {
		if err := c.cli.NetworkRemove(ctx, c.Network); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveLeftovers removes containers and networks a crashed earlier run of
// the suite left behind: only those carrying the suite's label.
func RemoveLeftovers(ctx context.Context, cli *client.Client) error {
	f := filters.NewArgs(filters.Arg("label", Label))
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	for _, ct := range cs {
		cli.ContainerRemove(ctx, ct.ID, container.RemoveOptions{Force: true})
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return err
	}
	for _, n := range ns {
		cli.NetworkRemove(ctx, n.ID)
	}
	return nil
}

func imageRemoveOptions() image.RemoveOptions {
	return image.RemoveOptions{Force: true, PruneChildren: true}
}
