package siteconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/wire"
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("cluster config")

// Site is one member as cluster.json lists it.
type Site struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // full, witness or readonly
	// PeerAddr serves site-to-site gRPC (Peer.Deliver): the address the
	// other sites dial, unless a Link overrides it for one sender.
	PeerAddr string `json:"peer_addr"`
	// PeerListenAddr, if set, is where this site binds its peer server
	// instead of PeerAddr: a container listens on 0.0.0.0:7000 while peers
	// dial its network address, or a link proxy stands in between.
	PeerListenAddr string `json:"peer_listen_addr,omitempty"`
	// ClientAddr serves the client gRPC API.
	ClientAddr string `json:"client_addr"`
	// HTTPAddr serves /metrics, /healthz and, with --test-admin, /admin/.
	HTTPAddr string `json:"http_addr"`
}

// File is cluster.json.
type File struct {
	Sites []Site `json:"sites"`
	// InitialLeader is the leader of every group's position 1 (default: the
	// first full site).
	InitialLeader string `json:"initial_leader,omitempty"`
	// TickMs is the wall-time length of one core tick (default 5). Every
	// core timeout and lease is counted in ticks.
	TickMs int `json:"tick_ms,omitempty"`
	// LeaseTicks and ClockSkewTicks override the core's defaults if set.
	LeaseTicks     uint64 `json:"lease_ticks,omitempty"`
	ClockSkewTicks uint64 `json:"clock_skew_ticks,omitempty"`
	// MaxValueBytes, if set, raises or lowers the largest value one
	// mutation may carry (the core's default is 1 MiB; at most
	// MaxValueBytesLimit). Catch-up answers then carry fewer entries, so
	// one still fits a peer message.
	MaxValueBytes int `json:"max_value_bytes,omitempty"`
	// RetainPositions is how many applied positions of each group's log a
	// site keeps before it truncates them and compacts old data versions
	// (core.Config.RetainPositions); absent: core.DefaultRetainPositions;
	// 0: never truncate.
	RetainPositions *uint64 `json:"retain_positions,omitempty"`
	// Links override, for one directed link, the address the sender dials
	// (a link proxy that forwards to the receiver's peer address).
	Links []Link `json:"links,omitempty"`
}

// Link is one directed link's dial override: site From sends to site To by
// dialling Dial instead of To's peer_addr.
type Link struct {
	From string `json:"from"`
	To   string `json:"to"`
	Dial string `json:"dial"`
}

// PeerListen returns the address site s binds its peer server on.
func (s Site) PeerListen() string {
	if s.PeerListenAddr != "" {
		return s.PeerListenAddr
	}
	return s.PeerAddr
}

// Kinds maps cluster.json's kind names to core kinds.
var Kinds = map[string]core.SiteKind{"full": core.Full, "witness": core.Witness, "readonly": core.ReadOnly}

// MaxValueBytesLimit bounds max_value_bytes: a Put of such a value stays
// far under the client port's 64 MiB request limit.
const MaxValueBytesLimit = 16 << 20

// DefaultTickMs is the tick length when cluster.json gives none.
const DefaultTickMs = 5

// Load reads and validates a cluster.json.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse decodes and validates cluster.json's bytes. Unknown fields are
// errors: a misspelt field would otherwise be silently ignored.
func Parse(b []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalid)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Validate checks every field and relationship; the core's own config checks
// run too, so a file that passes starts.
func (f *File) Validate() error {
	if len(f.Sites) == 0 {
		return bad(`"sites" is empty: list at least one site`)
	}
	if f.TickMs < 0 || f.TickMs > 1000 {
		return bad(`"tick_ms" %d is outside 1..1000 (0 means the default %d)`, f.TickMs, DefaultTickMs)
	}
	if f.MaxValueBytes < 0 || f.MaxValueBytes > MaxValueBytesLimit {
		return bad(`"max_value_bytes" %d is outside 1..%d (0 means the default)`, f.MaxValueBytes, MaxValueBytesLimit)
	}
	ids := map[string]bool{}
	addrs := map[string]string{}
	for i, s := range f.Sites {
		where := fmt.Sprintf("sites[%d]", i)
		if _, err := wire.ParseSiteName(s.ID); err != nil {
			return bad(`%s "id": %v`, where, err)
		}
		where = fmt.Sprintf("site %q", s.ID)
		if ids[s.ID] {
			return bad("%s is listed twice", where)
		}
		ids[s.ID] = true
		if _, ok := Kinds[s.Kind]; !ok {
			return bad(`%s "kind" is %q; want full, witness or readonly`, where, s.Kind)
		}
		for _, a := range []struct{ field, addr string }{
			{"peer_addr", s.PeerAddr}, {"client_addr", s.ClientAddr}, {"http_addr", s.HTTPAddr},
		} {
			if err := checkAddr(a.addr); err != nil {
				return bad(`%s %q: %v`, where, a.field, err)
			}
			if other, dup := addrs[a.addr]; dup {
				return bad(`%s %q %s is already used by %s`, where, a.field, a.addr, other)
			}
			addrs[a.addr] = fmt.Sprintf("site %q %s", s.ID, a.field)
		}
		// NB: listen addresses are not checked for reuse across sites:
		// every container binds 0.0.0.0:7000 in its own network namespace.
		if s.PeerListenAddr != "" {
			if err := checkAddr(s.PeerListenAddr); err != nil {
				return bad(`%s "peer_listen_addr": %v`, where, err)
			}
		}
	}
	if f.InitialLeader != "" && !ids[f.InitialLeader] {
		return bad(`"initial_leader" %q is not a listed site`, f.InitialLeader)
	}
	if err := f.validateLinks(ids); err != nil {
		return err
	}
	cfg, err := f.CoreConfig(core.SiteID(f.Sites[0].ID))
	if err != nil {
		return err
	}
	cfg.Rand = zeroRand{}
	if err := cfg.Validate(); err != nil {
		return bad("%v", err)
	}
	return nil
}

// validateLinks checks the dial overrides: members only, one override per
// directed link, and no dial address that reaches the wrong site.
func (f *File) validateLinks(ids map[string]bool) error {
	seen := map[[2]string]bool{}
	dialTo := map[string]string{} // dial address -> the site it must reach
	used := map[string]string{}   // a site's own address -> whose and which
	for _, s := range f.Sites {
		used[s.PeerAddr] = fmt.Sprintf("the peer_addr of site %q", s.ID)
		used[s.ClientAddr] = fmt.Sprintf("the client_addr of site %q", s.ID)
		used[s.HTTPAddr] = fmt.Sprintf("the http_addr of site %q", s.ID)
	}
	for i, l := range f.Links {
		where := fmt.Sprintf("links[%d]", i)
		for _, end := range []struct{ field, id string }{{"from", l.From}, {"to", l.To}} {
			if !ids[end.id] {
				return bad(`%s %q %q is not a listed site`, where, end.field, end.id)
			}
		}
		if l.From == l.To {
			return bad(`%s: "from" and "to" are both %q; a site does not dial itself`, where, l.From)
		}
		key := [2]string{l.From, l.To}
		if seen[key] {
			return bad(`%s: the link %s->%s is listed twice`, where, l.From, l.To)
		}
		seen[key] = true
		if err := checkAddr(l.Dial); err != nil {
			return bad(`%s (%s->%s) "dial": %v`, where, l.From, l.To, err)
		}
		if to, _ := f.Site(l.To); l.Dial != to.PeerAddr && used[l.Dial] != "" {
			return bad(`%s (%s->%s) "dial" %s is %s, which does not reach %q`, where, l.From, l.To, l.Dial, used[l.Dial], l.To)
		}
		if other, ok := dialTo[l.Dial]; ok && other != l.To {
			return bad(`%s (%s->%s) "dial" %s is also the dial address of a link to %q`, where, l.From, l.To, l.Dial, other)
		}
		dialTo[l.Dial] = l.To
	}
	return nil
}

// DialAddrs returns the address site from dials to reach each other site:
// the link override if any, else the receiver's peer_addr.
func (f *File) DialAddrs(from string) map[core.SiteID]string {
	out := map[core.SiteID]string{}
	for _, s := range f.Sites {
		if s.ID != from {
			out[core.SiteID(s.ID)] = s.PeerAddr
		}
	}
	for _, l := range f.Links {
		if l.From == from {
			out[core.SiteID(l.To)] = l.Dial
		}
	}
	return out
}

type zeroRand struct{}

func (zeroRand) Uint64() uint64 { return 0 }

func checkAddr(addr string) error {
	if addr == "" {
		return errors.New("missing; want host:port such as 127.0.0.1:7001")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number in 1..65535", addr, port)
	}
	if host == "" {
		return fmt.Errorf("%q has no host; name the interface, e.g. 127.0.0.1:%d", addr, n)
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "localhost" {
		return fmt.Errorf("%q: host %q is not an IP address or localhost", addr, host)
	}
	return nil
}

// Site returns the entry of site id, or an error listing the members.
func (f *File) Site(id string) (Site, error) {
	var names []string
	for _, s := range f.Sites {
		if s.ID == id {
			return s, nil
		}
		names = append(names, s.ID)
	}
	return Site{}, bad("site %q is not in the config; members are %v", id, names)
}

// Members returns the core membership, in file order (the order gives each
// site its ballot suffix, so every process must read the same file).
func (f *File) Members() []core.Site {
	out := make([]core.Site, len(f.Sites))
	for i, s := range f.Sites {
		out[i] = core.Site{ID: core.SiteID(s.ID), Kind: Kinds[s.Kind]}
	}
	return out
}

// Tick is the wall-time length of one tick.
func (f *File) Tick() time.Duration {
	if f.TickMs == 0 {
		return DefaultTickMs * time.Millisecond
	}
	return time.Duration(f.TickMs) * time.Millisecond
}

// CoreConfig returns the core configuration of site self (Rand unset).
func (f *File) CoreConfig(self core.SiteID) (core.Config, error) {
	if _, err := f.Site(string(self)); err != nil {
		return core.Config{}, err
	}
	cfg := core.DefaultConfig(self, f.Members())
	cfg.RetainPositions = core.DefaultRetainPositions
	if f.RetainPositions != nil {
		cfg.RetainPositions = *f.RetainPositions
	}
	if f.InitialLeader != "" {
		cfg.InitialLeader = core.SiteID(f.InitialLeader)
	}
	if f.LeaseTicks != 0 {
		cfg.LeaseDurationTicks = f.LeaseTicks
		cfg.LeaseRenewTicks = max(1, f.LeaseTicks/4)
	}
	if f.ClockSkewTicks != 0 {
		cfg.ClockSkewTicks = f.ClockSkewTicks
	}
	if f.MaxValueBytes != 0 {
		// NB: keep MaxCatchUpEntries x MaxValueBytes at the default's product
		// (256 x 1 MiB), which peer.MaxMessageBytes is sized for.
		budget := cfg.MaxCatchUpEntries * cfg.MaxValueBytes
		cfg.MaxValueBytes = f.MaxValueBytes
		cfg.MaxCatchUpEntries = max(1, min(cfg.MaxCatchUpEntries, budget/f.MaxValueBytes))
	}
	return cfg, nil
}
