package listappend

import (
	"slices"
	"testing"
)

func ap(k string, v int64) Op       { return Op{Append: true, Key: k, Value: v} }
func rd(k string, list ...int64) Op { return Op{Key: k, List: list} }
func ok(id int, ops ...Op) Txn      { return Txn{ID: id, Status: OK, Ops: ops} }
func failed(id int, ops ...Op) Txn  { return Txn{ID: id, Status: Failed, Ops: ops} }
func unknown(id int, ops ...Op) Txn { return Txn{ID: id, Status: Unknown, Ops: ops} }

func TestASerialHistoryIsValid(t *testing.T) {
	h := []Txn{
		ok(1, ap("x", 1), rd("x", 1)),
		ok(2, rd("x", 1), ap("x", 2), ap("y", 1)),
		failed(3, ap("x", 3)),
		unknown(4, ap("y", 2)),
		ok(5, rd("x", 1, 2), rd("y", 1, 2)),
		ok(6, rd("y", 1)), // NB: an old read is fine for a serial order 1,2,6,4,5
	}
	if rep := Check(h); !rep.Valid() {
		t.Fatal(rep)
	}
}

// Each checker is shown failing on a hand-made bad history.
func TestEachAnomalyIsCaught(t *testing.T) {
	for _, tc := range []struct {
		want string
		h    []Txn
	}{
		{"G1a", []Txn{failed(1, ap("x", 1)), ok(2, rd("x", 1))}},
		{"G1a", []Txn{ok(2, rd("x", 9))}},
		{"G1b", []Txn{ok(1, ap("x", 1), ap("x", 2)), ok(2, rd("x", 1))}},
		{"order", []Txn{ok(1, ap("x", 1)), ok(2, ap("x", 2)), ok(3, rd("x", 1, 2)), ok(4, rd("x", 2, 1))}},
		{"duplicate", []Txn{ok(1, ap("x", 1)), ok(2, ap("x", 1))}},
		// T1 before T2 in x, after it in y.
		{"G0", []Txn{ok(1, ap("x", 1), ap("y", 2)), ok(2, ap("x", 2), ap("y", 1)), ok(3, rd("x", 1, 2), rd("y", 1, 2))}},
		// T2 read T1's x, T1 read T2's y.
		{"G1c", []Txn{ok(1, ap("x", 1), rd("y", 1)), ok(2, rd("x", 1), ap("y", 1))}},
		// Lost update: both read x empty, both appended.
		{"G-single", []Txn{ok(1, rd("x"), ap("x", 1)), ok(2, rd("x"), ap("x", 2)), ok(3, rd("x", 1, 2))}},
		// Write skew: each read the other's list empty and appended to its own.
		{"G2", []Txn{ok(1, rd("y"), ap("x", 1)), ok(2, rd("x"), ap("y", 1)), ok(3, rd("x", 1), rd("y", 1))}},
	} {
		rep := Check(tc.h)
		if !slices.Contains(rep.Kinds(), tc.want) {
			t.Errorf("want %s, got %v", tc.want, rep)
		}
	}
}
