package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/peer"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// startSite runs site id of f in process; the returned channel gets Run's
// result.
func startSite(t *testing.T, f *siteconfig.File, id string) (context.CancelFunc, chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: f, Site: core.SiteID(id), DataDir: t.TempDir(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	return cancel, done
}

// copyConfig returns a deep enough copy of f for a test to edit.
func copyConfig(f *siteconfig.File) *siteconfig.File {
	c := *f
	c.Sites = append([]siteconfig.Site(nil), f.Sites...)
	c.Links = append([]siteconfig.Link(nil), f.Links...)
	return &c
}

// Two sites whose cluster.json files differ in membership both stop with an
// error naming both digests and the difference, before serving a write.
func TestMembershipMismatchStopsSites(t *testing.T) {
	f, err := siteconfig.Loopback([]string{"a", "b", "c"}, map[string]string{"a": "full", "b": "full", "c": "witness"})
	if err != nil {
		t.Fatal(err)
	}
	other := copyConfig(f)
	other.Sites[2].Kind = "full" // b believes c is a full replica
	cancelA, doneA := startSite(t, f, "a")
	defer cancelA()
	cancelB, doneB := startSite(t, other, "b")
	defer cancelB()
	for _, c := range []struct {
		site string
		done chan error
	}{{"a", doneA}, {"b", doneB}} {
		select {
		case err := <-c.done:
			if !errors.Is(err, peer.ErrMembershipMismatch) || !strings.Contains(err.Error(), f.Membership().Digest) ||
				!strings.Contains(err.Error(), other.Membership().Digest) || !strings.Contains(err.Error(), "c:witness") {
				t.Errorf("site %s stopped with %v; want a membership mismatch naming both digests and c's kinds", c.site, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("site %s still runs with a peer whose membership differs", c.site)
		}
	}
}

// Files that differ only in addresses (b listens on 0.0.0.0, a dials b by
// another loopback address) agree: the sites run and commit.
func TestAddressesNeedNotAgree(t *testing.T) {
	f, err := siteconfig.Loopback([]string{"a", "b"}, map[string]string{"a": "full", "b": "full"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.Sites[1].PeerAddr, "127.") {
		t.Fatalf("unexpected loopback address %s", f.Sites[1].PeerAddr)
	}
	_, port, _ := strings.Cut(f.Sites[1].PeerAddr, ":")
	forA := copyConfig(f)
	forA.Links = []siteconfig.Link{{From: "a", To: "b", Dial: "127.0.0.1:" + port}}
	forB := copyConfig(f)
	forB.Sites[1].PeerListenAddr = "0.0.0.0:" + port
	for _, c := range []*siteconfig.File{forA, forB} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	cancelA, doneA := startSite(t, forA, "a")
	cancelB, doneB := startSite(t, forB, "b")
	defer func() {
		cancelA()
		cancelB()
		for _, done := range []chan error{doneA, doneB} {
			if err := <-done; err != nil {
				t.Errorf("site stopped with %v", err)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := remote.Dial(f.Sites[0].ClientAddr, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		_, err := r.Put(ctx, "g", []byte("k"), []byte("v"))
		if err == nil {
			break
		}
		select {
		case err := <-doneA:
			t.Fatalf("a stopped: %v", err)
		case err := <-doneB:
			t.Fatalf("b stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("no write committed: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
