package node

import (
	"fmt"

	"github.com/megastore-verified/megastore/impl/core"
)

// A Ready whose only durable content is chosen records is saved without
// fsync (core.Ready.MustSync), so a crash may lose the chosen records of
// the last Readies before it: in each group a suffix of what the site
// learned, since the storage's write-ahead log is sequential and the next
// synced Ready (a promise, a vote, the hard state) syncs every write before
// it. The spec's Restart(f, keep) keeps a prefix of each group's applied
// log; Kept says how long, learnedGaps checks that nothing a sync covered
// went missing.

// readyKey names the Ready a batch belongs to: its incarnation and Ready
// count (Seq in traces written before batches were split).
type readyKey struct{ inc, ready uint64 }

func keyOf(b TraceBatch) readyKey {
	if b.Ready == 0 {
		return readyKey{b.Incarnation, b.Seq}
	}
	return readyKey{b.Incarnation, b.Ready}
}

// synced reports whether a Ready with these events was saved with fsync:
// it persisted an acceptor record (every Promise, Accept and AcceptLeader
// step does).
func synced(ev core.TraceEvent) bool {
	switch ev.Action {
	case core.ActPromise, core.ActAccept, core.ActAcceptLeader:
		return true
	}
	return false
}

// learnedGaps returns a line for every position whose last Learn in trace
// came in a Ready at or before a synced Ready of the same incarnation whose
// Save completed, and that st does not know committed with that value: the
// sync covered it, so losing it is a gap in the log, not a lost suffix (a
// storage whose sync does not cover earlier writes, or a Save split
// wrongly). from is the first batch of the last Ready, which may have died
// inside its Save: it counts as synced only if none of its acceptor steps
// were lost.
func learnedGaps(trace []TraceBatch, from int, lost []LostEvents, st core.State) []string {
	type learnt struct {
		at        readyKey
		v         core.ValueID
		compacted bool
	}
	learned := map[[2]any]learnt{}
	var order [][2]any
	// The last Ready of each incarnation may have died inside its Save:
	// the last incarnation's did not if none of its acceptor steps were
	// lost; an earlier one's is not known here, so it counts as unsynced.
	last := map[uint64]uint64{}
	for _, b := range trace {
		k := keyOf(b)
		last[k.inc] = max(last[k.inc], k.ready)
	}
	final := keyOf(trace[len(trace)-1]).inc
	horizon := map[uint64]uint64{} // incarnation -> last synced Ready
	for i, b := range trace {
		k := keyOf(b)
		completed := k.ready != last[k.inc] || (k.inc == final && i >= from && len(lost) == 0)
		for _, ev := range b.Events {
			if ev.Action == core.ActLearn {
				p := [2]any{ev.Group, ev.Position}
				if _, ok := learned[p]; !ok {
					order = append(order, p)
				}
				learned[p] = learnt{k, ev.Value, ev.Detail == core.DetailCompacted}
			}
			if synced(ev) && completed {
				horizon[k.inc] = max(horizon[k.inc], k.ready)
			}
		}
	}
	known := knownCommitted(st)
	var out []string
	for _, p := range order {
		l := learned[p]
		h, ok := horizon[l.at.inc]
		g, pos := p[0].(core.GroupID), p[1].(core.Position)
		if !ok || l.at.ready > h || known(g, pos, l.v) || l.compacted && compactedKnown(st, g, pos) {
			continue
		}
		out = append(out, fmt.Sprintf("%s/%d: learned %s committed before a synced Ready (incarnation %d, Ready %d), restarted without knowing it: a sync covers every earlier write, so only a suffix of the learned log may be lost",
			p[0], p[1], l.v, l.at.inc, h))
	}
	return out
}

// compactedKnown: an installed compacted state (a Learn of every position
// up to its own, core.DetailCompacted) names no values; st holds p if it
// applied or truncated that far.
func compactedKnown(st core.State, g core.GroupID, p core.Position) bool {
	return st.Applied[g] >= p || st.Truncated[g] >= p
}

// Kept returns, for every group whose learned log (the Learn steps of
// trace, every earlier incarnation's) the restored state st does not hold
// whole, the longest prefix of it st still knows committed: the keep of
// the spec's Restart for that group. Groups st holds whole are absent.
func Kept(trace []TraceBatch, st core.State) map[core.GroupID]core.Position {
	learned := map[core.GroupID]map[core.Position]core.ValueID{}
	top := map[core.GroupID]core.Position{}
	compacted := map[core.GroupID]core.Position{}
	for _, b := range trace {
		for _, ev := range b.Events {
			if ev.Action != core.ActLearn {
				continue
			}
			if ev.Detail == core.DetailCompacted {
				compacted[ev.Group] = max(compacted[ev.Group], ev.Position)
				top[ev.Group] = max(top[ev.Group], ev.Position)
				continue
			}
			if learned[ev.Group] == nil {
				learned[ev.Group] = map[core.Position]core.ValueID{}
			}
			learned[ev.Group][ev.Position] = ev.Value
			top[ev.Group] = max(top[ev.Group], ev.Position)
		}
	}
	known := knownCommitted(st)
	var out map[core.GroupID]core.Position
	for g, n := range top {
		k := core.Position(0)
		for k < n {
			v, ok := learned[g][k+1]
			held := ok && known(g, k+1, v) || k+1 <= compacted[g] && compactedKnown(st, g, k+1)
			if !held {
				break
			}
			k++
		}
		if k < n {
			if out == nil {
				out = map[core.GroupID]core.Position{}
			}
			out[g] = k
		}
	}
	return out
}
