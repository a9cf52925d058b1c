package spec

// The shipped model configs. Each lists (Checks) only the invariants whose
// antecedent it reaches; every invariant is listed by at least one config. Each is rendered to tla/<Name>.tla and
// tla/<Name>.cfg (a test keeps them equal), and each records the number
// of distinct states the mirror finds, which must equal TLC's figure.

// Configs returns fresh copies of every shipped config.
func Configs() []*Config {
	return []*Config{WriteRace(), ReadRace(), Visibility(), ReplicaKinds(), SnapshotReads(), TwoGroups(),
		ConsecutiveWrites(), FiveSites(), Restart(), RestartRead()}
}

// ConfigByName finds a shipped config, TLC's or a deep one.
func ConfigByName(name string) *Config {
	for _, c := range append(Configs(), DeepConfigs()...) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// WriteRace: two writers at two full sites race for one log position,
// with a witness as the third voter; one may take the leader's ballot 0,
// the other prepares with a higher ballot.
func WriteRace() *Config {
	return &Config{
		Name: "MCWriteRace",
		Comment: `Two writers at two full sites race for one log position of one group,
with a witness as the third voter: the fast path through the leader's
ballot 0 against a prepare with a higher ballot, invalidation of the
site that missed the write, lease loss, and catch-up.`,
		Groups: []string{"g1"}, Full: []string{"a", "b"}, Witness: []string{"c"},
		InitLeader: map[string]string{"g1": "a"},
		Checks:     []string{"TypeOK", "AtMostOneChosen", "AppliedIsChosenPrefix", "AckedIsChosen", "AckedAfterInvalidation"},
		MaxPos:     1, MaxEpoch: 0,
		Proposers: []ProposerConst{
			{Name: "p1", Site: "a", Group: "g1", Value: "w1", Ballots: []int{1}},
			{Name: "p2", Site: "b", Group: "g1", Value: "w2", Ballots: []int{2}},
		},
	}
}

// ReadRace: one writer on the fast path and two current readers at the
// site that may miss the write; coordinators may lose their lease and come
// back once in a new epoch.
func ReadRace() *Config {
	return &Config{
		Name: "MCReadRace",
		Comment: `One writer on the fast path and two current readers at the site that
may miss the write: local reads through a valid coordinator, reads that
find the position and catch up, validation racing invalidation, and
coordinators that lose their lease and come back once in a new epoch.
The two readers are interchangeable (SYMMETRY): one state per orbit.`,
		Groups: []string{"g1"}, Full: []string{"a", "b"}, Witness: []string{"c"},
		InitLeader: map[string]string{"g1": "a"},
		Checks:     []string{"TypeOK", "AtMostOneChosen", "AppliedIsChosenPrefix", "AckedIsChosen", "AckedAfterInvalidation", "ReadSeesAcked", "ReadSeesObserved"},
		MaxPos:     1, MaxEpoch: 1,
		Proposers: []ProposerConst{
			{Name: "p1", Site: "a", Group: "g1", Value: "w1", Ballots: []int{}},
		},
		Readers: []ReaderConst{
			{Name: "r1", Site: "b", Group: "g1", Kind: "current"},
			{Name: "r2", Site: "b", Group: "g1", Kind: "current"},
		},
		// r1 and r2 agree in RSite, RGroup and RKind: interchangeable.
		Symmetry: [][]string{{"r1", "r2"}},
	}
}

// Visibility: a write observed at one site before it is acknowledged must
// be observed by every later read at the other.
func Visibility() *Config {
	return &Config{
		Name: "MCVisibility",
		Comment: `One writer (fast path or prepare) and a current reader at each full
site: a write may be observed before it is acknowledged, and once observed
at one site it must be observed by every later read at the other, while
coordinators lose their lease and regain it once in a new epoch.`,
		Groups: []string{"g1"}, Full: []string{"a", "b"}, Witness: []string{"c"},
		InitLeader: map[string]string{"g1": "a"},
		Checks:     []string{"TypeOK", "AtMostOneChosen", "AppliedIsChosenPrefix", "AckedIsChosen", "AckedAfterInvalidation", "ReadSeesAcked", "ReadSeesObserved"},
		MaxPos:     1, MaxEpoch: 1,
		Proposers: []ProposerConst{
			{Name: "p1", Site: "a", Group: "g1", Value: "w1", Ballots: []int{1}},
		},
		Readers: []ReaderConst{
			{Name: "r1", Site: "a", Group: "g1", Kind: "current"},
			{Name: "r2", Site: "b", Group: "g1", Kind: "current"},
		},
	}
}

// ReplicaKinds: a full site, a witness and a read-only site, two log
// positions, a writer and a replication server closing positions with
// no-ops, while coordinators lose and regain their lease. (Its snapshot
// read moved to SnapshotReads, keeping each config within TLC's budget of
// a few minutes.)
func ReplicaKinds() *Config {
	return &Config{
		Name: "MCReplicaKinds",
		Comment: `Two full sites, a witness and a read-only site over two log positions:
a writer and a replication server that closes positions with no-ops, the
next-leader nominee of position 2, a current read attempted at the
witness, and coordinators that lose their lease and regain it once in a
new epoch.`,
		Groups: []string{"g1"}, Full: []string{"a", "b"}, Witness: []string{"c"}, ReadOnly: []string{"d"},
		InitLeader: map[string]string{"g1": "a"},
		Checks:     []string{"TypeOK", "AtMostOneChosen", "AppliedIsChosenPrefix", "AckedIsChosen", "AckedAfterInvalidation", "WitnessNeverServes", "ReadOnlyNeverVotes"},
		MaxPos:     2, MaxEpoch: 1,
		Proposers: []ProposerConst{
			{Name: "p1", Site: "a", Group: "g1", Value: "w1", Ballots: []int{1}},
			{Name: "n1", Site: "b", Group: "g1", Value: NoOp, Ballots: []int{2}},
		},
		Readers: []ReaderConst{
			{Name: "rc", Site: "c", Group: "g1", Kind: "current"},
		},
	}
}

// SnapshotReads: a snapshot read at a read-only site while a write and a
// no-op closer race for the one position and coordinators lose and regain
// their lease.
func SnapshotReads() *Config {
	return &Config{
		Name: "MCSnapshotReads",
		Comment: `Two full sites, a witness and a read-only site over one log position: a
writer and a replication server's no-op race for it while a snapshot read
at the read-only site reads what that site has applied, and coordinators
lose their lease and regain it once in a new epoch (a writer may wait one
out).`,
		Groups: []string{"g1"}, Full: []string{"a", "b"}, Witness: []string{"c"}, ReadOnly: []string{"d"},
		InitLeader: map[string]string{"g1": "a"},
		Checks:     []string{"TypeOK", "AtMostOneChosen", "AppliedIsChosenPrefix", "AckedIsChosen", "AckedAfterInvalidation", "ReadOnlyNeverVotes"},
		MaxPos:     1, MaxEpoch: 1,
		Proposers: []ProposerConst{
			{Name: "p1", Site: "a", Group: "g1", Value: "w1", Ballots: []int{1}},
			{Name: "n1", Site: "b", Group: "g1", Value: NoOp, Ballots: []int{2}},
		},
		Readers: []ReaderConst{
			{Name: "rd", Site: "d", Group: "g1", Kind: "snapshot"},
		},
	}
}

// TwoGroups: two entity groups share the sites and their coordinators'
// leases; a lease regained in a new epoch invalidates both.
func TwoGroups() *Config {
	return &Config{
		Name: "MCTwoGroups",
		Comment: `Two entity groups share sites and coordinators: a writer on the first
group, a current reader of each group at opposite sites, and coordinator
leases that may be lost and regained once, invalidating both groups.`,
		Groups: []string{"g1", "g2"}, Full: []string{"a", "b"}, Witness: []string{"c"},
		InitLeader: map[string]string{"g1": "a", "g2": "b"},
		Checks:     []string{"TypeOK", "AtMostOneChosen", "AppliedIsChosenPrefix", "AckedIsChosen", "AckedAfterInvalidation", "ReadSeesAcked"},
		Properties: PropertyNames,
		MaxPos:     1, MaxEpoch: 1,
		Proposers: []ProposerConst{
			{Name: "p1", Site: "a", Group: "g1", Value: "w1", Ballots: []int{}},
		},
		Readers: []ReaderConst{
			{Name: "r1", Site: "b", Group: "g1", Kind: "current"},
			{Name: "r2", Site: "a", Group: "g2", Kind: "current"},
		},
	}
}

// ConsecutiveWrites: three writes in a row over three log positions, the
// second from another site than the first, each on the fast path: the
// leader of position 2 is the site the first write nominated, and it grants
// ballot 0 to a writer at another site, whose write nominates that other
// site for position 3.
func ConsecutiveWrites() *Config {
	return &Config{
		Name: "MCConsecutiveWrites",
		Comment: `Three writers on the fast path over three log positions: a at position
1 (the initial leader), then b, then a again. Each write nominates its own
site to lead the next position, so the nominated leader's ballot 0 goes to
a writer at another site; writers racing for one position leave the loser
without a ballot.`,
		Groups: []string{"g1"}, Full: []string{"a", "b"}, Witness: []string{"c"},
		InitLeader: map[string]string{"g1": "a"},
		Checks:     []string{"TypeOK", "AtMostOneChosen", "AppliedIsChosenPrefix", "AckedIsChosen", "AckedAfterInvalidation"},
		Properties: []string{"WriteCompletes", "LearnsChosen"},
		MaxPos:     3, MaxEpoch: 0,
		Proposers: []ProposerConst{
			{Name: "p1", Site: "a", Group: "g1", Value: "w1", Ballots: []int{}},
			{Name: "p2", Site: "b", Group: "g1", Value: "w2", Ballots: []int{}},
			{Name: "p3", Site: "a", Group: "g1", Value: "w3", Ballots: []int{}},
		},
	}
}

// FiveSites: the paper's production shape in miniature, three full sites,
// a witness and a read-only site, five acceptors' worth of sites with four
// voters (majority three).
func FiveSites() *Config {
	return &Config{
		Name: "MCFiveSites",
		Comment: `Three full sites, a witness and a read-only site (four voters, majority
three): a writer on the fast path, a current reader at a third full site,
catch-up of the read-only site, and coordinators that lose their lease and
regain it once in a new epoch.`,
		Groups: []string{"g1"}, Full: []string{"a", "b", "c"}, Witness: []string{"w"}, ReadOnly: []string{"r"},
		InitLeader: map[string]string{"g1": "a"},
		Checks: []string{"TypeOK", "AtMostOneChosen", "AppliedIsChosenPrefix", "AckedIsChosen", "AckedAfterInvalidation",
			"ReadSeesAcked", "ReadOnlyNeverVotes"},
		MaxPos: 1, MaxEpoch: 1,
		Proposers: []ProposerConst{
			{Name: "p1", Site: "a", Group: "g1", Value: "w1", Ballots: []int{}},
		},
		Readers: []ReaderConst{
			{Name: "r1", Site: "c", Group: "g1", Kind: "current"},
		},
	}
}

// Restart: a full site crashes and restarts with its durable state while
// a write is in flight there, and a replication server at the other site
// closes the position.
func Restart() *Config {
	return &Config{
		Name: "MCRestart",
		Comment: `A writer on the fast path at a, which may crash and restart with its
durable state (its votes and promises, a prefix of its applied log) while
losing its coordinator, its lease and the proposal in flight, and a replication
server at b that closes the position with a no-op: it completes the write
the crash abandoned, or takes the position. No lease comes back (MaxEpoch
0), so a crashes at most once.`,
		Groups: []string{"g1"}, Full: []string{"a", "b"}, Witness: []string{"c"},
		InitLeader: map[string]string{"g1": "a"},
		Checks:     []string{"TypeOK", "AtMostOneChosen", "AppliedIsChosenPrefix", "AckedIsChosen", "AckedAfterInvalidation"},
		Properties: []string{"WriteCompletes", "LearnsChosen"},
		MaxPos:     1, MaxEpoch: 0, Crashable: []string{"a"},
		Proposers: []ProposerConst{
			{Name: "p1", Site: "a", Group: "g1", Value: "w1", Ballots: []int{}},
			{Name: "n1", Site: "b", Group: "g1", Value: NoOp, Ballots: []int{2}},
		},
	}
}

// RestartRead: Restart with a current reader at the crashing site and
// leases that come back once, so reads run across crashes and epochs.
func RestartRead() *Config {
	c := Restart()
	c.Name = "MCRestartRead"
	c.Comment = `MCRestart with a current reader at a, the site that crashes: a read in
flight fails (begun or catching up) or loses its validation (it already
returned), and coordinators lose their lease and regain it once in a new
epoch, so a may crash twice. Safety only: TLC's liveness check of this
many states does not finish in minutes here.`
	c.MaxEpoch = 1
	c.Properties = nil
	c.Checks = append(c.Checks, "ReadSeesAcked")
	c.Readers = []ReaderConst{{Name: "r1", Site: "a", Group: "g1", Kind: "current"}}
	return c
}

// DeepConfigs are mirror-only: far past what TLC finishes in minutes on
// this project's machines, checked with the explorer's -deep mode
// (fingerprints, all cores). Their figures are the mirror's alone.
func DeepConfigs() []*Config {
	return []*Config{DeepConsecutiveReads(), DeepRestartRead()}
}

// DeepConsecutiveReads: ConsecutiveWrites with a current reader at the
// second writer's site and coordinators that lose and regain their lease:
// about 7.7 million distinct states.
func DeepConsecutiveReads() *Config {
	c := ConsecutiveWrites()
	c.Name = "MCDeepConsecutiveReads"
	c.Comment = `Mirror-only (-deep): MCConsecutiveWrites with a current reader at b and
coordinators that lose their lease and regain it once in a new epoch.`
	c.MaxEpoch = 1
	c.Checks = append(c.Checks, "ReadSeesAcked")
	c.Readers = []ReaderConst{{Name: "r1", Site: "b", Group: "g1", Kind: "current"}}
	return c
}

// DeepRestartRead: RestartRead with a writer that may also prepare (a
// ballot of its own besides the leader's grant): about 8.7 million
// distinct states.
func DeepRestartRead() *Config {
	c := RestartRead()
	c.Name = "MCDeepRestartRead"
	c.Comment = `Mirror-only (-deep): MCRestartRead with a writer that may also prepare
with ballot 1 (the slow path) besides the leader's ballot 0.`
	c.Proposers[0].Ballots = []int{1}
	return c
}
