package db

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
)

// TestTransfersSurviveACrashedSite runs 2PC transfers and queued transfers
// from sites A and B while site C crashes and restarts: whatever the
// outcome of each transfer (an error may be an unknown outcome), the bank
// total is conserved once every outbox is delivered, and no queued credit
// is applied twice.
func TestTransfersSurviveACrashedSite(t *testing.T) {
	c := newCluster(t)
	cx := ctx(t)
	const accountsN, perSite = 4, 12
	var wg sync.WaitGroup
	var dbs []*DB
	for i, site := range []core.SiteID{"A", "B"} {
		d := Open(c.Site(site), accounts(t), &Options{Seed: uint64(i), MaxAttempts: 200})
		bank(t, d)
		dbs = append(dbs, d)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			for j := 0; j < perSite; j++ {
				from := rng.Int64N(accountsN)
				to := (from + 1 + rng.Int64N(accountsN-1)) % accountsN
				opCtx, cancel := context.WithTimeout(cx, 5*time.Second)
				var err error
				if j%2 == 0 {
					err = move(opCtx, d, from, to, 1)
				} else {
					err = transfer(opCtx, d, from, to, 1)
					d.Deliver(opCtx, Root("Account", from))
				}
				cancel()
				if err != nil {
					t.Logf("transfer %d at site %d (%v outcome): %v", j, i, client.Classify(err), err)
				}
			}
		}()
	}
	// NB: the crash lands somewhere in the run; no assertion depends on where.
	time.Sleep(20 * time.Millisecond)
	if err := c.Crash("C"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := c.Restart("C"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for id := int64(0); id < accountsN; id++ {
		if _, err := dbs[0].Deliver(cx, Root("Account", id)); err != nil {
			t.Fatal(err)
		}
	}
	d := Open(c.Site("C"), accounts(t), nil)
	total, _ := balances(t, d, accountsN)
	if total != 100*accountsN {
		t.Fatalf("total %d, want %d", total, 100*accountsN)
	}
}
