package sim

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"slices"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/storage"
	"github.com/megastore-verified/megastore/spec"
	"github.com/megastore-verified/megastore/tests/check"
)

// tickUnits is one nominal tick in simulated time units.
const tickUnits = 100

// Options describe one run. Zero fields take the defaults of Defaults.
type Options struct {
	Seed      uint64
	Sites     []core.Site
	Groups    int // entity groups
	Writes    int // read-modify-write transactions per group
	Reads     int // current reads per group
	Snapshots int // snapshot reads per group (each also scans the group's rows)
	// Inconsistent reads per group, at any data site.
	Inconsistent int
	// Refused: requests per group that a site must refuse at once (a
	// current read or a write at the witness or the read-only site).
	Refused int

	Partitions  int // partition episodes (random shapes, some asymmetric)
	Crashes     int // crash-restart episodes
	Pauses      int // process pauses (no ticks, messages wait; missed ticks first on resume)
	DropPercent int // per message
	DupPercent  int // per message
	// MaxDriftPPM bounds each site's clock rate error; the lease safety
	// argument needs 2*drift*lease plus tick rounding below ClockSkewTicks.
	MaxDriftPPM int

	Bugs core.Bugs

	// Faults, when non-nil, replace the generated partitions and crashes
	// (rapid draws them).
	Faults []Fault
	// OmitOps and OmitFaults drop items of the generated schedule; the
	// shrinker sets them.
	OmitOps, OmitFaults []int
	// Manual: no ops, no ticks, no network timing: a test delivers,
	// drops, duplicates and ticks by hand (see rapid_test.go).
	Manual bool
	// KeepLog keeps the event log lines (for -v and failure reports).
	KeepLog bool
}

// Defaults is the per-seed size the CI test runs (TestHeavierProfiles runs
// heavier ones).
func Defaults() Options {
	return Options{
		Sites:  []core.Site{{ID: "A", Kind: core.Full}, {ID: "B", Kind: core.Full}, {ID: "C", Kind: core.Full}, {ID: "W", Kind: core.Witness}, {ID: "R", Kind: core.ReadOnly}},
		Groups: 2, Writes: 3, Reads: 3, Snapshots: 2, Inconsistent: 1, Refused: 1,
		Partitions: 2, Crashes: 1, Pauses: 1, DropPercent: 3, DupPercent: 3, MaxDriftPPM: 20000,
	}
}

func (o Options) withDefaults() Options {
	d := Defaults()
	if o.Sites == nil {
		o.Sites = d.Sites
	}
	if o.Groups == 0 {
		o.Groups = d.Groups
	}
	return o
}

type evKind uint8

const (
	evDeliver evKind = iota + 1
	evTick
	evOp
	evFault
	evRetry
)

type event struct {
	at      int64
	seq     uint64
	kind    evKind
	site    int
	gen     uint64 // evTick: the incarnation it was scheduled for
	msg     core.Message
	fromInc uint64
	index   int // evOp, evRetry: op; evFault: fault
	heal    bool
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type gpKey struct {
	site  core.SiteID
	inc   uint64
	group core.GroupID
	pos   core.Position
}

type site struct {
	id     core.SiteID
	kind   core.SiteKind
	idx    int
	rep    *core.Replica
	store  *storage.Pebble
	up     bool
	inc    uint64
	period int64
	gen    uint64

	epochBase int // spec epoch = epochBase + implementation epoch
	implEpoch int
	lease     bool

	found  map[core.RequestID]map[core.SiteID]bool
	reqOps map[core.RequestID]int // client request -> op index

	paused    bool
	pauses    int      // overlapping pauses in force
	pauseStep int      // len(steps) when the pause began
	missed    int      // ticks a paused site owes
	held      []*event // messages delivered to it while paused
}

// Sim is one run in progress.
type Sim struct {
	opts   Options
	rng    *rand.Rand // network, clocks, sites of ops
	now    int64
	seq    uint64
	queue  eventHeap
	sites  []*site
	byID   map[core.SiteID]*site
	cut    map[[2]int]int // directed link -> number of partitions cutting it
	events int
	// pending holds the messages in flight in Manual mode.
	pending []*event

	log     hash.Hash
	logKept []string

	// Trace mapping.
	steps     []check.Step
	props     []check.Proposer
	propIndex map[string]int
	readers   []check.Reader
	latest    map[gpKey]string
	promisers map[string]map[core.SiteID]bool
	noop      map[core.ValueID]bool

	ops     []*op
	faults  []fault
	failure string
	check   string
}

func (s *Sim) schedule(e *event) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.queue, e)
}

func (s *Sim) logf(format string, args ...any) {
	line := fmt.Sprintf("%d ", s.now) + fmt.Sprintf(format, args...)
	s.log.Write([]byte(line))
	s.log.Write([]byte{'\n'})
	if s.opts.KeepLog {
		s.logKept = append(s.logKept, line)
	}
}

func (s *Sim) fail(check, format string, args ...any) {
	if s.failure == "" {
		s.failure = fmt.Sprintf(format, args...)
		s.check = check
		s.logf("FAIL %s: %s", check, s.failure)
	}
}

func (s *Sim) config(st *site) core.Config {
	cfg := core.DefaultConfig(st.id, s.opts.Sites)
	cfg.InitialLeader = s.opts.Sites[0].ID
	// A private stream per site and incarnation: backoff draws do not
	// shift the network's stream.
	cfg.Rand = rand.New(rand.NewPCG(s.opts.Seed, uint64(st.idx)<<32|st.inc))
	cfg.MaxRounds = 8
	cfg.ClockSkewTicks = 6
	cfg.Bugs = s.opts.Bugs
	return cfg
}

func newSim(opts Options) *Sim {
	opts = opts.withDefaults()
	s := &Sim{
		opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x5eed)),
		byID: map[core.SiteID]*site{}, cut: map[[2]int]int{}, log: sha256.New(),
		propIndex: map[string]int{}, latest: map[gpKey]string{},
		promisers: map[string]map[core.SiteID]bool{}, noop: map[core.ValueID]bool{},
	}
	for i, cs := range opts.Sites {
		st := &site{id: cs.ID, kind: cs.Kind, idx: i}
		s.sites = append(s.sites, st)
		s.byID[cs.ID] = st
	}
	return s
}

// start brings a site up, from empty storage or from what survived a crash.
func (s *Sim) start(st *site) {
	var state core.State
	if st.store == nil {
		db, err := storage.OpenMem()
		if err != nil {
			panic(err)
		}
		st.store = db
	} else {
		var err error
		if state, err = st.store.Load(); err != nil {
			s.fail("simulator", "load %s: %v", st.id, err)
			return
		}
	}
	st.inc = state.HardState.Incarnation + 1
	rep, err := core.Restore(s.config(st), state)
	if err != nil {
		s.fail("simulator", "restore %s: %v", st.id, err)
		return
	}
	st.rep, st.up = rep, true
	st.implEpoch, st.lease = 0, false
	st.found = map[core.RequestID]map[core.SiteID]bool{}
	st.reqOps = map[core.RequestID]int{}
	drift := int64(0)
	if s.opts.MaxDriftPPM > 0 {
		drift = int64(s.rng.IntN(2*s.opts.MaxDriftPPM+1) - s.opts.MaxDriftPPM)
	}
	st.period = tickUnits * (1_000_000 + drift) / 1_000_000
	st.gen++
	if !s.opts.Manual {
		s.schedule(&event{at: s.now + 1 + s.rng.Int64N(st.period), kind: evTick, site: st.idx, gen: st.gen})
	}
	s.logf("start %s inc=%d period=%d", st.id, st.inc, st.period)
	s.drain(st, input{kind: "restart"})
}

// crash stops a site; its storage keeps only what was synced (and a
// random part of the rest, as a real disk might).
func (s *Sim) crash(st *site) {
	if !st.up {
		return
	}
	if st.kind == core.Full && st.lease {
		if st.paused {
			// Crashed while paused: the lease ran out during the pause, as
			// on resume (see resume), so its LoseLease goes where the pause
			// began; the site took no step since.
			s.logf("step %s", check.Step{Action: "LoseLease", Site: string(st.id), Synthetic: check.SyntheticPausedLease})
			s.steps = slices.Insert(s.steps, st.pauseStep, check.Step{Action: "LoseLease", Site: string(st.id), Synthetic: check.SyntheticPausedLease})
			for _, o := range s.sites {
				if o != st && o.pauseStep > st.pauseStep {
					o.pauseStep++
				}
			}
		} else {
			s.emit(check.Step{Action: "LoseLease", Site: string(st.id), Synthetic: "crash"})
		}
	}
	st.epochBase += st.implEpoch
	st.up, st.rep = false, nil
	st.paused, st.pauses, st.missed, st.held = false, 0, 0, nil
	keep := s.rng.IntN(3) * 25
	db, err := st.store.Crash(keep, rand.New(rand.NewPCG(s.opts.Seed, s.rng.Uint64())))
	if err != nil {
		s.fail("simulator", "crash %s: %v", st.id, err)
		return
	}
	st.store = db
	for _, i := range sortedReqs(st.reqOps) {
		s.abandon(s.ops[st.reqOps[i]])
	}
	st.reqOps = nil
	s.logf("crash %s keep=%d%%", st.id, keep)
}

func sortedReqs(m map[core.RequestID]int) []core.RequestID {
	keys := make([]core.RequestID, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// send puts a Ready's message on the simulated network.
func (s *Sim) send(from *site, m core.Message) {
	to := s.byID[m.To]
	if to == nil {
		s.fail("simulator", "message to unknown site %v", m)
		return
	}
	if s.opts.Manual {
		s.pending = append(s.pending, &event{kind: evDeliver, site: to.idx, msg: m, fromInc: from.inc})
		return
	}
	if to == from {
		s.schedule(&event{at: s.now + 1, kind: evDeliver, site: to.idx, msg: m, fromInc: from.inc})
		return
	}
	if s.cut[[2]int{from.idx, to.idx}] > 0 || s.rng.IntN(100) < s.opts.DropPercent {
		return
	}
	copies := 1
	if s.rng.IntN(100) < s.opts.DupPercent {
		copies = 2
	}
	for range copies {
		delay := 1 + s.rng.Int64N(tickUnits/2)
		if s.rng.IntN(10) == 0 {
			delay += s.rng.Int64N(6 * tickUnits) // reordered well behind later messages
		}
		s.schedule(&event{at: s.now + delay, kind: evDeliver, site: to.idx, msg: m, fromInc: from.inc})
	}
}

type input struct {
	kind    string // restart, tick, deliver, write, read
	msg     *core.Message
	fromInc uint64
	req     core.RequestID
}

// drain handles every Ready of a site in the order core/doc.go prescribes.
func (s *Sim) drain(st *site, in input) {
	for st.up && st.rep.HasReady() {
		rd := st.rep.Ready()
		if !rd.Durable.IsEmpty() {
			if err := st.store.Save(rd.Durable, rd.MustSync); err != nil {
				s.fail("simulator", "save at %s: %v", st.id, err)
				return
			}
		}
		for _, m := range rd.Messages {
			s.recordValues(m)
			s.send(st, m)
		}
		if len(rd.Apply) > 0 {
			if err := st.store.Apply(rd.Apply); err != nil {
				s.fail("simulator", "apply at %s: %v", st.id, err)
				return
			}
		}
		s.mapTrace(st, in, rd)
		for _, res := range rd.Results {
			s.result(st, res)
		}
		st.rep.Advance(rd)
		// NB: later Readys of this loop were caused by Advance, not by
		// the input; they carry no trace events that need its context.
		in = input{kind: "advance"}
	}
}

func (s *Sim) recordValues(m core.Message) {
	if m.Value != nil && m.Value.NoOp {
		s.noop[m.Value.ID] = true
	}
	for _, e := range m.Entries {
		if e.Value.NoOp {
			s.noop[e.Value.ID] = true
		}
	}
}

func (s *Sim) deliver(e *event) {
	st := s.sites[e.site]
	m := e.msg
	if !st.up {
		return
	}
	if st.paused {
		st.held = append(st.held, e)
		return
	}
	if from := s.byID[m.From]; from != st && s.cut[[2]int{from.idx, st.idx}] > 0 {
		return
	}
	s.logf("deliver %v", m)
	s.recordValues(m)
	if m.Type == core.MsgPromise && !m.Reject {
		k := attemptName(st.id, st.inc, m.Proposal, m.Ballot)
		if s.promisers[k] == nil {
			s.promisers[k] = map[core.SiteID]bool{}
		}
		s.promisers[k][m.From] = true
	}
	if m.Type == core.MsgFindPosResp {
		q := st.found[core.RequestID(m.Proposal)]
		if q == nil {
			q = map[core.SiteID]bool{}
			st.found[core.RequestID(m.Proposal)] = q
		}
		q[m.From] = true
	}
	if err := st.rep.Step(m); err != nil && !errors.Is(err, core.ErrReadOnlySite) {
		s.fail("simulator", "step %v at %s: %v", m, st.id, err)
	}
	s.drain(st, input{kind: "deliver", msg: &m, fromInc: e.fromInc})
}

func (s *Sim) tick(e *event) {
	st := s.sites[e.site]
	if !st.up || e.gen != st.gen {
		return
	}
	if st.paused {
		st.missed++
		s.schedule(&event{at: s.now + st.period, kind: evTick, site: st.idx, gen: st.gen})
		return
	}
	st.rep.Tick()
	s.drain(st, input{kind: "tick"})
	if s.opts.Manual {
		return
	}
	s.schedule(&event{at: s.now + st.period, kind: evTick, site: st.idx, gen: st.gen})
}

// Report is the outcome of one run.
type Report struct {
	Seed    uint64
	Opts    Options
	Failure string // "" if every check passed
	Check   string // which check failed
	Hash    string // sha256 of the event log
	Events  int
	Trace   check.Result
	Lin     check.LinResult
	Snap    string // the snapshot check's failure, if any
	Ops     OpStats
	Log     []string
	Steps   []check.Step
}

// Run runs one seed and checks it.
func Run(opts Options) Report {
	s := newSim(opts)
	defer s.close()
	s.run()
	rep := Report{Seed: s.opts.Seed, Opts: s.opts, Failure: s.failure, Check: s.check,
		Events: s.events, Ops: s.opStats(), Steps: s.steps}
	rep.Trace = check.Trace(s.checkRun())
	if rep.Failure == "" && rep.Trace.Failure != "" {
		rep.Failure, rep.Check = rep.Trace.Failure, rep.Trace.Check
	}
	if bad := s.agree(rep.Trace); rep.Failure == "" && bad != "" {
		rep.Failure, rep.Check = bad, "mirror agreement"
	}
	rep.Lin = check.Linearizable(s.history())
	if rep.Failure == "" && rep.Lin.Failure != "" {
		rep.Failure, rep.Check = rep.Lin.Failure, "porcupine"
	}
	rep.Snap = check.Snapshots(s.snapshots(), s.chosenLog())
	if rep.Snap == "" {
		rep.Snap = check.Inconsistent(s.inconsistent(), s.chosenLog())
	}
	if rep.Failure == "" && rep.Snap != "" {
		rep.Failure, rep.Check = rep.Snap, "snapshot"
	}
	rep.Hash = hex.EncodeToString(s.log.Sum(nil))
	rep.Log = s.logKept
	return rep
}

// checkRun is what trace validation needs about the run so far.
func (s *Sim) checkRun() check.Run {
	run := check.Run{InitLeader: string(s.opts.Sites[0].ID), Proposers: s.props, Readers: s.readers, Steps: s.steps}
	for _, st := range s.sites {
		switch st.kind {
		case core.Full:
			run.Full = append(run.Full, string(st.id))
		case core.Witness:
			run.Witness = append(run.Witness, string(st.id))
		case core.ReadOnly:
			run.ReadOnly = append(run.ReadOnly, string(st.id))
		}
	}
	return run
}

func (s *Sim) close() {
	for _, st := range s.sites {
		if st.store != nil {
			_ = st.store.Close()
		}
	}
}

func (s *Sim) run() {
	s.generate()
	for _, st := range s.sites {
		if st.kind == core.Full {
			// The spec starts with every lease held; the implementation
			// starts without one and regains it in epoch 1.
			s.emit(check.Step{Action: "LoseLease", Site: string(st.id), Synthetic: "initial: no lease yet"})
		}
	}
	for _, st := range s.sites {
		s.start(st)
	}
	// NB: bounded: every op and fault is scheduled in the first
	// workloadTicks, and the run ends at most settleTicks later.
	end := int64(workloadTicks+settleTicks) * tickUnits
	for s.queue.Len() > 0 && s.failure == "" {
		e := heap.Pop(&s.queue).(*event)
		if e.at > end {
			break
		}
		s.now = e.at
		s.events++
		switch e.kind {
		case evDeliver:
			s.deliver(e)
		case evTick:
			s.tick(e)
		case evOp:
			s.startOp(e.index)
		case evRetry:
			s.retryOp(e.index)
		case evFault:
			s.fault(e)
		}
		if s.now > int64(workloadTicks)*tickUnits && s.quiet() {
			break
		}
	}
	for _, o := range s.ops {
		if o.state == opRunning {
			s.abandon(o)
		}
	}
}

// emit appends a spec-level step.
func (s *Sim) emit(st check.Step) {
	s.steps = append(s.steps, st)
	s.logf("step %s", st)
}

// attemptName names the spec proposer of one ballot attempt: site,
// incarnation, proposal id, round (0: the leader fast path).
func attemptName(site core.SiteID, inc, proposal uint64, b core.Ballot) string {
	return fmt.Sprintf("%s.%d.p%d.r%d", site, inc, proposal, b.Round())
}

func readerName(site core.SiteID, inc uint64, req core.RequestID) string {
	return fmt.Sprintf("%s.%d.q%d", site, inc, req)
}

func (s *Sim) valueName(id core.ValueID) string {
	if s.noop[id] {
		return spec.NoOp
	}
	return id.String()
}

func (s *Sim) addProposer(p check.Proposer) {
	if _, ok := s.propIndex[p.Name]; ok {
		s.fail("simulator", "attempt %s started twice", p.Name)
		return
	}
	s.propIndex[p.Name] = len(s.props)
	s.props = append(s.props, p)
}

// mapTrace turns the trace events of one Ready into spec-level steps,
// using the input that caused it to name proposers and readers.
func (s *Sim) mapTrace(st *site, in input, rd core.Ready) {
	readResults := []core.Result{}
	for _, r := range rd.Results {
		if r.Op == core.OpRead && r.Mode == core.Current && r.Err == nil {
			readResults = append(readResults, r)
		}
	}
	lastReader := ""
	for k, ev := range rd.Trace {
		s.logf("trace %s %+v", st.id, ev)
		g := string(ev.Group)
		origin := fmt.Sprintf("%s@%s %s/%d", ev.Action, st.id, ev.Group, ev.Position)
		step := check.Step{Action: ev.Action, Group: g, Pos: int(ev.Position), Origin: origin}
		m := in.msg
		needMsg := func(t core.MessageType) bool {
			if m == nil || m.Type != t {
				s.fail("simulator", "%s at %s not caused by a %v (input %s)", ev.Action, st.id, t, in.kind)
				return false
			}
			return true
		}
		switch ev.Action {
		case core.ActBeginWrite:
			pv, ok := st.rep.ActiveProposal(ev.Group, ev.Position)
			if in.kind != "write" || !ok || pv.Req != in.req {
				s.emit(check.Step{Action: check.ExtBeginWithoutProposal, Group: g, Pos: int(ev.Position), Origin: origin})
				continue
			}
			if pv.Ballot != 0 || slices.ContainsFunc(rd.Trace[k+1:], func(e core.TraceEvent) bool {
				return e.Action == core.ActPrepare && e.Group == ev.Group && e.Position == ev.Position
			}) {
				continue // the Prepare below begins the first attempt
			}
			s.noop[pv.Own] = pv.NoOp
			name := attemptName(st.id, st.inc, pv.ID, 0)
			s.addProposer(check.Proposer{Name: name, Site: string(st.id), Group: g, Value: s.valueName(pv.Own), Pos: int(ev.Position)})
			s.latest[gpKey{st.id, st.inc, ev.Group, ev.Position}] = name
			step.Prop = name
			s.emit(step)
		case core.ActPrepare:
			pv, ok := st.rep.ActiveProposal(ev.Group, ev.Position)
			if !ok || pv.Ballot != ev.Ballot {
				s.fail("simulator", "Prepare at %s %s/%d: no proposal with ballot %#x", st.id, g, ev.Position, ev.Ballot)
				return
			}
			if pv.NoOp {
				s.noop[pv.Own] = true
			}
			name := attemptName(st.id, st.inc, pv.ID, ev.Ballot)
			s.addProposer(check.Proposer{Name: name, Site: string(st.id), Group: g, Value: s.valueName(pv.Own), Ballot: uint64(ev.Ballot), Pos: int(ev.Position)})
			s.latest[gpKey{st.id, st.inc, ev.Group, ev.Position}] = name
			step.Prop = name
			step.Action = "BeginWrite"
			s.emit(step)
			step.Action, step.Ballot = "Prepare", uint64(ev.Ballot)
			s.emit(step)
		case core.ActAcceptLeader:
			if !needMsg(core.MsgAcceptLeader) {
				return
			}
			step.Prop, step.Site = attemptName(m.From, in.fromInc, m.Proposal, 0), string(st.id)
			s.emit(step)
		case core.ActPromise:
			if !needMsg(core.MsgPrepare) {
				return
			}
			step.Prop, step.Site, step.Ballot = attemptName(m.From, in.fromInc, m.Proposal, m.Ballot), string(st.id), uint64(m.Ballot)
			s.emit(step)
		case core.ActPropose:
			if m == nil {
				s.fail("simulator", "Propose at %s without a reply", st.id)
				return
			}
			if ev.Ballot == 0 {
				step.Action, step.Prop = check.ExtProposeFast, attemptName(st.id, st.inc, m.Proposal, 0)
				s.emit(step)
				continue
			}
			step.Prop = attemptName(st.id, st.inc, m.Proposal, ev.Ballot)
			for _, a := range sortedSites(s.promisers[step.Prop]) {
				step.Quorum = append(step.Quorum, string(a))
			}
			step.Value, step.Ballot = s.valueName(ev.Value), uint64(ev.Ballot)
			s.emit(step)
		case core.ActAccept:
			if !needMsg(core.MsgAccept) {
				return
			}
			step.Prop, step.Site, step.Ballot = attemptName(m.From, in.fromInc, m.Proposal, m.Ballot), string(st.id), uint64(m.Ballot)
			step.Value = s.valueName(ev.Value)
			s.emit(step)
		case core.ActInvalidate:
			if !needMsg(core.MsgInvalidate) {
				return
			}
			name, ok := s.latest[gpKey{m.From, in.fromInc, m.Group, m.Position}]
			if !ok {
				s.fail("simulator", "Invalidate at %s from %s: no attempt at %s/%d", st.id, m.From, m.Group, m.Position)
				return
			}
			step.Prop, step.Site = name, string(st.id)
			s.emit(step)
		case core.ActWaitOutLease, core.ActCommit:
			name, ok := s.latest[gpKey{st.id, st.inc, ev.Group, ev.Position}]
			if !ok {
				s.fail("simulator", "%s at %s: no attempt at %s/%d", ev.Action, st.id, g, ev.Position)
				return
			}
			step.Prop = name
			if ev.Action == core.ActWaitOutLease {
				step.Site = string(ev.Peer)
			} else {
				step.Value, step.Ballot = s.valueName(ev.Value), uint64(ev.Ballot)
				if p := s.props[s.propIndex[name]]; p.Ballot != uint64(ev.Ballot) {
					s.fail("simulator", "Commit at %s ballot %#x, its attempt %s has %#x", st.id, ev.Ballot, name, p.Ballot)
					return
				}
			}
			s.emit(step)
		case core.ActLearn:
			step.Site, step.Value = string(st.id), s.valueName(ev.Value)
			s.emit(step)
		case core.ActLoseLease:
			st.lease = false
			step.Site, step.Group = string(st.id), ""
			s.emit(step)
		case core.ActRegainLease:
			st.lease, st.implEpoch = true, int(ev.Epoch)
			step.Site, step.Group, step.Epoch = string(st.id), "", st.epochBase+int(ev.Epoch)
			s.emit(step)
		case core.ActReadBegin:
			if in.kind != "read" {
				s.fail("simulator", "ReadBegin at %s not caused by a read", st.id)
				return
			}
			step.Reader = readerName(st.id, st.inc, in.req)
			s.readers = append(s.readers, check.Reader{Name: step.Reader, Site: string(st.id), Group: g, Kind: "current"})
			step.Flag, step.Epoch = ev.Detail == "valid", st.epochBase+int(ev.Epoch)
			s.emit(step)
		case core.ActReadFindPos:
			if !needMsg(core.MsgFindPosResp) {
				return
			}
			step.Reader = readerName(st.id, st.inc, core.RequestID(m.Proposal))
			for _, a := range sortedSites(st.found[core.RequestID(m.Proposal)]) {
				step.Quorum = append(step.Quorum, string(a))
			}
			step.Target, step.Pos = int(ev.Position), 0
			s.emit(step)
		case core.ActReadLocal, core.ActReadCatchUp:
			if len(readResults) == 0 {
				s.fail("simulator", "%s at %s without a read result in the same Ready", ev.Action, st.id)
				return
			}
			res := readResults[0]
			readResults = readResults[1:]
			step.Reader = readerName(st.id, st.inc, res.ID)
			lastReader = step.Reader
			step.Target, step.Pos = int(ev.Position), 0
			step.Result = s.writesThrough(st, ev.Group, ev.Position)
			s.emit(step)
		case core.ActValidate:
			step.Reader, step.Flag, step.Pos = lastReader, ev.Detail == "applied", 0
			s.emit(step)
		case core.ActSnapshotRead:
			if in.kind != "read" {
				s.fail("simulator", "SnapshotRead at %s not caused by a read", st.id)
				return
			}
			step.Reader = readerName(st.id, st.inc, in.req)
			s.readers = append(s.readers, check.Reader{Name: step.Reader, Site: string(st.id), Group: g, Kind: "snapshot"})
			step.Result, step.Pos = s.writesThrough(st, ev.Group, ev.Position), 0
			s.emit(step)
		case check.ExtDivergence:
			s.emit(step)
		default:
			s.fail("simulator", "unknown trace action %q", ev.Action)
		}
	}
}

// writesThrough names the writes in a site's log at positions 1..p, as the
// spec's LogWrites does.
func (s *Sim) writesThrough(st *site, g core.GroupID, p core.Position) []string {
	var out []string
	for i := core.Position(1); i <= p; i++ {
		v, ok := st.rep.Known(g, i)
		if !ok {
			s.fail("simulator", "%s read through %d without knowing %d", st.id, p, i)
			return nil
		}
		if !v.NoOp {
			out = append(out, v.ID.String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedSites(m map[core.SiteID]bool) []core.SiteID {
	out := make([]core.SiteID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
