package tla

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Value is a TLA+ value. The interface is sealed (unexported method) because
// Compare, set normalisation and function printing must know every concrete
// kind of value to order and print it as TLC does.
type Value interface {
	// String returns the value in TLC's notation, parseable back as a TLA+
	// expression (in a module that EXTENDS TLC, for :> and @@).
	String() string
	// write appends String() to b, so nested values print without
	// intermediate strings.
	write(b *strings.Builder)
}

type intV int
type strV string
type boolV bool
type modelV string
type seqV []Value

// setV holds its elements already deduplicated and in canonical order, so
// printing is a plain walk.
type setV []Value

type recordV []Field

// fnV holds its domain in canonical order with values aligned to keys.
type fnV struct {
	keys, vals []Value
}

// Field is one field of a record, kept as a pair (not a map) because records
// print in the order the caller gives. TLC itself usually prints a record
// with its fields sorted by name (its normalised form), so callers that want
// byte-identical TLC output list fields in that order.
type Field struct {
	Name  string
	Value Value
}

// Int returns the TLA+ integer n.
func Int(n int) Value { return intV(n) }

// Str returns the TLA+ string s.
func Str(s string) Value { return strV(s) }

// Bool returns TRUE or FALSE.
func Bool(b bool) Value { return boolV(b) }

// ModelValue returns a TLC model value, printed bare (r1, not "r1"), because
// configs usually instantiate sets of replicas or clients with model values
// and TLC's traces then show them unquoted. A replay module can only refer to
// such a value if the model module declares it as a constant.
func ModelValue(name string) Value { return modelV(name) }

// Seq returns the sequence <<elems...>>.
func Seq(elems ...Value) Value { return seqV(slices.Clone(elems)) }

// Set returns the finite set of elems. Duplicates (by TLA+ equality) are
// dropped and the rest sorted as TLC normalises sets, so that equal sets
// always print identically whatever order the Go code built them in.
func Set(elems ...Value) Value {
	s := sortUnique(slices.Clone(elems), nil)
	return setV(s)
}

// Record returns [f1 |-> v1, ...], printed in the given field order.
// Duplicate field names are a programming error and panic.
func Record(fields ...Field) Value {
	for i := range fields {
		for j := range i {
			if fields[i].Name == fields[j].Name {
				panic(fmt.Sprintf("tla.Record: duplicate field %q", fields[i].Name))
			}
		}
	}
	return recordV(slices.Clone(fields))
}

// Fn returns the function mapping keys[i] to vals[i]. It prints as TLC
// prints a function value: <<...>> when the domain is 1..n (TLA+ sequences
// are such functions), [k |-> v, ...] when every key is a name-like string
// (TLA+ records are such functions), otherwise (k1 :> v1 @@ k2 :> v2) in
// canonical key order; the empty function prints as <<>>.
// Mismatched lengths or duplicate keys are programming errors and panic.
func Fn(keys []Value, vals []Value) Value {
	if len(keys) != len(vals) {
		panic(fmt.Sprintf("tla.Fn: %d keys but %d values", len(keys), len(vals)))
	}
	k := slices.Clone(keys)
	v := slices.Clone(vals)
	n := len(sortUnique(k, v))
	if n != len(keys) {
		panic("tla.Fn: duplicate key in domain")
	}
	return fnV{keys: k, vals: v}
}

func (v intV) String() string    { return strconv.Itoa(int(v)) }
func (v strV) String() string    { return render(v) }
func (v boolV) String() string   { return render(v) }
func (v modelV) String() string  { return string(v) }
func (v seqV) String() string    { return render(v) }
func (v setV) String() string    { return render(v) }
func (v recordV) String() string { return render(v) }
func (v fnV) String() string     { return render(v) }

func render(v Value) string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v intV) write(b *strings.Builder) {
	var buf [24]byte
	b.Write(strconv.AppendInt(buf[:0], int64(v), 10))
}

// write escapes exactly the characters TLC's StringValue escapes, so the
// output is both TLC-identical and a valid TLA+ string literal.
func (v strV) write(b *strings.Builder) {
	b.WriteByte('"')
	for _, r := range string(v) {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

func (v boolV) write(b *strings.Builder) {
	if v {
		b.WriteString("TRUE")
	} else {
		b.WriteString("FALSE")
	}
}

func (v modelV) write(b *strings.Builder) { b.WriteString(string(v)) }

func (v seqV) write(b *strings.Builder) {
	b.WriteString("<<")
	writeList(b, v)
	b.WriteString(">>")
}

func (v setV) write(b *strings.Builder) {
	b.WriteByte('{')
	writeList(b, v)
	b.WriteByte('}')
}

func writeList(b *strings.Builder, elems []Value) {
	for i, e := range elems {
		if i > 0 {
			b.WriteString(", ")
		}
		e.write(b)
	}
}

func (v recordV) write(b *strings.Builder) {
	b.WriteByte('[')
	for i, f := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
		b.WriteString(" |-> ")
		f.Value.write(b)
	}
	b.WriteByte(']')
}

func (v fnV) write(b *strings.Builder) {
	switch {
	case len(v.keys) == 0:
		b.WriteString("<<>>")
	case v.isRecord():
		// Keys are sorted, so fields come out in TLC's normalised order.
		b.WriteByte('[')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(string(k.(strV)))
			b.WriteString(" |-> ")
			v.vals[i].write(b)
		}
		b.WriteByte(']')
	case v.isTuple():
		seqV(v.vals).write(b)
	default:
		b.WriteByte('(')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteString(" @@ ")
			}
			k.write(b)
			b.WriteString(" :> ")
			v.vals[i].write(b)
		}
		b.WriteByte(')')
	}
}

// isTuple reports whether the domain is 1..n; keys are sorted, ints first.
func (v fnV) isTuple() bool {
	for i, k := range v.keys {
		if n, ok := k.(intV); !ok || int(n) != i+1 {
			return false
		}
	}
	return true
}

// isRecord mirrors TLC's FcnRcdValue.isRcd: every key is a string that
// could be a record field name.
func (v fnV) isRecord() bool {
	for _, k := range v.keys {
		s, ok := k.(strV)
		if !ok || !isName(string(s)) {
			return false
		}
	}
	return true
}

// isName mirrors TLC's FcnRcdValue.isName.
func isName(s string) bool {
	hasLetter := false
	for _, r := range s {
		switch {
		case r == '_':
		case unicode.IsLetter(r):
			hasLetter = true
		case unicode.IsDigit(r):
		default:
			return false
		}
	}
	return hasLetter && (len(s) < 4 || (!strings.HasPrefix(s, "WF_") && !strings.HasPrefix(s, "SF_")))
}

// sortUnique sorts keys into canonical order, permuting vals (if non-nil)
// alongside, and drops duplicates; it returns the deduplicated prefix of
// keys, with vals left aligned with it.
func sortUnique(keys, vals []Value) []Value {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return Compare(keys[a], keys[b]) })
	sk := make([]Value, 0, len(keys))
	var sv []Value
	for _, i := range idx {
		if n := len(sk); n > 0 && Compare(sk[n-1], keys[i]) == 0 {
			continue
		}
		sk = append(sk, keys[i])
		if vals != nil {
			sv = append(sv, vals[i])
		}
	}
	copy(vals, sv)
	return keys[:copy(keys, sk)]
}

// Kinds in the order used between values TLC would refuse to compare.
const (
	kindInt = iota
	kindStr
	kindBool
	kindModel
	kindSet
	kindFn // sequences, records and functions: all functions in TLA+
)

func kindOf(v Value) int {
	switch v.(type) {
	case intV:
		return kindInt
	case strV:
		return kindStr
	case boolV:
		return kindBool
	case modelV:
		return kindModel
	case setV:
		return kindSet
	}
	return kindFn
}

// Compare is the canonical total order on values: it returns 0 exactly when
// x and y are equal as TLA+ values (so <<1>> equals the function 1 :> 1, and
// records ignore field order). Within a kind it follows TLC's own ordering
// (integers numerically, strings lexicographically, FALSE before TRUE, sets
// and functions by size, then domain, then range) so sets print in the
// order TLC prints them; across kinds, where TLC would raise an error, the
// order is integers, strings, booleans, model values, sets, functions.
func Compare(x, y Value) int {
	kx, ky := kindOf(x), kindOf(y)
	if kx != ky {
		return cmp.Compare(kx, ky)
	}
	switch a := x.(type) {
	case intV:
		return cmp.Compare(a, y.(intV))
	case strV:
		return strings.Compare(string(a), string(y.(strV)))
	case boolV:
		b := y.(boolV)
		switch {
		case a == b:
			return 0
		case a == false:
			return -1
		}
		return 1
	case modelV:
		return strings.Compare(string(a), string(y.(modelV)))
	case setV:
		b := y.(setV)
		if c := cmp.Compare(len(a), len(b)); c != 0 {
			return c
		}
		for i := range a {
			if c := Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	}
	fx, fy := asFn(x), asFn(y)
	if c := cmp.Compare(fx.size(), fy.size()); c != 0 {
		return c
	}
	for i := range fx.size() {
		if c := Compare(fx.key(i), fy.key(i)); c != 0 {
			return c
		}
	}
	for i := range fx.size() {
		if c := Compare(fx.val(i), fy.val(i)); c != 0 {
			return c
		}
	}
	return 0
}

// fnView presents sequences, records and functions uniformly as functions
// with their domain in canonical order, which is how TLA+ (and TLC's
// comparison) sees all three.
type fnView interface {
	size() int
	key(i int) Value
	val(i int) Value
}

func asFn(v Value) fnView {
	switch f := v.(type) {
	case seqV:
		return f
	case recordV:
		return sortedRecord(f.sorted())
	case fnV:
		return f
	}
	panic(fmt.Sprintf("tla: unexpected value type %T", v))
}

func (v seqV) size() int       { return len(v) }
func (v seqV) key(i int) Value { return intV(i + 1) }
func (v seqV) val(i int) Value { return v[i] }

func (v fnV) size() int       { return len(v.keys) }
func (v fnV) key(i int) Value { return v.keys[i] }
func (v fnV) val(i int) Value { return v.vals[i] }

type sortedRecord []Field

func (v sortedRecord) size() int       { return len(v) }
func (v sortedRecord) key(i int) Value { return strV(v[i].Name) }
func (v sortedRecord) val(i int) Value { return v[i].Value }

// sorted returns the fields ordered by name, the record's identity as a
// TLA+ value; it allocates only when the fields are not already sorted.
func (v recordV) sorted() []Field {
	less := func(x, y Field) int { return strings.Compare(x.Name, y.Name) }
	if slices.IsSortedFunc(v, less) {
		return v
	}
	s := slices.Clone([]Field(v))
	slices.SortFunc(s, less)
	return s
}
