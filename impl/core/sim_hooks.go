package core

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
