package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// cmdCluster starts a loopback cluster of this same binary's `node`
// processes and stops them on Ctrl-C.
func cmdCluster(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cluster", stderr)
	dir := fs.String("dir", "run", "directory for cluster.json, data and logs")
	witness := fs.Bool("witness", false, "add a witness site w")
	readonly := fs.Bool("readonly", false, "add a read-only site r")
	testAdmin := fs.Bool("test-admin", false, "start the nodes with --test-admin")
	maxValue := fs.Int("max-value-bytes", 0, fmt.Sprintf("largest value a site accepts (default 1 MiB; at most %d)", siteconfig.MaxValueBytesLimit))
	if err := parse(fs, args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ids := []string{"a", "b", "c"}
	kinds := map[string]string{"a": "full", "b": "full", "c": "full", "w": "witness", "r": "readonly"}
	if *witness {
		ids = append(ids, "w")
	}
	if *readonly {
		ids = append(ids, "r")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	config := filepath.Join(abs, "cluster.json")
	pidFile := filepath.Join(abs, "cluster.pid")
	if err := refuseRunning(config, pidFile); err != nil {
		return err
	}
	f, err := siteconfig.Loopback(ids, kinds)
	if err != nil {
		return err
	}
	if *maxValue != 0 {
		f.MaxValueBytes = *maxValue
		if err := f.Validate(); err != nil {
			return fmt.Errorf("%w: --max-value-bytes: %v", errUsage, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(abs, "logs"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(pidFile)
	if err := f.Write(config); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "megastore: starting %d sites in the foreground (this terminal stays busy; Ctrl-C stops them)\n", len(f.Sites))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exited := make(chan string, len(ids))
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
		}
		deadline := time.After(5 * time.Second)
		for range procs {
			select {
			case <-exited:
			case <-deadline:
				for _, p := range procs {
					_ = p.Process.Kill()
				}
				return
			}
		}
	}()
	for _, s := range f.Sites {
		logPath := filepath.Join(abs, "logs", s.ID+".log")
		logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		args := []string{"node", "--config", config, "--site", s.ID, "--data", filepath.Join(abs, "data", s.ID)}
		if *testAdmin {
			args = append(args, "--test-admin")
		}
		cmd := exec.Command(self, args...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			logFile.Close()
			return err
		}
		procs = append(procs, cmd)
		go func(id string) {
			_ = cmd.Wait()
			logFile.Close()
			exited <- id
		}(s.ID)
	}
	if err := waitHealthy(ctx, f); err != nil {
		return fmt.Errorf("%v (see %s)", err, filepath.Join(abs, "logs"))
	}
	fmt.Fprintf(stdout, "megastore: %d sites up on loopback; config %s, logs in %s\n\n", len(f.Sites), config, filepath.Join(abs, "logs"))
	for _, s := range f.Sites {
		fmt.Fprintf(stdout, "  %s  %-8s  peer %s  client %s  http://%s/metrics /healthz\n", s.ID, s.Kind, s.PeerAddr, s.ClientAddr, s.HTTPAddr)
	}
	fmt.Fprintf(stdout, `
Try, in another terminal:
  %[1]s put    --config %[2]s --group users --key alice --value 1
  %[1]s get    --config %[2]s --group users --key alice --site b
  %[1]s scan   --config %[2]s --group users
  %[1]s status --config %[2]s --site c
  %[1]s log    --config %[2]s --group users

The cluster runs in the foreground: Ctrl-C here stops it (data stays in %[3]s).
`, self, config, filepath.Join(abs, "data"))
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "\nmegastore: stopping the cluster")
		return nil
	case id := <-exited:
		exited <- id // NB: the deferred shutdown counts it
		return fmt.Errorf("site %s exited; see %s", id, filepath.Join(abs, "logs", id+".log"))
	}
}

// refuseRunning returns an error if a cluster seems to run from dir
// already: its pid file names a live process, or a site of its
// cluster.json answers on its client or HTTP port. Starting over it would
// overwrite the config its clients read.
func refuseRunning(config, pidFile string) error {
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && pid != os.Getpid() &&
			syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("a cluster is already running from %s (process %d, see %s); stop it with Ctrl-C in its terminal, or pass another --dir",
				filepath.Dir(config), pid, pidFile)
		}
	}
	f, err := siteconfig.Load(config)
	if err != nil {
		return nil // NB: no config, or one we cannot read: nothing to protect
	}
	for _, s := range f.Sites {
		for _, addr := range []string{s.ClientAddr, s.HTTPAddr} {
			if c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond); err == nil {
				c.Close()
				return fmt.Errorf("a cluster is already running from %s (site %s answers on %s); stop it first, or pass another --dir",
					config, s.ID, addr)
			}
		}
	}
	return nil
}

// waitHealthy polls every site's /healthz until all answer, for up to 30s.
func waitHealthy(ctx context.Context, f *siteconfig.File) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range f.Sites {
		for {
			resp, err := hc.Get("http://" + s.HTTPAddr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("site %s is not healthy after 30s", s.ID)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
