package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/megastore-verified/megastore/impl/core"
)

// ErrCorrupt means a stored record could not be decoded.
var ErrCorrupt = errors.New("storage: corrupt record")

const (
	kindMeta     = 'm'
	kindAcceptor = 'a'
	kindLog      = 'l'
	kindData     = 'd'
	// kindTruncated is the root row's truncation point (8 bytes): the
	// log is truncated through it (core.Durable.Truncate, Install).
	kindTruncated = 't'
)

var hardStateKey = []byte("h")

// appendEscaped appends s so that the result sorts like s and no encoded
// string is a prefix of another: 0x00 becomes 0x00 0xff, the end 0x00 0x01.
func appendEscaped(dst, s []byte) []byte {
	for _, c := range s {
		if c == 0 {
			dst = append(dst, 0, 0xff)
		} else {
			dst = append(dst, c)
		}
	}
	return append(dst, 0, 1)
}

// decodeEscaped reads an escaped string from b, returning it and the rest.
func decodeEscaped(b []byte) ([]byte, []byte, error) {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			return nil, nil, ErrCorrupt
		}
		switch b[i+1] {
		case 0xff:
			out = append(out, 0)
			i++
		case 1:
			return out, b[i+2:], nil
		default:
			return nil, nil, ErrCorrupt
		}
	}
	return nil, nil, ErrCorrupt
}

func groupPrefix(g core.GroupID) []byte {
	return appendEscaped([]byte{'g'}, []byte(g))
}

func groupKey(g core.GroupID, kind byte) []byte {
	return append(groupPrefix(g), kind)
}

func posKey(g core.GroupID, kind byte, p core.Position) []byte {
	return binary.BigEndian.AppendUint64(groupKey(g, kind), uint64(p))
}

func rowPrefix(g core.GroupID, row []byte) []byte {
	return appendEscaped(groupKey(g, kindData), row)
}

func dataKey(g core.GroupID, row []byte, p core.Position) []byte {
	return binary.BigEndian.AppendUint64(rowPrefix(g, row), ^uint64(p))
}

// parseGroupKey splits a key under 'g' into group, kind and the rest.
func parseGroupKey(k []byte) (core.GroupID, byte, []byte, error) {
	if len(k) == 0 || k[0] != 'g' {
		return "", 0, nil, ErrCorrupt
	}
	g, rest, err := decodeEscaped(k[1:])
	if err != nil || len(rest) == 0 {
		return "", 0, nil, fmt.Errorf("%w: key %q", ErrCorrupt, k)
	}
	return core.GroupID(g), rest[0], rest[1:], nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = ErrCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = ErrCorrupt
		return nil
	}
	out := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return out
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func boolByte(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func appendValue(dst []byte, v core.Value) []byte {
	dst = appendBytes(dst, []byte(v.ID.Site))
	dst = binary.AppendUvarint(dst, v.ID.Incarnation)
	dst = binary.AppendUvarint(dst, v.ID.Seq)
	dst = binary.AppendUvarint(dst, v.Timestamp)
	dst = appendBytes(dst, []byte(v.NextLeader))
	dst = binary.AppendUvarint(dst, boolByte(v.NoOp))
	dst = binary.AppendUvarint(dst, uint64(len(v.Mutations)))
	for _, m := range v.Mutations {
		dst = appendBytes(dst, m.Key)
		dst = appendBytes(dst, m.Value)
		dst = binary.AppendUvarint(dst, boolByte(m.Delete))
	}
	return dst
}

func (d *decoder) value() core.Value {
	var v core.Value
	v.ID.Site = core.SiteID(d.bytes())
	v.ID.Incarnation = d.uvarint()
	v.ID.Seq = d.uvarint()
	v.Timestamp = d.uvarint()
	v.NextLeader = core.SiteID(d.bytes())
	v.NoOp = d.uvarint() == 1
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = ErrCorrupt
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		m := core.Mutation{Key: d.bytes(), Value: d.bytes()}
		m.Delete = d.uvarint() == 1
		v.Mutations = append(v.Mutations, m)
	}
	return v
}

func encodeAcceptor(a core.AcceptorRecord) []byte {
	b := binary.AppendUvarint(nil, uint64(a.MaxBal))
	b = binary.AppendUvarint(b, boolByte(a.Voted))
	b = binary.AppendUvarint(b, uint64(a.VoteBal))
	b = appendValue(b, a.Vote)
	b = binary.AppendUvarint(b, uint64(len(a.Earlier)))
	for _, e := range a.Earlier {
		b = binary.AppendUvarint(b, uint64(e))
	}
	return b
}

func decodeAcceptor(g core.GroupID, p core.Position, b []byte) (core.AcceptorRecord, error) {
	d := decoder{b: b}
	a := core.AcceptorRecord{Group: g, Position: p}
	a.MaxBal = core.Ballot(d.uvarint())
	a.Voted = d.uvarint() == 1
	a.VoteBal = core.Ballot(d.uvarint())
	a.Vote = d.value()
	// NB: records written before Earlier existed end here.
	if d.err == nil && len(d.b) > 0 {
		n := d.uvarint()
		if d.err == nil && n > uint64(len(d.b)) {
			d.err = ErrCorrupt
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			a.Earlier = append(a.Earlier, core.Ballot(d.uvarint()))
		}
	}
	return a, d.err
}
