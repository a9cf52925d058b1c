package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/cluster"
	"github.com/megastore-verified/megastore/impl/core"
)

// A site cut off from every other cannot serve a current read; a client
// with Fallback sites reads, and runs its transaction, at the next one
// (§4.6.2), and sees the last acknowledged write. Without Fallback the
// same read fails.
func TestCurrentReadFallsBackWhenTheLocalSiteIsCutOff(t *testing.T) {
	sites := []core.Site{{ID: "a", Kind: core.Full}, {ID: "b", Kind: core.Full}, {ID: "c", Kind: core.Full}}
	c, err := cluster.New(cluster.Options{Sites: sites, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Client("a").Put(ctx, "g", []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	c.Network().Isolate("c")
	if _, err := c.Client("a").Put(ctx, "g", []byte("k"), []byte("v2")); err != nil {
		t.Fatal(err)
	}

	alone := c.Client("c")
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	_, _, err = alone.Get(short, "g", []byte("k"))
	cancelShort()
	if err == nil {
		t.Fatal("a current read at a site cut off from every other completed without a fallback")
	}

	cl := c.Client("c")
	cl.Fallback = []client.Site{siteOf(c, "a"), siteOf(c, "b")}
	cl.TryTimeout = 300 * time.Millisecond
	v, _, err := cl.Get(ctx, "g", []byte("k"))
	if err != nil || string(v) != "v2" {
		t.Fatalf("current read with fallback: %q %v, want v2", v, err)
	}
	pos, err := cl.Transaction(ctx, "g", func(tx *client.Tx) error {
		old, err := tx.Get([]byte("k"))
		if err != nil {
			return err
		}
		tx.Put([]byte("k"), append(old, '!'))
		return nil
	})
	if err != nil || pos == 0 {
		t.Fatalf("transaction with fallback: %d %v", pos, err)
	}
	if v, _, err := c.Client("a").Get(ctx, "g", []byte("k")); err != nil || string(v) != "v2!" {
		t.Fatalf("after the fallback transaction: %q %v", v, err)
	}
	// The caller's own deadline is not a reason to fall back: it ends the read.
	dead, cancelDead := context.WithCancel(ctx)
	cancelDead()
	if _, _, err := cl.Get(dead, "g", []byte("k")); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled read: %v", err)
	}
}

// siteOf is the in-process cluster's site id as a client.Site that
// follows restarts.
func siteOf(c *cluster.Cluster, id core.SiteID) client.Site { return c.Site(id) }
