package spec

import (
	"strings"
	"testing"
)

// TestWhyMatchesEnabled: on every state of small shipped configs (the first
// 300 of each, breadth first), for every event with every argument, Why
// is nil exactly when the mirror takes the event, and names at least one
// false conjunct otherwise: its restated guards agree with actions.go.
func TestWhyMatchesEnabled(t *testing.T) {
	for _, c := range Configs() {
		t.Run(c.Name, func(t *testing.T) {
			tr, err := NewTracer(c)
			if err != nil {
				t.Fatal(err)
			}
			events := allEvents(c, tr.Quorums())
			seen := map[string]bool{}
			queue := []State{c.Init()}
			checked, refused := 0, 0
			for len(queue) > 0 && checked < 300 {
				s := queue[0]
				queue = queue[1:]
				if seen[s.Key()] {
					continue
				}
				seen[s.Key()] = true
				checked++
				for _, e := range events {
					tr.s = s
					_, ok, err := tr.apply(e)
					why := tr.Why(e)
					switch {
					case err != nil:
						if why != nil {
							t.Fatalf("%s: argument error %v, Why says %q", e, err, why)
						}
					case ok && why != nil:
						t.Fatalf("%s is enabled in %s, Why says %q", e, s.Key(), why)
					case !ok && len(why) == 0:
						t.Fatalf("%s is not enabled, Why names no false conjunct (state %v)", e, c.Vars(s))
					case !ok:
						refused++
					}
				}
				c.Next(s, func(_ string, n State) { queue = append(queue, n) })
			}
			if refused == 0 {
				t.Fatal("no event was refused: the check proved nothing")
			}
		})
	}
}

// TestWhySaysWhat: a Commit before a full site accepted or was invalidated
// names that site and the conjunct, in Megastore.tla's words.
func TestWhySaysWhat(t *testing.T) {
	tr, err := NewTracer(ReadRace())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{{Action: "BeginWrite", Args: []any{"p1"}}, {Action: "AcceptLeader", Args: []any{"p1"}},
		{Action: "Accept", Args: []any{"p1", "c"}}} {
		if err := tr.Step(e); err != nil {
			t.Fatal(err)
		}
	}
	why := strings.Join(tr.Why(Event{Action: "Commit", Args: []any{"p1"}}), "; ")
	if !strings.Contains(why, `Full \subseteq prop["p1"].acks \cup prop["p1"].inval ({"b"} neither accepted nor was invalidated)`) {
		t.Fatalf("Why(Commit) = %q", why)
	}
}

func allEvents(c *Config, quorums [][]string) []Event {
	var out []Event
	sites := c.sites
	for _, p := range c.Proposers {
		n := p.Name
		out = append(out, Event{Action: "BeginWrite", Args: []any{n}}, Event{Action: "AcceptLeader", Args: []any{n}},
			Event{Action: "Commit", Args: []any{n}})
		for i := 1; i <= c.MaxPos+1; i++ {
			out = append(out, Event{Action: "BeginClose", Args: []any{n, i}})
		}
		for _, b := range p.Ballots {
			out = append(out, Event{Action: "Prepare", Args: []any{n, b}})
		}
		for _, a := range sites {
			for _, act := range []string{"Promise", "Accept", "Invalidate", "WaitOutLease"} {
				out = append(out, Event{Action: act, Args: []any{n, a}})
			}
		}
		for _, q := range quorums {
			out = append(out, Event{Action: "Propose", Args: []any{n, q}})
		}
	}
	for _, g := range c.Groups {
		for _, a := range sites {
			for _, v := range c.values {
				out = append(out, Event{Action: "Learn", Args: []any{g, a}, Value: v})
			}
		}
	}
	for _, a := range sites {
		out = append(out, Event{Action: "LoseLease", Args: []any{a}}, Event{Action: "RegainLease", Args: []any{a}})
	}
	for _, r := range c.Readers {
		for _, act := range []string{"ReadBegin", "ReadLocal", "ReadCatchUp", "Validate", "SnapshotRead"} {
			out = append(out, Event{Action: act, Args: []any{r.Name}})
		}
		for _, q := range quorums {
			out = append(out, Event{Action: "ReadFindPos", Args: []any{r.Name, q}})
		}
	}
	return out
}
