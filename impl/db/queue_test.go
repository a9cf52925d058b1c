package db

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
)

func accounts(t testing.TB) *schema.Schema {
	t.Helper()
	s, err := schema.Define([]schema.Table{{Name: "Account", Key: []string{"id"}, Columns: []schema.Column{
		{Name: "id", Kind: schema.Int64}, {Name: "balance", Kind: schema.Int64, Required: true},
		{Name: "credits", Kind: schema.Int64}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bank is accounts whose transfers debit in the sender's group and credit
// through a queue message to the receiver's.
func bank(t testing.TB, d *DB) {
	d.Handle("credit", func(tx *Tx, m Message) error {
		amount, err := strconv.ParseInt(string(m.Payload), 10, 64)
		if err != nil {
			return err
		}
		// NB: the receiver is the transaction's group; its root key is the account.
		key, err := schema.DecodeKey([]schema.Kind{schema.Int64}, tx.Group().Prefix)
		if err != nil {
			return err
		}
		id := key[0].(int64)
		a, _, err := tx.Get("Account", id)
		if err != nil {
			return err
		}
		if a == nil {
			a = schema.Row{"id": id, "balance": int64(100)} // NB: every account opens with 100
		}
		a["balance"] = a["balance"].(int64) + amount
		credits, _ := a["credits"].(int64)
		a["credits"] = credits + 1
		return tx.Put("Account", a)
	})
}

func transfer(cx context.Context, d *DB, from, to int64, amount int64) error {
	_, err := d.Update(cx, Root("Account", from), func(tx *Tx) error {
		a, _, err := tx.Get("Account", from)
		if err != nil {
			return err
		}
		if a == nil {
			a = schema.Row{"id": from, "balance": int64(100)}
		}
		a["balance"] = a["balance"].(int64) - amount
		if err := tx.Put("Account", a); err != nil {
			return err
		}
		return tx.Send(Root("Account", to), "credit", []byte(strconv.FormatInt(amount, 10)))
	})
	return err
}

// balances returns each account's balance and credit count.
func balances(t *testing.T, d *DB, n int) (total int64, credits int64) {
	t.Helper()
	for id := int64(0); id < int64(n); id++ {
		if _, err := d.View(ctx(t), Root("Account", id), core.Current, func(tx *Tx) error {
			a, _, err := tx.Get("Account", id)
			if a == nil {
				total += 100 // NB: an untouched account holds its initial 100
				return err
			}
			c, _ := a["credits"].(int64)
			total += a["balance"].(int64)
			credits += c
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	return total, credits
}

func TestQueuedTransfersAreAppliedExactlyOnce(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	const accountsN, transfersPerSite = 4, 6
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	var dbs []*DB
	for i, site := range []core.SiteID{"A", "B", "C"} {
		d := Open(c.Site(site), accounts(t), &Options{Seed: uint64(i), MaxAttempts: 500})
		bank(t, d)
		dbs = append(dbs, d)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < transfersPerSite; j++ {
				from, to := int64((i+j)%accountsN), int64((i+2*j+1)%accountsN)
				if err := transfer(cx, d, from, to, int64(j+1)); err != nil {
					errs <- err
				}
				// Racing deliverers, at every site, of every sender.
				if _, err := d.Deliver(cx, Root("Account", int64(j%accountsN))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id := int64(0); id < accountsN; id++ {
		if _, err := dbs[0].Deliver(cx, Root("Account", id)); err != nil {
			t.Fatal(err)
		}
	}
	total, credits := balances(t, dbs[1], accountsN)
	if total != 100*accountsN || credits != 3*transfersPerSite {
		t.Fatalf("total %d (want %d), %d credits applied (want %d): a message lost or applied twice", total, 100*accountsN, credits, 3*transfersPerSite)
	}
	for id := int64(0); id < accountsN; id++ {
		if n, err := dbs[2].Deliver(cx, Root("Account", id)); err != nil || n != 0 {
			t.Fatalf("redelivery applied %d (%v)", n, err)
		}
	}
}

func TestAMessageDeliveredButNotRemovedIsNotAppliedAgain(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	d := Open(c.Site("A"), accounts(t), nil)
	bank(t, d)
	if err := transfer(cx, d, 1, 2, 7); err != nil {
		t.Fatal(err)
	}
	src, _ := d.Group(Root("Account", 1))
	dest, _ := d.Group(Root("Account", 2))
	// A deliverer that dies after applying, before cleaning the outbox.
	if ok, err := d.deliverOne(cx, Message{From: src.Name, To: dest.Name, Queue: "credit", Seq: 1, Payload: []byte("7")}, false); err != nil || !ok {
		t.Fatalf("deliverOne: %v %v", ok, err)
	}
	if n, err := d.Deliver(cx, Root("Account", 1)); err != nil || n != 0 {
		t.Fatalf("second delivery applied %d (%v), want 0", n, err)
	}
	if total, credits := balances(t, d, 3); total != 300 || credits != 1 {
		t.Fatalf("total %d, credits %d", total, credits)
	}
	// An aborted sender sends nothing; an unknown queue is refused and waits.
	if _, err := d.Update(cx, Root("Account", 1), func(tx *Tx) error {
		tx.Send(Root("Account", 2), "credit", []byte("5"))
		return errors.New("changed my mind")
	}); err == nil {
		t.Fatal("abort")
	}
	if _, err := d.Update(cx, Root("Account", 1), func(tx *Tx) error { return tx.Send(Root("Account", 2), "nobody", nil) }); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Deliver(cx, Root("Account", 1)); !errors.Is(err, ErrNoHandler) || n != 0 {
		t.Fatalf("unknown queue: %d %v", n, err)
	}
	d.Handle("nobody", func(tx *Tx, m Message) error { return nil })
	if n, err := d.Deliver(cx, Root("Account", 1)); err != nil || n != 1 {
		t.Fatalf("after the handler: %d %v", n, err)
	}
	if total, credits := balances(t, d, 3); total != 300 || credits != 1 {
		t.Fatalf("total %d, credits %d", total, credits)
	}
	if _, err := d.Update(cx, Root("Account", 1), func(tx *Tx) error { return tx.Send(Root("Nope", 2), "credit", nil) }); !errors.Is(err, schema.ErrUnknownTable) {
		t.Fatalf("send to a bad group: %v", err)
	}
}
