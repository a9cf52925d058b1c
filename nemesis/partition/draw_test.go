package partition

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

var five = []string{"a", "b", "c", "r", "w"}

// reach returns, for each site, the set of sites whose messages reach it
// (itself included).
func reach(sites []string, cut []Link) map[string][]string {
	cutSet := map[Link]bool{}
	for _, l := range cut {
		cutSet[l] = true
	}
	out := map[string][]string{}
	for _, to := range sites {
		for _, from := range sites {
			if from == to || !cutSet[Link{from, to}] {
				out[to] = append(out[to], from)
			}
		}
	}
	return out
}

func symmetric(cut []Link) bool {
	set := map[Link]bool{}
	for _, l := range cut {
		set[l] = true
	}
	for _, l := range cut {
		if !set[Link{l.To, l.From}] {
			return false
		}
	}
	return true
}

// Each shape cuts what its name says, for many draws.
func TestShapes(t *testing.T) {
	for seed := range uint64(50) {
		for _, sh := range Shapes {
			rng := rand.New(rand.NewPCG(seed, 1))
			detail, cut := Draw(sh, rng, five)
			d2, cut2 := Draw(sh, rand.New(rand.NewPCG(seed, 1)), five)
			if detail != d2 || !reflect.DeepEqual(cut, cut2) {
				t.Fatalf("%s seed %d: two draws differ", sh, seed)
			}
			r := reach(five, cut)
			sizes := []int{}
			for _, s := range five {
				sizes = append(sizes, len(r[s]))
			}
			slices.Sort(sizes)
			why := fmt.Sprintf("%s seed %d: %s: heard-from sizes %v", sh, seed, detail, sizes)
			switch sh {
			case Isolate:
				if !symmetric(cut) || len(cut) != 8 || !reflect.DeepEqual(sizes, []int{1, 4, 4, 4, 4}) {
					t.Error(why)
				}
			case Halves:
				if !symmetric(cut) || !reflect.DeepEqual(sizes, []int{2, 2, 3, 3, 3}) {
					t.Error(why)
				}
			case Bridge:
				if !symmetric(cut) || !reflect.DeepEqual(sizes, []int{3, 3, 3, 3, 5}) {
					t.Error(why)
				}
			case Ring:
				// Everyone hears a majority (3 of 5), and no two the same one.
				seen := map[string]bool{}
				for _, s := range five {
					k := fmt.Sprint(r[s])
					if len(r[s]) != 3 || seen[k] {
						t.Error(why)
					}
					seen[k] = true
				}
				if !symmetric(cut) {
					t.Error(why)
				}
			case MinorityThird:
				if !symmetric(cut) || !reflect.DeepEqual(sizes, []int{1, 2, 2, 2, 2}) {
					t.Error(why)
				}
			case OneWayOut, OneWayIn:
				if len(cut) != 4 || symmetric(cut) {
					t.Error(why)
				}
				// Out: one site's messages reach nobody, so four sites
				// hear four; in: one site hears only itself.
				want := []int{4, 4, 4, 4, 5}
				if sh == OneWayIn {
					want = []int{1, 5, 5, 5, 5}
				}
				if !reflect.DeepEqual(sizes, want) {
					t.Error(why)
				}
			}
		}
	}
}
