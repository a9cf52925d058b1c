package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
)

func benchCluster(b *testing.B, onDisk bool) *Cluster {
	opts := Options{Sites: threeFull(), Seed: 1}
	if onDisk {
		opts.Dir = b.TempDir()
	}
	c, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// BenchmarkCommitOneGroup: sequential single-key transactions on one group
// from one site (current read + commit through Paxos at three sites).
func BenchmarkCommitOneGroup(b *testing.B) {
	for _, disk := range []bool{false, true} {
		b.Run(fmt.Sprintf("disk=%v", disk), func(b *testing.B) {
			c := benchCluster(b, disk)
			cl := c.Client("A")
			ctx := context.Background()
			if _, err := cl.Put(ctx, "g", []byte("k"), []byte("warm")); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := cl.Put(ctx, "g", []byte("k"), []byte("v")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCommitManyGroups: parallel writers, each on its own group, spread
// over the three sites.
func BenchmarkCommitManyGroups(b *testing.B) {
	for _, disk := range []bool{false, true} {
		b.Run(fmt.Sprintf("disk=%v", disk), func(b *testing.B) {
			c := benchCluster(b, disk)
			sites := []core.SiteID{"A", "B", "C"}
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				n := next.Add(1)
				cl := c.Client(sites[n%3])
				g := core.GroupID(fmt.Sprint("g", n))
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
