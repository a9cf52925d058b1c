package multiproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/tests/tracemap"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds impl/cmd/megastore once per test run.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "megastore-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "megastore")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			goBin = "go"
		}
		cmd := exec.Command(goBin, "build", "-o", binPath, "github.com/megastore-verified/megastore/impl/cmd/megastore")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// procCluster is a set of site processes on loopback.
type procCluster struct {
	t       testing.TB
	bin     string
	dir     string
	cfg     *siteconfig.File
	cfgPath string

	mu    sync.Mutex
	procs map[string]*proc
	sites map[string]*remote.Site
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

var kindsByID = map[string]string{"a": "full", "b": "full", "c": "full", "d": "full", "e": "full",
	"w": "witness", "r": "readonly"}

func startCluster(t testing.TB, ids ...string) *procCluster {
	t.Helper()
	cfg, err := siteconfig.Loopback(ids, kindsByID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &procCluster{t: t, bin: binary(t), dir: dir, cfg: cfg, cfgPath: filepath.Join(dir, "cluster.json"),
		procs: map[string]*proc{}, sites: map[string]*remote.Site{}}
	if err := cfg.Write(c.cfgPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	for _, id := range ids {
		c.start(id)
	}
	for _, id := range ids {
		c.waitHealthy(id)
	}
	return c
}

// start launches site id's process (again, after a kill), with its log in
// dir/<id>.log.
func (c *procCluster) start(id string) {
	c.t.Helper()
	logf, err := os.OpenFile(filepath.Join(c.dir, id+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(c.bin, "node", "--config", c.cfgPath, "--site", id,
		"--data", filepath.Join(c.dir, "data", id), "--test-admin", "--log-level", "warn",
		"--trace-dir", filepath.Join(c.dir, "trace"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	c.mu.Lock()
	c.procs[id] = p
	c.mu.Unlock()
}

// kill SIGKILLs site id and waits for it to be gone.
func (c *procCluster) kill(id string) {
	c.t.Helper()
	c.mu.Lock()
	p := c.procs[id]
	delete(c.procs, id)
	c.mu.Unlock()
	if p == nil {
		c.t.Fatalf("site %s is not running", id)
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (c *procCluster) close() {
	c.mu.Lock()
	procs := c.procs
	c.procs = map[string]*proc{}
	sites := c.sites
	c.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	for _, s := range sites {
		s.Close()
	}
	if !c.t.Failed() {
		c.validateTraces()
	}
	if c.t.Failed() {
		for _, s := range c.cfg.Sites {
			if b, err := os.ReadFile(filepath.Join(c.dir, s.ID+".log")); err == nil && len(b) > 0 {
				c.t.Logf("log of site %s (last 4KiB):\n%s", s.ID, tail(b, 4096))
			}
		}
	}
}

// validateTraces checks every step the site processes took, as their
// --trace-dir recorded them, against the spec (tests/tracemap): every
// multi-process test is also a real-node trace validation.
func (c *procCluster) validateTraces() {
	c.t.Helper()
	batches, err := tracemap.LoadDir(filepath.Join(c.dir, "trace"))
	if err != nil {
		c.t.Errorf("trace validation: %v", err)
		return
	}
	leader := c.cfg.InitialLeader
	if leader == "" {
		for _, s := range c.cfg.Sites {
			if s.Kind == "full" {
				leader = s.ID
				break
			}
		}
	}
	rep, err := tracemap.ValidateNodes(batches, c.cfg.Members(), core.SiteID(leader))
	if err != nil {
		c.t.Errorf("trace validation: %v", err)
		return
	}
	if !rep.Valid() {
		c.t.Errorf("trace validation of the site processes: %s\n%s", rep.Summary(), strings.Join(rep.Context, "\n"))
		return
	}
	c.t.Logf("trace validation: %s", rep.Summary())
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (c *procCluster) siteCfg(id string) siteconfig.Site {
	s, err := c.cfg.Site(id)
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// waitHealthy polls /healthz for up to 30s.
func (c *procCluster) waitHealthy(id string) {
	c.t.Helper()
	url := "http://" + c.siteCfg(id).HTTPAddr + "/healthz"
	hc := &http.Client{Timeout: time.Second}
	for range 300 {
		if resp, err := hc.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("site %s not healthy after 30s", id)
}

// site returns a client connection to site id (kept across restarts: gRPC
// reconnects by itself).
func (c *procCluster) site(id string) *remote.Site {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sites[id]; s != nil {
		return s
	}
	s, err := remote.Dial(c.siteCfg(id).ClientAddr, core.SiteID(id))
	if err != nil {
		c.t.Fatal(err)
	}
	c.sites[id] = s
	return s
}

func (c *procCluster) client(id string) *client.Client { return c.site(id).Client() }

// metric returns the sum of the series of name whose labels contain every
// label given as `key="value"`, from site id's /metrics.
func (c *procCluster) metric(id, name string, labels ...string) float64 {
	c.t.Helper()
	resp, err := http.Get("http://" + c.siteCfg(id).HTTPAddr + "/metrics")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// retry runs op until it succeeds, for at most attempts tries spaced by
// 100ms: for the moments a site is still coming up.
func retry(attempts int, op func() error) error {
	var err error
	for range attempts {
		if err = op(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// countingSite counts conflicts the library sees (and reruns).
type countingSite struct {
	*remote.Site
	mu        sync.Mutex
	conflicts int
}

func (s *countingSite) Write(ctx context.Context, req core.WriteRequest) (core.Position, error) {
	pos, err := s.Site.Write(ctx, req)
	if errors.Is(err, core.ErrConflict) {
		s.mu.Lock()
		s.conflicts++
		s.mu.Unlock()
	}
	return pos, err
}

var _ io.Closer = (*remote.Site)(nil)
