package remote

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/daemon"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// startSite runs site a of f on dir until the returned stop is called.
func startSite(t *testing.T, f *siteconfig.File, dir string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{Config: f, Site: "a", DataDir: dir,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("site did not start: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("site stopped with %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// countingDialer counts connection attempts.
func countingDialer(n *atomic.Int64) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		n.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

// While a site is down its clients retry at the backoff Dial was given
// (gRPC's own starts at 1 s), calls made WithWaitForReady wait for it
// rather than fail, and they go through once it is back.
func TestARestartedSiteIsRetriedAndReached(t *testing.T) {
	f, err := siteconfig.Loopback([]string{"a"}, map[string]string{"a": "full"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stop := startSite(t, f, dir)
	var dials atomic.Int64
	s, err := Dial(f.Sites[0].ClientAddr, "a", WithWaitForReady(true), withDialer(countingDialer(&dials)),
		WithDialTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := s.Client().Put(ctx, "g", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}

	stop()
	before := dials.Load()
	got := make(chan error, 1)
	go func() {
		v, _, err := s.Client().Get(ctx, "g", []byte("k"))
		if err == nil && string(v) != "v" {
			err = errors.New("read " + string(v))
		}
		got <- err
	}()
	const down = 1500 * time.Millisecond
	time.Sleep(down)
	// NB: a lower bound on retries in a fixed window, not a speed: with
	// backoff 50 ms..300 ms the client tries about 7 times in 1.5 s; gRPC's
	// default (1 s, then 1.6 s) tries at most twice.
	if n := dials.Load() - before; n < 4 {
		t.Errorf("%d connection attempts while the site was down for %v; want at least 4", n, down)
	}
	select {
	case err := <-got:
		t.Fatalf("a wait-for-ready call returned while the site was down: %v", err)
	default:
	}
	startSite(t, f, dir)
	if err := <-got; err != nil {
		t.Fatalf("the waiting read after the restart: %v", err)
	}
}

// Without WithWaitForReady a call to a site that is down fails at once with
// Unavailable (its outcome is known: it was never sent).
func TestWithoutWaitForReadyADownSiteFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s, err := Dial(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _, err = s.Client().Get(ctx, "g", []byte("k"))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("a call to a closed port: %v; want Unavailable", err)
	}
	if _, err := Dial(addr, "", WithDialTimeout(300*time.Millisecond)); err == nil {
		t.Fatal("Dial with a timeout reached a closed port")
	}
	if _, err := Dial(addr, "", WithBackoff(time.Second, time.Millisecond)); err == nil {
		t.Fatal("Dial took a backoff whose base exceeds its max")
	}
}

// With health checking (the default) a site whose health service says
// NOT_SERVING (shutting down) is not used; once it says SERVING it is.
// Without health checking the same site counts as ready at once.
func TestHealthCheckingKeepsClientsOffANotServingSite(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	defer srv.Stop()
	addr := lis.Addr().String()
	if _, err := Dial(addr, "", WithDialTimeout(time.Second)); err == nil {
		t.Fatal("a NOT_SERVING site counted as ready")
	}
	plain, err := Dial(addr, "", WithDialTimeout(5*time.Second), WithHealthCheck(false))
	if err != nil {
		t.Fatalf("without health checking: %v", err)
	}
	plain.Close()
	s, err := Dial(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatalf("once SERVING: %v (state %v)", err, s.State())
	}
}
