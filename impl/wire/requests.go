package wire

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

// ErrWrongSite: a client request names a member site other than the one that
// received it. Not retryable there: send it to the site it names.
var ErrWrongSite = errors.New("wire: request names another site")

// Bounds on client requests that the core does not configure.
const (
	// MaxReadKeys bounds the keys of one Get.
	MaxReadKeys = 1024
	// DefaultScanRows is a Scan's limit when the request gives none; the
	// most is the core's MaxScanRows.
	DefaultScanRows = 100
	// MaxLogEntries bounds one Log request's range.
	MaxLogEntries = 4096
)

// CheckSite checks the site a client request names: empty (any site), or
// this site. A name that is not a member wraps core.ErrUnknownSite; another
// member's name wraps ErrWrongSite.
func (l Limits) CheckSite(name string, self core.SiteID) error {
	if name == "" {
		return nil
	}
	id, err := ParseSiteName(name)
	if err != nil {
		return err
	}
	if !l.member(id) {
		return fmt.Errorf("%w: site %q is not a member of this cluster", core.ErrUnknownSite, id)
	}
	if id != self {
		return fmt.Errorf("%w: this is site %q, the request is for %q", ErrWrongSite, self, id)
	}
	return nil
}

func checkRequestPosition(mode core.ReadMode, p uint64) error {
	if err := checkPosition("position", p); err != nil {
		return err
	}
	if p != 0 && mode != core.Snapshot {
		return malformed("a position is only meaningful for snapshot reads, not %v reads", mode)
	}
	return nil
}

// readHeader validates what every read names: the site it is sent to, the
// group, the read mode and the position a snapshot read asks for.
func (l Limits) readHeader(site, group string, m wirepb.ReadMode, pos uint64, self core.SiteID) (core.GroupID, core.ReadMode, error) {
	if err := l.CheckSite(site, self); err != nil {
		return "", 0, err
	}
	g, err := ParseGroup(group)
	if err != nil {
		return "", 0, err
	}
	mode, err := ReadModeFromProto(m)
	if err != nil {
		return "", 0, err
	}
	if err := checkRequestPosition(mode, pos); err != nil {
		return "", 0, err
	}
	return g, mode, nil
}

// GetFromProto validates a Get and converts it to a read request.
func (l Limits) GetFromProto(p *wirepb.GetRequest, self core.SiteID) (core.ReadRequest, error) {
	if p == nil {
		return core.ReadRequest{}, malformed("request is missing")
	}
	g, mode, err := l.readHeader(p.Site, p.Group, p.Mode, p.Position, self)
	if err != nil {
		return core.ReadRequest{}, err
	}
	if len(p.Keys) > MaxReadKeys {
		return core.ReadRequest{}, malformed("%d keys exceed %d per read", len(p.Keys), MaxReadKeys)
	}
	for i, k := range p.Keys {
		if err := l.CheckKey(k); err != nil {
			return core.ReadRequest{}, fmt.Errorf("key %d: %w", i, err)
		}
	}
	return core.ReadRequest{Group: g, Keys: p.Keys, Mode: mode, Position: core.Position(p.Position)}, nil
}

// ScanFromProto validates a Scan and converts it to a read of a key range.
func (l Limits) ScanFromProto(p *wirepb.ScanRequest, self core.SiteID) (core.ReadRequest, error) {
	if p == nil {
		return core.ReadRequest{}, malformed("request is missing")
	}
	g, mode, err := l.readHeader(p.Site, p.Group, p.Mode, p.Position, self)
	if err != nil {
		return core.ReadRequest{}, err
	}
	for _, b := range []struct {
		what string
		k    []byte
	}{{"start", p.Start}, {"end", p.End}} {
		if len(b.k) > l.MaxKeyBytes {
			return core.ReadRequest{}, fmt.Errorf("%w: scan %s of %d bytes exceeds %d", core.ErrKeyTooLarge, b.what, len(b.k), l.MaxKeyBytes)
		}
	}
	if len(p.End) > 0 && bytes.Compare(p.Start, p.End) > 0 {
		return core.ReadRequest{}, malformed("scan start %q is after its end %q", p.Start, p.End)
	}
	r := core.KeyRange{Start: p.Start, Limit: int(p.Limit)}
	switch {
	case p.Limit == 0:
		r.Limit = min(DefaultScanRows, l.MaxScanRows)
	case int64(p.Limit) > int64(l.MaxScanRows):
		return core.ReadRequest{}, malformed("scan limit %d exceeds %d", p.Limit, l.MaxScanRows)
	}
	if len(p.End) > 0 {
		r.End = p.End
	}
	return core.ReadRequest{Group: g, Range: &r, Mode: mode, Position: core.Position(p.Position)}, nil
}

// CommitFromProto validates a Commit and converts it to a write request.
func (l Limits) CommitFromProto(p *wirepb.CommitRequest, self core.SiteID) (core.WriteRequest, error) {
	if p == nil {
		return core.WriteRequest{}, malformed("request is missing")
	}
	if err := l.CheckSite(p.Site, self); err != nil {
		return core.WriteRequest{}, err
	}
	g, err := ParseGroup(p.Group)
	if err != nil {
		return core.WriteRequest{}, err
	}
	if err := checkPosition("read position", p.ReadPosition); err != nil {
		return core.WriteRequest{}, err
	}
	if len(p.Mutations) == 0 {
		return core.WriteRequest{}, malformed("commit without mutations")
	}
	ms, err := l.MutationsFromProto(p.Mutations)
	if err != nil {
		return core.WriteRequest{}, err
	}
	return core.WriteRequest{Group: g, ReadPosition: core.Position(p.ReadPosition), Mutations: ms}, nil
}

// PutFromProto validates a Put and returns its group and single mutation.
func (l Limits) PutFromProto(p *wirepb.PutRequest, self core.SiteID) (core.GroupID, core.Mutation, error) {
	if p == nil {
		return "", core.Mutation{}, malformed("request is missing")
	}
	if err := l.CheckSite(p.Site, self); err != nil {
		return "", core.Mutation{}, err
	}
	g, err := ParseGroup(p.Group)
	if err != nil {
		return "", core.Mutation{}, err
	}
	ms, err := l.MutationsFromProto([]*wirepb.Mutation{{Key: p.Key, Value: p.Value, Delete: p.Delete}})
	if err != nil {
		return "", core.Mutation{}, err
	}
	return g, ms[0], nil
}

// LogFromProto validates a Log request: positions From..To inclusive.
func (l Limits) LogFromProto(p *wirepb.LogRequest, self core.SiteID) (core.GroupID, core.Position, core.Position, error) {
	if p == nil {
		return "", 0, 0, malformed("request is missing")
	}
	if err := l.CheckSite(p.Site, self); err != nil {
		return "", 0, 0, err
	}
	g, err := ParseGroup(p.Group)
	if err != nil {
		return "", 0, 0, err
	}
	switch {
	case p.From == 0:
		return "", 0, 0, malformed("log positions start at 1, not 0")
	case p.To < p.From:
		return "", 0, 0, malformed("log range %d..%d is empty", p.From, p.To)
	case p.To-p.From >= MaxLogEntries:
		return "", 0, 0, malformed("log range %d..%d exceeds %d entries", p.From, p.To, MaxLogEntries)
	}
	if err := checkPosition("to", p.To); err != nil {
		return "", 0, 0, err
	}
	return g, core.Position(p.From), core.Position(p.To), nil
}

// StatusFromProto validates a Status request; the group is optional.
func (l Limits) StatusFromProto(p *wirepb.StatusRequest, self core.SiteID) (core.GroupID, error) {
	if p == nil {
		return "", malformed("request is missing")
	}
	if err := l.CheckSite(p.Site, self); err != nil {
		return "", err
	}
	if p.Group == "" {
		return "", nil
	}
	return ParseGroup(p.Group)
}

// BatchFromProto validates every message of a batch for delivery to self,
// all or nothing: a batch with one bad message is refused whole, so a peer
// that sends garbage gets its stream closed instead of half its batch used.
func (l Limits) BatchFromProto(p *wirepb.Batch, self core.SiteID, maxMessages int) ([]core.Message, error) {
	if p == nil {
		return nil, malformed("batch is missing")
	}
	if len(p.Messages) > maxMessages {
		return nil, malformed("batch of %d messages exceeds %d", len(p.Messages), maxMessages)
	}
	out := make([]core.Message, 0, len(p.Messages))
	for i, pm := range p.Messages {
		m, err := MessageFromProto(pm, l)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		if m.To != self {
			return nil, fmt.Errorf("%w: message %d is for site %q, delivered to %q", ErrWrongSite, i, m.To, self)
		}
		out = append(out, m)
	}
	return out, nil
}
