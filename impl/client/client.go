package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/wire"
)

// Site is what the client needs from the site it talks to.
type Site interface {
	Write(ctx context.Context, req core.WriteRequest) (core.Position, error)
	Read(ctx context.Context, req core.ReadRequest) (node.ReadResult, error)
}

var _ Site = (*node.Driver)(nil)

// ErrTooManyAttempts: a transaction kept conflicting for MaxAttempts runs
// and did not commit. It wraps core.ErrConflict, and it is the same value a
// site's server-side Put reports across the wire (wire.ErrTooManyAttempts),
// so errors.Is(err, core.ErrConflict) and errors.Is(err, ErrTooManyAttempts)
// hold for both Puts, in process or remote.
var ErrTooManyAttempts = wire.ErrTooManyAttempts

// ErrWitnessNoWrites: a transaction or Put was sent to a witness site. The
// same value crosses the wire (wire.ErrWitnessNoWrites).
var ErrWitnessNoWrites = wire.ErrWitnessNoWrites

// Client runs reads and transactions at one site.
type Client struct {
	site Site
	// MaxAttempts bounds the reruns of one transaction (default 100).
	MaxAttempts int
	// Fallback lists other sites, in the order to try them, for a current
	// read (and the transaction it begins) that cannot complete at the
	// client's site: §4.6.2 lets the client library pick another replica
	// when the local one cannot catch up (cut off from a majority, or
	// down). Reads have no effect, so a read that may not have completed
	// (Classify says Unknown) is simply asked elsewhere.
	Fallback []Site
	// TryTimeout bounds one current read at one site before the next
	// Fallback site is tried (default 2 s). Only with Fallback.
	TryTimeout time.Duration
}

// currentRead performs a current read at the client's site, or at the
// first Fallback site that completes it, and returns that site: the
// transaction the read begins runs there.
func (c *Client) currentRead(ctx context.Context, req core.ReadRequest) (Site, node.ReadResult, error) {
	sites := append([]Site{c.site}, c.Fallback...)
	try := c.TryTimeout
	if try <= 0 {
		try = 2 * time.Second
	}
	for i, s := range sites {
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if i < len(sites)-1 {
			tctx, cancel = context.WithTimeout(ctx, try)
		}
		res, err := s.Read(tctx, req)
		cancel()
		if err == nil || ctx.Err() != nil || i == len(sites)-1 || Classify(err) != Unknown {
			return s, res, err
		}
	}
	panic("unreachable") // NB: the last site returns above
}

// New returns a client of site.
func New(site Site) *Client { return &Client{site: site, MaxAttempts: 100} }

// Tx is one run of a transaction: reads see the group as of the position its
// current read returned; writes are buffered until commit.
type Tx struct {
	c         *Client
	site      Site // where the transaction's current read ran
	ctx       context.Context
	group     core.GroupID
	pos       core.Position
	attempt   int
	mutations []core.Mutation
}

// Position is the log position the transaction reads at.
func (tx *Tx) Position() core.Position { return tx.pos }

// Attempt is which run of the transaction this is: 1 for the first, 2 for
// the first rerun after a conflict, and so on.
func (tx *Tx) Attempt() int { return tx.attempt }

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
	res, err := tx.site.Read(tx.ctx, core.ReadRequest{Group: tx.group, Mode: core.Snapshot,
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

// TxResult is what one Transaction came to.
type TxResult struct {
	// Position is the committed position (the read position if fn wrote
	// nothing); zero on error.
	Position core.Position
	// Attempts is how many times fn ran: 1 when the first run committed,
	// more after conflicts. It is set on error too (0 if the first current
	// read failed).
	Attempts int
}

// Transaction runs fn in a transaction on group and commits its writes as
// one log entry; on conflict it reruns fn from a fresh current read. fn may
// run several times and must not have other side effects. It returns the
// committed position (the read position if fn wrote nothing). Run is the
// same and also returns the attempt count.
func (c *Client) Transaction(ctx context.Context, group core.GroupID, fn func(tx *Tx) error) (core.Position, error) {
	res, err := c.Run(ctx, group, fn)
	return res.Position, err
}

// Run is Transaction, returning the number of runs too.
func (c *Client) Run(ctx context.Context, group core.GroupID, fn func(tx *Tx) error) (TxResult, error) {
	var out TxResult
	for attempt := 1; attempt <= c.MaxAttempts; attempt++ {
		// BeginWrite starts with a current read: it catches this site up and
		// gives the position to append after.
		site, res, err := c.currentRead(ctx, core.ReadRequest{Group: group, Mode: core.Current})
		if err != nil {
			// NB: at a witness the core refuses the transaction's first read;
			// what the caller asked for is a transaction, so say that.
			return out, wire.WitnessWrite(err)
		}
		out.Attempts = attempt
		tx := &Tx{c: c, site: site, ctx: ctx, group: group, pos: res.Position, attempt: attempt}
		if err := fn(tx); err != nil {
			return out, err
		}
		if len(tx.mutations) == 0 {
			out.Position = tx.pos
			return out, nil
		}
		pos, err := site.Write(ctx, core.WriteRequest{Group: group, ReadPosition: tx.pos,
			Mutations: tx.mutations})
		if errors.Is(err, core.ErrConflict) && !errors.Is(err, ErrTooManyAttempts) {
			continue
		}
		if err == nil {
			out.Position = pos
		}
		return out, err
	}
	return out, fmt.Errorf("%w: %d attempts", ErrTooManyAttempts, c.MaxAttempts)
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

// InconsistentGet reads the newest local version of one key, and the
// position that version is as of.
//
// NB: a site's storage holds exactly the entries it has applied, so the
// newest local version of a key is its version at the site's last applied
// position: the library asks for a snapshot read at that position, which
// returns the same value and names the position (the core answers an
// inconsistent read with no position).
func (c *Client) InconsistentGet(ctx context.Context, group core.GroupID, key []byte) ([]byte, core.Position, error) {
	return c.get(ctx, group, key, core.Inconsistent)
}

// positioned returns the mode to ask the site for: an inconsistent read is
// asked as a snapshot read at the last applied position (see
// InconsistentGet).
func positioned(mode core.ReadMode) core.ReadMode {
	if mode == core.Inconsistent {
		return core.Snapshot
	}
	return mode
}

// read performs a read in mode (an inconsistent one asked as a snapshot
// read, see positioned); a current read may fall back to another site.
func (c *Client) read(ctx context.Context, mode core.ReadMode, req core.ReadRequest) (node.ReadResult, error) {
	req.Mode = positioned(mode)
	if mode == core.Current {
		_, res, err := c.currentRead(ctx, req)
		return res, err
	}
	return c.site.Read(ctx, req)
}

func (c *Client) get(ctx context.Context, group core.GroupID, key []byte, mode core.ReadMode) ([]byte, core.Position, error) {
	res, err := c.read(ctx, mode, core.ReadRequest{Group: group, Keys: [][]byte{key}})
	if err != nil {
		return nil, 0, err
	}
	return res.Values[0], res.Position, nil
}

// Scan reads the rows of group in r with the given consistency (Current
// observes every acknowledged write), and the position it read at.
func (c *Client) Scan(ctx context.Context, group core.GroupID, r core.KeyRange, mode core.ReadMode) ([]core.KeyValue, bool, core.Position, error) {
	res, err := c.read(ctx, mode, core.ReadRequest{Group: group, Range: &r})
	if err != nil {
		return nil, false, 0, err
	}
	return res.Rows, res.More, res.Position, nil
}
