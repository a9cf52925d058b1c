package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/daemon"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// remote.Site serves the committed-entry feed over gRPC.
var _ db.FeedSite = (*remote.Site)(nil)

// TestTheCommandAgainstALoopbackCluster runs the command line, as the
// README does, against three site daemons on 127.0.0.1 (in this process).
func TestTheCommandAgainstALoopbackCluster(t *testing.T) {
	ids := []string{"a", "b", "c"}
	f, err := siteconfig.Loopback(ids, map[string]string{"a": "full", "b": "full", "c": "full"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "cluster.json")
	if err := f.Write(config); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		ctx, cancel := context.WithCancel(context.Background())
		ready, done := make(chan struct{}), make(chan error, 1)
		go func() {
			done <- daemon.Run(ctx, daemon.Options{Config: f, Site: core.SiteID(id), DataDir: filepath.Join(dir, id),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func() { close(ready) }})
		}()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("site %s did not start: %v", id, err)
		}
		t.Cleanup(func() { cancel(); <-done })
	}
	var out bytes.Buffer
	for _, args := range [][]string{
		{"adduser", "7", "ann"},
		{"addphoto", "7", "beach", "sea,sun", "A day at the sea"},
		{"addphoto", "7", "hill", "sun"},
		{"-site", "b", "photos", "7"},
		{"-site", "c", "-snapshot", "tagged", "7", "sea"},
		{"check", "7"},
		{"adduser", "8", "bob"},
		{"addphoto", "8", "dune", "sun"},
		{"-site", "c", "everywhere", "sun"},
	} {
		var stderr bytes.Buffer
		if err := run(append([]string{"-config", config}, args...), &out, &stderr); err != nil {
			t.Fatalf("albums %v: %v\n%s", args, err, stderr.String())
		}
	}
	got := out.String()
	for _, want := range []string{"ann (user 7): 2 photos", "A day at the sea", "indexes match the data", "user 7      hill\n  user 8      dune"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	t.Logf("output:\n%s", got)
}
