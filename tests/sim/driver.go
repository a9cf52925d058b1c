package sim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

// Driver mode (the default; Options.OwnLoop turns it off): every site runs
// the production node.Driver loop (impl/node/driver.go) instead of the
// simulator's own drain: its
// goroutine steps messages, hands over time from a node.ManualClock, and
// persists, sends, applies and completes each Ready in its own order, over
// an in-process transport (the simulated network) and the simulated disk.
// The run stays deterministic because the simulator hands a driver one
// input at a time and then waits, with testing/synctest's Wait (the run is
// inside a bubble, Options.Bubble), until every goroutine is blocked again:
// only one driver ever runs at a time, and what it did is complete when
// Wait returns. Client requests go through Driver.Read and Driver.Write, each on
// a goroutine of its own; their outcomes are taken in request order.
//
// The drivers send and save through the simulator (its network, RNG,
// mapper and site fields), so the simulator touches that state only while
// every goroutine of the bubble is blocked, and hands each input over by a
// channel operation (Deliver, the clock's wake-up, a request goroutine
// started in settle, Stop), which orders what it did before against what
// the driver does next; Wait orders the driver's work before what the
// simulator does after. Nothing in a driver waits on a timer: a goroutine
// woken by fake time has no such edge (golang/go#74352). make test runs
// TestDriverLoop under -race to keep it so.
//
// A crash in driver mode may also come inside a Save (the process dies
// before its Ready is on disk): that Ready's trace is dropped, as nothing
// of it became durable or, with a driver that keeps the persist-before-send
// contract, was sent. A driver that sends first (node.Config.
// TestSendBeforePersist, Options.SendBeforePersist) lets other sites act on
// promises and votes the restarted site never made durable, which trace
// validation rejects. So does one that writes a Ready without fsync,
// sends, and syncs after (TestSyncAfterSend, Options.SyncAfterSend: a
// group commit done wrong), once the crash inside that later Save loses
// what was not synced.
//
// Slow Saves (Options.SlowSaves): a synced Save blocks its driver's
// persister goroutine until the simulator completes it (an evSaveDone
// event, or a crash, which it dies inside). Blocked, it lets Wait return,
// so the simulator goes on handing the driver inputs, which the pipelined
// driver steps into its next Ready meanwhile: still one goroutine of the
// bubble runs at a time.

// driverReport is the outcome of one request made through a driver.
type driverReport struct {
	drv  *node.Driver
	id   core.RequestID // the simulator's own id for the request
	res  core.Result
	read node.ReadResult
}

func (s *Sim) driverMode() bool { return !s.opts.OwnLoop && !s.opts.Manual }

// InBubble is Options.Bubble for a test: the run goes inside a
// testing/synctest bubble of t (several may run at once, from any
// goroutine).
func InBubble(t *testing.T) func(func()) {
	return func(run func()) { synctest.Test(t, func(*testing.T) { run() }) }
}

// settle waits until every driver and request goroutine is blocked, then
// takes the outcomes of the requests that completed (in request order) and
// the crashes that happened inside a Save.
//
// NB: it is also where requests start (request queues them): the
// simulator touches its state (the network, the RNG, the sites) only while
// every such goroutine is blocked, and a request goroutine started before
// the caller's bookkeeping would step the driver, which sends and saves
// through the simulator, beside it.
func (s *Sim) settle() {
	for _, start := range s.starts {
		go start()
	}
	s.starts = nil
	synctest.Wait()
	var reps []driverReport
	for {
		select {
		case r := <-s.reports:
			reps = append(reps, r)
			continue
		default:
		}
		break
	}
	slices.SortFunc(reps, func(a, b driverReport) int { return int(a.id) - int(b.id) })
	for _, st := range s.sites {
		if st.drv != nil && st.died {
			s.logf("%s died inside a Save", st.id)
			s.crash(st)
			continue
		}
		if st.drv != nil && !st.died {
			if err := st.drv.Err(); err != nil {
				// As in the simulator's own loop: the trace of the Ready it
				// stopped at goes to the checkers (an assertion, or a read
				// it could not trace).
				events := st.batch
				st.batch = nil
				s.mapEvents(st, events)
				check := "trace validation"
				if errors.Is(err, core.ErrDivergence) {
					check = checkAssertion
				}
				s.fail(check, "the driver at %s stopped: %v", st.id, err)
			}
		}
	}
	for _, r := range reps {
		st := s.siteOf(r.drv)
		if st == nil {
			continue // a crashed incarnation's request
		}
		r.res.ID = r.id
		if r.res.Op == core.OpRead && r.res.Err == nil && s.procResult(st, r.res, &r.read) {
			continue
		}
		if s.procResult(st, r.res, nil) {
			continue // a write, or a refusal (nothing read)
		}
		var val string
		var rows []string
		if r.res.Op == core.OpRead && r.res.Err == nil {
			if len(r.read.Values) > 0 {
				val = string(r.read.Values[0])
			}
			for _, kv := range r.read.Rows {
				rows = append(rows, string(kv.Value))
			}
		}
		i, ok := st.reqOps[r.id]
		if !ok {
			continue
		}
		delete(st.reqOps, r.id)
		r.res.ID = r.id
		s.finish(st, i, r.res, val, rows)
	}
}

func (s *Sim) siteOf(d *node.Driver) *site {
	for _, st := range s.sites {
		if st.drv == d && d != nil {
			return st
		}
	}
	return nil
}

// startDriver starts st's driver on its storage (loaded already: state).
func (s *Sim) startDriver(st *site) error {
	st.clock = node.NewManualClock()
	st.died, st.batch = false, nil
	d, err := node.Start(node.Config{
		Core:                  s.config(st),
		Storage:               &simStore{s: s, st: st},
		Transport:             simNet{s: s, st: st},
		Clock:                 st.clock,
		WallClock:             func() time.Time { return time.Unix(0, s.now) },
		OnTraceBatch:          func(b node.TraceBatch) { st.batch = append(st.batch, b.Events...) },
		TestSendBeforePersist: s.opts.SendBeforePersist,
		TestSyncAfterSend:     s.opts.SyncAfterSend,
		HeldGroups:            s.opts.HeldGroups,
		PipelineDepth:         s.opts.PipelineDepth,
	})
	if err != nil {
		return err
	}
	st.drv = d
	return nil
}

// stopDriver stops st's driver (a crash: nothing more of it runs).
func (s *Sim) stopDriver(st *site) {
	if st.drv == nil {
		return
	}
	st.drv.Stop()
	st.drv = nil
	s.settle()
}

// request queues a read or a write through st's driver, to start at the
// next settle, and returns the simulator's id for it.
func (s *Sim) request(st *site, read *core.ReadRequest, write *core.WriteRequest) core.RequestID {
	s.nextReq++
	id := core.RequestID(s.nextReq)
	s.noteInput(st)
	d, ctx, reports := st.drv, s.ctx, s.reports
	s.starts = append(s.starts, func() {
		rep := driverReport{drv: d, id: id}
		if write != nil {
			pos, err := d.Write(ctx, *write)
			rep.res = core.Result{Op: core.OpWrite, Group: write.Group, Position: pos, Err: err}
		} else {
			rr, err := d.Read(ctx, *read)
			rep.res = core.Result{Op: core.OpRead, Group: read.Group, Mode: read.Mode, Position: rr.Position, Err: err}
			rep.read = rr
		}
		if errors.Is(rep.res.Err, context.Canceled) {
			return // the run ended
		}
		reports <- rep
	})
	return id
}

// refuseThroughDriver sends a request st must refuse at once and returns
// its error, or a failure if it was not answered at once or made the site
// persist or send anything.
//
// NB: it is asked twice, judged the second time: the driver loads a group
// the first time a request names it (core.GroupStorage), and what the
// replica does on loading (re-apply, catch up) is not the request's doing.
func (s *Sim) refuseThroughDriver(st *site, read *core.ReadRequest, write *core.WriteRequest) (error, bool) {
	// NB: a driver waiting on its disk takes no call (Options.SlowSaves).
	s.flushSite(st)
	if err, _ := s.refuseOnce(st, read, write); err == nil || err.Error() == "not answered at once" {
		return err, false
	}
	return s.refuseOnce(st, read, write)
}

func (s *Sim) refuseOnce(st *site, read *core.ReadRequest, write *core.WriteRequest) (error, bool) {
	saves, sends := st.saves, st.sends
	done := make(chan error, 1)
	d := st.drv
	go func() {
		var err error
		if write != nil {
			_, err = d.Write(s.ctx, *write)
		} else {
			_, err = d.Read(s.ctx, *read)
		}
		done <- err
	}()
	synctest.Wait()
	changed := st.saves != saves || st.sends != sends
	select {
	case err := <-done:
		return err, changed
	default:
		return fmt.Errorf("not answered at once"), changed
	}
}

// noteInput counts an input handed to st's driver while a slow Save of
// it runs (Options.SlowSaves): what the pipelined driver steps ahead of
// its disk.
func (s *Sim) noteInput(st *site) {
	if st.saving != nil {
		st.steppedWhileSaving++
	}
}

// saveDone completes st's slow Save (Options.SlowSaves).
func (s *Sim) saveDone(e *event) {
	st := s.sites[e.site]
	if !st.up || e.gen != st.gen || st.saving == nil || e.index != st.savesBegun {
		return
	}
	if st.paused {
		// NB: a paused process takes no step, its persister included.
		s.schedule(&event{at: s.now + tickUnits, kind: evSaveDone, site: st.idx, gen: st.gen, index: e.index})
		return
	}
	if st.dieAtSaveDone {
		s.crash(st)
		return
	}
	s.logf("save done %s", st.id)
	done := st.saving
	st.saving = nil
	done <- true
	s.settle()
}

// flushSaves lets the slow Saves in progress finish, and those the
// drivers begin after them, before the checks read the sites' storage
// and status (the run is over: no message is delivered any more).
func (s *Sim) flushSaves() {
	for _, st := range s.sites {
		s.flushSite(st)
	}
}

// flushSite completes st's slow Saves at once until its driver begins no
// more (it is handed no input meanwhile).
func (s *Sim) flushSite(st *site) {
	for range 10_000 {
		if st.saving == nil || !st.up {
			return
		}
		s.logf("save done %s (flushed)", st.id)
		if st.dieAtSaveDone {
			// NB: it dies inside its next Save of acceptor state instead.
			st.dieAtSaveDone, st.dieInSave = false, true
		}
		done := st.saving
		st.saving = nil
		done <- true
		s.settle()
	}
	s.fail("simulator", "the driver at %s went on saving with no input", st.id)
}

// simStore is a site's storage as its driver sees it: the simulated disk,
// which may die inside a Save, and where a Save that completes hands the
// Ready's trace to the mapper (so a Ready that died there left no step).
type simStore struct {
	s  *Sim
	st *site
}

func (w *simStore) Load() (core.State, error) {
	state, err := w.st.store.Load()
	if err == nil && w.s.opts.LoseVoteOnRestart && w.st.inc > 1 {
		state = loseHighestVote(state)
	}
	if err == nil && w.s.opts.LoseChosenOnRestart && w.st.inc > 1 {
		state = loseLastApplied(state)
	}
	return state, err
}

func (w *simStore) Save(d core.Durable, sync bool) error {
	st := w.st
	// NB: it dies inside a synced Save, where the time goes (the fsync):
	// a driver that wrote the Ready unsynced and sent its messages first
	// (TestSyncAfterSend) then loses what it wrote.
	slow := w.s.opts.SlowSaves && sync && !d.IsEmpty()
	if st.dieInSave && sync && len(d.Acceptor) > 0 {
		if !slow {
			st.died, st.dieInSave, st.batch = true, false, nil
			return errors.New("sim: the process died inside this Save")
		}
		// NB: slow, it dies when the disk would have finished
		// (saveDone): the driver steps on meanwhile, so it dies with the
		// next Ready built.
		st.dieInSave, st.dieAtSaveDone = false, true
	}
	if slow {
		// NB: the simulator is in synctest.Wait while a driver saves, so
		// this goroutine may schedule; blocked on saving, it lets Wait
		// return, and the simulator goes on (saveDone, or crash).
		s := w.s
		st.savesBegun++
		st.saving = make(chan bool)
		s.schedule(&event{at: s.now + 1 + s.rng.Int64N(tickUnits/2), kind: evSaveDone, site: st.idx,
			gen: st.gen, index: st.savesBegun})
		if !<-st.saving {
			st.batch = nil
			return errors.New("sim: the process died inside this Save")
		}
	}
	st.saves++
	if err := st.store.Save(d, sync); err != nil {
		return err
	}
	w.s.saved(st, d)
	events := st.batch
	st.batch = nil
	w.s.mapEvents(st, events)
	return nil
}

// LoadHardState and LoadGroup make the simulated disk a core.GroupStorage,
// as storage.Pebble is on a real node: the driver starts the replica from
// the hard state alone and loads each group the first time it is named.
func (w *simStore) LoadHardState() (core.HardState, error) { return w.st.store.LoadHardState() }

func (w *simStore) LoadGroup(g core.GroupID) (core.GroupState, error) {
	gs, err := w.st.store.LoadGroup(g)
	if err == nil && w.s.opts.LoseVoteOnRestart && w.st.inc > 1 {
		// NB: the record Load would drop: the highest voted one of all
		// groups.
		var state core.State
		if state, err = w.st.store.Load(); err != nil {
			return gs, err
		}
		type at struct {
			g core.GroupID
			p core.Position
		}
		kept := map[at]bool{}
		for _, a := range loseHighestVote(state).Acceptor {
			kept[at{a.Group, a.Position}] = true
		}
		gs.Acceptor = slices.DeleteFunc(slices.Clone(gs.Acceptor), func(a core.AcceptorRecord) bool {
			return !kept[at{a.Group, a.Position}]
		})
	}
	if err == nil && w.s.opts.LoseChosenOnRestart && w.st.inc > 1 {
		// NB: what Load would drop, if it is this group's.
		var state core.State
		if state, err = w.st.store.Load(); err != nil {
			return gs, err
		}
		broken := loseLastApplied(state)
		if p, ok := broken.Applied[g]; ok && p != state.Applied[g] {
			gs.Applied = p
			gs.Chosen = slices.DeleteFunc(slices.Clone(gs.Chosen), func(e core.Entry) bool { return e.Position == p+1 })
		}
	}
	return gs, err
}

func (w *simStore) Apply(entries []core.Entry) error { return w.st.store.Apply(entries) }
func (w *simStore) Read(g core.GroupID, keys [][]byte, at core.Position) ([][]byte, error) {
	return w.st.store.Read(g, keys, at)
}
func (w *simStore) Scan(g core.GroupID, r core.KeyRange, at core.Position) ([]core.KeyValue, bool, error) {
	return w.st.store.Scan(g, r, at)
}

// Close is the simulator's: a crash keeps the store to clone it.
func (w *simStore) Close() error { return nil }

// simNet is the in-process transport: the simulated network.
type simNet struct {
	s  *Sim
	st *site
}

func (n simNet) Send(to core.SiteID, m core.Message) {
	n.st.sends++
	n.s.send(n.st, m)
}

// view is what mirror agreement reads of a replica.
type view interface {
	Vote(core.GroupID, core.Position) (core.AcceptorRecord, bool)
	Known(core.GroupID, core.Position) (core.Value, bool)
	Truncated(core.GroupID) core.Position
	Status() core.Status
}

// driverView: votes and the committed log as the site's storage holds them
// (a driver persists every Ready before anything else), status from the
// running driver; a group the driver has not loaded yet (core.GroupStorage)
// is as loading it would make it: its storage's, with no coordinator, and
// applied through its known-committed prefix (loading re-applies the
// chosen entries whose unsynced data rows a crash lost, as Restore does).
type driverView struct {
	*core.Replica
	status core.Status
}

func (v driverView) Status() core.Status { return v.status }

// withUnloaded adds to status the groups stored that it lacks.
func withUnloaded(status, stored core.Status) core.Status {
	groups := maps.Clone(status.Groups)
	if groups == nil {
		groups = map[core.GroupID]core.GroupStatus{}
	}
	for g, gs := range stored.Groups {
		if _, ok := groups[g]; !ok {
			gs.Valid, gs.InvPos = false, 0
			gs.Applied = max(gs.Applied, gs.KnownPrefix)
			groups[g] = gs
		}
	}
	status.Groups = groups
	return status
}

// view returns what agreement reads of st (which is up).
func (s *Sim) view(st *site) view {
	if !s.driverMode() {
		return st.rep
	}
	if st.viewCache != nil {
		return st.viewCache
	}
	state, err := st.store.Load()
	if err != nil {
		s.fail("simulator", "load %s: %v", st.id, err)
		return st.rep
	}
	rep, err := core.Restore(s.config(st), state)
	if err != nil {
		s.fail("simulator", "restore %s: %v", st.id, err)
		return st.rep
	}
	status, err := st.drv.Status(s.ctx)
	// NB: the driver drains after the call returned, through the
	// simulator: let it finish first.
	synctest.Wait()
	if err != nil {
		s.fail("simulator", "status of %s: %v", st.id, err)
	}
	st.viewCache = driverView{Replica: rep, status: withUnloaded(status, rep.Status())}
	return st.viewCache
}
