package schema

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func albums(t testing.TB) *Schema {
	t.Helper()
	s, err := Define(
		[]Table{
			{Name: "User", Columns: []Column{{Name: "id", Kind: Int64}, {Name: "name", Kind: String, Required: true},
				{Name: "admin", Kind: Bool}}, Key: []string{"id"}},
			{Name: "Photo", Root: "User", Columns: []Column{{Name: "user", Kind: Int64}, {Name: "photo", Kind: String},
				{Name: "time", Kind: Int64}, {Name: "tags", Kind: String, Repeated: true}, {Name: "score", Kind: Float64},
				{Name: "thumb", Kind: Bytes}}, Key: []string{"user", "photo"}},
		},
		[]Index{
			{Name: "PhotosByTime", Table: "Photo", Columns: []string{"time"}, Storing: []string{"thumb"}},
			{Name: "PhotosByTag", Table: "Photo", Columns: []string{"tags"}},
		})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDefineReportsEveryViolation(t *testing.T) {
	_, err := Define(
		[]Table{
			{Name: "bad name", Key: []string{"x"}},
			{Name: "A", Columns: []Column{{Name: "k", Kind: Int64}, {Name: "k", Kind: String}, {Name: "r", Kind: String, Repeated: true},
				{Name: "z", Kind: Kind(99)}}, Key: []string{"r", "missing"}},
			{Name: "NoKey", Columns: []Column{{Name: "k", Kind: Int64}}},
			{Name: "Child", Root: "Nowhere", Columns: []Column{{Name: "k", Kind: Int64}}, Key: []string{"k"}},
			{Name: "Root", Columns: []Column{{Name: "k", Kind: Int64}}, Key: []string{"k"}},
			{Name: "Kid", Root: "Root", Columns: []Column{{Name: "k", Kind: String}, {Name: "j", Kind: Int64}}, Key: []string{"k", "j"}},
			{Name: "Short", Root: "Root", Columns: []Column{{Name: "k", Kind: Int64}}, Key: []string{"k"}},
			{Name: "Root", Columns: []Column{{Name: "k", Kind: Int64}}, Key: []string{"k"}},
		},
		[]Index{
			{Name: "I1", Table: "Nope", Columns: []string{"k"}},
			{Name: "I2", Table: "Root", Columns: []string{"k", "k", "q"}, Storing: []string{"w"}},
			{Name: "I3", Table: "Root"},
		})
	if !errors.Is(err, ErrInvalidSchema) {
		t.Fatalf("got %v, want ErrInvalidSchema", err)
	}
	for _, want := range []string{`table name "bad name"`, "column k declared twice", "invalid kind 99",
		"key column r is repeated", "key column missing is not a column", "table NoKey: no primary key",
		"root Nowhere is not a table", "do not match root Root", "want more than its root", "table Root declared twice",
		`table "Nope" is not a table`, "column k named twice", "q is not a column", "stored w is not", "index I3: no columns"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestCheckRowRejectsTypeMismatchesAndMissingColumns(t *testing.T) {
	s := albums(t)
	for _, tc := range []struct {
		table string
		row   Row
		want  error
	}{
		{"User", Row{"id": "7", "name": "a"}, ErrTypeMismatch},
		{"User", Row{"id": int64(7)}, ErrMissingColumn},
		{"User", Row{"name": "a"}, ErrMissingColumn},
		{"User", Row{"id": 7, "name": "a", "age": 3}, ErrUnknownColumn},
		{"Photo", Row{"user": 1, "photo": "p", "tags": "one"}, ErrTypeMismatch},
		{"Photo", Row{"user": 1, "photo": "p", "tags": []int64{1}}, ErrTypeMismatch},
		{"Photo", Row{"user": 1, "photo": "p", "score": float32(1)}, ErrTypeMismatch},
		{"Nope", Row{}, ErrUnknownTable},
	} {
		if _, err := s.CheckRow(tc.table, tc.row); !errors.Is(err, tc.want) {
			t.Errorf("CheckRow(%s, %v) = %v, want %v", tc.table, tc.row, err, tc.want)
		}
	}
	r, err := s.CheckRow("Photo", Row{"user": 3, "photo": "p", "tags": []any{"x", "y"}, "thumb": nil})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, Row{"user": int64(3), "photo": "p", "tags": []string{"x", "y"}}) {
		t.Fatalf("normalized to %#v", r)
	}
	if _, err := s.GroupOf("Photo", Key{1}); !errors.Is(err, ErrUnknownTable) {
		t.Errorf("GroupOf a child table: %v", err)
	}
	if _, err := s.GroupOf("User", Key{1, 2}); !errors.Is(err, ErrBadKey) {
		t.Errorf("GroupOf with two values: %v", err)
	}
	if _, err := s.GroupOf("User", Key{strings.Repeat("x", 300)}); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("GroupOf with a string key: %v", err)
	}
}

func TestRowEncodingRoundTrips(t *testing.T) {
	s := albums(t)
	rapid.Check(t, func(t *rapid.T) {
		row := Row{"user": rapid.Int64().Draw(t, "user"), "photo": rapid.String().Draw(t, "photo")}
		if rapid.Bool().Draw(t, "hasTags") {
			row["tags"] = rapid.SliceOfN(rapid.String(), 1, 4).Draw(t, "tags")
		}
		if rapid.Bool().Draw(t, "hasScore") {
			row["score"] = rapid.Float64().Draw(t, "score")
		}
		if rapid.Bool().Draw(t, "hasThumb") {
			row["thumb"] = rapid.SliceOf(rapid.Byte()).Draw(t, "thumb")
		}
		n, err := s.CheckRow("Photo", row)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.DecodeRow("Photo", EncodeRow(n))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, n) {
			t.Fatalf("round trip %#v -> %#v", n, got)
		}
	})
}

func TestDecodeRowRejectsGarbage(t *testing.T) {
	s := albums(t)
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOf(rapid.Byte()).Draw(t, "b")
		if _, err := s.DecodeRow("Photo", b); err != nil && !errors.Is(err, ErrBadRow) {
			t.Fatalf("DecodeRow(%x) = %v, want nil or ErrBadRow", b, err)
		}
	})
	good := EncodeRow(Row{"id": int64(1), "name": "a"})
	if _, err := s.DecodeRow("User", good[:len(good)-1]); !errors.Is(err, ErrBadRow) {
		t.Errorf("truncated row: %v", err)
	}
	if _, err := s.DecodeRow("User", EncodeRow(Row{"id": "1", "name": "a"})); !errors.Is(err, ErrBadRow) {
		t.Errorf("row of the wrong kind: %v", err)
	}
}

func TestAGroupsRowsAndIndexEntriesAreContiguous(t *testing.T) {
	s := albums(t)
	rapid.Check(t, func(t *rapid.T) {
		u := rapid.Int64().Draw(t, "u")
		g, err := s.GroupOf("User", Key{u})
		if err != nil {
			t.Fatal(err)
		}
		start, end := GroupRange(g)
		other := rapid.Int64().Filter(func(x int64) bool { return x != u }).Draw(t, "other")
		for _, who := range []int64{u, other} {
			row, _ := s.CheckRow("Photo", Row{"user": who, "photo": rapid.String().Draw(t, "p"), "time": rapid.Int64().Draw(t, "time"),
				"tags": rapid.SliceOfN(rapid.String(), 1, 3).Draw(t, "tags")})
			key, _ := s.KeyOf("Photo", row)
			rg, rk, err := s.RowKey("Photo", key)
			if err != nil {
				t.Fatal(err)
			}
			_, uk, _ := s.RowKey("User", Key{who})
			entries, err := s.IndexEntries("Photo", row)
			if err != nil {
				t.Fatal(err)
			}
			keys := [][]byte{rk, uk}
			for _, e := range entries {
				keys = append(keys, e.Key)
				hit, err := s.DecodeIndexEntry(rg, e.Index, e.Key, e.Value)
				if err != nil || !reflect.DeepEqual(hit.Key, key) {
					t.Fatalf("entry %s decodes to %v (%v), want key %v", e.Index, hit.Key, err, key)
				}
			}
			for _, k := range keys {
				in := bytes.Compare(k, start) >= 0 && (end == nil || bytes.Compare(k, end) < 0)
				if in != (who == u) {
					t.Fatalf("key %x of user %d in group %s's range: %v", k, who, g.Name, in)
				}
			}
		}
	})
}

func TestIndexEntriesOfARepeatedAndACoveringIndex(t *testing.T) {
	s := albums(t)
	row, _ := s.CheckRow("Photo", Row{"user": 1, "photo": "p", "time": 5, "tags": []string{"b", "a", "b"}, "thumb": []byte{9}})
	entries, err := s.IndexEntries("Photo", row)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := s.GroupOf("User", Key{1})
	if len(entries) != 3 {
		t.Fatalf("%d entries, want 3 (two distinct tags, one time)", len(entries))
	}
	var covering IndexHit
	for _, e := range entries {
		if e.Index == "PhotosByTime" {
			covering, _ = s.DecodeIndexEntry(g, e.Index, e.Key, e.Value)
		}
	}
	if !reflect.DeepEqual(covering.Stored, Row{"thumb": []byte{9}}) || covering.Values[0] != int64(5) {
		t.Fatalf("covering entry %+v", covering)
	}
	noTags, _ := s.CheckRow("Photo", Row{"user": 1, "photo": "q"})
	if entries, _ := s.IndexEntries("Photo", noTags); len(entries) != 0 {
		t.Fatalf("a row without indexed columns has entries %v", entries)
	}
}
