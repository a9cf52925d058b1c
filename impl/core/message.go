package core

import "fmt"

// MessageType says what a Message is. Requests and their replies are separate
// one-way messages: the transport may drop, delay, duplicate or reorder any of
// them, and the core tolerates all of that.
type MessageType uint8

const (
	MsgInvalid MessageType = iota
	// MsgAcceptLeader asks the leader of Position to accept Value at ballot 0
	// (AcceptLeader, §4.6.3 step 1).
	MsgAcceptLeader
	// MsgAcceptLeaderResp answers MsgAcceptLeader; Reject if the leader already
	// granted ballot 0 at that position or promised a higher ballot.
	MsgAcceptLeaderResp
	// MsgPrepare is Paxos phase 1a at Ballot (Prepare).
	MsgPrepare
	// MsgPromise is phase 1b (Promise). Unless Reject, Value (if non-nil) is
	// the acceptor's vote, accepted at VoteBallot. If Reject, Ballot is the
	// acceptor's maxBal, so the proposer can pick a higher one.
	MsgPromise
	// MsgAccept is phase 2a (Propose/Accept): accept Value at Ballot.
	MsgAccept
	// MsgAccepted is phase 2b; Reject carries the acceptor's maxBal in Ballot.
	MsgAccepted
	// MsgInvalidate tells the coordinator of the receiving site that Group is
	// no longer up to date there, as of Position (Invalidate).
	MsgInvalidate
	// MsgInvalidateResp acknowledges MsgInvalidate.
	MsgInvalidateResp
	// MsgCommit carries a value that has passed its proposer's visibility
	// point; receivers learn and apply it (Commit/Learn).
	MsgCommit
	// MsgFindPos asks a voter for the highest position it has accepted or
	// learned in Group (ReadFindPos).
	MsgFindPos
	// MsgFindPosResp answers with that position in Position.
	MsgFindPosResp
	// MsgCatchUp asks for known-committed entries of Group from Position to
	// Limit inclusive (ReadCatchUp).
	MsgCatchUp
	// MsgCatchUpResp carries such entries (at most Config.MaxCatchUpEntries).
	MsgCatchUpResp
	// MsgLeaseRequest asks the lease service of the receiving site for a lease
	// for the sender's coordinator. Proposal carries the sender's incarnation
	// (bits 40..63) and its tick when it sent the request (bits 0..39): the
	// lease is counted from then.
	MsgLeaseRequest
	// MsgLeaseGrant grants it for Ticks ticks; Reject if blocked.
	MsgLeaseGrant
	// MsgLeaseBlock asks the lease service to stop renewing the lease of
	// Coordinator (WaitOutLease).
	MsgLeaseBlock
	// MsgLeaseBlockResp acknowledges; Ticks is how long the current grant to
	// Coordinator still runs in the service's ticks.
	MsgLeaseBlockResp
	msgTypeCount
)

var messageTypeNames = [...]string{
	MsgInvalid:          "MsgInvalid",
	MsgAcceptLeader:     "MsgAcceptLeader",
	MsgAcceptLeaderResp: "MsgAcceptLeaderResp",
	MsgPrepare:          "MsgPrepare",
	MsgPromise:          "MsgPromise",
	MsgAccept:           "MsgAccept",
	MsgAccepted:         "MsgAccepted",
	MsgInvalidate:       "MsgInvalidate",
	MsgInvalidateResp:   "MsgInvalidateResp",
	MsgCommit:           "MsgCommit",
	MsgFindPos:          "MsgFindPos",
	MsgFindPosResp:      "MsgFindPosResp",
	MsgCatchUp:          "MsgCatchUp",
	MsgCatchUpResp:      "MsgCatchUpResp",
	MsgLeaseRequest:     "MsgLeaseRequest",
	MsgLeaseGrant:       "MsgLeaseGrant",
	MsgLeaseBlock:       "MsgLeaseBlock",
	MsgLeaseBlockResp:   "MsgLeaseBlockResp",
}

func (t MessageType) String() string {
	if t < msgTypeCount {
		return messageTypeNames[t]
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Message is the one wire type between sites. It is a flat struct (like
// etcd raft's raftpb.Message) so a wire codec can map it field for field.
type Message struct {
	Type     MessageType
	From, To SiteID
	Group    GroupID
	Position Position
	Ballot   Ballot
	// Proposal correlates a reply with the proposer's or reader's operation
	// at the sending site; replies echo it unchanged.
	Proposal uint64
	Reject   bool
	Value    *Value
	// VoteBallot is the ballot at which Value was accepted (MsgPromise).
	VoteBallot Ballot
	// Limit is the last position asked for (MsgCatchUp).
	Limit Position
	// Entries are known-committed entries (MsgCatchUpResp).
	Entries []Entry
	// Coordinator names the site whose lease is blocked (MsgLeaseBlock).
	Coordinator SiteID
	// Ticks is a lease duration or remainder (MsgLeaseGrant, MsgLeaseBlockResp).
	Ticks uint64
	// Through is a truncation point. In a refusal (MsgAcceptLeaderResp,
	// MsgPromise, MsgAccepted with Reject) at a position at or below it:
	// the acceptor chose, applied and compacted the log through Through
	// and forgot its votes there, so it votes no more. In MsgCatchUpResp:
	// the reply is a page of the sender's compacted state as of Through
	// (Rows), the entries being those above Through.
	Through Position
	// Cursor is the first row key of a compacted-state page: asked for
	// (MsgCatchUp), served from (MsgCatchUpResp).
	Cursor []byte
	// Rows are a page of the group's rows as of Through, in key order
	// from Cursor (MsgCatchUpResp); More says further pages follow.
	Rows []KeyValue
	More bool
	// FillRows asks the driver to fill Rows and More of this
	// MsgCatchUpResp from its Storage before sending it (the core reads no
	// storage): a Scan of the group as of Through from Cursor, cut to
	// MaxSnapshotPageBytes (at least one row). It never travels.
	FillRows bool
}

func (m Message) String() string {
	return fmt.Sprintf("%s %s->%s g=%s pos=%d bal=%d prop=%d rej=%v",
		m.Type, m.From, m.To, m.Group, m.Position, m.Ballot, m.Proposal, m.Reject)
}
