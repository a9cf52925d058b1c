package client

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/wire"
)

// fakeSite answers reads at position pos and refuses the first conflicts
// writes with core.ErrConflict; readErr, if set, refuses every read.
type fakeSite struct {
	pos       core.Position
	conflicts int
	readErr   error
	writes    int
	modes     []core.ReadMode
}

func (f *fakeSite) Read(_ context.Context, req core.ReadRequest) (node.ReadResult, error) {
	f.modes = append(f.modes, req.Mode)
	if f.readErr != nil {
		return node.ReadResult{}, f.readErr
	}
	res := node.ReadResult{Position: f.pos, Values: make([][]byte, len(req.Keys))}
	if req.Mode == core.Inconsistent {
		res.Position = core.LatestPosition // as the core answers
	}
	return res, nil
}

func (f *fakeSite) Write(_ context.Context, req core.WriteRequest) (core.Position, error) {
	f.writes++
	if f.writes <= f.conflicts {
		f.pos++
		return 0, core.ErrConflict
	}
	f.pos++
	return f.pos, nil
}

func TestAttemptsAreCountedAndReported(t *testing.T) {
	site := &fakeSite{pos: 3, conflicts: 2}
	c := New(site)
	var seen []int
	res, err := c.Run(context.Background(), "g", func(tx *Tx) error {
		seen = append(seen, tx.Attempt())
		tx.Put([]byte("k"), []byte("v"))
		return nil
	})
	if err != nil || res.Attempts != 3 || res.Position != 6 {
		t.Fatalf("Run: %+v %v; want 3 attempts, position 6", res, err)
	}
	if len(seen) != 3 || seen[0] != 1 || seen[2] != 3 {
		t.Fatalf("Tx.Attempt saw %v", seen)
	}
}

// Giving up is one error for every Put: a conflict (the write did not
// happen), and ErrTooManyAttempts, on either side of the wire.
func TestTooManyAttemptsIsAConflictEverywhere(t *testing.T) {
	c := New(&fakeSite{conflicts: 1000})
	c.MaxAttempts = 4
	res, err := c.Run(context.Background(), "g", func(tx *Tx) error { tx.Put([]byte("k"), nil); return nil })
	if !errors.Is(err, ErrTooManyAttempts) || !errors.Is(err, core.ErrConflict) || res.Attempts != 4 {
		t.Fatalf("in process: %+v %v", res, err)
	}
	remote := wire.FromStatus(wire.ToStatus(err))
	if !errors.Is(remote, ErrTooManyAttempts) || !errors.Is(remote, core.ErrConflict) {
		t.Fatalf("across the wire: %v", remote)
	}
	// A site's TOO_MANY_ATTEMPTS is not rerun by the client library.
	site := &fakeSite{}
	c = New(&refusing{fakeSite: site, err: remote})
	if _, err := c.Put(context.Background(), "g", []byte("k"), nil); !errors.Is(err, ErrTooManyAttempts) || site.writes != 0 {
		t.Fatalf("a refusal to rerun: %v after %d writes", err, site.writes)
	}
}

type refusing struct {
	*fakeSite
	err error
}

func (r *refusing) Write(context.Context, core.WriteRequest) (core.Position, error) { return 0, r.err }

func TestWitnessRefusesTransactionsAsWrites(t *testing.T) {
	// In process (the core's error), and over the wire (a site's status).
	for i, readErr := range []error{core.ErrWitnessNoReads, wire.FromStatus(wire.ToStatus(core.ErrWitnessNoReads))} {
		c := New(&fakeSite{readErr: readErr})
		_, err := c.Put(context.Background(), "g", []byte("k"), []byte("v"))
		if !errors.Is(err, ErrWitnessNoWrites) || strings.Contains(err.Error(), "reads") {
			t.Fatalf("Put at a witness: %v", err)
		}
		if got := wire.FromStatus(wire.ToStatus(err)); i == 0 && !errors.Is(got, ErrWitnessNoWrites) {
			t.Fatalf("across the wire: %v", got)
		}
	}
}

func TestEveryReadModeReturnsAPosition(t *testing.T) {
	site := &fakeSite{pos: 7}
	c := New(site)
	ctx := context.Background()
	for name, get := range map[string]func(context.Context, core.GroupID, []byte) ([]byte, core.Position, error){
		"current": c.Get, "snapshot": c.SnapshotGet, "inconsistent": c.InconsistentGet,
	} {
		if _, pos, err := get(ctx, "g", []byte("k")); err != nil || pos != 7 {
			t.Errorf("%s read: position %d, %v", name, pos, err)
		}
	}
	if _, _, pos, err := c.Scan(ctx, "g", core.KeyRange{Limit: 1}, core.Inconsistent); err != nil || pos != 7 {
		t.Errorf("inconsistent scan: position %d, %v", pos, err)
	}
	for _, m := range site.modes {
		if m == core.Inconsistent {
			t.Errorf("an inconsistent read was sent as such; it has no position")
		}
	}
}
