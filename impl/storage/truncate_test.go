package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
)

// model is what a group's rows are at each position: the reference the
// compacted store is compared with.
type model map[core.Position]map[string]string

// TestTruncateKeepsTheVersionsReadsAtOrAboveThePointSee writes a random
// history of puts and deletes over a few rows (a second group beside it,
// whose name extends the first's), truncates through a point, and checks
// that every read at or above the point, and every scan, is what it was,
// that the log at or below the point is gone, that only one version per
// live row stays at or below the point, and that the other group is
// untouched.
func TestTruncateKeepsTheVersionsReadsAtOrAboveThePointSee(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		s, err := OpenMem()
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		groups := []core.GroupID{"g", "g\x00x"}
		want := map[core.GroupID]model{}
		const n = 40
		for _, g := range groups {
			want[g] = model{0: {}}
			cur := map[string]string{}
			for p := core.Position(1); p <= n; p++ {
				var kv []string
				for range 1 + rng.IntN(3) {
					k := fmt.Sprintf("k%d", rng.IntN(6))
					v := ""
					if rng.IntN(4) > 0 {
						v = fmt.Sprintf("v%d.%d", p, rng.IntN(100))
					}
					kv = append(kv, k, v)
				}
				e := core.Entry{Group: g, Position: p, Value: val(uint64(p), kv...)}
				if err := s.Save(core.Durable{Chosen: []core.Entry{e},
					Acceptor: []core.AcceptorRecord{{Group: g, Position: p, Voted: true, Vote: e.Value}}}, false); err != nil {
					t.Fatal(err)
				}
				if err := s.Apply([]core.Entry{e}); err != nil {
					t.Fatal(err)
				}
				for _, m := range e.Value.Mutations {
					if m.Delete {
						delete(cur, string(m.Key))
					} else {
						cur[string(m.Key)] = string(m.Value)
					}
				}
				snap := map[string]string{}
				for k, v := range cur {
					snap[k] = v
				}
				want[g][p] = snap
			}
		}
		through := core.Position(1 + rng.IntN(n))
		votes := through / 2
		if err := s.Save(core.Durable{Truncate: []core.Truncation{{Group: "g", Through: through, VotesThrough: votes}}}, false); err != nil {
			t.Fatal(err)
		}
		for _, g := range groups {
			from := core.Position(1)
			if g == "g" {
				from = through
			}
			for p := from; p <= n; p++ {
				for i := range 6 {
					k := fmt.Sprintf("k%d", i)
					got, err := s.Read(g, [][]byte{[]byte(k)}, p)
					if err != nil {
						t.Fatal(err)
					}
					if w, ok := want[g][p][k]; string(got[0]) != w || ok != (got[0] != nil) {
						t.Fatalf("seed %d, %q truncated through %d: %s at %d reads %q, want %q", seed, g, through, k, p, got[0], w)
					}
				}
				rows, _, err := s.Scan(g, core.KeyRange{Limit: 100}, p)
				if err != nil || len(rows) != len(want[g][p]) {
					t.Fatalf("seed %d: scan of %q at %d: %d rows, want %d (%v)", seed, g, p, len(rows), len(want[g][p]), err)
				}
			}
		}
		// One version at or below the point per row live there, none for
		// a row deleted there.
		below := 0
		it, _ := s.db.NewIter(nil)
		for it.First(); it.Valid(); it.Next() {
			g, kind, rest, err := parseGroupKey(it.Key())
			if err != nil || g != "g" || kind != kindData {
				continue
			}
			_, ver, _ := decodeEscaped(rest)
			if p := core.Position(^be(ver)); p <= through {
				below++
			}
		}
		it.Close()
		if below != len(want["g"][through]) {
			t.Fatalf("seed %d: %d versions at or below %d, %d rows live there", seed, below, through, len(want["g"][through]))
		}
		st, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		gs, err := s.LoadGroup("g")
		if err != nil {
			t.Fatal(err)
		}
		if st.Truncated["g"] != through || gs.Truncated != through || st.Truncated["g\x00x"] != 0 {
			t.Fatalf("seed %d: truncation points %v, group %d, want %d", seed, st.Truncated, gs.Truncated, through)
		}
		for _, a := range gs.Acceptor {
			if a.Position <= votes {
				t.Fatalf("seed %d: acceptor record at %d kept, records truncated through %d", seed, a.Position, votes)
			}
		}
		if len(gs.Acceptor) != int(n-votes) || len(gs.Chosen) != int(n-through) {
			t.Fatalf("seed %d: %d records above %d and %d entries above %d of %d", seed, len(gs.Acceptor), votes, len(gs.Chosen), through, n)
		}
		other, _ := s.LoadGroup("g\x00x")
		if len(other.Acceptor) != n || len(other.Chosen) != n {
			t.Fatalf("seed %d: the other group lost records", seed)
		}
		s.Close()
	}
}

func be(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// TestInstallReplacesTheGroupAtomically: an install replaces the rows and
// the log through the point in the same batch as the entries above it;
// a crash before the sync keeps none of it, after it all of it.
func TestInstallReplacesTheGroupAtomically(t *testing.T) {
	s, err := OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	old := core.Entry{Group: "g", Position: 1, Value: val(1, "a", "old", "z", "gone")}
	if err := s.Save(core.Durable{Chosen: []core.Entry{old},
		Acceptor: []core.AcceptorRecord{{Group: "g", Position: 1}, {Group: "g", Position: 9}}}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply([]core.Entry{old}); err != nil {
		t.Fatal(err)
	}
	d := core.Durable{
		Chosen:  []core.Entry{{Group: "g", Position: 8, Value: val(8, "a", "eight")}, {Group: "g", Position: 11, Value: val(11, "b", "x")}},
		Install: []core.Install{{Group: "g", Through: 10, VotesThrough: 10, Rows: []core.KeyValue{{Key: []byte("a"), Value: []byte("ten")}, {Key: []byte("b"), Value: []byte("bee")}}}},
	}
	if err := s.Save(d, false); err != nil {
		t.Fatal(err)
	}
	lost, err := s.Crash(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gs, _ := lost.LoadGroup("g"); gs.Truncated != 0 || gs.Applied == 10 || len(gs.Chosen) != 1 {
		t.Fatalf("an unsynced install survived in part: %+v", gs)
	}
	if err := lost.Save(d, true); err != nil {
		t.Fatal(err)
	}
	s, err = lost.Crash(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gs, err := s.LoadGroup("g")
	if err != nil {
		t.Fatal(err)
	}
	if gs.Truncated != 10 || gs.Applied != 10 || len(gs.Chosen) != 1 || gs.Chosen[0].Position != 11 ||
		len(gs.Acceptor) != 0 {
		t.Fatalf("installed: %+v", gs)
	}
	got, _ := s.Read("g", [][]byte{[]byte("a"), []byte("b"), []byte("z")}, 10)
	if string(got[0]) != "ten" || string(got[1]) != "bee" || got[2] != nil {
		t.Fatalf("rows as of 10: %q", got)
	}
	if got, _ := s.Read("g", [][]byte{[]byte("a")}, 5); got[0] != nil {
		t.Fatalf("an old version survived the install: %q", got[0])
	}
}

func TestTruncateAndInstallRefuseNonsense(t *testing.T) {
	s, err := OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, d := range map[string]core.Durable{
		"truncate no group":     {Truncate: []core.Truncation{{Through: 3}}},
		"truncate through 0":    {Truncate: []core.Truncation{{Group: "g"}}},
		"truncate absurd":       {Truncate: []core.Truncation{{Group: "g", Through: core.LatestPosition}}},
		"votes past the point":  {Truncate: []core.Truncation{{Group: "g", Through: 3, VotesThrough: 4}}},
		"install through 0":     {Install: []core.Install{{Group: "g"}}},
		"install no group":      {Install: []core.Install{{Through: 2}}},
		"install empty row key": {Install: []core.Install{{Group: "g", Through: 2, Rows: []core.KeyValue{{Value: []byte("v")}}}}},
	} {
		if err := s.Save(d, false); !errors.Is(err, core.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if st, _ := s.Load(); len(st.Truncated) != 0 || len(st.Applied) != 0 {
		t.Fatalf("a refused save wrote: %+v", st)
	}
}
