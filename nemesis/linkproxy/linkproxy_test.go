package linkproxy

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// echo serves TCP on loopback, echoing every byte.
func echo(t *testing.T) netip.AddrPort {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return netip.MustParseAddrPort(lis.Addr().String())
}

func startSet(t *testing.T, kinds []string, base string) *Set {
	t.Helper()
	p, err := ProfileByName(base)
	if err != nil {
		t.Fatal(err)
	}
	var targets []Target
	for i, k := range kinds {
		targets = append(targets, Target{Site: Site{ID: string(rune('a' + i)), Kind: k}, Peer: echo(t)})
	}
	s, err := Start(loopback, targets, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// roundTrip sends n bytes through link l and waits for their echo.
func roundTrip(t *testing.T, s *Set, l Link, n int) time.Duration {
	t.Helper()
	c, err := net.Dial("tcp", s.Addrs()[l].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	go func() { _, _ = c.Write(make([]byte, n)) }()
	if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

func TestLatencyLowerBound(t *testing.T) {
	s := startSet(t, []string{"full", "full"}, "lan")
	ab, ba := Link{"a", "b"}, Link{"b", "a"}
	if err := s.SetShapes(map[Link]Shape{ab: {LatencyMs: 100}}); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(t, s, ab, 16); d < 100*time.Millisecond {
		t.Errorf("a->b 100 ms one way: round trip %v", d)
	}
	// The reverse shape delays what returns on a's connection.
	if err := s.SetShapes(map[Link]Shape{ba: {LatencyMs: 60, JitterMs: 20}}); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(t, s, ab, 16); d < 140*time.Millisecond {
		t.Errorf("a->b 100 ms, b->a 60±20 ms: round trip %v, want at least 140 ms", d)
	}
	t.Logf("figures: round trip with 100 ms + 60±20 ms one way: %v", roundTrip(t, s, ab, 16))
}

func TestBandwidthCap(t *testing.T) {
	s := startSet(t, []string{"full", "full"}, "lan")
	ab := Link{"a", "b"}
	if err := s.SetShapes(map[Link]Shape{ab: {RateKBps: 32}}); err != nil {
		t.Fatal(err)
	}
	// 64000 bytes at 32 bytes per ms take 2 s.
	d := roundTrip(t, s, ab, 64000)
	if d < 1800*time.Millisecond {
		t.Errorf("64000 bytes at 32 KB/s in %v, want at least about 2 s", d)
	}
	t.Logf("figures: 64000 bytes through a 32 KB/s cap: %v", d)
}

func TestProfilesAndHeal(t *testing.T) {
	s := startSet(t, []string{"full", "full", "full", "witness", "readonly"}, "three-regions")
	regions := s.Base().Regions(s.Sites())
	if regions["a"] != USEast || regions["b"] != USWest || regions["c"] != Europe || regions["d"] != USEast || regions["e"] != Europe {
		t.Fatalf("placement %v", regions)
	}
	want := map[Link]Shape{{"a", "b"}: {35, 4, 0}, {"b", "c"}: {70, 8, 0}, {"c", "a"}: {40, 5, 0}, {"a", "d"}: {1, 0, 0}, {"e", "b"}: {70, 8, 0}}
	shapes := s.Shapes()
	for l, w := range want {
		if shapes[l] != w {
			t.Errorf("three-regions %s: %v, want %v", l, shapes[l], w)
		}
	}
	if n := s.toxicCount(Link{"a", "b"}); n != 2 {
		t.Errorf("a->b runs %d toxics, want latency both ways", n)
	}
	lan, _ := ProfileByName("lan")
	if err := s.Apply(lan); err != nil {
		t.Fatal(err)
	}
	for l := range s.Addrs() {
		if n := s.toxicCount(l); n != 0 {
			t.Errorf("lan: %s runs %d toxics", l, n)
		}
	}
	if err := s.Heal(); err != nil {
		t.Fatal(err)
	}
	if got := s.Shapes(); got[Link{"b", "c"}] != want[Link{"b", "c"}] || s.toxicCount(Link{"b", "c"}) != 2 {
		t.Errorf("heal did not restore three-regions: %v", got[Link{"b", "c"}])
	}
	if _, err := ProfileByName("moon"); err == nil || !strings.Contains(err.Error(), "three-regions") {
		t.Errorf("unknown profile: %v", err)
	}
	if err := s.SetShapes(map[Link]Shape{{"a", "z"}: {LatencyMs: 1}}); err == nil {
		t.Error("a shape for an unknown link was taken")
	}
	if err := s.SetShapes(map[Link]Shape{{"a", "b"}: {LatencyMs: 1, JitterMs: 5}}); err == nil {
		t.Error("jitter above latency was taken")
	}
}

// The link fault changes links, depends only on its rng, draws every kind,
// and Heal restores the base profile on every link.
func TestFault(t *testing.T) {
	s := startSet(t, []string{"full", "full", "full", "witness", "readonly"}, "lan")
	base := s.Shapes()
	f := s.Fault()
	if f.Kind() != "link" {
		t.Fatal(f.Kind())
	}
	seen := map[string]bool{}
	for seed := range uint64(24) {
		var details [2]string
		for round := range 2 {
			a, err := f.Start(context.Background(), rand.New(rand.NewPCG(seed, 0)))
			if err != nil {
				t.Fatal(err)
			}
			details[round] = a.Detail()
			changed := 0
			for l, sh := range s.Shapes() {
				if sh != base[l] {
					changed++
				}
			}
			if changed == 0 || len(a.Sites()) == 0 {
				t.Errorf("seed %d: %q changed %d links, sites %v", seed, a.Detail(), changed, a.Sites())
			}
			if err := a.Heal(context.Background()); err != nil {
				t.Fatal(err)
			}
			for l, sh := range s.Shapes() {
				if sh != base[l] || s.toxicCount(l) != 0 {
					t.Fatalf("seed %d: after heal %s is %v with %d toxics", seed, l, sh, s.toxicCount(l))
				}
			}
		}
		if details[0] != details[1] {
			t.Errorf("seed %d drew %q then %q", seed, details[0], details[1])
		}
		seen[strings.Fields(details[0])[0]] = true
	}
	for _, k := range []string{"profile", "degrade", "cap", "slow"} {
		if !seen[k] {
			t.Errorf("24 seeds never drew a %q fault (drew %v)", k, seen)
		}
	}
}
