package listappend

import (
	"context"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/cluster"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/db"
)

func runOnCluster(t *testing.T, cfg Config) Report {
	t.Helper()
	c, err := cluster.New(cluster.Options{Seed: 1, Sites: []core.Site{{ID: "A", Kind: core.Full}, {ID: "B", Kind: core.Full}, {ID: "C", Kind: core.Full}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var dbs []*db.DB
	for i, s := range []core.SiteID{"A", "B", "C"} {
		dbs = append(dbs, db.Open(c.Site(s), Schema(), &db.Options{Seed: uint64(i), MaxAttempts: 50}))
	}
	h := Run(ctx, dbs, cfg)
	rep := Check(h)
	oks := 0
	for _, tx := range h {
		if tx.Status == OK {
			oks++
		}
	}
	t.Logf("%d transactions (%d ok): %v", len(h), oks, rep)
	return rep
}

func TestListAppendOnMegastoreHasNoAnomaly(t *testing.T) {
	rep := runOnCluster(t, Config{Groups: 2, Keys: 3, Txns: 40, MaxOps: 4, Seed: 7})
	if !rep.Valid() {
		t.Fatal(rep)
	}
	if rep.Edges == 0 {
		t.Fatal("no dependency edges: the workload checked nothing")
	}
}

func TestListAppendCatchesALostUpdateBug(t *testing.T) {
	rep := runOnCluster(t, Config{Groups: 1, Keys: 1, Txns: 40, MaxOps: 3, Seed: 7, Broken: true})
	if rep.Valid() {
		t.Fatal("a read-modify-write outside the transaction went unnoticed")
	}
}
