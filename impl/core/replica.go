package core

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// slot is the acceptor state of one position of one group at this site.
type slot struct {
	maxBal  Ballot
	voted   bool
	voteBal Ballot
	vote    Value
	// earlier are the ballots voted at here before voteBal (persisted with
	// the vote): an Invalidate for one of them is for a value this site
	// accepted (coordinator.votedFor).
	earlier []Ballot
	// inDoubtSince is the tick at which the replication-server duty first saw
	// this position voted but not known committed (0: not yet seen).
	inDoubtSince uint64
}

// group is everything this site holds for one entity group.
type group struct {
	id    GroupID
	slots map[Position]*slot
	// known holds values by pointer: a map keeps its values inline in
	// eight-slot buckets, and a Value inline made a group of one known
	// position cost half a kilobyte (BenchmarkIdleGroupMemory).
	known map[Position]*Value
	// knownPrefix: every position 1..knownPrefix is known committed here.
	knownPrefix Position
	// applied is what the driver confirmed applied (Advance); applyQueued is
	// what was handed to it in Ready.Apply.
	applied     Position
	applyQueued Position
	// highest is the highest position voted or known here (ReadFindPos).
	highest Position

	// Coordinator state (full sites): the spec's coordValid and invPos.
	valid  bool
	invPos Position

	// truncated: the log is truncated through here (Config.RetainPositions
	// or an installed compacted state, durable or in the pending Ready):
	// no slot or known value at or below it is held, and the acceptor
	// votes there no more. remoteTrunc is the highest truncation point
	// heard from another site: positions up to it are chosen, and this
	// site can only learn them from a compacted state (snap, in progress).
	truncated   Position
	remoteTrunc Position
	snap        *snapshotFetch
	// truncVotes are the ballots this site voted at in the last
	// voteWindow truncated positions (their acceptor records stay on disk
	// that long: Truncation.VotesThrough): a late Invalidate for a vote
	// this site gave is answered without giving the group up, as the
	// spec's Invalidate guard (f not in acks) says.
	truncVotes map[Position][]Ballot

	// active is the proposal this site runs at a position, if any. One per
	// position and site: two local proposers could otherwise pick one ballot.
	active map[Position]*proposal
	reads  map[RequestID]*readOp

	// prev and next link the held groups from most to least recently used
	// (Replica.lru), the order EvictIdle forgets idle ones in.
	prev, next *group
}

// knownID is the id of the value known committed at p (zero if none).
func (g *group) knownID(p Position) ValueID {
	if v := g.known[p]; v != nil {
		return v.ID
	}
	return ValueID{}
}

func (g *group) slot(p Position) *slot {
	s := g.slots[p]
	if s == nil {
		s = &slot{}
		g.slots[p] = s
	}
	return s
}

// leaseGrant is the lease service's record of its grant to one coordinator.
type leaseGrant struct {
	expiry       uint64 // in this site's ticks
	blockedUntil uint64 // a writer waits this coordinator out: grant nothing before
	// down: an operator marked the coordinator down (§4.9 [ours]): grant
	// nothing until it is marked up again.
	down bool
}

// Replica is one site's protocol state for every entity group hosted there.
// It is not safe for concurrent use: one driver goroutine owns it.
type Replica struct {
	cfg         Config
	selfIndex   int
	kind        SiteKind
	kinds       map[SiteID]SiteKind
	voters      int
	incarnation uint64
	now         uint64
	nextID      uint64
	nextSeq     uint64

	groups map[GroupID]*group
	// partial: the replica may not hold every group that has durable state
	// (Restore from a partial State, or a group was evicted): a group not
	// held must be loaded before anything names it.
	partial bool
	// lru is the sentinel of the held groups' list, most recent first.
	lru group
	// unsettled holds the groups whose known prefix may be below their
	// highest position: the only ones the replication-server scan has work
	// for at full sites. A group joins when its highest position rises and
	// leaves at the first scan that finds it settled.
	unsettled map[GroupID]*group
	// sweep is a read-only site's round of held groups to ask the full
	// sites about (scan), in name order, and sweepNext its cursor: sorted
	// once per round, so a scan's cost does not grow with the groups held.
	sweep     []GroupID
	sweepNext int
	// proposals and reads by id, for replies and ticks.
	proposals map[uint64]*proposal
	reads     map[RequestID]*readOp
	// timers wake the operations in flight when they are due (timers.go).
	timers timerHeap

	// Coordinator (full sites only): the spec's epoch and leaseHeld; the
	// expiry of the lease from each site, in this site's ticks.
	epoch        uint64
	leaseHeld    bool
	leaseExpiry  map[SiteID]uint64
	lastRenewal  uint64
	renewedOnce  bool
	lastScan     uint64
	leaseService map[SiteID]*leaseGrant
	// coordDown: an operator marked this site's own coordinator down: it
	// holds no lease and asks for none until marked up.
	coordDown bool

	pending pendingReady
	// unadvanced counts the Readies handed out and not yet Advanced: a
	// pipelined driver builds the next Ready while earlier ones are still
	// being saved (see doc.go), and EvictIdle must wait for them.
	unadvanced int
	// evictBusy breaks EvictIdle for a test: it forgets groups in use too.
	evictBusy bool
	// fatal is the first assertion failure (see Ready.Fatal).
	fatal error
}

// pendingReady accumulates the next Ready.
type pendingReady struct {
	hardState *HardState
	accKeys   []accKey
	acc       map[accKey]AcceptorRecord
	chosen    []Entry
	msgs      []Message
	apply     []Entry
	results   []Result
	trace     []TraceEvent
	install   []Install
	truncate  []Truncation
}

type accKey struct {
	g GroupID
	p Position
}

// NewReplica builds a replica with empty state (a brand new site).
func NewReplica(cfg Config) (*Replica, error) { return Restore(cfg, State{}) }

// Restore rebuilds a replica from the state its Storage loaded after a
// restart. Coordinator state is not durable: every group starts invalid and
// the coordinator must regain its leases (a new epoch). The new incarnation
// is in the first Ready's HardState and must be persisted like the rest.
func Restore(cfg Config, st State) (*Replica, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Replica{
		cfg:          cfg,
		kinds:        map[SiteID]SiteKind{},
		groups:       map[GroupID]*group{},
		unsettled:    map[GroupID]*group{},
		partial:      st.Partial,
		proposals:    map[uint64]*proposal{},
		reads:        map[RequestID]*readOp{},
		leaseExpiry:  map[SiteID]uint64{},
		leaseService: map[SiteID]*leaseGrant{},
		incarnation:  st.HardState.Incarnation + 1,
	}
	r.pending.acc = map[accKey]AcceptorRecord{}
	r.lru.prev, r.lru.next = &r.lru, &r.lru
	for i, s := range cfg.Sites {
		r.kinds[s.ID] = s.Kind
		if s.Kind.Votes() {
			r.voters++
		}
		if s.ID == cfg.Self {
			r.selfIndex, r.kind = i, s.Kind
		}
	}
	r.pending.hardState = &HardState{Incarnation: r.incarnation}
	// Replies are matched to proposals and reads by id. Ids of one
	// incarnation never repeat those of an earlier one, so a reply to a
	// request sent before a crash (say the leader's ballot-0 grant to the
	// old incarnation's value) cannot pass as the reply to a new request
	// with another value (found by the simulator's rapid machine).
	r.nextID = (r.incarnation & 0xffffff) << 32
	for _, a := range st.Acceptor {
		if a.Group == "" || a.Position == 0 {
			return nil, fmt.Errorf("%w: acceptor record %q/%d", ErrMalformed, a.Group, a.Position)
		}
		g := r.restoredGroup(a.Group)
		s := g.slot(a.Position)
		s.maxBal, s.voted, s.voteBal, s.vote = a.MaxBal, a.Voted, a.VoteBal, a.Vote
		s.earlier = slices.Clone(a.Earlier)
		if a.Voted && a.Position > g.highest {
			g.highest = a.Position
		}
	}
	for gid, p := range st.Applied {
		g := r.restoredGroup(gid)
		g.applied, g.applyQueued = p, p
	}
	for gid, p := range st.Truncated {
		g := r.restoredGroup(gid)
		g.truncated, g.remoteTrunc = p, p
		g.keepVotes(p, r.voteWindow())
		g.dropThrough(p)
	}
	for _, e := range st.Chosen {
		if e.Group == "" || e.Position == 0 {
			return nil, fmt.Errorf("%w: chosen entry %q/%d", ErrMalformed, e.Group, e.Position)
		}
		g := r.restoredGroup(e.Group)
		if e.Position <= g.truncated {
			continue
		}
		v := e.Value
		g.known[e.Position] = &v
		if e.Position > g.highest {
			g.highest = e.Position
		}
	}
	for _, gid := range sortedKeys(r.groups) {
		g := r.groups[gid]
		// NB: entries at or below applied need not be in Chosen (a storage
		// may truncate them), so the known prefix starts at applied, and at
		// the truncation point (a witness applies nothing to storage).
		g.knownPrefix = max(g.knownPrefix, g.applied, g.truncated)
		g.highest = max(g.highest, g.truncated)
		r.advanceKnown(g)
		if g.highest > g.knownPrefix {
			r.unsettled[gid] = g
		}
	}
	if r.kind == Full {
		r.renewLeases()
	}
	return r, nil
}

// restoredGroup is group for Restore: a partial State holds the groups it
// names.
func (r *Replica) restoredGroup(id GroupID) *group {
	if g := r.groups[id]; g != nil {
		return g
	}
	return r.newGroup(id)
}

// group returns a held group, marking it the most recently used; a group
// nobody wrote springs into existence (doc.go, "Groups") unless the replica
// is partial, where the entry points (Step, ProposeWrite, Read) refuse a
// group not loaded before they get here.
func (r *Replica) group(id GroupID) *group {
	g := r.groups[id]
	if g == nil {
		if r.partial {
			panic(fmt.Sprintf("core: group %q used before it was loaded", id))
		}
		return r.newGroup(id)
	}
	if r.lru.next != g {
		g.unlink()
		r.pushFront(g)
	}
	return g
}

func (g *group) unlink() {
	g.prev.next, g.next.prev = g.next, g.prev
	g.prev, g.next = nil, nil
}

func (r *Replica) pushFront(g *group) {
	g.prev, g.next = &r.lru, r.lru.next
	r.lru.next.prev = g
	r.lru.next = g
}

// raiseHighest records that position p is voted or known here.
func (r *Replica) raiseHighest(g *group, p Position) {
	if p > g.highest {
		g.highest = p
		if g.highest > g.knownPrefix {
			r.unsettled[g.id] = g
		}
	}
}

func (r *Replica) newGroup(id GroupID) *group {
	g := r.groups[id]
	if g == nil {
		// NB: active and reads are made when first written and dropped
		// when emptied: most groups are idle, and two empty maps were a
		// fifth of an idle group's memory (BenchmarkIdleGroupMemory).
		g = &group{
			id:    id,
			slots: map[Position]*slot{},
			known: map[Position]*Value{},
		}
		r.groups[id] = g
		r.pushFront(g)
	}
	return g
}

// NeedsLoad reports whether the driver must LoadGroup gid before handing
// the replica a message or request naming it: the replica is partial and
// does not hold the group.
func (r *Replica) NeedsLoad(gid GroupID) bool {
	return r.partial && r.groups[gid] == nil
}

// LoadGroup installs the durable state of a group the replica does not
// hold, as its driver's GroupStorage loaded it; it rebuilds the group as
// Restore would (an evicted group comes back as it was, its coordinator
// state aside: see EvictIdle). Entries chosen but not applied are queued
// in the next Ready's Apply, as after a restart.
func (r *Replica) LoadGroup(gid GroupID, gs GroupState) error {
	if !r.NeedsLoad(gid) {
		return fmt.Errorf("%w: group %q is held already", ErrMalformed, gid)
	}
	if gid == "" {
		return fmt.Errorf("%w: empty group", ErrMalformed)
	}
	for _, a := range gs.Acceptor {
		if a.Group != gid || a.Position == 0 {
			return fmt.Errorf("%w: acceptor record %q/%d loading %q", ErrMalformed, a.Group, a.Position, gid)
		}
	}
	for _, e := range gs.Chosen {
		if e.Group != gid || e.Position == 0 {
			return fmt.Errorf("%w: chosen entry %q/%d loading %q", ErrMalformed, e.Group, e.Position, gid)
		}
	}
	g := r.newGroup(gid)
	g.truncated, g.remoteTrunc = gs.Truncated, gs.Truncated
	for _, a := range gs.Acceptor {
		if a.Position <= g.truncated {
			// NB: no longer a vote, but its ballots answer a late
			// Invalidate (truncVotes).
			if a.Voted && a.Position+r.voteWindow() > g.truncated {
				if g.truncVotes == nil {
					g.truncVotes = map[Position][]Ballot{}
				}
				g.truncVotes[a.Position] = append(slices.Clone(a.Earlier), a.VoteBal)
			}
			continue
		}
		s := g.slot(a.Position)
		s.maxBal, s.voted, s.voteBal, s.vote = a.MaxBal, a.Voted, a.VoteBal, a.Vote
		s.earlier = slices.Clone(a.Earlier)
		if a.Voted && a.Position > g.highest {
			g.highest = a.Position
		}
	}
	g.applied, g.applyQueued = gs.Applied, gs.Applied
	g.knownPrefix = max(gs.Applied, gs.Truncated)
	g.highest = max(g.highest, gs.Truncated)
	for _, e := range gs.Chosen {
		if e.Position <= g.truncated {
			continue
		}
		v := e.Value
		g.known[e.Position] = &v
		if e.Position > g.highest {
			g.highest = e.Position
		}
	}
	r.advanceKnown(g)
	if g.highest > g.knownPrefix {
		r.unsettled[gid] = g
	}
	return nil
}

// idle reports whether g can be forgotten and loaded again from storage
// as it is: no operation of this site runs on it, and everything voted or
// known here is known committed and applied, so nothing of it lives only
// in memory but its coordinator state.
func (g *group) idle() bool {
	return g.active == nil && g.reads == nil && g.applied == g.knownPrefix &&
		g.applyQueued == g.applied && g.highest <= g.knownPrefix
}

// EvictIdle forgets idle groups, least recently used first, until at most
// keep groups are held; it returns how many it forgot. The driver calls it
// between Readies, and from then on loads a group before naming it
// (NeedsLoad). It does nothing while a Ready is pending or handed out and
// not yet Advanced: what those hold may not be durable yet, and a group
// forgotten now would be loaded back from a Storage that lacks it (a
// promise above the known prefix does not keep a group busy, so idle
// alone would not see it). Waiting for Advance also keeps the driver's
// LoadGroup, which reads Storage beside the Saves in flight, safe: a group
// not held has nothing in flight.
//
// An evicted group is exactly its durable state, which LoadGroup restores,
// except for what the coordinator keeps in memory only: validity and
// invPos. The group comes back invalid, as after a restart, so the next
// current read here takes ReadFindPos instead of ReadLocal (the spec allows
// it always). Forgetting invPos is safe because no read of the group is in
// flight (idle): a read begun later finds its target at a majority of
// voters, and every Invalidate this site heard came from a writer whose
// value a majority had accepted already, so the target is at or above any
// invPos forgotten, and Validate's position check passes as the spec's
// would.
func (r *Replica) EvictIdle(keep int) int {
	if keep < 0 || len(r.groups) <= keep || r.HasReady() || r.unadvanced > 0 {
		return 0
	}
	n := 0
	// NB: a group in use goes to the front, as if touched, so a call walks
	// each held group at most once.
	for steps := len(r.groups); steps > 0 && len(r.groups) > keep; steps-- {
		g := r.lru.prev
		g.unlink()
		if !g.idle() && !r.evictBusy {
			r.pushFront(g)
			continue
		}
		delete(r.groups, g.id)
		delete(r.unsettled, g.id)
		n++
	}
	if n > 0 {
		r.partial = true
	}
	return n
}

// Held is how many groups the replica holds in memory.
func (r *Replica) Held() int { return len(r.groups) }

// quorum is the majority of voting sites.
func (r *Replica) quorum() int {
	if r.cfg.Bugs.MajorityOfDataSites {
		data := 0
		for _, k := range r.kinds {
			if k != Witness {
				data++
			}
		}
		return data/2 + 1
	}
	return r.voters/2 + 1
}

// countsAsVoter reports whether a site's accept/promise counts toward quorum.
func (r *Replica) countsAsVoter(s SiteID) bool {
	k := r.kinds[s]
	return k.Votes() || (k == ReadOnly && r.cfg.Bugs.ReadOnlyVotes)
}

func (r *Replica) send(m Message) {
	m.From = r.cfg.Self
	r.pending.msgs = append(r.pending.msgs, m)
}

func (r *Replica) trace(ev TraceEvent) {
	if ev.Site == "" {
		ev.Site = r.cfg.Self
	}
	r.pending.trace = append(r.pending.trace, ev)
}

func (r *Replica) result(res Result) { r.pending.results = append(r.pending.results, res) }

// persistSlot queues the acceptor record of (g, p) for the next Ready.
func (r *Replica) persistSlot(g *group, p Position) {
	s := g.slots[p]
	k := accKey{g.id, p}
	if _, ok := r.pending.acc[k]; !ok {
		r.pending.accKeys = append(r.pending.accKeys, k)
	}
	r.pending.acc[k] = AcceptorRecord{
		Group: g.id, Position: p, MaxBal: s.maxBal,
		Voted: s.voted, VoteBal: s.voteBal, Vote: s.vote, Earlier: slices.Clone(s.earlier),
	}
}

// learn records v as known committed at (g, p). The spec's Learn is the
// in-order append to the applied log, traced in advanceKnown. It returns
// false if the position was already known.
func (r *Replica) learn(g *group, p Position, v Value) bool {
	if p <= g.truncated {
		// NB: chosen, applied and compacted here: its value is forgotten,
		// so a late or duplicated commit cannot be compared with it.
		return false
	}
	if old, ok := g.known[p]; ok {
		if old.ID != v.ID {
			// Two different values committed at one position: the protocol
			// is broken (or a Bugs switch is on). Keep the first, trace it
			// for the checkers, and fail: every Ready from now on carries
			// the error, and the driver stops the replica.
			r.trace(TraceEvent{Action: "Divergence", Group: g.id, Position: p, Value: v.ID, NoOp: v.NoOp,
				Detail: "known " + old.ID.String()})
			if r.fatal == nil {
				r.fatal = fmt.Errorf("%w: site %s, group %q, position %d: chosen value %s known, %s learned",
					ErrDivergence, r.cfg.Self, g.id, p, old.ID, v.ID)
			}
		}
		return false
	}
	g.known[p] = &v
	r.raiseHighest(g, p)
	r.pending.chosen = append(r.pending.chosen, Entry{Group: g.id, Position: p, Value: v})
	r.advanceKnown(g)
	if prop := g.active[p]; prop != nil {
		// Someone else closed the position past its visibility point: our
		// proposal there is over, won or lost.
		var err error
		if v.ID != prop.ours {
			err = ErrConflict
		}
		r.finishProposal(prop, err)
	}
	return true
}

// advanceKnown extends the known prefix and queues entries for applying.
func (r *Replica) advanceKnown(g *group) {
	for {
		if _, ok := g.known[g.knownPrefix+1]; !ok {
			break
		}
		g.knownPrefix++
	}
	if r.kind == Witness {
		// Witnesses keep no data: the log is all there is to apply.
		g.applyQueued, g.applied = g.knownPrefix, g.knownPrefix
		return
	}
	for g.applyQueued < g.knownPrefix {
		g.applyQueued++
		v := *g.known[g.applyQueued]
		r.pending.apply = append(r.pending.apply, Entry{Group: g.id, Position: g.applyQueued, Value: v})
		r.trace(TraceEvent{Action: ActLearn, Group: g.id, Position: g.applyQueued, Value: v.ID, NoOp: v.NoOp})
	}
}

// Tick advances abstract time by one tick.
func (r *Replica) Tick() { r.Elapse(1) }

// Elapse advances abstract time by n ticks at once: what a driver calls when
// it finds it missed ticks (a paused process, a stalled goroutine), so the
// lease is judged at the time it is now before any timer fires. Replaying
// the missed ticks one at a time would let timers fire, and local reads
// complete, at ticks already past, where a lease that ran out during the
// pause still looks held (found by the simulator: a local read served at
// resume, before the replayed ticks reached the lease's expiry).
func (r *Replica) Elapse(n uint64) {
	if n == 0 {
		return
	}
	r.now += n
	if r.kind == Full {
		if r.now-r.lastRenewal >= r.cfg.LeaseRenewTicks {
			r.renewLeases()
		}
		r.refreshLease()
	}
	r.tickTimers()
	if r.now-r.lastScan >= r.cfg.ScanIntervalTicks {
		r.lastScan = r.now
		r.scan()
	}
}

// Step feeds one message from another site (or from this site, see doc.go).
func (r *Replica) Step(m Message) error {
	if err := r.checkMessage(m); err != nil {
		return err
	}
	if groupMessage(m.Type) && r.NeedsLoad(m.Group) {
		return fmt.Errorf("%w: %q (%v)", ErrNotLoaded, m.Group, m.Type)
	}
	switch m.Type {
	case MsgAcceptLeader:
		return r.handleAcceptLeader(m)
	case MsgPrepare:
		return r.handlePrepare(m)
	case MsgAccept:
		return r.handleAccept(m)
	case MsgAcceptLeaderResp, MsgPromise, MsgAccepted, MsgInvalidateResp, MsgLeaseBlockResp:
		r.handleProposerReply(m)
	case MsgInvalidate:
		r.handleInvalidate(m)
	case MsgCommit:
		g := r.group(m.Group)
		r.learn(g, m.Position, *m.Value)
		r.progressGroupReads(g)
	case MsgFindPos:
		g := r.group(m.Group)
		r.send(Message{Type: MsgFindPosResp, To: m.From, Group: m.Group, Proposal: m.Proposal,
			Position: g.highest})
	case MsgFindPosResp:
		r.handleFindPosResp(m)
	case MsgCatchUp:
		r.handleCatchUp(m)
	case MsgCatchUpResp:
		return r.handleCatchUpResp(m)
	case MsgLeaseRequest, MsgLeaseBlock:
		r.handleLeaseService(m)
	case MsgLeaseGrant:
		r.handleLeaseGrant(m)
	}
	return nil
}

// refusal reports whether m is a refusal that may name a truncation point.
func refusal(m Message) bool {
	switch m.Type {
	case MsgAcceptLeaderResp, MsgPromise, MsgAccepted:
		return m.Reject
	}
	return false
}

// groupMessage reports whether messages of type t must name a group.
func groupMessage(t MessageType) bool {
	switch t {
	case MsgLeaseRequest, MsgLeaseGrant, MsgLeaseBlock, MsgLeaseBlockResp:
		return false
	}
	return true
}

func (r *Replica) checkMessage(m Message) error {
	if _, ok := r.kinds[m.From]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownSite, m.From)
	}
	if m.To != r.cfg.Self {
		return fmt.Errorf("%w: message for %q delivered to %q", ErrMalformed, m.To, r.cfg.Self)
	}
	if m.Type == MsgInvalid || m.Type >= msgTypeCount {
		return fmt.Errorf("%w: message type %v", ErrMalformed, m.Type)
	}
	if groupMessage(m.Type) && m.Group == "" {
		return fmt.Errorf("%w: %v without a group", ErrMalformed, m.Type)
	}
	switch m.Type {
	case MsgAcceptLeader, MsgAccept, MsgCommit:
		if m.Value == nil {
			return fmt.Errorf("%w: %v without a value", ErrMalformed, m.Type)
		}
	}
	switch m.Type {
	case MsgAcceptLeader, MsgAccept, MsgCommit, MsgPrepare, MsgPromise, MsgAccepted,
		MsgInvalidate, MsgAcceptLeaderResp:
		if m.Position == 0 {
			return fmt.Errorf("%w: %v at position 0", ErrMalformed, m.Type)
		}
	case MsgLeaseBlock, MsgLeaseBlockResp:
		if _, ok := r.kinds[m.Coordinator]; !ok {
			return fmt.Errorf("%w: lease block for %q", ErrUnknownSite, m.Coordinator)
		}
	}
	if m.Value != nil {
		if err := r.checkMutations(m.Value.Mutations); err != nil {
			return err
		}
	}
	if m.FillRows {
		return fmt.Errorf("%w: %v asks for rows to be filled (FillRows never travels)", ErrMalformed, m.Type)
	}
	if (len(m.Rows) > 0 || m.More || m.Through > 0) && m.Type != MsgCatchUpResp && !refusal(m) {
		return fmt.Errorf("%w: %v carries a compacted state", ErrMalformed, m.Type)
	}
	if len(m.Cursor) > 0 && m.Type != MsgCatchUp && m.Type != MsgCatchUpResp {
		return fmt.Errorf("%w: %v carries a cursor", ErrMalformed, m.Type)
	}
	if len(m.Cursor) > r.cfg.MaxKeyBytes+1 {
		return fmt.Errorf("%w: cursor of %d bytes", ErrKeyTooLarge, len(m.Cursor))
	}
	if len(m.Entries) > r.cfg.MaxCatchUpEntries {
		return fmt.Errorf("%w: %d entries", ErrMalformed, len(m.Entries))
	}
	for _, e := range m.Entries {
		if e.Group != m.Group || e.Position == 0 {
			return fmt.Errorf("%w: catch-up entry %q/%d", ErrMalformed, e.Group, e.Position)
		}
		if err := r.checkMutations(e.Value.Mutations); err != nil {
			return err
		}
	}
	return nil
}

func (r *Replica) checkMutations(ms []Mutation) error {
	if len(ms) > r.cfg.MaxMutations {
		return fmt.Errorf("%w: %d > %d", ErrTooManyMutations, len(ms), r.cfg.MaxMutations)
	}
	for _, mu := range ms {
		if len(mu.Key) == 0 {
			return fmt.Errorf("%w: empty key", ErrMalformed)
		}
		if len(mu.Key) > r.cfg.MaxKeyBytes {
			return fmt.Errorf("%w: %d > %d bytes", ErrKeyTooLarge, len(mu.Key), r.cfg.MaxKeyBytes)
		}
		if len(mu.Value) > r.cfg.MaxValueBytes {
			return fmt.Errorf("%w: %d > %d bytes", ErrValueTooLarge, len(mu.Value), r.cfg.MaxValueBytes)
		}
	}
	return nil
}

// PendingTrace is how many trace events the next Ready holds so far: a
// driver that stamps events by when it read its clock marks with it where
// the events after a reading begin.
func (r *Replica) PendingTrace() int { return len(r.pending.trace) }

// HasReady reports whether Ready would return work.
func (r *Replica) HasReady() bool {
	p := &r.pending
	return p.hardState != nil || len(p.accKeys) > 0 || len(p.chosen) > 0 || len(p.msgs) > 0 ||
		len(p.apply) > 0 || len(p.results) > 0 || len(p.trace) > 0 || len(p.install) > 0 ||
		len(p.truncate) > 0
}

// Ready returns what the driver must do next (see Ready and doc.go). It
// hands over the pending work: every Ready it returns must be Advanced
// once, in the order they were returned; a pipelined driver may take the
// next Ready before the previous one is Advanced (doc.go, item 4).
func (r *Replica) Ready() Ready {
	r.unadvanced++
	p := &r.pending
	rd := Ready{
		Messages: p.msgs,
		Apply:    p.apply,
		Results:  p.results,
		Trace:    p.trace,
		Fatal:    r.fatal,
	}
	rd.HardState = p.hardState
	rd.Chosen = p.chosen
	rd.Install = p.install
	rd.Truncate = p.truncate
	for _, k := range p.accKeys {
		rd.Acceptor = append(rd.Acceptor, p.acc[k])
	}
	// NB: chosen records alone need no fsync at a voter. Paxos does not: the
	// value is chosen once a quorum of durable votes holds it, which came
	// first; and the spec's Restart may lose a suffix of a full site's
	// learned log. The write-ahead log keeps that a suffix: the next synced
	// Ready covers them, and applied data and truncations are written after
	// them. A read-only site has no synced Ready to ride on, and the spec
	// no Restart for it: it syncs them still, off every write's path (it
	// learns after the writer acknowledged). An installed state is synced
	// as before; a truncation need not be: lost in a crash, it is redone,
	// and the refusals this site gave meanwhile are safe either way.
	syncChosen := r.cfg.SyncChosen || r.kind == ReadOnly
	rd.MustSync = rd.HardState != nil || (len(rd.Chosen) > 0 && syncChosen) || len(rd.Install) > 0 ||
		(len(rd.Acceptor) > 0 && !r.cfg.Bugs.AckBeforeMajorityFsync)
	r.pending = pendingReady{acc: map[accKey]AcceptorRecord{}}
	return rd
}

// Advance tells the replica that rd has been fully handled: its entries are
// applied, so reads waiting for them may complete. It may find more work
// for the next Ready (reads that were waiting for these entries).
func (r *Replica) Advance(rd Ready) {
	if r.unadvanced > 0 {
		r.unadvanced--
	}
	touched := map[GroupID]bool{}
	for _, e := range rd.Apply {
		g := r.group(e.Group)
		if e.Position > g.applied {
			g.applied = e.Position
		}
		touched[e.Group] = true
	}
	for _, gid := range sortedKeys(touched) {
		r.progressGroupReads(r.groups[gid])
	}
	if r.cfg.RetainPositions == 0 {
		return
	}
	// NB: a witness applies nothing: what it learned is its log.
	for _, e := range rd.Chosen {
		touched[e.Group] = true
	}
	for _, in := range rd.Install {
		touched[in.Group] = true
	}
	for _, gid := range sortedKeys(touched) {
		if g := r.groups[gid]; g != nil {
			r.maybeTruncate(g)
		}
	}
}

// Status is a read-only summary for tests, debugging and metrics.
type Status struct {
	Site        SiteID
	Kind        SiteKind
	Now         uint64
	Incarnation uint64
	Epoch       uint64
	LeaseHeld   bool
	// CoordinatorDown: an operator marked this site's coordinator down.
	CoordinatorDown bool
	// DownCoordinators are the coordinators this site's lease service
	// refuses because an operator marked them down.
	DownCoordinators []SiteID
	InFlight         int
	Groups           map[GroupID]GroupStatus
}

// GroupStatus summarizes one group at one site.
type GroupStatus struct {
	Valid       bool
	InvPos      Position
	Applied     Position
	KnownPrefix Position
	Highest     Position
	// Truncated is the position the log is truncated through; Held is how
	// many acceptor slots and known values the replica holds in memory.
	Truncated Position
	Held      int
}

// Status returns a snapshot of the replica's state.
func (r *Replica) Status() Status {
	st := Status{
		Site: r.cfg.Self, Kind: r.kind, Now: r.now, Incarnation: r.incarnation,
		Epoch: r.epoch, LeaseHeld: r.leaseHeld, InFlight: len(r.proposals) + len(r.reads),
		Groups: map[GroupID]GroupStatus{}, CoordinatorDown: r.coordDown,
	}
	for _, c := range sortedKeys(r.leaseService) {
		if r.leaseService[c].down {
			st.DownCoordinators = append(st.DownCoordinators, c)
		}
	}
	for id, g := range r.groups {
		st.Groups[id] = GroupStatus{Valid: g.valid, InvPos: g.invPos, Applied: g.applied,
			KnownPrefix: g.knownPrefix, Highest: g.highest, Truncated: g.truncated,
			Held: len(g.slots) + len(g.known)}
	}
	return st
}

// Vote returns this site's acceptor state at (group, position), for tests
// and checkers.
func (r *Replica) Vote(gid GroupID, p Position) (AcceptorRecord, bool) {
	g := r.groups[gid]
	if g == nil || g.slots[p] == nil {
		return AcceptorRecord{}, false
	}
	s := g.slots[p]
	return AcceptorRecord{Group: gid, Position: p, MaxBal: s.maxBal, Voted: s.voted,
		VoteBal: s.voteBal, Vote: s.vote}, true
}

// Truncated returns the position group's log is truncated through here
// (0: never truncated, or not held).
func (r *Replica) Truncated(gid GroupID) Position {
	if g := r.groups[gid]; g != nil {
		return g.truncated
	}
	return 0
}

// Known returns the value this site knows committed at (group, position).
func (r *Replica) Known(gid GroupID, p Position) (Value, bool) {
	g := r.groups[gid]
	if g == nil {
		return Value{}, false
	}
	v, ok := g.known[p]
	if !ok {
		return Value{}, false
	}
	return *v, true
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

func sortedSites(set map[SiteID]bool) []SiteID {
	out := make([]SiteID, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
