package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
)

// TestStoppedSiteCatchesUpThroughTheCompactedState: with every site
// keeping 8 positions, C crashes, A and B write 60 transactions over a
// handful of keys (some deleted again) and truncate far past where C
// stopped; C restarts, catches up through their compacted state (paged:
// a page holds 2 rows here) and reads exactly what A reads, at every key,
// then writes on. Its own log and data are truncated too by the end.
func TestStoppedSiteCatchesUpThroughTheCompactedState(t *testing.T) {
	c, err := New(Options{Sites: threeFull(), Seed: 1, Tune: func(cfg *core.Config) {
		cfg.RetainPositions = 8
		cfg.MaxScanRows = 2
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cx := ctx(t)
	if _, err := c.Client("A").Put(cx, "g", []byte("k0"), []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := c.Crash("C"); err != nil {
		t.Fatal(err)
	}
	const keys = 7
	want := map[string]string{"k0": "first"}
	count := 0
	for i := range 60 {
		k := fmt.Sprint("k", i%keys)
		if i%9 == 8 {
			if _, err := c.Client("B").Transaction(cx, "g", func(tx *client.Tx) error { tx.Delete([]byte(k)); return nil }); err != nil {
				t.Fatal(err)
			}
			delete(want, k)
			continue
		}
		if err := increment(cx, c.Client([]core.SiteID{"A", "B"}[i%2]), "g"); err != nil {
			t.Fatal(err)
		}
		count++
		v := strconv.Itoa(i)
		if _, err := c.Client("A").Put(cx, "g", []byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	stA, err := c.Driver("A").Status(cx)
	if err != nil {
		t.Fatal(err)
	}
	if gs := stA.Groups["g"]; gs.Truncated < 80 || gs.Held > 2*(8+2+2) {
		t.Fatalf("A did not truncate: %+v", gs)
	}
	if _, err := c.Driver("A").Log(cx, "g", 1, 5, 10); !errors.Is(err, core.ErrTruncated) {
		t.Fatalf("the log of truncated positions: %v", err)
	}
	if err := c.Restart("C"); err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		k := fmt.Sprint("k", i)
		v, p, err := c.Client("C").Get(cx, "g", []byte(k))
		if err != nil || string(v) != want[k] || (v == nil) != (want[k] == "") {
			t.Fatalf("C reads %s=%q at %d (%v), want %q", k, v, p, err, want[k])
		}
	}
	stC, err := c.Driver("C").Status(cx)
	if err != nil {
		t.Fatal(err)
	}
	if gs := stC.Groups["g"]; gs.Truncated < stA.Groups["g"].Truncated || gs.Applied < stA.Groups["g"].Applied {
		t.Fatalf("C did not catch up through the compacted state: %+v, A %+v", gs, stA.Groups["g"])
	}
	// C goes on as any site: it writes, and everyone reads the count.
	if err := increment(cx, c.Client("C"), "g"); err != nil {
		t.Fatal(err)
	}
	count++
	for _, s := range []core.SiteID{"A", "B", "C"} {
		if v, _, err := c.Client(s).Get(cx, "g", []byte("counter")); err != nil || string(v) != strconv.Itoa(count) {
			t.Fatalf("%s reads counter=%q (%v), want %d", s, v, err, count)
		}
	}
}
