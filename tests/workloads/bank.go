package workloads

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/schema"
)

// Bank: accounts, one per entity group, start with initialBalance each (an
// absent row is an untouched account). A transfer moves an amount between
// two accounts in one two-phase transaction, only if the payer can afford
// it; a read reads every balance in one read-only two-phase transaction,
// whose prepare fails if any group moved since it was read, so a committed
// read is a consistent cut. The accounts come in generations (rotation):
// generation k is the bank of accounts 4k..4k+3, its own total conserved;
// new operations move to a fresh bank before an account's group outgrows
// the trace checker's bounds.
type bank struct {
	bug string
	rot *rotation

	mu        sync.Mutex
	transfers []*transfer
	reads     []bankRead // committed reads of every balance of a generation
	indexes   []string   // local index mismatches those reads found
	final     [][]int64  // per generation
}

type bankRead struct {
	gen      int64
	balances []int64
}

const (
	bankAccounts   = 4
	initialBalance = 100
)

type transfer struct {
	from, to int64
	amount   int64
	status   Status
	retired  bool // stopped by a rotation before it wrote
}

var (
	errInsufficient = errors.New("bank: insufficient funds")
	// errRetired: the operation's generation was retired before it wrote
	// anything; it stops (nothing was sent).
	errRetired = errors.New("workloads: the generation was retired before the operation wrote")
)

func newBank(bug string) *bank {
	b := &bank{bug: bug}
	b.rot = newRotation(groupNames(b.Schema(), "Account", bankAccounts))
	return b
}

func (b *bank) Name() string { return "bank" }

func (b *bank) Schema() *schema.Schema {
	s, err := schema.Define([]schema.Table{
		{Name: "Account", Key: []string{"acct"}, Columns: []schema.Column{
			{Name: "acct", Kind: schema.Int64}, {Name: "balance", Kind: schema.Int64}}},
	}, []schema.Index{
		// A local index, written in the same transaction as the rows (in
		// every group a transfer's two-phase commit touches): every read of
		// all balances checks it equals the rows it indexes.
		{Name: "AccountByBalance", Table: "Account", Columns: []string{"balance"}},
	})
	if err != nil {
		panic(err) // NB: a constant schema; the tests cover it
	}
	return s
}

func (b *bank) Open(site client.Site, opts db.Options) *db.DB {
	return open(site, opts, b.Schema(), b.rot,
		db.Bugs{TwoPhaseOneSide: b.bug == "TwoPhaseOneSide", IndexKeepsStale: b.bug == "IndexKeepsStale"})
}

func balance(tx *db.Tx, acct int64) (int64, error) {
	row, found, err := tx.Get("Account", acct)
	if err != nil || !found {
		return initialBalance, err
	}
	v, _ := row["balance"].(int64)
	return v, nil
}

func (b *bank) Op(ctx context.Context, d *db.DB, rng *rand.Rand) error {
	gen := b.rot.current()
	if rng.IntN(4) == 0 {
		return b.readAll(ctx, d, gen)
	}
	t := &transfer{from: rng.Int64N(bankAccounts), amount: 1 + rng.Int64N(40)}
	t.to = gen*bankAccounts + (t.from+1+rng.Int64N(bankAccounts-1))%bankAccounts
	t.from += gen * bankAccounts
	b.mu.Lock()
	b.transfers = append(b.transfers, t)
	b.mu.Unlock()
	_, err := d.TwoPhase(ctx, []db.Ref{db.Root("Account", t.from), db.Root("Account", t.to)}, func(txs []*db.Tx) error {
		if b.rot.retired(gen) {
			return errRetired
		}
		from, err := balance(txs[0], t.from)
		if err != nil {
			return err
		}
		to, err := balance(txs[1], t.to)
		if err != nil {
			return err
		}
		if from < t.amount {
			return errInsufficient
		}
		if err := txs[0].Put("Account", schema.Row{"acct": t.from, "balance": from - t.amount}); err != nil {
			return err
		}
		return txs[1].Put("Account", schema.Row{"acct": t.to, "balance": to + t.amount})
	})
	st := statusOf(err)
	switch {
	case errors.Is(err, errInsufficient), errors.Is(err, errRetired):
		// NB: fn refused before the prepare: nothing was written.
		st, err, t.retired = Failed, nil, errors.Is(err, errRetired)
	case errors.Is(err, db.ErrAborted):
		st = Failed // NB: an abort decision is final: nothing was applied
	}
	b.mu.Lock()
	t.status = st
	b.mu.Unlock()
	return err
}

func (b *bank) readAll(ctx context.Context, d *db.DB, gen int64) error {
	roots := make([]db.Ref, bankAccounts)
	for i := range roots {
		roots[i] = db.Root("Account", gen*bankAccounts+int64(i))
	}
	var got []int64
	var mismatch []string
	_, err := d.TwoPhase(ctx, roots, func(txs []*db.Tx) error {
		if b.rot.retired(gen) {
			return errRetired
		}
		got = make([]int64, len(txs))
		mismatch = nil
		for i, tx := range txs {
			acct := gen*bankAccounts + int64(i)
			v, err := balance(tx, acct)
			if err != nil {
				return err
			}
			got[i] = v
			if err := tx.CheckIndexes(); errors.Is(err, db.ErrIndexMismatch) {
				mismatch = append(mismatch, fmt.Sprintf("account %d: %v", acct, err))
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		b.mu.Lock()
		b.reads = append(b.reads, bankRead{gen, got})
		b.indexes = append(b.indexes, mismatch...)
		b.mu.Unlock()
	}
	if errors.Is(err, errRetired) {
		return nil
	}
	return err
}

// Final settles every account's group of every generation (an Update
// settles any two-phase intent left there), then reads each balance with a
// current read; nothing else runs, so the reads are a consistent cut.
func (b *bank) Final(ctx context.Context, d *db.DB) error {
	gens := b.rot.generations()
	final := make([][]int64, gens)
	for gen := range gens {
		bal, err := b.finalGen(ctx, d, gen)
		if err != nil {
			return err
		}
		final[gen] = bal
	}
	b.mu.Lock()
	b.final = final
	b.mu.Unlock()
	return nil
}

func (b *bank) finalGen(ctx context.Context, d *db.DB, gen int64) ([]int64, error) {
	final := make([]int64, bankAccounts)
	for i := range final {
		acct := gen*bankAccounts + int64(i)
		if _, err := d.Update(ctx, db.Root("Account", acct), func(*db.Tx) error { return nil }); err != nil {
			return nil, fmt.Errorf("settling account %d: %w", acct, err)
		}
		if _, err := d.View(ctx, db.Root("Account", acct), core.Current, func(tx *db.Tx) error {
			v, err := balance(tx, acct)
			final[i] = v
			if err != nil {
				return err
			}
			if err := tx.CheckIndexes(); errors.Is(err, db.ErrIndexMismatch) {
				b.mu.Lock()
				b.indexes = append(b.indexes, fmt.Sprintf("final read of account %d: %v", acct, err))
				b.mu.Unlock()
			} else if err != nil {
				return err
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("reading account %d: %w", acct, err)
		}
	}
	return final, nil
}

func (b *bank) Check() Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	var r Result
	judge := func(what string, gen int64, bal []int64) {
		sum := int64(0)
		for i, v := range bal {
			sum += v
			if v < 0 {
				r.Anomalies = append(r.Anomalies, fmt.Sprintf("%s: account %d has balance %d", what, gen*bankAccounts+int64(i), v))
			}
		}
		if sum != bankAccounts*initialBalance {
			r.Anomalies = append(r.Anomalies, fmt.Sprintf("%s: total %d, want %d (balances %v)", what, sum, bankAccounts*initialBalance, bal))
		}
	}
	for i, rd := range b.reads {
		judge(fmt.Sprintf("read %d (generation %d)", i+1, rd.gen), rd.gen, rd.balances)
	}
	for _, m := range b.indexes {
		r.Anomalies = append(r.Anomalies, "local index differs from its rows: "+m)
	}
	if b.final == nil {
		r.Anomalies = append(r.Anomalies, "no final read (the final phase did not finish)")
	} else {
		for gen, bal := range b.final {
			judge(fmt.Sprintf("final read of generation %d", gen), int64(gen), bal)
		}
	}
	var count [3]int
	retired := 0
	for _, t := range b.transfers {
		count[t.status]++
		if t.retired {
			retired++
		}
	}
	r.Checked = count[OK] + len(b.reads)
	r.Summary = fmt.Sprintf("%d transfers (%d ok, %d failed or refused of which %d stopped by a rotation, %d unknown), %d committed reads of every balance, %d generations of %d accounts, final %v",
		len(b.transfers), count[OK], count[Failed], retired, count[Unknown], len(b.reads), len(b.final), bankAccounts, lastFinal(b.final))
	return r
}

// lastFinal is the final balances of the last generation (the summary's).
func lastFinal(final [][]int64) []int64 {
	if len(final) == 0 {
		return nil
	}
	return final[len(final)-1]
}
