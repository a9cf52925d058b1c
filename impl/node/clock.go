package node

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock is the source of ticks. Now is the number of ticks since the clock
// started; Subscribe returns a channel that is signalled (coalescing) when
// Now advances. A driver catches up to Now, tick by tick, before it handles
// anything else, so no tick is ever lost: a lost tick would make a
// coordinator believe in its lease for longer than its grantors do.
type Clock interface {
	Now() uint64
	Subscribe() <-chan struct{}
}

// ManualClock advances only when told: tests and simulations.
type ManualClock struct {
	now  atomic.Uint64
	mu   sync.Mutex
	subs []chan struct{}
}

// NewManualClock returns a clock at tick 0.
func NewManualClock() *ManualClock { return &ManualClock{} }

func (c *ManualClock) Now() uint64 { return c.now.Load() }

func (c *ManualClock) Subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.subs = append(c.subs, ch)
	c.mu.Unlock()
	return ch
}

// Advance moves the clock n ticks forward and wakes every subscriber.
func (c *ManualClock) Advance(n uint64) {
	c.now.Add(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// RealClock ticks every interval of wall time until stopped.
type RealClock struct {
	ManualClock
	stop chan struct{}
	once sync.Once
}

// NewRealClock starts a clock ticking every interval.
func NewRealClock(interval time.Duration) *RealClock {
	c := &RealClock{stop: make(chan struct{})}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				c.Advance(1)
			case <-c.stop:
				return
			}
		}
	}()
	return c
}

// Stop stops the ticking.
func (c *RealClock) Stop() { c.once.Do(func() { close(c.stop) }) }
