package db

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
)

// move transfers amount from one account to another through 2PC.
func move(cx context.Context, d *DB, from, to, amount int64) error {
	_, err := d.TwoPhase(cx, []Ref{Root("Account", from), Root("Account", to)}, func(txs []*Tx) error {
		for i, id := range []int64{from, to} {
			a, _, err := txs[i].Get("Account", id)
			if err != nil {
				return err
			}
			if a == nil {
				a = schema.Row{"id": id, "balance": int64(100)}
			}
			delta := amount
			if i == 0 {
				delta = -amount
			} else {
				c, _ := a["credits"].(int64)
				a["credits"] = c + 1
			}
			a["balance"] = a["balance"].(int64) + delta
			if err := txs[i].Put("Account", a); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

func TestTwoPhaseTransfersConserveTheTotal(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	const accountsN, perSite = 4, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	done := 0
	for i, site := range []core.SiteID{"A", "B", "C"} {
		d := Open(c.Site(site), accounts(t), &Options{Seed: uint64(i), MaxAttempts: 200})
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for j := 0; j < perSite; j++ {
				from := rng.Int64N(accountsN)
				to := (from + 1 + rng.Int64N(accountsN-1)) % accountsN
				err := move(cx, d, from, to, int64(j+1))
				// Plain single-group writers race with the transfers too.
				_, werr := d.Update(cx, Root("Account", to), func(tx *Tx) error {
					a, _, err := tx.Get("Account", to)
					if err != nil || a == nil {
						return err
					}
					return tx.Put("Account", a)
				})
				mu.Lock()
				if err == nil {
					done++
				} else {
					errs = append(errs, err)
				}
				if werr != nil {
					errs = append(errs, werr)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	total, credits := balances(t, Open(c.Site("B"), accounts(t), nil), accountsN)
	if total != 100*accountsN || credits != int64(done) {
		t.Fatalf("total %d (want %d), %d credits for %d transfers", total, 100*accountsN, credits, done)
	}
	t.Logf("%d transfers", done)
}

func TestACrashedCoordinatorsTransactionIsAllOrNothing(t *testing.T) {
	for _, tc := range []struct {
		crash      string
		wantFrom   int64 // the balance of account 1 afterwards
		viewFirst  bool
		wantCredit int64
	}{
		{"prepared", 100, false, 0},
		{"decided", 90, true, 1},
		{"decided", 90, false, 1},
	} {
		t.Run(tc.crash, func(t *testing.T) { crashCase(t, tc.crash, tc.wantFrom, tc.viewFirst, tc.wantCredit) })
	}
}

func crashCase(t *testing.T, crash string, wantFrom int64, viewFirst bool, wantCredit int64) {
	c := newCluster(t)
	cx := ctx(t)
	d := Open(c.Site("A"), accounts(t), nil)
	d.crashAfter = crash
	if err := move(cx, d, 1, 2, 10); !errors.Is(err, errCrashed) {
		t.Fatalf("crash after %s: %v", crash, err)
	}
	other := Open(c.Site("B"), accounts(t), &Options{BackoffBase: 1})
	if viewFirst {
		// A reader honours the committed intent: it sees the transfer.
		if _, err := other.View(cx, Root("Account", 2), core.Current, func(tx *Tx) error {
			a, _, err := tx.Get("Account", 2)
			if err == nil && (a == nil || a["balance"] != int64(110)) {
				t.Errorf("after a decided crash a reader sees %v, want balance 110", a)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	} else {
		// A writer of account 1 settles the intent (waiting, then
		// aborting an undecided one) and then runs.
		if _, err := other.Update(cx, Root("Account", 1), func(tx *Tx) error {
			return tx.Put("Account", schema.Row{"id": 1, "balance": wantFrom})
		}); err != nil {
			t.Fatal(err)
		}
	}
	total, credits := balances(t, other, 3)
	if total != 300 || credits != wantCredit {
		t.Fatalf("crash after %s: total %d, credits %d, want 300 and %d", crash, total, credits, wantCredit)
	}
}

func TestTwoPhaseBadInput(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	d := Open(c.Site("A"), accounts(t), nil)
	if _, err := d.TwoPhase(cx, []Ref{Root("Account", 1), Root("Account", 1)}, func([]*Tx) error { return nil }); !errors.Is(err, core.ErrMalformed) {
		t.Fatalf("a group twice: %v", err)
	}
	if _, err := d.TwoPhase(cx, []Ref{Root("Account", 1), Root("Account", 2)}, func(txs []*Tx) error {
		txs[0].Put("Account", schema.Row{"id": 1, "balance": int64(1)})
		return txs[1].Put("Account", schema.Row{"id": 1, "balance": int64(1)}) // NB: account 1 is not in txs[1]'s group
	}); !errors.Is(err, ErrWrongGroup) {
		t.Fatalf("a write in the wrong group: %v", err)
	}
	if total, _ := balances(t, d, 3); total != 300 {
		t.Fatalf("a refused transaction changed the total to %d", total)
	}
}
