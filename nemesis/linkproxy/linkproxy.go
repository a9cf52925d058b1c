package linkproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"

	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// Target is one site the proxies forward to.
type Target struct {
	Site
	// Peer is the site's peer address as the host reaches it (its
	// container address and peer port).
	Peer netip.AddrPort
}

// Set is one proxy per directed link between a run's sites.
type Set struct {
	sites []Site
	base  Profile
	api   *toxiproxy.ApiServer

	mu      sync.Mutex
	proxies map[Link]*toxiproxy.Proxy
	addrs   map[Link]netip.AddrPort
	shapes  map[Link]Shape // in force
}

// ErrUnknownLink: a link that is not between two of the set's sites.
var ErrUnknownLink = errors.New("linkproxy: no such link")

// Start listens on host (the Docker network's gateway in a suite run,
// 127.0.0.1 in tests), on a free port per directed link between sites, and
// forwards each link's connections to its receiver's peer address, shaped
// by profile base. Close stops every proxy.
func Start(host netip.Addr, sites []Target, base Profile) (*Set, error) {
	if !host.IsValid() {
		return nil, errors.New("linkproxy: no host address to listen on")
	}
	if len(sites) < 2 {
		return nil, fmt.Errorf("linkproxy: %d sites; a link needs two", len(sites))
	}
	// NB: Toxiproxy's toxics log through zerolog's global logger, at trace
	// level, whatever logger the server was given: a bandwidth cap healed
	// mid-run printed a JSON line per interrupted connection among the
	// runner's progress lines. Nothing else in this module uses zerolog.
	zlog.Logger = zerolog.Nop()
	s := &Set{
		base:    base,
		api:     toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		proxies: map[Link]*toxiproxy.Proxy{},
		addrs:   map[Link]netip.AddrPort{},
		shapes:  map[Link]Shape{},
	}
	seen := map[string]bool{}
	for _, t := range sites {
		if t.ID == "" || seen[t.ID] {
			return nil, fmt.Errorf("linkproxy: site id %q is empty or listed twice", t.ID)
		}
		if !t.Peer.IsValid() {
			return nil, fmt.Errorf("linkproxy: site %q has no peer address", t.ID)
		}
		seen[t.ID] = true
		s.sites = append(s.sites, t.Site)
	}
	for _, from := range sites {
		for _, to := range sites {
			if from.ID == to.ID {
				continue
			}
			l := Link{from.ID, to.ID}
			p := toxiproxy.NewProxy(s.api, l.String(), netip.AddrPortFrom(host, 0).String(), to.Peer.String())
			if err := p.Start(); err != nil {
				s.Close()
				return nil, fmt.Errorf("linkproxy: starting the proxy of %s on %s: %w", l, host, err)
			}
			s.proxies[l] = p
			addr, err := netip.ParseAddrPort(p.Listen)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("linkproxy: proxy of %s listens on %q: %w", l, p.Listen, err)
			}
			s.addrs[l] = addr
		}
	}
	if err := s.SetShapes(base.Shapes(s.sites)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Sites returns the sites, in the order given to Start.
func (s *Set) Sites() []Site { return append([]Site(nil), s.sites...) }

// Base returns the run's base profile, which Heal restores.
func (s *Set) Base() Profile { return s.base }

// Addrs returns, for each directed link, the address its sender dials.
func (s *Set) Addrs() map[Link]netip.AddrPort {
	out := make(map[Link]netip.AddrPort, len(s.addrs))
	for l, a := range s.addrs {
		out[l] = a
	}
	return out
}

// ConfigLinks returns the dial overrides for cluster.json's "links", in a
// stable order.
func (s *Set) ConfigLinks() []siteconfig.Link {
	var out []siteconfig.Link
	for _, l := range sortedLinks(s.addrs) {
		out = append(out, siteconfig.Link{From: l.From, To: l.To, Dial: s.addrs[l].String()})
	}
	return out
}

// LinkAddrs returns the addresses in the shape of nemesis.Cluster.LinkAddrs,
// so a partition cuts the proxied links too.
func (s *Set) LinkAddrs() map[[2]string][]netip.AddrPort {
	out := map[[2]string][]netip.AddrPort{}
	for l, a := range s.addrs {
		out[[2]string{l.From, l.To}] = []netip.AddrPort{a}
	}
	return out
}

// Shapes returns the shape in force on every link.
func (s *Set) Shapes() map[Link]Shape {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Link]Shape, len(s.shapes))
	for l, sh := range s.shapes {
		out[l] = sh
	}
	return out
}

// Apply puts profile p in force on every link.
func (s *Set) Apply(p Profile) error { return s.SetShapes(p.Shapes(s.sites)) }

// Heal restores the base profile.
func (s *Set) Heal() error { return s.Apply(s.base) }

// SetShapes puts shapes in force; a link it does not name keeps its shape.
// The shape of link a->b delays the bytes a sends to b on a's connections
// (the proxy a->b, upstream) and the bytes b's connections return to a (the
// proxy b->a, downstream: acknowledgements and flow-control updates travel
// the same physical path as data from a to b).
func (s *Set) SetShapes(shapes map[Link]Shape) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range shapes {
		if s.proxies[l] == nil {
			return fmt.Errorf("%w: %s", ErrUnknownLink, l)
		}
	}
	for l, sh := range shapes {
		if sh.LatencyMs < 0 || sh.JitterMs < 0 || sh.RateKBps < 0 || sh.JitterMs > sh.LatencyMs {
			return fmt.Errorf("linkproxy: shape %+v of %s: want non-negative values and jitter at most the latency", sh, l)
		}
	}
	for l, sh := range shapes {
		s.shapes[l] = sh
	}
	// Every proxy whose own or reverse link changed is rebuilt.
	touched := map[Link]bool{}
	for l := range shapes {
		touched[l] = true
		touched[Link{l.To, l.From}] = true
	}
	for _, l := range sortedLinks(touched) {
		if err := s.setToxicsLocked(l); err != nil {
			return err
		}
	}
	return nil
}

// setToxicsLocked makes proxy l's toxics match the shapes of l (upstream)
// and of its reverse (downstream).
func (s *Set) setToxicsLocked(l Link) error {
	p := s.proxies[l]
	p.Toxics.ResetToxics(context.Background())
	for _, t := range []struct {
		stream string
		shape  Shape
	}{{"upstream", s.shapes[l]}, {"downstream", s.shapes[Link{l.To, l.From}]}} {
		if t.shape.LatencyMs > 0 || t.shape.JitterMs > 0 {
			if err := addToxic(p, "latency_"+t.stream, "latency", t.stream,
				map[string]int{"latency": t.shape.LatencyMs, "jitter": t.shape.JitterMs}); err != nil {
				return fmt.Errorf("linkproxy: %s: %w", l, err)
			}
		}
		if t.shape.RateKBps > 0 {
			if err := addToxic(p, "bandwidth_"+t.stream, "bandwidth", t.stream,
				map[string]int{"rate": t.shape.RateKBps}); err != nil {
				return fmt.Errorf("linkproxy: %s: %w", l, err)
			}
		}
	}
	return nil
}

func addToxic(p *toxiproxy.Proxy, name, kind, stream string, attrs map[string]int) error {
	b, err := json.Marshal(map[string]any{"name": name, "type": kind, "stream": stream, "toxicity": 1.0, "attributes": attrs})
	if err != nil {
		return err
	}
	_, err = p.Toxics.AddToxicJson(bytes.NewReader(b))
	return err
}

// toxicCount returns how many toxics proxy l runs (tests).
func (s *Set) toxicCount(l Link) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.proxies[l].Toxics.GetToxicArray())
}

// Stop stops link l's proxy: its connections are closed and new ones
// refused until Resume, so the link is cut.
func (s *Set) Stop(l Link) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proxies[l]
	if p == nil {
		return fmt.Errorf("%w: %s", ErrUnknownLink, l)
	}
	p.Stop()
	return nil
}

// Resume restarts link l's proxy on the same address.
func (s *Set) Resume(l Link) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proxies[l]
	if p == nil {
		return fmt.Errorf("%w: %s", ErrUnknownLink, l)
	}
	if p.Enabled {
		return nil
	}
	var err error
	for range 50 { // NB: the port of a just-closed listener may take a moment
		if err = p.Start(); err == nil {
			return nil
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) {
			break
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		s.mu.Lock()
	}
	return fmt.Errorf("linkproxy: restarting the proxy of %s: %w", l, err)
}

// Close stops every proxy.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range sortedLinks(s.proxies) {
		s.proxies[l].Stop()
	}
}
