package linkproxy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/megastore-verified/megastore/nemesis"
)

// Kind is the nemesis kind of link faults.
const Kind = "link"

// Fault returns the link fault of s: each Start draws, from rng only, one
// of a profile change, extra latency and jitter on some links, a bandwidth
// cap on some links, or one very slow one-way link; Heal restores the
// run's base profile.
//
// NB: link faults do not stack: each Heal restores the base profile, also
// undoing any other link fault still in force.
func (s *Set) Fault() nemesis.Fault { return &fault{set: s} }

type fault struct{ set *Set }

func (f *fault) Kind() string { return Kind }

// Bounds of the drawn faults.
const (
	extraLatencyMsMin = 50
	extraLatencyMsMax = 300
	capKBpsMin        = 32
	capKBpsMax        = 256
	oneWayMsMin       = 500
	oneWayMsMax       = 1500
)

func (f *fault) Start(ctx context.Context, rng *rand.Rand) (nemesis.Applied, error) {
	s := f.set
	base := s.base.Shapes(s.sites)
	links := sortedLinks(base)
	// pick draws k distinct links, in a stable order for a given rng.
	pick := func(k int) []Link {
		perm := rng.Perm(len(links))[:k]
		sort.Ints(perm)
		out := make([]Link, k)
		for i, p := range perm {
			out[i] = links[p]
		}
		return out
	}
	var (
		detail string
		shapes map[Link]Shape
		sites  []string
	)
	switch rng.IntN(4) {
	case 0:
		var others []Profile
		for _, p := range Profiles {
			if p.Name != s.base.Name {
				others = append(others, p)
			}
		}
		p := others[rng.IntN(len(others))]
		detail, shapes = "profile "+p.Name, p.Shapes(s.sites)
		for _, site := range s.sites {
			sites = append(sites, site.ID)
		}
	case 1:
		var parts []string
		shapes = map[Link]Shape{}
		for _, l := range pick(1 + rng.IntN(max(1, len(links)/2))) {
			extra := Shape{LatencyMs: extraLatencyMsMin + rng.IntN(extraLatencyMsMax-extraLatencyMsMin+1)}
			extra.JitterMs = rng.IntN(extra.LatencyMs/2 + 1)
			shapes[l] = base[l].add(extra)
			parts = append(parts, fmt.Sprintf("%s +%s", l, extra))
			sites = append(sites, l.From, l.To)
		}
		detail = "degrade " + strings.Join(parts, ", ")
	case 2:
		var parts []string
		shapes = map[Link]Shape{}
		for _, l := range pick(1 + rng.IntN(max(1, len(links)/2))) {
			limit := Shape{RateKBps: capKBpsMin + rng.IntN(capKBpsMax-capKBpsMin+1)}
			shapes[l] = base[l].add(limit)
			parts = append(parts, fmt.Sprintf("%s %dKB/s", l, limit.RateKBps))
			sites = append(sites, l.From, l.To)
		}
		detail = "cap " + strings.Join(parts, ", ")
	default:
		l := pick(1)[0]
		extra := Shape{LatencyMs: oneWayMsMin + rng.IntN(oneWayMsMax-oneWayMsMin+1)}
		extra.JitterMs = rng.IntN(extra.LatencyMs/4 + 1)
		shapes = map[Link]Shape{l: base[l].add(extra)}
		detail = fmt.Sprintf("slow one-way %s +%s", l, extra)
		sites = []string{l.From, l.To}
	}
	sort.Strings(sites)
	sites = compact(sites)
	if err := s.SetShapes(shapes); err != nil {
		return nil, err
	}
	return &applied{set: s, detail: detail, sites: sites}, nil
}

func compact(sorted []string) []string {
	var out []string
	for i, v := range sorted {
		if i == 0 || v != sorted[i-1] {
			out = append(out, v)
		}
	}
	return out
}

type applied struct {
	set    *Set
	detail string
	sites  []string
}

func (a *applied) Detail() string                 { return a.detail }
func (a *applied) Sites() []string                { return a.sites }
func (a *applied) Heal(ctx context.Context) error { return a.set.Heal() }
