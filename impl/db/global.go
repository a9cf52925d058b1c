package db

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
)

// Global indexes (§3.2) span entity groups, so no transaction of one group
// can maintain them. A GlobalIndexer brings one up to date from the
// committed-entry feed of the groups it is told about: readers may see an
// index that lags recent writes (Lag says by how much) but never one that
// is inconsistent with the data as of the positions it has reached
// (CheckGlobal).
//
// Layout: each global index lives in its own entity group, GlobalGroup(name),
// holding
//
//	'e' indexedValues primaryKey     the entries (value: the STORING columns)
//	'r' sourceGroup rowKey           the entry keys a source row has now
//	'w' sourceGroup                  the last source position applied
//
// Each Sync step applies a batch of source entries, their reverse-map
// updates and the new watermark in ONE transaction of the index group, so
// every committed source entry is applied exactly once even when indexers
// race or crash (a rerun starts from the committed watermark). One group per
// index bounds its write rate (a few writes per second per group, §4.10):
// an application with a hot global index should shard it.

// GlobalGroup names the entity group of global index name. Schema groups
// never contain '/', so the names cannot collide.
func GlobalGroup(name string) core.GroupID { return core.GroupID("gidx/" + name) }

const (
	markEntry     = 'e'
	markReverse   = 'r'
	markWatermark = 'w'
)

func watermarkKey(src string) []byte { return append([]byte{markWatermark}, src...) }

func reverseKey(src string, rowKey []byte) []byte {
	b := append([]byte{markReverse}, src...)
	return append(append(b, 0), rowKey...)
}

func encodeKeys(keys [][]byte) []byte {
	var b []byte
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return b
}

func decodeKeys(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		n, m := binary.Uvarint(b)
		if m <= 0 || uint64(len(b)-m) < n {
			return nil, fmt.Errorf("%w: bad reverse map", ErrIndexMismatch)
		}
		out = append(out, b[m:m+int(n)])
		b = b[m+int(n):]
	}
	return out, nil
}

// GlobalIndexer updates one global index from the feed of a site.
type GlobalIndexer struct {
	d     *DB
	feed  *Feed
	index string
	table string
}

// NewGlobalIndexer returns the indexer of global index name. d and site
// should be the same site (the indexer reads source groups through the feed
// and writes the index group through d).
func (d *DB) NewGlobalIndexer(site FeedSite, name string) (*GlobalIndexer, error) {
	ix, err := d.schema.Index(name)
	if err != nil {
		return nil, err
	}
	if !ix.Global {
		return nil, fmt.Errorf("%w: %s is a local index", schema.ErrUnknownIndex, name)
	}
	return &GlobalIndexer{d: d, feed: NewFeed(site), index: name, table: ix.Table}, nil
}

// rawTx runs fn in a read-write transaction of a group that is not a schema
// group (a global index's), with Update's reruns.
func (d *DB) rawUpdate(ctx context.Context, group core.GroupID, fn func(tx *Tx) error) (Result, error) {
	return d.update(ctx, schema.Group{Name: string(group)}, fn)
}

// Sync applies every entry committed in the group of root since the index
// last saw it, and returns how many it applied.
func (gi *GlobalIndexer) Sync(ctx context.Context, root Ref) (int, error) {
	g, err := gi.d.Group(root)
	if err != nil {
		return 0, err
	}
	if r, _ := gi.d.schema.RootOf(gi.table); r != g.Root {
		return 0, fmt.Errorf("%w: index %s covers %s, not groups of %s", schema.ErrUnknownTable, gi.index, gi.table, g.Root)
	}
	start, end, err := gi.d.schema.TableRange(g, gi.table, nil)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		var applied int
		var caughtUp bool
		_, err := gi.d.rawUpdate(ctx, GlobalGroup(gi.index), func(tx *Tx) error {
			applied, caughtUp = 0, false
			w, err := tx.watermark(g.Name)
			if err != nil {
				return err
			}
			entries, current, err := gi.feed.Next(ctx, core.GroupID(g.Name), w)
			if err != nil {
				return tx.fail(err)
			}
			for _, e := range entries {
				if applied > 0 && len(tx.order) > tx.d.opts.MaxMutations/2 {
					break // NB: the rest goes in the next transaction
				}
				for _, m := range e.Value.Mutations {
					if !inRange(m.Key, start, end) {
						continue
					}
					if err := gi.applyRow(tx, g.Name, m); err != nil {
						return tx.fail(err)
					}
				}
				w = e.Position
				applied++
			}
			caughtUp = w >= current
			tx.set(watermarkKey(g.Name), binary.AppendUvarint(nil, uint64(w)), false)
			return nil
		})
		total += applied
		if err != nil || caughtUp {
			return total, err
		}
	}
}

func (tx *Tx) watermark(src string) (core.Position, error) {
	b, found, err := tx.getRaw(watermarkKey(src))
	if err != nil || !found {
		return 0, err
	}
	w, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad watermark of %s", ErrIndexMismatch, src)
	}
	return core.Position(w), nil
}

// applyRow replaces a source row's entries by those of its new version.
func (gi *GlobalIndexer) applyRow(tx *Tx, src string, m core.Mutation) error {
	rk := reverseKey(src, m.Key)
	b, _, err := tx.getRaw(rk)
	if err != nil {
		return err
	}
	old, err := decodeKeys(b)
	if err != nil {
		return err
	}
	var fresh []schema.IndexEntry
	if !m.Delete {
		row, err := gi.d.schema.DecodeRow(gi.table, m.Value)
		if err != nil {
			return err
		}
		if fresh, err = gi.d.schema.GlobalEntries(gi.index, row); err != nil {
			return err
		}
	}
	keep := map[string]bool{}
	var keys [][]byte
	for _, e := range fresh {
		k := append([]byte{markEntry}, e.Key...)
		keep[string(k)] = true
		keys = append(keys, k)
		tx.set(k, e.Value, false)
	}
	for _, k := range old {
		if !keep[string(k)] {
			tx.set(k, nil, true)
		}
	}
	if len(keys) == 0 {
		tx.set(rk, nil, true)
	} else {
		tx.set(rk, encodeKeys(keys), false)
	}
	return nil
}

// ScanGlobal reads a global index (it may lag recent writes; see Lag).
func (d *DB) ScanGlobal(ctx context.Context, name string, mode core.ReadMode, opt ScanOptions) ([]schema.IndexHit, []byte, error) {
	start, end, err := d.schema.GlobalRange(name, opt.Prefix)
	if err != nil {
		return nil, nil, err
	}
	start = append([]byte{markEntry}, start...)
	if end == nil {
		end = []byte{markEntry + 1}
	} else {
		end = append([]byte{markEntry}, end...)
	}
	var hits []schema.IndexHit
	var cursor []byte
	_, err = d.rawView(ctx, GlobalGroup(name), mode, func(tx *Tx) error {
		kvs, next, err := tx.scanRaw(start, end, opt)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			h, err := d.schema.DecodeGlobalEntry(name, kv.Key[1:], kv.Value)
			if err != nil {
				return err
			}
			hits = append(hits, h)
		}
		cursor = next
		return nil
	})
	return hits, cursor, err
}

func (d *DB) rawView(ctx context.Context, group core.GroupID, mode core.ReadMode, fn func(tx *Tx) error) (Result, error) {
	return d.view(ctx, schema.Group{Name: string(group)}, mode, fn)
}

// Lag returns, for each root, how many committed positions of its group
// the global index has not applied yet (0: up to date).
func (gi *GlobalIndexer) Lag(ctx context.Context, roots ...Ref) ([]core.Position, error) {
	var out []core.Position
	_, err := gi.d.rawView(ctx, GlobalGroup(gi.index), core.Current, func(tx *Tx) error {
		for _, r := range roots {
			g, err := gi.d.Group(r)
			if err != nil {
				return err
			}
			w, err := tx.watermark(g.Name)
			if err != nil {
				return err
			}
			res, err := gi.d.site.Read(ctx, core.ReadRequest{Group: core.GroupID(g.Name), Mode: core.Current})
			if err != nil {
				return err
			}
			out = append(out, res.Position-min(w, res.Position))
		}
		return nil
	})
	return out, err
}

// CheckGlobal checks that the global index holds exactly the entries of the
// rows of roots' groups as of the positions it has applied (its
// watermarks): stale, never wrong. roots must be every group ever synced
// into the index. It returns an error wrapping ErrIndexMismatch otherwise.
func (gi *GlobalIndexer) CheckGlobal(ctx context.Context, roots ...Ref) error {
	s := gi.d.schema
	_, err := gi.d.rawView(ctx, GlobalGroup(gi.index), core.Current, func(itx *Tx) error {
		want := map[string][]byte{}
		for _, r := range roots {
			g, err := gi.d.Group(r)
			if err != nil {
				return err
			}
			w, err := itx.watermark(g.Name)
			if err != nil {
				return err
			}
			if w == 0 {
				continue
			}
			// NB: the source as of the watermark, which this site has applied
			// (the feed caught it up past it).
			stx := gi.d.newTx(ctx, g, core.Snapshot, w, true, 1)
			rows, err := stx.scanAll(func(o ScanOptions) ([]schema.Row, []byte, error) { return stx.Scan(gi.table, o) })
			if err != nil {
				return err
			}
			for _, row := range rows {
				es, err := s.GlobalEntries(gi.index, row)
				if err != nil {
					return err
				}
				for _, e := range es {
					want[string(append([]byte{markEntry}, e.Key...))] = e.Value
				}
			}
		}
		got := map[string][]byte{}
		kvs, _, err := itx.scanRaw([]byte{markEntry}, []byte{markEntry + 1}, ScanOptions{})
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			got[string(kv.Key)] = kv.Value
		}
		return diff(fmt.Sprintf("global index %s", gi.index), want, got)
	})
	return err
}

// diff reports the differences between the entries an index should hold
// and those it holds.
func diff(what string, want, got map[string][]byte) error {
	var diffs []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("missing entry %x", k))
		} else if !bytes.Equal(g, v) {
			diffs = append(diffs, fmt.Sprintf("entry %x stores %x, want %x", k, g, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("extra entry %x", k))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	sort.Strings(diffs)
	more := ""
	if len(diffs) > 10 {
		more = fmt.Sprintf(" (and %d more)", len(diffs)-10)
		diffs = slices.Clone(diffs[:10])
	}
	return fmt.Errorf("%w: %s: %s%s", ErrIndexMismatch, what, strings.Join(diffs, "; "), more)
}
