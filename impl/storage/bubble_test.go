package storage

import (
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/megastore-verified/megastore/impl/core"
)

// TestFlushesInSeparateBubbles: OpenMem stores flush in testing/synctest
// bubbles one after another, as the simulator's seeds do. With Pebble's
// row-block tables the second flush died at once ("send on synctest
// channel from outside bubble": a pooled write task's channel made in the
// first bubble); see memFormat.
func TestFlushesInSeparateBubbles(t *testing.T) {
	for i := range 8 {
		synctest.Test(t, func(t *testing.T) {
			s, err := OpenMem()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for p := 1; p <= 50; p++ {
				e := core.Entry{Group: core.GroupID(fmt.Sprint("g", i)), Position: core.Position(p),
					Value: core.Value{Mutations: []core.Mutation{{Key: []byte(fmt.Sprint("k", p)), Value: make([]byte, 100)}}}}
				if err := s.Apply([]core.Entry{e}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
			if n := s.db.Metrics().Flush.Count; n == 0 {
				t.Fatal("no flush happened: the test shows nothing")
			}
		})
	}
}
