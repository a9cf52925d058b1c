package clock

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// within reports whether a skew keeps two sites' tick counts less than the
// skew bound apart over one lease.
func within(s Skew, b Bounds) bool {
	abs := func(x int64) int64 { return max(x, -x) }
	drift := func(rate int64) bool {
		return rate == 0 || abs(rate-1000)*int64(b.LeaseTicks) < int64(b.SkewTicks)*1000
	}
	return abs(s.Jump) < int64(b.SkewTicks) && drift(s.Rate) && drift(s.StrobeRate)
}

// "clock" never leaves the bound and "clock-beyond" always does, for the
// default config and a wider one; every shape is drawn.
func TestDrawSkewBounds(t *testing.T) {
	def, err := BoundsOf(&siteconfig.File{Sites: []siteconfig.Site{{ID: "a", Kind: "full"}}})
	if err != nil {
		t.Fatal(err)
	}
	if def.LeaseTicks != 40 || def.SkewTicks != 4 || def.Tick != 5*time.Millisecond {
		t.Fatalf("default bounds %+v; the test assumes lease 40, skew 4, tick 5ms", def)
	}
	for _, b := range []Bounds{def, {LeaseTicks: 200, SkewTicks: 20, Tick: 10 * time.Millisecond}} {
		seen := map[string]bool{}
		for seed := range uint64(300) {
			rng := rand.New(rand.NewPCG(seed, 2))
			in := DrawSkew(rng, b, false)
			if !within(in, b) || in == (Skew{}) {
				t.Fatalf("bounds %+v: clock drew %v (%+v), not a fault within the bound", b, in, in)
			}
			out := DrawSkew(rng, b, true)
			if within(out, b) {
				t.Fatalf("bounds %+v: clock-beyond drew %v, within the bound", b, out)
			}
			seen[in.String()[:4]] = true
			seen["beyond "+out.String()[:4]] = true
		}
		if len(seen) != 6 {
			t.Errorf("bounds %+v: shapes drawn %v, want jump, drift and strobe of both kinds", b, seen)
		}
	}
}
