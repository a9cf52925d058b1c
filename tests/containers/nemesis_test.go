package containers

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis"
	"github.com/megastore-verified/megastore/nemesis/clock"
	"github.com/megastore-verified/megastore/nemesis/partition"
	"github.com/megastore-verified/megastore/nemesis/process"
)

// eventually retries f until it succeeds or the deadline passes.
func eventually(t *testing.T, what string, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, d, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// getAt is a current read of key at site: its output, or an error.
func getAt(r *Run, site, group, key string, timeout time.Duration) (string, error) {
	out, err := r.CLI(context.Background(), "get", "--site", site, "--group", group, "--key", key, "--timeout", timeout.String())
	if err != nil {
		return out, fmt.Errorf("%v: %s", err, out)
	}
	return out, nil
}

func wantValue(r *Run, site, group, key, want string) func() error {
	return func() error {
		out, err := getAt(r, site, group, key, 5*time.Second)
		if err != nil {
			return err
		}
		if !strings.Contains(out, want) {
			return fmt.Errorf("read %q, want %q", out, want)
		}
		return nil
	}
}

func heal(t *testing.T, a nemesis.Applied) {
	t.Helper()
	if err := a.Heal(context.Background()); err != nil {
		t.Fatalf("heal %s: %v", a.Detail(), err)
	}
}

// kill: the site stops answering; after heal it is healthy and its current
// read returns a write made while it was down.
func TestNemesisKill(t *testing.T) {
	r := shared(t)
	ctx := context.Background()
	nc := r.Nemesis()
	a, err := process.KillSites(ctx, r.Cli, nc, nemesis.One, []string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", a.Detail())
	if err := r.Healthy(ctx, "b", time.Second); err == nil {
		t.Fatalf("b answers /healthz after %s", a.Detail())
	}
	cliT(t, r.Cluster, "put", "--site", "a", "--group", "kill", "--key", "k", "--value", "while-b-dead")
	heal(t, a)
	if err := r.WaitHealthy(ctx, 30*time.Second, "b"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "current read at restarted b", 20*time.Second, wantValue(r, "b", "kill", "k", "while-b-dead"))
}

// pause: the frozen site answers nothing; after heal it does again.
func TestNemesisPause(t *testing.T) {
	r := shared(t)
	ctx := context.Background()
	a, err := process.PauseSites(ctx, r.Cli, r.Nemesis(), nemesis.Minority, []string{"c", "w"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", a.Detail())
	for _, s := range []string{"c", "w"} {
		if err := r.Healthy(ctx, s, time.Second); err == nil {
			t.Errorf("%s answers /healthz while paused", s)
		}
	}
	heal(t, a)
	if err := r.WaitHealthy(ctx, 10*time.Second, "c", "w"); err != nil {
		t.Fatal(err)
	}
	cliT(t, r.Cluster, "put", "--site", "c", "--group", "pause", "--key", "k", "--value", "after-pause")
}

// isolate b: a write at a still commits; a current read at b cannot
// complete while b is cut off; after heal it returns the write.
func TestNemesisPartitionIsolate(t *testing.T) {
	r := shared(t)
	ctx := context.Background()
	nc := r.Nemesis()
	cliT(t, r.Cluster, "put", "--site", "a", "--group", "part", "--key", "k", "--value", "before")
	eventually(t, "b reads before", 10*time.Second, wantValue(r, "b", "part", "k", "before"))
	var links []partition.Link
	for _, s := range nc.SiteIDs() {
		if s != "b" {
			links = append(links, partition.Link{From: "b", To: s}, partition.Link{From: s, To: "b"})
		}
	}
	a, err := partition.Cut(ctx, r.Cli, nc, "isolate b", links)
	if err != nil {
		t.Fatal(err)
	}
	cut := true
	defer func() {
		if cut {
			a.Heal(context.Background())
		}
	}()
	cliT(t, r.Cluster, "put", "--site", "a", "--group", "part", "--key", "k", "--value", "during")
	if out, err := getAt(r, "b", "part", "k", 3*time.Second); err == nil {
		t.Fatalf("a current read at isolated b completed: %q", out)
	} else {
		t.Logf("current read at isolated b: %v", err)
	}
	// b still serves its HTTP and client ports: only site-to-site traffic is cut.
	if err := r.Healthy(ctx, "b", 2*time.Second); err != nil {
		t.Errorf("isolated b's /healthz: %v (a partition must not cut client traffic)", err)
	}
	heal(t, a)
	cut = false
	eventually(t, "current read at b after heal", 30*time.Second, wantValue(r, "b", "part", "k", "during"))
}

var pktsRE = regexp.MustCompile(`(?m)^\s*(\d+)\s+\d+\s+DROP\s+\S+\s+--\s+\*\s+\*\s+\S+\s+(\S+)\s+tcp dpt:(\d+)`)

// dropped returns, per destination address, how many packets the site's
// chain dropped.
func dropped(t *testing.T, r *Run, site, chain string) map[string]int {
	t.Helper()
	h, _ := r.Nemesis().Host(site)
	out, err := partition.IPTables(context.Background(), r.Cli, h, "-L", chain, "-v", "-n", "-x")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, g := range pktsRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(g[1])
		m[g[2]+":"+g[3]] += n
	}
	return m
}

// one-way b -> nobody: the rules are in b's namespace only, for every
// other site's peer address, and they drop b's real traffic; a write at a
// commits meanwhile.
func TestNemesisPartitionOneWay(t *testing.T) {
	r := shared(t)
	ctx := context.Background()
	nc := r.Nemesis()
	var links []partition.Link
	for _, s := range nc.SiteIDs() {
		if s != "b" {
			links = append(links, partition.Link{From: "b", To: s})
		}
	}
	a, err := partition.Cut(ctx, r.Cli, nc, "one-way b -> nobody", links)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Heal(context.Background())
	cliT(t, r.Cluster, "put", "--site", "a", "--group", "oneway", "--key", "k", "--value", "v")
	time.Sleep(500 * time.Millisecond) // lease renewals, at least
	atB := dropped(t, r, "b", partition.ChainPartition)
	if len(atB) != 4 {
		t.Errorf("b's chain drops to %v, want the 4 other sites' peer addresses", atB)
	}
	total := 0
	for _, s := range []string{"a", "c", "w", "r"} {
		if _, ok := atB[fmt.Sprintf("%s:%d", r.Addrs[s], PeerPort)]; !ok {
			t.Errorf("b's chain has no rule for %s's peer address %s", s, r.Addrs[s])
		}
	}
	for _, n := range atB {
		total += n
	}
	if total == 0 {
		t.Errorf("b's rules dropped no packet: b sent nothing to anyone, or the rules match nothing")
	}
	if atA := dropped(t, r, "a", partition.ChainPartition); len(atA) != 0 {
		t.Errorf("a's chain holds rules %v; the cut is one-way from b", atA)
	}
	heal(t, a)
	if after := dropped(t, r, "b", partition.ChainPartition); len(after) != 0 {
		t.Errorf("b's chain after heal: %v", after)
	}
	eventually(t, "current read at b after heal", 30*time.Second, wantValue(r, "b", "oneway", "k", "v"))
}

// loss: 20% of site-to-site packets dropped at random; writes still commit
// (TCP retransmits) and the rules really drop packets.
func TestNemesisLoss(t *testing.T) {
	r := shared(t)
	ctx := context.Background()
	a, err := partition.Lose(ctx, r.Cli, r.Nemesis(), 0.2)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Heal(context.Background())
	for i := range 5 {
		cliT(t, r.Cluster, "put", "--site", "a", "--group", "loss", "--key", "k", "--value", fmt.Sprint(i))
	}
	h, _ := r.Nemesis().Host("a")
	out, err := partition.IPTables(ctx, r.Cli, h, "-S", partition.ChainLoss)
	if err != nil || !strings.Contains(out, "--probability 0.2") {
		t.Fatalf("a's loss chain: %v\n%s", err, out)
	}
	heal(t, a)
}

// clock: a jump shows in the node's reported offset and is taken back by
// heal; a fast rate makes its tick count run ahead of a site at real time.
func TestNemesisClock(t *testing.T) {
	r := shared(t)
	ctx := context.Background()
	nc := r.Nemesis()
	ha, _ := nc.Host("a")
	hb, _ := nc.Host("b")
	j, err := clock.Apply(ctx, nc, "clock", clock.Skew{Jump: 3}, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := clock.Read(ctx, ha); err != nil || st.OffsetTicks != 3 {
		t.Fatalf("a's clock after %s: %+v %v, want offset 3", j.Detail(), st, err)
	}
	if st, err := clock.Read(ctx, hb); err != nil || st.OffsetTicks != 0 {
		t.Fatalf("b's clock after a's jump: %+v %v, want offset 0", st, err)
	}
	heal(t, j)
	if st, err := clock.Read(ctx, ha); err != nil || st.OffsetTicks != 0 {
		t.Fatalf("a's clock after heal: %+v %v, want offset 0", st, err)
	}
	d, err := clock.Apply(ctx, nc, "clock-beyond", clock.Skew{Rate: 5000}, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	a0, _ := clock.Read(ctx, ha)
	b0, _ := clock.Read(ctx, hb)
	time.Sleep(time.Second)
	a1, _ := clock.Read(ctx, ha)
	b1, _ := clock.Read(ctx, hb)
	heal(t, d)
	da, db := a1.NowTicks-a0.NowTicks, b1.NowTicks-b0.NowTicks
	t.Logf("over the same second: a at 5000 milli advanced %d ticks, b at 1000 %d", da, db)
	if db == 0 || da < 2*db {
		t.Errorf("a at rate 5000 advanced %d ticks while b advanced %d, want more than twice as many", da, db)
	}
	cliT(t, r.Cluster, "put", "--site", "a", "--group", "clock", "--key", "k", "--value", "after")
}

// A seeded schedule of every kind runs on the real cluster, each fault
// healed on time; afterwards every site is healthy and the store works.
func TestNemesisSchedule(t *testing.T) {
	r := shared(t)
	ctx := context.Background()
	nc := r.Nemesis()
	b, err := clock.BoundsOf(mustConfig(t, r))
	if err != nil {
		t.Fatal(err)
	}
	faults := []nemesis.Fault{
		process.Kill(r.Cli, nc, process.Options{}),
		process.Pause(r.Cli, nc, process.Options{}),
		partition.New(r.Cli, nc, partition.Options{}),
		partition.Loss(r.Cli, nc, partition.LossOptions{}),
		clock.New(nc, b, clock.Options{}),
	}
	// The first seed whose 8 s schedule has a kill, a partition and a
	// clock fault: the search is deterministic, so is the run.
	var plan []nemesis.Planned
	for seed := uint64(1); ; seed++ {
		plan = nemesis.Plan(seed, faults, 8*time.Second, time.Second)
		kinds := map[string]bool{}
		for _, p := range plan {
			kinds[p.Kind] = true
		}
		if kinds["kill"] && kinds["partition"] && kinds["clock"] {
			t.Logf("seed %d: %d faults", seed, len(plan))
			break
		}
	}
	var events []nemesis.Event
	t0 := time.Now()
	if err := nemesis.Run(ctx, plan, faults, nemesis.Printer(os.Stderr, t0, func(e nemesis.Event) { events = append(events, e) })); err != nil {
		t.Fatal(err)
	}
	if err := nemesis.HealAll(ctx, faults, nil); err != nil {
		t.Fatal(err)
	}
	starts, heals := 0, 0
	for _, e := range events {
		switch e.Phase {
		case nemesis.PhaseStart:
			starts++
		case nemesis.PhaseHeal:
			heals++
		default:
			t.Errorf("nemesis failure: %s", e.Line(t0))
		}
	}
	if starts != len(plan) || heals != len(plan) {
		t.Errorf("%d planned, %d started, %d healed", len(plan), starts, heals)
	}
	if err := r.WaitHealthy(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a write after the schedule", 30*time.Second, func() error {
		_, err := r.CLI(ctx, "put", "--site", "a", "--group", "sched", "--key", "k", "--value", "after", "--timeout", "5s")
		return err
	})
	eventually(t, "a read at c after the schedule", 30*time.Second, wantValue(r, "c", "sched", "k", "after"))
}

func mustConfig(t *testing.T, r *Run) *siteconfig.File {
	t.Helper()
	f, err := siteconfig.Parse(r.Config)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
