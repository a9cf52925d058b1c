package cluster

import (
	"context"
	"fmt"
	"sync"
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
func BenchmarkPipelinedWrites(b *testing.B) {
	for _, sc := range []struct{ sites, clients int }{{1, 16}, {1, 128}, {3, 16}, {3, 128}} {
		clients := sc.clients
		b.Run(fmt.Sprintf("sites=%d/clients=%d", sc.sites, clients), func(b *testing.B) {
			depths := []int{1, 2, 3}
			cs := make([]*Cluster, len(depths))
			for i, depth := range depths {
				sites := threeFull()[:sc.sites]
				c, err := New(Options{Sites: sites, Seed: 1, Dir: b.TempDir(),
					Driver: func(cfg *node.Config) { cfg.PipelineDepth = depth }})
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
