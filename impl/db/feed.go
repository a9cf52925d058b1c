package db

import (
	"context"
	"fmt"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

// FeedSite is a site that also serves its log: remote.Site does, and
// DriverFeed adapts an in-process node.Driver.
type FeedSite interface {
	client.Site
	// Log returns the committed entries of group the site knows, from
	// position from up to to, stopping at the first it does not know.
	Log(ctx context.Context, group core.GroupID, from, to core.Position) ([]core.Entry, error)
}

// MaxFeedBatch bounds the entries one Feed.Next returns.
const MaxFeedBatch = 64

// DriverFeed adapts an in-process driver (its Log takes a bound).
func DriverFeed(d *node.Driver) FeedSite { return driverFeed{d} }

type driverFeed struct{ *node.Driver }

func (f driverFeed) Log(ctx context.Context, group core.GroupID, from, to core.Position) ([]core.Entry, error) {
	return f.Driver.Log(ctx, group, from, to, MaxFeedBatch)
}

// Feed is the committed-entry feed of entity groups, by client-side polling:
// Next makes the site catch the group up with a current read, then reads its
// log after a position. Nothing is pushed; a subscriber polls (the global
// indexer does, at its caller's pace). Entries come in log order, each
// exactly once per position for a caller that passes back the last position
// it processed.
type Feed struct{ site FeedSite }

// NewFeed returns the feed of site.
func NewFeed(site FeedSite) *Feed { return &Feed{site: site} }

// Next returns committed entries of group after position after (at most
// MaxFeedBatch, no-ops included so positions stay contiguous), and the
// group's current position.
func (f *Feed) Next(ctx context.Context, group core.GroupID, after core.Position) ([]core.Entry, core.Position, error) {
	res, err := f.site.Read(ctx, core.ReadRequest{Group: group, Mode: core.Current})
	if err != nil {
		return nil, 0, err
	}
	if res.Position <= after {
		return nil, res.Position, nil
	}
	to := min(res.Position, after+MaxFeedBatch)
	entries, err := f.site.Log(ctx, group, after+1, to)
	if err != nil {
		return nil, 0, err
	}
	for i, e := range entries {
		if e.Position != after+1+core.Position(i) || e.Group != group {
			return nil, 0, fmt.Errorf("%w: log of %s answered position %d of %s where %d was asked", core.ErrMalformed, group, e.Position, e.Group, after+1+core.Position(i))
		}
	}
	return entries, res.Position, nil
}
