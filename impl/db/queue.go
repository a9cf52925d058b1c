package db

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
)

// Queues (§3.3.1): a transaction sends messages to other entity groups
// atomically with its own writes; each message is applied in a transaction
// of the receiving group exactly once.
//
// Layout, after a group's root key (schema uses markers 1 and 2):
//
//	0x03 destGroup seq(8 bytes)   a message waiting in the sender's outbox
//	0x04 senderGroup              in the receiver: the last seq applied from sender
//	0x05 destGroup                in the sender: the next seq to give dest
//
// Messages from one sender to one receiver are numbered 1, 2, ... in the
// sender's transactions (the counter is in the sender's group, so two
// senders' transactions conflict like any others). Deliver applies message
// seq in a transaction of the receiver only if the receiver's mark for the
// sender is seq-1, and sets it to seq in the same transaction: applied
// exactly once and in order, whoever delivers, however often, and whichever
// minority of sites has died (all state is in Paxos groups; deliverers are
// stateless and may run anywhere, concurrently). Delivered messages are then
// removed from the outbox; a crash before that only makes the next Deliver
// skip them.

const (
	markOutbox  byte = 3
	markInbox   byte = 4
	markCounter byte = 5
)

// ErrNoHandler: a message names a queue with no handler at this DB. It
// stays in the outbox, and later messages to its receiver wait behind it.
var ErrNoHandler = errors.New("db: no handler for the message's queue")

// Message is one queued message.
type Message struct {
	From, To string // group names
	Queue    string
	Seq      uint64
	Payload  []byte
}

// Handler applies a message in a transaction of its receiving group.
type Handler func(tx *Tx, m Message) error

// Handle registers the handler of queue (replacing any earlier one).
func (d *DB) Handle(queue string, h Handler) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.handlers == nil {
		d.handlers = map[string]Handler{}
	}
	d.handlers[queue] = h
}

func (d *DB) handler(queue string) Handler {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.handlers[queue]
}

func groupKey(prefix []byte, mark byte, other string) []byte {
	b := append(slices.Clone(prefix), mark)
	for _, c := range []byte(other) { // NB: group names have no 0 byte
		b = append(b, c)
	}
	return append(b, 0)
}

func readSeq(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func seqBytes(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// groupByName rebuilds a schema group from its name ("<Root>:<hex key>").
func groupByName(name string) (schema.Group, error) {
	root, hexKey, ok := strings.Cut(name, ":")
	if !ok {
		return schema.Group{}, fmt.Errorf("%w: %q is not a schema group", core.ErrMalformed, name)
	}
	prefix, err := hex.DecodeString(hexKey)
	if err != nil {
		return schema.Group{}, fmt.Errorf("%w: group %q: %v", core.ErrMalformed, name, err)
	}
	return schema.Group{Root: root, Name: name, Prefix: prefix}, nil
}

// Send queues a message to the group of to, committed with the
// transaction's writes (nothing is sent if it aborts).
func (tx *Tx) Send(to Ref, queue string, payload []byte) error {
	if err := tx.usable(true); err != nil {
		return err
	}
	dest, err := tx.d.Group(to)
	if err != nil {
		return tx.fail(err)
	}
	if len(queue) > 255 {
		return tx.fail(fmt.Errorf("%w: queue name of %d bytes", ErrTxTooLarge, len(queue)))
	}
	ck := groupKey(tx.g.Prefix, markCounter, dest.Name)
	b, _, err := tx.getRaw(ck)
	if err != nil {
		return err
	}
	seq := readSeq(b) + 1
	tx.set(ck, seqBytes(seq), false)
	v := append([]byte{byte(len(queue))}, queue...)
	tx.set(append(groupKey(tx.g.Prefix, markOutbox, dest.Name), seqBytes(seq)...), append(v, payload...), false)
	return nil
}

// Deliver applies every message waiting in the outbox of from's group, in
// order per receiver, each in a transaction of its receiver running the
// queue's handler, then removes them from the outbox. It returns how many
// messages it applied (messages another deliverer applied first are not
// counted).
func (d *DB) Deliver(ctx context.Context, from Ref) (int, error) {
	src, err := d.Group(from)
	if err != nil {
		return 0, err
	}
	var msgs []Message
	start := append(slices.Clone(src.Prefix), markOutbox)
	end := append(slices.Clone(src.Prefix), markOutbox+1)
	if _, err := d.view(ctx, src, core.Current, func(tx *Tx) error {
		var cursor []byte
		for {
			kvs, next, err := tx.scanRaw(start, end, ScanOptions{Limit: d.opts.ScanPage, Cursor: cursor})
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				m, err := decodeMessage(src, kv)
				if err != nil {
					return err
				}
				msgs = append(msgs, m)
			}
			if next == nil {
				return nil
			}
			cursor = next
		}
	}); err != nil {
		return 0, err
	}
	applied := 0
	for k, m := range msgs {
		// NB: the bug QueueLoseBatch: only the first message's handler runs.
		ok, err := d.deliverOne(ctx, m, d.opts.Bugs.QueueLoseBatch && k > 0)
		if err != nil {
			return applied, err
		}
		if ok {
			applied++
		}
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	_, err = d.update(ctx, src, func(tx *Tx) error {
		for _, m := range msgs {
			tx.set(append(groupKey(src.Prefix, markOutbox, m.To), seqBytes(m.Seq)...), nil, true)
		}
		return nil
	})
	return applied, err
}

func decodeMessage(src schema.Group, kv core.KeyValue) (Message, error) {
	rest := kv.Key[len(src.Prefix)+1:]
	i := slices.Index(rest, 0)
	if i < 0 || len(rest) != i+9 || len(kv.Value) < 1 || len(kv.Value) < 1+int(kv.Value[0]) {
		return Message{}, fmt.Errorf("%w: bad outbox entry %x", core.ErrMalformed, kv.Key)
	}
	n := int(kv.Value[0])
	return Message{From: src.Name, To: string(rest[:i]), Seq: binary.BigEndian.Uint64(rest[i+1:]),
		Queue: string(kv.Value[1 : 1+n]), Payload: kv.Value[1+n:]}, nil
}

// deliverOne applies m in its receiver unless it was applied already.
func (d *DB) deliverOne(ctx context.Context, m Message, skipHandler bool) (bool, error) {
	dest, err := groupByName(m.To)
	if err != nil {
		return false, err
	}
	h := d.handler(m.Queue)
	if h == nil {
		return false, fmt.Errorf("%w: %q (message %d from %s to %s)", ErrNoHandler, m.Queue, m.Seq, m.From, m.To)
	}
	var applied bool
	_, err = d.update(ctx, dest, func(tx *Tx) error {
		applied = false
		ik := groupKey(dest.Prefix, markInbox, m.From)
		b, _, err := tx.getRaw(ik)
		if err != nil {
			return err
		}
		switch last := readSeq(b); {
		case m.Seq <= last && !tx.d.opts.Bugs.QueueApplyTwice:
			return nil // NB: applied before, by us or another deliverer
		case m.Seq > last+1:
			return fmt.Errorf("%w: message %d from %s arrives at %s after %d", core.ErrMalformed, m.Seq, m.From, m.To, last)
		}
		if !skipHandler {
			if err := h(tx, m); err != nil {
				return err
			}
		}
		tx.set(ik, seqBytes(max(m.Seq, readSeq(b))), false)
		applied = true
		return nil
	})
	return applied && err == nil, err
}
