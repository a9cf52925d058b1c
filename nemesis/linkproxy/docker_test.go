package linkproxy_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis/linkproxy"
	"github.com/megastore-verified/megastore/tests/containers"
)

// Containers dial the host's proxies on the network's gateway: a
// three-regions cluster commits, and with the proxies into c stopped c
// cannot read the latest write until they restart.
func TestContainersThroughProxies(t *testing.T) {
	cli, err := containers.Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is unavailable: %v", err)
		}
		t.Skipf("skipping the Docker link proxy test: no Docker engine here (%v)", err)
	}
	cli.Close()
	t0 := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%6.1fs "+format+"\n", append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var set *linkproxy.Set
	defer func() {
		if set != nil {
			set.Close()
		}
	}()
	run, err := containers.Up(ctx, containers.UpOptions{
		Sites:    []containers.Site{{ID: "a", Kind: "full"}, {ID: "b", Kind: "full"}, {ID: "c", Kind: "full"}},
		Progress: say,
		Edit: func(n *containers.Network, f *siteconfig.File) error {
			var targets []linkproxy.Target
			for _, s := range f.Sites {
				targets = append(targets, linkproxy.Target{Site: linkproxy.Site{ID: s.ID, Kind: s.Kind}, Peer: netip.MustParseAddrPort(s.PeerAddr)})
			}
			base, _ := linkproxy.ProfileByName("three-regions")
			var err error
			if set, err = linkproxy.Start(n.Gateway, targets, base); err != nil {
				return err
			}
			f.Links = set.ConfigLinks()
			say("proxies on %s: %v", n.Gateway, f.Links)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			for _, s := range run.Sites {
				logs, _ := run.Logs(context.Background(), s.ID)
				t.Logf("site %s log:\n%s", s.ID, logs)
			}
		}
		set.Close()
		t1 := time.Now()
		if err := run.Down(context.Background()); err != nil {
			t.Errorf("removing run %s: %v", run.ID, err)
		}
		say("run removed in %.1fs", time.Since(t1).Seconds())
	}()
	cliRetry := func(args ...string) string {
		for {
			out, err := run.CLI(ctx, args...)
			if err == nil {
				return out
			}
			if ctx.Err() != nil {
				t.Fatalf("megastore %v: %v\n%s", args, err, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	cliRetry("put", "--site", "a", "--group", "g", "--key", "k", "--value", "v1")
	if out := cliRetry("get", "--site", "c", "--group", "g", "--key", "k"); !strings.Contains(out, "v1") {
		t.Fatalf("c reads %q, want v1", out)
	}
	say("v1 committed and read at c through the proxies")
	cut := []linkproxy.Link{{From: "a", To: "c"}, {From: "b", To: "c"}}
	for _, l := range cut {
		if err := set.Stop(l); err != nil {
			t.Fatal(err)
		}
	}
	cliRetry("put", "--site", "a", "--group", "g", "--key", "k", "--value", "v2")
	out, err := run.CLI(ctx, "get", "--site", "c", "--group", "g", "--key", "k", "--timeout", "3s")
	if err == nil && strings.Contains(out, "v2") {
		t.Fatalf("c read v2 although every proxy into it was stopped: %q", out)
	}
	say("c cut off: get at c gives %q (%v)", out, err)
	for _, l := range cut {
		if err := set.Resume(l); err != nil {
			t.Fatal(err)
		}
	}
	for !strings.Contains(cliRetry("get", "--site", "c", "--group", "g", "--key", "k"), "v2") {
		time.Sleep(200 * time.Millisecond)
	}
	say("c reads v2 after the proxies restarted")
}
