package db

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
)

// Two-phase commit across entity groups (§3.3.2; the paper gives no
// protocol, this one is ours). It is the expensive exception: at least
// 2n+1 Paxos writes for n groups, and a participant group is blocked for
// other writers from its prepare until the decision is applied.
//
//  1. Read: fn runs with one Tx per group, each reading at its group's
//     current position, writes buffered.
//  2. Prepare, per group in name order: a transaction that commits only if
//     the group is still at the position fn read (else: conflict, abort,
//     rerun) and writes an intent (0x06 after the root key): the
//     transaction id and the group's mutations. Writers (Update) of a group
//     with an intent wait for it to be settled.
//  3. Decide: the decision is one key in the transaction's own group
//     TwoPhaseGroup(id), written only if absent ("first decision wins"):
//     commit, unless someone already wrote abort.
//  4. Apply, per group: replace the intent by its mutations.
//
// Recovery needs no coordinator state outside Paxos: an intent names its
// decision group. Whoever meets an intent settles it: a decided intent is
// rolled forward (commit) or dropped (abort); an undecided one is waited for
// (IntentWaits reruns with backoff), then aborted by writing abort to its
// decision group, which the coordinator's own decide then honours. Readers
// honour intents: a View rolls a committed intent forward before reading;
// an undecided or aborted intent is not visible (the data rows do not hold
// it). So a coordinator that crashes anywhere leaves a transaction that is
// entirely applied or entirely not, once anyone touches its groups.

const markIntent byte = 6

var (
	// ErrAborted: a two-phase transaction was aborted (another party
	// aborted its intent, or a group changed after fn read it, after
	// MaxAttempts runs).
	ErrAborted = errors.New("db: two-phase transaction aborted")
	// errSettled: an intent was settled or waited for; rerun from a fresh
	// read.
	errSettled = errors.New("db: intent settled; rerun")
)

// IntentWaits is how many reruns an Update waits for an undecided intent
// before aborting it.
const IntentWaits = 8

// TwoPhaseGroup names the decision group of a two-phase transaction.
func TwoPhaseGroup(id string) core.GroupID { return core.GroupID("2pc/" + id) }

func intentKey(g schema.Group) []byte { return append(slices.Clone(g.Prefix), markIntent) }

type intent struct {
	id        string
	mutations []core.Mutation
}

func encodeIntent(in intent) []byte {
	b := binary.AppendUvarint(nil, uint64(len(in.id)))
	b = append(b, in.id...)
	b = binary.AppendUvarint(b, uint64(len(in.mutations)))
	for _, m := range in.mutations {
		flag := byte(0)
		if m.Delete {
			flag = 1
		}
		b = append(b, flag)
		b = binary.AppendUvarint(b, uint64(len(m.Key)))
		b = append(b, m.Key...)
		b = binary.AppendUvarint(b, uint64(len(m.Value)))
		b = append(b, m.Value...)
	}
	return b
}

func decodeIntent(b []byte) (intent, error) {
	bad := fmt.Errorf("%w: bad two-phase intent", core.ErrMalformed)
	next := func() []byte {
		n, m := binary.Uvarint(b)
		if m <= 0 || uint64(len(b)-m) < n {
			b = nil
			return nil
		}
		out := b[m : m+int(n)]
		b = b[m+int(n):]
		return out
	}
	var in intent
	id := next()
	if id == nil {
		return in, bad
	}
	in.id = string(id)
	count, m := binary.Uvarint(b)
	if m <= 0 || count > uint64(len(b)) {
		return in, bad
	}
	b = b[m:]
	for i := uint64(0); i < count; i++ {
		if len(b) < 1 {
			return in, bad
		}
		del := b[0] == 1
		b = b[1:]
		k := next()
		v := next()
		if k == nil || v == nil {
			return in, bad
		}
		in.mutations = append(in.mutations, core.Mutation{Key: slices.Clone(k), Value: slices.Clone(v), Delete: del})
	}
	return in, nil
}

const (
	decisionCommit = "commit"
	decisionAbort  = "abort"
)

var decisionKey = []byte("decision")

// decide writes want as the decision of id unless one is there, and returns
// the decision that holds.
func (d *DB) decide(ctx context.Context, id, want string) (string, error) {
	var got string
	_, err := d.updateIntents(ctx, schema.Group{Name: string(TwoPhaseGroup(id))}, false, func(tx *Tx) error {
		b, found, err := tx.getRaw(decisionKey)
		if err != nil {
			return err
		}
		if found {
			got = string(b)
			return nil
		}
		got = want
		tx.set(decisionKey, []byte(want), false)
		return nil
	})
	return got, err
}

// decision reads the decision of id ("" if none yet).
func (d *DB) decision(ctx context.Context, id string) (string, error) {
	var got string
	_, err := d.view(ctx, schema.Group{Name: string(TwoPhaseGroup(id))}, core.Current, func(tx *Tx) error {
		b, _, err := tx.getRaw(decisionKey)
		got = string(b)
		return err
	})
	return got, err
}

// settle applies (commit) or drops (abort) the intent of id in g, if it is
// still there.
func (d *DB) settle(ctx context.Context, g schema.Group, id, decision string) error {
	_, err := d.updateIntents(ctx, g, false, func(tx *Tx) error {
		b, found, err := tx.getRaw(intentKey(g))
		if err != nil || !found {
			return err
		}
		in, err := decodeIntent(b)
		if err != nil || in.id != id {
			return err
		}
		if decision == decisionCommit {
			for _, m := range in.mutations {
				tx.set(m.Key, m.Value, m.Delete)
			}
		}
		tx.set(intentKey(g), nil, true)
		return nil
	})
	return err
}

// honourIntent settles, waits for or aborts another transaction's intent
// in tx's group before tx runs; errSettled means rerun.
func (d *DB) honourIntent(tx *Tx) error {
	b, found, err := tx.getRaw(intentKey(tx.g))
	if err != nil || !found {
		return err
	}
	in, err := decodeIntent(b)
	if err != nil {
		return err
	}
	dec, err := d.decision(tx.ctx, in.id)
	if err != nil {
		return err
	}
	if dec == "" {
		if tx.attempt <= IntentWaits {
			return errSettled // NB: the update loop backs off, then looks again
		}
		if dec, err = d.decide(tx.ctx, in.id, decisionAbort); err != nil {
			return err
		}
	}
	if err := d.settle(tx.ctx, tx.g, in.id, dec); err != nil {
		return err
	}
	return errSettled
}

// rollForward applies a committed intent a reader meets; errSettled means
// read again.
func (d *DB) rollForward(tx *Tx) error {
	b, found, err := tx.getRaw(intentKey(tx.g))
	if err != nil || !found {
		return err
	}
	in, err := decodeIntent(b)
	if err != nil {
		return err
	}
	dec, err := d.decision(tx.ctx, in.id)
	if err != nil || dec != decisionCommit {
		return err // NB: undecided or aborted: invisible, read as is
	}
	if err := d.settle(tx.ctx, tx.g, in.id, dec); err != nil {
		return err
	}
	return errSettled
}

var errCrashed = errors.New("db: test crash of a two-phase coordinator")

// TwoPhase runs fn atomically over the groups of roots: fn gets one Tx per
// root, in the order given; either every group's writes commit or none do.
// On a conflict fn reruns (at most MaxAttempts times). Slow and blocking:
// see twophase.go.
func (d *DB) TwoPhase(ctx context.Context, roots []Ref, fn func(txs []*Tx) error) (Result, error) {
	groups := make([]schema.Group, len(roots))
	seen := map[string]bool{}
	for i, r := range roots {
		g, err := d.Group(r)
		if err != nil {
			return Result{}, err
		}
		if seen[g.Name] {
			return Result{}, fmt.Errorf("%w: group %s named twice", core.ErrMalformed, g.Name)
		}
		seen[g.Name] = true
		groups[i] = g
	}
	var out Result
	if d.refused != nil {
		return out, d.refused
	}
	for attempt := 1; attempt <= d.opts.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := d.backoff(ctx, attempt); err != nil {
				return out, err
			}
		}
		out.Attempts = attempt
		err := d.twoPhaseOnce(ctx, groups, attempt, fn)
		if errors.Is(err, ErrAborted) || errors.Is(err, errSettled) {
			continue
		}
		return out, err
	}
	return out, fmt.Errorf("%w: %d attempts: %w", ErrAborted, d.opts.MaxAttempts, client.ErrTooManyAttempts)
}

func (d *DB) twoPhaseOnce(ctx context.Context, groups []schema.Group, attempt int, fn func(txs []*Tx) error) error {
	// 1. Read, each group at its current position, once no intent is there.
	txs := make([]*Tx, len(groups))
	for i, g := range groups {
		res, err := d.site.Read(ctx, core.ReadRequest{Group: core.GroupID(g.Name), Mode: core.Current})
		if err != nil {
			return err
		}
		txs[i] = d.newTx(ctx, g, core.Current, res.Position, false, attempt)
		if err := d.honourIntent(txs[i]); err != nil {
			return err // NB: errSettled reruns
		}
	}
	err := fn(txs)
	for _, tx := range txs {
		tx.done = true
		if err == nil {
			err = tx.err
		}
	}
	if err != nil {
		return err
	}
	var rawID [12]byte
	ids := d.opts.IDs
	if ids == nil {
		ids = crand.Reader
	}
	if _, err := io.ReadFull(ids, rawID[:]); err != nil {
		return fmt.Errorf("db: two-phase transaction id: %w", err)
	}
	id := hex.EncodeToString(rawID[:])
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return groups[order[a]].Name < groups[order[b]].Name })
	// 2. Prepare.
	var prepared []int
	abort := func(cause error) error {
		dec, err := d.decide(ctx, id, decisionAbort)
		if err != nil {
			return err
		}
		for _, i := range prepared {
			if err := d.settle(ctx, groups[i], id, dec); err != nil {
				return err
			}
		}
		return fmt.Errorf("%w: %w", ErrAborted, cause)
	}
	for _, i := range order {
		muts, err := txs[i].mutations()
		if err != nil {
			return abort(err)
		}
		// NB: a group fn only read gets an empty intent: it must stay
		// unchanged until the decision like any other.
		v := encodeIntent(intent{id: id, mutations: muts})
		if len(v) > d.opts.MaxValueBytes {
			return abort(fmt.Errorf("%w: intent of %d bytes in %s exceeds %d", ErrTxTooLarge, len(v), groups[i].Name, d.opts.MaxValueBytes))
		}
		readAt := txs[i].pos
		_, err = d.updateIntents(ctx, groups[i], false, func(tx *Tx) error {
			if tx.pos != readAt {
				return fmt.Errorf("%w: group %s moved from position %d to %d", core.ErrConflict, groups[i].Name, readAt, tx.pos)
			}
			tx.set(intentKey(groups[i]), v, false)
			return nil
		})
		if err != nil {
			if errors.Is(err, core.ErrConflict) {
				return abort(err)
			}
			if _, aerr := d.decide(ctx, id, decisionAbort); aerr == nil {
				// NB: best effort; a group that may hold our intent is
				// settled by whoever meets it (the decision is abort).
				for _, j := range prepared {
					d.settle(ctx, groups[j], id, decisionAbort)
				}
			}
			return err
		}
		prepared = append(prepared, i)
	}
	if d.crashAfter == "prepared" {
		return errCrashed
	}
	// 3. Decide.
	dec, err := d.decide(ctx, id, decisionCommit)
	if err != nil {
		return err // NB: unknown outcome; the intents say what happened
	}
	if dec != decisionCommit {
		return abort(errors.New("an intent was aborted by another party"))
	}
	if d.crashAfter == "decided" {
		return errCrashed
	}
	// 4. Apply.
	for k, i := range order {
		dec := decisionCommit
		if d.opts.Bugs.TwoPhaseOneSide && k > 0 {
			dec = decisionAbort // NB: the bug: the intent is dropped unapplied
		}
		if err := d.settle(ctx, groups[i], id, dec); err != nil {
			return err // NB: committed; whoever meets the intent rolls it forward
		}
	}
	return nil
}
