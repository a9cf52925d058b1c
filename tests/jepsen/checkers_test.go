package jepsen

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/tests/check"
)

// Hand-made histories: builders for operations and logs.

func write(id int, g string, start, end int64, pos int, val string) *Operation {
	return &Operation{ID: id, Process: id, F: FWrite, Group: g, Site: "a", Writes: []KV{{"r", val}}, Value: val,
		Type: OK, Position: pos, Start: start, End: end}
}

func rmw(id int, g string, start, end int64, readPos int, saw, val string) *Operation {
	return &Operation{ID: id, Process: id, F: FTxn, Group: g, Site: "a", Reads: []KV{{"r", saw}},
		Writes: []KV{{"r", val}}, Value: val, Type: OK, Position: readPos + 1, ReadPosition: readPos, Start: start, End: end}
}

func read(id int, g string, mode Mode, start, end int64, pos int, saw string) *Operation {
	return &Operation{ID: id, Process: id, F: FRead, Mode: mode, Group: g, Site: "b", Reads: []KV{{"r", saw}},
		Type: OK, Position: pos, Start: start, End: end}
}

func entry(pos int, val string) Entry {
	return Entry{Position: pos, ID: "a/1/" + val, Writes: []KV{{"r", val}}}
}

func logOf(vals ...string) []Entry {
	var out []Entry
	for i, v := range vals {
		out = append(out, entry(i+1, v))
	}
	return out
}

func wantValid(t *testing.T, v Verdict, want Validity) {
	t.Helper()
	if v.Valid != want {
		t.Fatalf("%s: %v, want %v: %s %v", v.Checker, v.Valid, want, v.Explanation, v.Problems)
	}
	if v.Explanation == "" {
		t.Fatalf("%s: no explanation", v.Checker)
	}
	t.Logf("%s: %v: %s", v.Checker, v.Valid, v.Explanation)
}

func TestLinearizable(t *testing.T) {
	good := []*Operation{
		write(1, "g", 0, 10, 1, "v1"),
		read(2, "g", Current, 11, 20, 1, "v1"),
		rmw(3, "g", 15, 30, 1, "v1", "v3"),
		read(4, "g", Current, 31, 40, 2, "v3"),
		read(5, "h", Current, 0, 5, 0, ""),
	}
	wantValid(t, Linearizable(good, time.Minute).Verdict, Valid)

	// A current read after a write ended returns the older value: stale.
	stale := []*Operation{
		write(1, "g", 0, 10, 1, "v1"),
		write(2, "g", 11, 20, 2, "v2"),
		read(3, "g", Current, 21, 30, 1, "v1"),
	}
	l := Linearizable(stale, time.Minute)
	wantValid(t, l.Verdict, Invalid)
	path := filepath.Join(t.TempDir(), "porcupine.html")
	if err := l.Visualize(path, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}

	// A transaction that read a value never current.
	lost := []*Operation{
		write(1, "g", 0, 10, 1, "v1"),
		rmw(2, "g", 20, 30, 0, "", "v2"),
	}
	wantValid(t, Linearizable(lost, time.Minute).Verdict, Invalid)

	// An info write may have happened: a later read of its value is fine,
	// and so is a read that never sees it.
	info := write(1, "g", 0, 10, 0, "v1")
	info.Type = Info
	wantValid(t, Linearizable([]*Operation{info, read(2, "g", Current, 20, 30, 1, "v1")}, time.Minute).Verdict, Valid)
	wantValid(t, Linearizable([]*Operation{info, read(2, "g", Current, 20, 30, 0, "")}, time.Minute).Verdict, Valid)
	// A failed write did not happen: reading its value is not linearizable.
	failed := write(1, "g", 0, 10, 0, "v1")
	failed.Type = Fail
	wantValid(t, Linearizable([]*Operation{failed, read(2, "g", Current, 20, 30, 1, "v1")}, time.Minute).Verdict, Invalid)

	// Scans: a current scan must see every row inserted before it.
	ins := func(id int, s, e int64, k, v string) *Operation {
		return &Operation{ID: id, F: FTxn, Group: "g", Writes: []KV{{k, v}}, Value: v, Type: OK, Start: s, End: e}
	}
	scan := func(id int, s, e int64, got ...KV) *Operation {
		return &Operation{ID: id, F: FScan, Mode: Current, Group: "g", Range: &Range{"w/", "w0"}, Rows: got, Type: OK, Start: s, End: e}
	}
	rowsOK := []*Operation{ins(1, 0, 10, "w/1", "v1"), ins(2, 5, 15, "w/2", "v2"), scan(3, 20, 30, KV{"w/1", "v1"}, KV{"w/2", "v2"})}
	wantValid(t, Linearizable(rowsOK, time.Minute).Verdict, Valid)
	rowsBad := []*Operation{ins(1, 0, 10, "w/1", "v1"), ins(2, 5, 15, "w/2", "v2"), scan(3, 20, 30, KV{"w/2", "v2"})}
	wantValid(t, Linearizable(rowsBad, time.Minute).Verdict, Invalid)
}

// The time bound answers unknown, never hangs: many concurrent writes whose
// reads cannot all be satisfied, with a bound porcupine cannot meet.
func TestLinearizableTimeout(t *testing.T) {
	var ops []*Operation
	for i := 0; i < 200; i++ {
		ops = append(ops, write(i, "g", 0, 1000, 0, "v"+string(rune('A'+i%26))+strings.Repeat("x", i/26)))
	}
	ops = append(ops, read(1000, "g", Current, 0, 1000, 0, "nothing"))
	l := Linearizable(ops, time.Nanosecond)
	if l.Valid == Valid {
		t.Fatalf("a history porcupine could not finish checking is %v", l.Valid)
	}
	t.Logf("%v: %s", l.Valid, l.Explanation)
}

func TestResolveAndAckedInLog(t *testing.T) {
	merged := map[string][]Entry{"g": logOf("v1", "v2", "v4")}
	lost := write(3, "g", 0, 10, 0, "v3")
	lost.Type, lost.Target = Info, 2 // proposed for 2, which holds v2
	happened := write(4, "g", 0, 10, 0, "v4")
	happened.Type, happened.Target = Info, 3
	open := write(5, "g", 0, 10, 0, "v5")
	open.Type = Info // target unknown: stays info
	ops := []*Operation{write(1, "g", 0, 10, 1, "v1"), write(2, "g", 0, 10, 2, "v2"), lost, happened, open}
	h, f := Resolve(ops, merged)
	if h != 1 || f != 1 || lost.Type != Fail || happened.Type != OK || happened.Position != 3 || open.Type != Info {
		t.Fatalf("resolve: %d happened %d failed; %v %v@%d %v", h, f, lost.Type, happened.Type, happened.Position, open.Type)
	}
	wantValid(t, AckedInLog(ops, merged), Valid)

	bad := map[string]func() ([]*Operation, map[string][]Entry){
		"acknowledged write missing": func() ([]*Operation, map[string][]Entry) {
			return []*Operation{write(1, "g", 0, 10, 1, "v1"), write(2, "g", 0, 10, 2, "v2")},
				map[string][]Entry{"g": {entry(1, "v1"), {Position: 2, ID: "b/1/9", NoOp: true}}}
		},
		"at another position": func() ([]*Operation, map[string][]Entry) {
			return []*Operation{write(1, "g", 0, 10, 2, "v1"), write(2, "g", 0, 10, 1, "v2")},
				map[string][]Entry{"g": logOf("v1", "v2")}
		},
		"twice": func() ([]*Operation, map[string][]Entry) {
			return []*Operation{write(1, "g", 0, 10, 1, "v1")}, map[string][]Entry{"g": logOf("v1", "v1")}
		},
		"failed write in the log": func() ([]*Operation, map[string][]Entry) {
			w := write(1, "g", 0, 10, 0, "v1")
			w.Type, w.Error = Fail, "conflict"
			return []*Operation{w}, map[string][]Entry{"g": logOf("v1")}
		},
		"value nobody wrote": func() ([]*Operation, map[string][]Entry) {
			return nil, map[string][]Entry{"g": logOf("v9")}
		},
		"info resolved away from its target": func() ([]*Operation, map[string][]Entry) {
			w := write(1, "g", 0, 10, 0, "v1")
			w.Type, w.Target = Info, 1
			ops := []*Operation{w, write(2, "g", 0, 10, 1, "v2")}
			m := map[string][]Entry{"g": logOf("v2", "v1")}
			Resolve(ops, m)
			return ops, m
		},
	}
	for name, mk := range bad {
		t.Run(name, func(t *testing.T) {
			ops, m := mk()
			wantValid(t, AckedInLog(ops, m), Invalid)
		})
	}
	// Acknowledged beyond what any site reported: unknown, not valid.
	wantValid(t, AckedInLog([]*Operation{write(0, "g", 0, 10, 1, "v0"), write(1, "g", 0, 10, 4, "v1")}, map[string][]Entry{"g": logOf("v0")}), Unknown)
}

func TestRealTime(t *testing.T) {
	good := []*Operation{
		write(1, "g", 0, 10, 1, "v1"),
		read(2, "g", Current, 11, 20, 1, "v1"),
		read(3, "g", Current, 21, 30, 1, "v1"),
		write(4, "g", 31, 40, 2, "v2"),
		read(5, "g", Snapshot, 41, 50, 0, ""), // snapshot reads may be stale
		read(6, "h", Current, 41, 50, 0, ""),  // another group
	}
	wantValid(t, RealTime(good), Valid)
	wantValid(t, RealTime([]*Operation{write(1, "g", 0, 10, 2, "v1"), read(2, "g", Current, 11, 20, 1, "v0")}), Invalid)
	wantValid(t, RealTime([]*Operation{read(1, "g", Current, 0, 10, 3, "v3"), read(2, "g", Current, 11, 20, 2, "v2")}), Invalid)
	// A write that begins after a read at 2 ended cannot commit at 2.
	wantValid(t, RealTime([]*Operation{read(1, "g", Current, 0, 10, 2, "v2"), write(2, "g", 11, 20, 2, "v3")}), Invalid)
	// Overlapping operations are unordered.
	wantValid(t, RealTime([]*Operation{read(1, "g", Current, 0, 10, 3, "v3"), read(2, "g", Current, 5, 20, 2, "v2")}), Valid)
}

func TestReadsMatchLog(t *testing.T) {
	merged := map[string][]Entry{"g": logOf("v1", "v2")}
	good := []*Operation{
		read(1, "g", Snapshot, 0, 1, 0, ""),
		read(2, "g", Snapshot, 0, 1, 1, "v1"),
		read(3, "g", Current, 0, 1, 2, "v2"),
		rmw(4, "g", 0, 1, 1, "v1", "v2"),
		read(5, "g", Inconsistent, 0, 1, 0, "v1"),
		{ID: 6, F: FScan, Mode: Snapshot, Group: "g", Range: &Range{"r", "s"}, Rows: []KV{{"r", "v2"}}, Type: OK, Position: 2},
	}
	wantValid(t, ReadsMatchLog(good, merged), Valid)
	for name, o := range map[string]*Operation{
		"snapshot read of the wrong state":        read(1, "g", Snapshot, 0, 1, 1, "v2"),
		"transaction read the wrong state":        rmw(1, "g", 0, 1, 2, "v1", "v3"),
		"inconsistent read of a value never held": read(1, "g", Inconsistent, 0, 1, 0, "v7"),
		"scan missing a row":                      {ID: 1, F: FScan, Mode: Snapshot, Group: "g", Range: &Range{"r", "s"}, Type: OK, Position: 2},
	} {
		t.Run(name, func(t *testing.T) { wantValid(t, ReadsMatchLog([]*Operation{o}, merged), Invalid) })
	}
	wantValid(t, ReadsMatchLog([]*Operation{read(1, "g", Snapshot, 0, 1, 5, "v5")}, merged), Unknown)

	// An info transaction found in the log: its reads (at its read
	// position, completed before its commit was sent) are checked too.
	tx := rmw(1, "g", 0, 1, 1, "v0", "v2")
	tx.Type, tx.Target, tx.Position = Info, 2, 0
	ops := []*Operation{write(0, "g", 0, 1, 1, "v1"), tx}
	Resolve(ops, merged)
	wantValid(t, ReadsMatchLog(ops, merged), Invalid)
}

func TestLogsAgree(t *testing.T) {
	groups := []string{"g"}
	full := []string{"a", "b", "c"}
	good := Logs{"a": {"g": logOf("v1", "v2")}, "b": {"g": logOf("v1", "v2")}, "c": {"g": logOf("v1", "v2")},
		"r": {"g": logOf("v1")}} // a read-only site may lag
	wantValid(t, LogsAgree(good, full, groups), Valid)
	diverge := Logs{"a": {"g": logOf("v1", "v2")}, "b": {"g": logOf("v1", "v3")}, "c": {"g": logOf("v1", "v2")}}
	wantValid(t, LogsAgree(diverge, full, groups), Invalid)
	behind := Logs{"a": {"g": logOf("v1", "v2")}, "b": {"g": logOf("v1")}, "c": {"g": logOf("v1", "v2")}}
	wantValid(t, LogsAgree(behind, full, groups), Invalid)
	missing := Logs{"a": {"g": logOf("v1", "v2")}, "c": {"g": logOf("v1", "v2")}}
	wantValid(t, LogsAgree(missing, full, groups), Unknown)

	m := good.Merge()
	if len(m["g"]) != 2 || m["g"][1].Writes[0].V != "v2" {
		t.Fatalf("merge: %v", m)
	}
}

func TestTraceValidation(t *testing.T) {
	wantValid(t, TraceValidation(nil, ""), Unknown)
	ok := func(string) (check.Result, error) { return check.Result{Steps: 10, Validated: 10}, nil }
	wantValid(t, TraceValidation(ok, "/traces"), Valid)
	bad := func(string) (check.Result, error) {
		return check.Result{Failure: "Commit not enabled", Check: "trace validation", Group: "g", Steps: 10}, nil
	}
	wantValid(t, TraceValidation(bad, "/traces"), Invalid)
	broken := func(string) (check.Result, error) { return check.Result{}, errors.New("no such directory") }
	wantValid(t, TraceValidation(broken, "/traces"), Unknown)
	partial := func(string) (check.Result, error) {
		return check.Result{Steps: 10, Validated: 7, Deviations: map[string]int{check.DevBudget: 3}}, nil
	}
	wantValid(t, TraceValidation(partial, "/traces"), Unknown)
	empty := func(string) (check.Result, error) { return check.Result{}, nil }
	wantValid(t, TraceValidation(empty, "/traces"), Unknown)
}

func TestCombineAndJSON(t *testing.T) {
	if Combine([]Verdict{{Valid: Valid}, {Valid: Unknown}}) != Unknown ||
		Combine([]Verdict{{Valid: Invalid}, {Valid: Unknown}}) != Invalid ||
		Combine([]Verdict{{Valid: Valid}}) != Valid {
		t.Fatal("Combine")
	}
	b, err := Results{Valid: Unknown, Verdicts: []Verdict{{Checker: "x", Valid: Invalid}}}.MarshalIndent()
	if err != nil || !strings.Contains(string(b), `"valid": "unknown"`) || !strings.Contains(string(b), `"valid": false`) {
		t.Fatalf("%s %v", b, err)
	}
	if Valid.ExitCode() != 0 || Invalid.ExitCode() != 1 || Unknown.ExitCode() != 2 {
		t.Fatal("exit codes")
	}
}

func TestRefusals(t *testing.T) {
	refused := &Operation{ID: 1, F: FWrite, Site: "w", Type: Fail, ExpectRefusal: true, Refused: true}
	down := &Operation{ID: 2, F: FRead, Mode: Current, Site: "r", Type: Fail, Error: "deadline", ExpectRefusal: true}
	wantValid(t, Refusals([]*Operation{refused, down, write(3, "g", 0, 1, 1, "v3")}), Valid)
	served := &Operation{ID: 4, F: FRead, Mode: Current, Site: "w", Type: OK, ExpectRefusal: true}
	wantValid(t, Refusals([]*Operation{refused, served}), Invalid)
}
