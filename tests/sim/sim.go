package sim

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"slices"
	"testing/synctest"

	"github.com/anishathalye/porcupine"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/storage"
	"github.com/megastore-verified/megastore/tests/check"
	"github.com/megastore-verified/megastore/tests/tracemap"
	"github.com/megastore-verified/megastore/tests/workloads"
)

// tickUnits is one nominal tick in simulated time units.
const tickUnits = 100

// clockSkewTicks is the replicas' ClockSkewTicks: the margin a writer
// waits beyond a coordinator's lease.
const clockSkewTicks = 6

// longDelayOneIn: in the long-delay profile, one message in this many is
// late by more than the skew margin.
const longDelayOneIn = 4

// Options describe one run. Zero fields take the defaults of Defaults.
type Options struct {
	Seed      uint64
	Sites     []core.Site
	Groups    int // entity groups
	Writes    int // read-modify-write transactions per group
	Reads     int // current reads per group
	Snapshots int // snapshot reads per group (each also scans the group's rows)
	// SnapshotsAt: snapshot reads per group at a position the client names
	// (the newest write it has seen acknowledged, or one past it); a
	// position the site has not applied is refused (ErrNotApplied) and
	// asked again a tick later.
	SnapshotsAt int
	// Inconsistent reads per group, at any data site.
	Inconsistent int
	// Refused: requests per group that a site must refuse at once (a
	// current read or a write at the witness or the read-only site).
	Refused int

	Partitions int // partition episodes (random shapes, some asymmetric)
	Crashes    int // crash-restart episodes
	Pauses     int // process pauses (no ticks, messages wait; missed ticks first on resume)
	// OperatorDowns: episodes in which an operator marks a full site's
	// coordinator down at every site that is up, then up again (§4.9).
	OperatorDowns int
	DropPercent   int // per message
	DupPercent    int // per message
	// MaxDriftPPM bounds each site's clock rate error; the lease safety
	// argument needs 2*drift*lease plus tick rounding below ClockSkewTicks.
	MaxDriftPPM int
	// LongDelayTicks, if above ClockSkewTicks, makes one message in
	// longDelayOneIn late by more than the skew margin, up to this many
	// ticks (the long-delay profile: a lease grant that arrives leases
	// after it was asked for must not extend the lease).
	LongDelayTicks int

	// OwnLoop runs every site through the simulator's own drain of the
	// replica (sim.go: drain) instead of the production node.Driver loop
	// (driver.go), the default. The own loop needs no testing/synctest
	// bubble and is the one Manual (rapid) steps by hand; it does not
	// check the driver's persist-before-send order, and no crash comes
	// inside a Save.
	OwnLoop bool
	// Bubble runs a driver-mode run inside a testing/synctest bubble, where
	// the simulator settles the sites' goroutines with synctest.Wait:
	// InBubble(t) from a test, or the runner's (tests/cmd/sim). Driver
	// mode refuses to run without it.
	Bubble func(run func())
	// SendBeforePersist, in driver mode, breaks the driver's contract:
	// node.Config.TestSendBeforePersist.
	SendBeforePersist bool
	// SyncAfterSend, in driver mode, breaks it as a group commit done
	// wrong would: node.Config.TestSyncAfterSend.
	SyncAfterSend bool
	// HeldGroups, in driver mode, is node.Config.HeldGroups: beyond it the
	// driver evicts idle groups and loads them again when named (0: the
	// driver's default, 100,000, which no run reaches). An evicted group's
	// coordinator forgets its validity and invPos, as a restart does, with
	// no trace event; mirror agreement then checks only the safe direction
	// (valid only if the mirror's is, invPos at most the mirror's).
	HeldGroups int
	// RetainPositions is core.Config.RetainPositions: with it on, sites
	// truncate their logs and catch up from each other's compacted state.
	// Traces validate as ever (an install maps to the spec's Learns; mirror
	// agreement skips what a site truncated); the snapshot check reads the
	// chosen log the simulator records from every Save (the sites forget
	// it), and chosen agreement fails a run that saves two values chosen
	// at one position, across sites and restarts.
	RetainPositions uint64
	// SlowSaves, in driver mode, makes every synced Save that writes
	// something take simulated time (as long as a message's delay), so
	// the pipelined driver (node.Config.PipelineDepth) steps messages,
	// ticks and requests while a Save runs, and a crash may come with
	// Readies in flight. Without it a Save takes no simulated time: a
	// driver never has an input to step while one runs.
	SlowSaves bool
	// PipelineDepth, in driver mode, is node.Config.PipelineDepth (0: the
	// driver's default, 2). Above 2 a driver's persister may save a Ready
	// while its replica's goroutine takes back the one before: both run at
	// once, and a seed is not promised to replay byte for byte (for
	// sweeps; the tests use the default).
	PipelineDepth int

	// Memberships draws the sites from the seed (replacing Sites): 3 or
	// 5 voters, of them 0 to 2 witnesses, the rest full, and 0 or 1
	// read-only site; the first full site leads position 1.
	Memberships bool

	Bugs core.Bugs
	// LoseVoteOnRestart breaks the disk, not the protocol: a restarting
	// site loads its state without its highest voted acceptor record
	// (synced, and maybe already counted by a proposer). For the test that
	// shows the restart check catching it at once.
	LoseVoteOnRestart bool
	// LoseChosenOnRestart breaks the disk too: a restarting site loads its
	// state without the chosen record (and the applied position) of the
	// last position it applied in its busiest group, though a synced Ready
	// after it may have covered it (a sync covers every earlier write of
	// the write-ahead log). For the test that shows the restart check
	// telling such a gap from the suffix a crash may lose.
	LoseChosenOnRestart bool

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

	// Workload, if set, runs one of tests/workloads (bank, queue,
	// listappend) over impl/db instead of the register ops (Writes, Reads,
	// Snapshots, Inconsistent, Refused are not used): Clients processes of
	// ClientOps operations each, then a final phase after the faults heal,
	// then the workload's checker (see dbwork.go).
	Workload string
	// WorkloadBug turns on one of the workload's bug switches
	// (workloads.BugNames).
	WorkloadBug        string
	Clients, ClientOps int
}

// Defaults is the per-seed size the CI test runs (TestHeavierProfiles runs
// heavier ones).
func Defaults() Options {
	return Options{
		Sites:  []core.Site{{ID: "A", Kind: core.Full}, {ID: "B", Kind: core.Full}, {ID: "C", Kind: core.Full}, {ID: "W", Kind: core.Witness}, {ID: "R", Kind: core.ReadOnly}},
		Groups: 2, Writes: 3, Reads: 3, Snapshots: 2, SnapshotsAt: 1, Inconsistent: 1, Refused: 1,
		Partitions: 2, Crashes: 1, Pauses: 1, OperatorDowns: 1, DropPercent: 3, DupPercent: 3, MaxDriftPPM: 20000,
	}
}

func (o Options) withDefaults() Options {
	d := Defaults()
	if o.Memberships {
		o.Sites = drawMembership(o.Seed)
	}
	if o.Sites == nil {
		o.Sites = d.Sites
	}
	if o.Groups == 0 {
		o.Groups = d.Groups
	}
	if o.Workload != "" {
		if o.Clients == 0 {
			o.Clients = defaultClients
		}
		if o.ClientOps == 0 {
			o.ClientOps = defaultClientOps
		}
	}
	return o
}

// drawMembership draws a membership from its own stream of the seed (see
// Options.Memberships).
func drawMembership(seed uint64) []core.Site {
	r := rand.New(rand.NewPCG(seed, 0x5175))
	voters := 3 + 2*r.IntN(2)
	witnesses := r.IntN(3)
	var sites []core.Site
	for i := range voters - witnesses {
		sites = append(sites, core.Site{ID: core.SiteID(string(rune('A' + i))), Kind: core.Full})
	}
	for i := range witnesses {
		sites = append(sites, core.Site{ID: core.SiteID(string(rune('W' + i))), Kind: core.Witness})
	}
	if r.IntN(2) == 1 {
		sites = append(sites, core.Site{ID: "R", Kind: core.ReadOnly})
	}
	return sites
}

type evKind uint8

const (
	evDeliver evKind = iota + 1
	evTick
	evOp
	evFault
	evRetry
	evReadDeadline
	evProcStart    // index: process
	evProc         // resume the process with its answer
	evProcRetry    // issue the process's call again
	evProcDeadline // gen: the read's generation
	evSaveDone     // gen: the site's incarnation; index: the Save (Options.SlowSaves)
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

	reqOps map[core.RequestID]int // client request -> op index
	// procReqs: requests of workload processes (dbwork.go).
	procReqs map[core.RequestID]*proc

	// markedDown: an operator marked this site's coordinator down, and the
	// mark reached the site itself: it must serve no local read.
	markedDown bool

	paused    bool
	pauses    int      // overlapping pauses in force
	pauseStep int      // len(steps) when the pause began
	missed    int      // ticks a paused site owes
	held      []*event // messages delivered to it while paused

	// Driver mode: the driver and its clock; dieInSave: a crash comes
	// inside its next Save of acceptor state; died: it did; batch: the
	// trace of the Ready being saved; saves and sends count its Saves and
	// messages; viewCache is what agreement reads of it at the end.
	drv       *node.Driver
	clock     *node.ManualClock
	dieInSave bool
	died      bool
	// saving releases the slow Save in progress (Options.SlowSaves):
	// true, it completes; false, the process died inside it. savesBegun
	// numbers the slow Saves, steppedWhileSaving counts the inputs the
	// simulator handed the site while one ran.
	saving             chan bool
	savesBegun         int
	steppedWhileSaving int
	diedSaving         int
	// dieAtSaveDone: the slow Save in progress is the one an armed crash
	// (dieInSave) dies inside.
	dieAtSaveDone bool
	batch         []core.TraceEvent
	saves         int
	sends         int
	viewCache     view

	// trace is every Ready's trace events of every incarnation, as a real
	// node records them: a restart compares what it loads with it.
	trace []node.TraceBatch
}

// Sim is one run in progress.
type Sim struct {
	opts Options
	// chosen is every entry a site saved as known committed, by group and
	// position (Options.RetainPositions: the log the sites forget);
	// truncations and installs count what the sites saved.
	chosen                map[core.GroupID]map[core.Position]core.Value
	truncations, installs int
	rng                   *rand.Rand // network, clocks, sites of ops
	now                   int64
	seq                   uint64
	queue                 eventHeap
	sites                 []*site
	byID                  map[core.SiteID]*site
	cut                   map[[2]int]int // directed link -> number of partitions cutting it
	events                int
	// pending holds the messages in flight in Manual mode.
	pending []*event

	log     hash.Hash
	logKept []string

	// mapper turns trace events into spec-level steps as they happen.
	mapper *tracemap.Mapper

	ops    []*op
	faults []fault

	// A workload over impl/db (dbwork.go).
	work         workloads.Workload
	procs        []*proc
	finalStarted bool

	// Driver mode: request outcomes, the context requests run under (ended
	// with the run), and the last request id.
	reports chan driverReport
	// starts: request goroutines that settle starts.
	starts  []func()
	ctx     context.Context
	cancel  context.CancelFunc
	nextReq uint64
	// acked is, per group, the highest position of an acknowledged write:
	// what a client can name for a snapshot read.
	acked   map[core.GroupID]core.Position
	failure string
	check   string
	// stepAt[ID-1]: when each spec-level step was logged, and where.
	stepAt []stepMark
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

// checkAssertion names a failure a replica found itself (core.Ready.Fatal).
const checkAssertion = "replica assertion"

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
	cfg.ClockSkewTicks = clockSkewTicks
	cfg.Bugs = s.opts.Bugs
	cfg.RetainPositions = s.opts.RetainPositions
	return cfg
}

func newSim(opts Options) *Sim {
	opts = opts.withDefaults()
	s := &Sim{
		opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x5eed)),
		byID: map[core.SiteID]*site{}, cut: map[[2]int]int{}, log: sha256.New(), acked: map[core.GroupID]core.Position{},
	}
	if s.driverMode() {
		s.reports = make(chan driverReport, 1<<12)
		s.ctx, s.cancel = context.WithCancel(context.Background())
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
		if s.opts.LoseVoteOnRestart {
			state = loseHighestVote(state)
		}
		if s.opts.LoseChosenOnRestart {
			state = loseLastApplied(state)
		}
		s.restartAgrees(st, state)
		// Chosen records are written without fsync: the restart may have
		// lost a suffix of each group's learned log, which the spec's
		// Restart then forgets too.
		s.mapper.Kept(st.id, node.Kept(st.trace, state))
	}
	st.inc = state.HardState.Incarnation + 1
	if !s.driverMode() {
		rep, err := core.Restore(s.config(st), state)
		if err != nil {
			s.fail("simulator", "restore %s: %v", st.id, err)
			return
		}
		st.rep, st.up = rep, true
	}
	st.reqOps = map[core.RequestID]int{}
	st.procReqs = map[core.RequestID]*proc{}
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
	if s.driverMode() {
		// NB: started last: its goroutine at once handles what Restore
		// left to do (re-applying the log), sending through the simulator.
		if err := s.startDriver(st); err != nil {
			s.fail("simulator", "start the driver at %s: %v", st.id, err)
			return
		}
		st.up = true
		// Wake the driver as its clock's first tick would.
		st.clock.Advance(0)
		s.settle()
	} else {
		s.drain(st, input{kind: "restart"})
	}
}

// crash stops a site; its storage keeps only what was synced (and a
// random part of the rest, as a real disk might).
func (s *Sim) crash(st *site) {
	if !st.up {
		return
	}
	st.died, st.dieInSave, st.dieAtSaveDone = false, false, false
	if st.saving != nil {
		// NB: the process dies inside its slow Save: nothing of it is
		// written, and the Readies behind it are never saved.
		st.saving <- false
		st.saving = nil
		st.diedSaving++
		s.logf("%s dies inside a slow Save", st.id)
	}
	s.stopDriver(st)
	if st.kind == core.Full && s.mapper.LeaseHeld(st.id) && st.paused {
		// Crashed while paused: the lease ran out during the pause, as
		// on resume (see resume), so its LoseLease goes where the pause
		// began; the site took no step since.
		at := min(st.pauseStep, len(s.mapper.Steps))
		s.mapper.LoseLeaseAt(st.id, at, check.SyntheticPausedLease)
		s.noteStep(&s.mapper.Steps[at])
		for _, o := range s.sites {
			if o != st && o.pauseStep > st.pauseStep {
				o.pauseStep++
			}
		}
	}
	n := len(s.mapper.Steps)
	s.mapper.Crash(st.id, tracemap.SyntheticCrash)
	s.logSteps(n)
	st.up, st.rep, st.markedDown = false, nil, false
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
	st.procReqs = nil
	s.procsCrashed(st)
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
		// NB: drawn only in the long-delay profile, so every other
		// profile's seeds run as they did.
		if skew := int64(clockSkewTicks); s.longDelays() && s.rng.IntN(longDelayOneIn) == 0 {
			delay += (skew+1)*tickUnits + s.rng.Int64N((int64(s.opts.LongDelayTicks)-skew)*tickUnits)
		}
		s.schedule(&event{at: s.now + delay, kind: evDeliver, site: to.idx, msg: m, fromInc: from.inc})
	}
}

// longDelays: the long-delay profile is on.
func (s *Sim) longDelays() bool { return s.opts.LongDelayTicks > clockSkewTicks }

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
		if rd.Fatal != nil {
			// As node.Driver does: an assertion failed, so the site stops
			// before persisting or sending anything of this Ready; its
			// trace goes to the checkers, whose report names the first
			// step the spec does not enable (Run prefers it).
			s.mapTrace(st, rd)
			s.fail(checkAssertion, "site %s stopped: %v", st.id, rd.Fatal)
			st.up = false
			return
		}
		if !rd.Durable.IsEmpty() {
			if err := st.store.Save(rd.Durable, rd.MustSync); err != nil {
				s.fail("simulator", "save at %s: %v", st.id, err)
				return
			}
			s.saved(st, rd.Durable)
		}
		for _, m := range rd.Messages {
			if m.FillRows {
				if err := node.FillRows(st.store, &m, s.config(st).MaxScanRows); err != nil {
					s.fail("simulator", "compacted state at %s: %v", st.id, err)
					return
				}
			}
			s.send(st, m)
		}
		if len(rd.Apply) > 0 {
			if err := st.store.Apply(rd.Apply); err != nil {
				s.fail("simulator", "apply at %s: %v", st.id, err)
				return
			}
		}
		s.mapTrace(st, rd)
		for _, res := range rd.Results {
			s.result(st, res)
		}
		st.rep.Advance(rd)
		// NB: later Readys of this loop were caused by Advance, not by
		// the input; they carry no trace events that need its context.
		in = input{kind: "advance"}
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
	// NB: in the long-delay profile a message already on its way when a
	// partition began still arrives (the network is asynchronous: a cut
	// loses what is sent across it, a late message is merely late).
	if from := s.byID[m.From]; from != st && s.cut[[2]int{from.idx, st.idx}] > 0 && !s.longDelays() {
		return
	}
	s.logf("deliver %v", m)
	if s.driverMode() {
		s.noteInput(st)
		st.drv.Deliver(m)
		s.settle()
		return
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
	if s.driverMode() {
		s.noteInput(st)
		st.clock.Advance(1)
		s.settle()
	} else {
		st.rep.Tick()
		s.drain(st, input{kind: "tick"})
	}
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
	// SteppedWhileSaving counts the inputs (messages, ticks, requests)
	// handed to a driver while one of its slow Saves ran (Options.SlowSaves).
	SteppedWhileSaving int
	// DiedSaving counts the crashes that came inside a slow Save.
	DiedSaving int
	// Workload is the workload checker's verdict (Options.Workload).
	Workload *workloads.Result
	Log      []string
	Steps    []check.Step
	// FailAt and FailLine: the simulated time of the step at which trace
	// validation failed, and its line in Log (-1: none); Notes annotate
	// porcupine's page (see failure.go).
	FailAt   int64
	FailLine int
	Notes    []porcupine.Annotation
	// Truncations and Installs count the log truncations and the
	// compacted states installed (Options.RetainPositions).
	Truncations, Installs int
}

// Run runs one seed and checks it.
func Run(opts Options) Report {
	if (opts.Bugs != (core.Bugs{}) || opts.SendBeforePersist || opts.SyncAfterSend) && !core.BugsCompiled {
		// NB: without the tag every replica would refuse its Config, and
		// that refusal would pass for the bug being caught.
		panic(fmt.Sprintf("tests/sim: bug switch %s%s%s needs a build with -tags %s (make test and make sim pass it)",
			bugName(opts.Bugs), map[bool]string{true: " SendBeforePersist"}[opts.SendBeforePersist],
			map[bool]string{true: " SyncAfterSend"}[opts.SyncAfterSend], core.BugTag))
	}
	if (opts.SendBeforePersist || opts.SyncAfterSend) && (opts.OwnLoop || opts.Manual) {
		return Report{Seed: opts.Seed, Opts: opts, Check: "simulator",
			Failure: "SendBeforePersist and SyncAfterSend break node.Driver: they need driver mode (no -own-loop)"}
	}
	if opts.WorkloadBug != "" && !core.BugsCompiled {
		panic(fmt.Sprintf("tests/sim: workload bug switch %s needs a build with -tags %s (make test and make sim pass it)",
			opts.WorkloadBug, core.BugTag))
	}
	s := newSim(opts)
	if !s.driverMode() {
		defer s.close()
		s.run()
		return s.report()
	}
	if opts.Bubble == nil {
		return Report{Seed: opts.Seed, Opts: opts, Check: "simulator",
			Failure: "driver mode needs Options.Bubble (a testing/synctest bubble: sim.InBubble(t)), or OwnLoop"}
	}
	var rep Report
	opts.Bubble(func() {
		// NB: the report asks the running drivers for their status
		// (agreement): close after it.
		s.run()
		rep = s.report()
		s.close()
	})
	return rep
}

// report runs the checks of a finished run.
func (s *Sim) report() Report {
	rep := Report{Seed: s.opts.Seed, Opts: s.opts, Failure: s.failure, Check: s.check,
		Events: s.events, Ops: s.opStats(), Steps: s.mapper.Steps,
		Truncations: s.truncations, Installs: s.installs}
	for _, st := range s.sites {
		rep.SteppedWhileSaving += st.steppedWhileSaving
		rep.DiedSaving += st.diedSaving
	}
	rep.Trace = check.Trace(s.mapper.Run())
	if (rep.Failure == "" || rep.Check == checkAssertion) && rep.Trace.Failure != "" {
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
	if s.work != nil {
		w := s.work.Check()
		rep.Workload = &w
		if rep.Failure == "" && !w.Valid() {
			rep.Failure, rep.Check = w.String(), s.opts.Workload
		}
	}
	rep.Hash = hex.EncodeToString(s.log.Sum(nil))
	rep.Log = s.logKept
	s.explain(&rep)
	return rep
}

func (s *Sim) close() {
	if s.driverMode() {
		for _, st := range s.sites {
			if st.drv != nil {
				st.drv.Stop()
			}
		}
		s.cancel()
		if s.mapper != nil {
			// NB: it ran, inside its bubble (Shrink closes one that never
			// ran, outside any).
			synctest.Wait()
		}
	}
	for _, st := range s.sites {
		if st.store != nil {
			_ = st.store.Close()
		}
	}
}

func (s *Sim) run() {
	s.generate()
	// The spec starts with every lease held; the implementation starts
	// without one and regains it in epoch 1: the mapper begins with a
	// LoseLease per full site.
	s.mapper = tracemap.New(s.opts.Sites, s.opts.Sites[0].ID)
	s.logSteps(0)
	for _, st := range s.sites {
		s.start(st)
	}
	// NB: bounded: every op and fault is scheduled in the first
	// workloadTicks, and the run ends at most settleTicks later (and a
	// workload's final phase at most finalTicks after that).
	end := int64(workloadTicks+settleTicks) * tickUnits
	if s.opts.Workload != "" {
		s.startWorkload()
		end += finalTicks * tickUnits
	}
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
		case evReadDeadline:
			s.readDeadline(e.index, e.gen)
		case evFault:
			s.fault(e)
		case evProcStart:
			s.runProc(s.procs[e.index])
		case evProc:
			s.resumeProc(s.procs[e.index])
		case evProcRetry:
			if p := s.procs[e.index]; !p.done && !p.waiting && p.reply == nil {
				s.issueProc(p)
			}
		case evProcDeadline:
			s.procDeadline(s.procs[e.index], e.gen)
		case evSaveDone:
			s.saveDone(e)
		}
		s.maybeFinal()
		if s.now > int64(workloadTicks)*tickUnits && s.quiet() {
			break
		}
	}
	s.flushSaves()
	for _, o := range s.ops {
		if o.state == opRunning {
			s.abandon(o)
		}
	}
	s.killProcs()
}

// logSteps logs the spec-level steps from index n on.
func (s *Sim) logSteps(n int) {
	for i := n; i < len(s.mapper.Steps); i++ {
		s.noteStep(&s.mapper.Steps[i])
	}
}

// mapTrace hands the trace events of one Ready to the mapper, with what
// each read returned.
func (s *Sim) mapTrace(st *site, rd core.Ready) {
	if len(rd.Trace) == 0 {
		return
	}
	if err := st.rep.FillReadWrites(rd.Trace); err != nil {
		// NB: a read that names a position the site does not know
		// committed has no spec step: the trace itself is invalid.
		s.fail("trace validation", "%v", err)
		return
	}
	s.mapEvents(st, rd.Trace)
}

// mapEvents hands one Ready's trace events (reads' results filled in) to
// the mapper.
func (s *Sim) mapEvents(st *site, events []core.TraceEvent) {
	if len(events) == 0 {
		return
	}
	for _, ev := range events {
		if ev.Action == core.ActReadLocal && st.markedDown {
			s.fail("operator", "%s served a local read of %s/%d with its coordinator marked down", st.id, ev.Group, ev.Position)
			return
		}
	}
	for _, ev := range events {
		s.logf("trace %s %+v", st.id, ev)
	}
	st.trace = append(st.trace, node.TraceBatch{Site: st.id, Incarnation: st.inc, Seq: uint64(len(st.trace) + 1),
		Events: slices.Clone(events)})
	n := len(s.mapper.Steps)
	s.mapper.Batch(st.id, st.inc, events)
	s.logSteps(n)
	if f := s.mapper.Failure(); f != "" {
		s.fail("simulator", "%s", f)
	}
}

// saved records what a site saved: with Options.RetainPositions, the
// chosen log (which the sites themselves forget), checked for two values
// chosen at one position, and the truncations and installs.
func (s *Sim) saved(st *site, d core.Durable) {
	if s.opts.RetainPositions == 0 {
		return
	}
	s.truncations += len(d.Truncate)
	s.installs += len(d.Install)
	if s.chosen == nil {
		s.chosen = map[core.GroupID]map[core.Position]core.Value{}
	}
	for _, e := range d.Chosen {
		log := s.chosen[e.Group]
		if log == nil {
			log = map[core.Position]core.Value{}
			s.chosen[e.Group] = log
		}
		if old, ok := log[e.Position]; ok && old.ID != e.Value.ID {
			s.fail(checkChosen, "%s saved %s as chosen at %s/%d, where %s was chosen", st.id, e.Value.ID, e.Group, e.Position, old.ID)
			return
		}
		log[e.Position] = e.Value
	}
}

// checkChosen names the check of saved, chosen agreement.
const checkChosen = "chosen agreement"
