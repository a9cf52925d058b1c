package core

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// Log truncation [ours; the paper keeps the log in the root row and says
// nothing of its growth]. With Config.RetainPositions K > 0 a site
// truncates a group's log through T = applied - K: it forgets its acceptor
// slots and known values at or below T, and its storage deletes their
// records and compacts data versions at or below T (Durable.Truncate).
//
// Safety. A position at or below T is chosen (it is applied here), but
// this site forgot its vote there. Were it to vote again, a proposer
// preparing there could miss the chosen value at this acceptor and, with
// one more such acceptor, get a second value chosen (Bugs.TruncatedAcceptorVotes).
// So an acceptor refuses every request at or below its truncation point,
// naming the point (Message.Through): a refusal is always safe in Paxos
// (the acceptor acts as if down at that position), and the position needs
// no more votes, being chosen. A proposer refused so finishes: a write
// whose value it ever sent for acceptance gets ErrTruncated (its value may
// be the one chosen: the outcome is unknown), one that never sent it gets
// ErrConflict, a no-op closer just stops; and the site fetches the
// compacted state.
//
// Catch-up. A site asked for positions at or below its truncation point
// answers with its compacted state as of T: the rows of the group as of T,
// paged (Message.Rows, filled by the driver from Storage, since the core
// reads none), and the entries above T. The asking site collects the
// pages of one (site, T) and installs them in one Ready (Durable.Install):
// the rows as of T replace its data, its applied position and known
// prefix become T, and it goes on from the entries above T. The data as
// of T stands for the chosen entries 1..T, which is all a site needs of
// them: reads at T or above, and the log above T.
//
// Reads. Data versions below T are gone, so no read may be served below T
// once the truncation is written: a snapshot read at an explicit position
// below T gets ErrTruncated; so does a current read whose target fell
// below the truncation point while it ran (reading at the point instead
// would be linearizable, but not the spec's ReadCatchUp); a truncation is
// never emitted below a read result in the same Ready; and the driver
// waits for the reads it serves beside the replica before it writes a
// truncation or an install (node.Driver).
//
// Traces. The spec has no truncation, and needs none: truncating is
// forgetting, and refusing a vote is no step. An install through T is
// traced as one Learn with DetailCompacted, which the mapper
// (tests/tracemap) expands to the spec's Learn of every position the
// site had not learned, with the values the trace shows committed there;
// a read at a site truncated through T names the writes above T
// (TraceEvent.Compacted) and the mapper adds those at or below T from the
// same commits. That is sound for the protocol: the spec's applied log of
// the site is exactly those values (its own Learns, or the expanded ones,
// each validated as committed), so the read's result is the spec's
// LogWrites of it. What the trace does not check is the data a compacted
// state carries; the client-level checks (porcupine, the snapshot check)
// do.

// snapshotFetch is a compacted state being collected page by page from
// one site.
type snapshotFetch struct {
	from    SiteID
	through Position
	// next is the cursor of the page asked for next.
	next  []byte
	rows  []KeyValue
	since uint64 // the tick of the last page (a stalled fetch is dropped)
}

// dropThrough forgets the slots and known values at or below p. The maps
// are rebuilt: Go maps never shrink, and bounding memory is the point.
func (g *group) dropThrough(p Position) {
	slots := make(map[Position]*slot, len(g.slots))
	for q, s := range g.slots {
		if q > p {
			slots[q] = s
		}
	}
	known := make(map[Position]*Value, len(g.known))
	for q, v := range g.known {
		if q > p {
			known[q] = v
		}
	}
	g.slots, g.known = slots, known
}

// minKeptVotes is the least number of truncated positions whose ballots
// keepVotes keeps, however small RetainPositions is.
const minKeptVotes = 64

// voteWindow is how many truncated positions' ballots are kept (in
// memory, truncVotes, and on disk, Truncation.VotesThrough).
func (r *Replica) voteWindow() Position {
	return max(Position(r.cfg.RetainPositions), minKeptVotes)
}

// votesThrough is where acceptor records may go when the log is truncated
// through t: below the window.
func (r *Replica) votesThrough(t Position) Position {
	if w := r.voteWindow(); t > w {
		return t - w
	}
	return 0
}

// keepVotes keeps the ballots voted at in the slots about to be dropped
// through t, and forgets those k or more positions below t.
func (g *group) keepVotes(t, k Position) {
	kept := map[Position][]Ballot{}
	for p, b := range g.truncVotes {
		if p+k > t {
			kept[p] = b
		}
	}
	for p, s := range g.slots {
		if p <= t && p+k > t && s.voted {
			kept[p] = append(slices.Clone(s.earlier), s.voteBal)
		}
	}
	g.truncVotes = kept
	if len(kept) == 0 {
		g.truncVotes = nil
	}
}

// maybeTruncate truncates g through applied - RetainPositions once that
// is a quarter of the retained span past the last truncation point (so
// the storage's compaction, a walk of the group's rows, runs once per
// K/4 positions, and the held log stays under 1.25 K).
func (r *Replica) maybeTruncate(g *group) {
	k := Position(r.cfg.RetainPositions)
	done := min(g.applied, g.knownPrefix)
	if k == 0 || done <= k {
		return
	}
	t := done - k
	// NB: a read answered in the pending Ready reads after its Save, so
	// the truncation written by that Save must keep its versions.
	for _, res := range r.pending.results {
		if res.Group == g.id && res.Op == OpRead && res.Err == nil && res.Position != LatestPosition && res.Position < t {
			t = res.Position
		}
	}
	if t < g.truncated+max(1, k/4) {
		return
	}
	g.keepVotes(t, r.voteWindow())
	g.dropThrough(t)
	g.truncated = t
	g.remoteTrunc = max(g.remoteTrunc, t)
	tr := Truncation{Group: g.id, Through: t, VotesThrough: r.votesThrough(t)}
	for i := range r.pending.truncate {
		if r.pending.truncate[i].Group == g.id {
			r.pending.truncate[i] = tr
			return
		}
	}
	r.pending.truncate = append(r.pending.truncate, tr)
}

// refuseTruncated answers a vote request at a truncated position: no vote
// is held there any more, so none may be given (see above).
func (r *Replica) refuseTruncated(g *group, reply Message) bool {
	if reply.Position > g.truncated || r.cfg.Bugs.TruncatedAcceptorVotes {
		return false
	}
	reply.Reject, reply.Through = true, g.truncated
	r.send(reply)
	return true
}

// proposalTruncated handles a refusal at or below the refusing site's
// truncation point: p's position is chosen, with a value p cannot learn
// but from the compacted state.
func (r *Replica) proposalTruncated(p *proposal, m Message) {
	r.heardTruncation(p.g, m.From, m.Through)
	var err error
	if p.kind == propWrite {
		err = ErrConflict
		if p.sentOwn {
			err = fmt.Errorf("%w: position %d, truncated through %d at %s; this write's value was sent for acceptance and may be the one chosen",
				ErrTruncated, p.pos, m.Through, m.From)
		}
	}
	r.finishProposal(p, err)
}

// definiteFailure reports whether a proposal's error tells the waiters and
// readers behind it nothing: a conflict or a truncated position is the
// proposer's own outcome, not the position's.
func definiteFailure(err error) bool {
	return err == nil || err == ErrConflict || errors.Is(err, ErrTruncated)
}

// heardTruncation records that site from truncated g through t, and asks it
// for its compacted state if this site is behind it.
func (r *Replica) heardTruncation(g *group, from SiteID, t Position) {
	r.heardPoint(g, t)
	if t > g.knownPrefix && g.snap == nil {
		r.send(Message{Type: MsgCatchUp, To: from, Group: g.id, Position: g.knownPrefix + 1,
			Limit: max(t, g.highest)})
	}
}

// heardPoint records another site's truncation point t. NB: it does not
// raise highest: ReadFindPos answers with what this site voted for or
// knows, not with what it heard of (the spec's answer is its votes).
func (r *Replica) heardPoint(g *group, t Position) {
	if t > g.remoteTrunc {
		g.remoteTrunc = t
		if t > g.knownPrefix {
			r.unsettled[g.id] = g
		}
	}
}

// settled reports whether g has nothing to fetch: its known prefix is at
// its highest position and at every truncation point heard.
func (g *group) settled() bool {
	return g.knownPrefix >= g.highest && g.knownPrefix >= g.remoteTrunc
}

// maxSnapshotRows bounds the rows a compacted state collected in memory
// may have: a group is meant to be small (§3.2), and a peer must not make
// this site hold an unbounded state.
const maxSnapshotRows = 1 << 22

// snapshotPage takes one page of another site's compacted state.
func (r *Replica) snapshotPage(g *group, m Message) error {
	switch {
	case m.Through >= LatestPosition>>2:
		return fmt.Errorf("%w: compacted state through %d", ErrMalformed, m.Through)
	case len(m.Rows) > r.cfg.MaxScanRows:
		return fmt.Errorf("%w: %d rows in a page of at most %d", ErrMalformed, len(m.Rows), r.cfg.MaxScanRows)
	case r.kind == Witness && len(m.Rows) > 0:
		return fmt.Errorf("%w: rows for a witness", ErrMalformed)
	case m.More && len(m.Rows) == 0:
		return fmt.Errorf("%w: a compacted-state page without rows says more follow", ErrMalformed)
	}
	prev := m.Cursor
	for i, kv := range m.Rows {
		if err := r.checkMutations([]Mutation{{Key: kv.Key, Value: kv.Value}}); err != nil {
			return err
		}
		if (i > 0 || len(prev) > 0) && bytes.Compare(kv.Key, prev) < 0 || i > 0 && bytes.Equal(kv.Key, prev) {
			return fmt.Errorf("%w: compacted-state rows out of order at %q", ErrMalformed, kv.Key)
		}
		prev = kv.Key
	}
	if r.kinds[m.From] == Witness && r.kind != Witness {
		return nil // NB: a witness holds no rows to give
	}
	r.heardPoint(g, m.Through)
	if m.Through <= g.knownPrefix {
		return nil
	}
	c := g.snap
	switch {
	case len(m.Cursor) == 0 && (c == nil || m.Through > c.through || m.From == c.from && m.Through != c.through):
		c = &snapshotFetch{from: m.From, through: m.Through}
		g.snap = c
	case c != nil && m.From == c.from && m.Through == c.through && bytes.Equal(m.Cursor, c.next):
	case c != nil && m.From == c.from && m.Through > c.through:
		// NB: the site truncated further since the fetch began: the rows
		// as of c.through are gone there; start again from its new point.
		g.snap = nil
		r.send(Message{Type: MsgCatchUp, To: m.From, Group: g.id, Proposal: m.Proposal,
			Position: g.knownPrefix + 1, Limit: max(m.Through, g.highest)})
		return nil
	default:
		return nil // another fetch's page, or one seen already
	}
	if len(c.rows)+len(m.Rows) > maxSnapshotRows {
		g.snap = nil
		return fmt.Errorf("%w: compacted state of %q has more than %d rows", ErrMalformed, g.id, maxSnapshotRows)
	}
	for _, kv := range m.Rows {
		c.rows = append(c.rows, KeyValue{Key: slices.Clone(kv.Key), Value: slices.Clone(kv.Value)})
	}
	c.since = r.now
	if m.More {
		c.next = append(slices.Clone(m.Rows[len(m.Rows)-1].Key), 0)
		r.askPage(g, m.Proposal)
		return nil
	}
	g.snap = nil
	r.install(g, c.through, c.rows)
	return nil
}

// askPage asks for the next page of the compacted state being fetched.
func (r *Replica) askPage(g *group, proposal uint64) {
	c := g.snap
	r.send(Message{Type: MsgCatchUp, To: c.from, Group: g.id, Proposal: proposal,
		Position: g.knownPrefix + 1, Limit: max(c.through, g.highest), Cursor: c.next})
}

// install makes a compacted state through t this site's state of g.
func (r *Replica) install(g *group, t Position, rows []KeyValue) {
	for _, pos := range sortedKeys(g.active) {
		if pos > t {
			continue
		}
		p := g.active[pos]
		var err error
		switch {
		case p.chosen && p.value.ID != p.ours:
			// NB: a majority accepted p.value at p's ballot, so it is the
			// value chosen there: one p adopted, not p's own.
			err = ErrConflict
		case p.chosen:
			// Ours is chosen, and past someone's visibility point, since
			// a site applied it.
		case p.kind == propWrite && p.sentOwn:
			err = fmt.Errorf("%w: position %d, installed a compacted state through %d; this write's value may be the one chosen",
				ErrTruncated, pos, t)
		case p.kind == propWrite:
			err = ErrConflict
		}
		r.finishProposal(p, err)
	}
	g.keepVotes(t, r.voteWindow())
	g.dropThrough(t)
	g.truncated, g.knownPrefix = t, t
	g.applied, g.applyQueued = t, t
	r.raiseHighest(g, t)
	// NB: the install replaces the data through t: entries queued for
	// applying at or below t must not be written after it, and a read
	// answered in this Ready below t cannot be served after it.
	r.pending.apply = slices.DeleteFunc(r.pending.apply, func(e Entry) bool {
		return e.Group == g.id && e.Position <= t
	})
	for i, res := range r.pending.results {
		if res.Group == g.id && res.Op == OpRead && res.Err == nil && res.Position != LatestPosition && res.Position < t {
			r.pending.results[i].Err = fmt.Errorf("%w: position %d, this site installed a compacted state through %d",
				ErrTruncated, res.Position, t)
		}
	}
	r.pending.truncate = slices.DeleteFunc(r.pending.truncate, func(tr Truncation) bool { return tr.Group == g.id })
	r.pending.install = slices.DeleteFunc(r.pending.install, func(in Install) bool { return in.Group == g.id })
	r.pending.install = append(r.pending.install, Install{Group: g.id, Through: t, VotesThrough: r.votesThrough(t), Rows: rows})
	if r.kind != Witness {
		// NB: the spec's Learn of every position up to t (a witness
		// traces none: it applies no data).
		r.trace(TraceEvent{Action: ActLearn, Group: g.id, Position: t, Detail: DetailCompacted})
	}
	r.advanceKnown(g)
}
