package wire

import (
	"fmt"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

// Bounds that core does not configure but the wire must enforce, so a
// decoded value can never carry a number the protocol could not have made.
const (
	// MaxPosition bounds log positions: far above any real log, far below
	// core.LatestPosition, which must never travel as a position.
	MaxPosition = core.Position(1) << 62
	// MaxTicks bounds lease durations and remainders on the wire.
	MaxTicks = uint64(1) << 32
	// MaxGroupBytes and MaxSiteBytes bound names.
	MaxGroupBytes = 256
	MaxSiteBytes  = 64
)

// Limits is what a decoder checks against: the membership and the core's
// size limits.
type Limits struct {
	Sites             []core.Site
	MaxKeyBytes       int
	MaxValueBytes     int
	MaxMutations      int
	MaxCatchUpEntries int
	MaxScanRows       int
}

// LimitsFor takes the limits from a replica's configuration.
func LimitsFor(cfg core.Config) Limits {
	return Limits{
		Sites:             cfg.Sites,
		MaxKeyBytes:       cfg.MaxKeyBytes,
		MaxValueBytes:     cfg.MaxValueBytes,
		MaxMutations:      cfg.MaxMutations,
		MaxCatchUpEntries: cfg.MaxCatchUpEntries,
		MaxScanRows:       cfg.MaxScanRows,
	}
}

func (l Limits) member(id core.SiteID) bool {
	for _, s := range l.Sites {
		if s.ID == id {
			return true
		}
	}
	return false
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{core.ErrMalformed}, args...)...)
}

// ParseGroup checks a group name's syntax: 1..MaxGroupBytes of letters,
// digits and . _ - : / @ + =. The core would take any non-empty string; the
// wire is stricter so names stay printable in logs, metrics and shells.
func ParseGroup(s string) (core.GroupID, error) {
	if s == "" {
		return "", malformed("empty group name")
	}
	if len(s) > MaxGroupBytes {
		return "", malformed("group name of %d bytes exceeds %d", len(s), MaxGroupBytes)
	}
	for i := 0; i < len(s); i++ {
		if !groupChar(s[i]) {
			return "", malformed("group name %.40q: byte %d (%q) is not a letter, digit or one of ._-:/@+=", s, i, s[i])
		}
	}
	return core.GroupID(s), nil
}

func groupChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '.', '_', '-', ':', '/', '@', '+', '=':
		return true
	}
	return false
}

// ParseSiteName checks a site name's syntax: 1..MaxSiteBytes of letters,
// digits and . _ -.
func ParseSiteName(s string) (core.SiteID, error) {
	if s == "" {
		return "", malformed("empty site name")
	}
	if len(s) > MaxSiteBytes {
		return "", malformed("site name of %d bytes exceeds %d", len(s), MaxSiteBytes)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if !ok {
			return "", malformed("site name %.40q: byte %d (%q) is not a letter, digit or one of ._-", s, i, c)
		}
	}
	return core.SiteID(s), nil
}

// parseMember parses a site name that must name a member.
func (l Limits) parseMember(what, s string) (core.SiteID, error) {
	id, err := ParseSiteName(s)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if !l.member(id) {
		return "", fmt.Errorf("%w: %s %q is not a member", core.ErrUnknownSite, what, id)
	}
	return id, nil
}

func checkPosition(what string, p uint64) error {
	if core.Position(p) > MaxPosition {
		return malformed("%s %d is beyond the largest position %d", what, p, MaxPosition)
	}
	return nil
}

// checkBallot accepts ballot 0 (the leader fast path) and ballots as
// core.MakeBallot builds them: round at least 1, a member's index.
func (l Limits) checkBallot(what string, b uint64) error {
	if b == 0 {
		return nil
	}
	bal := core.Ballot(b)
	if bal.Round() == 0 {
		return malformed("%s %#x has round 0 but is not the fast-path ballot 0", what, b)
	}
	if idx := int(b & 0xff); idx >= len(l.Sites) {
		return malformed("%s %#x names site index %d of %d sites", what, b, idx, len(l.Sites))
	}
	return nil
}

// MutationsFromProto validates and converts mutations.
func (l Limits) MutationsFromProto(ms []*wirepb.Mutation) ([]core.Mutation, error) {
	if len(ms) > l.MaxMutations {
		return nil, fmt.Errorf("%w: %d mutations exceed %d", core.ErrTooManyMutations, len(ms), l.MaxMutations)
	}
	out := make([]core.Mutation, 0, len(ms))
	for i, m := range ms {
		if m == nil {
			return nil, malformed("mutation %d is missing", i)
		}
		if err := l.CheckKey(m.Key); err != nil {
			return nil, fmt.Errorf("mutation %d: %w", i, err)
		}
		if len(m.Value) > l.MaxValueBytes {
			return nil, fmt.Errorf("%w: mutation %d: value of %d bytes exceeds %d",
				core.ErrValueTooLarge, i, len(m.Value), l.MaxValueBytes)
		}
		if m.Delete && len(m.Value) > 0 {
			return nil, malformed("mutation %d deletes and carries a value", i)
		}
		out = append(out, core.Mutation{Key: m.Key, Value: m.Value, Delete: m.Delete})
	}
	return out, nil
}

// CheckKey checks a key against the limits: non-empty and not too long.
func (l Limits) CheckKey(k []byte) error {
	if len(k) == 0 {
		return malformed("empty key")
	}
	if len(k) > l.MaxKeyBytes {
		return fmt.Errorf("%w: key of %d bytes exceeds %d", core.ErrKeyTooLarge, len(k), l.MaxKeyBytes)
	}
	return nil
}

// MutationsToProto converts mutations for the wire.
func MutationsToProto(ms []core.Mutation) []*wirepb.Mutation {
	out := make([]*wirepb.Mutation, len(ms))
	for i, m := range ms {
		out[i] = &wirepb.Mutation{Key: m.Key, Value: m.Value, Delete: m.Delete}
	}
	return out
}

// ValueToProto converts a log value for the wire.
func ValueToProto(v core.Value) *wirepb.Value {
	return &wirepb.Value{
		Id:         &wirepb.ValueID{Site: string(v.ID.Site), Incarnation: v.ID.Incarnation, Seq: v.ID.Seq},
		Timestamp:  v.Timestamp,
		NextLeader: string(v.NextLeader),
		NoOp:       v.NoOp,
		Mutations:  MutationsToProto(v.Mutations),
	}
}

// ValueFromProto validates and converts a log value. The value's ID must
// name a member (only members propose); NextLeader is empty or a member.
func (l Limits) ValueFromProto(p *wirepb.Value) (core.Value, error) {
	if p == nil {
		return core.Value{}, malformed("value is missing")
	}
	if p.Id == nil {
		return core.Value{}, malformed("value has no id")
	}
	site, err := l.parseMember("value id site", p.Id.Site)
	if err != nil {
		return core.Value{}, err
	}
	v := core.Value{
		ID:        core.ValueID{Site: site, Incarnation: p.Id.Incarnation, Seq: p.Id.Seq},
		Timestamp: p.Timestamp,
		NoOp:      p.NoOp,
	}
	if p.NextLeader != "" {
		if v.NextLeader, err = l.parseMember("next leader", p.NextLeader); err != nil {
			return core.Value{}, err
		}
	}
	if p.NoOp && len(p.Mutations) > 0 {
		return core.Value{}, malformed("no-op value carries %d mutations", len(p.Mutations))
	}
	if v.Mutations, err = l.MutationsFromProto(p.Mutations); err != nil {
		return core.Value{}, err
	}
	if len(v.Mutations) == 0 {
		v.Mutations = nil // NB: the core and storage treat nil and empty alike; keep one form.
	}
	return v, nil
}

// MessageToProto converts a core message for the wire.
func MessageToProto(m core.Message) *wirepb.Message {
	p := &wirepb.Message{
		Type:        wirepb.MessageType(m.Type),
		From:        string(m.From),
		To:          string(m.To),
		Group:       string(m.Group),
		Position:    uint64(m.Position),
		Ballot:      uint64(m.Ballot),
		Proposal:    m.Proposal,
		Reject:      m.Reject,
		VoteBallot:  uint64(m.VoteBallot),
		Limit:       uint64(m.Limit),
		Coordinator: string(m.Coordinator),
		Ticks:       m.Ticks,
		Through:     uint64(m.Through),
		Cursor:      m.Cursor,
		More:        m.More,
	}
	for _, kv := range m.Rows {
		p.Rows = append(p.Rows, &wirepb.KeyValue{Key: kv.Key, Value: kv.Value})
	}
	if m.Value != nil {
		p.Value = ValueToProto(*m.Value)
	}
	for _, e := range m.Entries {
		p.Entries = append(p.Entries, &wirepb.Entry{Group: string(e.Group),
			Position: uint64(e.Position), Value: ValueToProto(e.Value)})
	}
	return p
}

// needsValue, needsPosition and groupless mirror the core's own checks
// (replica.checkMessage), so the wire refuses nothing the core would take.
func needsValue(t core.MessageType) bool {
	return t == core.MsgAcceptLeader || t == core.MsgAccept || t == core.MsgCommit
}

func needsPosition(t core.MessageType) bool {
	switch t {
	case core.MsgAcceptLeader, core.MsgAccept, core.MsgCommit, core.MsgPrepare, core.MsgPromise,
		core.MsgAccepted, core.MsgInvalidate, core.MsgAcceptLeaderResp:
		return true
	}
	return false
}

func groupless(t core.MessageType) bool {
	switch t {
	case core.MsgLeaseRequest, core.MsgLeaseGrant, core.MsgLeaseBlock, core.MsgLeaseBlockResp:
		return true
	}
	return false
}

// lastMessageType is the highest core.MessageType the wire knows.
const lastMessageType = core.MsgLeaseBlockResp

// MessageFromProto validates and converts a message from another site. It
// checks what the core checks (membership, type, group, value, position 0)
// and what only the wire can (name syntax, sizes, ranges), and returns an
// error wrapping a core sentinel on the first problem.
func MessageFromProto(p *wirepb.Message, l Limits) (core.Message, error) {
	if p == nil {
		return core.Message{}, malformed("message is missing")
	}
	t := core.MessageType(p.Type)
	if p.Type <= 0 || p.Type > wirepb.MessageType(lastMessageType) {
		return core.Message{}, malformed("unknown message type %d", int32(p.Type))
	}
	m := core.Message{Type: t, Proposal: p.Proposal, Reject: p.Reject}
	var err error
	if m.From, err = l.parseMember("sender", p.From); err != nil {
		return core.Message{}, fmt.Errorf("%v: %w", t, err)
	}
	if m.To, err = l.parseMember("recipient", p.To); err != nil {
		return core.Message{}, fmt.Errorf("%v: %w", t, err)
	}
	switch {
	case groupless(t) && p.Group != "":
		return core.Message{}, malformed("%v names group %.40q but is not about a group", t, p.Group)
	case !groupless(t):
		if m.Group, err = ParseGroup(p.Group); err != nil {
			return core.Message{}, fmt.Errorf("%v: %w", t, err)
		}
	}
	for _, c := range []struct {
		what string
		v    uint64
	}{{"position", p.Position}, {"limit", p.Limit}, {"truncation point", p.Through}} {
		if err := checkPosition(c.what, c.v); err != nil {
			return core.Message{}, fmt.Errorf("%v: %w", t, err)
		}
	}
	if needsPosition(t) && p.Position == 0 {
		return core.Message{}, malformed("%v at position 0", t)
	}
	m.Position, m.Limit, m.Through = core.Position(p.Position), core.Position(p.Limit), core.Position(p.Through)
	if err := l.compactedState(t, p, &m); err != nil {
		return core.Message{}, fmt.Errorf("%v: %w", t, err)
	}
	if err := l.checkBallot("ballot", p.Ballot); err != nil {
		return core.Message{}, fmt.Errorf("%v: %w", t, err)
	}
	if err := l.checkBallot("vote ballot", p.VoteBallot); err != nil {
		return core.Message{}, fmt.Errorf("%v: %w", t, err)
	}
	m.Ballot, m.VoteBallot = core.Ballot(p.Ballot), core.Ballot(p.VoteBallot)
	if p.Ticks > MaxTicks {
		return core.Message{}, malformed("%v: %d ticks exceed %d", t, p.Ticks, MaxTicks)
	}
	m.Ticks = p.Ticks
	if t == core.MsgLeaseBlock || t == core.MsgLeaseBlockResp {
		if m.Coordinator, err = l.parseMember("coordinator", p.Coordinator); err != nil {
			return core.Message{}, fmt.Errorf("%v: %w", t, err)
		}
	} else if p.Coordinator != "" {
		return core.Message{}, malformed("%v names coordinator %.40q but is not a lease block", t, p.Coordinator)
	}
	if needsValue(t) && p.Value == nil {
		return core.Message{}, malformed("%v without a value", t)
	}
	if p.Value != nil {
		v, err := l.ValueFromProto(p.Value)
		if err != nil {
			return core.Message{}, fmt.Errorf("%v: %w", t, err)
		}
		m.Value = &v
	}
	if len(p.Entries) > 0 && t != core.MsgCatchUpResp {
		return core.Message{}, malformed("%v carries %d catch-up entries", t, len(p.Entries))
	}
	if len(p.Entries) > l.MaxCatchUpEntries {
		return core.Message{}, malformed("%v: %d entries exceed %d", t, len(p.Entries), l.MaxCatchUpEntries)
	}
	for i, e := range p.Entries {
		if e == nil {
			return core.Message{}, malformed("%v: entry %d is missing", t, i)
		}
		if e.Group != p.Group {
			return core.Message{}, malformed("%v: entry %d is for group %.40q, not %.40q", t, i, e.Group, p.Group)
		}
		if e.Position == 0 {
			return core.Message{}, malformed("%v: entry %d at position 0", t, i)
		}
		if err := checkPosition("entry position", e.Position); err != nil {
			return core.Message{}, fmt.Errorf("%v: entry %d: %w", t, i, err)
		}
		v, err := l.ValueFromProto(e.Value)
		if err != nil {
			return core.Message{}, fmt.Errorf("%v: entry %d: %w", t, i, err)
		}
		m.Entries = append(m.Entries, core.Entry{Group: m.Group, Position: core.Position(e.Position), Value: v})
	}
	return m, nil
}

// ReadModeFromProto converts a read mode; UNSPECIFIED means current, the
// only mode that observes every acknowledged write.
func ReadModeFromProto(m wirepb.ReadMode) (core.ReadMode, error) {
	switch m {
	case wirepb.ReadMode_READ_MODE_UNSPECIFIED, wirepb.ReadMode_CURRENT:
		return core.Current, nil
	case wirepb.ReadMode_SNAPSHOT:
		return core.Snapshot, nil
	case wirepb.ReadMode_INCONSISTENT:
		return core.Inconsistent, nil
	}
	return 0, malformed("unknown read mode %d", int32(m))
}

// ReadModeToProto converts a read mode for the wire.
func ReadModeToProto(m core.ReadMode) wirepb.ReadMode {
	switch m {
	case core.Snapshot:
		return wirepb.ReadMode_SNAPSHOT
	case core.Inconsistent:
		return wirepb.ReadMode_INCONSISTENT
	}
	return wirepb.ReadMode_CURRENT
}

// compactedState checks and converts the truncation fields: a truncation
// point only in a refusal or a catch-up answer, a cursor only in catch-up,
// rows (keys and values within the limits, at most MaxScanRows) only in a
// catch-up answer that names its point.
func (l Limits) compactedState(t core.MessageType, p *wirepb.Message, m *core.Message) error {
	refusal := p.Reject && (t == core.MsgAcceptLeaderResp || t == core.MsgPromise || t == core.MsgAccepted)
	switch {
	case p.Through != 0 && t != core.MsgCatchUpResp && !refusal:
		return malformed("names truncation point %d but is neither a refusal nor a catch-up answer", p.Through)
	case len(p.Cursor) > 0 && t != core.MsgCatchUp && t != core.MsgCatchUpResp:
		return malformed("carries a cursor but is not catch-up")
	case len(p.Cursor) > l.MaxKeyBytes+1:
		return fmt.Errorf("%w: cursor of %d bytes", core.ErrKeyTooLarge, len(p.Cursor))
	case (len(p.Rows) > 0 || p.More) && (t != core.MsgCatchUpResp || p.Through == 0):
		return malformed("carries compacted-state rows without a truncation point")
	case len(p.Rows) > l.MaxScanRows:
		return malformed("%d rows exceed %d", len(p.Rows), l.MaxScanRows)
	}
	if len(p.Cursor) > 0 {
		m.Cursor = p.Cursor
	}
	m.More = p.More
	for i, kv := range p.Rows {
		if kv == nil {
			return malformed("row %d is missing", i)
		}
		if err := l.CheckKey(kv.Key); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
		if len(kv.Value) > l.MaxValueBytes {
			return fmt.Errorf("%w: row %d: value of %d bytes exceeds %d", core.ErrValueTooLarge, i, len(kv.Value), l.MaxValueBytes)
		}
		v := kv.Value
		if v == nil {
			v = []byte{} // NB: a live row whose value is empty; nil reads as absent
		}
		m.Rows = append(m.Rows, core.KeyValue{Key: kv.Key, Value: v})
	}
	return nil
}
