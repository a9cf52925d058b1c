// Package schema is Megastore's data model (§3.2) as pure code: tables
// declared in Go with typed columns and primary keys, root tables that define
// entity groups and child tables that name their root, local indexes
// (repeated-field and STORING), and the order-preserving encoding that lays a
// group's rows out contiguously. It does no I/O; package db runs
// transactions over it.
//
// # Declaring a schema
//
//	s, err := schema.Define(
//		[]schema.Table{
//			{Name: "User", Columns: []schema.Column{
//				{Name: "id", Kind: schema.Int64}, {Name: "name", Kind: schema.String, Required: true}},
//				Key: []string{"id"}},
//			{Name: "Photo", Root: "User", Columns: []schema.Column{
//				{Name: "user", Kind: schema.Int64}, {Name: "photo", Kind: schema.Int64},
//				{Name: "tags", Kind: schema.String, Repeated: true}},
//				Key: []string{"user", "photo"}},
//		},
//		[]schema.Index{{Name: "PhotosByTag", Table: "Photo", Columns: []string{"tags"}}},
//	)
//
// Define checks everything at once (names, kinds, keys, roots, indexes) and
// reports every violation wrapped in ErrInvalidSchema. A child table's first
// key columns are its group key: they have the kinds of its root's key and
// name the root row, as the paper's "ENTITY GROUP KEY(user) REFERENCES User".
//
// # Values
//
// A Row maps column names to Go values: int64 (int is accepted), string,
// []byte, bool, float64, and for a repeated column a slice of those
// ([]int64, []string, [][]byte, []bool, []float64). A missing column is
// absent (nil); required and key columns must be present. Any other type,
// or a value for an unknown column, is an error wrapping ErrTypeMismatch or
// ErrUnknownColumn.
//
// # Layout (the paper's Bigtable layout)
//
// A group is named GroupOf(root key) = "<RootTable>:<hex of the encoded root
// key>" (the wire allows only printable group names; hex keeps the order).
// Inside the group every key starts with the encoded root key, so the group's
// rows are contiguous in key order:
//
//	rootKey 0x01 tableName restOfPrimaryKey          a row of a table
//	rootKey 0x02 indexName indexedValue restOfKey    a local index entry
//
// Components use an order-preserving encoding (EncodeKey): comparing two
// encodings byte-wise orders them as their values, component by component,
// so a table or an index prefix is a key range (Prefix, PrefixEnd).
package schema
