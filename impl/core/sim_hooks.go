package core

import "fmt"

// ProposalView is what a simulator needs to name a proposal in a trace: a
// spec proposer is one ballot attempt of one proposal (tests/sim).
type ProposalView struct {
	ID     uint64
	Req    RequestID // the client request; 0 for a no-op closer
	Group  GroupID
	Pos    Position
	Own    ValueID // the value this proposal was started with
	NoOp   bool
	Ballot Ballot // the current attempt's ballot (0: the leader fast path)
}

// ActiveProposal returns the proposal this site runs at (group, pos), if
// any. Read-only; for simulators and tests.
func (r *Replica) ActiveProposal(gid GroupID, pos Position) (ProposalView, bool) {
	g := r.groups[gid]
	if g == nil || g.active[pos] == nil {
		return ProposalView{}, false
	}
	p := g.active[pos]
	return ProposalView{ID: p.id, Req: p.req, Group: gid, Pos: pos, Own: p.ours,
		NoOp: p.kind == propNoOp, Ballot: p.ballot}, true
}

// FillReadWrites sets Writes of every read step among events (ReadLocal,
// ReadCatchUp, SnapshotRead) to the non-no-op values of this site's log at
// positions 1..Position. A driver that records traces calls it on a Ready's
// events before Advance; it walks the log, so production drivers that do
// not record traces skip it. It returns an error if the site does not know
// a position a read was served at.
func (r *Replica) FillReadWrites(events []TraceEvent) error {
	for i := range events {
		ev := &events[i]
		switch ev.Action {
		case ActReadLocal, ActReadCatchUp, ActSnapshotRead:
		default:
			continue
		}
		ev.Writes, ev.Compacted = ev.Writes[:0], 0
		if g := r.groups[ev.Group]; g != nil && g.truncated > 0 {
			// NB: a truncation emitted with this read keeps its versions
			// (maybeTruncate), so the point is at most the read's.
			ev.Compacted = min(g.truncated, ev.Position)
		}
		for p := ev.Compacted + 1; p <= ev.Position; p++ {
			v, ok := r.Known(ev.Group, p)
			if !ok {
				return fmt.Errorf("core: %s at %s read through %d without knowing %d", ev.Action, r.cfg.Self, ev.Position, p)
			}
			if !v.NoOp {
				ev.Writes = append(ev.Writes, v.ID)
			}
		}
	}
	return nil
}
