package db

import (
	"context"
	"fmt"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
)

// CheckIndexes reads every table and local index of group root at one
// position (mode as in View) and returns an error wrapping
// ErrIndexMismatch, listing the differences, unless every index holds
// exactly the entries its rows give.
func (d *DB) CheckIndexes(ctx context.Context, root Ref, mode core.ReadMode) error {
	_, err := d.View(ctx, root, mode, func(tx *Tx) error { return tx.CheckIndexes() })
	return err
}

// CheckIndexes is CheckIndexes within a transaction: it compares the
// indexes with the rows as this transaction sees them (its own writes
// included).
func (tx *Tx) CheckIndexes() error {
	s := tx.d.schema
	want := map[string][]byte{}
	var indexes []string
	for _, table := range s.Tables() {
		if r, _ := s.RootOf(table); r != tx.g.Root {
			continue
		}
		indexes = append(indexes, s.Indexes(table)...)
		if len(s.Indexes(table)) == 0 {
			continue
		}
		rows, err := tx.scanAll(func(o ScanOptions) ([]schema.Row, []byte, error) { return tx.Scan(table, o) })
		if err != nil {
			return err
		}
		for _, row := range rows {
			entries, err := s.IndexEntries(table, row)
			if err != nil {
				return err
			}
			for _, e := range entries {
				want[string(e.Key)] = e.Value
			}
		}
	}
	got := map[string][]byte{}
	for _, ix := range indexes {
		start, end, err := s.IndexRange(tx.g, ix, nil)
		if err != nil {
			return err
		}
		var cursor []byte
		for {
			kvs, next, err := tx.scanRaw(start, end, ScanOptions{Limit: tx.d.opts.ScanPage, Cursor: cursor})
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				got[string(kv.Key)] = kv.Value
			}
			if next == nil {
				break
			}
			cursor = next
		}
	}
	return diff(fmt.Sprintf("group %s at position %d", tx.g.Name, tx.pos), want, got)
}

// scanAll pages through a scan to its end.
func (tx *Tx) scanAll(scan func(ScanOptions) ([]schema.Row, []byte, error)) ([]schema.Row, error) {
	var out []schema.Row
	var cursor []byte
	for {
		rows, next, err := scan(ScanOptions{Limit: tx.d.opts.ScanPage, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		if next == nil {
			return out, nil
		}
		cursor = next
	}
}
