package db

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/cluster"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
)

func albums(t testing.TB) *schema.Schema {
	t.Helper()
	s, err := schema.Define(
		[]schema.Table{
			{Name: "User", Columns: []schema.Column{{Name: "id", Kind: schema.Int64}, {Name: "name", Kind: schema.String, Required: true},
				{Name: "photos", Kind: schema.Int64}}, Key: []string{"id"}},
			{Name: "Photo", Root: "User", Columns: []schema.Column{{Name: "user", Kind: schema.Int64}, {Name: "photo", Kind: schema.String},
				{Name: "time", Kind: schema.Int64}, {Name: "tags", Kind: schema.String, Repeated: true}, {Name: "thumb", Kind: schema.Bytes}},
				Key: []string{"user", "photo"}},
		},
		[]schema.Index{
			{Name: "PhotosByTime", Table: "Photo", Columns: []string{"time"}, Storing: []string{"thumb"}},
			{Name: "PhotosByTag", Table: "Photo", Columns: []string{"tags"}},
		})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var sites = []core.Site{{ID: "A", Kind: core.Full}, {ID: "B", Kind: core.Full}, {ID: "C", Kind: core.Full}}

func newCluster(t testing.TB) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(cluster.Options{Sites: sites, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// ctx bounds a test that would otherwise hang on a bug; nothing asserts
// anything about time.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func photo(user int64, id string, time int64, tags ...string) schema.Row {
	r := schema.Row{"user": user, "photo": id, "time": time, "thumb": []byte(id)}
	if len(tags) > 0 {
		r["tags"] = tags
	}
	return r
}

func TestUpdateAndViewWithIndexesAndOwnWrites(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	d := Open(c.Site("A"), albums(t), nil)
	res, err := d.Update(cx, Root("User", 7), func(tx *Tx) error {
		if err := tx.Put("User", schema.Row{"id": 7, "name": "ann"}); err != nil {
			return err
		}
		u, found, err := tx.Get("User", 7)
		if err != nil || !found || u["name"] != "ann" {
			return fmt.Errorf("own write not read back: %v %v %v", u, found, err)
		}
		for i, tags := range [][]string{{"cat"}, {"dog", "cat"}, nil} {
			if err := tx.Put("Photo", photo(7, fmt.Sprint("p", i), int64(10-i), tags...)); err != nil {
				return err
			}
		}
		hits, _, err := tx.ScanIndex("PhotosByTag", ScanOptions{Prefix: schema.Key{"cat"}})
		if err != nil || len(hits) != 2 {
			return fmt.Errorf("own index entries: %v %v", hits, err)
		}
		return tx.Delete("Photo", 7, "p2")
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Position == 0 || res.Attempts != 1 {
		t.Fatalf("result %+v", res)
	}
	for _, s := range []core.SiteID{"A", "B", "C"} {
		d := Open(c.Site(s), albums(t), nil)
		_, err := d.View(cx, Root("User", 7), core.Current, func(tx *Tx) error {
			rows, cursor, err := tx.Scan("Photo", ScanOptions{})
			if err != nil || cursor != nil || len(rows) != 2 || rows[0]["photo"] != "p0" || rows[1]["photo"] != "p1" {
				return fmt.Errorf("photos %v %x %v", rows, cursor, err)
			}
			hits, _, err := tx.ScanIndex("PhotosByTime", ScanOptions{})
			if err != nil || len(hits) != 2 || hits[0].Key[1] != "p1" || !reflect.DeepEqual(hits[0].Stored, schema.Row{"thumb": []byte("p1")}) {
				return fmt.Errorf("by time %+v %v", hits, err)
			}
			return tx.CheckIndexes()
		})
		if err != nil {
			t.Fatalf("at %s: %v", s, err)
		}
	}
	for _, mode := range []core.ReadMode{core.Snapshot, core.Inconsistent} {
		if _, err := d.View(cx, Root("User", 7), mode, func(tx *Tx) error {
			_, _, err := tx.Get("User", 7)
			return err
		}); err != nil {
			t.Fatalf("%v view: %v", mode, err)
		}
	}
}

// committed reads the group's position and rows at site A.
func committed(t *testing.T, d *DB, r Ref) (core.Position, int) {
	t.Helper()
	var n int
	res, err := d.View(ctx(t), r, core.Current, func(tx *Tx) error {
		rows, _, err := tx.Scan("Photo", ScanOptions{})
		n = len(rows)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Position, n
}

func TestBadTransactionsCommitNothing(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	d := Open(c.Site("A"), albums(t), nil)
	me := Root("User", 1)
	if _, err := d.Update(cx, me, func(tx *Tx) error { return tx.Put("Photo", photo(1, "keep", 1)) }); err != nil {
		t.Fatal(err)
	}
	pos, n := committed(t, d, me)
	for _, tc := range []struct {
		name string
		fn   func(tx *Tx) error
		want error
	}{
		{"write outside the group", func(tx *Tx) error {
			tx.Put("Photo", photo(1, "a", 1))
			tx.Put("Photo", photo(2, "b", 1)) // NB: error ignored: the transaction is poisoned anyway
			return nil
		}, ErrWrongGroup},
		{"read outside the group", func(tx *Tx) error { _, _, err := tx.Get("User", 2); return err }, ErrWrongGroup},
		{"type mismatch", func(tx *Tx) error { return tx.Put("Photo", schema.Row{"user": 1, "photo": 5}) }, schema.ErrTypeMismatch},
		{"unknown column", func(tx *Tx) error { return tx.Put("User", schema.Row{"id": 1, "name": "x", "age": 3}) }, schema.ErrUnknownColumn},
		{"missing required", func(tx *Tx) error { return tx.Put("User", schema.Row{"id": 1}) }, schema.ErrMissingColumn},
		{"unknown table", func(tx *Tx) error { return tx.Delete("Album", 1) }, schema.ErrUnknownTable},
		{"wrong key arity", func(tx *Tx) error { return tx.Delete("Photo", 1) }, schema.ErrBadKey},
		{"too many mutations", func(tx *Tx) error {
			for i := 0; i < 400; i++ { // NB: a row and two index entries each
				if err := tx.Put("Photo", photo(1, fmt.Sprint(i), int64(i), "t")); err != nil {
					return err
				}
			}
			return nil
		}, core.ErrTooManyMutations},
		{"key too large", func(tx *Tx) error { return tx.Put("Photo", photo(1, string(make([]byte, 2000)), 1)) }, core.ErrKeyTooLarge},
		{"bad cursor", func(tx *Tx) error {
			tx.Put("Photo", photo(1, "c", 1))
			_, _, err := tx.Scan("Photo", ScanOptions{Cursor: []byte("zzz")})
			return err
		}, ErrBadCursor},
		{"unknown index", func(tx *Tx) error { _, _, err := tx.ScanIndex("Nope", ScanOptions{}); return err }, schema.ErrUnknownIndex},
	} {
		_, err := d.Update(cx, me, tc.fn)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		if p, m := committed(t, d, me); p != pos || m != n {
			t.Fatalf("%s: group moved from position %d (%d photos) to %d (%d photos)", tc.name, pos, n, p, m)
		}
	}
	if _, err := d.Update(cx, Root("User", 1), func(tx *Tx) error { return tx.Put("Photo", photo(1, "x", 1, "a", "b")) }); err != nil {
		t.Fatal(err)
	}
	// The site's own limit refuses what a misconfigured DB lets through,
	// and keeps serving.
	loose := Open(c.Site("A"), albums(t), &Options{MaxMutations: 1 << 20})
	_, err := loose.Update(cx, me, func(tx *Tx) error {
		for i := 0; i < 400; i++ {
			tx.Put("Photo", photo(1, fmt.Sprint(i), int64(i), "t"))
		}
		return nil
	})
	if !errors.Is(err, core.ErrTooManyMutations) {
		t.Fatalf("site limit: %v", err)
	}
	if err := d.CheckIndexes(cx, me, core.Current); err != nil {
		t.Fatal(err)
	}
	var leaked *Tx
	if _, err := d.View(cx, me, core.Current, func(tx *Tx) error { leaked = tx; return tx.Put("User", schema.Row{"id": 1, "name": "x"}) }); !errors.Is(err, ErrReadOnly) {
		t.Errorf("write in a view: %v", err)
	}
	if _, _, err := leaked.Get("User", 1); !errors.Is(err, ErrTxDone) {
		t.Errorf("use after the end: %v", err)
	}
	if _, err := d.Update(cx, Root("Photo", 1), func(tx *Tx) error { return nil }); !errors.Is(err, schema.ErrUnknownTable) {
		t.Errorf("a child table as root: %v", err)
	}
	if _, err := d.View(cx, me, core.ReadMode(9), func(tx *Tx) error { return nil }); !errors.Is(err, core.ErrMalformed) {
		t.Errorf("bad mode: %v", err)
	}
}

func TestCheckIndexesCatchesACorruptIndex(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	s := albums(t)
	d := Open(c.Site("A"), s, nil)
	me := Root("User", 3)
	if _, err := d.Update(cx, me, func(tx *Tx) error {
		tx.Put("Photo", photo(3, "a", 1, "x"))
		return tx.Put("Photo", photo(3, "b", 2, "y"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckIndexes(cx, me, core.Current); err != nil {
		t.Fatal(err)
	}
	g, _ := d.Group(me)
	row, _ := s.CheckRow("Photo", photo(3, "ghost", 5, "z"))
	entries, _ := s.IndexEntries("Photo", row)
	raw := c.Client("B")
	// An entry without its row: written behind the library's back.
	if _, err := raw.Put(cx, core.GroupID(g.Name), entries[0].Key, entries[0].Value); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckIndexes(cx, me, core.Current); !errors.Is(err, ErrIndexMismatch) {
		t.Fatalf("extra entry: %v", err)
	}
	if _, err := raw.Transaction(cx, core.GroupID(g.Name), func(tx *client.Tx) error {
		tx.Delete(entries[0].Key)
		row, _ := s.CheckRow("Photo", photo(3, "a", 1, "x"))
		es, _ := s.IndexEntries("Photo", row)
		tx.Delete(es[0].Key) // a row whose entry is missing
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckIndexes(cx, me, core.Current); !errors.Is(err, ErrIndexMismatch) {
		t.Fatalf("missing entry: %v", err)
	}
}

func TestConcurrentUpdatesRerunAndLoseNothing(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	me := Root("User", 9)
	const perWriter = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	reruns := 0
	for i, s := range []core.SiteID{"A", "B", "C"} {
		d := Open(c.Site(s), albums(t), &Options{Seed: uint64(i), MaxAttempts: 200})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perWriter; j++ {
				res, err := d.Update(cx, me, func(tx *Tx) error {
					u, _, err := tx.Get("User", 9)
					if err != nil {
						return err
					}
					n := int64(0)
					if u != nil {
						n = u["photos"].(int64)
					}
					if err := tx.Put("Photo", photo(9, fmt.Sprint(s, j), n, "t")); err != nil {
						return err
					}
					return tx.Put("User", schema.Row{"id": 9, "name": "nine", "photos": n + 1})
				})
				mu.Lock()
				reruns += res.Attempts - 1
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d := Open(c.Site("C"), albums(t), nil)
	if _, err := d.View(cx, me, core.Current, func(tx *Tx) error {
		u, _, err := tx.Get("User", 9)
		if err != nil || u["photos"] != int64(3*perWriter) {
			return fmt.Errorf("counter %v (%v), want %d: a lost update", u, err, 3*perWriter)
		}
		hits, _, err := tx.ScanIndex("PhotosByTime", ScanOptions{})
		if err != nil || len(hits) != 3*perWriter {
			return fmt.Errorf("%d photos by time (%v)", len(hits), err)
		}
		for i, h := range hits {
			if h.Values[0] != int64(i) {
				return fmt.Errorf("photo %d has time %v: two transactions read the same counter", i, h.Values[0])
			}
		}
		return tx.CheckIndexes()
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d reruns over %d transactions", reruns, 3*perWriter)
}

func TestTooManyConflictsIsBounded(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	d := Open(c.Site("A"), albums(t), &Options{MaxAttempts: 3})
	other := Open(c.Site("B"), albums(t), nil)
	me := Root("User", 4)
	runs := 0
	_, err := d.Update(cx, me, func(tx *Tx) error {
		runs++
		// Another writer takes the position this run read at, every time.
		if _, err := other.Update(cx, me, func(tx *Tx) error {
			return tx.Put("User", schema.Row{"id": 4, "name": fmt.Sprint(runs)})
		}); err != nil {
			return err
		}
		return tx.Put("Photo", photo(4, "p", 1))
	})
	if !errors.Is(err, client.ErrTooManyAttempts) || !errors.Is(err, core.ErrConflict) || runs != 3 {
		t.Fatalf("after %d runs: %v, want ErrTooManyAttempts after 3", runs, err)
	}
}

// A transaction of a group nobody has written reads it at position 0: it
// must see the group empty, whatever another writer commits while it runs.
// The site reads a snapshot at position 0 as its newest applied one, which
// gave such a read-only transaction each key as of a different moment
// (found by the list-append workload on real nodes once it used fresh
// groups: G-single cycles).
func TestTransactionOfAFreshGroupReadsItEmpty(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	a := Open(c.Site("A"), albums(t), nil)
	b := Open(c.Site("A"), albums(t), nil)
	for i, mode := range []string{"update", "current view", "snapshot view"} {
		id := int64(41 + i)
		me := Root("User", id)
		fn := func(tx *Tx) error {
			if tx.Position() != 0 {
				t.Fatalf("%s: the transaction read at position %d, want a fresh group's 0", mode, tx.Position())
			}
			// Another writer commits in the group while this transaction runs.
			if _, err := b.Update(cx, me, func(w *Tx) error {
				return w.Put("User", schema.Row{"id": id, "name": mode})
			}); err != nil {
				return err
			}
			u, found, err := tx.Get("User", id)
			if err != nil {
				return err
			}
			if found {
				t.Errorf("%s at position 0 read %v, written after the position it reads at", mode, u)
			}
			rows, _, err := tx.Scan("User", ScanOptions{})
			if err != nil {
				return err
			}
			if len(rows) != 0 {
				t.Errorf("%s at position 0 scanned %v", mode, rows)
			}
			return nil
		}
		var err error
		switch mode {
		case "update":
			_, err = a.Update(cx, me, fn)
		case "current view":
			_, err = a.View(cx, me, core.Current, fn)
		default:
			_, err = a.View(cx, me, core.Snapshot, fn)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
