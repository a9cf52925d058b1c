package tracemap

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/cluster"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

var fiveSites = []core.Site{{ID: "a", Kind: core.Full}, {ID: "b", Kind: core.Full}, {ID: "c", Kind: core.Full},
	{ID: "w", Kind: core.Witness}, {ID: "r", Kind: core.ReadOnly}}

// recorder keeps trace batches as daemon --trace-dir writes them: through
// JSON, so what is validated is what a file would hold.
type recorder struct {
	mu      sync.Mutex
	batches []node.TraceBatch
}

func (r *recorder) record(b node.TraceBatch) {
	line, err := json.Marshal(b)
	if err != nil {
		panic(err)
	}
	var back node.TraceBatch
	if err := json.Unmarshal(line, &back); err != nil {
		panic(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, back)
}

func (r *recorder) all() []node.TraceBatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]node.TraceBatch(nil), r.batches...)
}

func startCluster(t *testing.T, bugs core.Bugs) (*cluster.Cluster, *recorder) {
	return startClusterWith(t, bugs, nil)
}

// startClusterWith is startCluster with each driver's config adjusted.
func startClusterWith(t *testing.T, bugs core.Bugs, driver func(*node.Config)) (*cluster.Cluster, *recorder) {
	t.Helper()
	rec := &recorder{}
	c, err := cluster.New(cluster.Options{Sites: fiveSites, Seed: 7, OnTraceBatch: rec.record,
		Tune: func(cfg *core.Config) { cfg.InitialLeader = "a"; cfg.Bugs = bugs }, Driver: driver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, rec
}

// workload runs read-modify-write transactions, current and snapshot reads
// at every full site while faults runs alongside; it returns how many
// transactions committed.
func workload(t *testing.T, c *cluster.Cluster, rounds int, faults func()) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := 0
	for _, s := range []core.SiteID{"a", "b", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c.Client(s)
			for k := range rounds {
				g := core.GroupID(fmt.Sprintf("g%d", k%2))
				octx, ocancel := context.WithTimeout(ctx, time.Second)
				_, err := cl.Transaction(octx, g, func(tx *client.Tx) error {
					v, err := tx.Get([]byte("k"))
					if err != nil {
						return err
					}
					tx.Put([]byte("k"), append(v, byte('0'+k%10)))
					return nil
				})
				if err == nil {
					mu.Lock()
					committed++
					mu.Unlock()
				}
				_, _, _ = cl.Get(octx, g, []byte("k"))
				_, _, _ = cl.SnapshotGet(octx, g, []byte("k"))
				ocancel()
			}
		}()
	}
	faults()
	wg.Wait()
	return committed
}

func validate(t *testing.T, rec *recorder) NodeReport {
	t.Helper()
	rep, err := ValidateNodes(rec.all(), fiveSites, "a")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", rep.Summary())
	return rep
}

// The real driver (node.Driver), as a daemon runs it, records a trace that
// maps to spec steps and validates, across a partition and a crash and
// restart of a site.
func TestRealDriverTraceValidates(t *testing.T) {
	testRealDriverTraceValidates(t, nil, "Commit", "Accept", "ReadLocal", "Learn", "RegainLease")
}

// The same with every site holding one idle group at most: the workload's
// two groups are forgotten and loaded again all the time (and come back
// invalid, so reads take ReadFindPos), and the trace still validates.
func TestRealDriverTraceValidatesWithEviction(t *testing.T) {
	c := testRealDriverTraceValidates(t, func(cfg *node.Config) { cfg.HeldGroups = 1 },
		"Commit", "Accept", "ReadFindPos", "Learn", "RegainLease")
	// NB: a failsafe poll, not a timing assertion: once the sites are quiet
	// each holds one group at most.
	for i := 0; ; i++ {
		held := 0
		for _, s := range []core.SiteID{"a", "b", "c"} {
			st, err := c.Driver(s).Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			held = max(held, len(st.Groups))
		}
		if held <= 1 {
			break
		}
		if i == 1000 {
			t.Fatalf("a site still holds %d groups, HeldGroups is 1", held)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testRealDriverTraceValidates(t *testing.T, driver func(*node.Config), actions ...string) *cluster.Cluster {
	c, rec := startClusterWith(t, core.Bugs{}, driver)
	committed := workload(t, c, 10, func() {
		time.Sleep(100 * time.Millisecond)
		c.Network().Isolate("c")
		time.Sleep(300 * time.Millisecond)
		c.Network().Heal()
		if err := c.Crash("b"); err != nil {
			t.Error(err)
		}
		time.Sleep(200 * time.Millisecond)
		if err := c.Restart("b"); err != nil {
			t.Error(err)
		}
	})
	// Once more after the restart, so b's new incarnation takes steps.
	committed += workload(t, c, 6, func() {})
	if committed == 0 {
		t.Fatal("no transaction committed: the run exercised nothing")
	}
	rep := validate(t, rec)
	if !rep.Valid() {
		t.Fatalf("a correct cluster's trace did not validate: %s\n%s", rep.Summary(), strings.Join(rep.Context, "\n"))
	}
	if rep.PerSite["b"].Incarnations != 2 {
		t.Errorf("site b: %d incarnations in the trace, want 2 (a crash and restart)", rep.PerSite["b"].Incarnations)
	}
	for _, a := range actions {
		if !hasStep(rep, a) {
			t.Errorf("no %s step in the trace: the run did not exercise it", a)
		}
	}
	return c
}

func hasStep(rep NodeReport, action string) bool { return rep.Actions[action] > 0 }

// A core that commits without invalidating the coordinator of a full site
// that missed the write is caught by the real driver's trace.
func TestRealDriverTraceCatchesSkipInvalidation(t *testing.T) {
	c, rec := startCluster(t, core.Bugs{SkipInvalidation: true})
	c.Network().Isolate("c")
	committed := workload(t, c, 3, func() {})
	if committed == 0 {
		t.Fatal("no transaction committed with c cut off: the run exercised nothing")
	}
	rep := validate(t, rec)
	if rep.Valid() {
		t.Fatal("SkipInvalidation: the trace validated, want a failure")
	}
	if !strings.Contains(rep.Failure, "Commit") {
		t.Errorf("failure does not name Commit: %s", rep.Failure)
	}
}

// Events a restart found lost are dropped before validation; a marker that
// names a batch the trace does not hold is an error, not silently ignored.
func TestDropLost(t *testing.T) {
	batches := []node.TraceBatch{
		{Site: "b", Incarnation: 1, Seq: 1, UnixNanos: 10, Events: []core.TraceEvent{{Action: core.ActLearn}, {Action: core.ActAccept}}},
		{Site: "b", Incarnation: 2, Seq: 0, UnixNanos: 20, Lost: &node.LostEvents{Incarnation: 1, Seq: 1, Events: []int{1}}},
	}
	out, n, err := dropLost(batches)
	if err != nil || n != 1 || len(out) != 1 || len(out[0].Events) != 1 || out[0].Events[0].Action != core.ActLearn {
		t.Fatalf("dropLost = %+v, %d, %v", out, n, err)
	}
	batches[1].Lost.Seq = 5
	if _, _, err := dropLost(batches); err == nil {
		t.Fatal("a marker naming a missing batch was accepted")
	}
}

// Merge refuses a site's batches out of order: a trace that cannot be
// ordered cannot be validated.
func TestMergeRefusesBatchesOutOfOrder(t *testing.T) {
	_, err := Merge([]node.TraceBatch{{Site: "a", Incarnation: 1, Seq: 2, UnixNanos: 1}, {Site: "a", Incarnation: 1, Seq: 1, UnixNanos: 2}})
	if err == nil {
		t.Fatal("batch 1 stamped after batch 2 was merged")
	}
}
