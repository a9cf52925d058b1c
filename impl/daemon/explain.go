package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

// explainer turns the core's trace events into info-level log lines an
// operator can read to see why the site behaves as it does: lease lost and
// regained (with the epoch), its coordinator invalidated by a writer, a
// writer waiting out another site's lease, catch-ups, slow-path Prepares
// and no-op proposals. Lease changes are rare and always logged; the others
// can happen per request, so each kind is rate-limited (a burst per window,
// then one line saying how many were left out).
//
// It runs on the driver's goroutine (node.Config.OnTrace), so it does
// nothing slower than a log write.
type explainer struct {
	log    *slog.Logger
	now    func() time.Time
	window time.Duration
	burst  int
	kinds  map[string]*rateWindow
}

type rateWindow struct {
	start      time.Time
	logged     int
	suppressed int
}

// Default rate limit of each per-request kind of line.
const (
	explainWindow = 10 * time.Second
	explainBurst  = 5
)

func newExplainer(log *slog.Logger) *explainer {
	return &explainer{log: log, now: time.Now, window: explainWindow, burst: explainBurst,
		kinds: map[string]*rateWindow{}}
}

// allow reports whether a line of kind may be logged now; when a window
// closes that left lines out, it logs how many first.
func (x *explainer) allow(kind string) bool {
	now := x.now()
	w := x.kinds[kind]
	if w == nil {
		w = &rateWindow{start: now}
		x.kinds[kind] = w
	}
	if now.Sub(w.start) >= x.window {
		if w.suppressed > 0 {
			x.log.Info("more lines of this kind were left out (rate limit)", "kind", kind,
				"left_out", w.suppressed, "window", x.window.String())
		}
		*w = rateWindow{start: now}
	}
	if w.logged >= x.burst {
		w.suppressed++
		return false
	}
	w.logged++
	return true
}

func (x *explainer) onTrace(_ core.SiteID, events []core.TraceEvent) {
	for _, e := range events {
		switch e.Action {
		case core.ActLoseLease:
			x.log.Info("coordinator lease lost: fewer than a majority of sites hold a current lease from this site "+
				"(peers unreachable or slow to renew); every group is invalid here, so current reads go through a majority "+
				"until the lease is regained and each group is caught up and validated",
				"kind", "lease", "epoch", e.Epoch)
		case core.ActRegainLease:
			x.log.Info("coordinator lease regained: a majority of sites hold a lease from this site again; a new epoch "+
				"starts, and each group serves local reads again once caught up and validated",
				"kind", "lease", "epoch", e.Epoch)
		case core.ActInvalidate:
			if x.allow("invalidate") {
				x.log.Info("coordinator invalidated a group: a writer at another site committed without this site's vote, "+
					"so local reads of the group here wait until it is caught up",
					"kind", "invalidate", "group", string(e.Group), "position", uint64(e.Position), "writer", string(e.Peer), "epoch", e.Epoch)
			}
		case core.ActWaitOutLease:
			if x.allow("wait_out_lease") {
				x.log.Info("a write waited out another site's coordinator lease: that coordinator did not acknowledge "+
					"the invalidation in time (down or partitioned), so the writer blocked its renewals and waited for the lease to expire",
					"kind", "wait_out_lease", "group", string(e.Group), "position", uint64(e.Position), "coordinator", string(e.Peer))
			}
		case core.ActReadCatchUp:
			if x.allow("catch_up") {
				x.log.Info("catching up a group for a current read: this site had not applied every committed entry, "+
					"so it learns the missing ones from other sites first",
					"kind", "catch_up", "group", string(e.Group), "to_position", uint64(e.Position))
			}
		case core.ActPrepare:
			if e.NoOp {
				if x.allow("no_op") {
					x.log.Info("no-op proposal: a log position stayed accepted but not committed for too long "+
						"(its writer may have failed), so this site closes it through full Paxos; the position "+
						"commits the value a majority may already hold, or a no-op",
						"kind", "no_op", "group", string(e.Group), "position", uint64(e.Position), "ballot", uint64(e.Ballot))
				}
			} else if x.allow("slow_prepare") {
				x.log.Info("slow-path Prepare: the write could not use the leader's fast path (another site leads this "+
					"position, or an earlier attempt was refused), so it runs a Prepare round first",
					"kind", "slow_prepare", "group", string(e.Group), "position", uint64(e.Position), "ballot", uint64(e.Ballot))
			}
		}
	}
}

// logStart says whether this start is the data directory's first or a
// restart, with the incarnation (each start of a site's store counts one:
// proposals of different incarnations never share a ballot).
func logStart(ctx context.Context, log *slog.Logger, d *node.Driver) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := d.Status(sctx)
	switch {
	case err != nil:
		log.Warn("could not read the site's status at start", "err", err)
	case st.Incarnation <= 1:
		log.Info("first start of this data directory", "incarnation", st.Incarnation)
	default:
		log.Info("restarted from its store: the site recovered its log and votes from disk and serves again",
			"incarnation", st.Incarnation, "starts_so_far", st.Incarnation, "epoch", st.Epoch)
	}
}
