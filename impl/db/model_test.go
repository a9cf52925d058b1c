package db

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
	"pgregory.net/rapid"
)

// model is one group's photos: photo id to normalized row.
type model map[string]schema.Row

func (m model) clone() model {
	out := model{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sorted returns the photo ids in key order, from (and including) after.
func (m model) ids() []string {
	var ids []string
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// byTag is the model of the PhotosByTag index: "tag/photo" strings in
// index order.
func (m model) byTag(prefix string) []string {
	var out []string
	for id, r := range m {
		tags, _ := r["tags"].([]string)
		seen := map[string]bool{}
		for _, tag := range tags {
			if !seen[tag] && strings.HasPrefix(tag, prefix) && (prefix == "" || tag == prefix) {
				out = append(out, tag+"/"+id)
			}
			seen[tag] = true
		}
	}
	slices.Sort(out)
	return out
}

var errAbort = errors.New("abort on purpose")

var groupCounter atomic.Int64

// TestRandomTransactionsMatchAModel runs random transactions (puts,
// deletes, gets, paged scans and index scans, some aborted) on a fresh group
// and checks every read inside them, and the group after each, against an
// in-memory model, plus the local indexes against the data.
func TestRandomTransactionsMatchAModel(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	s := albums(t)
	rapid.Check(t, func(rt *rapid.T) {
		user := groupCounter.Add(1)
		site := rapid.SampledFrom([]core.SiteID{"A", "B", "C"}).Draw(rt, "site")
		d := Open(c.Site(site), s, &Options{ScanPage: rapid.IntRange(1, 4).Draw(rt, "page")})
		me := Root("User", user)
		committed := model{}
		ids := rapid.SampledFrom([]string{"a", "b", "c", "d", "e", "f"})
		tags := rapid.SliceOfN(rapid.SampledFrom([]string{"x", "y", "z"}), 0, 3)
		for i, n := 0, rapid.IntRange(1, 6).Draw(rt, "txs"); i < n; i++ {
			abort := rapid.IntRange(0, 4).Draw(rt, "abort") == 0
			ops := rapid.IntRange(1, 8).Draw(rt, "ops")
			type op struct {
				kind  int
				id    string
				time  int64
				tags  []string
				limit int
			}
			var plan []op
			for j := 0; j < ops; j++ {
				plan = append(plan, op{kind: rapid.IntRange(0, 4).Draw(rt, "kind"), id: ids.Draw(rt, "id"),
					time: rapid.Int64Range(0, 3).Draw(rt, "time"), tags: tags.Draw(rt, "tags"), limit: rapid.IntRange(0, 4).Draw(rt, "limit")})
			}
			var after model
			_, err := d.Update(cx, me, func(tx *Tx) error {
				m := committed.clone() // NB: a rerun starts again from the committed state
				for _, o := range plan {
					switch o.kind {
					case 0: // put
						row, _ := s.CheckRow("Photo", photo(user, o.id, o.time, o.tags...))
						if err := tx.Put("Photo", row); err != nil {
							return err
						}
						m[o.id] = row
					case 1: // delete
						if err := tx.Delete("Photo", user, o.id); err != nil {
							return err
						}
						delete(m, o.id)
					case 2: // get
						got, found, err := tx.Get("Photo", user, o.id)
						if err != nil {
							return err
						}
						if want, ok := m[o.id]; found != ok || (ok && !reflect.DeepEqual(got, want)) {
							return fmt.Errorf("get %s: %v (%v), model %v", o.id, got, found, want)
						}
					case 3: // paged scan
						var got []string
						var cursor []byte
						for pages := 0; ; pages++ {
							rows, next, err := tx.Scan("Photo", ScanOptions{Limit: o.limit, Cursor: cursor})
							if err != nil {
								return err
							}
							if o.limit > 0 && len(rows) > o.limit {
								return fmt.Errorf("scan returned %d rows over limit %d", len(rows), o.limit)
							}
							for _, r := range rows {
								if want := m[r["photo"].(string)]; !reflect.DeepEqual(r, want) {
									return fmt.Errorf("scan row %v, model %v", r, want)
								}
								got = append(got, r["photo"].(string))
							}
							if next == nil {
								break
							}
							if pages > 20 {
								return fmt.Errorf("scan does not end")
							}
							cursor = next
						}
						if want := m.ids(); !slices.Equal(got, want) {
							return fmt.Errorf("scan %v, model %v", got, want)
						}
					case 4: // index scan by tag
						prefix := schema.Key{}
						p := ""
						if len(o.tags) > 0 {
							p = o.tags[0]
							prefix = schema.Key{p}
						}
						hits, _, err := tx.ScanIndex("PhotosByTag", ScanOptions{Prefix: prefix})
						if err != nil {
							return err
						}
						var got []string
						for _, h := range hits {
							got = append(got, h.Values[0].(string)+"/"+h.Key[1].(string))
						}
						if want := m.byTag(p); !slices.Equal(got, want) {
							return fmt.Errorf("tag %q: index %v, model %v", p, got, want)
						}
					}
				}
				if err := tx.CheckIndexes(); err != nil {
					return err
				}
				after = m
				if abort {
					return errAbort
				}
				return nil
			})
			if abort {
				if !errors.Is(err, errAbort) {
					rt.Fatalf("aborted transaction: %v", err)
				}
			} else if err != nil {
				rt.Fatal(err)
			} else {
				committed = after
			}
			var got []schema.Row
			if _, err := Open(c.Site(rapid.SampledFrom([]core.SiteID{"A", "B", "C"}).Draw(rt, "reader")), s, nil).View(cx, me, core.Current, func(tx *Tx) error {
				var err error
				got, _, err = tx.Scan("Photo", ScanOptions{})
				if err != nil {
					return err
				}
				return tx.CheckIndexes()
			}); err != nil {
				rt.Fatal(err)
			}
			if len(got) != len(committed) {
				rt.Fatalf("group has %d photos, model %d", len(got), len(committed))
			}
			for _, r := range got {
				if want := committed[r["photo"].(string)]; !reflect.DeepEqual(r, want) {
					rt.Fatalf("stored %v, model %v", r, want)
				}
			}
		}
	})
}
