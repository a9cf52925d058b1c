package containers

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// Labels on every container, network and image the suite creates. Cleanup
// selects by run id, never by the suite label alone: other runs on the same
// engine (another test binary, another person's cluster) are left alone.
const (
	Label      = "megastore.suite"     // "1"
	LabelRun   = "megastore.run"       // the run id
	LabelPID   = "megastore.owner.pid" // the process that created it
	LabelHost  = "megastore.owner.host"
	LabelSite  = "megastore.site" // containers only
	labelValue = "1"
)

// NewRunID returns an id unique on this engine: the pid and a random tail.
func NewRunID() string {
	return fmt.Sprintf("%d-%06x", os.Getpid(), time.Now().UnixNano()&0xffffff)
}

func runLabels(runID string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{Label: labelValue, LabelRun: runID,
		LabelPID: strconv.Itoa(os.Getpid()), LabelHost: host}
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

// BuildBinary builds the static node binary into dir. It is a test image's
// binary: built with -tags megastore_bugs, so runs may start nodes with
// --test-bug (which also needs --test-admin); a production build has no
// bug switches.
func BuildBinary(ctx context.Context, root, dir string) (string, error) {
	out := filepath.Join(dir, "megastore")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", core.BugTag, "-o", out, "./impl/cmd/megastore")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags %s ./impl/cmd/megastore: %v\n%s", core.BugTag, err, b)
	}
	return out, nil
}

// BuildImage builds docker/Dockerfile around the binary as tag, labelled
// with the run's id.
func BuildImage(ctx context.Context, cli *client.Client, root, binary, tag, runID string) error {
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
		Tags: []string{tag}, Remove: true, ForceRemove: true, Labels: runLabels(runID),
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

// RemoveRun removes every container, network and image labelled with runID.
func RemoveRun(ctx context.Context, cli *client.Client, runID string) error {
	f := filters.NewArgs(filters.Arg("label", LabelRun+"="+runID))
	var errs []error
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	errs = append(errs, err)
	for _, ct := range cs {
		errs = append(errs, cli.ContainerRemove(ctx, ct.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}))
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	errs = append(errs, err)
	for _, n := range ns {
		errs = append(errs, cli.NetworkRemove(ctx, n.ID))
	}
	is, err := cli.ImageList(ctx, image.ListOptions{Filters: f})
	errs = append(errs, err)
	for _, im := range is {
		_, err := cli.ImageRemove(ctx, im.ID, image.RemoveOptions{Force: true, PruneChildren: true})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RemoveAbandoned removes the runs a crashed earlier process left behind:
// those created on this host by a process that no longer exists. A run
// whose owner is alive, or was created elsewhere or without a run id, is
// never touched. It returns the run ids removed.
func RemoveAbandoned(ctx context.Context, cli *client.Client) ([]string, error) {
	host, _ := os.Hostname()
	f := filters.NewArgs(filters.Arg("label", Label), filters.Arg("label", LabelRun))
	owners := map[string]map[string]string{} // run -> labels
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		owners[c.Labels[LabelRun]] = c.Labels
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		owners[n.Labels[LabelRun]] = n.Labels
	}
	is, err := cli.ImageList(ctx, image.ListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, im := range is {
		owners[im.Labels[LabelRun]] = im.Labels
	}
	var removed []string
	var errs []error
	for run, l := range owners {
		if run == "" || l[LabelHost] != host || processAlive(l[LabelPID]) {
			continue
		}
		if err := RemoveRun(ctx, cli, run); err != nil {
			errs = append(errs, fmt.Errorf("removing abandoned run %s: %w", run, err))
			continue
		}
		removed = append(removed, run)
	}
	return removed, errors.Join(errs...)
}

// processAlive says whether pid names a live process; anything it cannot
// read as a pid counts as alive, so nothing is removed on a doubt.
func processAlive(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return true
	}
	err = syscall.Kill(n, 0)
	return !errors.Is(err, syscall.ESRCH)
}

// UpOptions configure Up. Every field is optional.
type UpOptions struct {
	Sites []Site // default DefaultSites
	// Dir holds the binary and the host-side cluster.json (default: a new
	// temporary directory, removed by Down).
	Dir string
	// Edit may change the config (tick_ms, link dial addresses...) after
	// the network exists and before any container starts.
	Edit   func(n *Network, f *siteconfig.File) error
	Mounts map[string]Mounts
	Args   []string
	// Progress receives a line per step (building, starting, healthy).
	Progress func(format string, args ...any)
	// Healthy bounds the wait for every site's /healthz (default 60s).
	Healthy time.Duration
}

// Run is one run's Docker side: its id, client, image, network and
// cluster. Down removes exactly what carries its id.
type Run struct {
	*Cluster
	ID    string
	Cli   *client.Client
	Image string
	dir   string // removed by Down when Up made it
}

// Up connects to the engine, removes abandoned runs, builds the binary and
// image, creates the network and starts the cluster, and waits until every
// site is healthy. On error everything it made is removed.
func Up(ctx context.Context, o UpOptions) (r *Run, err error) {
	say := o.Progress
	if say == nil {
		say = func(string, ...any) {}
	}
	if o.Sites == nil {
		o.Sites = DefaultSites
	}
	if o.Healthy == 0 {
		o.Healthy = 60 * time.Second
	}
	cli, err := Connect(ctx)
	if err != nil {
		return nil, err
	}
	r = &Run{ID: NewRunID(), Cli: cli}
	defer func() {
		if err != nil {
			r.Down(context.Background())
			r = nil
		}
	}()
	if removed, err := RemoveAbandoned(ctx, cli); err != nil {
		say("warning: %v", err)
	} else if len(removed) > 0 {
		say("removed abandoned runs %v", removed)
	}
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "megastore-docker-"); err != nil {
			return r, err
		}
		r.dir = o.Dir
	}
	root, err := RepoRoot()
	if err != nil {
		return r, err
	}
	say("building the static test binary (CGO_ENABLED=0 go build -tags %s ./impl/cmd/megastore)", core.BugTag)
	bin, err := BuildBinary(ctx, root, o.Dir)
	if err != nil {
		return r, err
	}
	r.Image = "megastore-" + r.ID + ":latest"
	say("building image %s (FROM scratch)", r.Image)
	if err := BuildImage(ctx, cli, root, bin, r.Image, r.ID); err != nil {
		return r, err
	}
	n, err := NewNetwork(ctx, cli, r.ID)
	if err != nil {
		return r, err
	}
	say("network %s on %s", n.Name, n.Subnet)
	f := n.Config(o.Sites)
	if o.Edit != nil {
		if err := o.Edit(n, f); err != nil {
			return r, err
		}
	}
	say("starting %d sites", len(f.Sites))
	r.Cluster, err = Launch(ctx, cli, n, LaunchOptions{Image: r.Image, Binary: bin, WorkDir: o.Dir,
		Config: f, Mounts: o.Mounts, Args: o.Args})
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	if err := r.WaitHealthy(ctx, o.Healthy); err != nil {
		return r, err
	}
	say("all sites healthy in %.1fs", time.Since(t0).Seconds())
	return r, nil
}

// Down removes the run's containers, network and image, and the temporary
// directory Up made.
func (r *Run) Down(ctx context.Context) error {
	err := RemoveRun(ctx, r.Cli, r.ID)
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
	r.Cli.Close()
	return err
}
