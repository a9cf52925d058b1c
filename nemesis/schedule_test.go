package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fake is a Fault that records what it did; its detail is its draw.
type fake struct {
	kind    string
	mu      sync.Mutex
	log     []string
	failAt  int // Start number that fails (1-based), 0: none
	starts  int
	healAll int
}

func (f *fake) Kind() string { return f.kind }

func (f *fake) Start(_ context.Context, rng *rand.Rand) (Applied, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	if f.starts == f.failAt {
		return nil, errors.New("boom")
	}
	d := fmt.Sprintf("%s %d", f.kind, rng.IntN(1000))
	f.log = append(f.log, "start "+d)
	return &fakeApplied{f: f, detail: d}, nil
}

func (f *fake) HealAll(context.Context) error { f.healAll++; return nil }

type fakeApplied struct {
	f      *fake
	detail string
}

func (a *fakeApplied) Detail() string  { return a.detail }
func (a *fakeApplied) Sites() []string { return []string{"a"} }
func (a *fakeApplied) Heal(context.Context) error {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	a.f.log = append(a.f.log, "heal "+a.detail)
	return nil
}

func TestPlanDeterministic(t *testing.T) {
	faults := []Fault{&fake{kind: "kill"}, &fake{kind: "pause"}, &fake{kind: "partition"}, &fake{kind: "clock"}}
	const dur, iv = 10 * time.Minute, 10 * time.Second
	p1 := Plan(7, faults, dur, iv)
	p2 := Plan(7, faults, dur, iv)
	if !reflect.DeepEqual(p1, p2) {
		t.Fatalf("Plan(7) twice differs:\n%v\n%v", p1, p2)
	}
	if p3 := Plan(8, faults, dur, iv); reflect.DeepEqual(p1, p3) {
		t.Fatalf("Plan(7) and Plan(8) are the same schedule")
	}
	if len(p1) < 10 {
		t.Fatalf("10 minutes at 10s intervals planned only %d faults", len(p1))
	}
	kinds := map[string]int{}
	var end time.Duration
	for i, p := range p1 {
		kinds[p.Kind]++
		if p.At < end {
			t.Errorf("fault %d (%v) starts before the previous one is healed at %v", i, p, end)
		}
		if p.For < iv/4 || p.For > iv*3/2 {
			t.Errorf("fault %d lasts %v, outside [%v, %v]", i, p.For, iv/4, iv*3/2)
		}
		end = p.At + p.For
	}
	if end > dur {
		t.Errorf("the last fault heals at %v, after the %v run", end, dur)
	}
	if len(kinds) != len(faults) {
		t.Errorf("60 draws from 4 kinds used only %v", kinds)
	}
	if Plan(7, nil, dur, iv) != nil {
		t.Errorf("a plan without faults is not empty")
	}
}

// Run applies each planned fault with the draw of its seed, heals it, and
// records both; a failed start is recorded and the run goes on.
func TestRunAppliesAndHeals(t *testing.T) {
	kill := &fake{kind: "kill", failAt: 2}
	part := &fake{kind: "partition"}
	faults := []Fault{kill, part}
	plan := []Planned{
		{At: 0, For: 10 * time.Millisecond, Kind: "kill", Seed: 1},
		{At: 20 * time.Millisecond, For: 10 * time.Millisecond, Kind: "partition", Seed: 2},
		{At: 40 * time.Millisecond, For: 10 * time.Millisecond, Kind: "kill", Seed: 3},
	}
	var events []Event
	var lines strings.Builder
	t0 := time.Now()
	if err := Run(context.Background(), plan, faults, Printer(&lines, t0, func(e Event) { events = append(events, e) })); err != nil {
		t.Fatal(err)
	}
	var phases []string
	for _, e := range events {
		phases = append(phases, string(e.Phase)+" "+e.Kind)
	}
	want := []string{"start kill", "heal kill", "start partition", "heal partition", "fail kill"}
	if !reflect.DeepEqual(phases, want) {
		t.Fatalf("events %v, want %v\n%s", phases, want, lines.String())
	}
	d1 := fmt.Sprintf("kill %d", rand.New(rand.NewPCG(1, 0)).IntN(1000))
	if events[0].Detail != d1 || kill.log[1] != "heal "+d1 {
		t.Errorf("kill drew %q, log %v; want the draw of seed 1, %q, started and healed", events[0].Detail, kill.log, d1)
	}
	if !strings.Contains(lines.String(), "nemesis start partition: partition ") {
		t.Errorf("log lines:\n%s", lines.String())
	}
	if err := HealAll(context.Background(), faults, nil); err != nil || kill.healAll != 1 || part.healAll != 1 {
		t.Errorf("HealAll: %v, calls %d %d", err, kill.healAll, part.healAll)
	}
}

// A run cut short still heals the fault in force.
func TestRunCancelledHeals(t *testing.T) {
	f := &fake{kind: "pause"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := Run(ctx, []Planned{{At: 0, For: time.Hour, Kind: "pause", Seed: 1}}, []Fault{f}, func(Event) {})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v, want the context's deadline", err)
	}
	if len(f.log) != 2 || !strings.HasPrefix(f.log[1], "heal") {
		t.Fatalf("log %v: the fault in force was not healed", f.log)
	}
}
