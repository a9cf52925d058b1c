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

// BenchmarkPipelinedWrites: write throughput of three sites on Pebble on
// disk (real fsyncs), with each driver unpipelined (node.Config.
// PipelineDepth 1: a Ready is saved, sent, applied and answered before the
// replica steps anything more) and pipelined (depth 2 and 3: the replica
// steps on while a Save runs). Each round runs the same writes on every
// configuration in turn, so machine noise falls on all alike; the ratios
// are throughput over the unpipelined one. Clients write their own group
// each, all through site A (the busiest site's disk sets the pace).
//
// This machine's disk syncs in about 0.2 ms; fsync=2ms adds 2 ms to every
// synced Save (slowSync), as a disk without a volatile-write cache or a
// network block device takes, to show the overlap where the disk, not
// the CPU, sets the pace.
func BenchmarkPipelinedWrites(b *testing.B) {
	for _, sc := range []struct {
		sites, clients int
		fsync          time.Duration
	}{{1, 16, 0}, {1, 128, 0}, {3, 16, 0}, {3, 128, 0}, {3, 16, 2 * time.Millisecond}, {3, 128, 2 * time.Millisecond}} {
		clients := sc.clients
		name := fmt.Sprintf("sites=%d/clients=%d", sc.sites, clients)
		if sc.fsync > 0 {
			name += fmt.Sprintf("/fsync=%v", sc.fsync)
		}
		b.Run(name, func(b *testing.B) {
			depths := []int{1, 2, 3}
			cs := make([]*Cluster, len(depths))
			invals := make([]atomic.Int64, len(depths))
			for i, depth := range depths {
				sites := threeFull()[:sc.sites]
				inval := &invals[i]
				c, err := New(Options{Sites: sites, Seed: 1, Dir: b.TempDir(),
					OnTrace: func(_ core.SiteID, evs []core.TraceEvent) {
						for _, ev := range evs {
							if ev.Action == core.ActInvalidate {
								inval.Add(1)
							}
						}
					},
					Driver: func(cfg *node.Config) {
						cfg.PipelineDepth = depth
						if sc.fsync > 0 {
							cfg.Storage = slowSync{cfg.Storage.(core.GroupStorage), sc.fsync}
						}
					}})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(c.Close)
				cs[i] = c
				// NB: warm each client's group (its first write loads it and
				// waits for the lease).
				if err := writeRound(c, clients, 1, 0); err != nil {
					b.Fatal(err)
				}
			}
			const perClient = 10
			spent := make([]time.Duration, len(depths))
			for j := range invals {
				invals[j].Store(0)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j, c := range cs {
					start := time.Now()
					if err := writeRound(c, clients, perClient, i+1); err != nil {
						b.Fatal(err)
					}
					spent[j] += time.Since(start)
				}
			}
			writes := float64(b.N * clients * perClient)
			for j, depth := range depths {
				b.ReportMetric(writes/spent[j].Seconds(), fmt.Sprintf("writes/s@depth%d", depth))
				// NB: a vote later than AcceptGraceTicks costs the writer an
				// Invalidate round (the slow path): it counts too.
				b.ReportMetric(float64(invals[j].Load())/writes, fmt.Sprintf("inval/write@depth%d", depth))
				if j > 0 {
					b.ReportMetric(spent[0].Seconds()/spent[j].Seconds(), fmt.Sprintf("x@depth%d", depth))
				}
			}
		})
	}
}

// writeRound has each of clients write its own group n times through site
// A, one write after another.
func writeRound(c *Cluster, clients, n, round int) error {
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c.Client("A")
			g := core.GroupID(fmt.Sprint("g", k))
			for i := range n {
				if _, err := cl.Put(context.Background(), g, []byte("k"), []byte(fmt.Sprint(round, "/", i))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// slowSync adds a fixed delay to every synced Save that writes something.
type slowSync struct {
	core.GroupStorage
	delay time.Duration
}

func (s slowSync) Save(d core.Durable, sync bool) error {
	if err := s.GroupStorage.Save(d, sync); err != nil {
		return err
	}
	if sync && !d.IsEmpty() {
		time.Sleep(s.delay)
	}
	return nil
}
