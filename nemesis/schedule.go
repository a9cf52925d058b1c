package nemesis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// Planned is one fault of a schedule: which kind, when (from the start of
// Run), for how long, and the seed of the fault's own draw (which sites,
// which shape), so a seed fixes the whole schedule.
type Planned struct {
	At   time.Duration `json:"at"`
	For  time.Duration `json:"for"`
	Kind string        `json:"kind"`
	Seed uint64        `json:"seed"`
}

func (p Planned) String() string {
	return fmt.Sprintf("%6.1fs +%.1fs %s (seed %d)", p.At.Seconds(), p.For.Seconds(), p.Kind, p.Seed)
}

// Plan draws a schedule from seed alone: a quiet gap, a fault, a quiet gap,
// and so on until duration, each gap and fault lasting between half and
// one and a half intervals, each fault's kind drawn uniformly from faults.
// Faults never overlap: each is healed before the next starts, so a kill
// never meets a pause of the same container and a heal never undoes
// another fault's rules. The last fault is healed by duration.
func Plan(seed uint64, faults []Fault, duration, interval time.Duration) []Planned {
	if len(faults) == 0 || interval <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e656d65736973)) // "nemesis"
	span := func() time.Duration { return interval/2 + time.Duration(rng.Int64N(int64(interval)+1)) }
	var out []Planned
	t := span()
	for t < duration {
		p := Planned{At: t, For: span(), Kind: faults[rng.IntN(len(faults))].Kind(), Seed: rng.Uint64()}
		if t+p.For > duration {
			p.For = duration - t
		}
		if p.For < interval/4 {
			break
		}
		out = append(out, p)
		t += p.For + span()
	}
	return out
}

// Healer is a Fault that can undo every fault of its kind it may have left
// anywhere, e.g. after a Start that failed halfway or a run cut short.
type Healer interface {
	HealAll(ctx context.Context) error
}

// Run applies and heals the plan's faults at their times from now,
// calling record with an Event for each start, heal and failure (a failed
// start or heal is recorded and the run goes on). When ctx ends, the fault
// in force is healed and Run returns ctx's error.
func Run(ctx context.Context, plan []Planned, faults []Fault, record func(Event)) error {
	t0 := time.Now()
	byKind := map[string]Fault{}
	for _, f := range faults {
		byKind[f.Kind()] = f
	}
	for _, p := range plan {
		if err := sleepUntil(ctx, t0.Add(p.At)); err != nil {
			return err
		}
		f, ok := byKind[p.Kind]
		if !ok {
			record(Event{Time: time.Now(), Phase: PhaseFail, Kind: p.Kind, Error: "no fault of this kind"})
			continue
		}
		a, err := f.Start(ctx, rand.New(rand.NewPCG(p.Seed, 0)))
		if err != nil {
			e := Event{Time: time.Now(), Phase: PhaseFail, Kind: p.Kind, Error: "start: " + err.Error()}
			if a != nil {
				e.Detail, e.Sites = a.Detail(), a.Sites()
			}
			record(e)
			if a == nil {
				continue
			}
		} else {
			record(Event{Time: time.Now(), Phase: PhaseStart, Kind: p.Kind, Detail: a.Detail(), Sites: a.Sites()})
		}
		werr := sleepUntil(ctx, t0.Add(p.At+p.For))
		// NB: heal even when ctx ended: a fault left in force would outlive the run.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		herr := a.Heal(hctx)
		cancel()
		e := Event{Time: time.Now(), Phase: PhaseHeal, Kind: p.Kind, Detail: a.Detail(), Sites: a.Sites()}
		if herr != nil {
			e.Phase, e.Error = PhaseFail, "heal: "+herr.Error()
		}
		record(e)
		if werr != nil {
			return werr
		}
	}
	return nil
}

// HealAll asks every fault that can (Healer) to undo all it may have left,
// recording a heal or fail Event for each.
func HealAll(ctx context.Context, faults []Fault, record func(Event)) error {
	var errs []error
	for _, f := range faults {
		h, ok := f.(Healer)
		if !ok {
			continue
		}
		e := Event{Phase: PhaseHeal, Kind: f.Kind(), Detail: "heal all"}
		if err := h.HealAll(ctx); err != nil {
			e.Phase, e.Error = PhaseFail, err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", f.Kind(), err))
		}
		e.Time = time.Now()
		if record != nil {
			record(e)
		}
	}
	return errors.Join(errs...)
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Line formats an event as the nemesis log prints it, with the time since
// t0: "  12.3s nemesis start partition: isolate b".
func (e Event) Line(t0 time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%7.1fs nemesis %s %s", e.Time.Sub(t0).Seconds(), e.Phase, e.Kind)
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	if e.Error != "" {
		fmt.Fprintf(&b, " (%s)", e.Error)
	}
	return b.String()
}

// Printer returns a record function that prints each event's Line to w
// and then passes it to next (if any).
func Printer(w io.Writer, t0 time.Time, next func(Event)) func(Event) {
	return func(e Event) {
		fmt.Fprintln(w, e.Line(t0))
		if next != nil {
			next(e)
		}
	}
}
