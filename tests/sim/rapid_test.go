package sim

import (
	"flag"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/tests/check"
	"github.com/megastore-verified/megastore/tests/tracemap"
)

// machine drives the real replicas one message at a time: rapid chooses
// which message to deliver, drop or duplicate, which site ticks, writes,
// reads, crashes or restarts. After every action the implementation's
// trace so far must validate against the mirror, and the mirrored state
// must agree with the replicas' state on every observable.
type machine struct {
	s      *Sim
	writes int
}

// newManual starts a one-group run whose network a test drives by hand.
func newManual(seed uint64) *Sim {
	o := Defaults()
	o.Manual, o.Groups, o.Seed = true, 1, seed
	s := newSim(o)
	s.mapper = tracemap.New(o.Sites, o.Sites[0].ID)
	for _, st := range s.sites {
		s.start(st)
	}
	return s
}

func newMachine(t *rapid.T) *machine {
	s := newManual(rapid.Uint64().Draw(t, "seed"))
	t.Cleanup(s.close)
	return &machine{s: s}
}

func (m *machine) pick(t *rapid.T, label string) (int, bool) {
	if len(m.s.pending) == 0 {
		return 0, false
	}
	return rapid.IntRange(0, len(m.s.pending)-1).Draw(t, label), true
}

func (m *machine) actions() map[string]func(*rapid.T) {
	s := m.s
	site := func(t *rapid.T) *site { return s.sites[rapid.IntRange(0, len(s.sites)-1).Draw(t, "site")] }
	return map[string]func(*rapid.T){
		"deliver": func(t *rapid.T) {
			if i, ok := m.pick(t, "msg"); ok {
				e := s.pending[i]
				s.pending = slices.Delete(s.pending, i, i+1)
				s.deliver(e)
			}
		},
		"drop": func(t *rapid.T) {
			if i, ok := m.pick(t, "msg"); ok {
				s.pending = slices.Delete(s.pending, i, i+1)
			}
		},
		"duplicate": func(t *rapid.T) {
			if i, ok := m.pick(t, "msg"); ok {
				e := *s.pending[i]
				s.pending = append(s.pending, &e)
			}
		},
		// NB: leases need many ticks and messages; "settle" keeps runs short.
		"settle": func(t *rapid.T) {
			for k := 0; k < 300 && len(s.pending) > 0; k++ {
				e := s.pending[0]
				s.pending = s.pending[1:]
				s.deliver(e)
			}
		},
		"tick": func(t *rapid.T) {
			n := rapid.IntRange(1, 12).Draw(t, "ticks")
			for range n {
				for _, st := range s.sites {
					if st.up {
						s.tick(&event{kind: evTick, site: st.idx, gen: st.gen})
					}
				}
			}
		},
		"write": func(t *rapid.T) {
			st := site(t)
			if !st.up || st.kind != core.Full || m.writes >= 5 {
				return
			}
			m.writes++
			g := core.GroupID("g0")
			req, err := st.rep.ProposeWrite(core.WriteRequest{Group: g, ReadPosition: st.rep.Status().Groups[g].Applied,
				Mutations: []core.Mutation{{Key: key, Value: []byte(fmt.Sprint("w", m.writes))}}})
			if err != nil {
				t.Fatalf("write at %s: %v", st.id, err)
			}
			s.drain(st, input{kind: "write", req: req})
		},
		"read": func(t *rapid.T) {
			st := site(t)
			mode := rapid.SampledFrom([]core.ReadMode{core.Current, core.Snapshot}).Draw(t, "mode")
			if !st.up || st.kind == core.Witness || (st.kind == core.ReadOnly && mode == core.Current) {
				return
			}
			req, err := st.rep.Read(core.ReadRequest{Group: "g0", Keys: [][]byte{key}, Mode: mode})
			if err != nil {
				t.Fatalf("read at %s: %v", st.id, err)
			}
			s.drain(st, input{kind: "read", req: req})
		},
		"crash": func(t *rapid.T) {
			if st := site(t); st.up {
				s.crash(st)
			}
		},
		"restart": func(t *rapid.T) {
			if st := site(t); !st.up {
				s.start(st)
			}
		},
		"": m.check,
	}
}

// check: the trace validates, and the mirror agrees with the replicas.
func (m *machine) check(t *rapid.T) {
	s := m.s
	if s.failure != "" {
		t.Fatalf("%s: %s", s.check, s.failure)
	}
	res := check.Trace(s.mapper.Run())
	if res.Failure != "" {
		t.Fatalf("%s: %s\n%s", res.Check, res.Failure, strings.Join(res.Context, "\n"))
	}
	if bad := s.agree(res); bad != "" {
		t.Fatal(bad)
	}
}

// TestRapidReplicasAgainstMirror: acceptor, proposer and coordinator of
// the real core under rapid-chosen message schedules, step by step
// against the spec mirror.
//
// NB: CI runs it from a fixed rapid seed, so that it is the same on every
// run; explore with e.g. -rapid.checks=3000 -rapid.steps=150
// -rapid.seed=N (random seeds found the reply-matching bug that
// TestReplyFromPreviousIncarnation now guards, in about 1 of 3,000 cases).
func TestRapidReplicasAgainstMirror(t *testing.T) {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.seed" })
	if f := flag.Lookup("rapid.seed"); f != nil && !set {
		_ = f.Value.Set(rapidSeed)
		defer func() { _ = f.Value.Set("0") }()
	}
	rapid.Check(t, func(t *rapid.T) {
		m := newMachine(t)
		t.Repeat(m.actions())
	})
}

var rapidSeed = "2"

// recorder is a rapid.TB that records a failure instead of failing the
// test, so a test can show what rapid found and how far it shrank it.
type recorder struct {
	mu     sync.Mutex
	failed bool
	logs   []string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Logf(f string, a ...any) {
	r.mu.Lock()
	r.logs = append(r.logs, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}
func (r *recorder) Log(a ...any)              { r.Logf("%s", fmt.Sprint(a...)) }
func (r *recorder) Skipf(string, ...any)      { runtime.Goexit() }
func (r *recorder) Skip(...any)               { runtime.Goexit() }
func (r *recorder) SkipNow()                  { runtime.Goexit() }
func (r *recorder) Errorf(f string, a ...any) { r.Logf(f, a...); r.Fail() }
func (r *recorder) Error(a ...any)            { r.Log(a...); r.Fail() }
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...); runtime.Goexit() }
func (r *recorder) Fatal(a ...any)            { r.Error(a...); runtime.Goexit() }
func (r *recorder) FailNow()                  { r.Fail(); runtime.Goexit() }
func (r *recorder) Fail() {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
}
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// faultsGen draws a fault schedule: up to four crashes or partitions.
func faultsGen(n int) *rapid.Generator[[]Fault] {
	one := rapid.Custom(func(t *rapid.T) Fault {
		f := Fault{AtTick: rapid.IntRange(1, workloadTicks).Draw(t, "at"), ForTicks: rapid.IntRange(1, 40).Draw(t, "for"),
			Crash: rapid.Bool().Draw(t, "crash"), Site: rapid.IntRange(0, n-1).Draw(t, "site")}
		if !f.Crash {
			for y := range n {
				if y != f.Site {
					f.Links = append(f.Links, [2]int{f.Site, y}, [2]int{y, f.Site})
				}
			}
		}
		return f
	})
	return rapid.SliceOfN(one, 0, 4)
}

// TestRapidShrinksFaultSchedule: with LocalReadAfterLeaseLoss on, rapid
// finds a fault schedule under which a check fails and shrinks it to a
// minimal one: a single fault (here a partition isolating a full site long
// enough for its coordinator to lose its lease while a read lands there).
func TestRapidShrinksFaultSchedule(t *testing.T) {
	var last []Fault
	var lastSeed uint64
	rec := &recorder{}
	// NB: the failure is expected; keep rapid from writing a fail file.
	// A fixed rapid seed makes the search and its shrinking the same on
	// every run.
	for name, v := range map[string]string{"rapid.nofailfile": "true", "rapid.seed": rapidSeed} {
		if f := flag.Lookup(name); f != nil {
			old := f.Value.String()
			_ = f.Value.Set(v)
			defer func() { _ = f.Value.Set(old) }()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rapid.Check(rec, func(rt *rapid.T) {
			o := Defaults()
			o.Bugs.LocalReadAfterLeaseLoss = true
			base := rapid.Uint64Range(0, 1000).Draw(rt, "seed")
			o.Faults = faultsGen(len(o.Sites)).Draw(rt, "faults")
			o.DropPercent, o.DupPercent, o.Reads = 0, 0, 6
			// NB: each schedule runs under two seeds, so that a schedule
			// that can lose a counted vote usually does under one of them.
			for seed := base; seed < base+2; seed++ {
				o.Seed = seed
				if r := Run(bubbled(t, o)); r.Failure != "" {
					last, lastSeed = o.Faults, o.Seed
					rt.Fatalf("seed %d: %s: %s", seed, r.Check, r.Failure)
				}
			}
		})
	}()
	<-done
	if !rec.Failed() {
		t.Fatal("rapid found no failing fault schedule with LocalReadAfterLeaseLoss on")
	}
	t.Logf("rapid's minimal failing schedule: seed %d, faults %v", lastSeed, last)
	if len(last) != 1 {
		t.Fatalf("the shrunk schedule should be a single fault, is %v", last)
	}

}
