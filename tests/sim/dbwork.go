package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/tests/workloads"
)

// Workloads over impl/db (Options.Workload): each client is a process
// running package db's real code on a goroutine, talking to the simulated
// sites through procSite, an adapter of db's client.Site. Processes and the
// event loop hand control to each other explicitly (one runs at a time), so
// a seed still replays byte for byte: a process runs until it calls the
// site (a read, a write, a backoff sleep), the call becomes a request at
// the process's site (or a timer), and the loop resumes the process with
// the answer once the simulated cluster produced it. Every request goes
// through a simulated replica, so the trace validation covers the
// workload's groups too.
//
// A process's reads fail over to another full site when its site crashed,
// answered unavailable, or missed the client's deadline (reads have no
// effect); a write at a site that crashes is answered node.ErrStopped (an
// unknown outcome), as the in-process driver does. After every client
// stopped and every fault healed, one more process runs the workload's
// Final (drain queues, read final state); then the workload's checker
// judges the history.

// Workload defaults: clients, operations per client.
const (
	defaultClients   = 4
	defaultClientOps = 4
	// finalTicks: time the final phase may take past the usual end.
	finalTicks = 300
	// maxProcFailOvers bounds the fail-overs of one read.
	maxProcFailOvers = 6
	// msPerTick: a backoff of one millisecond waits one tick.
	msPerTick = 1
)

type procKind uint8

const (
	pcRead procKind = iota + 1
	pcWrite
	pcSleep
	pcDone
)

type procCall struct {
	kind  procKind
	read  core.ReadRequest
	write core.WriteRequest
	sleep time.Duration
	panic string
}

type procReply struct {
	res node.ReadResult
	pos core.Position
	err error
}

// proc is one client process of a workload run: a coroutine (iter.Pull)
// that yields its calls to the loop, which resumes it with the answers (a
// direct switch: no scheduler, no other thread).
type proc struct {
	s     *Sim
	idx   int
	final bool
	site  *site
	next  func() (procCall, bool)
	stop  func()
	in    procReply // the answer being handed over
	yield func(procCall) bool
	done  bool

	call    procCall
	waiting bool // a request is in flight at reqSite
	reqSite *site
	reqID   core.RequestID
	reads   int // generation of the newest read (its deadline)
	tries   int // fail-overs of the current call
	reply   *procReply
	started bool
	// finalErr: the final phase's error (set on the process's goroutine,
	// read by the loop after the handoff).
	finalErr string
}

// procSite is the client.Site a process's DB talks to.
type procSite struct{ p *proc }

func (ps procSite) Read(_ context.Context, req core.ReadRequest) (node.ReadResult, error) {
	r := ps.p.do(procCall{kind: pcRead, read: req})
	return r.res, r.err
}

func (ps procSite) Write(_ context.Context, req core.WriteRequest) (core.Position, error) {
	r := ps.p.do(procCall{kind: pcWrite, write: req})
	return r.pos, r.err
}

func (p *proc) sleep(_ context.Context, d time.Duration) error {
	p.do(procCall{kind: pcSleep, sleep: d})
	return nil
}

// errKilled unwinds a process the run ended.
var errKilled = errors.New("sim: process killed at the end of the run")

// do hands a call to the event loop and waits for its answer (on the
// process's coroutine).
func (p *proc) do(c procCall) procReply {
	if !p.yield(c) {
		panic(errKilled) // NB: the run ended; recovered at the coroutine's top
	}
	return p.in
}

// startProcs draws the workload's clients from their own stream (the
// register schedule stays as it was).
func (s *Sim) startWorkload() {
	w, err := workloads.New(s.opts.Workload, s.opts.WorkloadBug)
	if err != nil {
		s.fail("simulator", "%v", err)
		return
	}
	s.work = w
	r := rand.New(rand.NewPCG(s.opts.Seed, 0xdb))
	window := int64(workloadTicks) * tickUnits
	for i := range s.opts.Clients {
		s.newProc(i, false)
		s.schedule(&event{at: tickUnits + r.Int64N(window), kind: evProcStart, index: i})
	}
}

func (s *Sim) newProc(i int, final bool) *proc {
	var full []*site
	for _, st := range s.sites {
		if st.kind == core.Full {
			full = append(full, st)
		}
	}
	p := &proc{s: s, idx: i, final: final, site: full[i%len(full)]}
	s.procs = append(s.procs, p)
	return p
}

// runProc starts process p's goroutine and serves its first call.
func (s *Sim) runProc(p *proc) {
	w := s.work
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], s.opts.Seed)
	binary.LittleEndian.PutUint64(seed[8:], uint64(p.idx))
	d := w.Open(procSite{p}, db.Options{
		Seed: s.opts.Seed<<8 | uint64(p.idx), MaxAttempts: 10,
		BackoffBase: time.Millisecond, BackoffMax: 16 * time.Millisecond,
		Sleep: p.sleep, IDs: rand.NewChaCha8(seed),
	})
	rng := rand.New(rand.NewPCG(s.opts.Seed, 0xdb00+uint64(p.idx)))
	ctx := context.Background()
	body := func() {
		for range s.opts.ClientOps {
			p.sleep(ctx, time.Duration(1+rng.IntN(8))*msPerTick*time.Millisecond)
			w.Op(ctx, d, rng)
		}
	}
	if p.final {
		body = func() {
			if err := w.Final(ctx, d); err != nil {
				p.finalErr = err.Error()
			}
		}
	}
	p.started = true
	p.next, p.stop = iter.Pull(func(yield func(procCall) bool) {
		p.yield = yield
		c := procCall{kind: pcDone}
		func() {
			defer func() {
				if r := recover(); r != nil && r != errKilled {
					c.panic = fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
				}
			}()
			body()
		}()
		yield(c)
	})
	s.logf("proc %d start at %s final=%v", p.idx, p.site.id, p.final)
	s.serveProc(p, s.pull(p))
}

// pull runs p until its next call.
func (s *Sim) pull(p *proc) procCall {
	c, ok := p.next()
	if !ok {
		return procCall{kind: pcDone}
	}
	return c
}

// serveProc handles a call of p (on the loop's goroutine).
func (s *Sim) serveProc(p *proc, c procCall) {
	switch c.kind {
	case pcDone:
		p.done = true
		p.stop()
		if c.panic != "" {
			s.fail("workload", "client %d: %s", p.idx, c.panic)
		}
		if p.finalErr != "" {
			s.fail(s.opts.Workload, "final phase (after every fault healed): %s", p.finalErr)
		}
		s.logf("proc %d done", p.idx)
	case pcSleep:
		p.reply = &procReply{}
		units := c.sleep.Microseconds() * tickUnits / 1000 / msPerTick
		s.schedule(&event{at: s.now + max(units, 1), kind: evProc, index: p.idx})
	default:
		p.call, p.tries = c, 0
		s.issueProc(p)
	}
}

// resumeProc hands p its queued answer and serves its next call.
func (s *Sim) resumeProc(p *proc) {
	if p.done || p.reply == nil {
		return
	}
	p.in = *p.reply
	p.reply = nil
	s.serveProc(p, s.pull(p))
}

// answer queues p's answer; p resumes at an event of its own, never inside
// a drain.
func (s *Sim) answer(p *proc, r procReply) {
	p.waiting = false
	p.reply = &r
	s.schedule(&event{at: s.now, kind: evProc, index: p.idx})
}

func (s *Sim) issueProc(p *proc) {
	st := p.site
	if !st.up {
		if p.call.kind == pcRead {
			s.procFailOver(p)
			return
		}
		s.answer(p, procReply{err: node.ErrStopped})
		return
	}
	if st.paused {
		// NB: the client waits for the paused process.
		s.schedule(&event{at: s.now + tickUnits, kind: evProcRetry, index: p.idx})
		return
	}
	var id core.RequestID
	if s.driverMode() {
		// NB: a refusal comes back as the request's outcome (procResult).
		if p.call.kind == pcRead {
			id = s.request(st, &p.call.read, nil)
		} else {
			id = s.request(st, nil, &p.call.write)
		}
	} else {
		var err error
		if p.call.kind == pcRead {
			id, err = st.rep.Read(p.call.read)
		} else {
			id, err = st.rep.ProposeWrite(p.call.write)
		}
		if err != nil {
			s.answer(p, procReply{err: err})
			return
		}
	}
	p.waiting, p.reqSite, p.reqID = true, st, id
	st.procReqs[id] = p
	if p.call.kind == pcRead {
		p.reads++
		s.schedule(&event{at: s.now + readDeadlineTicks*tickUnits, kind: evProcDeadline, index: p.idx, gen: uint64(p.reads)})
	}
	if s.driverMode() {
		s.settle()
		return
	}
	s.drain(st, input{kind: "proc", req: id})
}

// procFailOver moves p's read to the next full site that is up and asks
// again a tick later (or gives up with the unavailable error).
func (s *Sim) procFailOver(p *proc) {
	p.waiting = false
	p.tries++
	if p.tries > maxProcFailOvers {
		s.answer(p, procReply{err: fmt.Errorf("%w: client %d gave up after %d fail-overs", core.ErrUnavailable, p.idx, maxProcFailOvers)})
		return
	}
	for k := 1; k <= len(s.sites); k++ {
		st := s.sites[(p.site.idx+k)%len(s.sites)]
		if st.kind == core.Full && st.up && !st.paused {
			s.logf("proc %d fails over from %s to %s", p.idx, p.site.id, st.id)
			p.site = st
			break
		}
	}
	s.schedule(&event{at: s.now + tickUnits, kind: evProcRetry, index: p.idx})
}

// procResult answers a request of a process; false if res is no process's.
// In driver mode read is what the driver read from storage; in the own
// loop (nil) the simulator reads it, as the driver would, at the result's
// position.
func (s *Sim) procResult(st *site, res core.Result, read *node.ReadResult) bool {
	p, ok := st.procReqs[res.ID]
	if !ok {
		return false
	}
	delete(st.procReqs, res.ID)
	if !p.waiting || p.reqSite != st || p.reqID != res.ID {
		return true
	}
	if res.Op == core.OpWrite {
		s.answer(p, procReply{pos: res.Position, err: res.Err})
		return true
	}
	if res.Err != nil {
		if errors.Is(res.Err, core.ErrUnavailable) && res.Mode == core.Current {
			s.procFailOver(p)
			return true
		}
		s.answer(p, procReply{err: res.Err})
		return true
	}
	if read != nil {
		s.answer(p, procReply{res: *read})
		return true
	}
	out := node.ReadResult{Position: res.Position}
	var err error
	out.Values, err = st.store.Read(res.Group, res.Keys, res.Position)
	if err == nil && res.Range != nil {
		out.Rows, out.More, err = st.store.Scan(res.Group, *res.Range, res.Position)
	}
	if err != nil {
		s.fail("simulator", "storage read at %s for client %d: %v", st.id, p.idx, err)
		return true
	}
	s.answer(p, procReply{res: out})
	return true
}

// procsCrashed answers the processes waiting at a crashed site.
func (s *Sim) procsCrashed(st *site) {
	for _, p := range s.procs {
		if !p.waiting || p.reqSite != st {
			continue
		}
		if p.call.kind == pcRead {
			s.procFailOver(p)
		} else {
			s.answer(p, procReply{err: node.ErrStopped})
		}
	}
}

// procDeadline fires the client's deadline of p's gen-th read.
func (s *Sim) procDeadline(p *proc, gen uint64) {
	if p.done || !p.waiting || p.call.kind != pcRead || uint64(p.reads) != gen {
		return
	}
	if p.reqSite.paused {
		s.schedule(&event{at: s.now + tickUnits, kind: evProcDeadline, index: p.idx, gen: gen})
		return
	}
	delete(p.reqSite.procReqs, p.reqID)
	s.logf("proc %d: read at %s past its deadline", p.idx, p.reqSite.id)
	s.procFailOver(p)
}

// procsIdle: every client stopped (the final process aside).
func (s *Sim) procsIdle() bool {
	for _, p := range s.procs {
		if !p.final && !p.done {
			return false
		}
	}
	return true
}

// maybeFinal starts the final process once every client stopped and every
// fault healed.
func (s *Sim) maybeFinal() {
	if s.work == nil || s.finalStarted || s.now <= int64(workloadTicks)*tickUnits || !s.procsIdle() {
		return
	}
	for _, l := range s.cut {
		if l > 0 {
			return
		}
	}
	for _, st := range s.sites {
		if !st.up || st.paused {
			return
		}
	}
	s.finalStarted = true
	p := s.newProc(len(s.procs), true)
	s.runProc(p)
}

// killProcs ends every process still running (the run is over).
func (s *Sim) killProcs() {
	for _, p := range s.procs {
		if p.done || !p.started {
			continue
		}
		p.done = true
		p.stop()
	}
}
