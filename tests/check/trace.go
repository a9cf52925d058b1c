package check

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/megastore-verified/megastore/spec"
)

// Deviation classes: implementation steps that are not one-for-one steps
// of Megastore.tla because the spec abstracts messages away. Each is
// handled in the one way written here, counted, and reported; none is
// dropped silently.
const (
	// A writer waited out the lease of a coordinator whose vote or
	// invalidation ack it never received: the spec already counts that site
	// in acks or inval, so the step changes nothing the spec holds (inval
	// maps to the sites resolved without a vote the writer heard): a
	// stuttering step.
	DevWaitOutLeaseStutter = "WaitOutLease of a site already in acks or inval (its reply was lost): a stutter"
	// WaitOutLease while the mirror's coordinator holds a lease again (it
	// regained one in a new epoch, every group invalid): stepped just
	// before that RegainLease, where the spec enables it.
	DevWaitOutLeaseMoved = "WaitOutLease after the coordinator regained a lease: moved before that RegainLease"
	// A restarted site re-applies positions it had applied (unsynced data
	// rows were lost): a stutter, the value is checked.
	DevRelearn = "re-apply after restart: stutter, value checked"
	// A write answered at once without a proposal (ErrConflict).
	DevBeginWithoutProposal = "BeginWrite answered without a proposal (position known or taken): no spec proposer"
	// ReadFindPos taken where a quorum's view in the mirror equals what
	// the responders reported (their answers reflect different moments;
	// the step only changes the reader, so it commutes with every step of
	// other processes between ReadBegin and the implementation's step).
	DevFindPosEarly = "ReadFindPos taken earlier, where a quorum's view equals the responders' answers"
	// A lease that ran out while its site was paused, noticed on resume,
	// taken where the pause began (the site took no step in between).
	DevPausedLease = "LoseLease noticed after a pause, taken where the pause began"
	// A crash is the spec's Restart, which drops the proposals in flight at
	// the site with their messages, bar Prepare and Accept requests; the
	// implementation's fast-path request to the leader and its
	// invalidations may still arrive (AcceptLeader, Invalidate). In a group
	// where one of those comes after the crash, the crash is taken as it
	// was before Restart existed: the lease lost (a crashed writer is one
	// that takes no further step; the next regain invalidates every group).
	// The mirror then keeps the site's whole applied log, where the site
	// may have lost what it learned after its last sync: it learns it
	// again (DevRelearn), and the simulator's mirror agreement accepts its
	// log as a prefix of the mirror's meanwhile.
	DevCrashAsLeaseLoss = "crash taken as LoseLease: a message of a proposal it lost arrives after it (AcceptLeader, Invalidate)"
	// Not a deviation, counted beside them so that a run shows it
	// happening: a restart lost the chosen records its site learned after
	// its last sync, and the spec's Restart keeps that much less of the
	// group's applied log.
	DevRestartKeptPrefix = "restart lost learned entries after its last sync: Restart keeps a prefix of the applied log (a spec step, counted)"
	// The run outgrew the mirror's state encoding (32 positions, 31 writes,
	// 64 (ballot, value) pairs voted for, 100 ballots or epochs per group):
	// the group's validation stops there.
	DevBudget = "STOP: beyond the mirror's encoding bounds"
)

// Result is the outcome of trace validation of one run.
type Result struct {
	Failure    string // "" when every step validated and no invariant broke
	Check      string // "trace validation" or "invariant <Name>"
	Group      string
	Steps      int            // spec-level steps derived from the trace
	Validated  int            // of which the mirror took or checked
	Deviations map[string]int // class -> count
	Context    []string       // the steps leading to the failure
	// Fail is the failing step with the mirrored state around it (nil
	// when validation passed or failed before any step).
	Fail *Failing
	// Mirrors are the final mirrored state of each group whose validation
	// ran to the end, and Ballots the spec ballot of each proposer, for
	// tests that compare the implementation's state with the mirror's.
	Mirrors map[string]*spec.Tracer
	Ballots map[string]int
	// EpochBase is, per group and site, what the group's validation
	// subtracted from the run's epochs (see window): the mirror's epoch
	// plus it is the run's.
	EpochBase map[string]map[string]int
	// CrashAsLeaseLoss names, per group, the sites a crash of which that
	// group's validation took as LoseLease (DevCrashAsLeaseLoss): the
	// mirror's coordinator there kept its invPos.
	CrashAsLeaseLoss map[string]map[string]bool
}

// The mirror's encoding bounds per group (spec/config.go): writes (a value
// set is a uint32 with NoOp), (ballot, value) pairs voted for (a vote set
// is a uint64), log positions, ballots and epochs (int8).
const maxWrites, maxVotePairs, maxPositions, maxBallot = 31, 64, 32, 100

// Trace validates run group by group.
func Trace(run Run) Result {
	res := Result{Deviations: map[string]int{}, Mirrors: map[string]*spec.Tracer{}, Ballots: map[string]int{},
		EpochBase: map[string]map[string]int{}, CrashAsLeaseLoss: map[string]map[string]bool{}}
	groups := map[string]bool{}
	for _, s := range run.Steps {
		if s.Group != "" {
			groups[s.Group] = true
		}
	}
	props := map[string]Proposer{}
	for _, p := range run.Proposers {
		props[p.Name] = p
	}
	readers := map[string]Reader{}
	for _, r := range run.Readers {
		readers[r.Name] = r
	}
	idx := indexSteps(run)
	keys := sortedKeys(groups)
	for i, g := range keys {
		if run.Progress != nil {
			run.Progress(i, len(keys))
		}
		steps, base := idx.window(run, g, readers)
		res.EpochBase[g] = base
		v := &validator{run: run, group: g, props: props, readers: readers, res: &res}
		if !v.validate(steps) {
			return res
		}
	}
	return res
}

// SyntheticWindow marks the lease steps that stand, in one group's
// validation, for the lease history before the group's first step.
const SyntheticWindow = "lease state where the group's trace begins"

// window returns the steps that validate group g: its own, and the lease
// steps from its first step on, after a prefix that puts each full site's
// coordinator in the state the lease steps before left it in. Before its
// first step nothing of g exists anywhere, so only the lease state (held or
// not, and whether some regain already invalidated every group) carries
// over; epochs are renumbered from 1 within the window. So a long run's
// groups each fit the mirror's epoch bound, however many leases the run
// lost and regained before them.
func (x *stepIndex) window(run Run, g string, readers map[string]Reader) ([]Step, map[string]int) {
	first := x.group[g][0]
	at := x.leaseAt[g]
	var steps []Step
	base := map[string]int{}
	for _, site := range run.Full {
		l := at[site]
		steps = append(steps, Step{Action: "LoseLease", Site: site, Synthetic: SyntheticWindow})
		if l.epoch >= 1 {
			// A regain before the window left every group invalid here.
			steps = append(steps, Step{Action: "RegainLease", Site: site, Epoch: 1, Synthetic: SyntheticWindow})
			if !l.held {
				steps = append(steps, Step{Action: "LoseLease", Site: site, Synthetic: SyntheticWindow})
			}
			base[site] = l.epoch - 1
		}
	}
	end := len(run.Steps)
	own := x.group[g]
	if run.EndWindows {
		end = own[len(own)-1] + 1
	}
	// The group's own steps and every step of no group (lease steps) in
	// [first, end), in trace order.
	shared := x.noGroup
	j, _ := slices.BinarySearch(shared, first)
	k := 0
	var c *collapser
	if run.CollapseLease {
		c = newCollapser(run.Full, at, g, readers)
	}
	for {
		var i int
		switch {
		case k < len(own) && own[k] < end && (j >= len(shared) || own[k] < shared[j]):
			i = own[k]
			k++
		case j < len(shared) && shared[j] < end:
			i = shared[j]
			j++
		default:
			if c != nil {
				steps = c.flush(steps)
			}
			return steps, base
		}
		s := run.Steps[i]
		if c != nil {
			steps = c.add(steps, s)
			continue
		}
		switch {
		case s.Group == "" && s.Action == "RegainLease":
			s.Epoch -= base[s.Site]
		case s.Group == g && s.Action == "ReadBegin":
			s.Epoch -= base[readers[s.Reader].Site]
		}
		steps = append(steps, s)
	}
}

// collapser shortens the lease steps of one group's window (Run.CollapseLease):
// between two steps of the group, each site's LoseLease and RegainLease
// steps collapse into the fewest that leave the same lease state and, if
// there was a regain, one regain (which invalidates every group, as any
// number of them does). The group's steps see the same lease at every
// step; epochs are renumbered by the regains kept, so a ReadBegin and a
// later Validate compare epochs as before. What this buys: a real-node run
// whose coordinators lose and regain their leases every second (a starved
// two-core machine) has groups whose windows span hundreds of epochs, past
// the mirror's bound of 100, and their steps went unvalidated.
type collapser struct {
	full    []string
	group   string
	readers map[string]Reader
	held    map[string]bool
	kept    map[string]int         // regains kept so far, per site
	epoch   map[string]map[int]int // implementation-mapped epoch -> window epoch
	pending map[string]*leaseRun
}

// leaseRun is a site's lease steps since the group's last step.
type leaseRun struct {
	startHeld, held, regained bool
	lose, regain              Step // the last of each, as the kept step
	epochs                    []int
}

func newCollapser(full []string, at map[string]lease, g string, readers map[string]Reader) *collapser {
	c := &collapser{full: full, group: g, readers: readers, held: map[string]bool{}, kept: map[string]int{},
		epoch: map[string]map[int]int{}, pending: map[string]*leaseRun{}}
	for _, site := range full {
		c.epoch[site] = map[int]int{0: 0}
		if l := at[site]; l.epoch >= 1 {
			c.held[site], c.kept[site], c.epoch[site][l.epoch] = l.held, 1, 1
		}
	}
	return c
}

func (c *collapser) add(steps []Step, s Step) []Step {
	if s.Group == "" && (s.Action == "LoseLease" || s.Action == "RegainLease") {
		r := c.pending[s.Site]
		if r == nil {
			r = &leaseRun{startHeld: c.held[s.Site]}
			c.pending[s.Site] = r
		}
		if s.Action == "LoseLease" {
			r.held, r.lose = false, s
		} else {
			r.held, r.regained, r.regain = true, true, s
			r.epochs = append(r.epochs, s.Epoch)
		}
		c.held[s.Site] = r.held
		return steps
	}
	steps = c.flush(steps)
	if s.Group == "" && s.Action == "Restart" {
		// NB: kept as it is, after the site's lease steps before it: it
		// drops the lease, and what no lease step does (invPos, the
		// proposals and reads in flight).
		c.held[s.Site] = false
	}
	if s.Group == c.group && s.Action == "ReadBegin" {
		// NB: a site's epoch is always one a regain began (in the window
		// or in its prefix) or 0; an unmapped one is left as it is, and the
		// mirror then reports the epoch mismatch.
		if e, ok := c.epoch[c.readers[s.Reader].Site][s.Epoch]; ok {
			s.Epoch = e
		}
	}
	return append(steps, s)
}

// flush emits each site's collapsed lease steps, in the config's order
// (different sites' lease steps commute).
func (c *collapser) flush(steps []Step) []Step {
	for _, site := range c.full {
		r := c.pending[site]
		if r == nil {
			continue
		}
		delete(c.pending, site)
		if !r.regained {
			if r.startHeld && !r.held {
				steps = append(steps, r.lose)
			}
			continue
		}
		if r.startHeld {
			lose := r.lose
			lose.Synthetic = "collapsed: stands for the lease losses before the regain"
			steps = append(steps, lose)
		}
		c.kept[site]++
		// NB: only the last regain's epoch can be current at a later step
		// of the group; the collapsed ones map to an epoch no spec state
		// has, so a reader that names one still fails.
		for _, e := range r.epochs {
			c.epoch[site][e] = -1
		}
		c.epoch[site][r.regain.Epoch] = c.kept[site]
		regain := r.regain
		regain.Epoch = c.kept[site]
		steps = append(steps, regain)
		if !r.held {
			steps = append(steps, r.lose)
		}
	}
	return steps
}

// lease is a coordinator's lease as the steps so far left it.
type lease struct {
	held  bool
	epoch int
}

// stepIndex holds, once per run, what every group's window needs: the
// indexes of each group's steps and of the steps of no group, and the
// lease state where each group's first step is. Computing these per group
// made validating a long real-node run quadratic: a ten-minute run's
// thousands of groups each scanned every step (minutes of silence).
type stepIndex struct {
	group   map[string][]int
	noGroup []int
	leaseAt map[string]map[string]lease
}

func indexSteps(run Run) *stepIndex {
	x := &stepIndex{group: map[string][]int{}, leaseAt: map[string]map[string]lease{}}
	at := map[string]lease{}
	for i, s := range run.Steps {
		if s.Group == "" {
			x.noGroup = append(x.noGroup, i)
			switch s.Action {
			case "LoseLease", "Restart":
				l := at[s.Site]
				l.held = false
				at[s.Site] = l
			case "RegainLease":
				at[s.Site] = lease{held: true, epoch: s.Epoch}
			}
			continue
		}
		if _, seen := x.group[s.Group]; !seen {
			x.leaseAt[s.Group] = maps.Clone(at)
		}
		x.group[s.Group] = append(x.group[s.Group], i)
	}
	return x
}

type validator struct {
	run     Run
	group   string
	props   map[string]Proposer
	readers map[string]Reader
	res     *Result
	t       *spec.Tracer
	ballot  map[string]int // proposer -> spec ballot
	// findPos: the implementation's ReadFindPos of each reader; pending:
	// readers begun whose ReadFindPos the mirror has not taken yet.
	findPos map[string]Step
	pending []string
	fired   map[string]bool
	done    []Step
	// cur is the step being validated, before the mirror's state when it
	// began; event the spec event it tried last, taken whether the mirror
	// took it. A failure report shows them.
	cur    Step
	before spec.State
	event  *spec.Event
	taken  bool
	// k is the index of the step being validated; asLeaseLoss the Restart
	// steps taken as LoseLease (DevCrashAsLeaseLoss).
	k           int
	asLeaseLoss map[int]bool
}

// begin notes that s is about to be validated from the current state.
func (v *validator) begin(s Step) {
	v.cur, v.before, v.event, v.taken = s, v.t.State(), nil, false
}

func (v *validator) fail(check, format string, args ...any) bool {
	v.res.Failure = fmt.Sprintf("group %s: ", v.group) + fmt.Sprintf(format, args...)
	v.res.Check = check
	v.res.Group = v.group
	from := max(0, len(v.done)-60)
	for _, s := range v.done[from:] {
		v.res.Context = append(v.res.Context, s.String())
	}
	if v.t != nil {
		f := &Failing{Group: v.group, Step: v.cur, Taken: v.taken}
		f.Before, f.Omitted = v.t.Focus(v.before, v.focus())
		if v.event != nil {
			f.Event = v.event.String()
			if !v.taken {
				f.Guards = v.t.Why(*v.event)
			}
		}
		if v.taken {
			f.After, _ = v.t.Focus(v.t.State(), v.focus())
		}
		v.res.Fail = f
	}
	return false
}

// focus chooses the proposers and readers a failure report shows: the
// step's own, the other attempts at its position (all begun ones for a step
// without a position), and the reads in progress.
func (v *validator) focus() func(name, phase string, pos int) bool {
	s := v.cur
	at := max(s.Pos, v.props[s.Prop].Pos)
	return func(name, phase string, pos int) bool {
		if name == s.Prop || name == s.Reader {
			return true
		}
		if _, isProp := v.props[name]; isProp {
			return phase != "idle" && (at == 0 || pos == at)
		}
		return phase != "idle" && phase != "done"
	}
}

// budget returns how many of steps fit the mirror's encoding bounds.
func (v *validator) budget(steps []Step) int {
	writes := map[string]bool{}
	seen := map[string]bool{}
	pairs := map[[2]string]bool{}
	ballots := 0
	for k, s := range steps {
		pair, votes := v.votePair(s)
		np := len(pairs)
		if votes && !pairs[pair] {
			np++
		}
		fresh := map[string]bool{}
		value := func(x string) {
			if x != "" && x != spec.NoOp && !writes[x] {
				fresh[x] = true
			}
		}
		pos, nb := max(s.Pos, s.Target), ballots
		if s.Prop != "" && !seen[s.Prop] {
			p := v.props[s.Prop]
			value(p.Value)
			if p.Ballot != 0 {
				nb++
			}
			pos = max(pos, p.Pos)
		}
		value(s.Value)
		w := len(writes) + len(fresh)
		if w > maxWrites || np > maxVotePairs || nb > maxBallot || pos > maxPositions || s.Epoch > 100 {
			return k
		}
		if votes {
			pairs[pair] = true
		}
		for x := range fresh {
			writes[x] = true
		}
		if s.Prop != "" {
			seen[s.Prop] = true
		}
		ballots = nb
	}
	return len(steps)
}

// votePair names the (ballot, value) a voting step adds to a vote set: the
// attempt (ballot 0 for a fast-path one, shared by all) and the value.
func (v *validator) votePair(s Step) ([2]string, bool) {
	p := v.props[s.Prop]
	ballot := p.Name
	if p.Ballot == 0 {
		ballot = "0"
	}
	switch s.Action {
	case "AcceptLeader":
		return [2]string{ballot, p.Value}, true
	case "Accept":
		return [2]string{ballot, s.Value}, true
	}
	return [2]string{}, false
}

// waitOutsBefore maps the index of each RegainLease step to the later
// WaitOutLease steps that the mirror would see while the coordinator holds
// that regained lease (see DevWaitOutLeaseMoved).
func waitOutsBefore(steps []Step) map[int][]int {
	out := map[int][]int{}
	lastRegain := map[string]int{}
	for j, s := range steps {
		switch s.Action {
		case "LoseLease", "Restart":
			delete(lastRegain, s.Site)
		case "RegainLease":
			lastRegain[s.Site] = j
		case "WaitOutLease":
			if k, ok := lastRegain[s.Site]; ok {
				out[k] = append(out[k], j)
			}
		}
	}
	return out
}

// crashesAsLeaseLoss returns the indexes of the Restart steps that one
// group's steps must take as LoseLease (DevCrashAsLeaseLoss): those after
// which an AcceptLeader or Invalidate of an attempt the restarted site began
// before it comes.
func crashesAsLeaseLoss(steps []Step, props map[string]Proposer) map[int]bool {
	out := map[int]bool{}
	began := map[string]int{} // attempt -> index of its first step
	lastRestart := map[string][]int{}
	for j, s := range steps {
		if s.Prop != "" {
			if _, ok := began[s.Prop]; !ok {
				began[s.Prop] = j
			}
		}
		switch s.Action {
		case "Restart":
			lastRestart[s.Site] = append(lastRestart[s.Site], j)
		case "AcceptLeader", "Invalidate":
			p := props[s.Prop]
			for _, k := range lastRestart[p.Site] {
				if began[s.Prop] < k {
					out[k] = true
				}
			}
		}
	}
	return out
}

func (v *validator) config(steps []Step) (*spec.Config, error) {
	c := &spec.Config{
		Name: "Sim", Groups: []string{v.group},
		Full: v.run.Full, Witness: v.run.Witness, ReadOnly: v.run.ReadOnly,
		InitLeader: map[string]string{v.group: v.run.InitLeader},
		MaxPos:     1, MaxEpoch: 1,
		// Any full site may crash: a crash is the spec's Restart.
		Crashable: v.run.Full,
	}
	seenP, seenR := map[string]bool{}, map[string]bool{}
	var attempts []Proposer
	for _, s := range steps {
		c.MaxPos = max(c.MaxPos, s.Pos, s.Target)
		c.MaxEpoch = max(c.MaxEpoch, s.Epoch)
		if s.Prop != "" && !seenP[s.Prop] {
			seenP[s.Prop] = true
			p := v.props[s.Prop]
			c.MaxPos = max(c.MaxPos, p.Pos)
			attempts = append(attempts, p)
		}
		if s.Reader != "" && !seenR[s.Reader] {
			seenR[s.Reader] = true
			r := v.readers[s.Reader]
			c.Readers = append(c.Readers, spec.ReaderConst{Name: r.Name, Site: r.Site, Group: r.Group, Kind: r.Kind})
		}
	}
	// Ballots: order-preserving over the group (so within every position),
	// disjoint across attempts, small.
	ordered := slices.Clone(attempts)
	sort.SliceStable(ordered, func(i, j int) bool {
		a, b := ordered[i], ordered[j]
		if a.Ballot != b.Ballot {
			return a.Ballot < b.Ballot
		}
		if a.Pos != b.Pos {
			return a.Pos < b.Pos
		}
		return a.Name < b.Name
	})
	v.ballot = map[string]int{}
	n := 0
	for _, p := range ordered {
		if p.Ballot != 0 {
			n++
			v.ballot[p.Name] = n
		}
	}
	for _, p := range attempts {
		var bs []int
		if b := v.ballot[p.Name]; b != 0 {
			bs = []int{b}
		}
		c.Proposers = append(c.Proposers, spec.ProposerConst{Name: p.Name, Site: p.Site, Group: p.Group, Value: p.Value, Ballots: bs})
	}
	// Only the pairs the run voted for get a bit in the mirror's vote sets.
	c.VotePairs = []spec.VotePair{}
	for _, s := range steps {
		if _, votes := v.votePair(s); votes {
			p := v.props[s.Prop]
			val := s.Value
			if s.Action == "AcceptLeader" {
				val = p.Value
			}
			vp := spec.VotePair{Ballot: v.ballot[p.Name], Value: val}
			if !slices.Contains(c.VotePairs, vp) {
				c.VotePairs = append(c.VotePairs, vp)
			}
		}
	}
	return c, nil
}

func (v *validator) validate(all []Step) bool {
	n := v.budget(all)
	steps := all[:n]
	v.res.Steps += len(all)
	if n < len(all) {
		v.res.Deviations[DevBudget] += len(all) - n
	}
	c, err := v.config(steps)
	if err != nil {
		return v.fail("trace validation", "config: %v", err)
	}
	v.t, err = spec.NewTracer(c)
	if err != nil {
		return v.fail("trace validation", "config: %v", err)
	}
	v.findPos, v.fired = map[string]Step{}, map[string]bool{}
	for _, s := range steps {
		if s.Action == "ReadFindPos" {
			v.findPos[s.Reader] = s
		}
	}
	early := waitOutsBefore(steps)
	v.asLeaseLoss = crashesAsLeaseLoss(steps, v.props)
	movedWait := map[int]bool{}
	for k, s := range steps {
		if !v.fireFindPos(s) {
			return false
		}
		for _, j := range early[k] {
			w := steps[j]
			if v.t.Step(spec.Event{Action: "WaitOutLease", Args: []any{w.Prop, w.Site}}) == nil {
				movedWait[j] = true
				v.res.Deviations[DevWaitOutLeaseMoved]++
			}
		}
		if movedWait[k] {
			v.done = append(v.done, s)
			v.res.Validated++
			continue
		}
		v.begin(s)
		v.k = k
		ok := v.step(s)
		v.done = append(v.done, s)
		if !ok {
			return false
		}
		v.res.Validated++
		if inv := v.t.Violated(); inv != "" {
			return v.fail("invariant "+inv, "after %s the mirrored state violates %s", s, inv)
		}
	}
	if n == len(all) {
		v.res.Mirrors[v.group] = v.t
		for p, b := range v.ballot {
			v.res.Ballots[p] = b
		}
	}
	return true
}

func (v *validator) do(e spec.Event) error {
	err := v.t.Step(e)
	v.event, v.taken = &e, err == nil
	return err
}

// step takes s; ok is false after a failure; stop names a deviation that
// ends this group's validation.
func (v *validator) step(s Step) bool {
	t := v.t
	failf := func(format string, args ...any) bool {
		return v.fail("trace validation", "%s: "+format, append([]any{s}, args...)...)
	}
	stepErr := func(err error) bool {
		if err != nil {
			return failf("%v", err)
		}
		return true
	}
	p := v.props[s.Prop]
	switch s.Action {
	case ExtDivergence:
		return failf("two values committed at one position")
	case ExtBeginWithoutProposal:
		v.res.Deviations[DevBeginWithoutProposal]++
		return true
	case ExtSnapshotReadAt:
		applied := t.Applied(v.group, s.Site)
		if len(applied) < s.Pos {
			return failf("a snapshot read at %s served position %d, which the spec's %s has not applied (applied %d)", s.Site, s.Pos, s.Site, len(applied))
		}
		var want []string
		for _, x := range applied[:s.Pos] {
			if x != spec.NoOp {
				want = append(want, x)
			}
		}
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(want, s.Result) {
			return failf("the implementation's snapshot read at %d returned %v, the spec's log there holds %v", s.Pos, s.Result, want)
		}
		return true
	case "BeginWrite":
		if p.Value == spec.NoOp {
			// A closer may target any position its site has not applied.
			return stepErr(v.do(spec.Event{Action: "BeginClose", Args: []any{p.Name, p.Pos}}))
		}
		if next := len(t.Applied(v.group, p.Site)) + 1; next != p.Pos {
			return failf("writer at %s targets %d, the spec's next position there is %d", p.Site, p.Pos, next)
		}
		return stepErr(v.do(spec.Event{Action: "BeginWrite", Args: []any{p.Name}}))
	case "Prepare":
		return stepErr(v.do(spec.Event{Action: "Prepare", Args: []any{p.Name, v.ballot[p.Name]}}))
	case "AcceptLeader":
		if l := t.LeaderOf(v.group, p.Site, p.Pos); l != s.Site {
			return failf("the leader of position %d is %q in the spec, %q granted ballot 0", p.Pos, l, s.Site)
		}
		return stepErr(v.do(spec.Event{Action: "AcceptLeader", Args: []any{p.Name}}))
	case ExtProposeFast:
		pr, _, _ := t.Proposer(p.Name)
		if pr.Phase != spec.PhaseAccept || pr.Bal != 0 {
			return failf("fast-path Propose without a ballot-0 grant in the mirror (phase %v)", pr.Phase)
		}
		return true
	case "Promise":
		// A Prepare that arrives after its attempt proposed (or committed)
		// is a Promise step of the spec too: it only raises maxBal.
		return stepErr(v.do(spec.Event{Action: "Promise", Args: []any{p.Name, s.Site}}))
	case "Propose":
		if err := v.do(spec.Event{Action: "Propose", Args: []any{p.Name, s.Quorum}}); err != nil {
			return failf("%v", err)
		}
		if _, val, _ := t.Proposer(p.Name); val != s.Value {
			return failf("the implementation proposes %s, the spec %s from the same quorum", s.Value, val)
		}
		return true
	case "Accept":
		// An Accept that arrives after its attempt committed is an Accept
		// step of the spec too; either way it must carry the attempt's value.
		if _, val, _ := t.Proposer(p.Name); val != s.Value {
			return failf("acceptor %s votes %s, the attempt proposes %s", s.Site, s.Value, val)
		}
		return stepErr(v.do(spec.Event{Action: "Accept", Args: []any{p.Name, s.Site}}))
	case "Invalidate", "WaitOutLease":
		err := v.do(spec.Event{Action: s.Action, Args: []any{p.Name, s.Site}})
		if err == nil {
			return true
		}
		acks, inval := t.ProposerAcks(p.Name)
		switch {
		case s.Action == "WaitOutLease" && (slices.Contains(acks, s.Site) || slices.Contains(inval, s.Site)):
			v.res.Deviations[DevWaitOutLeaseStutter]++
			return true
		}
		return failf("%v (acks %v, inval %v)", err, acks, inval)
	case "Commit":
		if err := v.do(spec.Event{Action: "Commit", Args: []any{p.Name}}); err != nil {
			acks, inval := t.ProposerAcks(p.Name)
			return failf("%v (acks %v, inval %v)", err, acks, inval)
		}
		if _, val, _ := t.Proposer(p.Name); val != s.Value {
			return failf("the implementation commits %s, the spec's attempt holds %s", s.Value, val)
		}
		return true
	case "Learn":
		applied := t.Applied(v.group, s.Site)
		switch {
		case s.Pos <= len(applied):
			if applied[s.Pos-1] != s.Value {
				return failf("%s re-applies %s at %d, it had applied %s", s.Site, s.Value, s.Pos, applied[s.Pos-1])
			}
			v.res.Deviations[DevRelearn]++
			return true
		case s.Pos > len(applied)+1:
			return failf("%s applies %d with %d applied", s.Site, s.Pos, len(applied))
		}
		return stepErr(v.do(spec.Event{Action: "Learn", Args: []any{v.group, s.Site}, Value: s.Value}))
	case "LoseLease":
		if s.Synthetic == SyntheticPausedLease {
			v.res.Deviations[DevPausedLease]++
		}
		return stepErr(v.do(spec.Event{Action: "LoseLease", Args: []any{s.Site}}))
	case "Restart":
		if v.asLeaseLoss[v.k] {
			v.res.Deviations[DevCrashAsLeaseLoss]++
			if v.res.CrashAsLeaseLoss[v.group] == nil {
				v.res.CrashAsLeaseLoss[v.group] = map[string]bool{}
			}
			v.res.CrashAsLeaseLoss[v.group][s.Site] = true
			// NB: Crash regains a lost lease just before Restart, so the
			// mirror's coordinator holds one here.
			return stepErr(v.do(spec.Event{Action: "LoseLease", Args: []any{s.Site}}))
		}
		// The applied log keeps what the restarted site still knew
		// committed (Keep), at most what the mirror had applied (a last
		// Ready's Learn the restart found lost was dropped before).
		args := []any{s.Site}
		if k, ok := s.Keep[v.group]; ok {
			n := len(t.Applied(v.group, s.Site))
			if k < n {
				v.res.Deviations[DevRestartKeptPrefix]++
			}
			args = append(args, map[string]int{v.group: min(k, n)})
		}
		return stepErr(v.do(spec.Event{Action: "Restart", Args: args}))
	case "RegainLease":
		if err := v.do(spec.Event{Action: "RegainLease", Args: []any{s.Site}}); err != nil {
			return failf("%v", err)
		}
		if _, _, e, _ := t.Coordinator(v.group, s.Site); e != s.Epoch {
			return failf("epoch %d in the spec, %d in the implementation", e, s.Epoch)
		}
		return true
	case "ReadBegin":
		r := v.readers[s.Reader]
		valid, _, e, lease := t.Coordinator(v.group, r.Site)
		if e != s.Epoch {
			return failf("reader sees epoch %d, the spec's is %d", s.Epoch, e)
		}
		if s.Flag && !(valid && lease) {
			return failf("the implementation reads locally at %s; the spec's coordinator there is not valid (coordValid %v, lease %v)", r.Site, valid, lease)
		}
		if err := v.do(spec.Event{Action: "ReadBegin", Args: []any{s.Reader}}); err != nil {
			return failf("%v", err)
		}
		if _, ok := v.findPos[s.Reader]; ok {
			v.pending = append(v.pending, s.Reader)
		}
		return true
	case "ReadLocal":
		// Whatever the mirror says, the implementation's result must hold
		// every write acknowledged or observed when the read began.
		for _, w := range t.ReaderMustSee(s.Reader) {
			if !slices.Contains(s.Result, w) {
				return failf("the local read misses %s, acknowledged or observed before it began (result %v)", w, s.Result)
			}
		}
		if err := v.do(spec.Event{Action: "ReadLocal", Args: []any{s.Reader}}); err != nil {
			return failf("%v", err)
		}
		if got := t.ReaderResult(s.Reader); !slices.Equal(got, s.Result) {
			return failf("the implementation's local read returned %v, the spec's %v", s.Result, got)
		}
		return true
	case "ReadFindPos":
		if v.fired[s.Reader] {
			v.res.Deviations[DevFindPosEarly]++
			return true
		}
		v.pending = slices.DeleteFunc(v.pending, func(r string) bool { return r == s.Reader })
		q := v.pickQuorum(s)
		return stepErr(v.do(spec.Event{Action: "ReadFindPos", Args: []any{s.Reader, q}}))
	case "ReadCatchUp":
		if err := v.do(spec.Event{Action: "ReadCatchUp", Args: []any{s.Reader}}); err != nil {
			return failf("%v", err)
		}
		rs, _ := t.Reader(s.Reader)
		if int(rs.Target) != s.Target {
			return failf("the implementation reads at %d, the spec's reader at %d", s.Target, rs.Target)
		}
		if got := t.ReaderResult(s.Reader); !slices.Equal(got, s.Result) {
			return failf("the implementation read %v at %d, the spec %v", s.Result, s.Target, got)
		}
		return true
	case "Validate":
		r := v.readers[s.Reader]
		rs, _ := t.Reader(s.Reader)
		_, invPos, e, _ := t.Coordinator(v.group, r.Site)
		guard := e == int(rs.Epoch) && int(rs.Target) >= invPos
		if s.Flag != guard {
			return failf("the implementation's validation applied: %v, the spec's: %v (reader epoch %d, coordinator epoch %d, target %d, invPos %d)",
				s.Flag, guard, rs.Epoch, e, rs.Target, invPos)
		}
		return stepErr(v.do(spec.Event{Action: "Validate", Args: []any{s.Reader}}))
	case "SnapshotRead":
		if err := v.do(spec.Event{Action: "SnapshotRead", Args: []any{s.Reader}}); err != nil {
			return failf("%v", err)
		}
		if got := t.ReaderResult(s.Reader); !slices.Equal(got, s.Result) {
			return failf("the implementation's snapshot read returned %v, the spec's %v", s.Result, got)
		}
		return true
	}
	return failf("no mapping for action %q", s.Action)
}

// fireFindPos takes, just before next, the ReadFindPos of every pending
// reader for which some quorum's view in the mirror equals the
// implementation's target now but would not after next (a vote above it).
// Views only grow, so this is the last moment the step is possible.
func (v *validator) fireFindPos(next Step) bool {
	if next.Action != "Accept" && next.Action != "AcceptLeader" {
		return true
	}
	keep := v.pending[:0]
	for _, r := range v.pending {
		s := v.findPos[r]
		q := v.pickQuorum(s)
		if v.quorumTarget(q) != s.Target || v.survives(s.Target, next) {
			keep = append(keep, r)
			continue
		}
		v.begin(s)
		if err := v.do(spec.Event{Action: "ReadFindPos", Args: []any{r, q}}); err != nil {
			return v.fail("trace validation", "%s (taken early): %v", s, err)
		}
		v.fired[r] = true
	}
	v.pending = keep
	return true
}

// survives reports whether some quorum's view still equals target after a
// vote of next.Site at next.Pos.
func (v *validator) survives(target int, next Step) bool {
	for _, q := range v.t.Quorums() {
		m := v.quorumTarget(q)
		if slices.Contains(q, next.Site) {
			m = max(m, next.Pos)
		}
		if m == target {
			return true
		}
	}
	return false
}

func (v *validator) quorumTarget(q []string) int {
	m := 0
	for _, a := range q {
		m = max(m, v.t.MaxVoted(v.group, a))
	}
	return m
}

// pickQuorum chooses the quorum whose highest voted position in the mirror
// equals the implementation's target, preferring the sites that answered;
// otherwise the highest below it; otherwise the responders (the spec's
// ReadFindPos takes any quorum: which one answered first is the choice).
func (v *validator) pickQuorum(s Step) []string {
	resp := slices.Clone(s.Quorum)
	slices.Sort(resp)
	target := v.quorumTarget
	if v.t.HasQuorum(resp) {
		var voters []string
		for _, a := range resp {
			if !slices.Contains(v.run.ReadOnly, a) {
				voters = append(voters, a)
			}
		}
		if target(voters) == s.Target && v.isQuorum(voters) {
			return voters
		}
	}
	best, bestT := []string(nil), -1
	for _, q := range v.t.Quorums() {
		tq := target(q)
		if tq == s.Target {
			return q
		}
		if tq < s.Target && tq > bestT {
			best, bestT = q, tq
		}
	}
	if best != nil {
		return best
	}
	return resp
}

func (v *validator) isQuorum(sites []string) bool {
	key := strings.Join(sites, ",")
	for _, q := range v.t.Quorums() {
		if strings.Join(q, ",") == key {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
