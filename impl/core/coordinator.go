package core

import (
	"fmt"
	"slices"
)

// The coordinator (full sites, §4.4.1, §4.7) and the lease service (every
// site, standing in for Chubby [ours]). The coordinator holds a lease from
// each site's lease service and may call groups valid only while it holds a
// majority of them; it counts each lease from the tick it SENT the request,
// so its view expires no later than the service's, up to clock drift.

// majoritySites is the majority of all sites: every site runs a lease service.
func (r *Replica) majoritySites() int { return len(r.cfg.Sites)/2 + 1 }

// leaseStamp tags a lease request with this incarnation and its send tick:
// a grant answering a request of an earlier incarnation must not count, as
// its ticks are from another timeline.
func (r *Replica) leaseStamp() uint64 {
	return (r.incarnation&0xffffff)<<40 | r.now&(1<<40-1)
}

func (r *Replica) renewLeases() {
	r.lastRenewal = r.now
	if r.coordDown {
		return
	}
	for _, s := range r.cfg.Sites {
		r.send(Message{Type: MsgLeaseRequest, To: s.ID, Proposal: r.leaseStamp()})
	}
}

// refreshLease recomputes leaseHeld from the lease expiries: LoseLease and
// RegainLease are its transitions.
func (r *Replica) refreshLease() {
	n := 0
	for _, exp := range r.leaseExpiry {
		if exp > r.now {
			n++
		}
	}
	held := n >= r.majoritySites() && !r.coordDown
	switch {
	case r.leaseHeld && !held:
		r.leaseHeld = false
		r.trace(TraceEvent{Action: ActLoseLease, Epoch: r.epoch})
		if !r.cfg.Bugs.LocalReadAfterLeaseLoss {
			for _, g := range r.groups {
				g.valid = false
			}
		}
	case !r.leaseHeld && held:
		// A new epoch: validations begun under the old one are void, and
		// every group must be caught up and validated again.
		r.leaseHeld = true
		r.epoch++
		for _, g := range r.groups {
			g.valid = false
		}
		r.trace(TraceEvent{Action: ActRegainLease, Epoch: r.epoch})
	}
}

func (r *Replica) handleLeaseGrant(m Message) {
	if r.kind != Full {
		return
	}
	// NB: first notice any lapse at the current tick, so a fresh grant that
	// follows an expiry is seen as a regain (new epoch), not a renewal.
	r.refreshLease()
	sent := m.Proposal & (1<<40 - 1)
	if m.Reject || m.Proposal>>40 != r.incarnation&0xffffff || sent > r.now {
		return
	}
	exp := sent + m.Ticks
	if r.cfg.Bugs.LeaseFromGrantArrival {
		exp = r.now + m.Ticks
	}
	if exp > r.leaseExpiry[m.From] {
		r.leaseExpiry[m.From] = exp
	}
	r.refreshLease()
}

// handleLeaseService is the lease service of this site.
func (r *Replica) handleLeaseService(m Message) {
	switch m.Type {
	case MsgLeaseRequest:
		c := m.From
		lg := r.leaseService[c]
		if lg == nil {
			lg = &leaseGrant{}
			r.leaseService[c] = lg
		}
		reply := Message{Type: MsgLeaseGrant, To: c, Proposal: m.Proposal}
		// A restarted lease service forgot its grants and blocks: it grants
		// nothing until any grant it may have made before has run out.
		inGrace := r.incarnation > 1 && r.now < r.cfg.LeaseDurationTicks+1+r.cfg.ClockSkewTicks
		if r.kinds[c] != Full || inGrace || r.now < lg.blockedUntil || lg.down {
			reply.Reject = true
			r.send(reply)
			return
		}
		// NB: the coordinator counts the grant from the tick it asked in,
		// which began before this one: the service counts one tick more, so
		// its grant never runs out before the coordinator's view of it, in
		// real time, however the two sites' ticks are phased.
		lg.expiry = r.now + r.cfg.LeaseDurationTicks + 1
		reply.Ticks = r.cfg.LeaseDurationTicks
		r.send(reply)
	case MsgLeaseBlock:
		lg := r.leaseService[m.Coordinator]
		if lg == nil {
			lg = &leaseGrant{}
			r.leaseService[m.Coordinator] = lg
		}
		var remaining uint64
		if lg.expiry > r.now {
			remaining = lg.expiry - r.now
		}
		// A restarted lease service forgot the grants it made before its
		// crash, and any of them may still run until its grace ends: it
		// must say so, or the writer stops waiting while the coordinator
		// still counts that grant toward its majority (found by the
		// simulator: 15 of 20,000 seeds, the service having crashed and
		// restarted while the coordinator was cut off).
		if grace := r.cfg.LeaseDurationTicks + 1 + r.cfg.ClockSkewTicks; r.incarnation > 1 && r.now < grace {
			remaining = max(remaining, grace-r.now)
		}
		// NB: the block must outlast the coordinator's grants at EVERY
		// service the writer blocked, not just this one's: if this service
		// granted again as soon as its own grant ran out, the coordinator
		// could renew here while its grants elsewhere were still live, keep
		// a majority throughout, and never lose its lease while the writer
		// believes it waited it out (found by the simulator, seed 17 of the
		// contention profile). No grant lasts longer than LeaseDurationTicks
		// (and the tick above), so refusing for that plus the skew bound
		// covers all of them.
		if until := r.now + r.cfg.LeaseDurationTicks + 1 + r.cfg.ClockSkewTicks; until > lg.blockedUntil {
			lg.blockedUntil = until
		}
		r.send(Message{Type: MsgLeaseBlockResp, To: m.From, Coordinator: m.Coordinator,
			Proposal: m.Proposal, Ticks: remaining})
	}
}

// handleInvalidate: a writer tells this site's coordinator that the group
// is no longer up to date here as of m.Position (Invalidate).
func (r *Replica) handleInvalidate(m Message) {
	if r.kind == Full && !r.votedFor(m) {
		g := r.group(m.Group)
		g.valid = false
		if m.Position > g.invPos {
			g.invPos = m.Position
		}
		r.trace(TraceEvent{Action: ActInvalidate, Group: g.id, Peer: m.From, Position: m.Position,
			Epoch: r.epoch, Ballot: m.Ballot, Proposal: m.Proposal})
	}
	r.send(Message{Type: MsgInvalidateResp, To: m.From, Group: m.Group, Position: m.Position,
		Proposal: m.Proposal})
}

// votedFor reports whether this site's acceptor holds the vote the
// invalidating writer is completing: a ballot names one value at a position
// (ballot 0 is granted once per position), so that site accepted the value
// and its coordinator need not give up the group. The writer only asks
// because the vote reached it too late (after AcceptGraceTicks); ignoring
// such an Invalidate keeps fast local reads here, and is what the spec's
// Invalidate guard (f \notin acks) says.
func (r *Replica) votedFor(m Message) bool {
	g := r.groups[m.Group]
	if g == nil {
		return false
	}
	if m.Position <= g.truncated {
		// NB: the slot is gone with the truncated log; the ballots it
		// voted at are kept a while for this question (truncVotes).
		return slices.Contains(g.truncVotes[m.Position], m.Ballot)
	}
	sl := g.slots[m.Position]
	return sl != nil && sl.voted && (sl.voteBal == m.Ballot || slices.Contains(sl.earlier, m.Ballot))
}

// validate is the fire-and-forget Validate of a reader that caught the group
// up to pos under the epoch it read at ReadBegin (§4.7.2); req names the read.
func (r *Replica) validate(g *group, pos Position, epoch uint64, req RequestID) {
	// NB: the lease need not be held: Valid is coordValid AND leaseHeld, and
	// a regain starts a new epoch with every group invalid anyway.
	epochOK := epoch == r.epoch || r.cfg.Bugs.ValidateWithoutEpochCheck
	posOK := pos >= g.invPos || r.cfg.Bugs.ValidateWithoutPositionCheck
	ok := epochOK && posOK
	if ok {
		g.valid = true
	}
	detail := "applied"
	if !ok {
		detail = "ignored"
	}
	r.trace(TraceEvent{Action: ActValidate, Group: g.id, Position: pos, Epoch: epoch, Request: req, Detail: detail})
}

// MarkCoordinatorDown is the operator's control of §4.9 [ours]: coordinator
// c is down (or, with down false, up again). This site's lease service
// refuses c's lease requests while it is down, so once a majority of sites
// are told, c's lease runs out within one lease and writers that cannot
// reach it wait at most that long (their WaitOutLease finds no grant
// left), not once per write. At c itself the coordinator drops its lease at
// once (LoseLease: no more local reads; current reads catch up through a
// majority) and asks for none until it is marked up, when it regains one
// in a new epoch with every group invalid. The mark is not persisted: a
// restarted site starts up; mark it again.
func (r *Replica) MarkCoordinatorDown(c SiteID, down bool) error {
	if r.kinds[c] != Full {
		return fmt.Errorf("%w: %q is not a full site: only full sites have coordinators", ErrMalformed, c)
	}
	lg := r.leaseService[c]
	if lg == nil {
		lg = &leaseGrant{}
		r.leaseService[c] = lg
	}
	lg.down = down
	if c != r.cfg.Self || r.coordDown == down || r.cfg.Bugs.CoordinatorDownKeepsLease {
		return nil
	}
	r.coordDown = down
	if down {
		// NB: forget the grants too: marked up again, the coordinator must
		// count a lease from a new request, never from one made before.
		for s := range r.leaseExpiry {
			delete(r.leaseExpiry, s)
		}
		r.refreshLease()
		return nil
	}
	r.renewLeases()
	return nil
}
