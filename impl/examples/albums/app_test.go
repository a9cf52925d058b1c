package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/cluster"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
)

func TestAlbumsOnAnInProcessCluster(t *testing.T) {
	c, err := cluster.New(cluster.Options{Seed: 1, Sites: []core.Site{{ID: "A", Kind: core.Full}, {ID: "B", Kind: core.Full}, {ID: "C", Kind: core.Full}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clock := time.Unix(1700000000, 0)
	now := func() time.Time { clock = clock.Add(time.Minute); return clock }
	a := &App{DB: db.Open(c.Site("A"), Schema(), nil), Feed: db.DriverFeed(c.Driver("A")), Mode: core.Current, Now: now}
	b := &App{DB: db.Open(c.Site("B"), Schema(), nil), Feed: db.DriverFeed(c.Driver("B")), Mode: core.Current, Now: now}
	var out bytes.Buffer
	for _, cmd := range [][]string{
		{"adduser", "7", "ann"},
		{"addphoto", "7", "beach", "sea,sun", "A day at the sea"},
		{"addphoto", "7", "hill", "sun"},
		{"addphoto", "7", "beach", "sea", "Again"}, // a replacement is not counted twice
		{"adduser", "8", "bob"},
		{"addphoto", "8", "dune", "sun"},
	} {
		if err := a.Command(ctx, cmd, &out); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	if err := a.Command(ctx, []string{"addphoto", "9", "x"}, &out); !errors.Is(err, ErrNoUser) {
		t.Fatalf("photo of a missing user: %v", err)
	}
	if err := a.Command(ctx, []string{"addphoto", "seven", "x"}, &out); !errors.Is(err, errUsage) {
		t.Fatalf("bad user: %v", err)
	}
	out.Reset()
	for _, cmd := range [][]string{{"photos", "7"}, {"tagged", "7", "sun"}, {"check", "7"}, {"everywhere", "sun"}} {
		if err := b.Command(ctx, cmd, &out); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	got := out.String()
	for _, want := range []string{"ann (user 7): 2 photos", "  beach        2023-11-14T22:16:20Z  Again\n  hill",
		"  hill         [sun]\n", "indexes match the data", "  user 7      hill\n  user 8      dune\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "beach        [") {
		t.Errorf("beach lost its sun tag but is still listed under sun:\n%s", got)
	}
}
