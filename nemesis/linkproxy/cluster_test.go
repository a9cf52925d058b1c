package linkproxy_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/daemon"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis/linkproxy"
)

// Three site processes' daemons, in process, whose every peer link goes
// through a proxy: writes commit, and stopping the proxies into c cuts c
// off (a write still commits on the a-b majority, but c cannot learn it
// until the proxies are back), so the dial overrides are really used.
func TestClusterThroughProxies(t *testing.T) {
	f, err := siteconfig.Loopback([]string{"a", "b", "c"}, map[string]string{"a": "full", "b": "full", "c": "full"})
	if err != nil {
		t.Fatal(err)
	}
	var targets []linkproxy.Target
	for _, s := range f.Sites {
		targets = append(targets, linkproxy.Target{Site: linkproxy.Site{ID: s.ID, Kind: s.Kind}, Peer: netip.MustParseAddrPort(s.PeerAddr)})
	}
	base, _ := linkproxy.ProfileByName("slow-link") // c's links 150±50 ms each way
	set, err := linkproxy.Start(netip.MustParseAddr("127.0.0.1"), targets, base)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	f.Links = set.ConfigLinks()
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 3)
	for _, s := range f.Sites {
		go func() {
			done <- daemon.Run(runCtx, daemon.Options{Config: f, Site: core.SiteID(s.ID), DataDir: t.TempDir(),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		}()
	}
	defer func() {
		stop()
		for range 3 {
			if err := <-done; err != nil {
				t.Errorf("a site stopped with %v", err)
			}
		}
	}()
	site := func(id string) *remote.Site {
		s, _ := f.Site(id)
		r, err := remote.Dial(s.ClientAddr, core.SiteID(id))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	a, c := site("a"), site("c")
	put := func(v string) core.Position {
		for {
			pos, err := a.Put(ctx, "g", []byte("k"), []byte(v))
			if err == nil {
				return pos
			}
			if ctx.Err() != nil {
				t.Fatalf("put %s: %v", v, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	knows := func(pos core.Position) bool {
		es, err := c.Log(ctx, "g", pos, pos)
		return err == nil && len(es) == 1
	}
	waitKnows := func(pos core.Position) {
		for !knows(pos) {
			if ctx.Err() != nil {
				t.Fatalf("c never learnt position %d", pos)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	start := time.Now()
	p1 := put("v1")
	waitKnows(p1)
	t.Logf("figures: first write committed and known at c after %v", time.Since(start))

	cut := []linkproxy.Link{{From: "a", To: "c"}, {From: "b", To: "c"}}
	for _, l := range cut {
		if err := set.Stop(l); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	p2 := put("v2")
	t.Logf("figures: write with c cut off committed in %v (waits out c's lease)", time.Since(start))
	// A current read at c must learn the latest write, which it cannot
	// while nothing reaches it.
	readC := func(timeout time.Duration) string {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		v, _, err := c.Client().Get(rctx, "g", []byte("k"))
		if err != nil {
			return "error: " + err.Error()
		}
		return string(v)
	}
	if got := readC(2 * time.Second); got == "v2" || knows(p2) {
		t.Fatalf("c learnt position %d (read %q) although every link into it was stopped: the dial overrides are not used", p2, got)
	} else {
		t.Logf("c cut off: current read at c gives %q", got)
	}
	for _, l := range cut {
		if err := set.Resume(l); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	for readC(5*time.Second) != "v2" {
		if ctx.Err() != nil {
			t.Fatal("c never read v2 after the proxies restarted")
		}
	}
	waitKnows(p2)
	t.Logf("figures: c learnt the write %v after the proxies restarted", time.Since(start))
}
