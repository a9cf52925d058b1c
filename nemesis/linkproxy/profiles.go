package linkproxy

import (
	"fmt"
	"sort"
)

// Shape is what one directed link does to the bytes its sender writes.
type Shape struct {
	// LatencyMs is the one-way delay, JitterMs its spread (each chunk is
	// delayed LatencyMs +/- JitterMs, drawn uniformly; order is kept).
	LatencyMs int `json:"latency_ms,omitempty"`
	JitterMs  int `json:"jitter_ms,omitempty"`
	// RateKBps caps throughput in KB/s (0: no cap).
	RateKBps int `json:"rate_kbps,omitempty"`
}

// IsZero tells whether s leaves the link alone.
func (s Shape) IsZero() bool { return s == Shape{} }

func (s Shape) String() string {
	if s.IsZero() {
		return "clean"
	}
	out := ""
	if s.LatencyMs > 0 || s.JitterMs > 0 {
		out = fmt.Sprintf("%d±%dms", s.LatencyMs, s.JitterMs)
	}
	if s.RateKBps > 0 {
		if out != "" {
			out += " "
		}
		out += fmt.Sprintf("%dKB/s", s.RateKBps)
	}
	return out
}

// add stacks t on top of s: latencies and jitters add, the lower cap wins.
func (s Shape) add(t Shape) Shape {
	out := Shape{LatencyMs: s.LatencyMs + t.LatencyMs, JitterMs: s.JitterMs + t.JitterMs, RateKBps: s.RateKBps}
	if t.RateKBps > 0 && (out.RateKBps == 0 || t.RateKBps < out.RateKBps) {
		out.RateKBps = t.RateKBps
	}
	return out
}

// Site is one site as a profile places it.
type Site struct {
	ID   string
	Kind string // full, witness, readonly
}

// Profile is a named network: where the sites are and what each link
// between two places does. Profiles are data; see Profiles.
type Profile struct {
	Name  string
	About string
	// FullRegions places the i-th full site (in site order) in
	// FullRegions[i % len]; WitnessRegion and ReadOnlyRegion place every
	// witness and read-only site. Empty: every site in one place.
	FullRegions    []string
	WitnessRegion  string
	ReadOnlyRegion string
	// Between is the one-way shape between two distinct regions, either
	// order (a missing pair is clean); Within is the shape between two
	// sites of one region.
	Between map[[2]string]Shape
	Within  Shape
	// All is stacked on every link (a bandwidth cap, say).
	All Shape
	// SlowSite is stacked on every link to and from the last full site:
	// one site with a bad uplink.
	SlowSite Shape
}

// Regions of the three-regions profiles.
const (
	USEast = "us-east"
	USWest = "us-west"
	Europe = "europe"
)

// threeRegions is a realistic placement: one-way latencies whose RTTs are
// about 70 ms (us-east/us-west), 80 ms (us-east/europe) and 140 ms
// (us-west/europe), with jitter about a tenth of each; two sites of one
// region are 1 ms apart. The witness shares us-east with the first full
// site (a tie-breaker near a replica) and the read-only site shares europe
// with the third (a read replica near its readers).
var threeRegionsBetween = map[[2]string]Shape{
	{USEast, USWest}: {LatencyMs: 35, JitterMs: 4},
	{USEast, Europe}: {LatencyMs: 40, JitterMs: 5},
	{USWest, Europe}: {LatencyMs: 70, JitterMs: 8},
}

// Profiles is every named profile, in the order -link-profile lists them.
var Profiles = []Profile{
	{Name: "lan", About: "every site in one place; no toxics"},
	{
		Name:        "three-regions",
		About:       "full sites in us-east, us-west, europe; witness in us-east, read-only in europe; RTTs 2-140 ms with jitter",
		FullRegions: []string{USEast, USWest, Europe}, WitnessRegion: USEast, ReadOnlyRegion: Europe,
		Between: threeRegionsBetween, Within: Shape{LatencyMs: 1},
	},
	{
		Name:     "slow-link",
		About:    "one place, but the last full site's links are 150±50 ms each way (a site with a bad uplink)",
		SlowSite: Shape{LatencyMs: 150, JitterMs: 50},
	},
	{
		Name:        "three-regions-capped",
		About:       "three-regions with every link capped at 512 KB/s",
		FullRegions: []string{USEast, USWest, Europe}, WitnessRegion: USEast, ReadOnlyRegion: Europe,
		Between: threeRegionsBetween, Within: Shape{LatencyMs: 1}, All: Shape{RateKBps: 512},
	},
	{
		Name:  "narrow",
		About: "one place, every link capped at 128 KB/s (about 1 Mbit/s)",
		All:   Shape{RateKBps: 128},
	},
}

// ProfileByName returns the named profile or an error listing them.
func ProfileByName(name string) (Profile, error) {
	var names []string
	for _, p := range Profiles {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Profile{}, fmt.Errorf("linkproxy: no link profile %q; profiles are %v", name, names)
}

// Regions places each site.
func (p Profile) Regions(sites []Site) map[string]string {
	out := map[string]string{}
	full := 0
	for _, s := range sites {
		region := "here"
		switch {
		case len(p.FullRegions) == 0:
		case s.Kind == "witness" && p.WitnessRegion != "":
			region = p.WitnessRegion
		case s.Kind == "readonly" && p.ReadOnlyRegion != "":
			region = p.ReadOnlyRegion
		default:
			region = p.FullRegions[full%len(p.FullRegions)]
		}
		if s.Kind == "full" {
			full++
		}
		out[s.ID] = region
	}
	return out
}

// Shapes returns the shape of every directed link between sites.
func (p Profile) Shapes(sites []Site) map[Link]Shape {
	regions := p.Regions(sites)
	slow := ""
	for _, s := range sites {
		if s.Kind == "full" {
			slow = s.ID
		}
	}
	out := map[Link]Shape{}
	for _, from := range sites {
		for _, to := range sites {
			if from.ID == to.ID {
				continue
			}
			ra, rb := regions[from.ID], regions[to.ID]
			var s Shape
			if ra == rb {
				s = p.Within
			} else if b, ok := p.Between[[2]string{ra, rb}]; ok {
				s = b
			} else {
				s = p.Between[[2]string{rb, ra}]
			}
			s = s.add(p.All)
			if from.ID == slow || to.ID == slow {
				s = s.add(p.SlowSite)
			}
			out[Link{from.ID, to.ID}] = s
		}
	}
	return out
}

// Link is a directed site-to-site link: From dials To.
type Link struct{ From, To string }

func (l Link) String() string { return l.From + "->" + l.To }

func sortedLinks[V any](m map[Link]V) []Link {
	out := make([]Link, 0, len(m))
	for l := range m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}
