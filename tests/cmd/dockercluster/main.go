// Command dockercluster starts the suite's 5-site cluster (full a, b, c;
// witness w; read-only r) in Docker containers for a person to try, stays
// in the foreground, and on Ctrl-C removes exactly its own containers,
// network and image. `make cluster-docker` runs it.
//
//	go run ./tests/cmd/dockercluster [-dir run-docker] [-test-admin]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/megastore-verified/megastore/tests/containers"
)

func main() {
	dir := flag.String("dir", "run-docker", "directory for the binary and the host-side cluster.json")
	testAdmin := flag.Bool("test-admin", false, "start the nodes with --test-admin (clock controls)")
	flag.Parse()
	if err := run(*dir, *testAdmin); err != nil {
		fmt.Fprintln(os.Stderr, "dockercluster:", err)
		os.Exit(1)
	}
}

func run(dir string, testAdmin bool) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	var args []string
	if testAdmin {
		args = append(args, "--test-admin")
	}
	r, err := containers.Up(ctx, containers.UpOptions{Dir: abs, Args: args,
		Progress: func(format string, a ...any) {
			fmt.Printf("%5.1fs "+format+"\n", append([]any{time.Since(t0).Seconds()}, a...)...)
		}})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Printf("removing run %s (its containers, network and image)\n", r.ID)
		if err := r.Down(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "dockercluster: cleanup:", err)
		}
	}()
	fmt.Printf("\nmegastore: %d sites up in Docker, run %s, network %s (%s)\n\n", len(r.Sites), r.ID, r.Net.Name, r.Net.Subnet)
	for _, s := range r.Sites {
		a := r.Addrs[s.ID]
		fmt.Printf("  %s  %-8s  container %.12s  peer %s:%d  client %s:%d  http://%s/healthz /metrics\n",
			s.ID, s.Kind, r.Containers[s.ID], a, containers.PeerPort, a, containers.ClientPort, r.HTTPAddr(s.ID))
	}
	fmt.Printf(`
Try, in another terminal:
  %[1]s put    --config %[2]s --group users --key alice --value 1
  %[1]s get    --config %[2]s --group users --key alice --site b
  %[1]s get    --config %[2]s --group users --key alice --site r --snapshot
  %[1]s status --config %[2]s --site c
  %[1]s log    --config %[2]s --group users

This stays in the foreground; Ctrl-C removes the containers, the network and
the image of run %[3]s (and nothing else).
`, r.Binary, r.ConfigPath, r.ID)
	<-ctx.Done()
	fmt.Println()
	return nil
}
