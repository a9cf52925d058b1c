package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

// Site is what the client needs from the site it talks to.
type Site interface {
	Write(ctx context.Context, req core.WriteRequest) (core.Position, error)
	Read(ctx context.Context, req core.ReadRequest) (node.ReadResult, error)
}

var _ Site = (*node.Driver)(nil)

// ErrTooManyAttempts: a transaction kept conflicting for MaxAttempts runs.
var ErrTooManyAttempts = errors.New("client: transaction kept conflicting")

// Client runs reads and transactions at one site.
type Client struct {
	site Site
	// MaxAttempts bounds the reruns of one transaction (default 100).
	MaxAttempts int
}

// New returns a client of site.
func New(site Site) *Client { return &Client{site: site, MaxAttempts: 100} }

// Tx is one run of a transaction: reads see the group as of the position its
// current read returned; writes are buffered until commit.
type Tx struct {
	c         *Client
	ctx       context.Context
	group     core.GroupID
	pos       core.Position
	mutations []core.Mutation
}

// Position is the log position the transaction reads at.
func (tx *Tx) Position() core.Position { return tx.pos }

// Get reads key as of the transaction's position (nil: absent).
func (tx *Tx) Get(key []byte) ([]byte, error) {
	for i := len(tx.mutations) - 1; i >= 0; i-- {
		if m := tx.mutations[i]; string(m.Key) == string(key) {
			if m.Delete {
				return nil, nil
			}
			return m.Value, nil
		}
	}
	res, err := tx.c.site.Read(tx.ctx, core.ReadRequest{Group: tx.group, Mode: core.Snapshot,
		Position: tx.pos, Keys: [][]byte{key}})
	if err != nil {
		return nil, err
	}
	return res.Values[0], nil
}

// Put buffers a write.
func (tx *Tx) Put(key, value []byte) {
	tx.mutations = append(tx.mutations, core.Mutation{Key: key, Value: value})
}

// Delete buffers a deletion.
func (tx *Tx) Delete(key []byte) {
	tx.mutations = append(tx.mutations, core.Mutation{Key: key, Delete: true})
}

// Transaction runs fn in a transaction on group and commits its writes as
// one log entry; on conflict it reruns fn from a fresh current read. fn may
// run several times and must not have other side effects. It returns the
// committed position (the read position if fn wrote nothing).
func (c *Client) Transaction(ctx context.Context, group core.GroupID, fn func(tx *Tx) error) (core.Position, error) {
	for attempt := 0; attempt < c.MaxAttempts; attempt++ {
		// BeginWrite starts with a current read: it catches this site up and
		// gives the position to append after.
		res, err := c.site.Read(ctx, core.ReadRequest{Group: group, Mode: core.Current})
		if err != nil {
			return 0, err
		}
		tx := &Tx{c: c, ctx: ctx, group: group, pos: res.Position}
		if err := fn(tx); err != nil {
			return 0, err
		}
		if len(tx.mutations) == 0 {
			return tx.pos, nil
		}
		pos, err := c.site.Write(ctx, core.WriteRequest{Group: group, ReadPosition: tx.pos,
			Mutations: tx.mutations})
		if errors.Is(err, core.ErrConflict) {
			continue
		}
		return pos, err
	}
	return 0, fmt.Errorf("%w: %d attempts", ErrTooManyAttempts, c.MaxAttempts)
}

// Put writes one key in its own transaction.
func (c *Client) Put(ctx context.Context, group core.GroupID, key, value []byte) (core.Position, error) {
	return c.Transaction(ctx, group, func(tx *Tx) error { tx.Put(key, value); return nil })
}

// Get is a current read of one key: it observes every acknowledged write.
func (c *Client) Get(ctx context.Context, group core.GroupID, key []byte) ([]byte, core.Position, error) {
	return c.get(ctx, group, key, core.Current)
}

// SnapshotGet reads one key at the last position applied at this site.
func (c *Client) SnapshotGet(ctx context.Context, group core.GroupID, key []byte) ([]byte, core.Position, error) {
	return c.get(ctx, group, key, core.Snapshot)
}

// InconsistentGet reads the newest local version of one key.
func (c *Client) InconsistentGet(ctx context.Context, group core.GroupID, key []byte) ([]byte, error) {
	v, _, err := c.get(ctx, group, key, core.Inconsistent)
	return v, err
}

func (c *Client) get(ctx context.Context, group core.GroupID, key []byte, mode core.ReadMode) ([]byte, core.Position, error) {
	res, err := c.site.Read(ctx, core.ReadRequest{Group: group, Mode: mode, Keys: [][]byte{key}})
	if err != nil {
		return nil, 0, err
	}
	return res.Values[0], res.Position, nil
}

// Scan reads the rows of group in r with the given consistency (Current
// observes every acknowledged write), and the position it read at.
func (c *Client) Scan(ctx context.Context, group core.GroupID, r core.KeyRange, mode core.ReadMode) ([]core.KeyValue, bool, core.Position, error) {
	res, err := c.site.Read(ctx, core.ReadRequest{Group: group, Mode: mode, Range: &r})
	if err != nil {
		return nil, false, 0, err
	}
	return res.Rows, res.More, res.Position, nil
}
