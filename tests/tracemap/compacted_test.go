package tracemap

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/cluster"
	"github.com/megastore-verified/megastore/impl/core"
)

// compactedTrace: a commits v at position 1 with b and w (c, behind, is
// invalidated), and learns it; c then installs a compacted state through
// 1 (one Learn with core.DetailCompacted) and serves a snapshot read at 1
// whose writes are all at or below its truncation point (Compacted).
func compactedTrace(through core.Position, compacted core.Position) *traceBuilder {
	const p = 1<<32 | 7
	v := core.ValueID{Site: "a", Incarnation: 1, Seq: 1}
	x := newTrace()
	x.add("a", core.TraceEvent{Action: core.ActBeginWrite, Group: g, Position: 1, Proposal: p, Value: v, Request: req(1, 9)})
	x.add("a", core.TraceEvent{Action: core.ActAcceptLeader, Group: g, Position: 1, Peer: "a", Proposal: p, Value: v})
	x.add("b", core.TraceEvent{Action: core.ActAccept, Group: g, Position: 1, Peer: "a", Proposal: p, Value: v})
	x.add("w", core.TraceEvent{Action: core.ActAccept, Group: g, Position: 1, Peer: "a", Proposal: p, Value: v})
	x.add("c", core.TraceEvent{Action: core.ActInvalidate, Group: g, Position: 1, Peer: "a", Proposal: p})
	x.add("a", core.TraceEvent{Action: core.ActCommit, Group: g, Position: 1, Proposal: p, Value: v},
		core.TraceEvent{Action: core.ActLearn, Group: g, Position: 1, Value: v})
	x.add("c", core.TraceEvent{Action: core.ActLearn, Group: g, Position: through, Detail: core.DetailCompacted},
		core.TraceEvent{Action: core.ActSnapshotRead, Group: g, Position: 1, Request: req(1, 3), Compacted: compacted})
	return x
}

// TestCompactedStateMapsToLearns: an install maps to the spec's Learn of
// each position the site had not learned, with the committed value, and a
// read at the truncated site returns the writes below its point; an
// install through a position no commit is traced at is a mapping failure,
// and so is a read that leaves out what it read below the point.
func TestCompactedStateMapsToLearns(t *testing.T) {
	rep := compactedTrace(1, 1).validate(t)
	if !rep.Valid() || rep.Validated != rep.Steps || rep.Actions["Learn"] != 2 || rep.Actions["SnapshotRead"] != 1 {
		t.Fatalf("an install and a read at the truncated site: %s, %v, %d of %d validated", rep.Summary(), rep.Actions, rep.Validated, rep.Steps)
	}
	if rep := compactedTrace(2, 1).validate(t); rep.Valid() || !strings.Contains(rep.Mapping, "no commit at g/2") {
		t.Fatalf("an install past every traced commit: %s", rep.Summary())
	}
	// Without Compacted the read claims it returned nothing at 1.
	if rep := compactedTrace(1, 0).validate(t); rep.Valid() {
		t.Fatalf("a read that names none of the writes below its point passed: %s", rep.Summary())
	}
}

// The real driver's trace validates with log truncation on (two positions
// kept): c crashes while the others write and truncate, restarts and
// catches up through their compacted state, whose install maps to the
// spec's Learns.
func TestRealDriverTraceValidatesWithTruncation(t *testing.T) {
	rec := &recorder{}
	c, err := cluster.New(cluster.Options{Sites: fiveSites, Seed: 7, OnTraceBatch: rec.record,
		Tune: func(cfg *core.Config) { cfg.InitialLeader, cfg.RetainPositions = "a", 2 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Crash("c"); err != nil {
		t.Fatal(err)
	}
	committed := workloadAt(t, c, []core.SiteID{"a", "b"}, 10)
	if err := c.Restart("c"); err != nil {
		t.Fatal(err)
	}
	committed += workloadAt(t, c, []core.SiteID{"a", "b", "c"}, 4)
	if committed == 0 {
		t.Fatal("no transaction committed: the run exercised nothing")
	}
	rep := validate(t, rec)
	if !rep.Valid() || rep.Validated != rep.Steps {
		t.Fatalf("a truncating cluster's trace did not validate: %s\n%s", rep.Summary(), strings.Join(rep.Context, "\n"))
	}
	installs := 0
	for _, b := range rec.all() {
		for _, ev := range b.Events {
			if ev.Action == core.ActLearn && ev.Detail == core.DetailCompacted {
				installs++
			}
		}
	}
	if installs == 0 {
		t.Fatal("no site installed a compacted state: the run did not exercise it")
	}
	t.Logf("%d compacted states installed", installs)
}

// workloadAt runs rounds read-modify-write transactions and current reads
// at each of sites, one after another, over two groups.
func workloadAt(t *testing.T, c *cluster.Cluster, sites []core.SiteID, rounds int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	committed := 0
	for k := range rounds {
		for _, s := range sites {
			cl := c.Client(s)
			g := core.GroupID(fmt.Sprintf("g%d", k%2))
			octx, ocancel := context.WithTimeout(ctx, time.Second)
			if _, err := cl.Transaction(octx, g, func(tx *client.Tx) error {
				v, err := tx.Get([]byte("k"))
				if err != nil {
					return err
				}
				tx.Put([]byte("k"), append(v, byte('0'+k%10)))
				return nil
			}); err == nil {
				committed++
			}
			_, _, _ = cl.Get(octx, g, []byte("k"))
			ocancel()
		}
	}
	return committed
}
