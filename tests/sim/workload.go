package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/tests/check"
)

const (
	workloadTicks = 80  // ops and faults start within this many ticks
	settleTicks   = 250 // then everything heals; the run ends at most this much later
	maxAttempts   = 5   // a transaction reruns at most this often
)

var key = []byte("k")

type opKind uint8

const (
	opWrite   opKind = iota + 1 // read-modify-write transaction
	opRead                      // current read
	opSnap                      // snapshot read and scan
	opIncons                    // inconsistent read
	opRefused                   // a request the site must refuse (witness, read-only)
	opSnapAt                    // snapshot read and scan at a position the client names
)

type opState uint8

const (
	opPending opState = iota
	opRunning
	opDone    // returned: ok
	opNoEff   // finished without effect (conflicts, refused): not in the history
	opUnknown // may or may not have taken effect
)

type op struct {
	kind  opKind
	group core.GroupID
	at    int64
	pick  uint64 // chooses the site among those up at start
	value string

	state    opState
	site     *site
	inc      uint64
	attempts int
	// reads counts the op's current reads; readReq is the newest one's
	// request (the client's deadline applies to it).
	reads   int
	readReq core.RequestID
	// failedOver counts the times a current read that could not complete
	// at the op's site moved the op to another full site (§4.6.2: the
	// client library picks another replica).
	failedOver int
	writing    bool
	call       int64
	ret        int64
	out        string   // the value read (the transaction's read, for writes)
	rows       []string // a snapshot's scan of the written-rows range
	pos        core.Position
	// named: the position a snapshot read at a position asks for.
	named core.Position
}

// rowPrefix: every write also writes the row rowPrefix+value, so a scan of
// the prefix lists the writes a state holds.
const rowPrefix = "w/"

var rowRange = core.KeyRange{Start: []byte(rowPrefix), End: []byte("w0"), Limit: 100}

type fault struct {
	at, dur int64
	crash   int      // site index, for a crash
	links   [][2]int // directed links a partition cuts
	isCrash bool
	isPause bool // the site (crash field) stops: no ticks, messages wait
	// isOperator: an operator marks the coordinator of the site (crash
	// field) down at every site up, and up again at the heal.
	isOperator bool
}

// Fault is one schedule item: a crash-restart of Site, or a partition
// cutting Links (directed pairs of site indices), from AtTick for ForTicks.
type Fault struct {
	AtTick, ForTicks int
	Crash            bool
	Pause            bool
	Site             int
	Links            [][2]int
}

func (f Fault) String() string {
	if f.Crash {
		return fmt.Sprintf("crash site %d at tick %d for %d ticks", f.Site, f.AtTick, f.ForTicks)
	}
	if f.Pause {
		return fmt.Sprintf("pause site %d at tick %d for %d ticks", f.Site, f.AtTick, f.ForTicks)
	}
	return fmt.Sprintf("cut %v at tick %d for %d ticks", f.Links, f.AtTick, f.ForTicks)
}

// generate draws the whole schedule from its own stream, so that omitting
// items (shrinking) leaves the others as they were.
func (s *Sim) generate() {
	r := rand.New(rand.NewPCG(s.opts.Seed, 0x0b5))
	o := s.opts
	window := int64(workloadTicks) * tickUnits
	var ops []*op
	for g := range o.Groups {
		if o.Workload != "" {
			break // NB: a workload over impl/db replaces the register ops
		}
		gid := core.GroupID(fmt.Sprintf("g%d", g))
		for _, n := range []struct {
			k opKind
			n int
		}{{opWrite, o.Writes}, {opRead, o.Reads}, {opSnap, o.Snapshots}} {
			for range n.n {
				ops = append(ops, &op{kind: n.k, group: gid, at: tickUnits + r.Int64N(window), pick: r.Uint64()})
			}
		}
	}
	for i, p := range ops {
		p.value = fmt.Sprintf("%s.v%d", p.group, i)
		if !slices.Contains(o.OmitOps, i) && !o.Manual {
			s.schedule(&event{at: p.at, kind: evOp, index: i})
		}
	}
	s.ops = ops
	n := len(s.sites)
	if o.Faults != nil {
		for _, f := range o.Faults {
			s.faults = append(s.faults, fault{at: int64(f.AtTick) * tickUnits, dur: int64(max(f.ForTicks, 1)) * tickUnits,
				crash: f.Site % n, links: f.Links, isCrash: f.Crash, isPause: f.Pause && !f.Crash})
		}
		o.Partitions, o.Crashes, o.OperatorDowns = 0, 0, 0
	}
	// NB: the long-delay profile has a fourth shape; the others draw from
	// three, so their seeds run as they did.
	shapes := 3
	if o.LongDelayTicks > clockSkewTicks {
		shapes = 4
	}
	for range o.Partitions {
		f := fault{at: tickUnits + r.Int64N(window), dur: int64(5+r.IntN(50)) * tickUnits}
		switch r.IntN(shapes) {
		case 3: // one site heard by none and deaf to some: late messages
			// from the others still reach it, so a lease grant that
			// arrives long after it was asked for is what it lives on,
			// while a writer it cannot hear waits its lease out
			x := r.IntN(n)
			for y := range n {
				if y != x {
					f.links = append(f.links, [2]int{x, y})
					if r.IntN(2) == 0 {
						f.links = append(f.links, [2]int{y, x})
					}
				}
			}
			// Long enough for a writer to give up invalidating it and
			// wait out its lease (about 60 ticks).
			f.dur = int64(60+r.IntN(60)) * tickUnits
		case 0: // isolate one site both ways
			x := r.IntN(n)
			for y := range n {
				if y != x {
					f.links = append(f.links, [2]int{x, y}, [2]int{y, x})
				}
			}
		case 1: // split in two
			side := make([]bool, n)
			for i := range side {
				side[i] = r.IntN(2) == 0
			}
			for x := range n {
				for y := range n {
					if side[x] != side[y] {
						f.links = append(f.links, [2]int{x, y})
					}
				}
			}
		default: // any directed links, often asymmetric
			for x := range n {
				for y := range n {
					if x != y && r.IntN(10) < 3 {
						f.links = append(f.links, [2]int{x, y})
					}
				}
			}
		}
		s.faults = append(s.faults, f)
	}
	for range o.Crashes {
		s.faults = append(s.faults, fault{at: tickUnits + r.Int64N(window), dur: int64(3+r.IntN(40)) * tickUnits,
			crash: r.IntN(n), isCrash: true})
	}
	// NB: drawn after the others, so adding pauses left every earlier
	// schedule as it was.
	for range o.Pauses {
		s.faults = append(s.faults, fault{at: tickUnits + r.Int64N(window), dur: int64(3+r.IntN(50)) * tickUnits,
			crash: r.IntN(n), isPause: true})
	}
	// NB: drawn after the faults, like pauses, so every earlier schedule
	// stays as it was.
	for g := range o.Groups {
		if o.Workload != "" {
			break
		}
		gid := core.GroupID(fmt.Sprintf("g%d", g))
		for _, n := range []struct {
			k opKind
			n int
		}{{opIncons, o.Inconsistent}, {opRefused, o.Refused}} {
			for range n.n {
				i := len(s.ops)
				p := &op{kind: n.k, group: gid, at: tickUnits + r.Int64N(window), pick: r.Uint64(),
					value: fmt.Sprintf("%s.v%d", gid, i)}
				s.ops = append(s.ops, p)
				if !slices.Contains(o.OmitOps, i) && !o.Manual {
					s.schedule(&event{at: p.at, kind: evOp, index: i})
				}
			}
		}
	}
	// NB: drawn last, so every earlier schedule stays as it was.
	var full []int
	for i, st := range s.sites {
		if st.kind == core.Full {
			full = append(full, i)
		}
	}
	for range o.OperatorDowns {
		s.faults = append(s.faults, fault{at: tickUnits + r.Int64N(window), dur: int64(10+r.IntN(60)) * tickUnits,
			crash: full[r.IntN(len(full))], isOperator: true})
	}
	// NB: drawn after everything else, so every earlier schedule stays as
	// it was.
	for g := range o.Groups {
		gid := core.GroupID(fmt.Sprintf("g%d", g))
		for range o.SnapshotsAt {
			i := len(s.ops)
			p := &op{kind: opSnapAt, group: gid, at: tickUnits + r.Int64N(window), pick: r.Uint64(),
				value: fmt.Sprintf("%s.v%d", gid, i)}
			s.ops = append(s.ops, p)
			if !slices.Contains(o.OmitOps, i) && !o.Manual {
				s.schedule(&event{at: p.at, kind: evOp, index: i})
			}
		}
	}
	for i, f := range s.faults {
		if !slices.Contains(o.OmitFaults, i) {
			s.schedule(&event{at: f.at, kind: evFault, index: i})
			s.schedule(&event{at: f.at + f.dur, kind: evFault, index: i, heal: true})
		}
	}
}

func (s *Sim) fault(e *event) {
	f := s.faults[e.index]
	if f.isOperator {
		// The operator reaches the sites that are up and not paused; the
		// others miss the mark (as an HTTP request to them would fail).
		target := s.sites[f.crash].id
		s.logf("operator marks coordinator %s down=%v", target, !e.heal)
		for _, st := range s.sites {
			if !st.up || st.paused {
				continue
			}
			// NB: set before the mark reaches the site: in driver mode the
			// driver goes on (serving reads, tracing them) once the call
			// returned; and no read it serves before taking the call may
			// be local either way, since every site is settled.
			// NB: with slow Saves (Options.SlowSaves), finish them first: a
			// local read stepped before the mark is traced when its Ready
			// is saved, and a driver waiting on its disk (PipelineDepth 1,
			// or a truncation behind earlier Readies) takes no call.
			s.flushSite(st)
			if st.id == target {
				st.markedDown = !e.heal
			}
			var err error
			if s.driverMode() {
				err = st.drv.MarkCoordinatorDown(s.ctx, target, !e.heal)
				s.settle()
			} else {
				err = st.rep.MarkCoordinatorDown(target, !e.heal)
			}
			if err != nil {
				s.fail("simulator", "operator mark at %s: %v", st.id, err)
				return
			}
			if !s.driverMode() {
				s.drain(st, input{kind: "operator"})
			}
		}
		return
	}
	if f.isPause {
		st := s.sites[f.crash]
		// NB: pauses of one site may overlap: it resumes when the last ends.
		if e.heal {
			if st.pauses > 0 {
				st.pauses--
			}
			if st.pauses == 0 {
				s.resume(st)
			}
		} else if st.up {
			if !st.paused {
				// NB: the pause begins once the driver's slow Saves are
				// done (Options.SlowSaves): a Ready stepped before the
				// pause is traced when saved, and steps mapped after the
				// pause began must not predate it (resume moves the lease
				// loss there).
				s.flushSite(st)
				st.paused, st.pauseStep = true, len(s.mapper.Steps)
				s.logf("pause %s", st.id)
			}
			st.pauses++
		}
		return
	}
	if f.isCrash {
		st := s.sites[f.crash]
		if e.heal {
			if (st.dieInSave || st.dieAtSaveDone) && st.up {
				// It never came to a Save of acceptor state, or is still
				// inside the slow one it dies in: crash it now.
				s.crash(st)
			}
			if !st.up {
				s.start(st)
			}
		} else if s.driverMode() && st.up && s.rng.IntN(2) == 0 {
			// The process dies inside its next Save of a promise or vote.
			st.dieInSave = true
			s.logf("crash %s armed: inside its next Save of acceptor state", st.id)
		} else {
			s.crash(st)
		}
		return
	}
	d := 1
	if e.heal {
		d = -1
	}
	for _, l := range f.links {
		s.cut[l] += d
	}
	s.logf("partition %d heal=%v links=%v", e.index, e.heal, f.links)
}

// quiet: every op finished and every fault healed.
func (s *Sim) quiet() bool {
	for i, o := range s.ops {
		if (o.state == opPending || o.state == opRunning) && !slices.Contains(s.opts.OmitOps, i) {
			return false
		}
	}
	for _, l := range s.cut {
		if l > 0 {
			return false
		}
	}
	for _, st := range s.sites {
		if !st.up || st.paused {
			return false
		}
	}
	for _, p := range s.procs {
		if !p.done {
			return false
		}
	}
	return s.work == nil || s.finalStarted
}

// resume ends a pause the way core/doc.go asks of a driver: the time
// missed first, in one Elapse, then the messages that queued up.
func (s *Sim) resume(st *site) {
	if !st.paused {
		return
	}
	st.paused = false
	s.logf("resume %s missed=%d held=%d", st.id, st.missed, len(st.held))
	start := len(s.mapper.Steps)
	if st.missed > 0 && st.up {
		if s.driverMode() {
			// The driver finds the clock moved on and hands the replica the
			// missed time in one Elapse before anything else.
			st.clock.Advance(uint64(st.missed))
			st.missed = 0
			s.settle()
			// NB: the lease loss is traced when its Ready is saved: with
			// slow Saves (Options.SlowSaves), finish them now so it is
			// found below.
			s.flushSite(st)
		} else {
			st.rep.Elapse(uint64(st.missed))
			st.missed = 0
			s.drain(st, input{kind: "tick"})
		}
	}
	// A lease that ran out during the pause is noticed at once on resume.
	// The spec's LoseLease is the fact, not the noticing: it goes where the
	// pause began. Sound because a paused site takes no step, and only its
	// own steps (ReadLocal, RegainLease) need the lease held; WaitOutLease
	// elsewhere only needs it gone.
	for k := start; k < len(s.mapper.Steps); k++ {
		if x := s.mapper.Steps[k]; x.Action == "LoseLease" && x.Site == string(st.id) {
			x.Synthetic = check.SyntheticPausedLease
			s.mapper.Steps = slices.Insert(slices.Delete(s.mapper.Steps, k, k+1), st.pauseStep, x)
			// NB: the steps in between moved one place on; so did the pause
			// starts recorded among them.
			for _, o := range s.sites {
				if o != st && o.pauseStep > st.pauseStep && o.pauseStep <= k {
					o.pauseStep++
				}
			}
			break
		}
	}
	held := st.held
	st.held = nil
	for _, e := range held {
		s.deliver(e)
	}
}

func (s *Sim) startOp(i int) {
	o := s.ops[i]
	var eligible []*site
	for _, st := range s.sites {
		ok := st.kind == core.Full || ((o.kind == opSnap || o.kind == opSnapAt || o.kind == opIncons) && st.kind == core.ReadOnly)
		if o.kind == opRefused {
			ok = st.kind != core.Full
		}
		if ok && st.up && !st.paused {
			eligible = append(eligible, st)
		}
	}
	if len(eligible) == 0 {
		o.state = opNoEff
		return
	}
	o.site = eligible[o.pick%uint64(len(eligible))]
	o.inc = o.site.inc
	if o.kind == opSnapAt {
		// The newest position the client saw acknowledged, or one past
		// it (a position some sites may have voted for, not applied).
		o.named = max(s.acked[o.group]+core.Position(o.pick>>8&1), 1)
	}
	o.state, o.call = opRunning, s.now
	s.logf("op %d start %v %s at %s", i, o.kind, o.group, o.site.id)
	if o.kind == opRefused {
		s.refuse(i)
		return
	}
	s.issue(i)
}

// refuse sends a request the site's kind rules out and checks that it is
// refused at once, with the sentinel error that says why, and changes
// nothing: no request id, no message, no trace event.
func (s *Sim) refuse(i int) {
	o := s.ops[i]
	st := o.site
	want := core.ErrWitnessNoReads
	if st.kind == core.ReadOnly {
		want = core.ErrReadOnlySite
	}
	read := &core.ReadRequest{Group: o.group, Keys: [][]byte{key}, Mode: core.Current}
	write := &core.WriteRequest{Group: o.group, Mutations: []core.Mutation{{Key: key, Value: []byte(o.value)}}}
	what := "current read"
	if o.pick&1 == 0 {
		write = nil
	} else {
		what, read = "write", nil
	}
	var err error
	var changed bool
	if s.driverMode() {
		err, changed = s.refuseThroughDriver(st, read, write)
	} else {
		before := st.rep.HasReady()
		if read != nil {
			_, err = st.rep.Read(*read)
		} else {
			_, err = st.rep.ProposeWrite(*write)
		}
		changed = st.rep.HasReady() != before
	}
	if bad := refusal(what, st.id, err, want, changed); bad != "" {
		s.fail("client", "%s", bad)
	}
	o.state = opNoEff
}

// refusal judges a request a site must refuse: "" if it was refused with
// want and changed nothing.
func refusal(what string, site core.SiteID, err, want error, changed bool) string {
	switch {
	case !errors.Is(err, want):
		return fmt.Sprintf("%s at %s: got %v, want %v", what, site, err, want)
	case changed:
		return fmt.Sprintf("refused %s at %s left something to do", what, site)
	}
	return ""
}

func (s *Sim) retryOp(i int) {
	o := s.ops[i]
	if o.state == opRunning && o.site.paused {
		// The client waits for the paused process.
		s.schedule(&event{at: s.now + tickUnits, kind: evRetry, index: i})
		return
	}
	if o.state == opRunning && o.site.up && o.site.inc == o.inc {
		s.issue(i)
	}
}

// issue sends the op's next request: a read (current for transactions).
func (s *Sim) issue(i int) {
	o := s.ops[i]
	st := o.site
	req := core.ReadRequest{Group: o.group, Keys: [][]byte{key}, Mode: core.Current}
	switch o.kind {
	case opSnap:
		req.Mode, req.Range = core.Snapshot, &rowRange
	case opIncons:
		req.Mode = core.Inconsistent
	case opSnapAt:
		req.Mode, req.Range, req.Position = core.Snapshot, &rowRange, o.named
	}
	o.writing = false
	var id core.RequestID
	if s.driverMode() {
		id = s.request(st, &req, nil)
	} else {
		var err error
		if id, err = st.rep.Read(req); err != nil {
			s.fail("client", "read refused at %s: %v", st.id, err)
			return
		}
	}
	st.reqOps[id] = i
	if req.Mode == core.Current {
		o.reads++
		o.readReq = id
		s.schedule(&event{at: s.now + readDeadlineTicks*tickUnits, kind: evReadDeadline, index: i, gen: uint64(o.reads)})
	}
	if s.driverMode() {
		s.settle()
		return
	}
	s.drain(st, input{kind: "read", req: id})
}

func (s *Sim) abandon(o *op) {
	if o.state != opRunning {
		return
	}
	if o.kind == opWrite && o.writing {
		o.state = opUnknown
	} else {
		o.state = opNoEff
	}
}

// result hands a completed request to its op.
func (s *Sim) result(st *site, res core.Result) {
	if s.procResult(st, res, nil) {
		return
	}
	i, ok := st.reqOps[res.ID]
	if !ok {
		return
	}
	delete(st.reqOps, res.ID)
	var val string
	var rows []string
	if res.Op == core.OpRead && res.Err == nil {
		vals, err := st.store.Read(res.Group, [][]byte{key}, res.Position)
		if err != nil {
			s.fail("simulator", "storage read at %s: %v", st.id, err)
			return
		}
		val = string(vals[0])
		if res.Range != nil {
			kvs, _, err := st.store.Scan(res.Group, rowRange, res.Position)
			if err != nil {
				s.fail("simulator", "storage scan at %s: %v", st.id, err)
				return
			}
			for _, kv := range kvs {
				rows = append(rows, string(kv.Value))
			}
		}
	}
	s.finish(st, i, res, val, rows)
}

// finish hands op i the outcome of its request at st: for a successful
// read, the key's value and the scanned rows.
func (s *Sim) finish(st *site, i int, res core.Result, val string, rows []string) {
	o := s.ops[i]
	s.logf("result op %d %v pos=%d err=%v", i, res.Op, res.Position, res.Err)
	retry := func() {
		o.attempts++
		if o.attempts >= maxAttempts {
			o.state = opNoEff
			return
		}
		s.schedule(&event{at: s.now + tickUnits, kind: evRetry, index: i})
	}
	if res.Op == core.OpWrite {
		switch {
		case res.Err == nil:
			o.state, o.ret = opDone, s.now
			s.acked[o.group] = max(s.acked[o.group], res.Position)
		case errors.Is(res.Err, core.ErrConflict):
			retry()
		case errors.Is(res.Err, core.ErrNotApplied): // driver mode: refused at once
			o.writing = false
			retry()
		default:
			o.state = opUnknown
		}
		return
	}
	if res.Err != nil {
		if errors.Is(res.Err, core.ErrUnavailable) && res.Mode == core.Current {
			s.failOver(i)
		}
		retry()
		return
	}
	o.out, o.pos = val, res.Position
	if o.kind == opSnap || o.kind == opSnapAt {
		o.rows = append([]string{}, rows...)
	}
	if o.kind != opWrite {
		o.state, o.ret = opDone, s.now
		return
	}
	o.writing = true
	wr := core.WriteRequest{Group: o.group, ReadPosition: res.Position,
		Mutations: []core.Mutation{{Key: key, Value: []byte(o.value)},
			{Key: []byte(rowPrefix + o.value), Value: []byte(o.value)}}}
	if s.driverMode() {
		// NB: a refusal (ErrNotApplied) comes back as the write's outcome.
		st.reqOps[s.request(st, nil, &wr)] = i
		s.settle()
		return
	}
	req, err := st.rep.ProposeWrite(wr)
	if err != nil {
		o.writing = false
		if errors.Is(err, core.ErrNotApplied) {
			retry()
			return
		}
		s.fail("client", "write refused at %s: %v", st.id, err)
		return
	}
	st.reqOps[req] = i
	s.drain(st, input{kind: "write", req: req})
}

// readDeadlineTicks is the client's deadline for one current read: past
// it, the client gives up on the read (the site goes on with it, unheard)
// and fails over.
const readDeadlineTicks = 30

// readDeadline fires a current read's client deadline: if the read (the
// op's gen-th) is still unanswered, the op fails over and retries.
func (s *Sim) readDeadline(i int, gen uint64) {
	o := s.ops[i]
	if o.state != opRunning || o.writing || uint64(o.reads) != gen || o.site.paused {
		return
	}
	if j, ok := o.site.reqOps[o.readReq]; !ok || j != i || o.site.inc != o.inc {
		return
	}
	delete(o.site.reqOps, o.readReq)
	s.logf("op %d: current read at %s past its deadline", i, o.site.id)
	s.failOver(i)
	o.attempts++
	if o.attempts >= maxAttempts {
		o.state = opNoEff
		return
	}
	s.schedule(&event{at: s.now + tickUnits, kind: evRetry, index: i})
}

// failOver moves op i to the next full site that is up, as a client
// library does when its local replica cannot complete a current read
// (cut off from a majority): the paper lets the read, and the transaction
// it begins, go to another replica.
func (s *Sim) failOver(i int) {
	o := s.ops[i]
	for k := 1; k < len(s.sites); k++ {
		st := s.sites[(o.site.idx+k)%len(s.sites)]
		if st.kind == core.Full && st.up && !st.paused {
			s.logf("op %d fails over from %s to %s", i, o.site.id, st.id)
			o.site, o.inc = st, st.inc
			o.failedOver++
			return
		}
	}
}

// OpStats counts how the ops ended.
type OpStats struct {
	Done, NoEffect, Unknown, Never int
	// FailedOver: ops that returned after moving to another site.
	FailedOver int
	// SnapshotsAt: snapshot reads at a named position that returned.
	SnapshotsAt int
}

func (s *Sim) opStats() OpStats {
	var st OpStats
	for _, o := range s.ops {
		switch o.state {
		case opDone:
			st.Done++
			if o.failedOver > 0 {
				st.FailedOver++
			}
			if o.kind == opSnapAt {
				st.SnapshotsAt++
			}
		case opNoEff:
			st.NoEffect++
		case opUnknown:
			st.Unknown++
		default:
			st.Never++
		}
	}
	return st
}

func (s *Sim) history() []check.Op {
	var h []check.Op
	for i, o := range s.ops {
		if o.kind != opWrite && o.kind != opRead {
			continue
		}
		c := check.Op{Client: i, Group: string(o.group), Write: o.kind == opWrite, Value: o.value, Call: o.call}
		switch o.state {
		case opDone:
			c.Out, c.Return = o.out, o.ret
		case opUnknown:
			c.Unknown, c.Return = true, math.MaxInt64
		default:
			continue
		}
		if !c.Write {
			c.Value = ""
		}
		h = append(h, c)
	}
	return h
}

func (s *Sim) snapshots() []check.Snapshot {
	var out []check.Snapshot
	for _, o := range s.ops {
		if (o.kind == opSnap || o.kind == opSnapAt) && o.state == opDone {
			out = append(out, check.Snapshot{Group: string(o.group), Site: string(o.site.id), Pos: int(o.pos), Value: o.out, Rows: o.rows})
		}
	}
	return out
}

func (s *Sim) inconsistent() []check.Snapshot {
	var out []check.Snapshot
	for _, o := range s.ops {
		if o.kind == opIncons && o.state == opDone {
			out = append(out, check.Snapshot{Group: string(o.group), Site: string(o.site.id), Value: o.out})
		}
	}
	return out
}

// chosenLog is, per group, the value of key after each position of the
// log the sites know committed (NB: the trace check has already compared
// what the sites know, position by position).
func (s *Sim) chosenLog() map[string][]check.Entry {
	out := map[string][]check.Entry{}
	for g := range s.opts.Groups {
		gid := core.GroupID(fmt.Sprintf("g%d", g))
		for p := core.Position(1); ; p++ {
			var e *check.Entry
			for _, st := range s.sites {
				if !st.up {
					continue
				}
				v, ok := s.view(st).Known(gid, p)
				if s.opts.RetainPositions > 0 {
					// NB: the sites forget what they truncate; the
					// simulator recorded every chosen entry saved.
					v, ok = s.chosen[gid][p]
				}
				if ok {
					x := check.Entry{Known: true}
					for _, m := range v.Mutations {
						if string(m.Key) == string(key) {
							x.Writes, x.Value = true, string(m.Value)
						}
						if strings.HasPrefix(string(m.Key), rowPrefix) {
							x.Rows = append(x.Rows, string(m.Value))
						}
					}
					e = &x
					break
				}
			}
			if e == nil {
				break
			}
			out[string(gid)] = append(out[string(gid)], *e)
		}
	}
	return out
}
