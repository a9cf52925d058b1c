package spec

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// A deep run finds exactly the figures of the ordinary explorer (TLC's),
// on every worker count.
func TestDeepEqualsExplore(t *testing.T) {
	for _, c := range []*Config{WriteRace(), ConsecutiveWrites()} {
		m, err := c.Model()
		if err != nil {
			t.Fatal(err)
		}
		want := Recorded[c.Name]
		for _, w := range []int{1, 4} {
			res, err := ExploreDeep(m, DeepOptions{Workers: w})
			if err != nil {
				t.Fatal(err)
			}
			if res.Distinct != want.Distinct || res.Generated != want.Generated || res.Depth != want.Depth || res.Violation != nil {
				t.Fatalf("%s, %d workers: deep found %d distinct, %d generated, depth %d (violation %v); want %+v",
					c.Name, w, res.Distinct, res.Generated, res.Depth, res.Violation, want)
			}
			if v := res.Vacuous(); len(v) > 0 {
				t.Errorf("%s: vacuous %v", c.Name, v)
			}
		}
	}
}

// A deep run reports a violated invariant and the violating state.
func TestDeepFindsViolation(t *testing.T) {
	c := WriteRace()
	c.Mutations = Mutations(AcceptLowerBallot)
	m, err := c.Model()
	if err != nil {
		t.Fatal(err)
	}
	res, err := ExploreDeep(m, DeepOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation == nil || res.Violation.Invariant != "AtMostOneChosen" {
		t.Fatalf("violation %+v", res.Violation)
	}
	var b strings.Builder
	if err := res.Report(&b); err != nil || !strings.Contains(b.String(), "Invariant AtMostOneChosen is violated") || !strings.Contains(b.String(), "/\\ votes = ") {
		t.Fatalf("report (err %v):\n%s", err, b.String())
	}
}

func TestFPSet(t *testing.T) {
	s := newFPSet()
	seen := map[uint64]bool{}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200_000; i++ {
		fp := r.Uint64() % 150_000 // many repeats
		if fp == 0 {
			fp = 1 // 0 is stored as 1
		}
		if got := s.insert(fp); got == seen[fp] {
			t.Fatalf("insert(%d) = %v, already seen %v", fp, got, seen[fp])
		}
		seen[fp] = true
	}
}
