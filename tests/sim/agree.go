package sim

import (
	"fmt"
	"maps"
	"slices"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/tests/check"
	"github.com/megastore-verified/megastore/tests/tracemap"
)

// agree compares the replicas that are up with the mirrored state trace
// validation ended in, group by group: promised ballots, votes, applied
// logs, coordinator validity, invalidated positions, leases and epochs.
// Both ways: what a replica holds must be in the mirror, and every
// promise and vote the mirror took for a site must still be held by it
// (holdsWhatItDid; restartAgrees checks the same at each restart).
// It returns "" or the first disagreement.
func (s *Sim) agree(res check.Result) string {
	for _, g := range sortedGroups(res) {
		mir := res.Mirrors[g]
		gid := core.GroupID(g)
		specBallot := func(b core.Ballot, pos core.Position) (int, bool) {
			if b == 0 {
				return 0, true
			}
			for _, p := range s.mapper.Proposers() {
				if p.Group == g && p.Ballot == uint64(b) && p.Pos == int(pos) {
					return res.Ballots[p.Name], true
				}
			}
			return 0, false
		}
		for _, st := range s.sites {
			if !st.up {
				continue
			}
			sid := string(st.id)
			for pos := core.Position(1); pos <= core.Position(mir.MaxPos()); pos++ {
				rec, ok := s.view(st).Vote(gid, pos)
				if !ok {
					continue
				}
				implBal, ok := specBallot(rec.MaxBal, pos)
				if !ok {
					return fmt.Sprintf("%s %s/%d: promised ballot %#x belongs to no traced attempt", sid, g, pos, rec.MaxBal)
				}
				// Late prepares and accepts are spec steps, so the mirror's
				// promise is the implementation's.
				mirBal := mir.MaxBal(g, sid, int(pos))
				if mirBal != implBal {
					return fmt.Sprintf("%s %s/%d: promised %d (impl %#x), mirror %d", sid, g, pos, implBal, rec.MaxBal, mirBal)
				}
				if rec.Voted {
					vb, ok := specBallot(rec.VoteBal, pos)
					if !ok || !mir.HasVote(g, sid, int(pos), vb, tracemap.ValueName(rec.Vote.ID, rec.Vote.NoOp)) {
						return fmt.Sprintf("%s %s/%d: voted %s at %#x, not in the mirror's votes", sid, g, pos, rec.Vote.ID, rec.VoteBal)
					}
				}
			}
			if bad := s.holdsWhatItDid(st, gid); bad != "" {
				return bad
			}
			if st.kind != core.Witness {
				var implLog []string
				mirLog := mir.Applied(g, sid)
				trunc := s.view(st).Truncated(gid)
				for p := core.Position(1); p <= s.view(st).Status().Groups[gid].Applied; p++ {
					if p <= trunc && int(p) <= len(mirLog) {
						// NB: truncated: the site forgot these values; the
						// mapper took its Learns there from the commits.
						implLog = append(implLog, mirLog[p-1])
						continue
					}
					v, _ := s.view(st).Known(gid, p)
					implLog = append(implLog, tracemap.ValueName(v.ID, v.NoOp))
				}
				// NB: where this group's validation took a crash of the site
				// as LoseLease (check.DevCrashAsLeaseLoss), the mirror kept
				// the whole applied log, and the site may have lost the
				// entries it learned after its last sync: the safe
				// direction only, its log a prefix of the mirror's.
				stale := res.CrashAsLeaseLoss[g][sid] && len(implLog) < len(mirLog) && slices.Equal(implLog, mirLog[:len(implLog)])
				if !slices.Equal(implLog, mirLog) && !stale {
					return fmt.Sprintf("%s %s: applied %v, mirror %v", sid, g, implLog, mirLog)
				}
			}
			if st.kind == core.Full {
				stat := s.view(st).Status()
				valid, invPos, epoch, lease := mir.Coordinator(g, sid)
				epoch += res.EpochBase[g][sid]
				if implEpoch := s.mapper.Epoch(st.id, stat.Epoch); lease != stat.LeaseHeld || epoch != implEpoch {
					return fmt.Sprintf("%s: lease %v epoch %d, mirror lease %v epoch %d", sid, stat.LeaseHeld, implEpoch, lease, epoch)
				}
				gs := stat.Groups[gid]
				// NB: Valid is coordValid and the lease: on LoseLease the
				// implementation clears its groups, the spec keeps coordValid.
				implValid, mirValid := gs.Valid && stat.LeaseHeld, valid && lease
				if implValid && !mirValid {
					return fmt.Sprintf("%s: coordinator holds %s valid, the mirror does not", sid, g)
				}
				// NB: a restarted coordinator forgets invPos (it is in memory),
				// as the spec's Restart does; where this group's validation
				// took a crash as LoseLease (check.DevCrashAsLeaseLoss) the
				// mirror's survives. Safe: a reader in the new incarnation
				// finds a position at least that of any write chosen before,
				// as its quorum meets the write's.
				restarted := res.CrashAsLeaseLoss[g][sid]
				// NB: eviction (Options.HeldGroups) forgets validity and
				// invPos as a restart does, untraced: the safe direction only.
				evicts := s.opts.HeldGroups > 0 && !s.opts.OwnLoop
				if int(gs.InvPos) > invPos && evicts {
					return fmt.Sprintf("%s %s: invalidated position %d above the mirror's %d", sid, g, gs.InvPos, invPos)
				}
				if int(gs.InvPos) < invPos && !restarted && !evicts {
					return fmt.Sprintf("%s %s: invalidated position %d below the mirror's %d", sid, g, gs.InvPos, invPos)
				}
				if (implValid != mirValid && !evicts) || (int(gs.InvPos) != invPos && !restarted && !evicts) {
					return fmt.Sprintf("%s %s: valid %v invPos %d, mirror %v %d", sid, g, implValid, gs.InvPos, mirValid, invPos)
				}
			}
		}
	}
	return ""
}

func sortedGroups(res check.Result) []string {
	var gs []string
	for g := range res.Mirrors {
		gs = append(gs, g)
	}
	slices.Sort(gs)
	return gs
}

// restartAgrees is mirror agreement in the other direction, at the moment
// a site restarts: the state it loads must still hold every promise, vote
// and Learn its earlier incarnations traced (the mirror took exactly those
// steps for it). Checking here, not at the end, catches a lost vote at
// once: otherwise it shows only if the site later grants a second value.
// In this simulator every traced Ready was saved before the crash, so even
// the last one must be held (a real node may die inside its last Save:
// node.Forgotten tells those apart).
func (s *Sim) restartAgrees(st *site, state core.State) {
	lost, forgot := node.Forgotten(st.trace, state)
	if len(forgot) == 0 && len(lost) == 0 {
		return
	}
	what := forgot
	if len(what) == 0 {
		what = []string{fmt.Sprintf("the last Ready's steps %v", lost)}
	}
	s.fail("mirror agreement", "%s at restart: forgot what its trace shows it did: %s", st.id, what[0])
}

// loseLastApplied drops the chosen record of the applied position of the
// group applied furthest, and lowers the applied position below it (see
// Options.LoseChosenOnRestart).
func loseLastApplied(state core.State) core.State {
	var g core.GroupID
	for _, x := range slices.Sorted(maps.Keys(state.Applied)) {
		if state.Applied[x] > state.Applied[g] {
			g = x
		}
	}
	p := state.Applied[g]
	if p == 0 {
		return state
	}
	state.Applied = maps.Clone(state.Applied)
	state.Applied[g] = p - 1
	state.Chosen = slices.DeleteFunc(slices.Clone(state.Chosen), func(e core.Entry) bool {
		return e.Group == g && e.Position == p
	})
	return state
}

// loseHighestVote drops the voted acceptor record at the highest position
// (see Options.LoseVoteOnRestart).
func loseHighestVote(state core.State) core.State {
	best := -1
	for i, a := range state.Acceptor {
		if a.Voted && (best < 0 || a.Position > state.Acceptor[best].Position) {
			best = i
		}
	}
	if best >= 0 {
		state.Acceptor = slices.Delete(slices.Clone(state.Acceptor), best, best+1)
	}
	return state
}

// holdsWhatItDid: every Promise, Accept and AcceptLeader step the mirror
// took for st in group g is still held by the replica: a promise at least
// as high, a vote at a ballot at least as high (the same value at the same
// ballot). Returns "" or what is missing.
func (s *Sim) holdsWhatItDid(st *site, g core.GroupID) string {
	for _, x := range s.mapper.Steps {
		if x.Site != string(st.id) || x.Group != string(g) || x.Synthetic != "" {
			continue
		}
		switch x.Action {
		case "Promise", "Accept", "AcceptLeader":
		default:
			continue
		}
		if core.Position(x.Pos) <= s.view(st).Truncated(g) {
			continue // NB: forgotten on purpose: truncated (core/truncate.go)
		}
		b := core.Ballot(x.Ballot)
		rec, ok := s.view(st).Vote(g, core.Position(x.Pos))
		switch {
		case !ok || rec.MaxBal < b:
			return fmt.Sprintf("%s %s/%d: the mirror took %s at ballot %#x, the replica holds promise %#x (record %v)", st.id, g, x.Pos, x.Action, b, rec.MaxBal, ok)
		case x.Action == "Promise":
		case !rec.Voted || rec.VoteBal < b:
			return fmt.Sprintf("%s %s/%d: the mirror took %s at ballot %#x, the replica holds no vote at or above it", st.id, g, x.Pos, x.Action, b)
		case rec.VoteBal == b && x.Value != "" && tracemap.ValueName(rec.Vote.ID, rec.Vote.NoOp) != x.Value:
			return fmt.Sprintf("%s %s/%d: the mirror took %s of %s at ballot %#x, the replica holds %s", st.id, g, x.Pos, x.Action, x.Value, b, rec.Vote.ID)
		}
	}
	return ""
}
