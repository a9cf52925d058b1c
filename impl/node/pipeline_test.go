package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
)

// stallThenDie blocks the next non-empty Save until released and then
// fails it without writing anything: a process killed inside a Save that
// never reached the disk.
type stallThenDie struct {
	core.Storage
	mu      sync.Mutex
	armed   bool
	stalled chan struct{}
	release chan struct{}
}

func (s *stallThenDie) Save(d core.Durable, sync bool) error {
	s.mu.Lock()
	armed := s.armed && !d.IsEmpty()
	if armed {
		s.armed = false
	}
	s.mu.Unlock()
	if armed {
		close(s.stalled)
		<-s.release
		return errors.New("killed inside Save")
	}
	return s.Storage.Save(d, sync)
}

func (s *stallThenDie) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = true
	s.stalled, s.release = make(chan struct{}), make(chan struct{})
}

// A pipelined driver steps on while a Save runs, so when the process dies
// inside Save N, Ready N+1 may be built or even handed over too. Its steps
// must not be in the trace: the driver records a Ready's trace only just
// before its Save, after the previous Save returned, so the one Ready of
// the trace that may be lost is still the last one, and Forgotten finds
// exactly what was lost (the vote of the dying Save) and nothing forgotten.
// A driver that recorded each Ready when it took it would trace Ready N+1
// too: N's lost vote would then lie before the last Ready and read as a
// durability bug.
func TestCrashWithReadiesInFlightLosesOnlyTheLastTraced(t *testing.T) {
	for _, depth := range []int{2, 3} {
		t.Run(fmt.Sprintf("depth=%d", depth), func(t *testing.T) {
			cfg, mem := siteA(t, core.Site{ID: "A", Kind: core.Full})
			st := &stallThenDie{Storage: mem}
			clock := NewManualClock()
			var mu sync.Mutex
			var trace []TraceBatch
			d, err := Start(Config{Core: cfg, Storage: st, Transport: dropTransport{}, Clock: clock,
				PipelineDepth: depth,
				OnTraceBatch:  func(b TraceBatch) { mu.Lock(); trace = append(trace, b); mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			clock.Advance(1)
			if _, err := d.Read(ctx, core.ReadRequest{Group: "g1", Mode: core.Current}); err != nil {
				t.Fatal(err)
			}
			st.arm()
			var once sync.Once
			release := func() { once.Do(func() { close(st.release) }) }
			defer release() // NB: before Stop, which waits for the Save
			go func() {
				_, _ = d.Write(ctx, core.WriteRequest{Group: "g1", Mutations: []core.Mutation{{Key: []byte("k"), Value: []byte("v")}}})
			}()
			<-st.stalled // Ready N: the vote at g1/1
			// Stepped while Save N runs: into Ready N+1, which a depth of 3
			// hands over at once.
			second := make(chan error, 1)
			stepped := make(chan struct{})
			go func() {
				req := core.WriteRequest{Group: "g2", Mutations: []core.Mutation{{Key: []byte("k"), Value: []byte("v")}}}
				_, err := d.await(ctx, func(r *core.Replica) (id core.RequestID, err error) {
					defer close(stepped)
					err = d.loaded(req.Group, func() error { id, err = r.ProposeWrite(req); return err })
					return id, err
				})
				second <- err
			}()
			select {
			case <-stepped:
			case <-ctx.Done():
				t.Fatal("a write was not stepped while a Save ran")
			}
			status, err := d.Status(ctx)
			if err != nil || status.InFlight != 2 {
				t.Fatalf("Status while a Save ran: %v, %d requests in flight, want 2", err, status.InFlight)
			}
			release()
			<-second
			if d.Err() == nil {
				t.Fatal("the driver survived a failed Save")
			}
			durable, err := mem.Load()
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, b := range trace {
				for _, ev := range b.Events {
					if ev.Group == "g2" {
						t.Fatalf("a step of Ready N+1 (%s at g2) is in the trace although Save N died", ev.Action)
					}
				}
			}
			lost, forgot := Forgotten(trace, durable)
			if len(forgot) != 0 {
				t.Fatalf("a dying Save read as a durability bug: %v", forgot)
			}
			var lostVote bool
			for _, l := range lost {
				for _, b := range trace {
					if b.Incarnation == l.Incarnation && b.Seq == l.Seq {
						for _, i := range l.Events {
							lostVote = lostVote || b.Events[i].Action == core.ActAcceptLeader && b.Events[i].Group == "g1"
						}
					}
				}
			}
			if !lostVote {
				t.Fatalf("the vote of the dying Save is not found lost: %+v", lost)
			}
		})
	}
}
