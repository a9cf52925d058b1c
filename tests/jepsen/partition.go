package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/megastore-verified/megastore/nemesis"
)

// chain is the iptables chain the partition fault owns in each
// container's network namespace; healing flushes it and nothing else.
const chain = "MEGASTORE-JEPSEN"

// partitionFault is the tests' own deterministic variant of
// nemesis/partition (isolateFull: a full site isolated every time, so a
// short run sees LocalReadAfterLeaseLoss). It cuts site-to-site traffic with iptables rules in the
// containers' network namespaces (entered from the host with nsenter):
// one site isolated from every other, the sites split in two random
// halves, two sides bridged by one site that talks to both, or one
// direction of one link cut (asymmetric). The host's client traffic (from the network's gateway) is never
// cut, so clients see what a site in a minority answers.
type partitionFault struct {
	env FaultEnv
	// isolateFull: every partition isolates one full site (a test's way to
	// make a coordinator lose its lease in a short run).
	isolateFull bool
}

func (f *partitionFault) Kind() string { return "partition" }

func (f *partitionFault) Start(ctx context.Context, rng *rand.Rand) (nemesis.Applied, error) {
	hosts := slices.Clone(f.env.Cluster.Hosts)
	rng.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
	a := &partitionApplied{f: f, hosts: hosts}
	rules := map[string][][]string{}
	cut := func(x, y nemesis.Host) { // both directions between x and y
		rules[x.Site] = append(rules[x.Site], []string{"-A", chain, "-s", y.Addr.String(), "-j", "DROP"},
			[]string{"-A", chain, "-d", y.Addr.String(), "-j", "DROP"})
		rules[y.Site] = append(rules[y.Site], []string{"-A", chain, "-s", x.Addr.String(), "-j", "DROP"},
			[]string{"-A", chain, "-d", x.Addr.String(), "-j", "DROP"})
	}
	between := func(as, bs []nemesis.Host) {
		for _, x := range as {
			for _, y := range bs {
				cut(x, y)
			}
		}
	}
	shape := rng.IntN(4)
	if f.isolateFull {
		for i, h := range hosts {
			if h.Kind == "full" {
				hosts[0], hosts[i] = hosts[i], hosts[0]
				break
			}
		}
		shape = 0
	}
	switch shape {
	case 0:
		a.detail = fmt.Sprintf("isolate [%s] | [%s]", names(hosts[:1]), names(hosts[1:]))
		between(hosts[:1], hosts[1:])
	case 1:
		half := len(hosts) / 2
		a.detail = fmt.Sprintf("halves [%s] | [%s]", names(hosts[:half]), names(hosts[half:]))
		between(hosts[:half], hosts[half:])
	case 2:
		// Two sides that cannot talk, and one site that talks to both.
		half := (len(hosts) - 1) / 2
		a.detail = fmt.Sprintf("bridge [%s] | %s | [%s]", names(hosts[:half]), hosts[half].Site, names(hosts[half+1:]))
		between(hosts[:half], hosts[half+1:])
	default:
		// One way: x's messages to y are lost, y's to x arrive. Each
		// direction of a link is its own connection (a site dials each peer's
		// peer port), so y drops only connections from x to its peer port.
		x, y := hosts[0], hosts[1]
		a.detail = fmt.Sprintf("one-way %s -> %s", x.Site, y.Site)
		rules[y.Site] = append(rules[y.Site], []string{"-A", chain, "-s", x.Addr.String(), "-p", "tcp",
			"--dport", strconv.Itoa(int(y.PeerPort)), "-j", "DROP"})
	}
	for _, h := range hosts {
		if len(rules[h.Site]) == 0 {
			continue
		}
		a.touched = append(a.touched, h)
		if err := f.apply(ctx, h, rules[h.Site]); err != nil {
			a.Heal(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return a, nil
}

// apply makes sure the chain exists and is jumped to from INPUT and
// OUTPUT, then appends rules.
func (f *partitionFault) apply(ctx context.Context, h nemesis.Host, rules [][]string) error {
	pid, err := f.pid(ctx, h)
	if err != nil {
		return err
	}
	ipt := func(args ...string) error {
		out, err := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(pid), "-n", "iptables", "-w"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("site %s: iptables %s: %v: %s", h.Site, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if ipt("-L", chain, "-n") != nil {
		if err := ipt("-N", chain); err != nil {
			return err
		}
		for _, hook := range []string{"INPUT", "OUTPUT"} {
			if err := ipt("-I", hook, "1", "-j", chain); err != nil {
				return err
			}
		}
	}
	for _, r := range rules {
		if err := ipt(r...); err != nil {
			return err
		}
	}
	return nil
}

func (f *partitionFault) pid(ctx context.Context, h nemesis.Host) (int, error) {
	st, err := f.env.Run.Cli.ContainerInspect(ctx, h.ContainerID)
	if err != nil {
		return 0, err
	}
	if st.State == nil || st.State.Pid == 0 {
		return 0, fmt.Errorf("site %s: its container is not running", h.Site)
	}
	return st.State.Pid, nil
}

type partitionApplied struct {
	f       *partitionFault
	hosts   []nemesis.Host
	touched []nemesis.Host // those with rules
	detail  string
}

func names(hs []nemesis.Host) string {
	var s []string
	for _, h := range hs {
		s = append(s, h.Site)
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

func (a *partitionApplied) Detail() string { return a.detail }

func (a *partitionApplied) Sites() []string { return strings.Fields(names(a.touched)) }

// Heal flushes the chain in every container (a container that is not
// running has no rules to flush).
func (a *partitionApplied) Heal(ctx context.Context) error {
	var errs []string
	for _, h := range a.hosts {
		pid, err := a.f.pid(ctx, h)
		if err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(pid), "-n", "iptables", "-w", "-F", chain).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "No chain") {
			errs = append(errs, fmt.Sprintf("site %s: %v: %s", h.Site, err, strings.TrimSpace(string(out))))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("heal partition: %s", strings.Join(errs, "; "))
	}
	return nil
}
