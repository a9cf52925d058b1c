package schema

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Row is one entity: column name to value (see the package doc for the Go
// types of each kind). Absent columns have no entry.
type Row map[string]any

// CheckRow validates row against table and returns a normalized copy
// (int as int64, nil slices of repeated columns dropped).
func (s *Schema) CheckRow(tableName string, row Row) (Row, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	return t.check(row)
}

func (t *table) check(row Row) (Row, error) {
	out := make(Row, len(row))
	for name, v := range row {
		c, ok := t.cols[name]
		if !ok {
			return nil, fmt.Errorf("%w: %s has no column %q", ErrUnknownColumn, t.Name, name)
		}
		if v == nil {
			continue
		}
		n, err := normalizeColumn(c, v)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.Name, name, err)
		}
		if n != nil {
			out[name] = n
		}
	}
	for _, c := range t.Columns {
		if t.cols[c.Name].Required && out[c.Name] == nil {
			return nil, fmt.Errorf("%w: %s.%s", ErrMissingColumn, t.Name, c.Name)
		}
	}
	return out, nil
}

func normalizeColumn(c Column, v any) (any, error) {
	if !c.Repeated {
		return normalize(c.Kind, v)
	}
	var elems []any
	switch x := v.(type) {
	case []int64:
		elems = anys(x)
	case []int:
		elems = anys(x)
	case []string:
		elems = anys(x)
	case [][]byte:
		elems = anys(x)
	case []bool:
		elems = anys(x)
	case []float64:
		elems = anys(x)
	case []any:
		elems = x
	default:
		return nil, fmt.Errorf("%w: %T is not a list of %s", ErrTypeMismatch, v, c.Kind)
	}
	if len(elems) == 0 {
		return nil, nil
	}
	for i, e := range elems {
		n, err := normalize(c.Kind, e)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		elems[i] = n
	}
	return typedList(c.Kind, elems), nil
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// typedList turns normalized elements into the canonical slice type.
func typedList(k Kind, elems []any) any {
	switch k {
	case Int64:
		return conv[int64](elems)
	case String:
		return conv[string](elems)
	case Bytes:
		return conv[[]byte](elems)
	case Bool:
		return conv[bool](elems)
	case Float64:
		return conv[float64](elems)
	}
	panic("schema: typedList of an invalid kind")
}

func conv[T any](elems []any) []T {
	out := make([]T, len(elems))
	for i, e := range elems {
		out[i] = e.(T)
	}
	return out
}

func listElems(v any) []any {
	switch x := v.(type) {
	case []int64:
		return anys(x)
	case []string:
		return anys(x)
	case [][]byte:
		return anys(x)
	case []bool:
		return anys(x)
	case []float64:
		return anys(x)
	}
	return nil
}

// KeyOf returns the primary key of a normalized row of table.
func (s *Schema) KeyOf(tableName string, row Row) (Key, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	key := make(Key, len(t.Key))
	for i, k := range t.Key {
		if row[k] == nil {
			return nil, fmt.Errorf("%w: key column %s.%s", ErrMissingColumn, tableName, k)
		}
		key[i] = row[k]
	}
	return key, nil
}

// EncodeRow encodes a normalized row: the count of present columns, then
// for each (in name order, so equal rows encode equally) its name, a kind
// byte (0x80 set for a list) and the value.
func EncodeRow(row Row) []byte {
	names := make([]string, 0, len(row))
	for n := range row {
		names = append(names, n)
	}
	sort.Strings(names)
	b := binary.AppendUvarint(nil, uint64(len(names)))
	for _, n := range names {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
		v := row[n]
		if elems := listElems(v); elems != nil {
			k := kindOf(elems[0])
			b = append(b, byte(k)|0x80)
			b = binary.AppendUvarint(b, uint64(len(elems)))
			for _, e := range elems {
				b = appendValue(b, k, e)
			}
			continue
		}
		k := kindOf(v)
		b = append(b, byte(k))
		b = appendValue(b, k, v)
	}
	return b
}

func kindOf(v any) Kind {
	switch v.(type) {
	case int64:
		return Int64
	case string:
		return String
	case []byte:
		return Bytes
	case bool:
		return Bool
	case float64:
		return Float64
	}
	panic(fmt.Sprintf("schema: EncodeRow of an unnormalized %T (REQUIRES: CheckRow)", v))
}

func appendValue(b []byte, k Kind, v any) []byte {
	switch k {
	case Int64:
		return binary.AppendVarint(b, v.(int64))
	case Float64:
		return binary.BigEndian.AppendUint64(b, math.Float64bits(v.(float64)))
	case Bool:
		if v.(bool) {
			return append(b, 1)
		}
		return append(b, 0)
	case String:
		b = binary.AppendUvarint(b, uint64(len(v.(string))))
		return append(b, v.(string)...)
	case Bytes:
		b = binary.AppendUvarint(b, uint64(len(v.([]byte))))
		return append(b, v.([]byte)...)
	}
	panic("schema: appendValue of an invalid kind")
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrBadRow, what)
	}
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad length")
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.fail("truncated")
		r.b = nil
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) value(k Kind) any {
	switch k {
	case Int64:
		v, n := binary.Varint(r.b)
		if n <= 0 {
			r.fail("bad int64")
			r.b = nil
			return int64(0)
		}
		r.b = r.b[n:]
		return v
	case Float64:
		b := r.bytes(8)
		if b == nil {
			return 0.0
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b))
	case Bool:
		b := r.bytes(1)
		return b != nil && b[0] == 1
	case String:
		return string(r.bytes(r.uvarint()))
	case Bytes:
		return bytes.Clone(r.bytes(r.uvarint()))
	}
	r.fail(fmt.Sprintf("kind %d", k))
	return nil
}

// DecodeRow decodes a stored row and checks it against table.
func (s *Schema) DecodeRow(tableName string, b []byte) (Row, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	row, err := decodeRow(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tableName, err)
	}
	if _, err := t.check(row); err != nil {
		return nil, fmt.Errorf("%w: stored row does not fit %s: %v", ErrBadRow, tableName, err)
	}
	return row, nil
}

func decodeRow(b []byte) (Row, error) {
	r := &reader{b: b}
	n := r.uvarint()
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d columns in %d bytes", ErrBadRow, n, len(b))
	}
	row := make(Row, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		name := string(r.bytes(r.uvarint()))
		kb := r.bytes(1)
		if kb == nil {
			break
		}
		k := Kind(kb[0] &^ 0x80)
		if !k.valid() {
			r.fail(fmt.Sprintf("column %s: kind %d", name, kb[0]))
			break
		}
		if kb[0]&0x80 == 0 {
			row[name] = r.value(k)
			continue
		}
		count := r.uvarint()
		if count == 0 || count > uint64(len(r.b)) {
			r.fail(fmt.Sprintf("column %s: %d elements", name, count))
			break
		}
		elems := make([]any, count)
		for j := range elems {
			elems[j] = r.value(k)
		}
		row[name] = typedList(k, elems)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return row, nil
}

// IndexEntry is one entry of a local index: its storage key and value.
type IndexEntry struct {
	Index      string
	Key, Value []byte
}

// IndexEntries returns the entries of every local index of table for a
// normalized row (a repeated column gives one entry per distinct element; a
// row missing an indexed column has no entry in that index), sorted by key.
func (s *Schema) IndexEntries(tableName string, row Row) ([]IndexEntry, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	if len(t.indexes) == 0 {
		return nil, nil
	}
	key, err := s.KeyOf(tableName, row)
	if err != nil {
		return nil, err
	}
	nroot := len(t.root.keyKinds)
	g, err := s.GroupOf(t.root.Name, key[:nroot])
	if err != nil {
		return nil, err
	}
	rest, err := EncodeKey(t.keyKinds[nroot:], key[nroot:])
	if err != nil {
		return nil, err
	}
	var out []IndexEntry
	for _, ix := range t.indexes {
		es, err := ix.entries(row, appendBytes(append(slices.Clone(g.Prefix), markIndex), []byte(ix.Name)), rest)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out, nil
}

// GlobalEntries returns the entries of global index indexName for a
// normalized row of its table: keys are the indexed values then the row's
// whole primary key (root key included), with no group prefix.
func (s *Schema) GlobalEntries(indexName string, row Row) ([]IndexEntry, error) {
	ix, err := s.index(indexName)
	if err != nil {
		return nil, err
	}
	if !ix.Global {
		return nil, fmt.Errorf("%w: %s is a local index", ErrUnknownIndex, indexName)
	}
	key, err := s.KeyOf(ix.table.Name, row)
	if err != nil {
		return nil, err
	}
	full, err := EncodeKey(ix.table.keyKinds, key)
	if err != nil {
		return nil, err
	}
	out, err := ix.entries(row, nil, full)
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out, err
}

// entries builds ix's entries for row: prefix, the indexed values, suffix.
func (ix *index) entries(row Row, prefix, suffix []byte) ([]IndexEntry, error) {
	stored := Row{}
	for _, c := range ix.Storing {
		if v, ok := row[c]; ok {
			stored[c] = v
		}
	}
	value := EncodeRow(stored)
	prefixes := [][]byte{prefix}
	for i, c := range ix.Columns {
		v, ok := row[c]
		if !ok {
			return nil, nil
		}
		vals := []any{v}
		if ix.table.cols[c].Repeated {
			vals = listElems(v)
		}
		var next [][]byte
		for _, p := range prefixes {
			for _, e := range vals {
				b, err := appendKey(slices.Clone(p), ix.kinds[i], e)
				if err != nil {
					return nil, fmt.Errorf("index %s: %w", ix.Name, err)
				}
				next = append(next, b)
			}
		}
		prefixes = next
	}
	var out []IndexEntry
	seen := map[string]bool{}
	for _, p := range prefixes {
		k := append(p, suffix...)
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		out = append(out, IndexEntry{Index: ix.Name, Key: k, Value: value})
	}
	return out, nil
}

// GlobalRange returns the key range, in a global index's own key space, of
// entries whose indexed values start with prefix.
func (s *Schema) GlobalRange(indexName string, prefix Key) (start, end []byte, err error) {
	ix, err := s.index(indexName)
	if err != nil {
		return nil, nil, err
	}
	if !ix.Global {
		return nil, nil, fmt.Errorf("%w: %s is a local index", ErrUnknownIndex, indexName)
	}
	p, err := EncodeKey(ix.kinds, prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("prefix of index %s: %w", indexName, err)
	}
	return p, PrefixEnd(p), nil
}

// DecodeGlobalEntry decodes an entry of a global index (see GlobalEntries).
func (s *Schema) DecodeGlobalEntry(indexName string, key, value []byte) (IndexHit, error) {
	ix, err := s.index(indexName)
	if err != nil {
		return IndexHit{}, err
	}
	if !ix.Global {
		return IndexHit{}, fmt.Errorf("%w: %s is a local index", ErrUnknownIndex, indexName)
	}
	var hit IndexHit
	b := key
	for _, k := range ix.kinds {
		v, rest, err := decodeKey(b, k)
		if err != nil {
			return IndexHit{}, err
		}
		hit.Values = append(hit.Values, v)
		b = rest
	}
	if hit.Key, err = DecodeKey(ix.table.keyKinds, b); err != nil {
		return IndexHit{}, err
	}
	if hit.Stored, err = decodeRow(value); err != nil {
		return IndexHit{}, fmt.Errorf("index %s: %w", indexName, err)
	}
	return hit, nil
}

// TableOf returns the table an index indexes.
func (s *Schema) TableOf(indexName string) (string, error) {
	ix, err := s.index(indexName)
	if err != nil {
		return "", err
	}
	return ix.table.Name, nil
}

// IndexHit is a decoded index entry: the indexed values, the primary key of
// the row it points to and the stored (covered) columns.
type IndexHit struct {
	Values Key
	Key    Key
	Stored Row
}

// DecodeIndexEntry decodes an entry of index in group g.
func (s *Schema) DecodeIndexEntry(g Group, indexName string, key, value []byte) (IndexHit, error) {
	ix, err := s.index(indexName)
	if err != nil {
		return IndexHit{}, err
	}
	start, _, err := s.IndexRange(g, indexName, nil)
	if err != nil {
		return IndexHit{}, err
	}
	if !bytes.HasPrefix(key, start) {
		return IndexHit{}, fmt.Errorf("%w: not an entry of index %s in group %s", ErrBadKey, indexName, g.Name)
	}
	b := key[len(start):]
	var hit IndexHit
	for _, k := range ix.kinds {
		v, rest, err := decodeKey(b, k)
		if err != nil {
			return IndexHit{}, err
		}
		hit.Values = append(hit.Values, v)
		b = rest
	}
	t := ix.table
	nroot := len(t.root.keyKinds)
	rest, err := DecodeKey(t.keyKinds[nroot:], b)
	if err != nil {
		return IndexHit{}, err
	}
	hit.Key = append(slices.Clone(g.Key), rest...)
	if hit.Stored, err = decodeRow(value); err != nil {
		return IndexHit{}, fmt.Errorf("index %s: %w", indexName, err)
	}
	return hit, nil
}
