package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/megastore-verified/megastore/spec/tla"
)

// Failure reports of trace validation: what the mirror held around the
// step that failed. Added for tests/check; the explorer does not use them.

// VarsOf renders s, a state of this tracer's config, as TLC prints it.
func (t *Tracer) VarsOf(s State) []VarValue { return t.c.Vars(s) }

// Focus is VarsOf with prop and rd cut down to the proposers and readers
// keep accepts (given the name, phase and position or target), so a report
// of a long run shows the attempts that matter to one step; omitted counts
// the entries left out. The other variables are whole.
func (t *Tracer) Focus(s State, keep func(name, phase string, pos int) bool) (vars []VarValue, omitted int) {
	c := t.c
	var pnames, rnames []tla.Value
	var pvals, rvals []tla.Value
	for p, pr := range s.Prop {
		if !keep(c.Proposers[p].Name, pr.Phase.String(), int(pr.Pos)) {
			omitted++
			continue
		}
		pnames = append(pnames, tla.Str(c.Proposers[p].Name))
		pvals = append(pvals, c.propRecord(pr))
	}
	for r, rs := range s.Rd {
		if !keep(c.Readers[r].Name, rs.Phase.String(), int(rs.Target)) {
			omitted++
			continue
		}
		rnames = append(rnames, c.readerValues([]string{c.Readers[r].Name})[0])
		rvals = append(rvals, c.readerRecord(rs))
	}
	for _, vv := range c.Vars(s) {
		switch vv.Name {
		case "prop":
			vv.Value = tla.Fn(pnames, pvals)
		case "rd":
			vv.Value = tla.Fn(rnames, rvals)
		}
		vars = append(vars, vv)
	}
	return vars, omitted
}

// Why names, for an event the mirror would refuse from the current state,
// the conjuncts of its action's guard that are false there, in the words of
// Megastore.tla. It returns nil for an event the mirror would take, and for
// one whose arguments it rejects (Step's error says why).
// TestWhyMatchesEnabled checks it against the actions themselves on states
// of every shipped config.
func (t *Tracer) Why(e Event) []string {
	if _, ok, err := t.apply(e); err != nil || ok {
		return nil
	}
	return t.c.why(t.s, e)
}

func (c *Config) why(s State, e Event) []string {
	var out []string
	need := func(ok bool, format string, args ...any) {
		if !ok {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	name := func(k int) string { n, _ := e.Args[k].(string); return n }
	prop := func() (int, Proposer) {
		p := slices.IndexFunc(c.Proposers, func(x ProposerConst) bool { return x.Name == name(0) })
		return p, s.Prop[p]
	}
	reader := func() (int, Reader) {
		r := slices.IndexFunc(c.Readers, func(x ReaderConst) bool { return x.Name == name(0) })
		return r, s.Rd[r]
	}
	site := func(k int) int { return c.siteIndex[name(k)] }
	pn := func(p int) string { return quote(c.Proposers[p].Name) }
	rn := func(r int) string { return c.readerLit(c.Readers[r].Name) }
	in := func(ph Phase, phases ...Phase) bool { return slices.Contains(phases, ph) }
	phaseIs := func(who, is string, ok bool, want string) {
		need(ok, "%s.phase \\in %s (it is %q)", who, want, is)
	}
	switch e.Action {
	case "BeginWrite", "BeginClose":
		p, pr := prop()
		cp := c.props[p]
		l := s.Applied[c.dataSlot(cp.group, cp.site)]
		phaseIs("prop["+pn(p)+"]", pr.Phase.String(), pr.Phase == PhaseIdle, `{"idle"}`)
		if e.Action == "BeginWrite" {
			need(cp.value != 0, "PValue[%s] /= NoOp (it is a no-op closer)", pn(p))
			need(int(l.Len) < c.MaxPos, "Len(applied[g][PSite[p]]) < MaxPos (it is %d)", l.Len)
		} else {
			i, _ := e.Args[1].(int)
			need(cp.value == 0, "PValue[%s] = NoOp (it is a writer)", pn(p))
			need(int(l.Len) < i, "Len(applied[g][PSite[p]]) < %d (it is %d)", i, l.Len)
			need(i <= c.MaxPos, "%d \\in Pos", i)
		}
	case "AcceptLeader":
		p, pr := prop()
		cp := c.props[p]
		phaseIs("prop["+pn(p)+"]", pr.Phase.String(), pr.Phase == PhaseReady, `{"ready"}`)
		need(!pr.Lost, "~prop[%s].lost (its site restarted with it in flight)", pn(p))
		need(cp.value != 0, "PValue[%s] /= NoOp", pn(p))
		if pr.Phase != PhaseReady {
			break // no position yet: LeaderOf is not defined
		}
		g, i := cp.group, int(pr.Pos)
		L := c.LeaderOf(s, g, cp.site, i)
		if L < 0 || c.voters&(1<<L) == 0 {
			need(false, "LeaderOf(g, PSite[p], %d) \\in Voters (no leader is nominated there)", i)
			break
		}
		need(s.MaxBal[c.slot(g, L, i)] == 0, "maxBal[g][%q][%d] = 0 (it is %d)", c.sites[L], i, s.MaxBal[c.slot(g, L, i)])
		need(s.Votes[c.slot(g, L, i)]&c.zeroMask == 0 || c.Mutations.Has(GrantBallotZeroTwice),
			"\\A v \\in Values : <<0, v>> \\notin votes[g][%q][%d] (the leader already granted ballot 0 there)", c.sites[L], i)
	case "Prepare":
		p, pr := prop()
		b, _ := e.Args[1].(int)
		phaseIs("prop["+pn(p)+"]", pr.Phase.String(), in(pr.Phase, PhaseReady, PhasePrepare, PhaseAccept), `{"ready", "prepare", "accept"}`)
		need(!pr.Lost, "~prop[%s].lost (its site restarted with it in flight)", pn(p))
		need(b > int(pr.Bal), "%d > prop[%s].bal (it is %d)", b, pn(p), pr.Bal)
	case "Promise", "Accept":
		p, pr := prop()
		a := site(1)
		cp := c.props[p]
		if e.Action == "Promise" {
			phaseIs("prop["+pn(p)+"]", pr.Phase.String(), pr.Phase >= PhasePrepare, `{"prepare", "accept", "done"}`)
		} else {
			phaseIs("prop["+pn(p)+"]", pr.Phase.String(), in(pr.Phase, PhaseAccept, PhaseDone), `{"accept", "done"}`)
		}
		need(pr.Acks&(1<<a) == 0, "%q \\notin prop[%s].acks", c.sites[a], pn(p))
		if pr.Pos < 1 {
			break // no position yet
		}
		mb := int(s.MaxBal[c.slot(cp.group, a, int(pr.Pos))])
		if e.Action == "Promise" {
			need(mb < int(pr.Bal), "maxBal[g][%q][%d] < %d (it is %d)", c.sites[a], pr.Pos, pr.Bal, mb)
		} else {
			need(mb <= int(pr.Bal) || c.Mutations.Has(AcceptLowerBallot), "maxBal[g][%q][%d] <= %d (it is %d: a higher ballot was promised)", c.sites[a], pr.Pos, pr.Bal, mb)
		}
	case "Propose":
		p, pr := prop()
		phaseIs("prop["+pn(p)+"]", pr.Phase.String(), pr.Phase == PhasePrepare, `{"prepare"}`)
		need(!pr.Lost, "~prop[%s].lost (its site restarted with it in flight)", pn(p))
		var q uint32
		for _, n := range e.Args[1].([]string) {
			q |= 1 << c.siteIndex[n]
		}
		need(q&^pr.Acks == 0, "Q \\subseteq prop[%s].acks (acks are %s)", pn(p), c.siteSet(pr.Acks))
	case "Invalidate", "WaitOutLease", "Commit":
		p, pr := prop()
		if e.Action == "Invalidate" {
			phaseIs("prop["+pn(p)+"]", pr.Phase.String(), in(pr.Phase, PhaseAccept, PhaseDone), `{"accept", "done"}`)
		} else {
			phaseIs("prop["+pn(p)+"]", pr.Phase.String(), pr.Phase == PhaseAccept, `{"accept"}`)
		}
		need(!pr.Lost, "~prop[%s].lost (its site restarted with it in flight)", pn(p))
		need(c.pastCommitPoint(pr), "HasQuorum(prop[%s].acks) (acks are %s)", pn(p), c.siteSet(pr.Acks))
		switch e.Action {
		case "Invalidate":
			f := site(1)
			need(pr.Acks&(1<<f) == 0, "%q \\notin prop[%s].acks", c.sites[f], pn(p))
		case "WaitOutLease":
			f := site(1)
			need((pr.Acks|pr.Inval)&(1<<f) == 0, "%q \\notin prop[%s].acks \\cup prop[%s].inval", c.sites[f], pn(p), pn(p))
			need(!s.LeaseHeld[f], "~leaseHeld[%q] (%q still holds its lease)", c.sites[f], c.sites[f])
		case "Commit":
			missing := c.fullMask &^ (pr.Acks | pr.Inval)
			need(missing == 0 || c.Mutations.Has(SkipInvalidation),
				"Full \\subseteq prop[%s].acks \\cup prop[%s].inval (%s neither accepted nor was invalidated)", pn(p), pn(p), c.siteSet(missing))
		}
	case "Learn":
		g := slices.Index(c.Groups, name(0))
		d := site(1)
		l := s.Applied[c.dataSlot(g, d)]
		i := int(l.Len) + 1
		need(i <= c.MaxPos, "Len(applied[%q][%q]) + 1 <= MaxPos", c.Groups[g], c.sites[d])
		if i > c.MaxPos {
			break
		}
		committed := c.Committed(s, g, i)
		v := c.valueIndex[e.Value]
		need(committed&(1<<v) != 0, "%q \\in Committed(%q, %d) (committed there: %s)", e.Value, c.Groups[g], i, c.valueNames(committed))
	case "LoseLease":
		f := site(0)
		need(s.LeaseHeld[f], "leaseHeld[%q]", c.sites[f])
	case "Restart":
		f := site(0)
		need(c.crashable&(1<<f) != 0, "%q \\in Crashable", c.sites[f])
		need(s.LeaseHeld[f], "leaseHeld[%q]", c.sites[f])
		if keep, err := c.restartKeep(s, e, f); err == nil {
			for g, k := range keep {
				l := s.Applied[c.dataSlot(g, f)]
				need(k >= 0 && k <= int(l.Len), "keep[%q] <= Len(applied[%q][%q]) (%d > %d)", c.Groups[g], c.Groups[g], c.sites[f], k, l.Len)
			}
		}
	case "RegainLease":
		f := site(0)
		need(!s.LeaseHeld[f], "~leaseHeld[%q]", c.sites[f])
		need(int(s.Epoch[f]) < c.MaxEpoch || c.Mutations.Has(EpochUnbounded), "epoch[%q] < MaxEpoch (it is %d)", c.sites[f], s.Epoch[f])
	case "ReadBegin", "SnapshotRead":
		r, rs := reader()
		cr := c.readers[r]
		phaseIs("rd["+rn(r)+"]", rs.Phase.String(), rs.Phase == ReadIdle, `{"idle"}`)
		if e.Action == "ReadBegin" {
			need(cr.current, "RKind[%s] = \"current\"", rn(r))
			serves := c.fullMask
			if c.Mutations.Has(WitnessServesReads) {
				serves = c.voters
			}
			need(serves&(1<<cr.site) != 0, "RSite[%s] \\in Full", rn(r))
		} else {
			need(!cr.current, "RKind[%s] = \"snapshot\"", rn(r))
			need(c.dataIndex[cr.site] >= 0, "RSite[%s] \\in DataSites", rn(r))
		}
	case "ReadLocal":
		r, rs := reader()
		cr := c.readers[r]
		phaseIs("rd["+rn(r)+"]", rs.Phase.String(), rs.Phase == ReadBegun, `{"begun"}`)
		if cr.site >= c.numFull {
			need(false, "RSite[%s] \\in Full", rn(r))
			break
		}
		g := cr.group
		valid := c.Valid(s, g, cr.site)
		if c.Mutations.Has(LocalReadAfterLeaseLoss) {
			valid = s.CoordValid[c.coordSlot(g, cr.site)]
		}
		need(valid, "Valid(g, %q) (coordValid %v, leaseHeld %v)", c.sites[cr.site], s.CoordValid[c.coordSlot(g, cr.site)], s.LeaseHeld[cr.site])
		l := s.Applied[c.dataSlot(g, cr.site)]
		mv := c.maxVoted(s, g, cr.site)
		need(mv <= int(l.Len), "\\A i \\in VotedPositions(g, %q) : i <= Len(applied[g][%q]) (voted up to %d, applied %d)", c.sites[cr.site], c.sites[cr.site], mv, l.Len)
	case "ReadFindPos":
		r, rs := reader()
		phaseIs("rd["+rn(r)+"]", rs.Phase.String(), rs.Phase == ReadBegun, `{"begun"}`)
	case "ReadCatchUp":
		r, rs := reader()
		cr := c.readers[r]
		phaseIs("rd["+rn(r)+"]", rs.Phase.String(), rs.Phase == ReadCatchup, `{"catchup"}`)
		if c.dataIndex[cr.site] < 0 {
			need(false, "RSite[%s] \\in DataSites", rn(r))
			break
		}
		l := s.Applied[c.dataSlot(cr.group, cr.site)]
		need(l.Len >= rs.Target, "Len(applied[g][%q]) >= rd[%s].target (%d < %d)", c.sites[cr.site], rn(r), l.Len, rs.Target)
	case "Validate":
		r, rs := reader()
		cr := c.readers[r]
		phaseIs("rd["+rn(r)+"]", rs.Phase.String(), rs.Phase == ReadValidating, `{"validating"}`)
		need(cr.site < c.numFull, "RSite[%s] \\in Full", rn(r))
	}
	return out
}

func (c *Config) valueNames(m uint32) string {
	var names []string
	for v := range c.values {
		if m&(1<<v) != 0 {
			names = append(names, quote(c.values[v]))
		}
	}
	return "{" + strings.Join(names, ", ") + "}"
}
