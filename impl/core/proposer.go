package core

import "fmt"

type proposalKind uint8

const (
	// propWrite commits a client's transaction.
	propWrite proposalKind = iota + 1
	// propNoOp closes a position for catch-up or the replication-server duty.
	propNoOp
)

type phase uint8

const (
	phLeader     phase = iota + 1 // AcceptLeader sent, waiting for the leader
	phPrepare                     // Prepare sent, collecting promises
	phAccept                      // Accept sent, collecting votes
	phBackoff                     // waiting to retry with a higher ballot
	phInvalidate                  // chosen; invalidating coordinators
)

// invWait tracks the invalidation of one full site's coordinator.
type invWait struct {
	deadline uint64
	// blocking: the coordinator did not answer in time, so the writer is
	// waiting out its lease (WaitOutLease).
	blocking  bool
	blockAcks map[SiteID]uint64 // remaining grant per lease service
	waitUntil uint64            // set once a majority of services blocked it
}

// proposal is one Paxos proposer run for one position.
type proposal struct {
	id    uint64
	kind  proposalKind
	req   RequestID // propWrite: the client request
	g     *group
	pos   Position
	value Value // what we propose now (ours, or the adopted vote)
	own   Value // our own value, proposed again in each new round
	ours  ValueID

	// finished: answered and forgotten (no longer in Replica.proposals).
	finished bool
	// visited is the tick the timers last visited p at.
	visited uint64

	phase    phase
	ballot   Ballot
	round    uint64
	maxSeen  Ballot
	deadline uint64
	leader   SiteID

	// chosen: a majority accepted (the commit point); graceUntil ends
	// the wait for the remaining full sites' votes.
	chosen     bool
	graceUntil uint64

	promised map[SiteID]bool
	bestSet  bool
	bestBal  Ballot
	best     Value
	accepted map[SiteID]bool
	rejected map[SiteID]bool

	inv map[SiteID]*invWait

	// waiters are other local writes for this position: they conflict.
	waiters []RequestID
	// readers are reads waiting for this position to be closed.
	readers []*readOp
	// sentOwn: a message asking a site to accept our own value left here,
	// so it may be the value chosen (see proposalTruncated).
	sentOwn bool
}

// ProposeWrite starts a write transaction's commit (BeginWrite) at
// req.ReadPosition+1. The error is immediate validation only; the outcome
// arrives as a Result: nil, ErrConflict (rerun the transaction) or
// ErrUnavailable.
func (r *Replica) ProposeWrite(req WriteRequest) (RequestID, error) {
	switch r.kind {
	case Witness:
		return 0, ErrWitnessNoReads
	case ReadOnly:
		return 0, ErrReadOnlySite
	}
	if req.Group == "" {
		return 0, fmt.Errorf("%w: empty group", ErrMalformed)
	}
	if err := r.checkMutations(req.Mutations); err != nil {
		return 0, err
	}
	if len(r.proposals)+len(r.reads) >= r.cfg.MaxInFlight {
		return 0, ErrTooManyRequests
	}
	if r.NeedsLoad(req.Group) {
		return 0, fmt.Errorf("%w: %q", ErrNotLoaded, req.Group)
	}
	g := r.group(req.Group)
	if req.ReadPosition > g.applied {
		// A transaction reads here first (BeginWrite follows a current read
		// at this site); a position beyond that would open holes in the log.
		return 0, fmt.Errorf("%w: read position %d, applied %d", ErrNotApplied, req.ReadPosition, g.applied)
	}
	pos := req.ReadPosition + 1
	r.nextID++
	id := RequestID(r.nextID)
	if _, ok := g.known[pos]; ok || pos <= g.truncated {
		// NB: a truncated position is chosen, and not with this new value.
		r.trace(TraceEvent{Action: ActBeginWrite, Group: g.id, Position: pos, Request: id, Detail: DetailNoProposal})
		r.result(Result{ID: id, Op: OpWrite, Group: g.id, Position: pos, Err: ErrConflict})
		return id, nil
	}
	if p := g.active[pos]; p != nil {
		// At most one value can win; ours is not the one in flight here.
		r.trace(TraceEvent{Action: ActBeginWrite, Group: g.id, Position: pos, Request: id, Detail: DetailNoProposal})
		p.waiters = append(p.waiters, id)
		return id, nil
	}
	r.nextSeq++
	v := Value{
		ID:         ValueID{Site: r.cfg.Self, Incarnation: r.incarnation, Seq: r.nextSeq},
		Timestamp:  r.now,
		NextLeader: r.cfg.Self,
		Mutations:  req.Mutations,
	}
	p := r.newProposal(propWrite, g, pos, v)
	p.req = id
	// NB: traced before the first attempt starts; a Prepare traced next
	// in the same Ready (no known leader) begins that attempt instead.
	r.trace(TraceEvent{Action: ActBeginWrite, Group: g.id, Position: pos, Request: id,
		Proposal: p.id, Value: v.ID})
	leader, ok := r.leaderOf(g, pos)
	if ok {
		p.leader = leader
		p.phase = phLeader
		p.deadline = r.now + r.cfg.ProposalTimeoutTicks
		p.sentOwn = true
		r.send(Message{Type: MsgAcceptLeader, To: leader, Group: g.id, Position: pos,
			Proposal: p.id, Value: p.valueCopy()})
	} else {
		r.startPrepare(p)
	}
	return id, nil
}

// leaderOf returns the leader of position pos: the nominee of the entry at
// pos-1, or the initial leader for position 1. Unknown if pos-1 is unknown.
func (r *Replica) leaderOf(g *group, pos Position) (SiteID, bool) {
	if pos == 1 {
		return r.cfg.InitialLeader, true
	}
	prev, ok := g.known[pos-1]
	if !ok || !r.kinds[prev.NextLeader].Votes() {
		return "", false
	}
	return prev.NextLeader, true
}

func (r *Replica) newProposal(kind proposalKind, g *group, pos Position, v Value) *proposal {
	r.nextID++
	p := &proposal{id: r.nextID, kind: kind, g: g, pos: pos, value: v, own: v, ours: v.ID,
		inv: map[SiteID]*invWait{}, promised: map[SiteID]bool{}, accepted: map[SiteID]bool{},
		rejected: map[SiteID]bool{}}
	r.proposals[p.id] = p
	r.wakeProposal(p)
	if g.active == nil {
		g.active = map[Position]*proposal{}
	}
	g.active[pos] = p
	return p
}

// startNoOp closes (g, pos) with a no-op through full Paxos, unless this site
// already runs a proposal there.
func (r *Replica) startNoOp(g *group, pos Position) *proposal {
	if p := g.active[pos]; p != nil {
		return p
	}
	r.nextSeq++
	// A no-op nominates nobody: the position after it has no leader and
	// every writer prepares (the spec's Nominee(NoOp) = None). Nominating
	// the closer would hand ballot 0 to a site that wrote nothing.
	v := Value{
		ID:        ValueID{Site: r.cfg.Self, Incarnation: r.incarnation, Seq: r.nextSeq},
		Timestamp: r.now,
		NoOp:      true,
	}
	p := r.newProposal(propNoOp, g, pos, v)
	r.startPrepare(p)
	return p
}

// voterSites lists the sites a proposer asks (voters, plus read-only sites
// under the ReadOnlyVotes bug).
func (r *Replica) voterSites() []SiteID {
	var out []SiteID
	for _, s := range r.cfg.Sites {
		if r.countsAsVoter(s.ID) {
			out = append(out, s.ID)
		}
	}
	return out
}

func (r *Replica) countVoters(set map[SiteID]bool) int {
	n := 0
	for s, ok := range set {
		if ok && r.countsAsVoter(s) {
			n++
		}
	}
	return n
}

// startPrepare begins a new round at a ballot above any seen (Prepare).
func (r *Replica) startPrepare(p *proposal) {
	p.round++
	if p.round > r.cfg.MaxRounds {
		r.finishProposal(p, ErrUnavailable)
		return
	}
	round := p.maxSeen.Round() + 1
	if p.ballot.Round() >= round {
		round = p.ballot.Round() + 1
	}
	p.ballot = MakeBallot(round, r.incarnation, r.selfIndex)
	p.phase = phPrepare
	p.deadline = r.now + r.phaseTimeout(p.round)
	p.promised, p.rejected, p.accepted = map[SiteID]bool{}, map[SiteID]bool{}, map[SiteID]bool{}
	p.bestSet, p.chosen = false, false
	// Start from our own value again; promises will tell what to adopt.
	p.value = p.own
	r.trace(TraceEvent{Action: ActPrepare, Group: p.g.id, Position: p.pos, Ballot: p.ballot,
		Proposal: p.id, Request: p.req, Value: p.ours, NoOp: p.kind == propNoOp})
	for _, s := range r.voterSites() {
		r.send(Message{Type: MsgPrepare, To: s, Group: p.g.id, Position: p.pos, Ballot: p.ballot,
			Proposal: p.id})
	}
}

// phaseTimeout grows with the round: a slow majority (a loaded disk, a long
// queue) must not turn into spurious retries that fail the proposal.
func (r *Replica) phaseTimeout(round uint64) uint64 {
	return scaled(r.cfg.ProposalTimeoutTicks, round)
}

// scaled doubles base per round after the first, up to 8 times base: long
// enough to ride out a slow disk, short enough to recover soon after a
// partition heals.
func scaled(base, round uint64) uint64 {
	shift := min(round, 4)
	if shift > 0 {
		shift--
	}
	return base << shift
}

func (r *Replica) backoff(p *proposal) {
	p.phase = phBackoff
	p.deadline = r.now + 1 + r.cfg.Rand.Uint64()%scaled(r.cfg.BackoffMaxTicks, p.round)
}

func (r *Replica) handleProposerReply(m Message) {
	p := r.proposals[m.Proposal]
	if p == nil || p.g.id != m.Group && groupMessage(m.Type) || groupMessage(m.Type) && p.pos != m.Position {
		return // a late reply to a finished proposal
	}
	// NB: a reply may bring p's deadlines earlier (a new round, a backoff).
	r.wakeProposal(p)
	if m.Reject && m.Through >= p.pos && !p.chosen {
		switch m.Type {
		case MsgAcceptLeaderResp, MsgPromise, MsgAccepted:
			r.proposalTruncated(p, m)
			return
		}
	}
	switch m.Type {
	case MsgAcceptLeaderResp:
		if p.phase != phLeader {
			return
		}
		if m.Reject {
			r.raiseSeen(p, m.Ballot)
			r.startPrepare(p)
			return
		}
		p.accepted[m.From] = true
		p.phase = phAccept
		p.deadline = r.now + r.phaseTimeout(p.round)
		r.trace(TraceEvent{Action: ActPropose, Group: p.g.id, Position: p.pos, Ballot: 0,
			Proposal: p.id, Value: p.value.ID, NoOp: p.value.NoOp, Peer: p.leader})
		p.sentOwn = p.sentOwn || p.value.ID == p.ours
		for _, s := range r.voterSites() {
			if s != p.leader {
				r.send(Message{Type: MsgAccept, To: s, Group: p.g.id, Position: p.pos, Ballot: 0,
					Proposal: p.id, Value: p.valueCopy()})
			}
		}
		r.checkChosen(p)
	case MsgPromise:
		if p.phase != phPrepare || m.Ballot != p.ballot && !m.Reject {
			return
		}
		if m.Reject {
			r.raiseSeen(p, m.Ballot)
			p.rejected[m.From] = true
			if r.countVoters(p.rejected) > r.voters-r.quorum() {
				r.backoff(p)
			}
			return
		}
		p.promised[m.From] = true
		if m.Value != nil && (!p.bestSet || m.VoteBallot > p.bestBal) {
			p.bestSet, p.bestBal, p.best = true, m.VoteBallot, *m.Value
		}
		if r.countVoters(p.promised) >= r.quorum() {
			if p.bestSet {
				p.value = p.best
			}
			p.phase = phAccept
			p.deadline = r.now + r.phaseTimeout(p.round)
			r.trace(TraceEvent{Action: ActPropose, Group: p.g.id, Position: p.pos, Ballot: p.ballot,
				Proposal: p.id, Value: p.value.ID, NoOp: p.value.NoOp, Quorum: sortedSites(p.promised)})
			p.sentOwn = p.sentOwn || p.value.ID == p.ours
			for _, s := range r.voterSites() {
				r.send(Message{Type: MsgAccept, To: s, Group: p.g.id, Position: p.pos,
					Ballot: p.ballot, Proposal: p.id, Value: p.valueCopy()})
			}
		}
	case MsgAccepted:
		if m.Ballot != p.ballot && !m.Reject {
			return
		}
		if m.Reject {
			if p.phase != phAccept || p.chosen {
				return // NB: once chosen, a higher ballot can only choose the same value
			}
			r.raiseSeen(p, m.Ballot)
			p.rejected[m.From] = true
			if r.countVoters(p.rejected) > r.voters-r.quorum() {
				r.backoff(p)
			}
			return
		}
		p.accepted[m.From] = true
		switch p.phase {
		case phAccept:
			r.checkChosen(p)
		case phInvalidate:
			// A late vote: that site holds the value, no need to invalidate it.
			if w := p.inv[m.From]; w != nil {
				delete(p.inv, m.From)
				r.maybeCommit(p)
			}
		}
	case MsgInvalidateResp:
		if p.phase == phInvalidate && p.inv[m.From] != nil {
			delete(p.inv, m.From)
			r.maybeCommit(p)
		}
	case MsgLeaseBlockResp:
		w := p.inv[m.Coordinator]
		if p.phase != phInvalidate || w == nil || !w.blocking || w.waitUntil != 0 {
			return
		}
		w.blockAcks[m.From] = m.Ticks
		if len(w.blockAcks) >= len(r.cfg.Sites)/2+1 {
			var longest uint64
			for _, t := range w.blockAcks {
				longest = max(longest, t)
			}
			// NB: one tick more, since this wait starts part-way through
			// the current tick: the writer acts more than ClockSkewTicks
			// of real time after the longest grant ran out, and the skew
			// bound is left whole for clock drift (tla/README.md, "Lease
			// safety argument"; TestWaitOutLeaseOutlastsTheLeaseByTheSkewBound).
			w.waitUntil = r.now + longest + r.cfg.ClockSkewTicks + 1
		}
	}
}

// valueCopy gives each message its own Value: p.value changes when the
// proposer adopts another value or starts a new round, and a message still
// queued (or held by an in-process transport) must keep what it said.
// NB: Mutations are shared: values are immutable once proposed.
func (p *proposal) valueCopy() *Value {
	v := p.value
	return &v
}

func (r *Replica) raiseSeen(p *proposal, b Ballot) {
	if b > p.maxSeen {
		p.maxSeen = b
	}
}

// checkChosen notices the commit point (a majority of voters accepted
// p.value at p.ballot) and, once every full site voted or the grace period is
// over, moves to the invalidation step.
func (r *Replica) checkChosen(p *proposal) {
	if p.phase != phAccept || r.countVoters(p.accepted) < r.quorum() {
		return
	}
	if !p.chosen {
		p.chosen = true
		p.graceUntil = r.now + r.cfg.AcceptGraceTicks
	}
	missing := false
	for _, s := range r.cfg.Sites {
		if s.Kind == Full && !p.accepted[s.ID] {
			missing = true
		}
	}
	if missing && r.now < p.graceUntil {
		return
	}
	p.phase = phInvalidate
	if r.cfg.Bugs.LearnBeforeVisibility {
		for _, s := range r.cfg.Sites {
			if s.ID != r.cfg.Self {
				v := p.value
				r.send(Message{Type: MsgCommit, To: s.ID, Group: p.g.id, Position: p.pos, Value: &v})
			}
		}
	}
	if !r.cfg.Bugs.SkipInvalidation {
		for _, s := range r.cfg.Sites {
			if s.Kind != Full || p.accepted[s.ID] {
				continue
			}
			p.inv[s.ID] = &invWait{deadline: r.now + r.cfg.InvalidateTimeoutTicks}
			r.send(Message{Type: MsgInvalidate, To: s.ID, Group: p.g.id, Position: p.pos,
				Ballot: p.ballot, Proposal: p.id})
		}
	}
	r.maybeCommit(p)
}

// maybeCommit commits once every coordinator that must be is invalidated:
// the visibility point. Only now is the value known committed.
func (r *Replica) maybeCommit(p *proposal) {
	if p.phase != phInvalidate || len(p.inv) > 0 {
		return
	}
	g := p.g
	// NB: leave g.active first, so learn does not finish p a second time.
	delete(g.active, p.pos)
	if len(g.active) == 0 {
		g.active = nil
	}
	r.trace(TraceEvent{Action: ActCommit, Group: g.id, Position: p.pos, Ballot: p.ballot,
		Proposal: p.id, Value: p.value.ID, NoOp: p.value.NoOp})
	r.learn(g, p.pos, p.value)
	for _, s := range r.cfg.Sites {
		if s.ID != r.cfg.Self {
			v := p.value
			r.send(Message{Type: MsgCommit, To: s.ID, Group: g.id, Position: p.pos, Value: &v})
		}
	}
	var err error
	if p.value.ID != p.ours {
		err = ErrConflict
	}
	r.finishProposal(p, err)
}

// finishProposal answers everyone waiting on p and forgets it.
func (r *Replica) finishProposal(p *proposal, err error) {
	delete(r.proposals, p.id)
	p.finished = true
	if p.g.active[p.pos] == p {
		delete(p.g.active, p.pos)
		if len(p.g.active) == 0 {
			p.g.active = nil
		}
	}
	if p.kind == propWrite {
		r.result(Result{ID: p.req, Op: OpWrite, Group: p.g.id, Position: p.pos, Err: err})
	}
	for _, id := range p.waiters {
		werr := ErrConflict
		if !definiteFailure(err) {
			werr = err
		}
		r.result(Result{ID: id, Op: OpWrite, Group: p.g.id, Position: p.pos, Err: werr})
	}
	for _, op := range p.readers {
		if !definiteFailure(err) && r.reads[op.id] == op {
			r.failRead(op, err)
		}
	}
	r.progressGroupReads(p.g)
}

// tickProposal handles phase timeouts.
func (r *Replica) tickProposal(p *proposal) {
	switch p.phase {
	case phLeader, phPrepare, phAccept:
		if p.chosen {
			r.checkChosen(p)
			return
		}
		if r.now >= p.deadline {
			r.backoff(p)
		}
	case phBackoff:
		if r.now >= p.deadline {
			r.startPrepare(p)
		}
	case phInvalidate:
		for _, s := range sortedKeys(p.inv) {
			w := p.inv[s]
			switch {
			case w.waitUntil != 0 && r.now >= w.waitUntil:
				r.trace(TraceEvent{Action: ActWaitOutLease, Group: p.g.id, Position: p.pos, Peer: s,
					Ballot: p.ballot, Proposal: p.id})
				delete(p.inv, s)
			case w.waitUntil == 0 && r.now >= w.deadline:
				// WaitOutLease: block the coordinator's renewals at a majority
				// of lease services, then wait out the longest grant.
				w.blocking = true
				if w.blockAcks == nil {
					w.blockAcks = map[SiteID]uint64{}
				}
				w.deadline = r.now + r.cfg.InvalidateTimeoutTicks
				for _, site := range r.cfg.Sites {
					r.send(Message{Type: MsgLeaseBlock, To: site.ID, Coordinator: s, Proposal: p.id})
				}
				// Keep asking the coordinator too: its ack ends the wait early.
				r.send(Message{Type: MsgInvalidate, To: s, Group: p.g.id, Position: p.pos,
					Ballot: p.ballot, Proposal: p.id})
			}
		}
		r.maybeCommit(p)
	}
}
