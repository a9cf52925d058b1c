package daemon

import (
	"sync"
	"time"

	"github.com/megastore-verified/megastore/impl/node"
)

// Clock is node.Clock on wall time, with an offset and a rate that tests can
// change (POST /admin/clock-offset, /admin/clock-rate) to play a site whose
// clock jumps or drifts: the lease safety argument depends on a bound on
// exactly that (core.Config.ClockSkewTicks).
//
// Now never goes backwards: a negative offset makes the clock stand still
// until real time has caught up, because the driver counts ticks and a tick
// once delivered cannot be taken back.
type Clock struct {
	node.Subscribers
	interval time.Duration

	mu         sync.Mutex
	start      time.Time
	rateMilli  int64 // ticks per interval, in thousandths (1000: real time)
	base       float64
	offset     int64
	last       uint64
	stop, done chan struct{}
}

// NewClock starts a clock that ticks every interval.
func NewClock(interval time.Duration) *Clock {
	c := &Clock{interval: interval, start: time.Now(), rateMilli: 1000,
		stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *Clock) run() {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.Wake()
		}
	}
}

// nowLocked is the unclamped tick count.
// REQUIRES: c.mu held.
func (c *Clock) nowLocked() float64 {
	elapsed := float64(time.Since(c.start)) / float64(c.interval)
	return c.base + elapsed*float64(c.rateMilli)/1000 + float64(c.offset)
}

// Now returns the ticks since start, adjusted, never decreasing.
func (c *Clock) Now() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nowLocked(); n > float64(c.last) {
		c.last = uint64(n)
	}
	return c.last
}

// AddOffset moves the clock by ticks (negative: it stands still that long)
// and returns the new total offset.
func (c *Clock) AddOffset(ticks int64) int64 {
	c.mu.Lock()
	c.offset += ticks
	off := c.offset
	c.mu.Unlock()
	c.Wake()
	return off
}

// SetRate makes the clock run at rateMilli thousandths of real time from now
// on (1000: real time; 1100: 10% fast).
func (c *Clock) SetRate(rateMilli int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	elapsed := float64(now.Sub(c.start)) / float64(c.interval)
	c.base += elapsed * float64(c.rateMilli) / 1000
	c.start = now
	c.rateMilli = rateMilli
}

// Stop stops the ticking.
func (c *Clock) Stop() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}
