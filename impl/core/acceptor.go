package core

// The acceptor: the spec's maxBal and votes, one slot per (group, position).
// Every change is queued for persistence in the same Ready as the reply, and
// the driver persists before it sends (doc.go).

func (r *Replica) refuseVote() bool {
	return r.kind == ReadOnly && !r.cfg.Bugs.ReadOnlyVotes
}

// handleAcceptLeader: the leader of a position grants ballot 0 to the first
// writer that asks, and to nobody else (AcceptLeader).
func (r *Replica) handleAcceptLeader(m Message) error {
	if r.refuseVote() {
		return ErrReadOnlySite
	}
	g := r.group(m.Group)
	reply := Message{Type: MsgAcceptLeaderResp, To: m.From, Group: m.Group, Position: m.Position,
		Proposal: m.Proposal}
	if r.refuseTruncated(g, reply) {
		return nil
	}
	s := g.slot(m.Position)
	_, committed := g.known[m.Position]
	grant := !committed && s.maxBal == 0 && (!s.voted || s.vote.ID == m.Value.ID ||
		r.cfg.Bugs.GrantBallotZeroTwice)
	if !grant {
		reply.Reject, reply.Ballot = true, s.maxBal
		r.send(reply)
		return nil
	}
	if !s.voted || s.vote.ID != m.Value.ID {
		s.recordVote(0, *m.Value)
		r.persistSlot(g, m.Position)
		r.trace(TraceEvent{Action: ActAcceptLeader, Group: g.id, Peer: m.From, Position: m.Position,
			Proposal: m.Proposal, Value: m.Value.ID, NoOp: m.Value.NoOp})
	}
	r.raiseHighest(g, m.Position)
	r.send(reply)
	return nil
}

// handlePrepare is phase 1b (Promise).
func (r *Replica) handlePrepare(m Message) error {
	if r.refuseVote() {
		return ErrReadOnlySite
	}
	g := r.group(m.Group)
	reply := Message{Type: MsgPromise, To: m.From, Group: m.Group, Position: m.Position,
		Proposal: m.Proposal, Ballot: m.Ballot}
	if r.refuseTruncated(g, reply) {
		return nil
	}
	s := g.slot(m.Position)
	// NB: >= rather than > so that a duplicated Prepare is answered the
	// same way; ballots are unique per proposer, so this promises nothing new.
	if m.Ballot == 0 || m.Ballot < s.maxBal {
		reply.Reject, reply.Ballot = true, s.maxBal
		r.send(reply)
		return nil
	}
	if m.Ballot > s.maxBal {
		s.maxBal = m.Ballot
		r.persistSlot(g, m.Position)
		r.trace(TraceEvent{Action: ActPromise, Group: g.id, Peer: m.From, Position: m.Position,
			Ballot: m.Ballot, Proposal: m.Proposal})
	}
	if s.voted {
		v := s.vote
		reply.Value, reply.VoteBallot = &v, s.voteBal
	}
	r.send(reply)
	return nil
}

// handleAccept is phase 2b (Accept).
func (r *Replica) handleAccept(m Message) error {
	if r.refuseVote() {
		return ErrReadOnlySite
	}
	g := r.group(m.Group)
	reply := Message{Type: MsgAccepted, To: m.From, Group: m.Group, Position: m.Position,
		Proposal: m.Proposal, Ballot: m.Ballot}
	if r.refuseTruncated(g, reply) {
		return nil
	}
	s := g.slot(m.Position)
	ok := m.Ballot >= s.maxBal || r.cfg.Bugs.AcceptLowerBallot
	if ok && m.Ballot == 0 && s.voted && s.vote.ID != m.Value.ID && !r.cfg.Bugs.GrantBallotZeroTwice {
		// Ballot 0 carries one value per position (the leader grants it
		// once); a second ballot-0 value means a confused proposer.
		ok = false
	}
	if !ok {
		reply.Reject, reply.Ballot = true, s.maxBal
		r.send(reply)
		return nil
	}
	if m.Ballot > s.maxBal {
		s.maxBal = m.Ballot
	}
	if !s.voted || s.voteBal != m.Ballot || s.vote.ID != m.Value.ID {
		s.recordVote(m.Ballot, *m.Value)
		r.persistSlot(g, m.Position)
		r.trace(TraceEvent{Action: ActAccept, Group: g.id, Peer: m.From, Position: m.Position,
			Ballot: m.Ballot, Proposal: m.Proposal, Value: m.Value.ID, NoOp: m.Value.NoOp})
	}
	r.raiseHighest(g, m.Position)
	r.send(reply)
	return nil
}

func (s *slot) recordVote(b Ballot, v Value) {
	if s.voted && s.voteBal != b {
		s.earlier = append(s.earlier, s.voteBal)
	}
	s.voted, s.voteBal, s.vote = true, b, v
}
