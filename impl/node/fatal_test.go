package node

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
)

// A second value learned at a position whose chosen value the site knows
// is an assertion failure: the driver stops with an error naming the
// group, the position and both values, before persisting or sending
// anything of that Ready, and its trace still shows the divergence for the
// checkers. Without the stop the site would go on serving its first value
// as if nothing had happened.
func TestSecondChosenValueStopsTheDriver(t *testing.T) {
	cfg, st := siteA(t, core.Site{ID: "A", Kind: core.Full}, core.Site{ID: "B", Kind: core.Full}, core.Site{ID: "C", Kind: core.Full})
	var mu sync.Mutex
	var traced []core.TraceEvent
	d, err := Start(Config{Core: cfg, Storage: st, Transport: dropTransport{}, Clock: NewManualClock(),
		OnTraceBatch: func(b TraceBatch) { mu.Lock(); traced = append(traced, b.Events...); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	first := core.Value{ID: core.ValueID{Site: "B", Incarnation: 1, Seq: 7},
		Mutations: []core.Mutation{{Key: []byte("k"), Value: []byte("b")}}}
	second := core.Value{ID: core.ValueID{Site: "C", Incarnation: 1, Seq: 9},
		Mutations: []core.Mutation{{Key: []byte("k"), Value: []byte("c")}}}
	d.Deliver(core.Message{Type: core.MsgCommit, From: "B", To: "A", Group: "g", Position: 1, Value: &first})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.Read(ctx, core.ReadRequest{Group: "g", Mode: core.Snapshot, Keys: [][]byte{[]byte("k")}}); err != nil {
		t.Fatalf("the first value: %v", err)
	}
	d.Deliver(core.Message{Type: core.MsgCommit, From: "C", To: "A", Group: "g", Position: 1, Value: &second})
	select {
	case <-d.done:
	case <-ctx.Done():
		t.Fatal("the driver runs on after learning a second value at position 1")
	}
	err = d.Err()
	if !errors.Is(err, core.ErrDivergence) {
		t.Fatalf("the driver stopped with %v, want core.ErrDivergence", err)
	}
	for _, want := range []string{`group "g"`, "position 1", first.ID.String(), second.ID.String()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
	if _, err := d.Read(ctx, core.ReadRequest{Group: "g", Mode: core.Snapshot}); !errors.Is(err, ErrStopped) {
		t.Errorf("a read after the stop: %v, want ErrStopped", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if countAction(traced, "Divergence") != 1 {
		t.Errorf("the trace does not show the divergence once: %+v", traced)
	}
}
