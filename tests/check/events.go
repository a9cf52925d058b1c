package check

import (
	"fmt"
	"strings"
)

// Step is one spec-level step derived from one implementation trace event
// (or a synthetic step the simulator adds, see Synthetic). Which fields
// matter depends on Action; Origin is the implementation event it came
// from, for reports.
type Step struct {
	Action string // a Megastore.tla action name, or one of the Ext* names below
	Group  string // "" for lease steps, which every group's validator takes
	Prop   string // spec proposer: one ballot attempt of one proposal
	Reader string
	Site   string // acceptor, coordinator, learner or leader
	Pos    int
	Ballot uint64   // the implementation's ballot (0: leader fast path)
	Value  string   // a write's name or spec.NoOp
	Quorum []string // Propose: the promisers heard; ReadFindPos: the responders
	// Target is the implementation's read position (ReadFindPos,
	// ReadCatchUp, ReadLocal); Result the writes it returned.
	Target int
	Result []string
	// Flag: ReadBegin: the implementation trusted its coordinator (local
	// read); Validate: the implementation applied the validation.
	Flag  bool
	Epoch int // RegainLease, ReadBegin: the spec epoch the implementation's maps to
	// Keep: Restart: per group, how many entries of the site's applied
	// log the restart kept (its chosen records are written without
	// fsync, so a crash may lose a suffix); a group it does not name keeps
	// its whole log.
	Keep map[string]int
	// Synthetic says why the simulator added a step no trace event names
	// (initial lease loss, a crash).
	Synthetic string
	Origin    string
	// ID names the step within its run (from 1, in the order the
	// simulator logged the steps), so a failure report can find it in the
	// event log; 0 for a step a validator adds (a group's window start).
	ID int
}

// Actions that are not steps of Megastore.tla but checks the validator
// makes on the way (never state changes).
const (
	// ExtProposeFast is the implementation's Propose after the leader
	// granted ballot 0; the spec folds it into AcceptLeader.
	ExtProposeFast = "ProposeFast"
	// ExtDivergence: a site learned a second value at a known position.
	ExtDivergence = "Divergence"
	// ExtBeginWithoutProposal: BeginWrite answered at once (the position
	// was known, or another local proposal runs there): no spec proposer.
	ExtBeginWithoutProposal = "BeginWithoutProposal"
	// ExtSnapshotReadAt: a snapshot read at a position the client named
	// (a transaction's reads at its read position). The spec's SnapshotRead
	// reads the whole applied log; this one must return the writes of the
	// first Pos entries of its site's applied log in the mirror, and the
	// site must have applied at least that far.
	ExtSnapshotReadAt = "SnapshotReadAt"
)

// SyntheticPausedLease marks a LoseLease a paused site noticed on resume
// (its missed ticks), placed where the pause began.
const SyntheticPausedLease = "lost during a pause: placed at the pause start"

func (s Step) String() string {
	var b strings.Builder
	b.WriteString(s.Action)
	b.WriteString("(")
	var args []string
	add := func(k, v string) {
		if v != "" {
			args = append(args, k+"="+v)
		}
	}
	add("g", s.Group)
	add("p", s.Prop)
	add("r", s.Reader)
	add("site", s.Site)
	if s.Pos != 0 {
		add("pos", fmt.Sprint(s.Pos))
	}
	if s.Ballot != 0 {
		add("bal", fmt.Sprintf("%#x", s.Ballot))
	}
	add("v", s.Value)
	if len(s.Quorum) > 0 {
		add("Q", "{"+strings.Join(s.Quorum, ",")+"}")
	}
	if s.Action == "ReadFindPos" || s.Action == "ReadCatchUp" || s.Action == "ReadLocal" {
		add("target", fmt.Sprint(s.Target))
	}
	if s.Flag {
		add("flag", "true")
	}
	if s.Epoch != 0 {
		add("epoch", fmt.Sprint(s.Epoch))
	}
	if k, ok := s.Keep[s.Group]; ok && s.Group != "" {
		add("keep", fmt.Sprint(k))
	} else if len(s.Keep) > 0 {
		add("keep", fmt.Sprint(s.Keep))
	}
	add("synthetic", s.Synthetic)
	b.WriteString(strings.Join(args, " "))
	b.WriteString(")")
	return b.String()
}

// Proposer describes one spec proposer: one ballot attempt of one
// implementation proposal. Several share a write when it took several
// attempts; no-op closers carry spec.NoOp.
type Proposer struct {
	Name   string
	Site   string
	Group  string
	Value  string
	Ballot uint64 // the implementation's ballot; 0 for the fast-path attempt
	Pos    int
}

// Reader describes one read: current or snapshot.
type Reader struct {
	Name  string
	Site  string
	Group string
	Kind  string // "current" or "snapshot"
}

// Run is everything trace validation needs about one simulated run.
type Run struct {
	Full, Witness, ReadOnly []string
	InitLeader              string
	Proposers               []Proposer
	Readers                 []Reader
	Steps                   []Step
	// EndWindows ends each group's validation at its last step: lease
	// steps after it change nothing a later step of the group could see,
	// so a long run's many short-lived groups are not each replayed to the
	// run's end. The simulator leaves it off: its mirror agreement compares
	// the final lease state of every group's mirror.
	EndWindows bool
	// CollapseLease collapses, in each group's window, the lease steps
	// between two of the group's steps into the fewest with the same
	// effect on the group (see collapser). Real-node validation sets it;
	// the simulator leaves it off (its mirror agreement compares epochs).
	CollapseLease bool
	// Progress, if set, is told before each group is validated (done of
	// total groups): a long real-node run takes a while.
	Progress func(done, total int)
}
