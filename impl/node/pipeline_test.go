package node

import (
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
			var mu sync.Mutex
			var trace []TraceBatch
			d, _, ctx := startAlone(t, Config{Core: cfg, Storage: st, PipelineDepth: depth,
				OnTraceBatch: func(b TraceBatch) { mu.Lock(); trace = append(trace, b); mu.Unlock() }}, 10*time.Second)
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

// truncStorage stalls the Save of a chosen entry, then the Save after it,
// each when armed; it records whether a Save truncating through minTrunc
// or beyond began before the read at readAt was served.
type truncStorage struct {
	core.GroupStorage
	readAt, minTrunc core.Position

	mu                       sync.Mutex
	stallChosen, stallNext   chan struct{} // non-nil: armed; closed by the test
	chosenStalled, nextStall chan struct{}
	armNext                  bool
	readServed, early        bool
	truncBegun               chan struct{}
}

func (s *truncStorage) Save(d core.Durable, sync bool) error {
	s.mu.Lock()
	var wait chan struct{}
	switch {
	case s.stallChosen != nil && len(d.Chosen) > 0:
		wait, s.stallChosen = s.stallChosen, nil
		close(s.chosenStalled)
		s.armNext = true
	case s.armNext:
		s.armNext = false
		wait = s.stallNext
		close(s.nextStall)
	}
	for _, tr := range d.Truncate {
		if tr.Through >= s.minTrunc {
			s.early = s.early || !s.readServed
			select {
			case <-s.truncBegun:
			default:
				close(s.truncBegun)
			}
		}
	}
	s.mu.Unlock()
	if wait != nil {
		<-wait
	}
	return s.GroupStorage.Save(d, sync)
}

func (s *truncStorage) Read(g core.GroupID, keys [][]byte, at core.Position) ([][]byte, error) {
	if at == s.readAt {
		// NB: give a driver that would truncate under this read the
		// chance to; a correct one begins no such Save until the read is
		// served, so the timer only decides when to let go.
		select {
		case <-s.truncBegun:
		case <-time.After(200 * time.Millisecond):
		}
	}
	vals, err := s.GroupStorage.Read(g, keys, at)
	if at == s.readAt {
		s.mu.Lock()
		s.readServed = true
		s.mu.Unlock()
	}
	return vals, err
}

// A Ready that truncates removes data versions the reads of the Readies
// before it may still need, and the replica only keeps those of its
// pending results (core/doc.go, item 4). With PipelineDepth 3 a Ready
// holding a snapshot read at position 1 can be out at the persister when
// the Advance of the Ready before it truncates through 2: the driver must
// take that Ready back and serve its read before the truncation is saved.
func TestTruncationWaitsForTheReadsOfReadiesInFlight(t *testing.T) {
	cfg, mem := siteA(t, core.Site{ID: "A", Kind: core.Full})
	cfg.RetainPositions = 1
	st := &truncStorage{GroupStorage: mem, readAt: 1, minTrunc: 2, truncBegun: make(chan struct{})}
	d, _, ctx := startAlone(t, Config{Core: cfg, Storage: st, PipelineDepth: 3}, time.Minute)
	write := func(pos core.Position, v string) error {
		_, err := d.Write(ctx, core.WriteRequest{Group: "g", ReadPosition: pos,
			Mutations: []core.Mutation{{Key: []byte("k"), Value: []byte(v)}}})
		return err
	}
	for i, v := range []string{"v1", "v2"} {
		if err := write(core.Position(i), v); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := d.Status(ctx); err != nil || s.Groups["g"].Truncated != 1 {
		t.Fatalf("truncated through %d after two writes, want 1 (%v)", s.Groups["g"].Truncated, err)
	}
	st.mu.Lock()
	st.stallChosen, st.chosenStalled = make(chan struct{}), make(chan struct{})
	st.stallNext, st.nextStall = make(chan struct{}), make(chan struct{})
	releaseChosen, releaseNext := st.stallChosen, st.stallNext
	st.mu.Unlock()
	relChosen := sync.OnceFunc(func() { close(releaseChosen) })
	relNext := sync.OnceFunc(func() { close(releaseNext) })
	defer relNext()
	defer relChosen()
	third := make(chan error, 1)
	go func() { third <- write(2, "v3") }()
	<-st.chosenStalled // Ready c: position 3 chosen and applied, being saved
	read := make(chan error, 1)
	var got [][]byte
	stepped := make(chan struct{})
	go func() {
		req := core.ReadRequest{Group: "g", Mode: core.Snapshot, Position: 1, Keys: [][]byte{[]byte("k")}}
		out, err := d.await(ctx, func(r *core.Replica) (id core.RequestID, err error) {
			defer close(stepped)
			err = d.loaded(req.Group, func() error { id, err = r.Read(req); return err })
			return id, err
		})
		got = out.values
		read <- err
	}()
	<-stepped
	// NB: the call after it is taken once the read's Ready was handed over.
	if _, err := d.Status(ctx); err != nil {
		t.Fatal(err)
	}
	relChosen()    // c is saved; its Advance truncates through 2
	<-st.nextStall // the read's Ready is being saved
	if err := <-third; err != nil {
		t.Fatal(err) // NB: answered as c is taken back, just before its Advance
	}
	// NB: a driver that hands the truncation over at once takes the next
	// call; a correct one waits for the read's Ready, held by its Save,
	// so the timer only decides when to let that Save go.
	answered := make(chan error, 1)
	go func() { _, err := d.Status(ctx); answered <- err }()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(200 * time.Millisecond):
	}
	relNext()
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if string(got[0]) != "v1" {
		t.Fatalf("the snapshot read at 1 returned %q, want v1", got[0])
	}
	s, err := d.Status(ctx)
	if err != nil || s.Groups["g"].Truncated < 2 {
		t.Fatalf("the site did not truncate past the read: %+v %v", s.Groups["g"], err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.early {
		t.Fatal("a truncation through 2 began to be saved before the read at 1 of the Ready before it was served")
	}
}
