package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
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

// countingStorage counts a site's Saves that asked for an fsync.
type countingStorage struct {
	core.Storage
	syncs *atomic.Int64
}

func (s countingStorage) Save(d core.Durable, sync bool) error {
	if sync && !d.IsEmpty() {
		s.syncs.Add(1)
	}
	return s.Storage.Save(d, sync)
}

// BenchmarkChosenFsync compares, side by side on on-disk Pebble stores,
// chosen records synced (core.Config.SyncChosen, as before issue #14) with
// chosen records riding on the next synced Ready: one client's write
// latency (ns/op), and sixteen clients' throughput (writes/s), all at one
// writer site, each client on its own group. fsyncs/write counts the
// cluster's synced Saves per acknowledged write.
func BenchmarkChosenFsync(b *testing.B) {
	for _, clients := range []int{1, 16} {
		for _, syncChosen := range []bool{true, false} {
			b.Run(fmt.Sprintf("clients=%d/syncChosen=%v", clients, syncChosen), func(b *testing.B) {
				var syncs atomic.Int64
				c, err := New(Options{Sites: threeFull(), Seed: 1, Dir: b.TempDir(),
					Tune: func(cfg *core.Config) { cfg.SyncChosen = syncChosen },
					Driver: func(cfg *node.Config) {
						cfg.Storage = countingStorage{Storage: cfg.Storage, syncs: &syncs}
					}})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(c.Close)
				cl := c.Client("A")
				ctx := context.Background()
				for n := range clients {
					if _, err := cl.Put(ctx, core.GroupID(fmt.Sprint("g", n)), []byte("k"), []byte("warm")); err != nil {
						b.Fatal(err)
					}
				}
				var next, writes atomic.Int64
				syncs.Store(0)
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				work := make(chan struct{}, b.N)
				for range b.N {
					work <- struct{}{}
				}
				close(work)
				for range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						g := core.GroupID(fmt.Sprint("g", next.Add(1)-1))
						for range work {
							if _, err := cl.Put(ctx, g, []byte("k"), []byte("v")); err != nil {
								b.Error(err)
								return
							}
							writes.Add(1)
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(writes.Load())/elapsed.Seconds(), "writes/s")
				b.ReportMetric(float64(syncs.Load())/float64(max(writes.Load(), 1)), "fsyncs/write")
			})
		}
	}
}
