package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

// Every read mode names the position it read at, over the wire too, and
// the attempt count of a transaction reaches the caller.
func TestPositionsAndAttemptsOverTheWire(t *testing.T) {
	f := runSite(t, false)
	s := f.Sites[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := remote.Dial(s.ClientAddr, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.PutResult(ctx, "g", []byte("k"), []byte("v"))
	if err != nil || res.Position != 1 || res.Attempts != 1 {
		t.Fatalf("server-side Put: %+v %v; want position 1 after 1 attempt", res, err)
	}
	cl := r.Client()
	tres, err := cl.Run(ctx, "g", func(tx *client.Tx) error { tx.Put([]byte("k2"), []byte("v2")); return nil })
	if err != nil || tres.Position != 2 || tres.Attempts != 1 {
		t.Fatalf("Run: %+v %v", tres, err)
	}
	if v, pos, err := cl.InconsistentGet(ctx, "g", []byte("k")); err != nil || string(v) != "v" || pos != 2 {
		t.Fatalf("InconsistentGet: %q at %d, %v; want v at 2", v, pos, err)
	}
	if rows, _, pos, err := cl.Scan(ctx, "g", core.KeyRange{Limit: 10}, core.Inconsistent); err != nil || len(rows) != 2 || pos != 2 {
		t.Fatalf("inconsistent Scan: %d rows at %d, %v", len(rows), pos, err)
	}
	// A client that sends INCONSISTENT itself gets a position too, never
	// core.LatestPosition.
	conn, err := grpc.NewClient(s.ClientAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := wirepb.NewClientClient(conn)
	g, err := api.Get(ctx, &wirepb.GetRequest{Group: "g", Keys: [][]byte{[]byte("k")}, Mode: wirepb.ReadMode_INCONSISTENT})
	if err != nil || g.Position != 2 || string(g.Values[0].Value) != "v" {
		t.Fatalf("raw inconsistent Get: %v %v", g, err)
	}
}

// A write sent to a witness is refused as a write, whichever way it is
// sent; reads there keep their own refusal.
func TestAWitnessRefusesWritesAsWrites(t *testing.T) {
	f, err := siteconfig.Loopback([]string{"a", "w"}, map[string]string{"a": "full", "w": "witness"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: f, Site: "w", DataDir: t.TempDir(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func() { close(ready) }})
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	w := f.Sites[1]
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	r, err := remote.Dial(w.ClientAddr, "w")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, client.ErrWitnessNoWrites) || status.Code(err) != codes.FailedPrecondition ||
			!strings.Contains(err.Error(), "accept no writes") {
			t.Errorf("%s at a witness: %v; want FailedPrecondition, ErrWitnessNoWrites", what, err)
		}
	}
	_, err = r.Put(cctx, "g", []byte("k"), []byte("v"))
	check("server-side Put", err)
	_, err = r.Client().Put(cctx, "g", []byte("k"), []byte("v"))
	check("client.Put", err)
	_, err = r.Write(cctx, core.WriteRequest{Group: "g", Mutations: []core.Mutation{{Key: []byte("k"), Value: []byte("v")}}})
	check("Commit", err)
	if _, _, err := r.Client().Get(cctx, "g", []byte("k")); !errors.Is(err, core.ErrWitnessNoReads) || errors.Is(err, client.ErrWitnessNoWrites) {
		t.Errorf("a read at a witness: %v; want ErrWitnessNoReads", err)
	}
	if _, err := r.PutResult(cctx, "g", []byte("k"), nil); !errors.Is(err, client.ErrWitnessNoWrites) {
		t.Errorf("PutResult: %v", err)
	}
}
