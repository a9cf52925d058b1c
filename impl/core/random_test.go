package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// chaos delivers queued messages in random order, dropping and duplicating
// some, with random partitions and restarts; every choice comes from seed.
type chaos struct {
	*testNet
	rng *rand.Rand
}

func (c *chaos) deliverSome() {
	q := c.queue
	c.queue = nil
	c.rng.Shuffle(len(q), func(i, j int) { q[i], q[j] = q[j], q[i] })
	for i, m := range q {
		switch x := c.rng.IntN(100); {
		case x < 25 && i > 0:
			c.queue = append(c.queue, m) // delay to a later round
			continue
		case x < 28:
			continue // drop
		case x < 31:
			c.queue = append(c.queue, m) // duplicate
		}
		if c.down[m.To] || c.down[m.From] {
			continue
		}
		if err := c.reps[m.To].Step(m); err != nil && !errors.Is(err, ErrReadOnlySite) {
			c.t.Fatalf("step %v: %v", m, err)
		}
	}
}

type ack struct {
	pos Position
	id  ValueID
}

// TestRandomizedSafety runs random writes and current reads under message
// loss, duplication, reordering, partitions and crash-restarts, and checks
// after every round: one value per position across sites, every acked
// write is the value known at its position, and every current read that
// began after an ack reads at or past its position.
func TestRandomizedSafety(t *testing.T) {
	for seed := uint64(0); seed < 40; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			sites := []Site{{"A", Full}, {"B", Full}, {"C", Full}, {"W", Witness}, {"R", ReadOnly}}
			c := &chaos{testNet: newNet(t, nil, sites...), rng: rand.New(rand.NewPCG(seed, 99))}
			full := []SiteID{"A", "B", "C"}
			readPos := map[SiteID]Position{}
			type pendingWrite struct {
				site SiteID
				id   RequestID
			}
			type pendingRead struct {
				site    SiteID
				id      RequestID
				mustSee Position
			}
			var writes []pendingWrite
			var reads []pendingRead
			var acks []ack
			lastAck := Position(0)
			seenResults := map[SiteID]int{}
			outcomes := map[string]int{}
			for round := 0; round < 1500; round++ {
				switch x := c.rng.IntN(100); {
				case x < 12:
					s := full[c.rng.IntN(3)]
					if !c.down[s] {
						id, err := c.reps[s].ProposeWrite(WriteRequest{Group: "g", ReadPosition: readPos[s],
							Mutations: []Mutation{{Key: []byte("k"), Value: []byte("v")}}})
						if err == nil {
							writes = append(writes, pendingWrite{s, id})
						} else if !errors.Is(err, ErrNotApplied) {
							t.Fatal(err)
						}
					}
				case x < 24:
					s := full[c.rng.IntN(3)]
					if !c.down[s] {
						reads = append(reads, pendingRead{s, c.read(s, "g", Current), lastAck})
					}
				case x < 26:
					s := sites[c.rng.IntN(len(sites))].ID
					c.down[s] = !c.down[s]
				case x < 27:
					s := sites[c.rng.IntN(len(sites))].ID
					c.restart(s)
					seenResults[s] = 0
					var keep []pendingRead
					for _, pr := range reads {
						if pr.site != s {
							keep = append(keep, pr)
						}
					}
					reads = keep
					var keepW []pendingWrite
					for _, w := range writes {
						if w.site != s {
							keepW = append(keepW, w)
						}
					}
					writes = keepW
				}
				c.flush()
				c.deliverSome()
				if c.rng.IntN(2) == 0 {
					for _, id := range c.order {
						c.reps[id].Tick()
					}
				}
				c.flush()
				// Collect results.
				for _, s := range c.order {
					res := c.results[s][seenResults[s]:]
					seenResults[s] = len(c.results[s])
					for _, r := range res {
						if r.Op == OpRead && r.Err == nil && r.Mode == Current {
							for _, pr := range reads {
								if pr.site == s && pr.id == r.ID && r.Position < pr.mustSee {
									t.Fatalf("round %d: read at %s returned %d, but %d was acked before it began",
										round, s, r.Position, pr.mustSee)
								}
							}
							readPos[s] = max(readPos[s], r.Position)
						}
						if r.Op == OpWrite {
							outcomes[fmt.Sprint(r.Err)]++
							if errors.Is(r.Err, ErrConflict) && !c.down[s] {
								// The client library reruns from a current read.
								reads = append(reads, pendingRead{s, c.read(s, "g", Current), lastAck})
							}
						}
						if r.Op == OpRead {
							outcomes["read "+fmt.Sprint(r.Err)]++
						}
						if r.Op == OpWrite && r.Err == nil {
							for _, w := range writes {
								if w.site == s && w.id == r.ID {
									v, ok := c.reps[s].Known("g", r.Position)
									if !ok || v.ID.Site != s {
										t.Fatalf("acked write at %d not known at its site", r.Position)
									}
									acks = append(acks, ack{r.Position, v.ID})
									lastAck = max(lastAck, r.Position)
								}
							}
						}
					}
				}
				c.checkAgreement("g")
				for _, a := range acks {
					for _, s := range c.order {
						if v, ok := c.reps[s].Known("g", a.pos); ok && v.ID != a.id {
							t.Fatalf("acked %v at %d, %s knows %v", a.id, a.pos, s, v.ID)
						}
					}
				}
			}
			// Liveness: once the network heals, every operation finishes.
			c.down = map[SiteID]bool{}
			c.tick(400)
			for _, id := range c.order {
				if st := c.reps[id].Status(); st.InFlight != 0 {
					t.Fatalf("%s still has %d operations in flight after healing", id, st.InFlight)
				}
			}
			for _, s := range full {
				rr := c.waitResult(s, c.read(s, "g", Current))
				if rr.Err != nil {
					t.Fatal(rr.Err)
				}
				if wr := c.waitResult(s, c.write(s, "g", rr.Position, "k")); wr.Err != nil {
					t.Fatalf("write at %s after healing: %v", s, wr.Err)
				}
			}
			c.checkAgreement("g")
			for _, ev := range c.trace {
				if ev.Action == "Divergence" {
					t.Fatalf("divergence: %+v", ev)
				}
			}
			t.Logf("%d acks, %d reads, outcomes %v", len(acks), len(reads), outcomes)
		})
	}
}
