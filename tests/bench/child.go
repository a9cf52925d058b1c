package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/daemon"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// childEnv names the member a child process runs: the harness starts every
// site and every etcd member as a process of its own binary, so the two
// systems pay the same process and loopback costs and share nothing but
// the machine and the disk.
const childEnv = "MEGASTORE_BENCH_CHILD"

// runChild runs the member that childEnv names, with the flags in args,
// until SIGTERM; it returns false if this process is not a child.
func runChild(args []string) bool {
	kind := os.Getenv(childEnv)
	if kind == "" {
		return false
	}
	var err error
	switch kind {
	case "site":
		err = runSite(args)
	case "etcd":
		err = runEtcd(args)
	default:
		err = fmt.Errorf("%s=%q: want site or etcd", childEnv, kind)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", kind, err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

// runSite is `megastore node` with its default durability: the same
// daemon.Run the CLI calls, without test admin or traces.
func runSite(args []string) error {
	fs := flag.NewFlagSet("site", flag.ContinueOnError)
	config := fs.String("config", "", "cluster.json")
	site := fs.String("site", "", "site id")
	data := fs.String("data", "", "data directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := siteconfig.Load(*config)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return daemon.Run(ctx, daemon.Options{Config: f, Site: core.SiteID(*site), DataDir: *data, Logger: logger})
}

// runEtcd runs one etcd member from go.etcd.io/etcd/server/v3/embed with
// its default durability (every WAL append fsynced).
func runEtcd(args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	name := fs.String("name", "", "member name")
	data := fs.String("data", "", "data directory")
	client := fs.String("client-url", "", "client URL (listen and advertise)")
	peerListen := fs.String("peer-listen-url", "", "peer URL to listen on")
	peerAdvertise := fs.String("peer-advertise-url", "", "peer URL the others dial (a link proxy under WAN)")
	cluster := fs.String("initial-cluster", "", "name=peer-advertise-url,...")
	if err := fs.Parse(args); err != nil {
		return err
	}
	parse := func(s string) (url.URL, error) {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return url.URL{}, fmt.Errorf("bad URL %q: %v", s, err)
		}
		return *u, nil
	}
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = *name, *data
	cfg.InitialCluster, cfg.ClusterState, cfg.InitialClusterToken = *cluster, embed.ClusterStateFlagNew, "megastore-bench"
	cfg.LogLevel = "error"
	var err error
	var cu, pl, pa url.URL
	if cu, err = parse(*client); err != nil {
		return err
	}
	if pl, err = parse(*peerListen); err != nil {
		return err
	}
	if pa, err = parse(*peerAdvertise); err != nil {
		return err
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pl}, []url.URL{pa}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return err
	case <-sig:
		return nil
	}
	select {
	case err := <-e.Err():
		return err
	case <-sig:
		return nil
	}
}
