package spec

import "slices"

// Queries a trace validator needs about the mirrored state, by name. Added
// for tests/sim; nothing in the explorer uses them.

func (t *Tracer) propIndex(name string) (int, bool) {
	for i, p := range t.c.Proposers {
		if p.Name == name {
			return i, true
		}
	}
	return 0, false
}

func (t *Tracer) readerIndex(name string) (int, bool) {
	for i, r := range t.c.Readers {
		if r.Name == name {
			return i, true
		}
	}
	return 0, false
}

// Proposer returns prop[name] and the name of its current value.
func (t *Tracer) Proposer(name string) (Proposer, string, bool) {
	p, ok := t.propIndex(name)
	if !ok {
		return Proposer{}, "", false
	}
	pr := t.s.Prop[p]
	return pr, t.c.values[pr.Val], true
}

// ProposerAcks returns the sites in prop[name].acks and prop[name].inval.
func (t *Tracer) ProposerAcks(name string) (acks, inval []string) {
	p, ok := t.propIndex(name)
	if !ok {
		return nil, nil
	}
	pr := t.s.Prop[p]
	for a, s := range t.c.sites {
		if pr.Acks&(1<<a) != 0 {
			acks = append(acks, s)
		}
		if pr.Inval&(1<<a) != 0 {
			inval = append(inval, s)
		}
	}
	return acks, inval
}

// HasQuorum reports whether the named sites include a quorum of voters.
func (t *Tracer) HasQuorum(sites []string) bool {
	var m uint32
	for _, s := range sites {
		if a, ok := t.c.siteIndex[s]; ok {
			m |= 1 << a
		}
	}
	return t.c.hasQuorum(m)
}

// Reader returns rd[name].
func (t *Tracer) Reader(name string) (Reader, bool) {
	r, ok := t.readerIndex(name)
	if !ok {
		return Reader{}, false
	}
	return t.s.Rd[r], true
}

// ReaderResult names the writes in rd[name].result, sorted.
func (t *Tracer) ReaderResult(name string) []string {
	rs, _ := t.Reader(name)
	var out []string
	for v, n := range t.c.values {
		if rs.Result&(1<<v) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// MaxBal is maxBal[group][site][pos].
func (t *Tracer) MaxBal(group, site string, pos int) int {
	g, a := t.c.groupIndex[group], t.c.siteIndex[site]
	return int(t.s.MaxBal[t.c.slot(g, a, pos)])
}

// MaxVoted is the highest position site voted for in group (0: none).
func (t *Tracer) MaxVoted(group, site string) int {
	return t.c.maxVoted(t.s, t.c.groupIndex[group], t.c.siteIndex[site])
}

// Applied names the values of applied[group][site].
func (t *Tracer) Applied(group, site string) []string {
	g, a := t.c.groupIndex[group], t.c.siteIndex[site]
	if t.c.dataIndex[a] < 0 {
		return nil
	}
	l := t.s.Applied[t.c.dataSlot(g, a)]
	out := make([]string, l.Len)
	for i := range out {
		out[i] = t.c.values[l.Entries[i]]
	}
	return out
}

// Coordinator returns coordValid, invPos, epoch and leaseHeld of a full
// site for group.
func (t *Tracer) Coordinator(group, site string) (valid bool, invPos, epoch int, lease bool) {
	g, f := t.c.groupIndex[group], t.c.siteIndex[site]
	if f >= t.c.numFull {
		return false, 0, 0, false
	}
	k := t.c.coordSlot(g, f)
	return t.s.CoordValid[k], int(t.s.InvPos[k]), int(t.s.Epoch[f]), t.s.LeaseHeld[f]
}

// LeaderOf names the leader of position pos for a writer at site ("" if
// nobody: after a no-op, or before the site applied pos-1).
func (t *Tracer) LeaderOf(group, site string, pos int) string {
	g, a := t.c.groupIndex[group], t.c.siteIndex[site]
	if t.c.dataIndex[a] < 0 || pos < 1 || pos > t.c.MaxPos {
		return ""
	}
	if pos > 1 && int(t.s.Applied[t.c.dataSlot(g, a)].Len) < pos-1 {
		return ""
	}
	l := t.c.LeaderOf(t.s, g, a, pos)
	if l < 0 {
		return ""
	}
	return t.c.sites[l]
}

// Quorums lists every quorum of voters as sorted site names.
func (t *Tracer) Quorums() [][]string {
	var out [][]string
	for _, q := range t.c.quorums {
		var names []string
		for a, s := range t.c.sites {
			if q&(1<<a) != 0 {
				names = append(names, s)
			}
		}
		slices.Sort(names)
		out = append(out, names)
	}
	return out
}

// ReaderMustSee names the writes rd[name] must return: mustSee \cup seen,
// fixed at ReadBegin (ReadSeesAcked, ReadSeesObserved).
func (t *Tracer) ReaderMustSee(name string) []string {
	rs, _ := t.Reader(name)
	var out []string
	for v, n := range t.c.values {
		if (rs.MustSee|rs.Seen)&(1<<v) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// HasVote reports whether <<ballot, value>> is in votes[group][site][pos].
func (t *Tracer) HasVote(group, site string, pos, ballot int, value string) bool {
	g, a := t.c.groupIndex[group], t.c.siteIndex[site]
	v, ok := t.c.valueIndex[value]
	if !ok || !t.c.isBallot(ballot) || pos < 1 || pos > t.c.MaxPos {
		return false
	}
	return t.c.hasVote(t.s.Votes[t.c.slot(g, a, pos)], ballot, v)
}

// MaxPos is the config's MaxPos.
func (t *Tracer) MaxPos() int { return t.c.MaxPos }
