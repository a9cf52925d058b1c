package cluster

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/storage"
)

// BenchmarkMillionGroups is issue 14's scale benchmark: three full sites in
// process, each on Pebble in a temporary directory, holding N entity groups
// that were each written once; the sites start from that, then take 100
// writes a second spread over the groups. It reports the Go heap in use
// after GC once the sites have started and again after the writes (what
// the replicas hold, Pebble's Go-side memory included), the latter per
// group and site, the time the three sites took to start (node.Start, one
// site after another), and the writes' latency. Each size runs twice:
// held=all loads every group at start and keeps it (node.Config.HeldGroups
// negative: how every site ran before groups were loaded lazily), and
// held=default loads groups as they are named and forgets idle ones beyond
// the default bound.
//
//	go test -tags megastore_bugs -run '^$' -bench 'MillionGroups/groups=1000000/' -benchtime 1x -timeout 2h ./impl/cluster/
//
// groups=10000 runs in seconds. MEGASTORE_SCALE_SECONDS sets how long the
// writes run (default 10).
func BenchmarkMillionGroups(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		for _, held := range []int{-1, 0} {
			name := "default"
			if held < 0 {
				name = "all"
			}
			b.Run(fmt.Sprintf("groups=%d/held=%s", n, name), func(b *testing.B) { benchScale(b, n, held) })
		}
	}
}

func scaleGroup(i int) core.GroupID { return core.GroupID(fmt.Sprintf("user%08d", i)) }

// seedScale writes n groups, each one committed write at position 1 (voted
// at ballot 0 by every site, known committed and applied), straight into
// site A's store and copies it for B and C: the state three sites reach
// after n writes from A, without running n writes through Paxos.
func seedScale(b *testing.B, dir string, n int) {
	st, err := storage.Open(filepath.Join(dir, "A"))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Save(core.Durable{HardState: &core.HardState{Incarnation: 1}}, false); err != nil {
		b.Fatal(err)
	}
	const batch = 10_000
	for lo := 0; lo < n; lo += batch {
		var d core.Durable
		var entries []core.Entry
		for i := lo; i < min(n, lo+batch); i++ {
			g := scaleGroup(i)
			v := core.Value{ID: core.ValueID{Site: "A", Incarnation: 1, Seq: uint64(i + 1)},
				NextLeader: "A", Timestamp: 1,
				Mutations: []core.Mutation{{Key: []byte("k"), Value: []byte(fmt.Sprintf("seed-%012d", i))}}}
			d.Acceptor = append(d.Acceptor, core.AcceptorRecord{Group: g, Position: 1, Voted: true, Vote: v})
			e := core.Entry{Group: g, Position: 1, Value: v}
			d.Chosen = append(d.Chosen, e)
			entries = append(entries, e)
		}
		if err := st.Save(d, false); err != nil {
			b.Fatal(err)
		}
		if err := st.Apply(entries); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Close(); err != nil { // NB: Close flushes what was not synced
		b.Fatal(err)
	}
	for _, s := range []string{"B", "C"} {
		if err := copyDir(filepath.Join(dir, "A"), filepath.Join(dir, s)); err != nil {
			b.Fatal(err)
		}
	}
}

func copyDir(from, to string) error {
	return filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// heapInUse is the Go heap in use after a full collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func benchScale(b *testing.B, n, held int) {
	seconds := 10
	if s := os.Getenv("MEGASTORE_SCALE_SECONDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("MEGASTORE_SCALE_SECONDS=%q: want a whole number of seconds", s)
		}
		seconds = v
	}
	for b.Loop() {
		dir := b.TempDir()
		seedScale(b, dir, n)
		base := heapInUse()
		t0 := time.Now()
		c, err := New(Options{Sites: threeFull(), Seed: 1, Dir: dir,
			Driver: func(cfg *node.Config) { cfg.HeldGroups = held }})
		if err != nil {
			b.Fatal(err)
		}
		startup := time.Since(t0)
		started := heapInUse()

		// 100 writes a second, each a one-key transaction (current read and
		// commit) on a random group from a random site, open loop.
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+30)*time.Second)
		rng := rand.New(rand.NewPCG(1, 2))
		sites := []core.SiteID{"A", "B", "C"}
		var mu sync.Mutex
		var lat []time.Duration
		var failed int
		var wg sync.WaitGroup
		tick := time.NewTicker(10 * time.Millisecond)
		for range 100 * seconds {
			<-tick.C
			g, s := scaleGroup(rng.IntN(n)), sites[rng.IntN(3)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.Now()
				_, err := c.Client(s).Put(ctx, g, []byte("k"), []byte("written"))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed++
					return
				}
				lat = append(lat, time.Since(t))
			}()
		}
		tick.Stop()
		wg.Wait()
		cancel()
		after := heapInUse()
		c.Close()

		slices.Sort(lat)
		pct := func(q float64) float64 {
			if len(lat) == 0 {
				return 0
			}
			return float64(lat[int(q*float64(len(lat)-1))]) / 1e6
		}
		b.ReportMetric(startup.Seconds(), "startup-s")
		b.ReportMetric(float64(started-min(base, started))/(1<<20), "heap-started-MiB")
		b.ReportMetric(float64(after-min(base, after))/(1<<20), "heap-after-MiB")
		// NB: per group and site: each of the three replicas holds the group.
		b.ReportMetric(float64(after-min(base, after))/float64(3*n), "B/group/site")
		b.ReportMetric(float64(len(lat))/float64(seconds), "writes/s")
		b.ReportMetric(float64(failed), "failed")
		b.ReportMetric(pct(0.5), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
	}
}
