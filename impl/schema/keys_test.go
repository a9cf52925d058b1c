package schema

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

func genValue(kind Kind) *rapid.Generator[any] {
	switch kind {
	case Int64:
		return rapid.Custom(func(t *rapid.T) any {
			return rapid.OneOf(rapid.Int64(), rapid.SampledFrom([]int64{math.MinInt64, -1, 0, 1, math.MaxInt64})).Draw(t, "i")
		})
	case String:
		return rapid.Custom(func(t *rapid.T) any {
			return rapid.OneOf(rapid.String(), rapid.StringOf(rapid.RuneFrom([]rune{0, 1, 'a', 0xff}))).Draw(t, "s")
		})
	case Bytes:
		return rapid.Custom(func(t *rapid.T) any {
			return rapid.SliceOf(rapid.SampledFrom([]byte{0, 1, 2, 0xfe, 0xff})).Draw(t, "b")
		})
	case Bool:
		return rapid.Custom(func(t *rapid.T) any { return rapid.Bool().Draw(t, "bool") })
	case Float64:
		return rapid.Custom(func(t *rapid.T) any {
			f := rapid.OneOf(rapid.Float64(), rapid.SampledFrom([]float64{math.Inf(-1), -1, math.Copysign(0, -1), 0, 1e-300, math.Inf(1)})).Draw(t, "f")
			if f == 0 {
				f = 0
			}
			return f
		})
	}
	panic("kind")
}

var allKinds = []Kind{Int64, String, Bytes, Bool, Float64}

func genKinds(t *rapid.T) []Kind {
	return rapid.SliceOfN(rapid.SampledFrom(allKinds), 1, 4).Draw(t, "kinds")
}

func genTuple(t *rapid.T, kinds []Kind, label string) Key {
	n := rapid.IntRange(0, len(kinds)).Draw(t, label+"len")
	k := make(Key, n)
	for i := range k {
		n, _ := normalize(kinds[i], genValue(kinds[i]).Draw(t, label))
		k[i] = n
	}
	return k
}

// compareTuples is the model order: component by component, a prefix first.
func compareTuples(kinds []Kind, a, b Key) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareValues(kinds[i], a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmpOrdered(int64(len(a)), int64(len(b)))
}

func TestKeyEncodingOrderIsValueOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		kinds := genKinds(t)
		a, b := genTuple(t, kinds, "a"), genTuple(t, kinds, "b")
		ea, err := EncodeKey(kinds, a)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := EncodeKey(kinds, b)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := bytes.Compare(ea, eb), compareTuples(kinds, a, b); got != want {
			t.Fatalf("%v vs %v: encoding order %d, value order %d (%x, %x)", a, b, got, want, ea, eb)
		}
	})
}

func TestKeyEncodingRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		kinds := genKinds(t)
		var k Key
		for i := range kinds {
			n, _ := normalize(kinds[i], genValue(kinds[i]).Draw(t, "v"))
			k = append(k, n)
		}
		e, err := EncodeKey(kinds, k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeKey(kinds, e)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, k) {
			t.Fatalf("round trip %v -> %x -> %v", k, e, got)
		}
	})
}

func TestKeyEncodingPrefixRangeHoldsExactlyTheExtensions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		kinds := genKinds(t)
		p, k := genTuple(t, kinds, "p"), genTuple(t, kinds, "k")
		ep, _ := EncodeKey(kinds, p)
		ek, _ := EncodeKey(kinds, k)
		end := PrefixEnd(ep)
		in := bytes.Compare(ek, ep) >= 0 && (end == nil || bytes.Compare(ek, end) < 0)
		extends := len(k) >= len(p) && compareTuples(kinds, k[:len(p)], p) == 0
		if in != extends {
			t.Fatalf("key %v in range of prefix %v: %v, extends it: %v", k, p, in, extends)
		}
	})
}

func TestKeyEncodingRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		kinds []Kind
		key   Key
		want  error
	}{
		{[]Kind{Int64}, Key{"7"}, ErrTypeMismatch},
		{[]Kind{String}, Key{[]byte("x")}, ErrTypeMismatch},
		{[]Kind{Float64}, Key{math.NaN()}, ErrBadKey},
		{[]Kind{Int64}, Key{int64(1), int64(2)}, ErrBadKey},
		{[]Kind{Bool}, Key{nil}, ErrTypeMismatch},
	} {
		if _, err := EncodeKey(tc.kinds, tc.key); !errors.Is(err, tc.want) {
			t.Errorf("EncodeKey(%v, %v) = %v, want %v", tc.kinds, tc.key, err, tc.want)
		}
	}
	for _, b := range [][]byte{{1, 2}, {'a', 0}, {'a', 0, 7}, {}} {
		if _, err := DecodeKey([]Kind{String}, b); !errors.Is(err, ErrBadKey) {
			t.Errorf("DecodeKey(%x) = %v, want ErrBadKey", b, err)
		}
	}
	if _, err := DecodeKey([]Kind{Int64}, make([]byte, 9)); !errors.Is(err, ErrBadKey) {
		t.Errorf("trailing bytes: %v", err)
	}
}
