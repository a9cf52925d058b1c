package partition

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/client"

	"github.com/megastore-verified/megastore/nemesis"
)

// Chains holding the rules, one per fault kind so one heal never undoes
// the other.
const (
	ChainPartition = "MEGASTORE-PARTITION"
	ChainLoss      = "MEGASTORE-LOSS"
)

// Shape names a partition shape.
type Shape string

// The shapes the "partition" fault draws from (see the package doc).
const (
	Isolate       Shape = "isolate"
	Halves        Shape = "halves"
	Bridge        Shape = "bridge"
	Ring          Shape = "ring"
	MinorityThird Shape = "minority-third"
	OneWayOut     Shape = "one-way-out"
	OneWayIn      Shape = "one-way-in"
	RandomLinks   Shape = "random-links"
)

// Shapes is every shape.
var Shapes = []Shape{Isolate, Halves, Bridge, Ring, MinorityThird, OneWayOut, OneWayIn, RandomLinks}

// Link is a directed site-to-site link: messages from From to To.
type Link struct{ From, To string }

// Draw picks the links a shape cuts among sites, and a detail naming them
// for a person. It depends only on rng.
func Draw(shape Shape, rng *rand.Rand, sites []string) (string, []Link) {
	n := len(sites)
	perm := make([]string, n)
	for i, j := range rng.Perm(n) {
		perm[i] = sites[j]
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	// groups: no links between different groups; sites in no group talk
	// to everyone.
	apart := func(groups ...[]string) []Link {
		var out []Link
		for i, g := range groups {
			for j, h := range groups {
				if i == j {
					continue
				}
				for _, a := range g {
					for _, b := range h {
						out = append(out, Link{a, b})
					}
				}
			}
		}
		return out
	}
	switch shape {
	case Isolate:
		return fmt.Sprintf("isolate %s", perm[0]), apart(perm[:1], perm[1:])
	case Halves:
		a, b := sorted(perm[:n/2]), sorted(perm[n/2:])
		return fmt.Sprintf("halves %v %v", a, b), apart(a, b)
	case Bridge:
		k := (n - 1) / 2
		a, b := sorted(perm[:k]), sorted(perm[k+1:])
		return fmt.Sprintf("bridge %s between %v %v", perm[k], a, b), apart(a, b)
	case Ring:
		// Talk within ring distance d, where 2d+1 sites are a majority.
		d := (n/2 + 1) / 2
		var out []Link
		for i := range n {
			for j := range n {
				dist := min((i-j+n)%n, (j-i+n)%n)
				if dist > d {
					out = append(out, Link{perm[i], perm[j]})
				}
			}
		}
		return fmt.Sprintf("ring %v", perm), out
	case MinorityThird:
		k := (n + 2) / 3
		a, b, c := sorted(perm[:min(k, n)]), sorted(perm[min(k, n):min(2*k, n)]), sorted(perm[min(2*k, n):])
		return fmt.Sprintf("minority-third %v %v %v", a, b, c), apart(a, b, c)
	case OneWayOut, OneWayIn:
		var out []Link
		for _, o := range perm[1:] {
			if shape == OneWayOut {
				out = append(out, Link{perm[0], o})
			} else {
				out = append(out, Link{o, perm[0]})
			}
		}
		if shape == OneWayOut {
			return fmt.Sprintf("one-way %s -> nobody", perm[0]), out
		}
		return fmt.Sprintf("one-way nobody -> %s", perm[0]), out
	default: // RandomLinks
		var out []Link
		var names []string
		for _, a := range sites {
			for _, b := range sites {
				if a != b && rng.IntN(3) == 0 {
					out = append(out, Link{a, b})
					names = append(names, a+"->"+b)
				}
			}
		}
		return fmt.Sprintf("random-links %s", strings.Join(names, " ")), out
	}
}

// Options narrow what the "partition" fault draws from.
type Options struct {
	Shapes []Shape // default Shapes
	// Isolate, if set, is where the Isolate shape draws the site it cuts
	// off (default: any site). A run that must see a coordinator lose its
	// lease names the full sites.
	Isolate []string
}

type partitionFault struct {
	cli *client.Client
	c   *nemesis.Cluster
	o   Options
}

// New is the "partition" fault.
func New(cli *client.Client, c *nemesis.Cluster, o Options) nemesis.Fault {
	if len(o.Shapes) == 0 {
		o.Shapes = Shapes
	}
	return &partitionFault{cli: cli, c: c, o: o}
}

func (f *partitionFault) Kind() string { return "partition" }

// draw picks a shape and its links as the options say (Shapes set).
func (o Options) draw(rng *rand.Rand, sites []string) (string, []Link) {
	shape := o.Shapes[rng.IntN(len(o.Shapes))]
	if shape != Isolate || len(o.Isolate) == 0 {
		return Draw(shape, rng, sites)
	}
	x := o.Isolate[rng.IntN(len(o.Isolate))]
	var links []Link
	for _, y := range sites {
		if y != x {
			links = append(links, Link{x, y}, Link{y, x})
		}
	}
	return fmt.Sprintf("isolate %s", x), links
}

func (f *partitionFault) Start(ctx context.Context, rng *rand.Rand) (nemesis.Applied, error) {
	detail, links := f.o.draw(rng, f.c.SiteIDs())
	return Cut(ctx, f.cli, f.c, detail, links)
}

func (f *partitionFault) HealAll(ctx context.Context) error {
	return flushAll(ctx, f.cli, f.c, ChainPartition)
}

// Cut drops every message on links now.
func Cut(ctx context.Context, cli *client.Client, c *nemesis.Cluster, detail string, links []Link) (nemesis.Applied, error) {
	return apply(ctx, cli, c, ChainPartition, detail, links, nil)
}

// LossOptions bound the "loss" fault's drop probability.
type LossOptions struct {
	MinPercent, MaxPercent int // default 5 and 20
}

type lossFault struct {
	cli *client.Client
	c   *nemesis.Cluster
	o   LossOptions
}

// Loss is the "loss" fault: random packet loss on every site-to-site link.
func Loss(cli *client.Client, c *nemesis.Cluster, o LossOptions) nemesis.Fault {
	if o.MinPercent <= 0 {
		o.MinPercent = 5
	}
	if o.MaxPercent < o.MinPercent {
		o.MaxPercent = max(o.MinPercent, 20)
	}
	return &lossFault{cli: cli, c: c, o: o}
}

func (f *lossFault) Kind() string { return "loss" }

func (f *lossFault) Start(ctx context.Context, rng *rand.Rand) (nemesis.Applied, error) {
	pct := f.o.MinPercent + rng.IntN(f.o.MaxPercent-f.o.MinPercent+1)
	return Lose(ctx, f.cli, f.c, float64(pct)/100)
}

func (f *lossFault) HealAll(ctx context.Context) error { return flushAll(ctx, f.cli, f.c, ChainLoss) }

// Lose drops a fraction p of the packets on every site-to-site link now.
func Lose(ctx context.Context, cli *client.Client, c *nemesis.Cluster, p float64) (nemesis.Applied, error) {
	var links []Link
	for _, a := range c.SiteIDs() {
		for _, b := range c.SiteIDs() {
			if a != b {
				links = append(links, Link{a, b})
			}
		}
	}
	match := []string{"-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(p, 'f', 3, 64)}
	return apply(ctx, cli, c, ChainLoss, fmt.Sprintf("loss %.0f%% on every link", p*100), links, match)
}

// applied is a set of rules in force.
type applied struct {
	cli    *client.Client
	c      *nemesis.Cluster
	chain  string
	detail string
	hosts  []string // sites whose namespace holds rules
	sites  []string // sites on a link it cuts
}

func (a *applied) Detail() string  { return a.detail }
func (a *applied) Sites() []string { return a.sites }

func (a *applied) Heal(ctx context.Context) error {
	var errs []error
	for _, s := range a.hosts {
		h, _ := a.c.Host(s)
		errs = append(errs, flush(ctx, a.cli, h, a.chain))
	}
	return errors.Join(errs...)
}

func apply(ctx context.Context, cli *client.Client, c *nemesis.Cluster, chain, detail string, links []Link, match []string) (nemesis.Applied, error) {
	a := &applied{cli: cli, c: c, chain: chain, detail: detail}
	byFrom := map[string][]Link{}
	involved := map[string]bool{}
	for _, l := range links {
		if _, ok := c.Host(l.From); !ok {
			return nil, fmt.Errorf("link %s->%s: site %q is not in the cluster", l.From, l.To, l.From)
		}
		if _, ok := c.Host(l.To); !ok {
			return nil, fmt.Errorf("link %s->%s: site %q is not in the cluster", l.From, l.To, l.To)
		}
		byFrom[l.From] = append(byFrom[l.From], l)
		involved[l.From], involved[l.To] = true, true
	}
	for s := range involved {
		a.sites = append(a.sites, s)
	}
	slices.Sort(a.sites)
	var errs []error
	for _, h := range c.Hosts {
		ls := byFrom[h.Site]
		if len(ls) == 0 {
			continue
		}
		var rules [][]string
		for _, l := range ls {
			to, _ := c.Host(l.To)
			dsts := append([]netip.AddrPort{netip.AddrPortFrom(to.Addr, to.PeerPort)}, c.LinkAddrs[[2]string{l.From, l.To}]...)
			for _, d := range dsts {
				r := []string{"-A", chain, "-p", "tcp", "-d", d.Addr().String(), "--dport", strconv.Itoa(int(d.Port()))}
				r = append(append(r, match...), "-j", "DROP")
				rules = append(rules, r)
			}
		}
		a.hosts = append(a.hosts, h.Site)
		if err := install(ctx, cli, h, chain, rules); err != nil {
			errs = append(errs, fmt.Errorf("site %s: %w", h.Site, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return a, err // NB: Heal flushes whatever went in
	}
	return a, nil
}

// pid is the host pid of a container's init, whose netns is the
// container's.
func pid(ctx context.Context, cli *client.Client, h nemesis.Host) (int, error) {
	st, err := cli.ContainerInspect(ctx, h.ContainerID)
	if err != nil {
		return 0, err
	}
	if st.State == nil || st.State.Pid == 0 {
		return 0, fmt.Errorf("container of site %s is not running", h.Site)
	}
	return st.State.Pid, nil
}

// IPTables runs iptables in a site's network namespace and returns its
// output.
func IPTables(ctx context.Context, cli *client.Client, h nemesis.Host, args ...string) (string, error) {
	p, err := pid(ctx, cli, h)
	if err != nil {
		return "", err
	}
	full := append([]string{"-t", strconv.Itoa(p), "-n", "iptables", "-w", "5"}, args...)
	out, err := exec.CommandContext(ctx, "nsenter", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("nsenter -t %d -n iptables %s: %v: %s", p, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func install(ctx context.Context, cli *client.Client, h nemesis.Host, chain string, rules [][]string) error {
	if _, err := IPTables(ctx, cli, h, "-S", chain); err != nil {
		if _, err := IPTables(ctx, cli, h, "-N", chain); err != nil {
			return err
		}
	}
	if _, err := IPTables(ctx, cli, h, "-C", "OUTPUT", "-j", chain); err != nil {
		if _, err := IPTables(ctx, cli, h, "-I", "OUTPUT", "1", "-j", chain); err != nil {
			return err
		}
	}
	for _, r := range rules {
		if _, err := IPTables(ctx, cli, h, r...); err != nil {
			return err
		}
	}
	return nil
}

// flush empties chain in h's namespace; a namespace without the chain
// (never cut, or restarted since) or a stopped container has nothing to
// heal.
func flush(ctx context.Context, cli *client.Client, h nemesis.Host, chain string) error {
	if _, err := pid(ctx, cli, h); err != nil {
		return nil
	}
	if _, err := IPTables(ctx, cli, h, "-S", chain); err != nil {
		return nil
	}
	_, err := IPTables(ctx, cli, h, "-F", chain)
	return err
}

func flushAll(ctx context.Context, cli *client.Client, c *nemesis.Cluster, chain string) error {
	var errs []error
	for _, h := range c.Hosts {
		errs = append(errs, flush(ctx, cli, h, chain))
	}
	return errors.Join(errs...)
}
