package clock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis"
)

// Bounds are the lease argument's figures, from the cluster's config.
type Bounds struct {
	LeaseTicks, SkewTicks uint64
	Tick                  time.Duration
}

// BoundsOf reads them from a cluster.json.
func BoundsOf(f *siteconfig.File) (Bounds, error) {
	cfg, err := f.CoreConfig(core.SiteID(f.Sites[0].ID))
	if err != nil {
		return Bounds{}, err
	}
	return Bounds{LeaseTicks: cfg.LeaseDurationTicks, SkewTicks: cfg.ClockSkewTicks, Tick: f.Tick()}, nil
}

// State is a node's clock as its admin endpoint reports it.
type State struct {
	NowTicks    uint64 `json:"now_ticks"`
	OffsetTicks int64  `json:"offset_ticks"`
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

func post(ctx context.Context, h nemesis.Host, path string) (State, error) {
	url := fmt.Sprintf("http://%s%s", h.HTTPAddr, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return State{}, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return State{}, fmt.Errorf("site %s: %w", h.Site, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return State{}, fmt.Errorf("site %s: POST %s: %s: %s (is the node started with --test-admin?)",
			h.Site, path, resp.Status, strings.TrimSpace(string(b)))
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("site %s: POST %s: %v", h.Site, path, err)
	}
	return st, nil
}

// AddOffset jumps a site's clock by ticks.
func AddOffset(ctx context.Context, h nemesis.Host, ticks int64) (State, error) {
	return post(ctx, h, fmt.Sprintf("/admin/clock-offset?ticks=%d", ticks))
}

// SetRate runs a site's clock at milli/1000 of real time.
func SetRate(ctx context.Context, h nemesis.Host, milli int64) (State, error) {
	return post(ctx, h, fmt.Sprintf("/admin/clock-rate?milli=%d", milli))
}

// Read returns a site's clock without changing it.
func Read(ctx context.Context, h nemesis.Host) (State, error) { return AddOffset(ctx, h, 0) }

// Skew is one clock fault's parameters, applied alike to every site.
type Skew struct {
	Jump        int64         // ticks added at start, taken back at heal
	Rate        int64         // milli while in force (0: unchanged)
	StrobeRate  int64         // if set, alternate Rate and StrobeRate
	StrobeEvery time.Duration // how long each rate holds
}

func (s Skew) String() string {
	switch {
	case s.StrobeRate != 0:
		return fmt.Sprintf("strobe %d/%d milli every %v", s.Rate, s.StrobeRate, s.StrobeEvery)
	case s.Rate != 0:
		return fmt.Sprintf("drift %d milli", s.Rate)
	default:
		return fmt.Sprintf("jump %+d ticks", s.Jump)
	}
}

// DrawSkew picks a skew within the bounds (beyond=false) or past them.
func DrawSkew(rng *rand.Rand, b Bounds, beyond bool) Skew {
	sign := int64(1)
	if rng.IntN(2) == 0 {
		sign = -1
	}
	lease, skew := int64(max(b.LeaseTicks, 1)), int64(b.SkewTicks)
	// maxDelta: the rate error (milli) that accumulates skew-1 ticks over
	// a lease, so drifting stays below the bound.
	maxDelta := (skew - 1) * 1000 / lease
	between := func(lo, hi int64) int64 { return lo + rng.Int64N(max(hi-lo, 0)+1) }
	every := b.Tick * time.Duration(lease) / 2
	shape := rng.IntN(3)
	if !beyond {
		if maxDelta < 2 || skew < 2 {
			shape = 0 // NB: no room for drift; a zero jump is a no-op
		}
		switch shape {
		case 0:
			return Skew{Jump: sign * between(1, max(skew-1, 0))}
		case 1:
			return Skew{Rate: 1000 + sign*between(maxDelta/2, maxDelta)}
		default:
			d := between(maxDelta/2, maxDelta)
			return Skew{Rate: 1000 + d, StrobeRate: 1000 - d, StrobeEvery: every}
		}
	}
	switch shape {
	case 0:
		return Skew{Jump: sign * between(lease+skew, 3*lease)}
	case 1:
		if sign > 0 {
			return Skew{Rate: between(1500, 3000)}
		}
		return Skew{Rate: between(200, 600)}
	default:
		return Skew{Rate: between(1500, 3000), StrobeRate: between(200, 600), StrobeEvery: every}
	}
}

// Options narrow the sites a clock fault draws (default: any, one site or
// a minority).
type Options struct {
	Sites []string
	Sizes []string // nemesis.One, nemesis.Minority (default both)
}

type fault struct {
	c      *nemesis.Cluster
	b      Bounds
	beyond bool
	o      Options
}

// New is the "clock" fault: skews within the lease argument's bound.
func New(c *nemesis.Cluster, b Bounds, o Options) nemesis.Fault {
	return &fault{c: c, b: b, o: o}
}

// Beyond is the "clock-beyond" fault: skews past the bound, on purpose.
func Beyond(c *nemesis.Cluster, b Bounds, o Options) nemesis.Fault {
	return &fault{c: c, b: b, beyond: true, o: o}
}

func (f *fault) Kind() string {
	if f.beyond {
		return "clock-beyond"
	}
	return "clock"
}

func (f *fault) Start(ctx context.Context, rng *rand.Rand) (nemesis.Applied, error) {
	sizes := f.o.Sizes
	if len(sizes) == 0 {
		sizes = []string{nemesis.One, nemesis.Minority}
	}
	pool := f.o.Sites
	if len(pool) == 0 {
		pool = f.c.SiteIDs()
	}
	sites := nemesis.Subset(rng, pool, nemesis.Size(sizes[rng.IntN(len(sizes))], len(f.c.Hosts)))
	return Apply(ctx, f.c, f.Kind(), DrawSkew(rng, f.b, f.beyond), sites)
}

// HealAll sets every site's rate back to real time and its offset to 0.
func (f *fault) HealAll(ctx context.Context) error {
	var errs []error
	for _, h := range f.c.Hosts {
		if _, err := SetRate(ctx, h, 1000); err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := Read(ctx, h)
		if err == nil && st.OffsetTicks != 0 {
			_, err = AddOffset(ctx, h, -st.OffsetTicks)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// applied is a skew in force.
type applied struct {
	kind  string
	skew  Skew
	hosts []nemesis.Host
	sites []string
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

func (a *applied) Detail() string  { return fmt.Sprintf("%s %v", a.skew, a.sites) }
func (a *applied) Sites() []string { return a.sites }

// Apply puts skew on sites now; kind labels it ("clock" or "clock-beyond").
func Apply(ctx context.Context, c *nemesis.Cluster, kind string, skew Skew, sites []string) (nemesis.Applied, error) {
	a := &applied{kind: kind, skew: skew, sites: sites}
	for _, s := range sites {
		h, ok := c.Host(s)
		if !ok {
			return nil, fmt.Errorf("site %q is not in the cluster %v", s, c.SiteIDs())
		}
		a.hosts = append(a.hosts, h)
	}
	var errs []error
	for _, h := range a.hosts {
		if skew.Jump != 0 {
			if _, err := AddOffset(ctx, h, skew.Jump); err != nil {
				errs = append(errs, err)
			}
		}
		if skew.Rate != 0 {
			if _, err := SetRate(ctx, h, skew.Rate); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if skew.StrobeRate != 0 && skew.StrobeEvery > 0 {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		a.stop = cancel
		a.wg.Add(1)
		go a.strobe(sctx)
	}
	return a, errors.Join(errs...)
}

func (a *applied) strobe(ctx context.Context) {
	defer a.wg.Done()
	t := time.NewTicker(a.skew.StrobeEvery)
	defer t.Stop()
	fast := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fast = !fast
		rate := a.skew.Rate
		if !fast {
			rate = a.skew.StrobeRate
		}
		for _, h := range a.hosts {
			_, _ = SetRate(ctx, h, rate) // NB: a site down for a moment misses a flip; heal resets it
		}
	}
}

func (a *applied) Heal(ctx context.Context) error {
	if a.stop != nil {
		a.stop()
		a.wg.Wait()
	}
	var errs []error
	for _, h := range a.hosts {
		if a.skew.Rate != 0 {
			if _, err := SetRate(ctx, h, 1000); err != nil {
				errs = append(errs, err)
			}
		}
		if a.skew.Jump != 0 {
			if _, err := AddOffset(ctx, h, -a.skew.Jump); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
