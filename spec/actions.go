package spec

// One function per action of Megastore.tla, with the same name, the same
// arguments (as indices into the config's tables) and the same enabling
// condition, in the same order as the module. Each returns the successor
// and whether the action is enabled. Where a Mutation breaks a step, the
// broken line sits next to the line it breaks.

// ---- Derived state ----------------------------------------------------

// ChosenAt: some quorum voted for v at one ballot at position i.
func (c *Config) ChosenAt(s State, g, i, v int) bool {
	for _, b := range c.ballots {
		bit := c.voteBit(b, v)
		for _, q := range c.quorums {
			all := true
			for a := 0; a < len(c.sites) && all; a++ {
				if q&(1<<a) != 0 && s.Votes[c.slot(g, a, i)]&bit == 0 {
					all = false
				}
			}
			if all {
				return true
			}
		}
	}
	return false
}

// Committed: the values of proposers that passed the visibility point at
// position i; returned as a bitmask over value indices.
func (c *Config) Committed(s State, g, i int) uint32 {
	var m uint32
	for p, pr := range s.Prop {
		if c.props[p].group == g && pr.Phase == PhaseDone && int(pr.Pos) == i {
			m |= 1 << pr.Val
		}
	}
	return m
}

// Acked is the set of acknowledged writes of group g.
func (c *Config) Acked(s State, g int) uint32 {
	var m uint32
	for p, pr := range s.Prop {
		cp := c.props[p]
		if cp.group == g && pr.Phase == PhaseDone && cp.value != 0 && int(pr.Val) == cp.value {
			m |= 1 << cp.value
		}
	}
	return m
}

// Observed is every write a current read of group g has returned.
func (c *Config) Observed(s State, g int) uint32 {
	var m uint32
	for r, rs := range s.Rd {
		cr := c.readers[r]
		if cr.group == g && cr.current && (rs.Phase == ReadValidating || rs.Phase == ReadDone) {
			m |= rs.Result
		}
	}
	return m
}

// Valid: the coordinator holds g valid and still holds its lease.
func (c *Config) Valid(s State, g, f int) bool {
	return s.CoordValid[c.coordSlot(g, f)] && s.LeaseHeld[f]
}

// maxVoted is Max({0} \cup VotedPositions(g, a)).
func (c *Config) maxVoted(s State, g, a int) int {
	for i := c.MaxPos; i >= 1; i-- {
		if s.Votes[c.slot(g, a, i)] != 0 {
			return i
		}
	}
	return 0
}

// LogWrites of the first n entries of a log, as a bitmask (NoOp excluded).
func LogWrites(l Log, n int) uint32 {
	var m uint32
	for i := 0; i < n; i++ {
		m |= 1 << l.Entries[i]
	}
	return m &^ 1
}

// LeaderOf: the initial leader for position 1, else the nominee carried
// in the entry site s applied at i-1 (-1: nobody).
func (c *Config) LeaderOf(s State, g, site, i int) int {
	if i == 1 {
		return c.leader[g]
	}
	return c.nominee[s.Applied[c.dataSlot(g, site)].Entries[i-2]]
}

// pastCommitPoint is HasQuorum(prop[p].acks), the guard of Invalidate,
// WaitOutLease and Commit; AckBeforeQuorum drops it.
func (c *Config) pastCommitPoint(pr Proposer) bool {
	return c.hasQuorum(pr.Acks) || c.Mutations.Has(AckBeforeQuorum)
}

func (c *Config) hasQuorum(set uint32) bool {
	for _, q := range c.quorums {
		if q&^set == 0 {
			return true
		}
	}
	return false
}

// ---- Writes (§4.6.3) --------------------------------------------------

func (c *Config) BeginWrite(s State, p int) (State, bool) {
	cp := c.props[p]
	l := s.Applied[c.dataSlot(cp.group, cp.site)]
	if s.Prop[p].Phase != PhaseIdle || cp.value == 0 || int(l.Len) >= c.MaxPos {
		return s, false
	}
	pr := s.Prop[p]
	pr.Phase, pr.Pos = PhaseReady, l.Len+1
	s.Prop = with(s.Prop, p, pr)
	return s, true
}

func (c *Config) BeginClose(s State, p, i int) (State, bool) {
	cp := c.props[p]
	l := s.Applied[c.dataSlot(cp.group, cp.site)]
	if s.Prop[p].Phase != PhaseIdle || cp.value != 0 || int(l.Len) >= i || i > c.MaxPos {
		return s, false
	}
	pr := s.Prop[p]
	pr.Phase, pr.Pos = PhaseReady, int8(i)
	s.Prop = with(s.Prop, p, pr)
	return s, true
}

func (c *Config) AcceptLeader(s State, p int) (State, bool) {
	cp, pr := c.props[p], s.Prop[p]
	if pr.Phase != PhaseReady || pr.Lost || cp.value == 0 {
		return s, false
	}
	g, i := cp.group, int(pr.Pos)
	L := c.LeaderOf(s, g, cp.site, i)
	if L < 0 || c.voters&(1<<L) == 0 || s.MaxBal[c.slot(g, L, i)] != 0 {
		return s, false
	}
	zeroVotes := s.Votes[c.slot(g, L, i)] & c.zeroMask
	if zeroVotes != 0 && !c.Mutations.Has(GrantBallotZeroTwice) {
		return s, false
	}
	if c.voteBit(0, cp.value) == 0 {
		return s, false // beyond the declared VotePairs: Tracer reports it
	}
	s.Votes = with(s.Votes, c.slot(g, L, i), s.Votes[c.slot(g, L, i)]|c.voteBit(0, cp.value))
	pr.Phase, pr.Bal, pr.Val, pr.Acks = PhaseAccept, 0, int8(cp.value), 1<<L
	s.Prop = with(s.Prop, p, pr)
	return s, true
}

func (c *Config) Prepare(s State, p, b int) (State, bool) {
	pr := s.Prop[p]
	if pr.Phase != PhaseReady && pr.Phase != PhasePrepare && pr.Phase != PhaseAccept {
		return s, false
	}
	if pr.Lost || b <= int(pr.Bal) {
		return s, false
	}
	pr.Phase, pr.Bal, pr.Val, pr.Acks, pr.Inval = PhasePrepare, int8(b), int8(c.props[p].value), 0, 0
	s.Prop = with(s.Prop, p, pr)
	return s, true
}

func (c *Config) Promise(s State, p, a int) (State, bool) {
	cp, pr := c.props[p], s.Prop[p]
	if pr.Phase < PhasePrepare || pr.Acks&(1<<a) != 0 {
		return s, false
	}
	slot := c.slot(cp.group, a, int(pr.Pos))
	if int(s.MaxBal[slot]) >= int(pr.Bal) {
		return s, false
	}
	s.MaxBal = with(s.MaxBal, slot, pr.Bal)
	if pr.Phase == PhasePrepare {
		pr.Acks |= 1 << a
		s.Prop = with(s.Prop, p, pr)
	}
	return s, true
}

// Propose takes the quorum q the proposer heard from; it adopts the
// highest-ballot vote below its ballot that q reported (Reported), the
// lowest value index among ties as TLC's CHOOSE would for unique votes.
func (c *Config) Propose(s State, p int, q uint32) (State, bool) {
	cp, pr := c.props[p], s.Prop[p]
	if pr.Phase != PhasePrepare || pr.Lost || q&^pr.Acks != 0 {
		return s, false
	}
	var reported uint64
	for a := range c.sites {
		if q&(1<<a) != 0 {
			reported |= s.Votes[c.slot(cp.group, a, int(pr.Pos))]
		}
	}
	val := cp.value
	found := false
	for bi := len(c.ballots) - 1; bi >= 0 && !found; bi-- {
		if c.ballots[bi] >= int(pr.Bal) {
			continue
		}
		for v := range c.values {
			if c.hasVote(reported, c.ballots[bi], v) {
				val, found = v, true
				break
			}
		}
	}
	pr.Phase, pr.Acks, pr.Val = PhaseAccept, 0, int8(val)
	s.Prop = with(s.Prop, p, pr)
	return s, true
}

func (c *Config) Accept(s State, p, a int) (State, bool) {
	cp, pr := c.props[p], s.Prop[p]
	if (pr.Phase != PhaseAccept && pr.Phase != PhaseDone) || pr.Acks&(1<<a) != 0 {
		return s, false
	}
	g, i, b := cp.group, int(pr.Pos), int(pr.Bal)
	slot := c.slot(g, a, i)
	if int(s.MaxBal[slot]) > b && !c.Mutations.Has(AcceptLowerBallot) {
		return s, false
	}
	bit := c.voteBit(b, int(pr.Val))
	if bit == 0 {
		return s, false // beyond the declared VotePairs: Tracer reports it
	}
	s.MaxBal = with(s.MaxBal, slot, int8(b))
	s.Votes = with(s.Votes, slot, s.Votes[slot]|bit)
	pr.Acks |= 1 << a
	s.Prop = with(s.Prop, p, pr)
	return s, true
}

func (c *Config) Invalidate(s State, p, f int) (State, bool) {
	cp, pr := c.props[p], s.Prop[p]
	// Also after Commit, and again: a late or repeated invalidation arrives.
	if (pr.Phase != PhaseAccept && pr.Phase != PhaseDone) || pr.Lost || !c.pastCommitPoint(pr) || pr.Acks&(1<<f) != 0 {
		return s, false
	}
	slot := c.coordSlot(cp.group, f)
	s.CoordValid = with(s.CoordValid, slot, false)
	if s.InvPos[slot] < pr.Pos {
		s.InvPos = with(s.InvPos, slot, pr.Pos)
	}
	pr.Inval |= 1 << f
	s.Prop = with(s.Prop, p, pr)
	return s, true
}

func (c *Config) WaitOutLease(s State, p, f int) (State, bool) {
	pr := s.Prop[p]
	if pr.Phase != PhaseAccept || pr.Lost || !c.pastCommitPoint(pr) || (pr.Acks|pr.Inval)&(1<<f) != 0 || s.LeaseHeld[f] {
		return s, false
	}
	pr.Inval |= 1 << f
	s.Prop = with(s.Prop, p, pr)
	return s, true
}

func (c *Config) Commit(s State, p int) (State, bool) {
	pr := s.Prop[p]
	if pr.Phase != PhaseAccept || pr.Lost || c.Mutations.Has(CommitStalls) {
		return s, false
	}
	if !c.pastCommitPoint(pr) {
		return s, false
	}
	if c.fullMask&^(pr.Acks|pr.Inval) != 0 && !c.Mutations.Has(SkipInvalidation) {
		return s, false
	}
	pr.Phase = PhaseDone
	s.Prop = with(s.Prop, p, pr)
	return s, true
}

// ---- Catch-up and leases ---------------------------------------------

// Learn has one successor per committed value; emit receives each.
func (c *Config) Learn(s State, g, site int, emit func(State)) {
	ds := c.dataSlot(g, site)
	l := s.Applied[ds]
	i := int(l.Len) + 1
	if i > c.MaxPos || c.Mutations.Has(LearnDisabled) {
		return
	}
	learnable := c.Committed(s, g, i)
	if c.Mutations.Has(CatchUpAppliesUnchosen) {
		// Any value some voter accepted, chosen or not.
		for a := range c.sites {
			vs := s.Votes[c.slot(g, a, i)]
			for k := 0; k < c.numPairs; k++ {
				if vs&(1<<k) != 0 {
					learnable |= 1 << c.pairValue[k]
				}
			}
		}
	}
	if c.Mutations.Has(LearnBeforeVisibility) {
		for v := range c.values {
			if c.ChosenAt(s, g, i, v) {
				learnable |= 1 << v
			}
		}
	}
	for v := range c.values {
		if learnable&(1<<v) != 0 {
			nl := l
			nl.Entries[l.Len] = int8(v)
			nl.Len++
			t := s
			t.Applied = with(s.Applied, ds, nl)
			emit(t)
		}
	}
}

func (c *Config) LoseLease(s State, f int) (State, bool) {
	if !s.LeaseHeld[f] {
		return s, false
	}
	s.LeaseHeld = with(s.LeaseHeld, f, false)
	return s, true
}

func (c *Config) RegainLease(s State, f int) (State, bool) {
	if s.LeaseHeld[f] || (int(s.Epoch[f]) >= c.MaxEpoch && !c.Mutations.Has(EpochUnbounded)) {
		return s, false
	}
	s.LeaseHeld = with(s.LeaseHeld, f, true)
	s.Epoch = with(s.Epoch, f, s.Epoch[f]+1)
	cv := make([]bool, len(s.CoordValid))
	copy(cv, s.CoordValid)
	for g := range c.Groups {
		cv[c.coordSlot(g, f)] = false
	}
	s.CoordValid = cv
	return s, true
}

// Restart: durable state (maxBal, votes, and the epoch count the spec
// keeps across incarnations) stays, and of each group's applied log the
// first keep[g] entries (the rest was written without fsync); the
// coordinator, the proposals and the reads in flight at f are lost.
func (c *Config) Restart(s State, f int, keep []int) (State, bool) {
	if c.crashable&(1<<f) == 0 || !s.LeaseHeld[f] || len(keep) != len(c.Groups) {
		return s, false
	}
	for g, k := range keep {
		if k < 0 || k > int(s.Applied[c.dataSlot(g, f)].Len) {
			return s, false
		}
	}
	var ap []Log
	for g, k := range keep {
		ds := c.dataSlot(g, f)
		if l := s.Applied[ds]; k < int(l.Len) {
			if ap == nil {
				ap = append([]Log(nil), s.Applied...)
			}
			var nl Log
			copy(nl.Entries[:k], l.Entries[:k])
			nl.Len = int8(k)
			ap[ds] = nl
		}
	}
	if ap != nil {
		s.Applied = ap
	}
	s.LeaseHeld = with(s.LeaseHeld, f, false)
	cv := make([]bool, len(s.CoordValid))
	copy(cv, s.CoordValid)
	ip := make([]int8, len(s.InvPos))
	copy(ip, s.InvPos)
	for g := range c.Groups {
		cv[c.coordSlot(g, f)] = false
		ip[c.coordSlot(g, f)] = 0
	}
	s.CoordValid, s.InvPos = cv, ip
	var props []Proposer
	for p, pr := range s.Prop {
		if c.props[p].site == f && (pr.Phase == PhaseReady || pr.Phase == PhasePrepare || pr.Phase == PhaseAccept) && !pr.Lost {
			if props == nil {
				props = append([]Proposer(nil), s.Prop...)
			}
			props[p].Lost = true
		}
	}
	if props != nil {
		s.Prop = props
	}
	var rds []Reader
	for r, rs := range s.Rd {
		if c.readers[r].site != f {
			continue
		}
		switch rs.Phase {
		case ReadBegun, ReadCatchup:
			rs = Reader{}
		case ReadValidating:
			rs.Phase = ReadDone
		default:
			continue
		}
		if rds == nil {
			rds = append([]Reader(nil), s.Rd...)
		}
		rds[r] = rs
	}
	if rds != nil {
		s.Rd = rds
	}
	return s, true
}

// ---- Reads (§4.6.2) ---------------------------------------------------

func (c *Config) ReadBegin(s State, r int) (State, bool) {
	cr := c.readers[r]
	serves := c.fullMask
	if c.Mutations.Has(WitnessServesReads) {
		serves = c.voters
	}
	if s.Rd[r].Phase != ReadIdle || !cr.current || serves&(1<<cr.site) == 0 {
		return s, false
	}
	rs := s.Rd[r]
	rs.Phase = ReadBegun
	if cr.site < c.numFull {
		rs.Epoch = s.Epoch[cr.site]
	}
	rs.MustSee, rs.Seen = c.Acked(s, cr.group), c.Observed(s, cr.group)
	s.Rd = with(s.Rd, r, rs)
	return s, true
}

func (c *Config) ReadLocal(s State, r int) (State, bool) {
	cr, rs := c.readers[r], s.Rd[r]
	if rs.Phase != ReadBegun || cr.site >= c.numFull {
		return s, false
	}
	g := cr.group
	valid := c.Valid(s, g, cr.site)
	if c.Mutations.Has(LocalReadAfterLeaseLoss) {
		valid = s.CoordValid[c.coordSlot(g, cr.site)]
	}
	if !valid {
		return s, false
	}
	l := s.Applied[c.dataSlot(g, cr.site)]
	if c.maxVoted(s, g, cr.site) > int(l.Len) {
		return s, false
	}
	rs.Phase, rs.Result = ReadDone, LogWrites(l, int(l.Len))
	s.Rd = with(s.Rd, r, rs)
	return s, true
}

func (c *Config) ReadFindPos(s State, r int, q uint32) (State, bool) {
	rs := s.Rd[r]
	if rs.Phase != ReadBegun {
		return s, false
	}
	target := 0
	for a := range c.sites {
		if q&(1<<a) != 0 {
			target = max(target, c.maxVoted(s, c.readers[r].group, a))
		}
	}
	rs.Phase, rs.Target = ReadCatchup, int8(target)
	s.Rd = with(s.Rd, r, rs)
	return s, true
}

func (c *Config) ReadCatchUp(s State, r int) (State, bool) {
	cr, rs := c.readers[r], s.Rd[r]
	if rs.Phase != ReadCatchup || c.dataIndex[cr.site] < 0 {
		return s, false
	}
	l := s.Applied[c.dataSlot(cr.group, cr.site)]
	if l.Len < rs.Target || (c.Mutations.Has(CatchUpPastTarget) && l.Len <= rs.Target) {
		return s, false
	}
	rs.Phase, rs.Result = ReadValidating, LogWrites(l, int(rs.Target))
	s.Rd = with(s.Rd, r, rs)
	return s, true
}

func (c *Config) Validate(s State, r int) (State, bool) {
	cr, rs := c.readers[r], s.Rd[r]
	if rs.Phase != ReadValidating || cr.site >= c.numFull {
		return s, false
	}
	slot := c.coordSlot(cr.group, cr.site)
	epochOK := s.Epoch[cr.site] == rs.Epoch || c.Mutations.Has(ValidateWithoutEpochCheck)
	posOK := rs.Target >= s.InvPos[slot] || c.Mutations.Has(ValidateWithoutPositionCheck)
	if epochOK && posOK {
		s.CoordValid = with(s.CoordValid, slot, true)
	}
	rs.Phase = ReadDone
	s.Rd = with(s.Rd, r, rs)
	return s, true
}

func (c *Config) SnapshotRead(s State, r int) (State, bool) {
	cr, rs := c.readers[r], s.Rd[r]
	if rs.Phase != ReadIdle || cr.current || c.dataIndex[cr.site] < 0 {
		return s, false
	}
	l := s.Applied[c.dataSlot(cr.group, cr.site)]
	rs.Phase, rs.Result = ReadDone, LogWrites(l, int(l.Len))
	s.Rd = with(s.Rd, r, rs)
	return s, true
}
