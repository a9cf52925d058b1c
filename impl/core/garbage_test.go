package core

import (
	"math/rand/v2"
	"testing"
)

// TestRandomMessagesNeverPanic feeds a replica of each kind random,
// mostly nonsensical messages from members and non-members: Step may
// refuse them with an error but must never panic or wedge.
func TestRandomMessagesNeverPanic(t *testing.T) {
	sites := []Site{{"A", Full}, {"B", Full}, {"W", Witness}, {"R", ReadOnly}}
	for _, self := range []SiteID{"A", "W", "R"} {
		rng := rand.New(rand.NewPCG(7, uint64(len(self))))
		r := newTestReplica(t, self, sites, nil)
		from := []SiteID{"A", "B", "W", "R", "Z", ""}
		groups := []GroupID{"g", "h", ""}
		pick := func(n int) int { return rng.IntN(n) }
		for i := 0; i < 20000; i++ {
			m := Message{
				Type:        MessageType(pick(int(msgTypeCount) + 2)),
				From:        from[pick(len(from))],
				To:          self,
				Group:       groups[pick(len(groups))],
				Position:    Position(pick(6)),
				Ballot:      Ballot(pick(3)) << 32,
				Proposal:    uint64(pick(40)),
				Reject:      pick(4) == 0,
				VoteBallot:  Ballot(pick(3)) << 32,
				Limit:       Position(pick(8)),
				Coordinator: from[pick(len(from))],
				Ticks:       uint64(pick(50)),
			}
			if pick(3) > 0 {
				m.Value = &Value{ID: ValueID{Site: from[pick(len(from))], Seq: uint64(pick(5))},
					NextLeader: from[pick(len(from))], NoOp: pick(2) == 0}
			}
			if pick(5) == 0 {
				m.Entries = []Entry{{Group: m.Group, Position: Position(pick(6)), Value: Value{NextLeader: "B"}}}
			}
			_ = r.Step(m)
			switch pick(10) {
			case 0:
				r.Tick()
			case 1:
				_, _ = r.ProposeWrite(WriteRequest{Group: groups[pick(len(groups))],
					ReadPosition: Position(pick(3)), Mutations: []Mutation{{Key: []byte("k")}}})
			case 2:
				_, _ = r.Read(ReadRequest{Group: groups[pick(len(groups))], Mode: ReadMode(pick(5)),
					Keys: [][]byte{[]byte("k")}})
			}
			if r.HasReady() {
				r.Advance(r.Ready())
			}
		}
	}
}
