package db

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
)

func withGlobal(t testing.TB) *schema.Schema {
	t.Helper()
	s, err := schema.Define(
		[]schema.Table{
			{Name: "User", Columns: []schema.Column{{Name: "id", Kind: schema.Int64}}, Key: []string{"id"}},
			{Name: "Photo", Root: "User", Columns: []schema.Column{{Name: "user", Kind: schema.Int64}, {Name: "photo", Kind: schema.String},
				{Name: "time", Kind: schema.Int64}, {Name: "tags", Kind: schema.String, Repeated: true}, {Name: "thumb", Kind: schema.Bytes}},
				Key: []string{"user", "photo"}},
		},
		[]schema.Index{
			{Name: "ByTag", Table: "Photo", Columns: []string{"tags"}},
			{Name: "AllByTag", Table: "Photo", Columns: []string{"tags"}, Storing: []string{"time"}, Global: true},
		})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tagged lists "user/photo" of the global index's hits for tag.
func tagged(t *testing.T, d *DB, tag string) []string {
	t.Helper()
	hits, cursor, err := d.ScanGlobal(ctx(t), "AllByTag", core.Current, ScanOptions{Prefix: schema.Key{tag}})
	if err != nil || cursor != nil {
		t.Fatalf("ScanGlobal: %v %x", err, cursor)
	}
	var out []string
	for _, h := range hits {
		out = append(out, fmt.Sprintf("%d/%s", h.Key[0], h.Key[1]))
		if h.Stored["time"] == nil {
			t.Fatalf("hit %+v lacks its stored time", h)
		}
	}
	return out
}

func TestGlobalIndexIsStaleUntilSyncedThenExact(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	s := withGlobal(t)
	d := Open(c.Site("A"), s, nil)
	gi, err := d.NewGlobalIndexer(DriverFeed(c.Driver("A")), "AllByTag")
	if err != nil {
		t.Fatal(err)
	}
	roots := []Ref{Root("User", 1), Root("User", 2), Root("User", 3)}
	for i, r := range roots {
		u := int64(i + 1)
		if _, err := d.Update(cx, r, func(tx *Tx) error {
			tx.Put("Photo", photo(u, "a", 1, "sun", "sea"))
			return tx.Put("Photo", photo(u, "b", 2, "snow"))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := tagged(t, d, "sun"); len(got) != 0 {
		t.Fatalf("before any sync: %v", got)
	}
	if lag, err := gi.Lag(cx, roots...); err != nil || slices.Max(lag) == 0 {
		t.Fatalf("lag %v (%v), want > 0 before sync", lag, err)
	}
	if err := gi.CheckGlobal(cx, roots...); err != nil {
		t.Fatalf("an unsynced index is stale, not wrong: %v", err)
	}
	sync := func() {
		t.Helper()
		for _, r := range roots {
			if _, err := gi.Sync(cx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	sync()
	if got, want := tagged(t, d, "sun"), []string{"1/a", "2/a", "3/a"}; !slices.Equal(got, want) {
		t.Fatalf("sun: %v, want %v", got, want)
	}
	if n, err := gi.Sync(cx, roots[0]); err != nil || n != 0 {
		t.Fatalf("a second sync applied %d entries (%v), want 0", n, err)
	}
	if _, err := d.Update(cx, roots[1], func(tx *Tx) error {
		tx.Delete("Photo", 2, "a")
		return tx.Put("Photo", photo(2, "b", 3, "sun"))
	}); err != nil {
		t.Fatal(err)
	}
	if got := tagged(t, d, "sun"); !slices.Equal(got, []string{"1/a", "2/a", "3/a"}) {
		t.Fatalf("sun before the second sync: %v (stale is expected)", got)
	}
	sync()
	if got, want := tagged(t, d, "sun"), []string{"1/a", "2/b", "3/a"}; !slices.Equal(got, want) {
		t.Fatalf("sun: %v, want %v", got, want)
	}
	if got, want := tagged(t, d, "snow"), []string{"1/b", "3/b"}; !slices.Equal(got, want) {
		t.Fatalf("snow: %v, want %v", got, want)
	}
	if lag, err := gi.Lag(cx, roots...); err != nil || slices.Max(lag) != 0 {
		t.Fatalf("lag %v (%v) after sync", lag, err)
	}
	if err := gi.CheckGlobal(cx, roots...); err != nil {
		t.Fatal(err)
	}
	// An entry written behind the indexer's back is caught.
	row, _ := s.CheckRow("Photo", photo(9, "ghost", 1, "sun"))
	es, _ := s.GlobalEntries("AllByTag", row)
	if _, err := c.Client("B").Put(cx, GlobalGroup("AllByTag"), append([]byte{markEntry}, es[0].Key...), es[0].Value); err != nil {
		t.Fatal(err)
	}
	if err := gi.CheckGlobal(cx, roots...); !errors.Is(err, ErrIndexMismatch) {
		t.Fatalf("extra global entry: %v", err)
	}
	if _, err := d.NewGlobalIndexer(DriverFeed(c.Driver("A")), "ByTag"); !errors.Is(err, schema.ErrUnknownIndex) {
		t.Fatalf("a local index as global: %v", err)
	}
	if _, err := d.View(cx, roots[0], core.Current, func(tx *Tx) error {
		_, _, err := tx.ScanIndex("AllByTag", ScanOptions{})
		return err
	}); !errors.Is(err, schema.ErrUnknownIndex) {
		t.Fatalf("a global index scanned as local: %v", err)
	}
}

func TestRacingIndexersAndWritersConverge(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	s := withGlobal(t)
	roots := []Ref{Root("User", 1), Root("User", 2)}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i, site := range []core.SiteID{"A", "B", "C"} {
		d := Open(c.Site(site), s, &Options{Seed: uint64(i), MaxAttempts: 500})
		gi, err := d.NewGlobalIndexer(DriverFeed(c.Driver(site)), "AllByTag")
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 8; j++ {
				r := roots[j%2]
				u := r.Key[0].(int)
				tags := [][]string{{"x"}, {"y"}, {"x", "y"}, nil}[(i+j)%4]
				if _, err := d.Update(cx, r, func(tx *Tx) error {
					if j%3 == 2 {
						return tx.Delete("Photo", u, fmt.Sprint("p", j%4))
					}
					return tx.Put("Photo", photo(int64(u), fmt.Sprint("p", j%4), int64(j), tags...))
				}); err != nil {
					errs <- err
				}
				if _, err := gi.Sync(cx, roots[(j+i)%2]); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	d := Open(c.Site("C"), s, nil)
	gi, _ := d.NewGlobalIndexer(DriverFeed(c.Driver("C")), "AllByTag")
	for _, r := range roots {
		if _, err := gi.Sync(cx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := gi.CheckGlobal(cx, roots...); err != nil {
		t.Fatal(err)
	}
	if lag, err := gi.Lag(cx, roots...); err != nil || slices.Max(lag) != 0 {
		t.Fatalf("lag %v (%v)", lag, err)
	}
	// Converged: the index equals the local index of every group.
	var fromGlobal, fromLocal []string
	for _, tag := range []string{"x", "y"} {
		fromGlobal = append(fromGlobal, tagged(t, d, tag)...)
		for _, r := range roots {
			d.View(cx, r, core.Current, func(tx *Tx) error {
				hits, _, err := tx.ScanIndex("ByTag", ScanOptions{Prefix: schema.Key{tag}})
				for _, h := range hits {
					fromLocal = append(fromLocal, fmt.Sprintf("%d/%s", h.Key[0], h.Key[1]))
				}
				return err
			})
		}
	}
	if !slices.Equal(fromGlobal, fromLocal) {
		t.Fatalf("global %v, local %v", fromGlobal, fromLocal)
	}
}
