package workloads

import (
	"context"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

// stubSite answers every read at its group's position and takes every
// write at the next one.
type stubSite struct {
	pos map[core.GroupID]core.Position
}

func (s stubSite) Read(_ context.Context, req core.ReadRequest) (node.ReadResult, error) {
	return node.ReadResult{Position: s.pos[req.Group]}, nil
}

func (s stubSite) Write(_ context.Context, req core.WriteRequest) (core.Position, error) {
	s.pos[req.Group] = req.ReadPosition + 1
	return req.ReadPosition + 1, nil
}

// A generation is retired once one of its groups took rotateWrites write
// requests or reached rotatePositions, whichever comes first, and the
// groups of the next one are fresh.
func TestRotationMovesOnBeforeTheMirrorsBounds(t *testing.T) {
	b := newBank("")
	site := watched{stubSite{map[core.GroupID]core.Position{}}, b.rot}
	g0 := b.rot.groups(0)
	for i := range rotateWrites - 1 {
		if gen := b.rot.current(); gen != 0 {
			t.Fatalf("after %d writes to %s: generation %d, want 0", i, g0[1], gen)
		}
		site.Write(context.Background(), core.WriteRequest{Group: g0[1], ReadPosition: core.Position(i)})
	}
	if b.rot.retired(0) {
		t.Fatal("generation 0 retired below the write budget")
	}
	site.Write(context.Background(), core.WriteRequest{Group: g0[1], ReadPosition: rotateWrites - 1})
	if !b.rot.retired(0) || b.rot.current() != 1 || b.rot.generations() != 2 {
		t.Fatalf("after %d writes to one group: retired %v, generation %d", rotateWrites, b.rot.retired(0), b.rot.current())
	}
	g1 := b.rot.groups(1)
	for _, g := range g1 {
		for _, old := range g0 {
			if g == old {
				t.Fatalf("generation 1 reuses group %s", g)
			}
		}
	}
	// A position reached without this workload's writes (no-ops closing
	// positions, another writer) counts too.
	b.rot.note(g1[3], 0, rotatePositions)
	if b.rot.current() != 2 {
		t.Fatalf("a group at position %d did not retire its generation", rotatePositions)
	}
}
