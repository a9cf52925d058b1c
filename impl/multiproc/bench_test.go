package multiproc

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/cluster"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// The benchmarks run the same workload on helper's in-process cluster (three
// sites, Pebble on disk, in-memory transport) and on three site processes on
// loopback (gRPC, Pebble on disk), in one run, with the same tick length, so
// their ratio is the cost of processes and the wire.

var threeFull = []core.Site{{ID: "a", Kind: core.Full}, {ID: "b", Kind: core.Full}, {ID: "c", Kind: core.Full}}

// clients returns a client per site for each deployment.
func deployments(b *testing.B) map[string]func(site string) *client.Client {
	in, err := cluster.New(cluster.Options{Sites: threeFull, Seed: 1, Dir: b.TempDir(),
		TickInterval: siteconfig.DefaultTickMs * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(in.Close)
	procs := startCluster(b, "a", "b", "c")
	return map[string]func(string) *client.Client{
		"inprocess": func(s string) *client.Client { return in.Client(core.SiteID(s)) },
		"loopback":  procs.client,
	}
}

// BenchmarkCommitOneGroup: sequential single-key transactions (current read
// + commit) on one group from site a.
func BenchmarkCommitOneGroup(b *testing.B) {
	deps := deployments(b)
	for _, name := range []string{"inprocess", "loopback"} {
		b.Run(name, func(b *testing.B) {
			cl := deps[name]("a")
			ctx := context.Background()
			if _, err := cl.Put(ctx, "bench-one", []byte("k"), []byte("warm")); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := cl.Put(ctx, "bench-one", []byte("k"), []byte("v")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCommitManyGroups: 8 parallel writers per GOMAXPROCS, each on its
// own group, spread over the three sites.
func BenchmarkCommitManyGroups(b *testing.B) {
	deps := deployments(b)
	for _, name := range []string{"inprocess", "loopback"} {
		b.Run(name, func(b *testing.B) {
			sites := []string{"a", "b", "c"}
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				n := next.Add(1)
				cl := deps[name](sites[n%3])
				g := core.GroupID(fmt.Sprint("bench-many-", name, "-", n))
				ctx := context.Background()
				for pb.Next() {
					if _, err := cl.Put(ctx, g, []byte("k"), []byte("v")); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
