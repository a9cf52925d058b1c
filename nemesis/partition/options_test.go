package partition

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Options.Isolate names the sites the Isolate shape may cut off.
func TestIsolateDrawsFromTheNamedSites(t *testing.T) {
	sites := []string{"a", "b", "c", "r", "w"}
	o := Options{Shapes: []Shape{Isolate}, Isolate: []string{"a", "b", "c"}}
	seen := map[string]bool{}
	for seed := uint64(0); seed < 50; seed++ {
		detail, links := o.draw(rand.New(rand.NewPCG(seed, 1)), sites)
		cut := strings.TrimPrefix(detail, "isolate ")
		if cut != "a" && cut != "b" && cut != "c" {
			t.Fatalf("seed %d: %q isolates a site outside a, b, c", seed, detail)
		}
		seen[cut] = true
		if len(links) != 2*(len(sites)-1) {
			t.Fatalf("seed %d: %d links cut, want %d", seed, len(links), 2*(len(sites)-1))
		}
		for _, l := range links {
			if l.From != cut && l.To != cut {
				t.Fatalf("seed %d: %q cuts %v, not a link of %s", seed, detail, l, cut)
			}
		}
	}
	if len(seen) != 3 {
		t.Fatalf("50 seeds isolated only %v", seen)
	}
}
