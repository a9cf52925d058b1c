package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
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
	f, err := siteconfig.Loopback(ids, kinds)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(abs, "logs"), 0o755); err != nil {
		return err
	}
	config := filepath.Join(abs, "cluster.json")
	if err := f.Write(config); err != nil {
		return err
	}

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

Ctrl-C stops the cluster (data stays in %[3]s).
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
