package nemesis

import (
	"math/rand/v2"
	"slices"
)

// SiteIDs returns the cluster's sites in its order.
func (c *Cluster) SiteIDs() []string {
	out := make([]string, len(c.Hosts))
	for i, h := range c.Hosts {
		out[i] = h.Site
	}
	return out
}

// Sizes a fault may take among n sites: one, a minority (at least one,
// fewer than half) and a majority.
const (
	One      = "one"
	Minority = "minority"
	Majority = "majority"
)

// Size is how many of n sites a size name means.
func Size(name string, n int) int {
	switch name {
	case Minority:
		return max(1, (n-1)/2)
	case Majority:
		return n/2 + 1
	default:
		return min(1, n)
	}
}

// Subset draws k of sites, returned sorted so details read the same way
// for the same draw.
func Subset(rng *rand.Rand, sites []string, k int) []string {
	perm := rng.Perm(len(sites))
	out := make([]string, 0, k)
	for _, i := range perm[:min(k, len(sites))] {
		out = append(out, sites[i])
	}
	slices.Sort(out)
	return out
}
