package tla

import "testing"

func TestPrinting(t *testing.T) {
	s := Str
	i := Int
	for _, tc := range []struct {
		name string
		v    Value
		want string
	}{
		{"int", i(-7), "-7"},
		{"string", s("a"), `"a"`},
		{"string escapes", s("a\"b\\c\nd"), `"a\"b\\c\nd"`},
		{"true", Bool(true), "TRUE"},
		{"false", Bool(false), "FALSE"},
		{"model value", ModelValue("r1"), "r1"},
		{"empty seq", Seq(), "<<>>"},
		{"seq keeps order", Seq(i(2), s("x"), i(1)), `<<2, "x", 1>>`},
		{"empty set", Set(), "{}"},
		{"set of ints numeric, dedup", Set(i(10), i(3), i(1), i(3)), "{1, 3, 10}"},
		{"set of strings", Set(s("b"), s("a"), s("ab"), s("b")), `{"a", "ab", "b"}`},
		{"mixed set: ints, strings, then the rest", Set(Seq(), Set(), ModelValue("m"), Bool(true), s("a"), i(2)), `{2, "a", TRUE, m, {}, <<>>}`},
		{"booleans", Set(Bool(true), Bool(false)), "{FALSE, TRUE}"},
		// As TLC: smaller sets first, then element by element.
		{"set of sets", Set(Set(i(2), i(1)), Set(i(3)), Set(i(1), i(2)), Set()), "{{}, {3}, {1, 2}}"},
		{"set of sequences", Set(Seq(i(2)), Seq(i(1), i(5)), Seq(i(1))), "{<<1>>, <<2>>, <<1, 5>>}"},
		// As TLC: records compare by field names, then by values.
		{"set of records", Set(
			Record(Field{"type", s("b")}, Field{"bal", i(1)}),
			Record(Field{"type", s("a")}, Field{"bal", i(2)}),
			Record(Field{"type", s("a")}, Field{"bal", i(1)})),
			`{[type |-> "a", bal |-> 1], [type |-> "b", bal |-> 1], [type |-> "a", bal |-> 2]}`},
		{"sequence equals function on 1..n", Set(Seq(i(7)), Fn([]Value{i(1)}, []Value{i(7)})), "{<<7>>}"},
		{"record equals function on its field names", Set(Record(Field{"a", i(1)}), Fn([]Value{s("a")}, []Value{i(1)})), "{[a |-> 1]}"},
		{"record in given order", Record(Field{"b", i(1)}, Field{"a", s("x")}), `[b |-> 1, a |-> "x"]`},
		{"records equal regardless of field order",
			Set(Record(Field{"a", i(1)}, Field{"b", i(2)}), Record(Field{"b", i(2)}, Field{"a", i(1)})),
			"{[a |-> 1, b |-> 2]}"},
		{"empty function", Fn(nil, nil), "<<>>"},
		{"function on 1..n is a sequence", Fn([]Value{i(2), i(1)}, []Value{s("b"), s("a")}), `<<"a", "b">>`},
		{"function on other ints", Fn([]Value{i(3), i(2)}, []Value{i(30), i(20)}), "(2 :> 20 @@ 3 :> 30)"},
		{"function on model values", Fn([]Value{ModelValue("r2"), ModelValue("r1")}, []Value{i(0), i(1)}), "(r1 :> 1 @@ r2 :> 0)"},
		// TLC prints a function whose keys are all name-like strings as a
		// record (FcnRcdValue.isRcd), not as ("a" :> 1 @@ "b" :> 2).
		{"function on name-like strings prints as TLC's record", Fn([]Value{s("b"), s("a")}, []Value{i(2), i(1)}), "[a |-> 1, b |-> 2]"},
		{"function on other strings", Fn([]Value{s("p 2"), s("p 1")}, []Value{i(2), i(1)}), `("p 1" :> 1 @@ "p 2" :> 2)`},
		{"function on mixed keys", Fn([]Value{s("a"), i(5)}, []Value{Bool(false), Bool(true)}), `(5 :> TRUE @@ "a" :> FALSE)`},
		{"function on sets", Fn([]Value{Set(i(2)), Set(i(1))}, []Value{i(2), i(1)}), "({1} :> 1 @@ {2} :> 2)"},
		{"nested", Record(Field{"log", Seq(Record(Field{"op", s("w")}))}, Field{"acks", Set(ModelValue("r2"), ModelValue("r1"))}),
			`[log |-> <<[op |-> "w"]>>, acks |-> {r1, r2}]`},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestSetDoesNotAliasCaller(t *testing.T) {
	elems := []Value{Int(2), Int(1)}
	v := Set(elems...)
	elems[0] = Int(9)
	if got := v.String(); got != "{1, 2}" {
		t.Fatalf("set changed with caller's slice: %s", got)
	}
	if elems[1] != Int(1) {
		t.Fatalf("Set reordered the caller's slice")
	}
}

func TestFnPanicsOnDuplicateKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for duplicate key")
		}
	}()
	Fn([]Value{Int(1), Int(1)}, []Value{Int(1), Int(2)})
}

func TestRecordPanicsOnDuplicateField(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for duplicate field")
		}
	}()
	Record(Field{"a", Int(1)}, Field{"a", Int(2)})
}
