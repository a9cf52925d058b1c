// Package tracemap turns the store's trace events (core.TraceEvent) into
// spec-level steps (check.Step) for trace validation. It is the one mapping
// for the deterministic simulator, which feeds it every Ready as it happens,
// and for real nodes, whose traces (impl/node.TraceBatch as JSON lines) it
// loads, merges and feeds in the same way (nodes.go).
//
// # Usage loop
//
//	m := tracemap.New(sites, initialLeader) // every full site starts without a lease
//	for each Ready of each site, in a causally consistent order:
//		m.Batch(site, incarnation, rd.Trace)
//	m.Crash(site, reason)                    // when a site stops, if known: Restart
//	res := check.Trace(m.Run())
package tracemap

import (
	"fmt"
	"slices"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/spec"
	"github.com/megastore-verified/megastore/tests/check"
)

// Synthetic reasons for steps no trace event names.
const (
	SyntheticInitial = "initial: no lease yet"
	SyntheticCrash   = "crash"
	// SyntheticRestart: a site's trace shows a new incarnation without a
	// crash having been reported (a real node killed from outside): it
	// restarted (the spec's Restart) where its last incarnation's trace
	// ends.
	SyntheticRestart = "restart: where the previous incarnation's trace ends"
	// SyntheticCrashRegain: the spec's Restart needs the lease (it bounds
	// crashes by MaxEpoch); a full site that crashed without it regains it
	// just before (see Crash).
	SyntheticCrashRegain = "crash without the lease: regained just before Restart"
)

// Mapper accumulates the spec-level steps, proposers and readers of a run.
type Mapper struct {
	// Steps is exported so that a driver may move a step inside its own
	// interval (the simulator's paused-lease rule).
	Steps     []check.Step
	proposers []check.Proposer
	propIndex map[string]int
	readers   []check.Reader
	sites     map[core.SiteID]*siteState
	members   []core.Site
	leader    core.SiteID
	failure   string
	// committed is, per group and position, the value name the trace shows
	// committed there (Commit and Learn steps); learned is each site's
	// highest Learn per group (the spec's applied log, which Restart keeps).
	// Both serve compacted states (core.DetailCompacted) and reads at
	// truncated sites (core.TraceEvent.Compacted).
	committed map[string]map[int]string
	learned   map[core.SiteID]map[string]int
}

type siteState struct {
	kind core.SiteKind
	inc  uint64
	// The spec's epochs go on across restarts; the implementation's start
	// again at 0: spec epoch = epochBase + implementation epoch.
	epochBase, implEpoch int
	lease                bool
	// crashed: Crash was reported for incarnation inc; its next
	// incarnation's first batch must not restart it again.
	crashed bool
}

// New starts a mapping for a run of the given membership; every full site
// starts without a lease (the spec starts with every lease held, so the
// run begins with a LoseLease per full site).
func New(sites []core.Site, initialLeader core.SiteID) *Mapper {
	m := &Mapper{propIndex: map[string]int{}, sites: map[core.SiteID]*siteState{}, members: sites, leader: initialLeader,
		committed: map[string]map[int]string{}, learned: map[core.SiteID]map[string]int{}}
	for _, s := range sites {
		m.sites[s.ID] = &siteState{kind: s.Kind}
	}
	for _, s := range sites {
		if s.Kind == core.Full {
			m.emit(check.Step{Action: "LoseLease", Site: string(s.ID), Synthetic: SyntheticInitial})
		}
	}
	return m
}

// Failure is the first mapping failure ("" if none): an event that cannot
// be named, which is itself a finding.
func (m *Mapper) Failure() string { return m.failure }

func (m *Mapper) fail(format string, args ...any) {
	if m.failure == "" {
		m.failure = fmt.Sprintf(format, args...)
	}
}

// LeaseHeld reports whether the mapping believes site's coordinator holds
// its lease majority.
func (m *Mapper) LeaseHeld(site core.SiteID) bool { return m.sites[site].lease }

// Epoch maps an implementation epoch of site to the spec's.
func (m *Mapper) Epoch(site core.SiteID, implEpoch uint64) int {
	return m.sites[site].epochBase + int(implEpoch)
}

// LoseLeaseAt records that site's coordinator lost its lease before the
// step at index at (the simulator's paused site: the lease ran out during
// the pause, where the site took no step), if the mapping holds it.
func (m *Mapper) LoseLeaseAt(site core.SiteID, at int, synthetic string) {
	st := m.sites[site]
	if st.kind != core.Full || !st.lease {
		return
	}
	step := check.Step{Action: "LoseLease", Site: string(site), Synthetic: synthetic}
	if at < 0 || at >= len(m.Steps) {
		m.emit(step)
	} else {
		m.Steps = slices.Insert(m.Steps, at, step)
	}
	st.lease = false
}

// Crash records that site stopped and restarts with what it made durable:
// for a full site, the spec's Restart(site), appended. Restart keeps the
// site's promises, votes and applied log and drops its coordinator (every
// group invalid, invPos 0, no lease) and the proposals and reads in flight
// there, which is what core.Restore rebuilds from the state a driver
// persisted; the learned entries the restart lost (a suffix of each
// group's log) are told later, by Kept. Restart's guard asks for the lease, only to bound crashes by
// MaxEpoch (a coordinator without one serves nothing); a site that crashed
// without its lease first regains it (SyntheticCrashRegain): the pair
// changes nothing Restart alone would not, but the epoch, which the
// mapping continues after it (the implementation's epochs start again at 0
// in each incarnation, and no read of the old one survives to compare).
// Witnesses and read-only sites keep nothing in memory that the spec
// names: their crash is no step. The next incarnation's epochs continue
// after this one's.
func (m *Mapper) Crash(site core.SiteID, synthetic string) {
	st := m.sites[site]
	if st.kind == core.Full {
		if !st.lease {
			st.implEpoch++
			m.emit(check.Step{Action: "RegainLease", Site: string(site), Epoch: st.epochBase + st.implEpoch, Synthetic: SyntheticCrashRegain})
		}
		m.emit(check.Step{Action: "Restart", Site: string(site), Synthetic: synthetic})
	}
	st.lease, st.crashed = false, true
	st.epochBase += st.implEpoch
	st.implEpoch = 0
}

// Kept records how much of each group's applied log site's last Restart
// kept (node.Kept: the chosen records after its last sync may be lost):
// the spec's Restart(site, keep). A group kept names keeps its whole log.
func (m *Mapper) Kept(site core.SiteID, kept map[core.GroupID]core.Position) {
	if len(kept) == 0 {
		return
	}
	for g, k := range kept {
		// NB: an install after the restart learns from here (learnCompacted).
		if n, ok := m.learned[site][string(g)]; ok && int(k) < n {
			m.learned[site][string(g)] = int(k)
		}
	}
	for i := len(m.Steps) - 1; i >= 0; i-- {
		if s := &m.Steps[i]; s.Action == "Restart" && s.Site == string(site) {
			s.Keep = map[string]int{}
			for g, k := range kept {
				s.Keep[string(g)] = int(k)
			}
			return
		}
	}
}

// Run is what trace validation needs about the run so far.
func (m *Mapper) Run() check.Run {
	run := check.Run{InitLeader: string(m.leader), Proposers: m.proposers, Readers: m.readers, Steps: m.Steps}
	for _, s := range m.members {
		switch s.Kind {
		case core.Full:
			run.Full = append(run.Full, string(s.ID))
		case core.Witness:
			run.Witness = append(run.Witness, string(s.ID))
		case core.ReadOnly:
			run.ReadOnly = append(run.ReadOnly, string(s.ID))
		}
	}
	return run
}

func (m *Mapper) emit(st check.Step) { m.Steps = append(m.Steps, st) }

// AttemptName names the spec proposer of one ballot attempt: the site, its
// proposal id (unique across incarnations) and the ballot's round (0: the
// leader fast path).
func AttemptName(site core.SiteID, proposal uint64, b core.Ballot) string {
	return fmt.Sprintf("%s.%d.p%d.r%d", site, proposal>>32, proposal&0xffffffff, b.Round())
}

// ReaderName names the spec reader of one read request.
func ReaderName(site core.SiteID, req core.RequestID) string {
	return fmt.Sprintf("%s.%d.q%d", site, uint64(req)>>32, uint64(req)&0xffffffff)
}

// ValueName names a value as the spec does: no-ops are all spec.NoOp.
func ValueName(id core.ValueID, noop bool) string {
	if noop {
		return spec.NoOp
	}
	return id.String()
}

func (m *Mapper) addProposer(p check.Proposer) {
	if _, ok := m.propIndex[p.Name]; ok {
		m.fail("attempt %s started twice", p.Name)
		return
	}
	m.propIndex[p.Name] = len(m.proposers)
	m.proposers = append(m.proposers, p)
}

// Batch maps the trace events of one Ready of site, in order. A new
// incarnation of a site not reported by Crash is handled as a crash where
// its previous trace ended.
func (m *Mapper) Batch(site core.SiteID, inc uint64, events []core.TraceEvent) {
	st := m.sites[site]
	if st == nil {
		m.fail("trace of %s, not a member", site)
		return
	}
	if inc != st.inc {
		if st.inc != 0 && inc < st.inc {
			m.fail("site %s: incarnation %d after %d", site, inc, st.inc)
			return
		}
		if st.inc != 0 && !st.crashed {
			m.Crash(site, SyntheticRestart)
		}
		st.inc, st.crashed = inc, false
	}
	for k, ev := range events {
		if m.failure != "" {
			return
		}
		m.event(site, st, ev, events[k+1:])
	}
}

func (m *Mapper) event(site core.SiteID, st *siteState, ev core.TraceEvent, rest []core.TraceEvent) {
	g := string(ev.Group)
	origin := fmt.Sprintf("%s@%s %s/%d", ev.Action, site, ev.Group, ev.Position)
	step := check.Step{Action: ev.Action, Group: g, Pos: int(ev.Position), Origin: origin}
	needPeer := func() bool {
		if ev.Peer == "" || ev.Proposal == 0 {
			m.fail("%s at %s names no sender or proposal", ev.Action, site)
			return false
		}
		return true
	}
	switch ev.Action {
	case core.ActBeginWrite:
		if ev.Detail == core.DetailNoProposal {
			m.emit(check.Step{Action: check.ExtBeginWithoutProposal, Group: g, Pos: int(ev.Position), Origin: origin})
			return
		}
		if ev.Proposal == 0 {
			m.fail("BeginWrite at %s %s/%d names no proposal", site, g, ev.Position)
			return
		}
		if slices.ContainsFunc(rest, func(e core.TraceEvent) bool {
			return e.Action == core.ActPrepare && e.Proposal == ev.Proposal
		}) {
			return // the Prepare below begins the first attempt
		}
		name := AttemptName(site, ev.Proposal, 0)
		m.addProposer(check.Proposer{Name: name, Site: string(site), Group: g, Value: ValueName(ev.Value, ev.NoOp), Pos: int(ev.Position)})
		step.Prop = name
		m.emit(step)
	case core.ActPrepare:
		if ev.Proposal == 0 || ev.Ballot == 0 {
			m.fail("Prepare at %s %s/%d names no proposal or ballot", site, g, ev.Position)
			return
		}
		name := AttemptName(site, ev.Proposal, ev.Ballot)
		m.addProposer(check.Proposer{Name: name, Site: string(site), Group: g, Value: ValueName(ev.Value, ev.NoOp), Ballot: uint64(ev.Ballot), Pos: int(ev.Position)})
		step.Prop = name
		step.Action = "BeginWrite"
		m.emit(step)
		step.Action, step.Ballot = "Prepare", uint64(ev.Ballot)
		m.emit(step)
	case core.ActAcceptLeader:
		if !needPeer() {
			return
		}
		step.Prop, step.Site = AttemptName(ev.Peer, ev.Proposal, 0), string(site)
		m.emit(step)
	case core.ActPromise:
		if !needPeer() {
			return
		}
		step.Prop, step.Site, step.Ballot = AttemptName(ev.Peer, ev.Proposal, ev.Ballot), string(site), uint64(ev.Ballot)
		m.emit(step)
	case core.ActPropose:
		if ev.Proposal == 0 {
			m.fail("Propose at %s names no proposal", site)
			return
		}
		if ev.Ballot == 0 {
			step.Action, step.Prop = check.ExtProposeFast, AttemptName(site, ev.Proposal, 0)
			m.emit(step)
			return
		}
		step.Prop = AttemptName(site, ev.Proposal, ev.Ballot)
		for _, a := range ev.Quorum {
			step.Quorum = append(step.Quorum, string(a))
		}
		step.Value, step.Ballot = ValueName(ev.Value, ev.NoOp), uint64(ev.Ballot)
		m.emit(step)
	case core.ActAccept:
		if !needPeer() {
			return
		}
		step.Prop, step.Site, step.Ballot = AttemptName(ev.Peer, ev.Proposal, ev.Ballot), string(site), uint64(ev.Ballot)
		step.Value = ValueName(ev.Value, ev.NoOp)
		m.emit(step)
	case core.ActInvalidate:
		if !needPeer() {
			return
		}
		step.Prop, step.Site = AttemptName(ev.Peer, ev.Proposal, ev.Ballot), string(site)
		if _, ok := m.propIndex[step.Prop]; !ok {
			m.fail("Invalidate at %s from %s: no attempt %s at %s/%d", site, ev.Peer, step.Prop, g, ev.Position)
			return
		}
		m.emit(step)
	case core.ActWaitOutLease, core.ActCommit:
		name := AttemptName(site, ev.Proposal, ev.Ballot)
		if _, ok := m.propIndex[name]; !ok || ev.Proposal == 0 {
			m.fail("%s at %s: no attempt %s at %s/%d", ev.Action, site, name, g, ev.Position)
			return
		}
		step.Prop = name
		if ev.Action == core.ActWaitOutLease {
			step.Site = string(ev.Peer)
		} else {
			step.Value, step.Ballot = ValueName(ev.Value, ev.NoOp), uint64(ev.Ballot)
			m.commit(g, step.Pos, step.Value)
		}
		m.emit(step)
	case core.ActLearn:
		if ev.Detail == core.DetailCompacted {
			m.learnCompacted(site, ev, origin)
			return
		}
		step.Site, step.Value = string(site), ValueName(ev.Value, ev.NoOp)
		m.commit(g, step.Pos, step.Value)
		m.learn(site, g, step.Pos)
		m.emit(step)
	case core.ActLoseLease:
		st.lease = false
		step.Site, step.Group = string(site), ""
		m.emit(step)
	case core.ActRegainLease:
		st.lease, st.implEpoch = true, int(ev.Epoch)
		step.Site, step.Group, step.Epoch = string(site), "", st.epochBase+int(ev.Epoch)
		m.emit(step)
	case core.ActReadBegin:
		if ev.Request == 0 {
			m.fail("ReadBegin at %s names no request", site)
			return
		}
		step.Reader = ReaderName(site, ev.Request)
		m.readers = append(m.readers, check.Reader{Name: step.Reader, Site: string(site), Group: g, Kind: "current"})
		step.Flag, step.Epoch = ev.Detail == "valid", st.epochBase+int(ev.Epoch)
		m.emit(step)
	case core.ActReadFindPos:
		if ev.Request == 0 {
			m.fail("ReadFindPos at %s names no request", site)
			return
		}
		step.Reader = ReaderName(site, ev.Request)
		for _, a := range ev.Quorum {
			step.Quorum = append(step.Quorum, string(a))
		}
		step.Target, step.Pos = int(ev.Position), 0
		m.emit(step)
	case core.ActReadLocal, core.ActReadCatchUp:
		if ev.Request == 0 {
			m.fail("%s at %s names no request", ev.Action, site)
			return
		}
		step.Reader = ReaderName(site, ev.Request)
		step.Target, step.Pos = int(ev.Position), 0
		step.Result = m.readResult(site, ev)
		m.emit(step)
	case core.ActValidate:
		if ev.Request == 0 {
			m.fail("Validate at %s names no request", site)
			return
		}
		step.Reader, step.Flag, step.Pos = ReaderName(site, ev.Request), ev.Detail == "applied", 0
		m.emit(step)
	case core.ActSnapshotRead:
		if ev.Request == 0 {
			m.fail("SnapshotRead at %s names no request", site)
			return
		}
		if ev.Detail == core.DetailAtPosition {
			step.Action, step.Site, step.Result = check.ExtSnapshotReadAt, string(site), m.readResult(site, ev)
			m.emit(step)
			return
		}
		step.Reader = ReaderName(site, ev.Request)
		m.readers = append(m.readers, check.Reader{Name: step.Reader, Site: string(site), Group: g, Kind: "snapshot"})
		step.Result, step.Pos = m.readResult(site, ev), 0
		m.emit(step)
	case check.ExtDivergence:
		m.emit(step)
	default:
		m.fail("unknown trace action %q at %s", ev.Action, site)
	}
}

// writeNames names the writes a read returned, as the spec's LogWrites
// does: a set.
func writeNames(ids []core.ValueID) []string {
	var out []string
	for _, id := range ids {
		out = append(out, id.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Proposers returns the spec proposers named so far.
func (m *Mapper) Proposers() []check.Proposer { return m.proposers }

// commit records that the trace shows v committed at (g, pos).
func (m *Mapper) commit(g string, pos int, v string) {
	if m.committed[g] == nil {
		m.committed[g] = map[int]string{}
	}
	if _, ok := m.committed[g][pos]; !ok {
		m.committed[g][pos] = v
	}
}

// learn records a Learn step of site in g at pos. NB: the highest, not a
// count: a restarted site re-applies what it had applied (a stutter).
func (m *Mapper) learn(site core.SiteID, g string, pos int) {
	if m.learned[site] == nil {
		m.learned[site] = map[string]int{}
	}
	m.learned[site][g] = max(m.learned[site][g], pos)
}

// learnCompacted maps an install of a compacted state through ev.Position
// at site (core.DetailCompacted) to the spec's Learn of each position the
// site had not learned, in order, with the value the trace shows
// committed there: the spec has no truncation, and the data as of the
// point stands for exactly those entries (core/truncate.go, "Traces").
func (m *Mapper) learnCompacted(site core.SiteID, ev core.TraceEvent, origin string) {
	g := string(ev.Group)
	for p := m.learned[site][g] + 1; p <= int(ev.Position); p++ {
		v, ok := m.committed[g][p]
		if !ok {
			m.fail("%s: compacted state through %d at %s, but no commit at %s/%d is traced", origin, ev.Position, site, g, p)
			return
		}
		m.learn(site, g, p)
		m.emit(check.Step{Action: core.ActLearn, Group: g, Pos: p, Site: string(site), Value: v,
			Origin: fmt.Sprintf("%s (compacted through %d)", origin, ev.Position)})
	}
}

// readResult names the writes a read returned: ev.Writes, and at a site
// whose log is truncated (ev.Compacted) the non-no-op values the trace
// shows committed at the positions at or below the point, which are the
// site's applied log there (see learnCompacted).
func (m *Mapper) readResult(site core.SiteID, ev core.TraceEvent) []string {
	out := writeNames(ev.Writes)
	if ev.Compacted == 0 {
		return out
	}
	g := string(ev.Group)
	for p := 1; p <= int(ev.Compacted); p++ {
		v, ok := m.committed[g][p]
		if !ok {
			m.fail("%s at %s %s/%d: read through compacted %d, but no commit at %d is traced", ev.Action, site, g, ev.Position, ev.Compacted, p)
			return out
		}
		if v != spec.NoOp {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
