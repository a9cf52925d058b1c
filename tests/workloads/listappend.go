package workloads

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/schema"
	"github.com/megastore-verified/megastore/tests/listappend"
)

// listAppend runs tests/listappend's transactions; its bug switch reads a
// list for an append outside the transaction (a lost update). The groups
// come in generations (rotation): generation k is groups 2k and 2k+1, and
// new transactions move to fresh groups (fresh lists) before a group
// outgrows the trace checker's bounds.
type listAppend struct {
	cfg listappend.Config
	rot *rotation

	mu      sync.Mutex
	next    int64
	history []*listappend.Txn
	final   bool
}

func newListAppend(bug string) *listAppend {
	l := &listAppend{cfg: listappend.Config{Groups: 2, Keys: 3, MaxOps: 4, Broken: bug == "ListAppendLostUpdate"}}
	l.rot = newRotation(groupNames(l.Schema(), "G", int64(l.cfg.Groups)))
	return l
}

func (l *listAppend) Name() string           { return "listappend" }
func (l *listAppend) Schema() *schema.Schema { return listappend.Schema() }
func (l *listAppend) Open(site client.Site, opts db.Options) *db.DB {
	return open(site, opts, l.Schema(), l.rot, db.Bugs{})
}

func (l *listAppend) record() *listappend.Txn {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := &listappend.Txn{ID: len(l.history) + 1, Status: listappend.Unknown}
	l.history = append(l.history, t)
	return t
}

func (l *listAppend) Op(ctx context.Context, d *db.DB, rng *rand.Rand) error {
	gen := l.rot.current()
	cfg := l.cfg
	cfg.FirstGroup = gen * int64(cfg.Groups)
	c := listappend.Client{DB: d, Rng: rng, Cfg: cfg, Next: func() int64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.next++
		return l.next
	}, Retired: func(int64) bool { return l.rot.retired(gen) }}
	t := l.record()
	c.Do(ctx, t)
	if t.Status != listappend.OK {
		return errNotOK
	}
	return nil
}

var errNotOK = errors.New("listappend: transaction did not commit")

// Final reads every list of every group of every generation, one
// transaction per group: the final reads give the checker each list's
// whole order.
func (l *listAppend) Final(ctx context.Context, d *db.DB) error {
	for g := int64(0); g < l.rot.generations()*int64(l.cfg.Groups); g++ {
		t := l.record()
		_, err := d.Update(ctx, db.Root("G", g), func(tx *db.Tx) error {
			t.Ops = nil
			for k := range l.cfg.Keys {
				key := fmt.Sprint("k", k)
				row, _, err := tx.Get("List", g, key)
				if err != nil {
					return err
				}
				values, _ := row["values"].([]int64)
				t.Ops = append(t.Ops, listappend.Op{Key: fmt.Sprint(g, "/", key), List: values})
			}
			return nil
		})
		if err != nil {
			t.Status = listappend.Failed
			return fmt.Errorf("final read of group %d: %w", g, err)
		}
		t.Status = listappend.OK
	}
	l.mu.Lock()
	l.final = true
	l.mu.Unlock()
	return nil
}

func (l *listAppend) Check() Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := make([]listappend.Txn, len(l.history))
	ok := 0
	for i, t := range l.history {
		h[i] = *t
		if t.Status == listappend.OK {
			ok++
		}
	}
	rep := listappend.Check(h)
	r := Result{Checked: rep.Edges, Summary: fmt.Sprintf("%d transactions (%d ok), %d dependency edges, %d groups in %d generations",
		rep.Txns, ok, rep.Edges, l.rot.generations()*int64(l.cfg.Groups), l.rot.generations())}
	for _, a := range rep.Anomalies {
		r.Anomalies = append(r.Anomalies, a.Kind+": "+a.Detail)
	}
	if !l.final {
		r.Anomalies = append(r.Anomalies, "no final read (the final phase did not finish)")
	}
	return r
}
