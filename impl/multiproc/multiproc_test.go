package multiproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/storage"
)

// increment is a read-modify-write transaction: counter n += 1, and a key
// naming the transaction, so the log shows which transaction won which
// position.
func increment(ctx context.Context, cl *client.Client, g core.GroupID, txn string) (core.Position, error) {
	return cl.Transaction(ctx, g, func(tx *client.Tx) error {
		v, err := tx.Get([]byte("n"))
		if err != nil {
			return err
		}
		n := 0
		if v != nil {
			if n, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
		}
		tx.Put([]byte("n"), []byte(strconv.Itoa(n+1)))
		tx.Put([]byte("txn/"+txn), []byte("1"))
		return nil
	})
}

// caughtUpLog makes site id catch up with a current read and returns its
// known log of g from 1 to at least upTo.
func caughtUpLog(t *testing.T, ctx context.Context, c *procCluster, id string, g core.GroupID, upTo core.Position) []core.Entry {
	t.Helper()
	var log []core.Entry
	err := retry(100, func() error {
		_, pos, err := c.client(id).Get(ctx, g, []byte("n"))
		if err != nil {
			return err
		}
		if pos < upTo {
			return fmt.Errorf("site %s read at %d < %d", id, pos, upTo)
		}
		if log, err = c.site(id).Log(ctx, g, 1, pos); err != nil {
			return err
		}
		if core.Position(len(log)) != pos {
			return fmt.Errorf("site %s knows %d of %d positions", id, len(log), pos)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return log
}

// txnAt returns the transaction whose key the entry writes ("" for none).
func txnAt(e core.Entry) string {
	for _, m := range e.Value.Mutations {
		if k := string(m.Key); len(k) > 4 && k[:4] == "txn/" {
			return k[4:]
		}
	}
	return ""
}

// (a) Writers at three sites race on one group: one wins each position, the
// others conflict and rerun, and every site ends with the same value at
// every position.
func TestRacingWritersAtThreeSites(t *testing.T) {
	c := startCluster(t, "a", "b", "c")
	ctx := testCtx(t, 90*time.Second)
	const g = core.GroupID("race")

	// A directed race first: two transactions read the same position; the
	// second to commit must get a conflict, whatever the timing.
	if _, err := c.client("a").Put(ctx, g, []byte("seed"), []byte("0")); err != nil {
		t.Fatal(err)
	}
	ra, err := c.site("a").Read(ctx, core.ReadRequest{Group: g, Mode: core.Current})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := c.site("b").Read(ctx, core.ReadRequest{Group: g, Mode: core.Current})
	if err != nil || rb.Position != ra.Position {
		t.Fatalf("b read %+v %v, a read at %d", rb, err, ra.Position)
	}
	mut := []core.Mutation{{Key: []byte("x"), Value: []byte("a")}}
	if _, err := c.site("a").Write(ctx, core.WriteRequest{Group: g, ReadPosition: ra.Position, Mutations: mut}); err != nil {
		t.Fatal(err)
	}
	mut[0].Value = []byte("b")
	if _, err := c.site("b").Write(ctx, core.WriteRequest{Group: g, ReadPosition: rb.Position, Mutations: mut}); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("second writer at position %d: got %v, want a conflict", rb.Position+1, err)
	}
	base := ra.Position + 1

	// Then the free-for-all through the library, which reruns on conflict.
	const perSite = 12
	sites := []string{"a", "b", "c"}
	counters := map[string]*countingSite{}
	acked := map[core.Position]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(sites))
	for _, id := range sites {
		cs := &countingSite{Site: c.site(id)}
		counters[id] = cs
		cl := client.New(cs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSite {
				txn := fmt.Sprintf("%s-%d", id, i)
				pos, err := increment(ctx, cl, g, txn)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", txn, err)
					return
				}
				mu.Lock()
				if other, dup := acked[pos]; dup {
					errs <- fmt.Errorf("position %d acknowledged to both %s and %s", pos, other, txn)
				}
				acked[pos] = txn
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	final := base + 3*perSite
	conflicts := 0
	for _, cs := range counters {
		conflicts += cs.conflicts
	}
	t.Logf("%d transactions, %d conflicts rerun by the library", 3*perSite, conflicts)

	logs := map[string][]core.Entry{}
	for _, id := range sites {
		logs[id] = caughtUpLog(t, ctx, c, id, g, final)
	}
	for p := core.Position(1); p <= final; p++ {
		want := logs["a"][p-1].Value.ID
		for _, id := range sites {
			if got := logs[id][p-1].Value.ID; got != want {
				t.Fatalf("position %d: site a has %v, site %s has %v", p, want, id, got)
			}
		}
		if txn, ok := acked[p]; ok && txnAt(logs["a"][p-1]) != txn {
			t.Fatalf("position %d was acknowledged to %s but holds %q", p, txn, txnAt(logs["a"][p-1]))
		}
	}
	if len(acked) != 3*perSite {
		t.Fatalf("%d positions acknowledged for %d transactions", len(acked), 3*perSite)
	}
	v, _, err := c.client("c").Get(ctx, g, []byte("n"))
	if err != nil || string(v) != strconv.Itoa(3*perSite) {
		t.Fatalf("counter %q %v, want %d: an increment was lost", v, err, 3*perSite)
	}
}

// (b) A site is SIGKILLed: writes go on without it (its coordinator is
// invalidated or its lease waited out), and when it comes back its first
// current read catches it up and sees every acknowledged write.
func TestKilledSiteWritesGoOnAndCatchesUp(t *testing.T) {
	c := startCluster(t, "a", "b", "c")
	ctx := testCtx(t, 90*time.Second)
	const g = core.GroupID("lost")
	for i := range 5 {
		if _, err := increment(ctx, c.client("a"), g, fmt.Sprint("before-", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.client("c").Get(ctx, g, []byte("n")); err != nil {
		t.Fatal(err) // c is up to date and its coordinator holds the group valid
	}
	c.kill("c")
	var last core.Position
	for i := range 10 {
		site := []string{"a", "b"}[i%2]
		pos, err := increment(ctx, c.client(site), g, fmt.Sprint("during-", i))
		if err != nil {
			t.Fatalf("write %d at %s with c down: %v", i, site, err)
		}
		last = pos
	}
	if n := c.metric("a", "megastore_invalidations_total") + c.metric("b", "megastore_invalidations_total"); n == 0 {
		t.Fatal("writes went on without invalidating c or waiting out its lease")
	}
	c.start("c")
	c.waitHealthy("c")
	var v []byte
	var pos core.Position
	err := retry(100, func() (err error) {
		v, pos, err = c.client("c").Get(ctx, g, []byte("n"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if pos < last || string(v) != "15" {
		t.Fatalf("c's first current read after restart: n=%q at %d; want 15 at >= %d", v, pos, last)
	}
	rows, _, _, err := c.client("c").Scan(ctx, g, core.KeyRange{Start: []byte("txn/"), End: []byte("txn0"), Limit: 100}, core.Current)
	if err != nil || len(rows) != 15 {
		t.Fatalf("c sees %d of 15 transactions: %v", len(rows), err)
	}
}

// (c) A witness refuses reads and stores no data; a read-only site serves
// snapshot reads, refuses current reads and writes, and never votes.
func TestWitnessAndReadOnlySites(t *testing.T) {
	c := startCluster(t, "a", "b", "w", "r")
	ctx := testCtx(t, 90*time.Second)
	const g = core.GroupID("kinds")
	var last core.Position
	for i := range 5 {
		pos, err := c.client("a").Put(ctx, g, []byte(fmt.Sprint("k", i)), []byte("v"))
		if err != nil {
			t.Fatal(err)
		}
		last = pos
	}

	for _, mode := range []core.ReadMode{core.Current, core.Snapshot, core.Inconsistent} {
		_, err := c.site("w").Read(ctx, core.ReadRequest{Group: g, Mode: mode, Keys: [][]byte{[]byte("k0")}})
		if !errors.Is(err, core.ErrWitnessNoReads) {
			t.Fatalf("%v read at the witness: %v", mode, err)
		}
	}
	if _, _, err := c.client("r").Get(ctx, g, []byte("k0")); !errors.Is(err, core.ErrReadOnlySite) {
		t.Fatalf("current read at the read-only site: %v", err)
	}
	if _, err := c.client("r").Put(ctx, g, []byte("k"), []byte("v")); !errors.Is(err, core.ErrReadOnlySite) {
		t.Fatalf("write at the read-only site: %v", err)
	}
	var v []byte
	var pos core.Position
	err := retry(100, func() (err error) {
		v, pos, err = c.client("r").SnapshotGet(ctx, g, []byte("k4"))
		if err == nil && pos < last {
			err = fmt.Errorf("snapshot at %d < %d", pos, last)
		}
		return err
	})
	if err != nil || string(v) != "v" {
		t.Fatalf("snapshot read at the read-only site: %q %v", v, err)
	}

	// Votes are protocol steps: the witness took part, the read-only site
	// did not.
	if n := c.metric("w", "megastore_protocol_steps_total", `action="Accept"`); n == 0 {
		t.Fatal("the witness never accepted a value")
	}
	for _, action := range []string{"Accept", "Promise", "AcceptLeader"} {
		if n := c.metric("r", "megastore_protocol_steps_total", fmt.Sprintf("action=%q", action)); n != 0 {
			t.Fatalf("the read-only site took %v %s steps", n, action)
		}
	}
	// The witness keeps the log...
	if log, err := c.site("w").Log(ctx, g, 1, last); err != nil || len(log) == 0 {
		t.Fatalf("witness log: %d entries, %v", len(log), err)
	}
	// ...and no data rows: its store, opened after the process is gone,
	// has nothing for the group at any position.
	c.kill("w")
	st, err := storage.Open(filepath.Join(c.dir, "data", "w"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, _, err := st.Scan(g, core.KeyRange{Limit: 100}, core.LatestPosition)
	if err != nil || len(rows) != 0 {
		t.Fatalf("the witness stored %d data rows (%v)", len(rows), err)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "data", "r")); err != nil {
		t.Fatal(err)
	}
}

// (d) Sites SIGKILLed while writes are in flight, then restarted, lose no
// acknowledged write.
func TestKillMidWriteLosesNoAcknowledgedWrite(t *testing.T) {
	c := startCluster(t, "a", "b", "c")
	ctx := testCtx(t, 90*time.Second)
	const writers = 4
	type ack struct {
		g   core.GroupID
		key string
	}
	var mu sync.Mutex
	var acks []ack
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := core.GroupID(fmt.Sprint("crash-", w%2)) // two writers share each group
			cl := c.client([]string{"a", "b"}[w%2])
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			for i := 0; i < 1000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i)
				if _, err := cl.Put(wctx, g, []byte(key), []byte("v")); err != nil {
					return // the site died under this write: not acknowledged
				}
				mu.Lock()
				acks = append(acks, ack{g, key})
				mu.Unlock()
			}
		}()
	}
	// Let some writes be acknowledged, then kill a and b mid-stream.
	for i := 0; i < 300; i++ {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= 20 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.kill("a")
	c.kill("b")
	close(stop)
	wg.Wait()
	if len(acks) == 0 {
		t.Fatal("no write was acknowledged before the crash")
	}
	c.start("a")
	c.start("b")
	c.waitHealthy("a")
	c.waitHealthy("b")
	for _, id := range []string{"a", "b", "c"} {
		for _, a := range acks {
			var v []byte
			err := retry(100, func() (err error) {
				v, _, err = c.client(id).Get(ctx, a.g, []byte(a.key))
				return err
			})
			if err != nil || string(v) != "v" {
				t.Fatalf("acknowledged write %s/%s at site %s after the crash: %q %v", a.g, a.key, id, v, err)
			}
		}
	}
	t.Logf("%d acknowledged writes survived SIGKILL of two of three sites", len(acks))
}
