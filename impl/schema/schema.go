package schema

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Sentinel errors; returned errors wrap them with detail (errors.Is).
var (
	// ErrInvalidSchema: Define found a violation in the declarations.
	ErrInvalidSchema = errors.New("schema: invalid schema")
	// ErrUnknownTable, ErrUnknownColumn, ErrUnknownIndex: a name the schema
	// does not declare.
	ErrUnknownTable  = errors.New("schema: unknown table")
	ErrUnknownColumn = errors.New("schema: unknown column")
	ErrUnknownIndex  = errors.New("schema: unknown index")
	// ErrTypeMismatch: a value's Go type is not its column's kind.
	ErrTypeMismatch = errors.New("schema: type mismatch")
	// ErrMissingColumn: a required or key column has no value.
	ErrMissingColumn = errors.New("schema: missing required column")
	// ErrBadKey: a key with the wrong number of values, a NaN, or bytes
	// that do not decode.
	ErrBadKey = errors.New("schema: bad key")
	// ErrBadRow: stored bytes that do not decode as a row of the table.
	ErrBadRow = errors.New("schema: bad stored row")
)

// Column is one property of a table (§3.2: required, optional or repeated).
type Column struct {
	Name     string
	Kind     Kind
	Required bool
	// Repeated columns hold a list of Kind; they cannot be key columns.
	Repeated bool
}

// Table declares a root table (Root == "") or a child table of Root.
type Table struct {
	Name    string
	Columns []Column
	// Key names the primary key columns in order. A child's first key
	// columns are its group key: as many as its root's key, of the same
	// kinds.
	Key  []string
	Root string
}

// Index declares a local index of Table (§3.2): one entry per row (per
// element of a repeated column) keyed by the Columns' values then the
// row's primary key, maintained in the same transaction as the row.
// Storing columns are copied into the entry (a covering index).
type Index struct {
	Name    string
	Table   string
	Columns []string
	Storing []string
	// Global indexes span groups: they are not written with the rows but
	// updated asynchronously from the committed-entry feed (package db's
	// GlobalIndexer) and may lag recent writes (§3.2).
	Global bool
}

// Schema is a validated set of tables and indexes. It is immutable.
type Schema struct {
	tables  map[string]*table
	indexes map[string]*index
	names   []string // table names, sorted
}

type table struct {
	Table
	cols     map[string]Column
	keyKinds []Kind
	root     *table   // itself for a root table
	indexes  []*index // local
	globals  []*index
}

type index struct {
	Index
	table *table
	kinds []Kind // of Columns
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Define validates tables and indexes and returns the schema, or an error
// wrapping ErrInvalidSchema that lists every violation found.
func Define(tables []Table, indexes []Index) (*Schema, error) {
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	s := &Schema{tables: map[string]*table{}, indexes: map[string]*index{}}
	for _, t := range tables {
		if !validName(t.Name) {
			fail("table name %q: want 1..64 letters, digits or _", t.Name)
			continue
		}
		if s.tables[t.Name] != nil {
			fail("table %s declared twice", t.Name)
			continue
		}
		tt := &table{Table: t, cols: map[string]Column{}}
		for _, c := range t.Columns {
			switch {
			case !validName(c.Name):
				fail("table %s: column name %q: want 1..64 letters, digits or _", t.Name, c.Name)
			case tt.cols[c.Name].Name != "":
				fail("table %s: column %s declared twice", t.Name, c.Name)
			case !c.Kind.valid():
				fail("table %s: column %s: invalid kind %d", t.Name, c.Name, c.Kind)
			default:
				tt.cols[c.Name] = c
			}
		}
		if len(t.Key) == 0 {
			fail("table %s: no primary key", t.Name)
		}
		seen := map[string]bool{}
		for _, k := range t.Key {
			c, ok := tt.cols[k]
			switch {
			case !ok:
				fail("table %s: key column %s is not a column", t.Name, k)
			case c.Repeated:
				fail("table %s: key column %s is repeated", t.Name, k)
			case seen[k]:
				fail("table %s: key column %s named twice", t.Name, k)
			default:
				c.Required = true // NB: a key column always has a value
				tt.cols[k] = c
				tt.keyKinds = append(tt.keyKinds, c.Kind)
			}
			seen[k] = true
		}
		s.tables[t.Name] = tt
		s.names = append(s.names, t.Name)
	}
	sort.Strings(s.names)
	for _, name := range s.names {
		tt := s.tables[name]
		if tt.Root == "" {
			tt.root = tt
			continue
		}
		r := s.tables[tt.Root]
		switch {
		case r == nil:
			fail("table %s: root %s is not a table", name, tt.Root)
		case r.Root != "":
			fail("table %s: root %s is itself a child table", name, tt.Root)
		case len(tt.keyKinds) <= len(r.keyKinds):
			fail("table %s: key has %d columns, want more than its root %s's %d", name, len(tt.keyKinds), r.Name, len(r.keyKinds))
		case !slices.Equal(tt.keyKinds[:len(r.keyKinds)], r.keyKinds):
			fail("table %s: first key columns %v do not match root %s's key %v", name, tt.keyKinds[:len(r.keyKinds)], r.Name, r.keyKinds)
		default:
			tt.root = r
		}
	}
	for _, ix := range indexes {
		if !validName(ix.Name) {
			fail("index name %q: want 1..64 letters, digits or _", ix.Name)
			continue
		}
		if s.indexes[ix.Name] != nil {
			fail("index %s declared twice", ix.Name)
			continue
		}
		tt := s.tables[ix.Table]
		if tt == nil {
			fail("index %s: table %q is not a table", ix.Name, ix.Table)
			continue
		}
		ii := &index{Index: ix, table: tt}
		if len(ix.Columns) == 0 {
			fail("index %s: no columns", ix.Name)
		}
		repeated, seen := 0, map[string]bool{}
		for _, c := range ix.Columns {
			col, ok := tt.cols[c]
			switch {
			case !ok:
				fail("index %s: %s is not a column of %s", ix.Name, c, tt.Name)
			case seen[c]:
				fail("index %s: column %s named twice", ix.Name, c)
			default:
				ii.kinds = append(ii.kinds, col.Kind)
				if col.Repeated {
					repeated++
				}
			}
			seen[c] = true
		}
		if repeated > 1 {
			fail("index %s: %d repeated columns, at most one", ix.Name, repeated)
		}
		for _, c := range ix.Storing {
			if _, ok := tt.cols[c]; !ok {
				fail("index %s: stored %s is not a column of %s", ix.Name, c, tt.Name)
			}
		}
		s.indexes[ix.Name] = ii
		if ix.Global {
			tt.globals = append(tt.globals, ii)
		} else {
			tt.indexes = append(tt.indexes, ii)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidSchema, strings.Join(bad, "; "))
	}
	return s, nil
}

func (s *Schema) table(name string) (*table, error) {
	t := s.tables[name]
	if t == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTable, name)
	}
	return t, nil
}

func (s *Schema) index(name string) (*index, error) {
	ix := s.indexes[name]
	if ix == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownIndex, name)
	}
	return ix, nil
}

// Tables returns the table names, sorted.
func (s *Schema) Tables() []string { return slices.Clone(s.names) }

// Table returns the declaration of a table.
func (s *Schema) Table(name string) (Table, error) {
	t, err := s.table(name)
	if err != nil {
		return Table{}, err
	}
	return t.Table, nil
}

// IsRoot reports whether name is a root table.
func (s *Schema) IsRoot(name string) bool {
	t := s.tables[name]
	return t != nil && t.Root == ""
}

// RootOf returns the root table of a table (itself for a root).
func (s *Schema) RootOf(name string) (string, error) {
	t, err := s.table(name)
	if err != nil {
		return "", err
	}
	return t.root.Name, nil
}

// Index returns the declaration of an index.
func (s *Schema) Index(name string) (Index, error) {
	ix, err := s.index(name)
	if err != nil {
		return Index{}, err
	}
	return ix.Index, nil
}

// Indexes returns the names of table's local indexes, in declaration order.
func (s *Schema) Indexes(tableName string) []string {
	t := s.tables[tableName]
	if t == nil {
		return nil
	}
	var out []string
	for _, ix := range t.indexes {
		out = append(out, ix.Name)
	}
	return out
}

// Group is one entity group: its root table and root key, the group name
// the store knows it by, and the encoded root key every key in it starts
// with.
type Group struct {
	Root   string
	Key    Key
	Name   string
	Prefix []byte
}

// MaxGroupNameBytes is the wire's bound on a group name.
const MaxGroupNameBytes = 256

// GroupOf names the entity group of root key key in root table root.
func (s *Schema) GroupOf(root string, key Key) (Group, error) {
	t, err := s.table(root)
	if err != nil {
		return Group{}, err
	}
	if t.Root != "" {
		return Group{}, fmt.Errorf("%w: %s is a child table of %s, not a root", ErrUnknownTable, root, t.Root)
	}
	if len(key) != len(t.keyKinds) {
		return Group{}, fmt.Errorf("%w: root %s has %d key columns, got %d values", ErrBadKey, root, len(t.keyKinds), len(key))
	}
	b, err := EncodeKey(t.keyKinds, key)
	if err != nil {
		return Group{}, fmt.Errorf("root key of %s: %w", root, err)
	}
	norm, _ := DecodeKey(t.keyKinds, b)
	name := root + ":" + hex.EncodeToString(b)
	if len(name) > MaxGroupNameBytes {
		return Group{}, fmt.Errorf("%w: group name of %d bytes exceeds %d (root key too long)", ErrBadKey, len(name), MaxGroupNameBytes)
	}
	return Group{Root: root, Key: norm, Name: name, Prefix: b}, nil
}

// Layout markers after the root key.
const (
	markTable byte = 1
	markIndex byte = 2
)

// RowKey returns the group of a row with primary key key and the row's
// storage key.
func (s *Schema) RowKey(tableName string, key Key) (Group, []byte, error) {
	t, err := s.table(tableName)
	if err != nil {
		return Group{}, nil, err
	}
	if len(key) != len(t.keyKinds) {
		return Group{}, nil, fmt.Errorf("%w: %s has %d key columns, got %d values", ErrBadKey, tableName, len(t.keyKinds), len(key))
	}
	nroot := len(t.root.keyKinds)
	g, err := s.GroupOf(t.root.Name, key[:nroot])
	if err != nil {
		return Group{}, nil, err
	}
	rest, err := EncodeKey(t.keyKinds[nroot:], key[nroot:])
	if err != nil {
		return Group{}, nil, fmt.Errorf("key of %s: %w", tableName, err)
	}
	b := append(appendBytes(append(slices.Clone(g.Prefix), markTable), []byte(tableName)), rest...)
	return g, b, nil
}

// TableRange returns the key range [start, end) of table's rows in group g
// whose primary key, after the group key, starts with prefix.
func (s *Schema) TableRange(g Group, tableName string, prefix Key) (start, end []byte, err error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, nil, err
	}
	if t.root.Name != g.Root {
		return nil, nil, fmt.Errorf("%w: table %s is not in groups of %s", ErrUnknownTable, tableName, g.Root)
	}
	nroot := len(t.root.keyKinds)
	p, err := EncodeKey(t.keyKinds[nroot:], prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("key prefix of %s: %w", tableName, err)
	}
	start = append(appendBytes(append(slices.Clone(g.Prefix), markTable), []byte(tableName)), p...)
	return start, PrefixEnd(start), nil
}

// IndexRange returns the key range [start, end) of index entries in group g
// whose indexed values start with prefix.
func (s *Schema) IndexRange(g Group, indexName string, prefix Key) (start, end []byte, err error) {
	ix, err := s.index(indexName)
	if err != nil {
		return nil, nil, err
	}
	if ix.table.root.Name != g.Root || ix.Global {
		return nil, nil, fmt.Errorf("%w: %s is not a local index of groups of %s", ErrUnknownIndex, indexName, g.Root)
	}
	p, err := EncodeKey(ix.kinds, prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("prefix of index %s: %w", indexName, err)
	}
	start = append(appendBytes(append(slices.Clone(g.Prefix), markIndex), []byte(indexName)), p...)
	return start, PrefixEnd(start), nil
}

// GroupRange returns the key range of everything in group g.
func GroupRange(g Group) (start, end []byte) { return slices.Clone(g.Prefix), PrefixEnd(g.Prefix) }
