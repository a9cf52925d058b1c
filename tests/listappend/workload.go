package listappend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
	"github.com/megastore-verified/megastore/impl/schema"
)

// Schema is the workload's: a root table G (one row per group, never
// written) and its child table List of repeated int64 values.
func Schema() *schema.Schema {
	s, err := schema.Define([]schema.Table{
		{Name: "G", Key: []string{"g"}, Columns: []schema.Column{{Name: "g", Kind: schema.Int64}}},
		{Name: "List", Root: "G", Key: []string{"g", "k"}, Columns: []schema.Column{
			{Name: "g", Kind: schema.Int64}, {Name: "k", Kind: schema.String},
			{Name: "values", Kind: schema.Int64, Repeated: true}}},
	}, nil)
	if err != nil {
		panic(err) // NB: a constant schema; the tests cover it
	}
	return s
}

// Config shapes a run.
type Config struct {
	// Groups and Keys: transactions pick one group of Groups and use keys
	// of Keys in it (a Megastore transaction lives in one group).
	Groups, Keys int
	// Txns is the number of transactions per DB (each DB runs its own
	// goroutine, at its own site).
	Txns int
	// MaxOps bounds the micro-operations of one transaction.
	MaxOps int
	Seed   uint64
	// FirstGroup offsets group ids, so runs can use fresh groups.
	FirstGroup int64
	// Broken reads each list for an append in a separate, earlier
	// read-only transaction: a lost-update bug the checker must catch.
	Broken bool
}

// Run runs the workload on dbs concurrently and returns the history.
func Run(ctx context.Context, dbs []*db.DB, cfg Config) []Txn {
	var next atomic.Int64 // NB: unique appended values
	var mu sync.Mutex
	var history []Txn
	var wg sync.WaitGroup
	for w, d := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := Client{DB: d, Rng: rand.New(rand.NewPCG(cfg.Seed, uint64(w))), Cfg: cfg, Next: func() int64 { return next.Add(1) }}
			for i := 0; i < cfg.Txns; i++ {
				var t Txn
				c.Do(ctx, &t)
				mu.Lock()
				t.ID = len(history) + 1
				history = append(history, t)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return history
}

// Client runs the workload's transactions at one DB, one at a time.
type Client struct {
	DB  *db.DB
	Rng *rand.Rand
	Cfg Config
	// Next returns a value never appended before (unique in the run).
	Next func() int64
	// Retired, if set, is asked at every run of a transaction whether its
	// group was retired (a driver moving to fresh groups): then the
	// transaction stops before it writes, and fails with ErrRetired.
	Retired func(g int64) bool
}

// ErrRetired: the transaction's group was retired before it wrote.
var ErrRetired = errors.New("listappend: the group was retired before the transaction wrote")

// Do runs one transaction and records it in t. t is Unknown, with the
// operations of the run being committed, from before the commit is sent
// until it returns: a caller cut off mid-transaction (the simulator ends
// a run) keeps it as a transaction that may have happened.
func (c *Client) Do(ctx context.Context, t *Txn) {
	cfg, rng, d := c.Cfg, c.Rng, c.DB
	g := cfg.FirstGroup + rng.Int64N(int64(cfg.Groups))
	type plan struct {
		append bool
		key    string
	}
	var plans []plan
	for j := 0; j < 1+rng.IntN(cfg.MaxOps); j++ {
		plans = append(plans, plan{rng.IntN(2) == 0, fmt.Sprint("k", rng.IntN(cfg.Keys))})
	}
	t.Status = Unknown
	_, err := d.Update(ctx, db.Root("G", g), func(tx *db.Tx) error {
		var ops []Op // NB: only the last run's operations happened
		t.Ops = nil
		if c.Retired != nil && c.Retired(g) {
			return ErrRetired
		}
		for _, p := range plans {
			values, err := readList(ctx, d, tx, g, p.key, cfg.Broken && p.append)
			if err != nil {
				return err
			}
			if !p.append {
				ops = append(ops, Op{Key: fmt.Sprint(g, "/", p.key), List: values})
				continue
			}
			v := c.Next()
			if err := tx.Put("List", schema.Row{"g": g, "k": p.key, "values": append(values, v)}); err != nil {
				return err
			}
			ops = append(ops, Op{Append: true, Key: fmt.Sprint(g, "/", p.key), Value: v})
		}
		t.Ops = ops
		return nil
	})
	t.Status = OK
	if err != nil {
		t.Status = Unknown
		// NB: db.Update returns an error of fn before it writes, and it
		// reruns fn only after a definite conflict: nothing was written.
		if client.Classify(err) == client.Failed || errors.Is(err, ErrRetired) {
			t.Status = Failed
		}
	}
}

// readList reads a list in tx, or (broken) in a separate earlier view.
func readList(ctx context.Context, d *db.DB, tx *db.Tx, g int64, key string, broken bool) ([]int64, error) {
	var row schema.Row
	var err error
	if broken {
		_, err = d.View(ctx, db.Root("G", g), core.Inconsistent, func(v *db.Tx) error {
			row, _, err = v.Get("List", g, key)
			return err
		})
	} else {
		row, _, err = tx.Get("List", g, key)
	}
	if err != nil || row == nil {
		return nil, err
	}
	values, _ := row["values"].([]int64)
	return values, nil
}
