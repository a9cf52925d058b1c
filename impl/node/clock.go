package node

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock is the source of ticks. Now is the number of ticks since the clock
// started; Subscribe returns a channel that is signalled (coalescing) when
// Now advances. A driver catches up to Now (in one core.Replica.Elapse)
// before it handles anything else, so no tick is ever lost: a lost tick would
// make a coordinator believe in its lease for longer than its grantors do.
type Clock interface {
	Now() uint64
	Subscribe() <-chan struct{}
}

// Subscribers are the channels a clock signals (coalescing) when it moves;
// a Clock embeds them for its Subscribe.
type Subscribers struct {
	mu   sync.Mutex
	subs []chan struct{}
}

func (c *Subscribers) Subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.subs = append(c.subs, ch)
	c.mu.Unlock()
	return ch
}

// Wake signals every subscriber.
func (c *Subscribers) Wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// ManualClock advances only when told: tests and simulations.
type ManualClock struct {
	Subscribers
	now atomic.Uint64
}

// NewManualClock returns a clock at tick 0.
func NewManualClock() *ManualClock { return &ManualClock{} }

func (c *ManualClock) Now() uint64 { return c.now.Load() }

// Advance moves the clock n ticks forward and wakes every subscriber.
func (c *ManualClock) Advance(n uint64) {
	c.now.Add(n)
	c.Wake()
}

// RealClock counts the intervals of wall time (monotonic) since it started.
// It wakes subscribers every interval, but Now is read off elapsed time, not
// counted from the wake-ups: a time.Ticker drops the ticks its goroutine
// missed (a paused process, a stalled scheduler), and a clock that lost them
// would run slow, so a coordinator would believe in its lease longer than
// its grantors.
type RealClock struct {
	Subscribers
	start    time.Time
	interval time.Duration
	stop     chan struct{}
	once     sync.Once
}

// NewRealClock starts a clock ticking every interval.
func NewRealClock(interval time.Duration) *RealClock {
	return newRealClockSince(time.Now(), interval)
}

func newRealClockSince(start time.Time, interval time.Duration) *RealClock {
	c := &RealClock{start: start, interval: interval, stop: make(chan struct{})}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				c.Wake()
			case <-c.stop:
				return
			}
		}
	}()
	return c
}

// Now is the number of whole intervals since the clock started.
func (c *RealClock) Now() uint64 { return uint64(time.Since(c.start) / c.interval) }

// Stop stops the ticking.
func (c *RealClock) Stop() { c.once.Do(func() { close(c.stop) }) }
