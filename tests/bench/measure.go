package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// workload is one row group of the table: clients closed-loop clients, each
// on its own key (this store: its own entity group), for a fixed time.
type workload struct {
	name    string
	clients int
	read    bool
	// at is the member client c goes through.
	at func(s system, c int) int
	// key is client c's key.
	key func(c int) string
}

// result is what one or more runs of a workload measured on one system.
type result struct {
	ops     int
	errs    int
	err     error // the first error
	elapsed time.Duration
	lats    []time.Duration
}

func (r *result) add(o result) {
	r.ops += o.ops
	r.errs += o.errs
	if r.err == nil {
		r.err = o.err
	}
	r.elapsed += o.elapsed
	r.lats = append(r.lats, o.lats...)
}

func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

// quantile of the latencies, in ms (sorts them).
func (r *result) quantile(q float64) float64 {
	if len(r.lats) == 0 {
		return 0
	}
	sort.Slice(r.lats, func(i, j int) bool { return r.lats[i] < r.lats[j] })
	i := int(q * float64(len(r.lats)-1))
	return float64(r.lats[i]) / float64(time.Millisecond)
}

const opTimeout = 10 * time.Second

// prepare writes every client's key once from the leader, then, for a
// write workload, once from the client's member (this store: that site
// becomes the group's leader, as it would for a client that keeps writing
// there), untimed.
func prepare(s system, w workload, value []byte) error {
	for c := range w.clients {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		err := s.Put(ctx, s.Leader(), w.key(c), value)
		if err == nil {
			m := w.at(s, c)
			if w.read {
				err = s.Get(ctx, m, w.key(c))
			} else {
				err = s.Put(ctx, m, w.key(c), value)
			}
		}
		cancel()
		if err != nil {
			return fmt.Errorf("%s: preparing %q for client %d: %w", s.Name(), w.key(c), c, err)
		}
	}
	return nil
}

// run runs w on s for d: every client issues its next operation as soon
// as the last one returns.
func run(s system, w workload, d time.Duration, value []byte) result {
	var mu sync.Mutex
	var total result
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for c := range w.clients {
		wg.Go(func() {
			var r result
			m, key := w.at(s, c), w.key(c)
			for time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
				t0 := time.Now()
				var err error
				if w.read {
					err = s.Get(ctx, m, key)
				} else {
					err = s.Put(ctx, m, key, value)
				}
				lat := time.Since(t0)
				cancel()
				if err != nil {
					r.errs++
					if r.err == nil {
						r.err = err
					}
					continue
				}
				r.ops++
				r.lats = append(r.lats, lat)
			}
			mu.Lock()
			total.add(r)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	return total
}
