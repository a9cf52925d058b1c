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

// partitionFault cuts site-to-site traffic with iptables rules in the
// containers' network namespaces (entered from the host with nsenter):
// one site isolated from every other, or the sites split in two random
// halves. The host's client traffic (from the network's gateway) is never
// cut, so clients see what a site in a minority answers.
type partitionFault struct{ env FaultEnv }

func (f *partitionFault) Kind() string { return "partition" }

func (f *partitionFault) Start(ctx context.Context, rng *rand.Rand) (nemesis.Applied, error) {
	hosts := slices.Clone(f.env.Cluster.Hosts)
	rng.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
	cut := 1 // isolate one
	shape := "isolate"
	if rng.IntN(2) == 1 {
		cut, shape = len(hosts)/2, "halves"
	}
	a := &partitionApplied{f: f, sides: [2][]nemesis.Host{hosts[:cut], hosts[cut:]}, shape: shape}
	for side := 0; side < 2; side++ {
		for _, h := range a.sides[side] {
			var rules [][]string
			for _, o := range a.sides[1-side] {
				rules = append(rules, []string{"-A", chain, "-s", o.Addr.String(), "-j", "DROP"},
					[]string{"-A", chain, "-d", o.Addr.String(), "-j", "DROP"})
			}
			if err := f.apply(ctx, h, rules); err != nil {
				a.Heal(context.WithoutCancel(ctx))
				return nil, err
			}
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
	f     *partitionFault
	sides [2][]nemesis.Host
	shape string
}

func names(hs []nemesis.Host) string {
	var s []string
	for _, h := range hs {
		s = append(s, h.Site)
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

func (a *partitionApplied) Detail() string {
	return fmt.Sprintf("%s [%s] | [%s]", a.shape, names(a.sides[0]), names(a.sides[1]))
}

func (a *partitionApplied) Sites() []string { return strings.Fields(names(a.sides[0])) }

// Heal flushes the chain in every container (a container that is not
// running has no rules to flush).
func (a *partitionApplied) Heal(ctx context.Context) error {
	var errs []string
	for _, side := range a.sides {
		for _, h := range side {
			pid, err := a.f.pid(ctx, h)
			if err != nil {
				continue
			}
			out, err := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(pid), "-n", "iptables", "-w", "-F", chain).CombinedOutput()
			if err != nil && !strings.Contains(string(out), "No chain") {
				errs = append(errs, fmt.Sprintf("site %s: %v: %s", h.Site, err, strings.TrimSpace(string(out))))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("heal partition: %s", strings.Join(errs, "; "))
	}
	return nil
}
