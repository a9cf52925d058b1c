package cluster

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

// TestIncrementsSurvivePartitionsAndCrashes runs read-modify-write
// increments from every site while links are cut and healed and sites crash
// and restart (losing unsynced writes), triggered every few operations. At
// the end the counter must count every acknowledged increment, and no more
// than were attempted.
func TestIncrementsSurvivePartitionsAndCrashes(t *testing.T) {
	c := newCluster(t, threeFull())
	cx := ctx(t)
	sites := []core.SiteID{"A", "B", "C"}
	var mu sync.Mutex // serializes fault injection
	rng := rand.New(rand.NewPCG(3, 3))
	crashed := map[core.SiteID]bool{}
	fault := func() {
		mu.Lock()
		defer mu.Unlock()
		switch x := rng.IntN(6); {
		case x <= 1:
			c.Network().Heal()
		case x == 2:
			c.Network().Cut(sites[rng.IntN(3)], sites[rng.IntN(3)])
		case x == 3:
			s := sites[rng.IntN(3)]
			if crashed[s] {
				if err := c.Restart(s); err != nil {
					t.Error(err)
				}
				delete(crashed, s)
			} else if len(crashed) == 0 {
				if err := c.Crash(s); err != nil {
					t.Error(err)
				}
				crashed[s] = true
			}
		}
	}
	var acked, attempted int64
	var wg sync.WaitGroup
	for i, s := range sites {
		wg.Add(1)
		go func(i int, s core.SiteID) {
			defer wg.Done()
			cl := c.Client(s)
			for n := 0; n < 10; n++ {
				opCtx, cancel := context.WithTimeout(cx, opTimeout)
				mu.Lock()
				attempted++
				mu.Unlock()
				err := increment(opCtx, cl, "g")
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					if d := c.Driver(s); d != nil {
						st, _ := d.Status(cx)
						c.net.mu.RLock()
						t.Logf("timeout at %s: lease %v epoch %d inflight %d group %+v cuts %v crashed %v", s, st.LeaseHeld, st.Epoch, st.InFlight, st.Groups["g"], c.net.cut, crashed)
						c.net.mu.RUnlock()
					}
				}
				mu.Lock()
				if err == nil {
					acked++
				}
				mu.Unlock()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, node.ErrStopped) &&
					!errors.Is(err, core.ErrUnavailable) {
					t.Errorf("%s: %v", s, err)
				}
				if (n+i)%3 == 0 {
					fault()
				}
			}
		}(i, s)
	}
	wg.Wait()
	c.Network().Heal()
	for s := range crashed {
		if err := c.Restart(s); err != nil {
			t.Fatal(err)
		}
	}
	v, _, err := c.Client("A").Get(cx, "g", []byte("counter"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := strconv.Atoi(string(v))
	if int64(got) < acked || int64(got) > attempted {
		t.Fatalf("counter %d, acknowledged %d, attempted %d", got, acked, attempted)
	}
	if acked == 0 {
		t.Fatal("nothing was acknowledged: the run proves nothing")
	}
	t.Logf("counter %d, acknowledged %d, attempted %d", got, acked, attempted)
}
