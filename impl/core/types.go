package core

import "fmt"

// SiteID names a site (a datacenter). Every site hosts one Replica.
type SiteID string

// GroupID names an entity group. Groups need no creation step: a group
// springs into existence at a site the first time any message or request
// names it (see doc.go, "Groups").
type GroupID string

// Position is a log position of an entity group. The first entry is at
// position 1; position 0 means "before the first entry".
type Position uint64

// LatestPosition asks Storage.Read for the newest version of each key,
// ignoring the log: that is what an inconsistent read wants.
const LatestPosition Position = ^Position(0)

// Ballot is a Paxos proposal number. Ballot 0 is reserved for the leader fast
// path (AcceptLeader); every ballot a proposer picks for Prepare is
// round<<32 | (incarnation mod 2^24)<<8 | siteIndex with round >= 1. The site
// index makes ballots unique per site; the incarnation keeps a restarted site
// from reusing a ballot it used, with another value, before its crash (its
// proposer state is not durable). Rounds dominate the order.
type Ballot uint64

// MakeBallot builds the ballot of round at the site with index siteIndex in
// its given incarnation.
func MakeBallot(round, incarnation uint64, siteIndex int) Ballot {
	return Ballot(round<<32 | (incarnation&0xffffff)<<8 | uint64(siteIndex&0xff))
}

// Round returns the round part of a ballot.
func (b Ballot) Round() uint64 { return uint64(b) >> 32 }

// RequestID identifies a client request at one replica; results carry it.
type RequestID uint64

// SiteKind is what a site does in the protocol (§4.6 "replica types").
type SiteKind uint8

const (
	// Full sites vote, keep the log and the data, run a coordinator and serve
	// current reads.
	Full SiteKind = iota + 1
	// Witness sites vote and keep the log and acceptor state only: no data,
	// no coordinator, no reads.
	Witness
	// ReadOnly sites never vote, keep the full data and serve snapshot reads;
	// they catch up in the background.
	ReadOnly
)

func (k SiteKind) String() string {
	switch k {
	case Full:
		return "full"
	case Witness:
		return "witness"
	case ReadOnly:
		return "read-only"
	}
	return fmt.Sprintf("SiteKind(%d)", uint8(k))
}

// Votes reports whether sites of this kind take part in Paxos quorums.
func (k SiteKind) Votes() bool { return k == Full || k == Witness }

// Site is one member of the (static) configuration.
type Site struct {
	ID   SiteID
	Kind SiteKind
}

// Mutation is one buffered write of a transaction. Delete removes the key at
// the entry's position (a tombstone version).
type Mutation struct {
	Key    []byte
	Value  []byte
	Delete bool
}

// ValueID makes every proposed value unique, so a proposer can tell whether
// the value chosen at its position is its own. Incarnation changes at every
// restart of a replica, which keeps IDs unique without persisting Seq.
type ValueID struct {
	Site        SiteID
	Incarnation uint64
	Seq         uint64
}

func (id ValueID) String() string {
	return fmt.Sprintf("%s/%d/%d", id.Site, id.Incarnation, id.Seq)
}

// Value is what one Paxos instance (one log position) decides on: a
// transaction's mutations, its timestamp and the nominee for leader of the
// next position (§4.6.3). A no-op carries no mutations and is what catch-up
// and the replication-server duty propose to close a position.
type Value struct {
	ID         ValueID
	Timestamp  uint64
	NextLeader SiteID
	NoOp       bool
	Mutations  []Mutation
}

// Entry is a value at a log position of a group.
type Entry struct {
	Group    GroupID
	Position Position
	Value    Value
}

// AcceptorRecord is the durable acceptor state of one (group, position) at
// one site: the spec's maxBal and votes. The driver must persist every record
// a Ready carries, with fsync when Ready.MustSync, before sending any of that
// Ready's messages.
type AcceptorRecord struct {
	Group    GroupID
	Position Position
	MaxBal   Ballot
	Voted    bool
	VoteBal  Ballot
	Vote     Value
	// Earlier are the ballots voted at here before VoteBal: an Invalidate
	// naming one of them is for a vote this site holds.
	Earlier []Ballot
}

// HardState is the per-replica durable state that is not per group.
type HardState struct {
	// Incarnation counts restarts; ValueIDs include it.
	Incarnation uint64
}

// Durable is the part of a Ready that the driver writes to Storage before
// anything else happens.
type Durable struct {
	HardState *HardState
	Acceptor  []AcceptorRecord
	// Chosen are entries this site now knows to be committed (past their
	// proposer's visibility point). Witnesses keep them too: they are the log.
	Chosen []Entry
	// Install are compacted states fetched from another site (catch-up of
	// a site behind that site's truncation point). Write each after
	// Acceptor and Chosen, in the same atomic batch: replace the group's
	// data rows with Rows as of Through, set its applied position and its
	// truncation point to Through, and delete its chosen entries at or
	// below Through and its acceptor records at or below VotesThrough.
	Install []Install
	// Truncate are log truncations (Config.RetainPositions). Write each
	// last, in the same atomic batch: delete the group's chosen entries at
	// or below Through and its acceptor records at or below VotesThrough,
	// compact its data versions at
	// or below Through (keep, per key, the newest one unless it is a
	// deletion) and record Through as its truncation point. Reads at
	// positions below Through must not run while, or after, it is written
	// (the driver waits for the reads it serves beside the replica; the
	// core answers no read below Through after it emitted it).
	Truncate []Truncation
}

// Truncation says that a group's log is truncated through a position.
// Acceptor records are deleted only through VotesThrough (at most
// Through): those above it are no longer votes (the acceptor refuses
// there), but their ballots still tell a late Invalidate whether this
// site voted for what it invalidates (the spec's guard), across restarts.
type Truncation struct {
	Group        GroupID
	Through      Position
	VotesThrough Position
}

// Install is a group's data as of position Through, as another site that
// truncated its log through Through holds it (its rows, in key order,
// deletions dropped). A witness installs no rows.
type Install struct {
	Group   GroupID
	Through Position
	// VotesThrough: acceptor records are deleted through it, as in
	// Truncation.
	VotesThrough Position
	Rows         []KeyValue
}

// IsEmpty reports whether there is nothing to persist.
func (d Durable) IsEmpty() bool {
	return d.HardState == nil && len(d.Acceptor) == 0 && len(d.Chosen) == 0 &&
		len(d.Install) == 0 && len(d.Truncate) == 0
}

// State is everything a restarting replica is rebuilt from (see Restore).
type State struct {
	HardState HardState
	Acceptor  []AcceptorRecord
	Chosen    []Entry
	// Applied is, per group, the highest position whose mutations are in the
	// data rows. Entries in Chosen above it are re-applied after restart.
	Applied map[GroupID]Position
	// Truncated is, per group, the position its log is truncated through
	// (Durable.Truncate, Durable.Install); absent: never truncated.
	Truncated map[GroupID]Position
	// Partial says the state holds only some groups (typically none: only
	// HardState): the driver loads every other group with LoadGroup before
	// it hands the replica anything naming it (see Replica.NeedsLoad).
	// Startup then costs nothing per group.
	Partial bool
}

// GroupState is the durable state of one entity group at one site, as a
// driver loads it for Replica.LoadGroup: every acceptor record and chosen
// entry of the group, and its applied position.
type GroupState struct {
	Acceptor []AcceptorRecord
	Chosen   []Entry
	Applied  Position
	// Truncated is the position the group's log is truncated through.
	Truncated Position
}

// ReadMode selects the consistency of a read (§3.3).
type ReadMode uint8

const (
	// Current reads observe every acknowledged write.
	Current ReadMode = iota + 1
	// Snapshot reads read at the last position applied at this site, or at
	// ReadRequest.Position if it is given and already applied.
	Snapshot
	// Inconsistent reads read the newest local versions, ignoring the log.
	Inconsistent
)

func (m ReadMode) String() string {
	switch m {
	case Current:
		return "current"
	case Snapshot:
		return "snapshot"
	case Inconsistent:
		return "inconsistent"
	}
	return fmt.Sprintf("ReadMode(%d)", uint8(m))
}

// WriteRequest asks to append one transaction at ReadPosition+1, where
// ReadPosition is the position the transaction's current read returned
// (BeginWrite). NB: the replica keeps Mutations (values are immutable once
// proposed); the caller must not modify them afterwards.
type WriteRequest struct {
	Group        GroupID
	ReadPosition Position
	Mutations    []Mutation
}

// ReadRequest asks for Keys of Group, and for the rows in Range if it is
// set. Position is only used by Snapshot reads (0 means "the latest applied
// position").
type ReadRequest struct {
	Group    GroupID
	Keys     [][]byte
	Range    *KeyRange
	Mode     ReadMode
	Position Position
}

// KeyRange is a scan of a group's rows: Start inclusive, End exclusive (nil:
// to the end of the group), at most Limit rows (1..Config.MaxScanRows).
type KeyRange struct {
	Start, End []byte
	Limit      int
}

// KeyValue is one row a scan returns.
type KeyValue struct {
	Key, Value []byte
}

// Op says which kind of request a Result answers.
type Op uint8

const (
	OpWrite Op = iota + 1
	OpRead
)

// Result is the outcome of a client request. For a successful read the core
// has decided the position; the driver reads Keys (and scans Range, if set)
// at Position from Storage (LatestPosition for inconsistent reads) after
// applying the same Ready's Apply entries, and hands the values to the
// client.
type Result struct {
	ID       RequestID
	Op       Op
	Group    GroupID
	Position Position
	Mode     ReadMode
	Keys     [][]byte
	Range    *KeyRange
	// Err is nil or one of the sentinel errors (errors.Is); ErrConflict means
	// the client library should rerun the transaction.
	Err error
}

// TraceEvent records one protocol step under the name of the TLA+ action it
// corresponds to, with every identity needed to name the spec's proposer or
// reader, so that a simulator and the trace of a real node are mapped to spec
// steps by one mapping (tests/tracemap) and checked against spec/.
type TraceEvent struct {
	Action   string   `json:"a"`
	Group    GroupID  `json:"g,omitempty"`
	Site     SiteID   `json:"s,omitempty"`    // where the step happened
	Peer     SiteID   `json:"peer,omitempty"` // the other side, if any (sender, coordinator)
	Position Position `json:"pos,omitempty"`
	Ballot   Ballot   `json:"bal,omitempty"`
	Epoch    uint64   `json:"ep,omitempty"`
	Value    ValueID  `json:"v,omitzero"`
	// NoOp says Value is a no-op (a closer's value).
	NoOp bool `json:"noop,omitempty"`
	// Proposal is the proposal the step belongs to: this site's own
	// (BeginWrite, Prepare, Propose, WaitOutLease, Commit) or the sender's
	// (AcceptLeader, Promise, Accept, Invalidate). Proposal ids never repeat
	// across incarnations (Restore), so (site, Proposal, Ballot.Round())
	// names one ballot attempt.
	Proposal uint64 `json:"prop,omitempty"`
	// Request is the client request of BeginWrite and of every read step.
	Request RequestID `json:"req,omitempty"`
	// Quorum: Propose: the sites whose promises the proposer heard at this
	// ballot; ReadFindPos: the voters whose answers it heard.
	Quorum []SiteID `json:"q,omitempty"`
	// Writes is what a read returns at Position: the non-no-op values of
	// the site's log at positions 1..Position, in log order. The core leaves
	// it empty (it costs a walk of the log); a driver that records traces
	// fills it before Advance with FillReadWrites.
	Writes []ValueID `json:"w,omitempty"`
	// Compacted, in a read step at a site whose log is truncated: Writes
	// names only the writes at positions above it; the ones at or below
	// it are the chosen log's, which the site forgot (the trace mapper
	// takes them from the commits the trace shows).
	Compacted Position `json:"cmp,omitempty"`
	Detail    string   `json:"d,omitempty"`
}

// Details of trace events that qualify an action.
const (
	// DetailNoProposal: a BeginWrite answered at once without a proposal
	// (the position is known, or another local proposal runs there).
	DetailNoProposal = "no proposal"
	// DetailAtPosition: a snapshot read at a position the client named.
	DetailAtPosition = "at position"
	// DetailCompacted: a Learn of every position up to Position at once,
	// by installing another site's compacted state (truncate.go): the
	// values are the chosen log's, which the trace shows committed.
	DetailCompacted = "compacted"
)

// The spec's action names, used in TraceEvent.Action.
const (
	ActBeginWrite   = "BeginWrite"
	ActAcceptLeader = "AcceptLeader"
	ActPrepare      = "Prepare"
	ActPromise      = "Promise"
	ActPropose      = "Propose"
	ActAccept       = "Accept"
	ActInvalidate   = "Invalidate"
	ActWaitOutLease = "WaitOutLease"
	ActCommit       = "Commit"
	ActLearn        = "Learn"
	ActLoseLease    = "LoseLease"
	ActRegainLease  = "RegainLease"
	ActReadBegin    = "ReadBegin"
	ActReadLocal    = "ReadLocal"
	ActReadFindPos  = "ReadFindPos"
	ActReadCatchUp  = "ReadCatchUp"
	ActValidate     = "Validate"
	ActSnapshotRead = "SnapshotRead"
)

// Ready is what the driver must do next, in this order (doc.go explains why):
//  1. Persist Durable (with fsync if MustSync).
//  2. Send Messages (those addressed to this site go back into Step).
//  3. Apply the Apply entries to the data rows, in order.
//  4. Complete Results (reads are performed against Storage now).
//  5. Call Advance(rd).
//
// The driver may take the next Ready before Advance(rd) while rd is being
// saved (doc.go, item 4): Saves in order, and each Ready's messages,
// Apply and results only after its own Save.
//
// If Fatal is set, do none of that: record Trace, then stop the replica
// with Fatal as its error.
type Ready struct {
	Durable
	MustSync bool
	Messages []Message
	Apply    []Entry
	Results  []Result
	Trace    []TraceEvent
	// Fatal is an assertion failure (ErrDivergence): the replica's state
	// contradicts the protocol's safety property, so nothing it would
	// persist, send or answer can be trusted. It stays set in every later
	// Ready.
	Fatal error
}

// IsEmpty reports whether the Ready carries no work.
func (rd Ready) IsEmpty() bool {
	return rd.Durable.IsEmpty() && len(rd.Messages) == 0 && len(rd.Apply) == 0 &&
		len(rd.Results) == 0 && len(rd.Trace) == 0
}
