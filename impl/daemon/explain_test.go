package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the JSON log lines whose msg contains what.
func (l *lockedBuffer) lines(what string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.Contains(m["msg"].(string), what) {
			out = append(out, m)
		}
	}
	return out
}

func TestExplainerLogsLeaseChangesAndRateLimitsTheRest(t *testing.T) {
	var buf lockedBuffer
	x := newExplainer(slog.New(slog.NewJSONHandler(&buf, nil)))
	now := time.Unix(1000, 0)
	x.now = func() time.Time { return now }
	var burst []core.TraceEvent
	for i := range 20 {
		burst = append(burst, core.TraceEvent{Action: core.ActInvalidate, Group: "g", Position: core.Position(i + 1), Peer: "b"},
			core.TraceEvent{Action: core.ActLoseLease, Epoch: uint64(i)})
	}
	x.onTrace("a", burst)
	if n := len(buf.lines("coordinator lease lost")); n != 20 {
		t.Fatalf("%d lease-lost lines for 20 losses; lease changes are never rate-limited", n)
	}
	if got := buf.lines("coordinator lease lost")[7]["epoch"]; got != float64(7) {
		t.Fatalf("lease line without its epoch: %v", got)
	}
	inv := buf.lines("coordinator invalidated")
	if len(inv) != explainBurst || inv[0]["group"] != "g" || inv[0]["writer"] != "b" {
		t.Fatalf("%d invalidation lines (want %d): %v", len(inv), explainBurst, inv)
	}
	now = now.Add(explainWindow)
	x.onTrace("a", []core.TraceEvent{{Action: core.ActInvalidate, Group: "g", Position: 99}})
	left := buf.lines("left out")
	if len(left) != 1 || left[0]["left_out"] != float64(20-explainBurst) || left[0]["kind"] != "invalidate" {
		t.Fatalf("summary of the lines left out: %v", left)
	}
	if n := len(buf.lines("coordinator invalidated")); n != explainBurst+1 {
		t.Fatalf("a new window did not log again: %d", n)
	}
	x.onTrace("a", []core.TraceEvent{{Action: core.ActPrepare, NoOp: true, Group: "g", Position: 3},
		{Action: core.ActPrepare, Group: "g", Position: 4}, {Action: core.ActReadCatchUp, Group: "g", Position: 5},
		{Action: core.ActWaitOutLease, Group: "g", Position: 6, Peer: "c"}, {Action: core.ActRegainLease, Epoch: 9}})
	for _, what := range []string{"no-op proposal", "slow-path Prepare", "catching up", "waited out", "lease regained"} {
		if len(buf.lines(what)) != 1 {
			t.Errorf("no line for %q", what)
		}
	}
}

// A site says at start whether it restarted, with its incarnation, and
// logs its lease being regained.
func TestStartAndRestartAreExplained(t *testing.T) {
	f, err := siteconfig.Loopback([]string{"a"}, map[string]string{"a": "full"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var buf lockedBuffer
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Options{Config: f, Site: "a", DataDir: dir,
				Logger: slog.New(slog.NewJSONHandler(&buf, nil)), Ready: func() { close(ready) }})
		}()
		select {
		case <-ready:
		case err := <-done:
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(buf.lines("coordinator lease regained")) < run && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if first := buf.lines("first start"); len(first) != 1 || first[0]["incarnation"] != float64(1) {
		t.Fatalf("first start: %v", first)
	}
	if again := buf.lines("restarted from its store"); len(again) != 1 || again[0]["incarnation"] != float64(2) {
		t.Fatalf("restart: %v", again)
	}
	if n := len(buf.lines("coordinator lease regained")); n < 2 {
		t.Fatalf("%d lease-regained lines over two starts", n)
	}
}

// Counters restart with the process; the incarnation gauge tells a restart.
func TestIncarnationGauge(t *testing.T) {
	m := newMetrics("a", core.Full)
	m.observeStatus(core.Status{Incarnation: 3})
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "megastore_incarnation" {
			if v := f.GetMetric()[0].GetGauge().GetValue(); v != 3 {
				t.Fatalf("megastore_incarnation %v; want 3", v)
			}
			return
		}
	}
	t.Fatal("no megastore_incarnation series")
}
