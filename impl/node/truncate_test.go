package node

import (
	"sync"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
)

// gatedStorage holds the first read at position gateAt until release is
// closed (entered says it is held).
type gatedStorage struct {
	core.GroupStorage
	gateAt  core.Position
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gatedStorage) Read(group core.GroupID, keys [][]byte, at core.Position) ([][]byte, error) {
	if at == g.gateAt {
		g.once.Do(func() {
			close(g.entered)
			<-g.release
		})
	}
	return g.GroupStorage.Read(group, keys, at)
}

// TestTruncationWaitsForReadsInFlight: a snapshot read at position 1 is
// being served beside the driver's goroutine while writes move the log
// on and the site truncates past 1 (RetainPositions 2). The driver must
// not compact the versions the read needs under it: the read returns the
// value as of 1. (The gate opens when the writes are done or, since a
// correct driver holds them behind the read, after a second: the timer
// only decides when to let go, never what passes.)
func TestTruncationWaitsForReadsInFlight(t *testing.T) {
	cfg, st := siteA(t, core.Site{ID: "A", Kind: core.Full})
	cfg.RetainPositions = 2
	gs := &gatedStorage{GroupStorage: st, gateAt: 1, entered: make(chan struct{}), release: make(chan struct{})}
	d, _, ctx := startAlone(t, Config{Core: cfg, Storage: gs}, time.Minute)
	write := func(pos core.Position, k, v string) error {
		_, err := d.Write(ctx, core.WriteRequest{Group: "g", ReadPosition: pos,
			Mutations: []core.Mutation{{Key: []byte(k), Value: []byte(v)}}})
		return err
	}
	for i, v := range []string{"v1", "v2"} {
		if err := write(core.Position(i), "k", v); err != nil {
			t.Fatal(err)
		}
	}
	read := make(chan ReadResult, 1)
	go func() {
		res, err := d.Read(ctx, core.ReadRequest{Group: "g", Mode: core.Snapshot, Position: 1, Keys: [][]byte{[]byte("k")}})
		if err != nil {
			t.Error(err)
		}
		read <- res
	}()
	<-gs.entered
	writes := make(chan error, 1)
	go func() {
		for p := core.Position(2); p < 8; p++ {
			if err := write(p, "other", "x"); err != nil {
				writes <- err
				return
			}
		}
		writes <- nil
	}()
	done := false
	select {
	case err := <-writes:
		if err != nil {
			t.Fatal(err)
		}
		done = true
	case <-time.After(time.Second):
	}
	close(gs.release)
	if res := <-read; string(res.Values[0]) != "v1" {
		t.Fatalf("the snapshot read at 1 returned %q: its version was compacted under it", res.Values[0])
	}
	if !done {
		if err := <-writes; err != nil {
			t.Fatal(err)
		}
	}
	st2, err := d.Status(ctx)
	if err != nil || st2.Groups["g"].Truncated < 2 {
		t.Fatalf("the site did not truncate past the read: %+v %v", st2.Groups["g"], err)
	}
}
