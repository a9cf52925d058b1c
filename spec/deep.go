package spec

import (
	"fmt"
	"hash/maphash"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// DeepOptions bound a deep run.
type DeepOptions struct {
	Workers   int // goroutines expanding states; 0 = runtime.NumCPU()
	MaxStates int // give up (an error) beyond this many distinct states; 0 = unlimited
	Progress  io.Writer
}

// DeepResult holds a deep run's figures: the same meaning as Result's.
type DeepResult struct {
	Generated, Distinct, Depth int
	Elapsed                    time.Duration
	// Violation names the invariant violated and the violating state (a
	// deep run keeps no parents; rerun the config without -deep, or with
	// TLC, for the trace). Nil if every invariant held.
	Violation   *DeepViolation
	Antecedents []AntecedentCount
	// CollisionOdds is the chance that two distinct states shared a
	// fingerprint, so that one went unexplored (n²/2⁶⁵, as TLC estimates).
	CollisionOdds float64
}

// DeepViolation is an invariant violated at a state found at Depth.
type DeepViolation struct {
	Invariant string
	Depth     int
	State     []VarValue
}

// ExploreDeep is Explore for models far past TLC's budget: the visited set
// holds a 64-bit fingerprint per state (8 bytes in an open-addressing
// table, instead of a key string and a map slot), every level is expanded
// by all cores, and no trace is kept. Its figures equal Explore's (and so
// TLC's) unless two states share a fingerprint, which CollisionOdds bounds.
func ExploreDeep[S any](m Model[S], opt DeepOptions) (DeepResult, error) {
	if m.Init == nil || m.Next == nil || m.Key == nil {
		return DeepResult{}, fmt.Errorf("explore %s: model needs Init, Next and Key", m.Name)
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	start := time.Now()
	seed := maphash.MakeSeed()
	set := newFPSet()
	var (
		res       DeepResult
		generated atomic.Int64
		distinct  atomic.Int64
		stop      atomic.Bool
		mu        sync.Mutex // guards res.Violation and the error
		stopErr   error
		antCount  = make([]atomic.Int64, len(m.Antecedents))
	)
	// check records a new state: invariants, antecedents. It reports
	// whether the state should be expanded.
	check := func(s S, depth int) bool {
		for i, a := range m.Antecedents {
			if a.Holds(s) {
				antCount[i].Add(1)
			}
		}
		for _, inv := range m.Invariants {
			if !inv.Holds(s) {
				mu.Lock()
				if res.Violation == nil {
					var vars []VarValue
					if m.Vars != nil {
						vars = m.Vars(s)
					}
					res.Violation = &DeepViolation{Invariant: inv.Name, Depth: depth, State: vars}
				}
				mu.Unlock()
				stop.Store(true)
				return false
			}
		}
		return true
	}
	add := func(s S) bool {
		generated.Add(1)
		if !set.insert(maphash.String(seed, m.Key(s))) {
			return false
		}
		n := distinct.Add(1)
		if opt.MaxStates > 0 && n > int64(opt.MaxStates) {
			mu.Lock()
			if stopErr == nil {
				stopErr = fmt.Errorf("explore %s: more than %d distinct states (-max-states); the search is incomplete", m.Name, opt.MaxStates)
			}
			mu.Unlock()
			stop.Store(true)
			return false
		}
		return true
	}

	var level []S
	m.Init(func(s S) {
		if add(s) && check(s, 1) {
			level = append(level, s)
		}
	})
	depth := 0
	if distinct.Load() > 0 {
		depth = 1
	}
	var (
		lastProgress = start
		lastGen      int64
	)
	progress := func(queue int) {
		if opt.Progress == nil {
			return
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		now := time.Now()
		g := generated.Load()
		rate := float64(g-lastGen) / max(now.Sub(lastProgress).Seconds(), 1e-9)
		fmt.Fprintf(opt.Progress, "Deep(%d) %s: %d generated (%.0f/s now, %d workers), %d distinct, %d on this level, fingerprints %d MiB, heap %d MiB\n",
			depth, now.Sub(start).Round(time.Second), g, rate, workers, distinct.Load(), queue, set.bytes()>>20, ms.HeapInuse>>20)
		lastProgress, lastGen = now, g
	}
	for len(level) > 0 && !stop.Load() {
		var (
			next   = make([][]S, workers)
			cursor atomic.Int64
			wg     sync.WaitGroup
		)
		const chunk = 256
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				var out []S
				for !stop.Load() {
					lo := int(cursor.Add(chunk)) - chunk
					if lo >= len(level) {
						break
					}
					for _, s := range level[lo:min(lo+chunk, len(level))] {
						m.Next(s, func(_ string, t S) {
							if !stop.Load() && add(t) && check(t, depth+1) {
								out = append(out, t)
							}
						})
					}
				}
				next[w] = out
			}(w)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		tick := time.NewTicker(progressInterval)
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-tick.C:
				progress(len(level) - min(int(cursor.Load()), len(level)))
			}
		}
		tick.Stop()
		clear(level)
		level = level[:0]
		for _, out := range next {
			level = append(level, out...)
		}
		if len(level) > 0 || res.Violation != nil {
			depth++
		}
	}
	res.Generated = int(generated.Load())
	res.Distinct = int(distinct.Load())
	res.Depth = depth
	res.Elapsed = time.Since(start)
	n := float64(res.Distinct)
	res.CollisionOdds = n * n / (1 << 65)
	for i, a := range m.Antecedents {
		res.Antecedents = append(res.Antecedents, AntecedentCount{Invariant: a.Invariant, Means: a.Means, States: int(antCount[i].Load())})
	}
	progress(0)
	return res, stopErr
}

// Report writes the deep run's summary in TLC's words.
func (r DeepResult) Report(w io.Writer) error {
	var err error
	p := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	if v := r.Violation; v != nil {
		p("Error: Invariant %s is violated, by a state at depth %d (a deep run keeps no trace: rerun without -deep for it):\n", v.Invariant, v.Depth)
		for _, vv := range v.State {
			p("/\\ %s = %s\n", vv.Name, vv.Value)
		}
	} else {
		p("Model checking completed. No error has been found.\n")
	}
	p("  Estimated probability that two distinct states shared a fingerprint: %.1E\n", r.CollisionOdds)
	p("%d states generated, %d distinct states found, 0 states left on queue.\n", r.Generated, r.Distinct)
	p("The depth of the complete state graph search is %d.\n", r.Depth)
	secs := max(r.Elapsed.Seconds(), 1e-9)
	p("Finished in %s (%.0f distinct states/s, %.0f states generated/s).\n", r.Elapsed.Round(time.Millisecond), float64(r.Distinct)/secs, float64(r.Generated)/secs)
	if len(r.Antecedents) > 0 {
		p("Non-vacuity (per invariant: distinct states where its antecedent holds):\n")
		for _, a := range r.Antecedents {
			note := ""
			if a.States == 0 {
				note = "  NEVER REACHED: the invariant is vacuous here"
			}
			p("  %-22s %12d  %s%s\n", a.Invariant, a.States, a.Means, note)
		}
	}
	return err
}

// Vacuous is Result.Vacuous for a deep run.
func (r DeepResult) Vacuous() []string { return Result{Antecedents: r.Antecedents}.Vacuous() }

// fpSet is a concurrent set of 64-bit fingerprints: 256 shards, each an
// open-addressing table of uint64 (0 marks an empty slot; fingerprint 0 is
// stored as 1, one more way to collide, counted in CollisionOdds's slack)
// kept at most half full.
type fpSet struct {
	shards [256]fpShard
}

type fpShard struct {
	mu    sync.Mutex
	slots []uint64
	n     int
	_     [40]byte // keep shards' locks on separate cache lines
}

func newFPSet() *fpSet {
	s := &fpSet{}
	for i := range s.shards {
		s.shards[i].slots = make([]uint64, 1024)
	}
	return s
}

// insert adds fp and reports whether it was new.
func (s *fpSet) insert(fp uint64) bool {
	if fp == 0 {
		fp = 1
	}
	sh := &s.shards[fp>>56]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if 2*(sh.n+1) > len(sh.slots) {
		old := sh.slots
		sh.slots = make([]uint64, 2*len(old))
		for _, f := range old {
			if f != 0 {
				sh.place(f)
			}
		}
	}
	mask := uint64(len(sh.slots) - 1)
	for i := fp & mask; ; i = (i + 1) & mask {
		switch sh.slots[i] {
		case fp:
			return false
		case 0:
			sh.slots[i] = fp
			sh.n++
			return true
		}
	}
}

func (sh *fpShard) place(fp uint64) {
	mask := uint64(len(sh.slots) - 1)
	i := fp & mask
	for sh.slots[i] != 0 {
		i = (i + 1) & mask
	}
	sh.slots[i] = fp
}

func (s *fpSet) bytes() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.Lock()
		n += 8 * len(s.shards[i].slots)
		s.shards[i].mu.Unlock()
	}
	return n
}
