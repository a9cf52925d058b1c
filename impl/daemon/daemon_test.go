package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/peer"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/impl/wire"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

// runSite runs a one-site deployment in process until the test ends.
func runSite(t *testing.T, testAdmin bool) *siteconfig.File {
	t.Helper()
	f, err := siteconfig.Loopback([]string{"a"}, map[string]string{"a": "full"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: f, Site: "a", DataDir: t.TempDir(), TestAdmin: testAdmin,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func() { close(ready) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("site stopped with %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("site did not start: %v", err)
	}
	return f
}

func post(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAdminEndpointsOnlyWithTestAdmin(t *testing.T) {
	plain := runSite(t, false)
	admin := runSite(t, true)
	if code := post(t, "http://"+plain.Sites[0].HTTPAddr+"/admin/clock-offset?ticks=5"); code != http.StatusNotFound {
		t.Fatalf("admin endpoint without --test-admin: %d", code)
	}
	base := "http://" + admin.Sites[0].HTTPAddr
	if code := post(t, base+"/admin/clock-offset?ticks=5"); code != http.StatusOK {
		t.Fatalf("clock offset: %d", code)
	}
	if code := post(t, base+"/admin/clock-offset?ticks=x"); code != http.StatusBadRequest {
		t.Fatalf("bad clock offset: %d", code)
	}
	if code := post(t, base+"/admin/clock-rate?milli=1100"); code != http.StatusOK {
		t.Fatalf("clock rate: %d", code)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

// Bad input gets a clear status, loses nothing, and the site goes on.
func TestBadInputIsRefusedAndTheSiteSurvives(t *testing.T) {
	f := runSite(t, false)
	s := f.Sites[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := remote.Dial(s.ClientAddr, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cl := r.Client()
	if _, err := cl.Put(ctx, "g", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}

	conn, err := grpc.NewClient(s.ClientAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := wirepb.NewClientClient(conn)
	for _, c := range []struct {
		name string
		call func() error
		code codes.Code
		want error
		text string
	}{
		{"group syntax", func() error { _, err := api.Get(ctx, &wirepb.GetRequest{Group: "no spaces"}); return err }, codes.InvalidArgument, core.ErrMalformed, "group name"},
		{"oversized key", func() error {
			_, err := api.Put(ctx, &wirepb.PutRequest{Group: "g", Key: make([]byte, 5000), Value: []byte("v")})
			return err
		}, codes.InvalidArgument, core.ErrKeyTooLarge, "5000 bytes"},
		{"oversized value", func() error {
			_, err := api.Put(ctx, &wirepb.PutRequest{Group: "g", Key: []byte("k"), Value: make([]byte, 2<<20)})
			return err
		}, codes.InvalidArgument, core.ErrValueTooLarge, "exceeds"},
		{"non-member site", func() error { _, err := api.Status(ctx, &wirepb.StatusRequest{Site: "zz"}); return err }, codes.InvalidArgument, core.ErrUnknownSite, "not a member"},
		{"bad read mode", func() error { _, err := api.Get(ctx, &wirepb.GetRequest{Group: "g", Mode: 42}); return err }, codes.InvalidArgument, core.ErrMalformed, "read mode"},
		{"empty commit", func() error { _, err := api.Commit(ctx, &wirepb.CommitRequest{Group: "g"}); return err }, codes.InvalidArgument, core.ErrMalformed, "without mutations"},
		{"stale commit", func() error {
			_, err := api.Commit(ctx, &wirepb.CommitRequest{Group: "g", Mutations: []*wirepb.Mutation{{Key: []byte("k"), Value: []byte("lost")}}})
			return err
		}, codes.Aborted, core.ErrConflict, "conflict"},
	} {
		err := c.call()
		if status.Code(err) != c.code || !errors.Is(wire.FromStatus(err), c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got %v, want %v %v containing %q", c.name, err, c.code, c.want, c.text)
		}
	}

	// Garbage on the peer port: a refused batch, then raw bytes that are not
	// HTTP/2 at all.
	pconn, err := grpc.NewClient(s.PeerAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer pconn.Close()
	stream, err := wirepb.NewPeerClient(pconn).Deliver(peer.WithMembership(ctx, f.Membership()))
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&wirepb.Batch{Messages: []*wirepb.Message{{Type: 77, From: "a", To: "a"}}})
	if _, err := stream.CloseAndRecv(); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "unknown message type 77") {
		t.Errorf("garbage batch: %v", err)
	}
	for _, addr := range []string{s.PeerAddr, s.ClientAddr} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = nc.Write([]byte("\x00\xffGET / HTTP/1.0\r\n\r\nthis is not gRPC\x00\x01\x02"))
		nc.Close()
	}

	// Nothing was lost and the site still serves.
	v, pos, err := cl.Get(ctx, "g", []byte("k"))
	if err != nil || string(v) != "v" || pos != 1 {
		t.Fatalf("after bad input: %q at %d, %v", v, pos, err)
	}
	if _, err := cl.Put(ctx, "g", []byte("k2"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
}
