package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
)

// maxBatch bounds how many queued inputs (messages and client calls) one
// Ready may gather.
const maxBatch = 256

// maxReaders bounds the Storage reads and scans served beside the replica's
// goroutine at once.
const maxReaders = 8

// ErrStopped: the driver is stopped (or failed); its requests are abandoned.
var ErrStopped = errors.New("node: driver stopped")

// Config assembles a Driver.
type Config struct {
	Core      core.Config
	Storage   core.Storage
	Transport core.Transport
	Clock     Clock
	// InboxSize bounds queued incoming messages; beyond it they are dropped
	// (the protocol retries). Default 4096.
	InboxSize int
	// OnTrace, if set, receives every Ready's trace events, on the driver's
	// goroutine, after the Ready was handled (for metrics and logs).
	OnTrace func(site core.SiteID, events []core.TraceEvent)
	// OnTraceBatch, if set, records the spec-level trace of a real node
	// (tests/tracemap validates it): every Ready's events with their
	// identities, what each read returned, and a wall-clock stamp. It is
	// called before the Ready is persisted, and so before any of its
	// messages is sent: every durable effect is in the trace, and every
	// step a message causes elsewhere is stamped later than the step that
	// sent it. It is called on the goroutine that saves, just before the
	// Ready's Save and after the previous Ready's Save returned (a
	// pipelined driver builds the next Ready meanwhile, but traces it only
	// then): so only the last Ready traced in an incarnation may describe
	// effects that never became durable (the process died inside its
	// Save), whatever PipelineDepth; the next incarnation's OnLoad tells
	// which (LostEvents). It must write synchronously.
	OnTraceBatch func(TraceBatch)
	// OnLoad, if set, sees the state the replica is restored from, before
	// it takes any step.
	OnLoad func(core.State)
	// WallClock stamps trace batches (default time.Now). Sites whose traces
	// are merged must share it: processes on one host, or containers on
	// one kernel. It is never the node's (test-adjustable) tick clock.
	WallClock func() time.Time
	// TestSendBeforePersist breaks the persist-before-send contract of
	// core/doc.go: a Ready's messages leave before its state is saved. For
	// tests that show the suite catches such a driver; like core.Bugs,
	// Start refuses it in a build without -tags megastore_bugs.
	TestSendBeforePersist bool
	// TestSyncAfterSend breaks it the way a group commit done wrong does:
	// a Ready is written without fsync, its messages leave, and only then
	// is it synced. Refused like TestSendBeforePersist.
	TestSyncAfterSend bool
	// OnStepError, if set, receives errors returned by Step (bad messages).
	OnStepError func(m core.Message, err error)
	// PipelineDepth is how many Readies the replica has in hand at once:
	// the one it is building and those handed to its persister goroutine
	// (to be saved, sent, applied and answered, in order). 1: a Ready is
	// handled on the replica's goroutine before it steps anything more
	// (the driver before pipelining, with no persister goroutine). 2 (the default): while one Ready is saved (its fsync),
	// the replica goes on stepping queued messages, ticks and client calls
	// into the next, which is handed over once the first is done. Higher:
	// up to PipelineDepth-1 Readies wait in line to be saved while the
	// replica builds one more. core/doc.go (item 4) says why stepping
	// ahead of the disk is safe.
	PipelineDepth int
	// HeldGroups bounds the idle entity groups the replica keeps in memory
	// (default 100,000). With a Storage that is a core.GroupStorage, the
	// replica starts from the hard state alone and loads each group the
	// first time a message or request names it; beyond HeldGroups, idle
	// groups are forgotten, least recently used first, and loaded again
	// when named. Negative: load every group at start, never forget one.
	HeldGroups int
}

// defaultPipelineDepth: 2, pipelined. BenchmarkPipelinedWrites finds it
// level with 1 on a shared 2-core machine (median throughput ratios 0.92
// to 1.06 over its six cases, within the noise): every message, the
// self-addressed ones a write's next step waits for included, still waits
// for its own Ready's Save, so a write's path is unchanged, and only the
// CPU of stepping overlaps the fsync. 3 is slower with a 2 ms fsync (0.80
// to 0.90): a self-addressed message waits behind one more Save.
const defaultPipelineDepth = 2

// defaultHeldGroups: at about 900 bytes an idle group (BenchmarkIdleGroupMemory),
// some 90 MB of groups.
const defaultHeldGroups = 100_000

// TraceBatch is trace events of one Ready as a real node records them: the
// events that followed one reading of the node's clock (see UnixNanos), so
// a Ready that gathered many messages is recorded as several batches.
type TraceBatch struct {
	Site        core.SiteID `json:"site"`
	Incarnation uint64      `json:"inc"`
	// Seq counts the batches of one incarnation from 1.
	Seq uint64 `json:"seq"`
	// Ready counts the Readies of one incarnation from 1; the batches of
	// one Ready are persisted by one Save (0 in traces written before
	// batches were split: one batch per Ready).
	Ready uint64 `json:"ready,omitempty"`
	// UnixNanos is the wall-clock time (WallClock) read just before the
	// node's tick clock, before the steps that produced the batch's events:
	// every lease judgement among them was made at a tick reached by then,
	// and every message they handled had already arrived. Stamping at the
	// end of a Ready instead placed a step whose lease was judged before a
	// writer waited the lease out after that wait, whenever stepping a long
	// queue took longer than the safety margin (found by the ten-minute
	// all-nemesis runs, seeds 1 and 2). A lease loss found when the driver
	// hands the replica missed time is stamped just after the site's
	// previous batch instead: the lease ran out at some point since, and
	// the site took no step in between, so the spec's LoseLease may be
	// taken anywhere in that interval.
	UnixNanos int64             `json:"t"`
	Events    []core.TraceEvent `json:"ev"`
	// Lost, in a batch with no events written when a site restarts, names
	// the events of its previous incarnation's last batch whose durable
	// effects the restored state does not hold (see LostEvents).
	Lost *LostEvents `json:"lost,omitempty"`
	// Forgot, in the same batch, lists acceptor state that earlier traced
	// steps made durable and the restored state no longer holds: a vote or
	// promise lost although the Ready that made it was saved (and may have
	// been answered). A correct driver on a disk that keeps what was synced
	// never forgets; see Forgotten.
	Forgot []string `json:"forgot,omitempty"`
	// Kept, in the same batch, names the groups whose learned log the
	// restored state does not hold whole, with the prefix it holds (see
	// Kept): the spec's Restart keeps that much of its applied log.
	Kept map[core.GroupID]core.Position `json:"kept,omitempty"`
}

// LostEvents names events of one batch that did not become durable.
type LostEvents struct {
	Incarnation uint64 `json:"inc"`
	Seq         uint64 `json:"seq"`
	Events      []int  `json:"ev"` // indexes into that batch's Events
}

// knownCommitted reports whether st holds (g, p) as known committed with
// value v: a chosen record, or a position at or below the applied one
// (whose chosen record a storage may have truncated).
func knownCommitted(st core.State) func(g core.GroupID, p core.Position, v core.ValueID) bool {
	chosen := map[[2]any]core.ValueID{}
	for _, e := range st.Chosen {
		chosen[[2]any{e.Group, e.Position}] = e.Value.ID
	}
	return func(g core.GroupID, p core.Position, v core.ValueID) bool {
		if id, ok := chosen[[2]any{g, p}]; ok {
			return id == v
		}
		return st.Applied[g] >= p
	}
}

// lastReady is the index of the first batch of trace's last Ready.
func lastReady(trace []TraceBatch) int {
	i := len(trace) - 1
	last := trace[i]
	if last.Ready == 0 {
		return i
	}
	for i > 0 && trace[i-1].Incarnation == last.Incarnation && trace[i-1].Ready == last.Ready {
		i--
	}
	return i
}

// Forgotten compares the state a site restarts from with its own trace so
// far (every batch of its earlier incarnations, in order). It returns the
// events of the last Ready's batches that did not become durable (Lost:
// the process died inside that Save), and, for every slot whose promise or
// vote an earlier Ready traced but st does not hold, a line saying what was
// forgotten: only the last Ready may die before its Save (a pipelined
// driver traces a Ready only once the Save before it returned, see
// Config.OnTraceBatch), so anything else missing is a durability bug (an acknowledgement before fsync, or a
// message sent before its Ready was persisted, on a disk that lost what
// was not synced). Learned entries may be lost, but only those written
// after the last sync (learnedGaps).
func Forgotten(trace []TraceBatch, st core.State) (lost []LostEvents, forgot []string) {
	if len(trace) == 0 {
		return nil, nil
	}
	from := lastReady(trace)
	for _, b := range trace[from:] {
		if idx := Lost(b, st); len(idx) > 0 {
			lost = append(lost, LostEvents{Incarnation: b.Incarnation, Seq: b.Seq, Events: idx})
		}
	}
	type slot struct {
		maxBal, voteBal core.Ballot
		voted           bool
		vote            core.ValueID
	}
	want := map[[2]any]*slot{}
	var order [][2]any
	for _, b := range trace[:from] {
		for _, ev := range b.Events {
			k := [2]any{ev.Group, ev.Position}
			s := want[k]
			switch ev.Action {
			case core.ActPromise, core.ActAccept, core.ActAcceptLeader:
				if s == nil {
					s = &slot{}
					want[k] = s
					order = append(order, k)
				}
			default:
				continue
			}
			s.maxBal = max(s.maxBal, ev.Ballot)
			if ev.Action != core.ActPromise {
				s.voted, s.voteBal, s.vote = true, ev.Ballot, ev.Value
			}
		}
	}
	recs := map[[2]any]core.AcceptorRecord{}
	for _, a := range st.Acceptor {
		recs[[2]any{a.Group, a.Position}] = a
	}
	forgot = append(forgot, learnedGaps(trace, from, lost, st)...)
	for _, k := range order {
		s, rec := want[k], recs[k]
		switch {
		case k[1].(core.Position) <= st.Truncated[k[0].(core.GroupID)]:
			// NB: truncated: a chosen position whose vote the site forgot
			// on purpose, and refuses to renew (core/truncate.go).
		case rec.MaxBal < s.maxBal:
			forgot = append(forgot, fmt.Sprintf("%s/%d: promised ballot %#x, restarted at %#x", k[0], k[1], s.maxBal, rec.MaxBal))
		case s.voted && !(rec.Voted && (rec.VoteBal > s.voteBal ||
			rec.VoteBal == s.voteBal && rec.Vote.ID == s.vote || slices.Contains(rec.Earlier, s.voteBal))):
			forgot = append(forgot, fmt.Sprintf("%s/%d: voted %s at ballot %#x, restarted without that vote", k[0], k[1], s.vote, s.voteBal))
		}
	}
	return lost, forgot
}

// Lost returns the indexes of the acceptor steps (AcceptLeader, Promise,
// Accept) of last, a batch of the final Ready of an earlier incarnation, whose
// effect the restored state st does not hold: the process died after
// tracing the Ready and before its Save reached the disk. Nothing of such
// a Ready was sent, so no other site saw those steps either. A Learn is
// not among them: chosen records are written without fsync, so a restart
// may lose the last ones learned in any Ready (Kept says how many it kept;
// learnedGaps checks the rest).
func Lost(last TraceBatch, st core.State) []int {
	recs := map[[2]any]core.AcceptorRecord{}
	for _, a := range st.Acceptor {
		recs[[2]any{a.Group, a.Position}] = a
	}
	var lost []int
	for i, ev := range last.Events {
		rec, ok := recs[[2]any{ev.Group, ev.Position}]
		var held bool
		switch ev.Action {
		case core.ActPromise, core.ActAccept, core.ActAcceptLeader:
			if ev.Position <= st.Truncated[ev.Group] {
				continue // NB: forgotten on purpose (see Forgotten)
			}
		}
		switch ev.Action {
		case core.ActPromise:
			held = ok && rec.MaxBal >= ev.Ballot
		case core.ActAccept, core.ActAcceptLeader:
			held = ok && rec.Voted && (rec.VoteBal == ev.Ballot && rec.Vote.ID == ev.Value ||
				slices.Contains(rec.Earlier, ev.Ballot))
		default:
			continue
		}
		if !held {
			lost = append(lost, i)
		}
	}
	return lost
}

// ReadResult is a completed read.
type ReadResult struct {
	Position core.Position
	Values   [][]byte // one per key; nil means absent
	// Rows and More answer the request's Range, if it had one.
	Rows []core.KeyValue
	More bool
}

type outcome struct {
	res    core.Result
	values [][]byte
	rows   []core.KeyValue
	more   bool
	err    error
}

// job is one Ready on its way through the persister goroutine.
type job struct {
	rd core.Ready
	// batches are the Ready's trace, cut and stamped when the Ready was
	// taken, recorded (OnTraceBatch) just before its Save.
	batches []TraceBatch
	// local are its messages to this site, stepped once it is done.
	local []core.Message
	// latest holds the reads at LatestPosition among rd.Results, by index,
	// performed right after rd's Apply (see complete).
	latest map[int]outcome
	err    error
}

// Driver runs one replica on one goroutine, and persists its Readies on a
// second (the persister), in order.
type Driver struct {
	cfg     Config
	self    core.SiteID
	inbox   chan core.Message
	calls   chan func(*core.Replica)
	stop    chan struct{}
	done    chan struct{}
	ticks   <-chan struct{}
	ticked  uint64
	r       *core.Replica
	waiters map[core.RequestID]chan outcome
	local   []core.Message
	// work carries Readies to the persister, dones brings them back;
	// inFlight counts those handed over and not back, gathered the inputs
	// stepped since the last Ready was taken.
	work     chan *job
	dones    chan *job
	inFlight int
	gathered int
	// readSlots bounds the reads in flight (maxReaders); readers counts them.
	readSlots chan struct{}
	readers   sync.WaitGroup
	// groups loads entity groups one at a time; nil: the replica holds
	// every group.
	groups core.GroupStorage
	// Trace batches: the incarnation, the counts of batches and Readies,
	// the last batch's stamp, and the clock readings since the last Ready.
	incarnation uint64
	traceSeq    uint64
	readySeq    uint64
	lastStamp   int64
	readings    []clockReading

	mu  sync.Mutex
	err error
}

// Start loads the replica's state from Storage and starts its goroutine.
func Start(cfg Config) (*Driver, error) {
	if cfg.Storage == nil || cfg.Transport == nil || cfg.Clock == nil {
		return nil, fmt.Errorf("%w: storage, transport and clock are required", core.ErrInvalidConfig)
	}
	if cfg.TestSendBeforePersist && !core.BugsCompiled {
		return nil, fmt.Errorf("%w: TestSendBeforePersist needs a build with -tags %s", core.ErrInvalidConfig, core.BugTag)
	}
	if cfg.TestSyncAfterSend && !core.BugsCompiled {
		return nil, fmt.Errorf("%w: TestSyncAfterSend needs a build with -tags %s", core.ErrInvalidConfig, core.BugTag)
	}
	if cfg.InboxSize <= 0 {
		cfg.InboxSize = 4096
	}
	if cfg.WallClock == nil {
		cfg.WallClock = time.Now
	}
	if cfg.HeldGroups == 0 {
		cfg.HeldGroups = defaultHeldGroups
	}
	if cfg.PipelineDepth == 0 {
		cfg.PipelineDepth = defaultPipelineDepth
	}
	if cfg.PipelineDepth < 0 {
		return nil, fmt.Errorf("%w: PipelineDepth %d is negative", core.ErrInvalidConfig, cfg.PipelineDepth)
	}
	st, groups, err := load(cfg)
	if err != nil {
		return nil, err
	}
	r, err := core.Restore(cfg.Core, st)
	if err != nil {
		return nil, err
	}
	d := &Driver{
		cfg:     cfg,
		self:    cfg.Core.Self,
		inbox:   make(chan core.Message, cfg.InboxSize),
		calls:   make(chan func(*core.Replica)),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		ticks:   cfg.Clock.Subscribe(),
		ticked:  cfg.Clock.Now(),
		r:       r,
		waiters: map[core.RequestID]chan outcome{},
		groups:  groups,
		work:    make(chan *job, maxInFlight(cfg.PipelineDepth)),
		dones:   make(chan *job, maxInFlight(cfg.PipelineDepth)),

		readSlots: make(chan struct{}, maxReaders),
	}
	d.incarnation = r.Status().Incarnation
	d.lastStamp = cfg.WallClock().UnixNano()
	go d.run()
	return d, nil
}

// Deliver queues a message from another site; it never blocks, and drops
// the message if the inbox is full or the driver stopped.
func (d *Driver) Deliver(m core.Message) {
	select {
	case d.inbox <- m:
	default:
	}
}

// Stop stops the goroutines after the Readies in hand are handled. It does not
// close Storage: the owner does (or crashes it).
func (d *Driver) Stop() {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
	<-d.done
}

// Err returns the error that stopped the driver, if any.
func (d *Driver) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// maxInFlight is how many Readies the replica may have handed to the
// persister and not got back (see Config.PipelineDepth).
func maxInFlight(depth int) int { return max(depth-1, 1) }

func (d *Driver) run() {
	defer close(d.done)
	// NB: the owner closes Storage once Stop returns; no read may still
	// be running then.
	defer d.readers.Wait()
	defer d.failWaiters()
	if d.cfg.PipelineDepth > 1 {
		go d.persist()
		defer d.drain()
	}
	if err := d.loop(); err != nil {
		d.mu.Lock()
		d.err = err
		d.mu.Unlock()
	}
}

// loop steps inputs into Readies and hands them to the persister until
// the driver stops or fails.
func (d *Driver) loop() error {
	pipelined := d.cfg.PipelineDepth > 1
	limit := maxInFlight(d.cfg.PipelineDepth)
	for {
		// Unpipelined, nothing is stepped while a Ready is out; pipelined,
		// the replica steps on while Readies are being saved, up to
		// maxBatch inputs for the Ready it builds. Not while groups are
		// due to be forgotten, though (see EvictIdle below): stepping on
		// would leave no moment with nothing pending and nothing out, and
		// under steady traffic the replica would hold ever more groups.
		canStep := d.inFlight == 0 || pipelined && !d.evictDue() && d.gathered < maxBatch
		work := d.inFlight < limit && (d.r.HasReady() || len(d.local) > 0 && canStep)
		if !work {
			inbox, ticks, calls := d.inbox, d.ticks, d.calls
			if !canStep {
				inbox, ticks, calls = nil, nil, nil
			}
			select {
			case <-d.stop:
				return nil
			case j := <-d.dones:
				if err := d.finish(j); err != nil {
					return err
				}
			case m := <-inbox:
				d.catchUpTicks()
				d.step(m)
				d.gathered++
			case <-ticks:
				d.catchUpTicks()
			case f := <-calls:
				d.catchUpTicks()
				f(d.r)
				d.gathered++
			}
		} else {
			select {
			case <-d.stop:
				return nil
			default:
			}
		}
		// NB: take back every Ready the persister is done with first: its
		// self-addressed messages and the reads its Advance releases go
		// into the Ready built next.
		for done := false; !done; {
			select {
			case j := <-d.dones:
				if err := d.finish(j); err != nil {
					return err
				}
			default:
				done = true
			}
		}
		if d.inFlight == 0 || pipelined && !d.evictDue() && d.gathered < maxBatch {
			d.stepLocal()
			d.gather()
		}
		if d.r.HasReady() && d.inFlight < limit {
			if err := d.hand(d.r.Ready()); err != nil {
				return err
			}
		}
		// Forgetting a group is safe only when nothing of it is pending or
		// on its way to the disk: a group forgotten while a Ready holding
		// its promise is being saved would be loaded back (hold) from a
		// Storage that lacks the promise. EvictIdle itself refuses while
		// a Ready taken is not Advanced; waiting here for the persister to
		// be idle says so at the call. It is also why hold may read
		// Storage beside the persister's Saves: a group the replica does
		// not hold has nothing in flight, so what Storage holds of it is
		// all of it.
		if d.groups != nil && d.inFlight == 0 && len(d.local) == 0 && !d.r.HasReady() {
			d.r.EvictIdle(d.cfg.HeldGroups)
		}
	}
}

// evictDue reports whether the replica holds more groups than
// Config.HeldGroups and would forget some.
func (d *Driver) evictDue() bool {
	return d.groups != nil && d.cfg.HeldGroups >= 0 && d.r.Held() > d.cfg.HeldGroups
}

// hand traces rd (cutting and stamping its batches, recorded later by
// the persister) and hands it to the persister. A Fatal Ready goes too:
// the persister records its trace after the Readies before it and stops.
func (d *Driver) hand(rd core.Ready) error {
	batches, err := d.traceBatch(rd)
	if err != nil {
		return err
	}
	if len(rd.Install) > 0 || len(rd.Truncate) > 0 {
		// NB: both remove data versions below their point, and the reads
		// served beside the replica's goroutine may read there (complete).
		// Those reads are the results of the Readies before this one,
		// which finish completes once the persister is done with them: so
		// take every one back, then wait for their reads, before this
		// Ready's Save can begin. (Readies after it complete their reads
		// after its Save, at positions it keeps.)
		for d.inFlight > 0 {
			if err := d.finish(<-d.dones); err != nil {
				return err
			}
		}
		d.readers.Wait()
	}
	d.gathered = 0
	d.inFlight++
	j := &job{rd: rd, batches: batches}
	if d.cfg.PipelineDepth == 1 {
		// NB: unpipelined, the replica's goroutine handles the Ready
		// itself, as the driver did before it had a persister.
		j.err = d.handle(j)
		return d.finish(j)
	}
	d.work <- j // NB: never blocks: cap is the in-flight limit
	return nil
}

// finish takes back a Ready the persister is done with, on the replica's
// goroutine: its self-addressed messages are queued to be stepped, its
// results completed, and the replica told (Advance), in that order with
// nothing stepped in between, so a client that read at a position finds
// it applied when it begins a write there.
func (d *Driver) finish(j *job) error {
	d.inFlight--
	if j.err != nil {
		return j.err
	}
	d.local = append(d.local, j.local...)
	for i, res := range j.rd.Results {
		out, ok := j.latest[i]
		d.complete(res, out, ok)
	}
	if d.cfg.OnTrace != nil && len(j.rd.Trace) > 0 {
		d.cfg.OnTrace(d.self, j.rd.Trace)
	}
	d.r.Advance(j.rd)
	return nil
}

// drain lets the persister finish the Readies handed to it (Stop handles
// the Readies in hand) and takes them back; after a failure it has
// stopped already and drops the rest.
func (d *Driver) drain() {
	close(d.work)
	for j := range d.dones {
		if j.err == nil {
			_ = d.finish(j)
		} else {
			d.inFlight--
		}
	}
}

// persist is the persister goroutine: it carries out each Ready handed
// over, in order, as core/doc.go prescribes (trace, Save, send, Apply),
// and hands it back for its results and Advance. Saves are strictly in
// order: a later Ready may rewrite an earlier one's records, and its
// messages may rest on what the earlier one saved.
func (d *Driver) persist() {
	defer close(d.dones)
	for j := range d.work {
		j.err = d.handle(j)
		d.dones <- j
		if j.err != nil {
			return
		}
	}
}

// stepLocal steps the messages this site sent itself, whose Ready was
// persisted (the local acceptor is reached only through them).
func (d *Driver) stepLocal() {
	if len(d.local) == 0 {
		return
	}
	local := d.local
	d.local = nil
	// NB: a Save may have stalled for longer than a lease (a slow disk):
	// hand over the missed time first, as after a pause, so no queued
	// message is stepped at a time already past.
	d.catchUpTicks()
	for _, m := range local {
		d.step(m)
	}
}

// gather steps what else is queued, messages from other sites and client
// calls alike, up to maxBatch, before the next Ready: that one Save (one
// fsync) then covers the promises, votes and chosen records of every group
// they touched, a group commit. What queued while the last Save ran is
// taken here (pipelined, while the Save runs), so the busier the disk, the
// bigger the batch. Taking one client call per Ready instead gave every
// write its own fsync.
func (d *Driver) gather() {
	for ; d.gathered < maxBatch; d.gathered++ {
		select {
		case m := <-d.inbox:
			d.catchUpTicks()
			d.step(m)
		case f := <-d.calls:
			d.catchUpTicks()
			f(d.r)
		case <-d.ticks:
			d.catchUpTicks()
		default:
			return
		}
	}
}

// clockReading marks where, in the replica's pending trace, the events
// that followed one reading of the clock begin, and when it was read.
type clockReading struct {
	at      int   // index into the pending trace
	wall    int64 // WallClock, read just before the tick clock
	elapsed bool  // the reading handed the replica missed ticks
}

// catchUpTicks tells the replica how much time passed, in one step however
// many ticks were missed (core.Replica.Elapse says why). The driver calls
// it before every message or call it steps, so each step's lease judgement
// is made at a time after the step's input arrived, and each trace batch
// can be stamped with the reading its steps were judged at.
func (d *Driver) catchUpTicks() {
	tracing := d.cfg.OnTraceBatch != nil
	var rd clockReading
	if tracing {
		rd = clockReading{at: d.r.PendingTrace(), wall: d.cfg.WallClock().UnixNano()}
	}
	if now := d.cfg.Clock.Now(); d.ticked < now {
		d.r.Elapse(now - d.ticked)
		d.ticked = now
		rd.elapsed = true
	}
	if !tracing {
		return // NB: the readings only stamp trace batches
	}
	if n := len(d.readings); n > 0 && d.readings[n-1].at == rd.at {
		// NB: no event followed the previous reading; this one stands for
		// the events to come.
		d.readings[n-1] = rd
		return
	}
	d.readings = append(d.readings, rd)
}

// load reads what the replica starts from: the hard state alone when the
// storage loads groups one at a time (and the whole state only for OnLoad,
// which checks it), else everything.
func load(cfg Config) (core.State, core.GroupStorage, error) {
	if gs, ok := cfg.Storage.(core.GroupStorage); ok && cfg.HeldGroups > 0 {
		hs, err := gs.LoadHardState()
		if err != nil {
			return core.State{}, nil, err
		}
		if cfg.OnLoad != nil {
			st, err := cfg.Storage.Load()
			if err != nil {
				return core.State{}, nil, err
			}
			cfg.OnLoad(st)
		}
		return core.State{HardState: hs, Partial: true}, gs, nil
	}
	st, err := cfg.Storage.Load()
	if err == nil && cfg.OnLoad != nil {
		cfg.OnLoad(st)
	}
	return st, nil, err
}

// hold loads group g into the replica if it does not hold it.
func (d *Driver) hold(g core.GroupID) error {
	if g == "" || !d.r.NeedsLoad(g) {
		return nil
	}
	gs, err := d.groups.LoadGroup(g)
	if err != nil {
		return fmt.Errorf("node: loading group %q: %w", g, err)
	}
	return d.r.LoadGroup(g, gs)
}

// loaded runs f, and once more after loading group g if f found it not
// loaded: a request or message the replica refuses for another reason
// loads nothing.
func (d *Driver) loaded(g core.GroupID, f func() error) error {
	err := f()
	if errors.Is(err, core.ErrNotLoaded) {
		if err = d.hold(g); err == nil {
			err = f()
		}
	}
	return err
}

func (d *Driver) step(m core.Message) {
	err := d.loaded(m.Group, func() error { return d.r.Step(m) })
	if err != nil && d.cfg.OnStepError != nil {
		d.cfg.OnStepError(m, err)
	}
}

// handle carries out one Ready on the persister goroutine, in the order
// core/doc.go prescribes; its results and Advance are finish's.
func (d *Driver) handle(j *job) error {
	rd := j.rd
	for _, b := range j.batches {
		d.cfg.OnTraceBatch(b)
	}
	if rd.Fatal != nil {
		// NB: an assertion failed (core.ErrDivergence): stop before
		// persisting or sending anything of this Ready. Its trace,
		// recorded above, shows the checkers what happened.
		return fmt.Errorf("node: replica stopped: %w", rd.Fatal)
	}
	switch {
	case d.cfg.TestSendBeforePersist:
		if err := d.send(j, rd.Messages); err != nil {
			return err
		}
		if err := d.cfg.Storage.Save(rd.Durable, rd.MustSync); err != nil {
			return fmt.Errorf("node: persisting: %w", err)
		}
	case d.cfg.TestSyncAfterSend:
		// NB: written, not synced, when the messages leave; the same
		// records are written again with the fsync after.
		if err := d.cfg.Storage.Save(rd.Durable, false); err != nil {
			return fmt.Errorf("node: persisting: %w", err)
		}
		if err := d.send(j, rd.Messages); err != nil {
			return err
		}
		if err := d.cfg.Storage.Save(rd.Durable, rd.MustSync); err != nil {
			return fmt.Errorf("node: persisting: %w", err)
		}
	default:
		if err := d.cfg.Storage.Save(rd.Durable, rd.MustSync); err != nil {
			return fmt.Errorf("node: persisting: %w", err)
		}
		if err := d.send(j, rd.Messages); err != nil {
			return err
		}
	}
	if err := d.cfg.Storage.Apply(rd.Apply); err != nil {
		return fmt.Errorf("node: applying: %w", err)
	}
	for i, res := range rd.Results {
		if res.Op == core.OpRead && res.Err == nil && res.Position == core.LatestPosition {
			// NB: the newest version moves with every Apply; read it
			// here, after this Ready's Apply and before the next's, so
			// what it returns does not depend on how the goroutines were
			// scheduled (the simulator's driver mode replays a seed byte
			// for byte).
			if j.latest == nil {
				j.latest = map[int]outcome{}
			}
			j.latest[i] = d.read(res)
		}
	}
	return nil
}

// FillRows fills a compacted-state page (core.Message.FillRows) from st:
// the group's rows as of m.Through from m.Cursor, at most maxRows and
// core.MaxSnapshotPageBytes (but at least one row), and whether more
// follow. Drivers call it for each such message of a Ready.
func FillRows(st core.Storage, m *core.Message, maxRows int) error {
	rows, more, err := st.Scan(m.Group, core.KeyRange{Start: m.Cursor, Limit: maxRows}, m.Through)
	if err != nil {
		return err
	}
	size := 0
	for i, kv := range rows {
		size += len(kv.Key) + len(kv.Value)
		if i > 0 && size > core.MaxSnapshotPageBytes {
			rows, more = rows[:i], true
			break
		}
	}
	m.Rows, m.More, m.FillRows = rows, more, false
	return nil
}

// send sends a Ready's messages, filling its compacted-state pages first
// (core.Message.FillRows). NB: after the Ready's Save: a page names the
// point of the Ready's own install or truncation, if it has one, and
// reads the rows that Save wrote.
func (d *Driver) send(j *job, msgs []core.Message) error {
	for i := range msgs {
		if msgs[i].FillRows {
			if err := FillRows(d.cfg.Storage, &msgs[i], d.cfg.Core.MaxScanRows); err != nil {
				return fmt.Errorf("node: compacted state of %q: %w", msgs[i].Group, err)
			}
		}
	}
	for _, m := range msgs {
		if m.To == d.self {
			j.local = append(j.local, m)
		} else {
			d.cfg.Transport.Send(m.To, m)
		}
	}
	return nil
}

// traceBatch cuts a Ready's trace into batches for OnTraceBatch (see
// TraceBatch): one batch per clock reading that events followed. It runs
// when the Ready is taken (the stamps and the reads' writes are the
// replica's at that moment); the persister records the batches.
func (d *Driver) traceBatch(rd core.Ready) ([]TraceBatch, error) {
	readings := d.readings
	// NB: events that come before the next reading (those Advance causes)
	// were judged at the last one.
	d.readings = nil
	if n := len(readings); n > 0 {
		d.readings = []clockReading{{wall: readings[n-1].wall}}
	}
	if d.cfg.OnTraceBatch == nil || len(rd.Trace) == 0 {
		return nil, nil
	}
	if err := d.r.FillReadWrites(rd.Trace); err != nil {
		return nil, fmt.Errorf("node: tracing: %w", err)
	}
	if len(readings) == 0 || readings[0].at > 0 {
		// Only a driver that never read the clock has events before its
		// first reading; stamp them now.
		readings = append([]clockReading{{wall: d.cfg.WallClock().UnixNano()}}, readings...)
	}
	d.readySeq++
	var out []TraceBatch
	for i, rdg := range readings {
		end := len(rd.Trace)
		if i+1 < len(readings) {
			end = readings[i+1].at
		}
		events := rd.Trace[rdg.at:end]
		if len(events) == 0 {
			continue
		}
		if rdg.elapsed && events[0].Action == core.ActLoseLease {
			// NB: Elapse judges the lease before any timer fires, so a
			// lease it found lost is the first event after the reading.
			out = append(out, d.batch(d.lastStamp+1, events[:1]))
			events = events[1:]
		}
		if len(events) > 0 {
			out = append(out, d.batch(max(rdg.wall, d.lastStamp+1), events))
		}
	}
	return out, nil
}

func (d *Driver) batch(stamp int64, events []core.TraceEvent) TraceBatch {
	d.traceSeq++
	d.lastStamp = stamp
	return TraceBatch{Site: d.self, Incarnation: d.incarnation, Seq: d.traceSeq,
		Ready: d.readySeq, UnixNanos: stamp, Events: events}
}

// complete answers a result's waiter; latest is the result's read at
// LatestPosition, if the persister performed it (ok).
func (d *Driver) complete(res core.Result, latest outcome, ok bool) {
	w := d.waiters[res.ID]
	if w == nil {
		return
	}
	delete(d.waiters, res.ID)
	if res.Op != core.OpRead || res.Err != nil {
		w <- outcome{res: res}
		return
	}
	if res.Position == core.LatestPosition && ok {
		w <- latest // NB: read in order by the persister (handle)
		return
	}
	// Served beside the replica's goroutine, which goes on stepping and
	// saving. It is safe because what the read sees is fixed: its
	// position is applied (this Ready's Apply is committed, atomically,
	// before its results are completed), and a data row's versions at or
	// below the applied position never change: Apply only adds versions
	// at the positions it applies, and re-applying an entry after a
	// restart writes the same bytes (one value is chosen per position).
	// What would break it: anything that deletes or rewrites versions at
	// or below a position a read may still be served at (a truncation or
	// an install does: hand waits for these reads before it hands one over),
	// or a Storage whose Read and Scan are not safe beside Apply (Pebble's
	// are). Stop waits for these reads, since the
	// owner closes Storage after it.
	select {
	case d.readSlots <- struct{}{}:
		d.readers.Add(1)
		go func() {
			defer d.readers.Done()
			out := d.read(res)
			<-d.readSlots
			w <- out
		}()
	default:
		// Every slot busy: read here, which also slows the intake.
		w <- d.read(res)
	}
}

// read performs a completed read's Storage reads.
func (d *Driver) read(res core.Result) outcome {
	out := outcome{res: res}
	out.values, out.err = d.cfg.Storage.Read(res.Group, res.Keys, res.Position)
	if out.err == nil && res.Range != nil {
		out.rows, out.more, out.err = d.cfg.Storage.Scan(res.Group, *res.Range, res.Position)
	}
	return out
}

func (d *Driver) failWaiters() {
	for id, w := range d.waiters {
		w <- outcome{err: ErrStopped}
		delete(d.waiters, id)
	}
}

// call runs f on the driver's goroutine.
func (d *Driver) call(ctx context.Context, f func(*core.Replica)) error {
	select {
	case d.calls <- f:
		return nil
	case <-d.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Driver) await(ctx context.Context, start func(*core.Replica) (core.RequestID, error)) (outcome, error) {
	ch := make(chan outcome, 1)
	err := d.call(ctx, func(r *core.Replica) {
		id, err := start(r)
		if err != nil {
			ch <- outcome{err: err}
			return
		}
		d.waiters[id] = ch
	})
	if err != nil {
		return outcome{}, err
	}
	select {
	case out := <-ch:
		if out.err != nil {
			return out, out.err
		}
		return out, out.res.Err
	case <-ctx.Done():
		return outcome{}, ctx.Err()
	}
}

// Write commits one transaction's mutations at req.ReadPosition+1 and
// returns the position; core.ErrConflict means rerun the transaction.
func (d *Driver) Write(ctx context.Context, req core.WriteRequest) (core.Position, error) {
	out, err := d.await(ctx, func(r *core.Replica) (id core.RequestID, err error) {
		err = d.loaded(req.Group, func() error { id, err = r.ProposeWrite(req); return err })
		return id, err
	})
	return out.res.Position, err
}

// Read performs a read and returns the position read at and the values.
func (d *Driver) Read(ctx context.Context, req core.ReadRequest) (ReadResult, error) {
	out, err := d.await(ctx, func(r *core.Replica) (id core.RequestID, err error) {
		err = d.loaded(req.Group, func() error { id, err = r.Read(req); return err })
		return id, err
	})
	if err != nil {
		return ReadResult{}, err
	}
	return ReadResult{Position: out.res.Position, Values: out.values, Rows: out.rows, More: out.more}, nil
}

// Log returns the entries this site knows committed in group, from position
// from to position to inclusive, stopping at the first one it does not know
// and after max entries. Positions the log is truncated through are
// compacted away: asking from one of them is core.ErrTruncated.
func (d *Driver) Log(ctx context.Context, group core.GroupID, from, to core.Position, max int) ([]core.Entry, error) {
	ch := make(chan []core.Entry, 1)
	var loadErr error
	err := d.call(ctx, func(r *core.Replica) {
		var out []core.Entry
		if loadErr = d.hold(group); loadErr != nil {
			ch <- nil
			return
		}
		if t := r.Truncated(group); from <= t {
			loadErr = fmt.Errorf("%w: the log of %q is truncated through %d", core.ErrTruncated, group, t)
			ch <- nil
			return
		}
		for p := from; p <= to && len(out) < max; p++ {
			v, ok := r.Known(group, p)
			if !ok {
				break
			}
			out = append(out, core.Entry{Group: group, Position: p, Value: v})
		}
		ch <- out
	})
	if err != nil {
		return nil, err
	}
	select {
	case out := <-ch:
		return out, loadErr // NB: written before the send on ch
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Status returns the replica's status, read on its goroutine.
func (d *Driver) Status(ctx context.Context) (core.Status, error) {
	ch := make(chan core.Status, 1)
	if err := d.call(ctx, func(r *core.Replica) { ch <- r.Status() }); err != nil {
		return core.Status{}, err
	}
	select {
	case st := <-ch:
		return st, nil
	case <-ctx.Done():
		return core.Status{}, ctx.Err()
	}
}

// MarkCoordinatorDown applies the operator's mark of coordinator c (see
// core.Replica.MarkCoordinatorDown) on the driver's goroutine.
func (d *Driver) MarkCoordinatorDown(ctx context.Context, c core.SiteID, down bool) error {
	ch := make(chan error, 1)
	if err := d.call(ctx, func(r *core.Replica) { ch <- r.MarkCoordinatorDown(c, down) }); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
