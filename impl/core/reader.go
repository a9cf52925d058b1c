package core

import "fmt"

type readPhase uint8

const (
	rdFindPos readPhase = iota + 1 // ReadFindPos: asking a majority
	rdCatchUp                      // ReadCatchUp: learning up to target
	rdApply                        // waiting for the driver to apply target
)

// readOp is one current read in progress.
type readOp struct {
	id       RequestID
	finished bool   // answered and forgotten (no longer in Replica.reads)
	visited  uint64 // the tick the timers last visited op at
	g        *group
	keys     [][]byte
	keyRange *KeyRange

	phase readPhase
	// local: the coordinator said the group is valid here (ReadLocal path).
	local  bool
	epoch  uint64
	target Position
	// extended counts how often a local read moved its target up to
	// positions this site voted for or learned after ReadBegin.
	extended int

	found    map[SiteID]bool
	deadline uint64
	tries    uint64

	catchUpSent  bool
	catchUpAsked int
	catchUpHeard map[SiteID]bool
	noOpsStarted bool
}

// Read starts a read; the outcome arrives as a Result whose Position the
// driver reads Keys at.
func (r *Replica) Read(req ReadRequest) (RequestID, error) {
	if r.kind == Witness {
		return 0, ErrWitnessNoReads
	}
	if req.Group == "" {
		return 0, fmt.Errorf("%w: empty group", ErrMalformed)
	}
	for _, k := range req.Keys {
		if len(k) == 0 {
			return 0, fmt.Errorf("%w: empty key", ErrMalformed)
		}
		if len(k) > r.cfg.MaxKeyBytes {
			return 0, fmt.Errorf("%w: %d > %d bytes", ErrKeyTooLarge, len(k), r.cfg.MaxKeyBytes)
		}
	}
	if len(req.Keys) > r.cfg.MaxMutations {
		return 0, fmt.Errorf("%w: %d keys", ErrTooManyMutations, len(req.Keys))
	}
	if kr := req.Range; kr != nil {
		if kr.Limit <= 0 || kr.Limit > r.cfg.MaxScanRows {
			return 0, fmt.Errorf("%w: scan limit %d not in 1..%d", ErrMalformed, kr.Limit, r.cfg.MaxScanRows)
		}
		if len(kr.Start) > r.cfg.MaxKeyBytes || len(kr.End) > r.cfg.MaxKeyBytes {
			return 0, fmt.Errorf("%w: scan bound", ErrKeyTooLarge)
		}
		if kr.End != nil && string(kr.End) < string(kr.Start) {
			return 0, fmt.Errorf("%w: scan end before start", ErrMalformed)
		}
	}
	switch req.Mode {
	case Current:
		if r.kind == ReadOnly {
			return 0, ErrReadOnlySite
		}
	case Snapshot, Inconsistent:
	default:
		return 0, fmt.Errorf("%w: read mode %v", ErrMalformed, req.Mode)
	}
	if len(r.proposals)+len(r.reads) >= r.cfg.MaxInFlight {
		return 0, ErrTooManyRequests
	}
	if r.NeedsLoad(req.Group) {
		return 0, fmt.Errorf("%w: %q", ErrNotLoaded, req.Group)
	}
	r.nextID++
	id := RequestID(r.nextID)
	g := r.group(req.Group)
	res := Result{ID: id, Op: OpRead, Group: g.id, Mode: req.Mode, Keys: req.Keys, Range: req.Range}
	switch req.Mode {
	case Inconsistent:
		res.Position = LatestPosition
		r.result(res)
		return id, nil
	case Snapshot:
		// NB: applyQueued, not applied: the driver applies this Ready's
		// entries before it completes this Ready's reads, and the spec's
		// SnapshotRead reads the log every traced Learn has extended.
		res.Position = g.applyQueued
		if req.Position != 0 {
			voted := g.slots[req.Position] != nil && g.slots[req.Position].voted
			if req.Position > g.applyQueued && !(r.cfg.Bugs.SnapshotReadAtVotedPosition && voted) {
				res.Err = fmt.Errorf("%w: %d > %d", ErrNotApplied, req.Position, g.applyQueued)
			}
			if req.Position < g.truncated {
				res.Err = fmt.Errorf("%w: position %d compacted (truncated through %d)", ErrTruncated,
					req.Position, g.truncated)
			}
			res.Position = req.Position
		}
		ev := TraceEvent{Action: ActSnapshotRead, Group: g.id, Position: res.Position, Request: id}
		if req.Position != 0 {
			ev.Detail = DetailAtPosition
		}
		if res.Err == nil {
			r.trace(ev)
		}
		r.result(res)
		if r.kind == ReadOnly {
			// Reading a group is also how a read-only site learns that it
			// should catch that group up in the background.
			r.askFullSites(g)
		}
		return id, nil
	}
	// ReadBegin: ask the local coordinator.
	op := &readOp{id: id, g: g, keys: req.Keys, keyRange: req.Range, epoch: r.epoch, found: map[SiteID]bool{}}
	op.local = g.valid && r.leaseHeld
	if r.cfg.Bugs.LocalReadWithoutCoordinator || (r.cfg.Bugs.LocalReadAfterLeaseLoss && g.valid) {
		op.local = true
	}
	r.reads[id] = op
	r.wakeRead(op)
	if g.reads == nil {
		g.reads = map[RequestID]*readOp{}
	}
	g.reads[id] = op
	detail := "invalid"
	if op.local {
		detail = "valid"
	}
	r.trace(TraceEvent{Action: ActReadBegin, Group: g.id, Epoch: op.epoch, Request: id, Detail: detail})
	if op.local {
		op.target = g.highest
		r.enterCatchUp(op)
	} else {
		r.sendFindPos(op)
	}
	return id, nil
}

func (r *Replica) sendFindPos(op *readOp) {
	r.wakeRead(op) // NB: its deadline moves
	op.phase = rdFindPos
	op.tries++
	if op.tries > r.cfg.MaxRounds {
		r.failRead(op, ErrUnavailable)
		return
	}
	op.deadline = r.now + scaled(r.cfg.ReadTimeoutTicks, op.tries)
	for _, s := range r.voterSites() {
		r.send(Message{Type: MsgFindPos, To: s, Group: op.g.id, Proposal: uint64(op.id)})
	}
}

func (r *Replica) handleFindPosResp(m Message) {
	op := r.reads[RequestID(m.Proposal)]
	if op == nil || op.g.id != m.Group || op.phase != rdFindPos {
		return
	}
	op.found[m.From] = true
	if m.Position > op.target {
		op.target = m.Position
	}
	if r.countVoters(op.found) >= r.quorum() {
		r.trace(TraceEvent{Action: ActReadFindPos, Group: op.g.id, Position: op.target, Request: op.id,
			Quorum: sortedSites(op.found)})
		r.enterCatchUp(op)
	}
}

func (r *Replica) enterCatchUp(op *readOp) {
	op.phase = rdCatchUp
	op.tries = 0
	r.progressRead(op)
}

// progressRead moves a read on as far as the state allows.
func (r *Replica) progressRead(op *readOp) {
	r.wakeRead(op) // NB: its phase and deadline may move
	g := op.g
	if op.phase != rdFindPos && op.target < g.truncated {
		// NB: the versions at the target are compacted (the log moved more
		// than RetainPositions past it while the read ran). Reading at the
		// truncation point instead would be linearizable, but not the
		// spec's ReadCatchUp, which reads at its target.
		r.failRead(op, fmt.Errorf("%w: the read's position %d fell below the truncation point %d while it ran",
			ErrTruncated, op.target, g.truncated))
		return
	}
	if op.phase == rdCatchUp {
		if g.knownPrefix >= op.target {
			op.phase = rdApply
		} else if !op.catchUpSent {
			// ReadCatchUp: first fetch what other sites know committed.
			op.catchUpSent = true
			op.catchUpHeard = map[SiteID]bool{}
			op.deadline = r.now + r.cfg.ReadTimeoutTicks
			for _, s := range r.cfg.Sites {
				if s.ID == r.cfg.Self {
					continue
				}
				op.catchUpAsked++
				r.send(Message{Type: MsgCatchUp, To: s.ID, Group: g.id, Proposal: uint64(op.id),
					Position: g.knownPrefix + 1, Limit: op.target})
			}
			if op.catchUpAsked == 0 {
				r.startNoOps(op)
			}
		} else if op.noOpsStarted {
			// Positions learned since the no-ops started need none; the rest
			// run (one proposal per position) until they commit.
			r.startNoOps(op)
		}
	}
	if op.phase == rdApply && g.applied >= op.target {
		// As in the spec, the result is fixed here (ReadLocal, or ReadCatchUp
		// followed by Validate) at the target position.
		if op.local {
			// ReadLocal reads what is applied when it reads, as the spec's
			// does: the coordinator must still hold the group valid (a writer
			// may have invalidated it since ReadBegin), and every position
			// this site voted for or learned since must be applied too.
			if !r.localReadAllowed(g) {
				op.local = false
				r.sendFindPos(op)
				return
			}
			if g.highest > g.applied {
				op.extended++
				if op.extended > maxLocalReadExtensions {
					// Writes keep landing here; stop chasing them locally.
					op.local = false
					r.sendFindPos(op)
					return
				}
				op.target = g.highest
				op.catchUpSent, op.noOpsStarted = false, false
				r.enterCatchUp(op)
				return
			}
			op.target = g.applied
			r.trace(TraceEvent{Action: ActReadLocal, Group: g.id, Position: op.target, Epoch: op.epoch, Request: op.id})
		} else {
			r.trace(TraceEvent{Action: ActReadCatchUp, Group: g.id, Position: op.target, Epoch: op.epoch, Request: op.id})
			r.validate(g, op.target, op.epoch, op.id)
		}
		r.finishRead(op)
		r.result(Result{ID: op.id, Op: OpRead, Group: g.id, Position: op.target, Mode: Current,
			Keys: op.keys, Range: op.keyRange})
	}
}

// maxLocalReadExtensions bounds how often a local read follows writes that
// land while it applies, before it falls back to finding the position.
const maxLocalReadExtensions = 3

// localReadAllowed is the coordinator check of ReadLocal, made again when
// the local read completes.
func (r *Replica) localReadAllowed(g *group) bool {
	switch {
	case r.cfg.Bugs.LocalReadWithoutCoordinator:
		return true
	case r.cfg.Bugs.LocalReadAfterLeaseLoss:
		return g.valid
	}
	return g.valid && r.leaseHeld
}

// startNoOps closes every still-unknown position up to the target with a
// no-op proposal: Paxos settles on the no-op or on a value already accepted.
func (r *Replica) startNoOps(op *readOp) {
	op.noOpsStarted = true
	g := op.g
	limit := min(op.target, g.knownPrefix+Position(r.cfg.MaxCatchUpEntries))
	for p := g.knownPrefix + 1; p <= limit; p++ {
		if _, ok := g.known[p]; ok || p <= g.remoteTrunc {
			// NB: a position another site truncated is chosen; only its
			// compacted state can tell this site about it.
			continue
		}
		prop := r.startNoOp(g, p)
		if prop != nil && r.proposals[prop.id] == prop && !containsRead(prop.readers, op) {
			prop.readers = append(prop.readers, op)
		}
	}
}

func containsRead(ops []*readOp, op *readOp) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func (r *Replica) progressGroupReads(g *group) {
	for _, id := range sortedKeys(g.reads) {
		if op := g.reads[id]; op != nil {
			r.progressRead(op)
		}
	}
}

func (r *Replica) finishRead(op *readOp) {
	delete(r.reads, op.id)
	op.finished = true
	delete(op.g.reads, op.id)
	if len(op.g.reads) == 0 {
		op.g.reads = nil
	}
}

func (r *Replica) failRead(op *readOp, err error) {
	r.finishRead(op)
	r.result(Result{ID: op.id, Op: OpRead, Group: op.g.id, Mode: Current, Keys: op.keys,
		Range: op.keyRange, Err: err})
}

func (r *Replica) tickRead(op *readOp) {
	if r.now < op.deadline {
		return
	}
	switch op.phase {
	case rdFindPos:
		r.sendFindPos(op)
	case rdCatchUp:
		if !op.noOpsStarted {
			r.startNoOps(op)
		}
	}
}

// handleCatchUp serves known-committed entries of a group (ReadCatchUp).
func (r *Replica) handleCatchUp(m Message) {
	g := r.group(m.Group)
	reply := Message{Type: MsgCatchUpResp, To: m.From, Group: g.id, Proposal: m.Proposal}
	// NB: bound the scan, not just the reply: the asked range may be huge.
	first := max(m.Position, 1)
	if first <= g.truncated {
		// Positions up to the truncation point are known here only as the
		// data as of it: send that, a page at a time (truncate.go). A
		// witness has no data to send a site that keeps data.
		asker := r.kinds[m.From]
		if r.kind != Witness || asker == Witness {
			reply.Through, reply.Cursor = g.truncated, m.Cursor
			reply.FillRows = r.kind != Witness && asker != Witness
		}
		first = g.truncated + 1
		if len(m.Cursor) > 0 {
			r.send(reply) // NB: the entries went with the first page
			return
		}
	}
	limit := min(max(m.Limit, first), g.highest)
	if span := Position(r.cfg.MaxCatchUpEntries - 1); limit >= first && limit-first > span {
		limit = first + span
	}
	for p := first; p <= limit && len(reply.Entries) < r.cfg.MaxCatchUpEntries; p++ {
		if v, ok := g.known[p]; ok {
			reply.Entries = append(reply.Entries, Entry{Group: g.id, Position: p, Value: *v})
		} else if s := g.slots[p]; r.cfg.Bugs.CatchUpAppliesUnchosen && s != nil && s.voted {
			reply.Entries = append(reply.Entries, Entry{Group: g.id, Position: p, Value: s.vote})
		}
	}
	r.send(reply)
}

func (r *Replica) handleCatchUpResp(m Message) error {
	g := r.group(m.Group)
	if len(m.Rows) > 0 && m.Through == 0 || len(m.Cursor) > 0 && m.Through == 0 {
		return fmt.Errorf("%w: catch-up rows without a truncation point", ErrMalformed)
	}
	for _, e := range m.Entries {
		r.learn(g, e.Position, e.Value)
	}
	if m.Through > 0 {
		if err := r.snapshotPage(g, m); err != nil {
			return err
		}
	}
	if op := r.reads[RequestID(m.Proposal)]; op != nil && op.g == g && op.phase == rdCatchUp &&
		op.catchUpSent && !op.noOpsStarted {
		op.catchUpHeard[m.From] = true
		if len(op.catchUpHeard) >= op.catchUpAsked {
			r.startNoOps(op)
		}
	}
	r.progressGroupReads(g)
	return nil
}

// scan is the replication-server duty (§4.5): close positions a dead writer
// left in doubt, and fetch gaps in the known log.
func (r *Replica) scan() {
	// NB: full sites and witnesses have work only in groups whose known
	// prefix is below their highest position (unsettled); sorting every
	// held group's name each scan cost time in the number of groups.
	// Read-only sites add a few held groups a scan (readOnlySweep).
	groups := r.unsettled
	if r.kind == ReadOnly {
		groups = r.readOnlySweep()
	}
	for _, gid := range sortedKeys(groups) {
		g := groups[gid]
		if g.settled() {
			delete(r.unsettled, gid)
		}
		if c := g.snap; c != nil {
			// A compacted state is being fetched: ask again for the page
			// it waits for (the request or the page may be lost), or drop
			// a fetch that stalled (its site may be down).
			if r.now-c.since >= r.cfg.InDoubtTicks {
				g.snap = nil
			} else {
				r.askPage(g, 0)
				continue
			}
		}
		if r.kind == Full {
			// NB: only positions above the known prefix can be in doubt:
			// every position up to it is known (or, after a restart,
			// applied), and a slot is voted only at or below highest. Walking every slot of the group's whole
			// log here cost each scan time in the log's length.
			for p := g.knownPrefix + 1; p <= g.highest; p++ {
				s := g.slots[p]
				if s == nil {
					continue
				}
				if _, ok := g.known[p]; ok || !s.voted || p <= g.remoteTrunc {
					s.inDoubtSince = 0
					continue
				}
				if s.inDoubtSince == 0 {
					s.inDoubtSince = r.now
				} else if r.now-s.inDoubtSince >= r.cfg.InDoubtTicks && g.active[p] == nil {
					s.inDoubtSince = r.now
					r.startNoOp(g, p)
				}
			}
		}
		// NB: a witness asks too once the log is truncated: a gap in its
		// log would keep it from truncating (it holds everything above).
		if (r.kind == Full || r.kind == Witness && r.cfg.RetainPositions > 0) && !g.settled() {
			// Something above the known prefix is missing: ask around.
			for _, s := range r.cfg.Sites {
				if s.ID != r.cfg.Self && s.Kind != Witness {
					r.send(Message{Type: MsgCatchUp, To: s.ID, Group: g.id, Position: g.knownPrefix + 1,
						Limit: max(g.highest, g.remoteTrunc)})
				}
			}
		}
		if r.kind == ReadOnly {
			r.askFullSites(g)
		}
	}
}

// readOnlySweep is what a read-only site's scan asks the full sites about:
// every group it knows it is behind in, and the next ReadOnlySweepGroups
// held groups of a round through all of them. It used to ask about every
// held group at every scan (up to HeldGroups of them, every 20 ticks),
// though it hears of commits through MsgCommit and only a lost one leaves it
// behind unknowingly; the round finds those, a few groups a scan.
func (r *Replica) readOnlySweep() map[GroupID]*group {
	n := r.cfg.ReadOnlySweepGroups
	if n == 0 {
		n = DefaultReadOnlySweepGroups
	}
	out := make(map[GroupID]*group, len(r.unsettled)+n)
	for gid, g := range r.unsettled {
		if g.settled() {
			// NB: every commit heard makes a group unsettled until a scan;
			// only a gap is worth asking about.
			delete(r.unsettled, gid)
			continue
		}
		out[gid] = g
	}
	for asked := 0; asked < n && len(r.groups) > 0; {
		if r.sweepNext >= len(r.sweep) {
			if asked > 0 && len(r.groups) <= n {
				break // NB: every group is in this scan already
			}
			r.sweep, r.sweepNext = sortedKeys(r.groups), 0
		}
		gid := r.sweep[r.sweepNext]
		r.sweepNext++
		if g := r.groups[gid]; g != nil { // NB: evicted since the round began
			out[gid] = g
			asked++
		}
		if len(out) == len(r.groups) {
			break
		}
	}
	return out
}

// askFullSites: a read-only site hears of new positions only through
// MsgCommit; it asks the full sites for anything beyond what it knows.
func (r *Replica) askFullSites(g *group) {
	for _, s := range r.cfg.Sites {
		if s.Kind == Full {
			r.send(Message{Type: MsgCatchUp, To: s.ID, Group: g.id, Position: g.knownPrefix + 1,
				Limit: g.knownPrefix + Position(r.cfg.MaxCatchUpEntries)})
		}
	}
}
