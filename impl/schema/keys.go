package schema

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Kind is the type of a column.
type Kind uint8

const (
	Int64 Kind = iota + 1
	String
	Bytes
	Bool
	Float64
)

func (k Kind) String() string {
	switch k {
	case Int64:
		return "int64"
	case String:
		return "string"
	case Bytes:
		return "bytes"
	case Bool:
		return "bool"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k >= Int64 && k <= Float64 }

// Key is a primary key (or a prefix of one): one value per key column, in
// order.
type Key []any

// normalize checks v against kind and returns it in its canonical Go type
// (int becomes int64; -0.0 becomes 0.0 so equal keys encode equally).
func normalize(kind Kind, v any) (any, error) {
	switch kind {
	case Int64:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		}
	case String:
		if x, ok := v.(string); ok {
			return x, nil
		}
	case Bytes:
		if x, ok := v.([]byte); ok {
			if x == nil {
				x = []byte{}
			}
			return x, nil
		}
	case Bool:
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case Float64:
		if x, ok := v.(float64); ok {
			if x == 0 {
				x = 0 // NB: folds -0 into +0
			}
			return x, nil
		}
	}
	return nil, fmt.Errorf("%w: %T is not %s", ErrTypeMismatch, v, kind)
}

// appendKey appends the order-preserving encoding of v (already normalized
// to kind).
//
//	int64    8 bytes big-endian with the sign bit flipped
//	float64  IEEE bits: sign bit flipped for positives, all bits for negatives
//	bool     one byte, 0 or 1
//	string, bytes  the bytes with 0x00 escaped as 0x00 0xff, then 0x00 0x01:
//	         the terminator sorts below any escaped byte, so a prefix sorts
//	         first and a component never runs into the next one
func appendKey(b []byte, kind Kind, v any) ([]byte, error) {
	switch kind {
	case Int64:
		return binary.BigEndian.AppendUint64(b, uint64(v.(int64))^(1<<63)), nil
	case Float64:
		f := v.(float64)
		if math.IsNaN(f) {
			return nil, fmt.Errorf("%w: NaN has no place in a key order", ErrBadKey)
		}
		u := math.Float64bits(f)
		if u&(1<<63) != 0 {
			u = ^u
		} else {
			u |= 1 << 63
		}
		return binary.BigEndian.AppendUint64(b, u), nil
	case Bool:
		if v.(bool) {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case String:
		return appendBytes(b, []byte(v.(string))), nil
	case Bytes:
		return appendBytes(b, v.([]byte)), nil
	}
	return nil, fmt.Errorf("%w: kind %s", ErrTypeMismatch, kind)
}

func appendBytes(b, s []byte) []byte {
	for _, c := range s {
		if c == 0 {
			b = append(b, 0, 0xff)
		} else {
			b = append(b, c)
		}
	}
	return append(b, 0, 1)
}

// decodeKey decodes one component of kind from b and returns the rest.
func decodeKey(b []byte, kind Kind) (any, []byte, error) {
	switch kind {
	case Int64, Float64:
		if len(b) < 8 {
			return nil, nil, fmt.Errorf("%w: truncated %s", ErrBadKey, kind)
		}
		u := binary.BigEndian.Uint64(b)
		if kind == Int64 {
			return int64(u ^ (1 << 63)), b[8:], nil
		}
		if u&(1<<63) != 0 {
			u &^= 1 << 63
		} else {
			u = ^u
		}
		return math.Float64frombits(u), b[8:], nil
	case Bool:
		if len(b) < 1 || b[0] > 1 {
			return nil, nil, fmt.Errorf("%w: bad bool", ErrBadKey)
		}
		return b[0] == 1, b[1:], nil
	case String, Bytes:
		var out []byte
		for i := 0; i < len(b); i++ {
			if b[i] != 0 {
				out = append(out, b[i])
				continue
			}
			if i+1 >= len(b) {
				break
			}
			switch b[i+1] {
			case 0xff:
				out = append(out, 0)
				i++
			case 1:
				if kind == String {
					return string(out), b[i+2:], nil
				}
				if out == nil {
					out = []byte{}
				}
				return out, b[i+2:], nil
			default:
				return nil, nil, fmt.Errorf("%w: bad escape", ErrBadKey)
			}
		}
		return nil, nil, fmt.Errorf("%w: unterminated %s", ErrBadKey, kind)
	}
	return nil, nil, fmt.Errorf("%w: kind %s", ErrBadKey, kind)
}

// EncodeKey encodes values of the given kinds in order. Byte-wise order of
// encodings is the order of the values, component by component (a shorter
// tuple that is a prefix of a longer one sorts first).
func EncodeKey(kinds []Kind, values Key) ([]byte, error) {
	if len(values) > len(kinds) {
		return nil, fmt.Errorf("%w: %d values for %d columns", ErrBadKey, len(values), len(kinds))
	}
	var b []byte
	for i, v := range values {
		n, err := normalize(kinds[i], v)
		if err != nil {
			return nil, fmt.Errorf("key component %d: %w", i, err)
		}
		if b, err = appendKey(b, kinds[i], n); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// DecodeKey is the inverse of EncodeKey for a complete tuple of kinds.
func DecodeKey(kinds []Kind, b []byte) (Key, error) {
	out := make(Key, 0, len(kinds))
	for _, k := range kinds {
		v, rest, err := decodeKey(b, k)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = rest
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadKey, len(b))
	}
	return out, nil
}

// compareValues orders two normalized values of one kind (the order the
// encoding preserves); tests use it as the model.
func compareValues(kind Kind, a, b any) int {
	switch kind {
	case Int64:
		x, y := a.(int64), b.(int64)
		return cmpOrdered(x, y)
	case Float64:
		return cmpOrdered(a.(float64), b.(float64))
	case Bool:
		x, y := a.(bool), b.(bool)
		if x == y {
			return 0
		}
		if !x {
			return -1
		}
		return 1
	case String:
		return cmpOrdered(a.(string), b.(string))
	case Bytes:
		return bytes.Compare(a.([]byte), b.([]byte))
	}
	panic("schema: compareValues of an invalid kind")
}

func cmpOrdered[T int64 | float64 | string](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// PrefixEnd returns the smallest key greater than every key that starts
// with prefix (nil: no such key, scan to the end).
func PrefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
