package core

import "fmt"

// Rand is the injected source of randomness (backoff). Seed it: a simulator
// run must be reproducible from its seed. *math/rand/v2.Rand satisfies it.
type Rand interface {
	Uint64() uint64
}

// Bugs are deliberate protocol faults, all off by default. Each breaks exactly
// one step, so a simulator can prove that its checks catch that step going
// wrong. They are honoured only in a build with -tags megastore_bugs
// (BugsCompiled); any other build refuses a Config with one on.
type Bugs struct {
	// SkipInvalidation commits (acknowledges, marks known-committed) right
	// after a majority accepted, without invalidating the coordinators of
	// full sites that did not accept (Invalidate/WaitOutLease skipped).
	SkipInvalidation bool
	// AcceptLowerBallot makes acceptors accept (MsgAccept) at a ballot lower
	// than the one they promised.
	AcceptLowerBallot bool
	// AckBeforeMajorityFsync clears Ready.MustSync for acceptor state, so
	// votes counted toward a majority may be lost in a crash.
	AckBeforeMajorityFsync bool
	// LocalReadWithoutCoordinator makes current reads read locally without
	// asking the coordinator whether the group is valid here.
	LocalReadWithoutCoordinator bool
	// LocalReadAfterLeaseLoss lets the coordinator keep its valid groups, and
	// current reads trust them, after it lost its lease majority.
	LocalReadAfterLeaseLoss bool
	// ValidateWithoutPositionCheck applies a Validate whose position is below
	// the coordinator's last Invalidate (the §4.7.2 position check skipped).
	ValidateWithoutPositionCheck bool
	// ValidateWithoutEpochCheck applies a Validate begun under an older
	// coordinator epoch (the §4.7.2 epoch check skipped).
	ValidateWithoutEpochCheck bool
	// LearnBeforeVisibility sends the chosen value to every site (MsgCommit)
	// at the commit point, before the invalidation step, so other sites learn
	// it before it is visible.
	LearnBeforeVisibility bool
	// GrantBallotZeroTwice lets the leader grant ballot 0 at a position to a
	// second writer, overwriting its first ballot-0 vote.
	GrantBallotZeroTwice bool
	// CatchUpAppliesUnchosen makes catch-up hand out, and learn as committed,
	// values that were merely accepted somewhere.
	CatchUpAppliesUnchosen bool
	// ReadOnlyVotes makes read-only sites answer Prepare/Accept and proposers
	// count their answers toward the majority of voters.
	ReadOnlyVotes bool
	// CoordinatorDownKeepsLease makes a coordinator an operator marked down
	// keep its lease (and serve local reads) until the lease services'
	// refusals run it out.
	CoordinatorDownKeepsLease bool
	// LeaseFromGrantArrival makes a coordinator count a lease grant from the
	// tick the grant ARRIVES rather than from the tick it sent the request:
	// a grant delayed in the network then outlives the service's own view
	// of it by the delay, past what ClockSkewTicks covers.
	LeaseFromGrantArrival bool
	// SnapshotReadAtVotedPosition serves a snapshot read at an explicit
	// position this site voted for but has not applied (instead of
	// ErrNotApplied): the read sees what is applied below it.
	SnapshotReadAtVotedPosition bool
	// MajorityOfDataSites computes the Paxos majority over the sites that
	// hold data (full and read-only) instead of the voters (full and
	// witness): the same number in the default membership (3 full, a
	// witness, a read-only site), too small with two witnesses and no
	// read-only site.
	MajorityOfDataSites bool
	// TruncatedAcceptorVotes makes an acceptor vote afresh at a position
	// it truncated (its vote there forgotten) instead of refusing: a
	// proposer that prepares there finds no vote to adopt, and a second
	// value can be chosen at the position.
	TruncatedAcceptorVotes bool
}

// Config is a replica's configuration. All durations are in ticks.
type Config struct {
	// Self is this replica's site; it must be in Sites.
	Self SiteID
	// Sites is the static membership, identical at every site. A site's index
	// in this slice is its ballot suffix, so the order matters.
	Sites []Site
	// InitialLeader is the leader of position 1 of every group: a voting site.
	InitialLeader SiteID
	// Rand drives backoff; required.
	Rand Rand

	// ProposalTimeoutTicks bounds each Paxos phase before backing off.
	ProposalTimeoutTicks uint64
	// BackoffMaxTicks bounds the random backoff before a new Prepare.
	BackoffMaxTicks uint64
	// MaxRounds bounds the Prepare rounds of one proposal before it fails
	// with ErrUnavailable.
	MaxRounds uint64
	// AcceptGraceTicks is how long a proposer whose value is chosen still
	// waits for the remaining full sites' votes before it invalidates their
	// coordinators: invalidating a site that was merely slow costs that
	// site its local reads until a reader revalidates it.
	AcceptGraceTicks uint64
	// InvalidateTimeoutTicks is how long a writer waits for a coordinator's
	// ack before it waits out that coordinator's lease instead.
	InvalidateTimeoutTicks uint64
	// LeaseDurationTicks is the length of a coordinator lease.
	LeaseDurationTicks uint64
	// LeaseRenewTicks is how often a coordinator renews its leases; it must
	// be well below LeaseDurationTicks.
	LeaseRenewTicks uint64
	// ClockSkewTicks bounds how far two sites' tick counts may drift apart
	// over one lease; writers add it when waiting out a lease.
	ClockSkewTicks uint64
	// ReadTimeoutTicks bounds each phase of a current read.
	ReadTimeoutTicks uint64
	// ScanIntervalTicks is how often the replication-server duty runs.
	ScanIntervalTicks uint64
	// InDoubtTicks is how long a position may stay accepted-but-not-committed
	// before the replication-server duty closes it with a no-op.
	InDoubtTicks uint64

	MaxKeyBytes       int
	MaxValueBytes     int
	MaxMutations      int
	MaxCatchUpEntries int
	MaxInFlight       int
	// MaxScanRows bounds KeyRange.Limit, and the rows of one page of a
	// compacted state in catch-up.
	MaxScanRows int
	// ReadOnlySweepGroups is how many held groups a read-only site asks the
	// full sites about at each scan, beyond those it knows it is behind in
	// (0: DefaultReadOnlySweepGroups). It hears of commits through
	// MsgCommit; the sweep finds the ones it missed, a few groups a scan,
	// so a scan costs the same with a hundred groups held or a million.
	ReadOnlySweepGroups int

	// RetainPositions is how many applied log positions a group keeps
	// (acceptor records, chosen entries, data versions) before it
	// truncates them: once applied - RetainPositions is at least
	// max(1, RetainPositions/4) past the last truncation point, the log is
	// truncated through it (Durable.Truncate), and a site behind it
	// catches up from the compacted state. 0 never truncates (the default
	// here; the trace checks of tests/sim and tests/tracemap need the
	// whole log); the daemon's default is DefaultRetainPositions.
	RetainPositions uint64

	// SyncChosen asks for an fsync of a Ready whose only durable content
	// is chosen records, as before issue #14; off, at full sites and
	// witnesses they ride on the next synced Ready (a promise, a vote, the
	// hard state), and a crash may lose a suffix of each group's learned
	// log, which catch-up learns again (tla/README.md, "What must be
	// durable before what"). Read-only sites sync them either way. Safe
	// either way; for benchmarks that compare the two.
	SyncChosen bool

	// Bugs are test-only fault switches; a build without -tags
	// megastore_bugs refuses any of them (see Bugs).
	Bugs Bugs
}

// DefaultReadOnlySweepGroups is ReadOnlySweepGroups' default.
const DefaultReadOnlySweepGroups = 64

// DefaultRetainPositions is the daemon's RetainPositions: about 10,000
// entries of a group held in memory at most.
const DefaultRetainPositions = 10_000

// MaxSnapshotPageBytes bounds the row bytes of one page of a compacted
// state (Message.Rows), well under the wire's message limit.
const MaxSnapshotPageBytes = 4 << 20

// DefaultConfig returns a Config with sensible tick-based defaults for the
// given membership. Callers must still set Rand.
func DefaultConfig(self SiteID, sites []Site) Config {
	var leader SiteID
	for _, s := range sites {
		if s.Kind == Full {
			leader = s.ID
			break
		}
	}
	return Config{
		Self:                   self,
		Sites:                  sites,
		InitialLeader:          leader,
		ProposalTimeoutTicks:   10,
		BackoffMaxTicks:        5,
		MaxRounds:              50,
		AcceptGraceTicks:       2,
		InvalidateTimeoutTicks: 10,
		LeaseDurationTicks:     40,
		LeaseRenewTicks:        10,
		ClockSkewTicks:         4,
		ReadTimeoutTicks:       10,
		ScanIntervalTicks:      20,
		InDoubtTicks:           40,
		MaxKeyBytes:            1 << 10,
		MaxValueBytes:          1 << 20,
		MaxMutations:           1 << 10,
		MaxCatchUpEntries:      256,
		MaxInFlight:            1 << 12,
		MaxScanRows:            1 << 12,
	}
}

// Validate checks every relationship the protocol relies on.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if err := checkBugs(c.Bugs); err != nil {
		return err
	}
	if len(c.Sites) == 0 || len(c.Sites) > 255 {
		return bad("need 1..255 sites, have %d", len(c.Sites))
	}
	seen := map[SiteID]bool{}
	voters := 0
	self, leader := false, false
	for _, s := range c.Sites {
		if s.ID == "" || seen[s.ID] {
			return bad("empty or duplicate site id %q", s.ID)
		}
		seen[s.ID] = true
		if s.Kind != Full && s.Kind != Witness && s.Kind != ReadOnly {
			return bad("site %q has unknown kind %v", s.ID, s.Kind)
		}
		if s.Kind.Votes() {
			voters++
		}
		self = self || s.ID == c.Self
		leader = leader || (s.ID == c.InitialLeader && s.Kind.Votes())
	}
	switch {
	case voters == 0:
		return bad("no voting site")
	case !self:
		return bad("self %q is not a member", c.Self)
	case !leader:
		return bad("initial leader %q is not a voting member", c.InitialLeader)
	case c.Rand == nil:
		return bad("Rand is nil")
	case c.ProposalTimeoutTicks == 0 || c.BackoffMaxTicks == 0 || c.MaxRounds == 0:
		return bad("proposal timeout, backoff and rounds must be positive")
	case c.InvalidateTimeoutTicks == 0 || c.ReadTimeoutTicks == 0:
		return bad("invalidate and read timeouts must be positive")
	case c.LeaseRenewTicks == 0 || c.LeaseDurationTicks < 2*c.LeaseRenewTicks:
		return bad("lease renew interval %d must be positive and at most half the lease %d",
			c.LeaseRenewTicks, c.LeaseDurationTicks)
	case c.ClockSkewTicks >= c.LeaseDurationTicks:
		return bad("clock skew bound %d must be below the lease duration %d",
			c.ClockSkewTicks, c.LeaseDurationTicks)
	case c.ScanIntervalTicks == 0 || c.InDoubtTicks == 0:
		return bad("scan interval and in-doubt time must be positive")
	case c.MaxKeyBytes <= 0 || c.MaxValueBytes < 0 || c.MaxMutations <= 0 ||
		c.MaxCatchUpEntries <= 0 || c.MaxInFlight <= 0 || c.MaxScanRows <= 0 ||
		c.ReadOnlySweepGroups < 0:
		return bad("size and count limits must be positive")
	}
	return nil
}
