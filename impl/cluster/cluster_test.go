package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

func threeFull() []core.Site {
	return []core.Site{{ID: "A", Kind: core.Full}, {ID: "B", Kind: core.Full}, {ID: "C", Kind: core.Full}}
}

func newCluster(t testing.TB, sites []core.Site) *Cluster {
	t.Helper()
	c, err := New(Options{Sites: sites, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// opTimeout bounds one operation in fault tests; an operation that runs out
// is an unknown outcome, never a failure.
const opTimeout = 2 * time.Second

// ctx bounds a test that would otherwise hang on a bug; no test asserts
// anything about time.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// eventually polls cond; it is a failsafe, not a timing assertion.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 20000; i++ {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

func increment(cx context.Context, c *client.Client, g core.GroupID) error {
	_, err := c.Transaction(cx, g, func(tx *client.Tx) error {
		v, err := tx.Get([]byte("counter"))
		if err != nil {
			return err
		}
		n := 0
		if v != nil {
			n, _ = strconv.Atoi(string(v))
		}
		tx.Put([]byte("counter"), []byte(strconv.Itoa(n+1)))
		return nil
	})
	return err
}

func TestRacingWritersAtThreeSites(t *testing.T) {
	c := newCluster(t, threeFull())
	cx := ctx(t)
	const perWriter = 15
	var wg sync.WaitGroup
	errs := make(chan error, 3*perWriter)
	for _, s := range []core.SiteID{"A", "B", "C"} {
		wg.Add(1)
		go func(cl *client.Client) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				if err := increment(cx, cl, "g"); err != nil {
					errs <- err
				}
			}
		}(c.Client(s))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := strconv.Itoa(3 * perWriter)
	var pos core.Position
	for _, s := range []core.SiteID{"A", "B", "C"} {
		v, p, err := c.Client(s).Get(cx, "g", []byte("counter"))
		if err != nil || string(v) != want {
			t.Fatalf("%s reads %q (%v), want %s: a lost update", s, v, err, want)
		}
		if pos != 0 && p != pos {
			t.Fatalf("%s reads at %d, another site at %d", s, p, pos)
		}
		pos = p
	}
	if pos < 3*perWriter {
		t.Fatalf("position %d < %d commits", pos, 3*perWriter)
	}
	// Every position ends with one value at every site: the logs agree.
	for p := core.Position(1); p <= pos; p++ {
		var first core.Value
		for i, s := range []core.SiteID{"A", "B", "C"} {
			rec, err := c.stores[s].Load()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range rec.Chosen {
				if e.Group == "g" && e.Position == p {
					found = true
					if i == 0 {
						first = e.Value
					} else if e.Value.ID != first.ID {
						t.Fatalf("position %d: %s has %v, A has %v", p, s, e.Value.ID, first.ID)
					}
				}
			}
			if !found {
				t.Fatalf("%s does not know position %d", s, p)
			}
		}
	}
}

func TestStoppedSiteIsInvalidatedAndCatchesUpFirst(t *testing.T) {
	c := newCluster(t, threeFull())
	cx := ctx(t)
	a, cl := c.Client("A"), c.Client("C")
	if _, err := a.Put(cx, "g", []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if v, _, err := cl.Get(cx, "g", []byte("k")); err != nil || string(v) != "v1" {
		t.Fatalf("C reads %q %v", v, err)
	}
	c.Network().Isolate("C")
	for i := 2; i <= 4; i++ {
		if _, err := a.Put(cx, "g", []byte("k"), []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.Driver("C").Status(cx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Groups["g"].Valid && st.LeaseHeld {
		t.Fatal("isolated C still considers the group valid with its lease")
	}
	if v, _, err := cl.SnapshotGet(cx, "g", []byte("k")); err != nil || string(v) != "v1" {
		t.Fatalf("C's snapshot while isolated: %q %v", v, err)
	}
	c.Network().Heal()
	if v, _, err := cl.Get(cx, "g", []byte("k")); err != nil || string(v) != "v4" {
		t.Fatalf("C's current read after return: %q %v", v, err)
	}
}

func TestWitnessRefusesReadsAndStoresNoData(t *testing.T) {
	c := newCluster(t, []core.Site{{ID: "A", Kind: core.Full}, {ID: "B", Kind: core.Full}, {ID: "W", Kind: core.Witness}})
	cx := ctx(t)
	c.Network().Isolate("B") // A needs W's vote
	if _, err := c.Client("A").Put(cx, "g", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Client("W").Get(cx, "g", []byte("k")); !errors.Is(err, core.ErrWitnessNoReads) {
		t.Fatalf("witness read: %v", err)
	}
	if _, _, err := c.Client("W").SnapshotGet(cx, "g", []byte("k")); !errors.Is(err, core.ErrWitnessNoReads) {
		t.Fatalf("witness snapshot read: %v", err)
	}
	vals, err := c.stores["W"].Read("g", [][]byte{[]byte("k")}, core.LatestPosition)
	if err != nil || vals[0] != nil {
		t.Fatalf("witness stores data: %q %v", vals, err)
	}
	st, err := c.stores["W"].Load()
	if err != nil || len(st.Acceptor) == 0 {
		t.Fatalf("witness keeps no acceptor state: %v", err)
	}
}

func TestReadOnlyNeverVotesServesSnapshotsAndCatchesUp(t *testing.T) {
	c := newCluster(t, append(threeFull(), core.Site{ID: "R", Kind: core.ReadOnly}))
	cx := ctx(t)
	c.Network().Isolate("R")
	for i := 1; i <= 3; i++ {
		if _, err := c.Client("A").Put(cx, "g", []byte("k"), []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	c.Network().Heal()
	r := c.Client("R")
	if _, _, err := r.Get(cx, "g", []byte("k")); !errors.Is(err, core.ErrReadOnlySite) {
		t.Fatalf("current read at read-only: %v", err)
	}
	eventually(t, "read-only site catches up", func() bool {
		v, _, err := r.SnapshotGet(cx, "g", []byte("k"))
		return err == nil && string(v) == "v3"
	})
	st, err := c.stores["R"].Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range st.Acceptor {
		if a.Voted || a.MaxBal != 0 {
			t.Fatalf("read-only site voted: %+v", a)
		}
	}
}

func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	c := newCluster(t, threeFull())
	cx := ctx(t)
	acked := map[string]string{}
	for i := 0; i < 10; i++ {
		k, v := fmt.Sprint("k", i), fmt.Sprint("v", i)
		site := []core.SiteID{"A", "B", "C"}[i%3]
		if _, err := c.Client(site).Put(cx, "g", []byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		acked[k] = v
	}
	for _, s := range []core.SiteID{"A", "B", "C"} {
		if err := c.Crash(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []core.SiteID{"A", "B", "C"} {
		if err := c.Restart(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []core.SiteID{"A", "B", "C"} {
		for k, want := range acked {
			v, _, err := c.Client(s).Get(cx, "g", []byte(k))
			if err != nil || string(v) != want {
				t.Fatalf("after crash, %s reads %s=%q (%v), want %q", s, k, v, err, want)
			}
		}
	}
}

func TestCrashedSiteWritesGoOnAndItCatchesUpOnRestart(t *testing.T) {
	c := newCluster(t, threeFull())
	cx := ctx(t)
	if _, err := c.Client("A").Put(cx, "g", []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.Client("C").Get(cx, "g", []byte("k")); err != nil || string(v) != "v1" {
		t.Fatalf("C reads %q %v", v, err)
	}
	if err := c.Crash("C"); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 4; i++ {
		if _, err := c.Client("B").Put(cx, "g", []byte("k"), []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Restart("C"); err != nil {
		t.Fatal(err)
	}
	v, p, err := c.Client("C").Get(cx, "g", []byte("k"))
	if err != nil || string(v) != "v4" || p != 4 {
		t.Fatalf("C's first current read after restart: %q at %d, %v", v, p, err)
	}
	if _, err := c.Client("C").Put(cx, "g", []byte("k"), []byte("v5")); err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.Client("A").Get(cx, "g", []byte("k")); err != nil || string(v) != "v5" {
		t.Fatalf("A reads %q %v", v, err)
	}
}

// TestEvictedGroupsKeepEveryWrite: with each site holding one idle group at
// most, writes from every site spread over ten groups, and a crash and
// restart of every site (which then loads groups as they are named), every
// acknowledged write is read back at every site, and the groups a site
// holds stay bounded.
func TestEvictedGroupsKeepEveryWrite(t *testing.T) {
	c, err := New(Options{Sites: threeFull(), Seed: 1,
		Driver: func(cfg *node.Config) { cfg.HeldGroups = 1 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cx := ctx(t)
	sites := []core.SiteID{"A", "B", "C"}
	want := map[core.GroupID]int{}
	for i := range 60 {
		g := core.GroupID(fmt.Sprint("g", i%10))
		if err := increment(cx, c.Client(sites[i%3]), g); err != nil {
			t.Fatal(err)
		}
		want[g]++
		if i == 30 {
			for _, s := range sites {
				if err := c.Crash(s); err != nil {
					t.Fatal(err)
				}
				if err := c.Restart(s); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, s := range sites {
		for g, n := range want {
			v, _, err := c.Client(s).Get(cx, g, []byte("counter"))
			if err != nil || string(v) != strconv.Itoa(n) {
				t.Fatalf("%s reads %s counter=%q (%v), want %d", s, g, v, err, n)
			}
		}
		st, err := c.Driver(s).Status(cx)
		if err != nil {
			t.Fatal(err)
		}
		// NB: Status runs before the drain that follows it; the groups the
		// reads above left idle were forgotten by then, but for the last.
		if len(st.Groups) > 2 {
			t.Errorf("%s holds %d groups, HeldGroups is 1", s, len(st.Groups))
		}
	}
}
