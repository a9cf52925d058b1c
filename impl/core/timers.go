package core

import (
	"container/heap"
	"slices"
)

// Timers: a tick visits only the operations whose timers are due, from a
// heap of wake-up ticks, instead of every operation in flight.
//
// The invariant: the heap holds, for every operation in flight, an entry
// no later than the first tick at which visiting it could do anything
// (wake). An operation is queued at tick 0 (visit at the next tick) when
// it is created and whenever a message moves it on (its deadlines may
// then come earlier), and at its wake after each visit. Entries it
// outgrew stay in the heap and cost a visit that does nothing, as every
// visit of an operation not due did when a tick visited them all; the
// due ones are visited in id order, proposals first, as then, so a tick
// takes the same steps (TestTickOrderUnchanged).

type timer struct {
	at uint64
	p  *proposal
	op *readOp
}

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// wakeProposal queues p for the next tick's visit.
func (r *Replica) wakeProposal(p *proposal) { heap.Push(&r.timers, timer{p: p}) }

// wakeRead queues op for the next tick's visit.
func (r *Replica) wakeRead(op *readOp) { heap.Push(&r.timers, timer{op: op}) }

// wake is the first tick at which tickProposal could act on p.
func (p *proposal) wake() uint64 {
	switch p.phase {
	case phLeader, phPrepare, phAccept:
		if p.chosen {
			return p.graceUntil
		}
		return p.deadline
	case phBackoff:
		return p.deadline
	case phInvalidate:
		if len(p.inv) == 0 {
			return 0
		}
		at := ^uint64(0)
		for _, w := range p.inv {
			if w.waitUntil != 0 {
				at = min(at, w.waitUntil)
			} else {
				at = min(at, w.deadline)
			}
		}
		return at
	}
	return 0
}

// tickTimers visits the operations due at r.now.
func (r *Replica) tickTimers() {
	var props []*proposal
	var reads []*readOp
	// NB: only operations queued before the tick began are visited; one
	// created or moved on during the tick is queued for the next.
	for len(r.timers) > 0 && r.timers[0].at <= r.now {
		t := heap.Pop(&r.timers).(timer)
		switch {
		case t.p != nil && !t.p.finished && t.p.visited != r.now:
			t.p.visited = r.now
			props = append(props, t.p)
		case t.op != nil && !t.op.finished && t.op.visited != r.now:
			t.op.visited = r.now
			reads = append(reads, t.op)
		}
	}
	slices.SortFunc(props, func(a, b *proposal) int { return cmpUint(a.id, b.id) })
	slices.SortFunc(reads, func(a, b *readOp) int { return cmpUint(uint64(a.id), uint64(b.id)) })
	for _, p := range props {
		if !p.finished {
			r.tickProposal(p)
		}
	}
	for _, op := range reads {
		if !op.finished {
			r.tickRead(op)
		}
	}
	for _, p := range props {
		if !p.finished {
			heap.Push(&r.timers, timer{at: p.wake(), p: p})
		}
	}
	for _, op := range reads {
		if !op.finished {
			heap.Push(&r.timers, timer{at: op.deadline, op: op})
		}
	}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
