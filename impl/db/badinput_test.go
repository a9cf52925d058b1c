package db

import (
	"errors"
	"math"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
	"pgregory.net/rapid"
)

// anyValue draws values of every type a caller might pass, right or wrong.
var anyValue = rapid.OneOf(
	rapid.Just[any](nil),
	rapid.Map(rapid.Int64(), func(x int64) any { return x }),
	rapid.Map(rapid.Int(), func(x int) any { return x }),
	rapid.Map(rapid.Int32(), func(x int32) any { return x }),
	rapid.Map(rapid.String(), func(x string) any { return x }),
	rapid.Map(rapid.SliceOf(rapid.Byte()), func(x []byte) any { return x }),
	rapid.Map(rapid.Bool(), func(x bool) any { return x }),
	rapid.Map(rapid.Float64(), func(x float64) any { return x }),
	rapid.Just[any](math.NaN()),
	rapid.Map(rapid.SliceOf(rapid.String()), func(x []string) any { return x }),
	rapid.Map(rapid.SliceOf(rapid.Int64()), func(x []int64) any { return x }),
	rapid.Just[any](struct{}{}),
	rapid.Just[any](map[string]int{}),
)

// TestRandomBadInputGetsASentinelAndCommitsNothing: whatever a transaction
// is handed, a Put, Get or Delete succeeds or fails with a sentinel error,
// never panics, and a failed transaction commits nothing.
func TestRandomBadInputGetsASentinelAndCommitsNothing(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	s := albums(t)
	d := Open(c.Site("A"), s, nil)
	sentinels := []error{schema.ErrTypeMismatch, schema.ErrUnknownColumn, schema.ErrUnknownTable, schema.ErrMissingColumn,
		schema.ErrBadKey, ErrWrongGroup, ErrTxTooLarge}
	rapid.Check(t, func(rt *rapid.T) {
		me := Root("User", groupCounter.Add(1))
		g, _ := d.Group(me)
		table := rapid.SampledFrom([]string{"User", "Photo", "Nope"}).Draw(rt, "table")
		row := schema.Row{}
		for _, col := range rapid.SliceOfN(rapid.SampledFrom([]string{"id", "name", "user", "photo", "time", "tags", "thumb", "x"}), 0, 5).Draw(rt, "cols") {
			row[col] = anyValue.Draw(rt, col)
		}
		key := rapid.SliceOfN(anyValue, 0, 3).Draw(rt, "key")
		op := rapid.IntRange(0, 2).Draw(rt, "op")
		before, err := d.site.Read(cx, core.ReadRequest{Group: core.GroupID(g.Name), Mode: core.Current})
		if err != nil {
			rt.Fatal(err)
		}
		_, err = d.Update(cx, me, func(tx *Tx) error {
			switch op {
			case 0:
				return tx.Put(table, row)
			case 1:
				_, _, err := tx.Get(table, key...)
				return err
			}
			return tx.Delete(table, key...)
		})
		if err == nil {
			return
		}
		known := false
		for _, s := range sentinels {
			known = known || errors.Is(err, s)
		}
		if !known {
			rt.Fatalf("%v on %s %v / %v: not a sentinel error", err, table, row, key)
		}
		after, err := d.site.Read(cx, core.ReadRequest{Group: core.GroupID(g.Name), Mode: core.Current})
		if err != nil || after.Position != before.Position {
			rt.Fatalf("a refused transaction moved the group from %d to %d (%v)", before.Position, after.Position, err)
		}
	})
}

// TestStoredGarbageDecodesToAnError: the decoders of what db stores
// (intents, outbox entries, reverse maps) refuse garbage without panicking.
func TestStoredGarbageDecodesToAnError(t *testing.T) {
	s := albums(t)
	g, _ := s.GroupOf("User", schema.Key{1})
	rapid.Check(t, func(rt *rapid.T) {
		b := rapid.SliceOf(rapid.Byte()).Draw(rt, "b")
		if _, err := decodeIntent(b); err != nil && !errors.Is(err, core.ErrMalformed) {
			rt.Fatalf("decodeIntent: %v", err)
		}
		if _, err := decodeKeys(b); err != nil && !errors.Is(err, ErrIndexMismatch) {
			rt.Fatalf("decodeKeys: %v", err)
		}
		key := append(append([]byte{}, g.Prefix...), append([]byte{markOutbox}, b...)...)
		if _, err := decodeMessage(g, core.KeyValue{Key: key, Value: b}); err != nil && !errors.Is(err, core.ErrMalformed) {
			rt.Fatalf("decodeMessage: %v", err)
		}
		if _, err := groupByName(string(b)); err != nil && !errors.Is(err, core.ErrMalformed) {
			rt.Fatalf("groupByName: %v", err)
		}
	})
	in := intent{id: "x", mutations: []core.Mutation{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("d"), Delete: true}}}
	got, err := decodeIntent(encodeIntent(in))
	if err != nil || got.id != "x" || len(got.mutations) != 2 || !got.mutations[1].Delete || string(got.mutations[0].Value) != "v" {
		t.Fatalf("intent round trip: %+v %v", got, err)
	}
}

// A DB with a bug switch on, in a build without the switches (a
// production build), refuses every transaction and commits nothing; a
// build with -tags megastore_bugs (make test) honours them.
func TestBugSwitchesRefusedWithoutTheTag(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	bad := Open(c.Site("A"), albums(t), &Options{Bugs: Bugs{TwoPhaseOneSide: true}})
	want := func(what string, err error) {
		t.Helper()
		switch {
		case core.BugsCompiled && err != nil:
			t.Fatalf("%s with the switches compiled in: %v", what, err)
		case !core.BugsCompiled && !errors.Is(err, core.ErrInvalidConfig):
			t.Fatalf("%s in a build without the switches: got %v, want ErrInvalidConfig", what, err)
		}
	}
	_, err := bad.Update(cx, Root("User", int64(1)), func(tx *Tx) error { return nil })
	want("Update", err)
	_, err = bad.TwoPhase(cx, []Ref{Root("User", int64(1)), Root("User", int64(2))}, func([]*Tx) error { return nil })
	want("TwoPhase", err)
	_, err = bad.View(cx, Root("User", int64(1)), core.Current, func(*Tx) error { return nil })
	want("View", err)
}
