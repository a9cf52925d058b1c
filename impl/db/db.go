package db

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/schema"
	"github.com/megastore-verified/megastore/impl/wire"
)

// Sentinel errors (errors.Is); returned errors wrap them with detail.
var (
	// ErrWrongGroup: a write names a row outside the transaction's group.
	ErrWrongGroup = errors.New("db: row outside the transaction's entity group")
	// ErrTxTooLarge: the transaction exceeds a size limit (Options).
	ErrTxTooLarge = errors.New("db: transaction too large")
	// ErrReadOnly: a write in a View.
	ErrReadOnly = errors.New("db: write in a read-only transaction")
	// ErrTxDone: a Tx used after its function returned.
	ErrTxDone = errors.New("db: transaction already finished")
	// ErrBadCursor: a scan cursor outside the scanned range.
	ErrBadCursor = errors.New("db: cursor outside the scanned range")
	// ErrIndexMismatch: CheckIndexes or CheckGlobal found an index that differs from the
	// data it indexes.
	ErrIndexMismatch = errors.New("db: index differs from the data it indexes")
)

// Options tune a DB; zero fields take the defaults.
type Options struct {
	// MaxAttempts bounds the runs of one Update (default 20).
	MaxAttempts int
	// BackoffBase and BackoffMax shape the random exponential backoff
	// before a rerun (defaults 2 ms and 200 ms).
	BackoffBase, BackoffMax time.Duration
	// MaxMutations, MaxKeyBytes and MaxValueBytes mirror the site's
	// core.Config limits (defaults: core.DefaultConfig's), so an oversized
	// transaction gets a clear error before it is sent.
	MaxMutations, MaxKeyBytes, MaxValueBytes int
	// MaxTxBytes bounds the keys and values of one transaction (default
	// 16 MiB, well under the client API's request bound).
	MaxTxBytes int
	// ScanPage is how many rows one scan request asks for (default 256).
	ScanPage int
	// Seed seeds the backoff jitter.
	Seed uint64
	// Sleep waits out a backoff (nil: a real timer). The deterministic
	// simulator passes one that waits in simulated time.
	Sleep func(ctx context.Context, d time.Duration) error
	// IDs is where two-phase transaction ids come from (nil:
	// crypto/rand). Ids must be unique across every DB of a store; the
	// simulator passes a seeded stream so that a seed replays.
	IDs io.Reader
	// Bugs break the DB on purpose, to show that the suite's workload
	// checkers catch it. Like core.Config.Bugs they are honoured only in a
	// build with -tags megastore_bugs (core.BugsCompiled); in any other
	// build a DB with one on refuses every transaction.
	Bugs Bugs
}

// Bugs are deliberate breakages of the DB for the suite's checkers (see
// tests/sim's bank and queue workloads).
type Bugs struct {
	// TwoPhaseOneSide: a committed two-phase transaction applies its
	// intent in the first group only and drops the others.
	TwoPhaseOneSide bool
	// QueueApplyTwice: a delivery ignores the receiver's mark, so a
	// message delivered twice (two deliverers, or one that died before
	// clearing the outbox) is applied twice.
	QueueApplyTwice bool
	// QueueLoseBatch: a Deliver runs the handler of the first message it
	// read only; the others are marked applied (and cleared) without it.
	QueueLoseBatch bool
	// IndexKeepsStale: a Put that replaces a row leaves the old row's
	// local index entries in place (a stale index entry, as a forgotten
	// delete in index maintenance would).
	IndexKeepsStale bool
}

func (o *Options) fill() {
	def := core.DefaultConfig("x", []core.Site{{ID: "x", Kind: core.Full}})
	set := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	set(&o.MaxAttempts, 20)
	set(&o.MaxMutations, def.MaxMutations)
	set(&o.MaxKeyBytes, def.MaxKeyBytes)
	set(&o.MaxValueBytes, def.MaxValueBytes)
	set(&o.MaxTxBytes, 16<<20)
	set(&o.ScanPage, 256)
	if o.ScanPage > def.MaxScanRows {
		o.ScanPage = def.MaxScanRows
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 2 * time.Millisecond
	}
	if o.BackoffMax < o.BackoffBase {
		o.BackoffMax = 100 * o.BackoffBase
	}
}

// DB runs transactions of one schema at one site. It is safe for
// concurrent use.
type DB struct {
	site   client.Site
	schema *schema.Schema
	opts   Options

	mu       sync.Mutex
	rng      *rand.Rand
	handlers map[string]Handler
	// refused: a bug switch is on in a build without them (Options.Bugs).
	refused error
	// crashAfter, set by tests, stops a two-phase transaction after a step
	// ("prepared" or "decided") as a crashed coordinator would.
	crashAfter string
}

// Open returns a DB of s at site; opts may be nil.
func Open(site client.Site, s *schema.Schema, opts *Options) *DB {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.fill()
	d := &DB{site: site, schema: s, opts: o, rng: rand.New(rand.NewPCG(o.Seed, 0x5ca1ab1e))}
	if o.Bugs != (Bugs{}) && !core.BugsCompiled {
		d.refused = fmt.Errorf("%w: db bug switches are on (%+v), but this build has none (they are compiled in only with -tags %s)",
			core.ErrInvalidConfig, o.Bugs, core.BugTag)
	}
	return d
}

// Schema returns the DB's schema.
func (d *DB) Schema() *schema.Schema { return d.schema }

// Ref names an entity group by its root row.
type Ref struct {
	Table string
	Key   schema.Key
}

// Root names the entity group whose root is the row of table with key.
func Root(table string, key ...any) Ref { return Ref{Table: table, Key: key} }

// Group resolves a Ref to the group's name and key prefix.
func (d *DB) Group(r Ref) (schema.Group, error) { return d.schema.GroupOf(r.Table, r.Key) }

// Result is what a transaction came to.
type Result struct {
	// Position is the committed position (the read position if nothing
	// was written, and for a View).
	Position core.Position
	// Attempts is how many times fn ran.
	Attempts int
}

func (d *DB) backoff(ctx context.Context, attempt int) error {
	max := d.opts.BackoffBase << min(attempt-2, 20)
	if max > d.opts.BackoffMax || max <= 0 {
		max = d.opts.BackoffMax
	}
	d.mu.Lock()
	wait := time.Duration(d.rng.Int64N(int64(max)) + 1)
	d.mu.Unlock()
	if d.opts.Sleep != nil {
		return d.opts.Sleep(ctx, wait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Update runs fn in a read-write transaction of group root and commits its
// writes as one log entry, rerunning fn on conflict (see the package doc).
func (d *DB) Update(ctx context.Context, root Ref, fn func(tx *Tx) error) (Result, error) {
	g, err := d.Group(root)
	if err != nil {
		return Result{}, err
	}
	return d.update(ctx, g, fn)
}

func (d *DB) update(ctx context.Context, g schema.Group, fn func(tx *Tx) error) (Result, error) {
	return d.updateIntents(ctx, g, true, fn)
}

// updateIntents is update; honour says whether to settle another
// transaction's two-phase intent in the group first (see twophase.go).
func (d *DB) updateIntents(ctx context.Context, g schema.Group, honour bool, fn func(tx *Tx) error) (Result, error) {
	var out Result
	if d.refused != nil {
		return out, d.refused
	}
	for attempt := 1; attempt <= d.opts.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := d.backoff(ctx, attempt); err != nil {
				return out, err
			}
		}
		res, err := d.site.Read(ctx, core.ReadRequest{Group: core.GroupID(g.Name), Mode: core.Current})
		if err != nil {
			// NB: at a witness the core refuses the transaction's first
			// read; what the caller asked for is a transaction, so say that.
			return out, wire.WitnessWrite(err)
		}
		out.Attempts = attempt
		tx := d.newTx(ctx, g, core.Current, res.Position, false, attempt)
		if honour && g.Prefix != nil {
			if err := d.honourIntent(tx); errors.Is(err, errSettled) {
				continue
			} else if err != nil {
				return out, err
			}
		}
		err = fn(tx)
		tx.done = true
		if err != nil {
			return out, err
		}
		if tx.err != nil {
			return out, tx.err
		}
		muts, err := tx.mutations()
		if err != nil {
			return out, err
		}
		if len(muts) == 0 {
			out.Position = tx.pos
			return out, nil
		}
		pos, err := d.site.Write(ctx, core.WriteRequest{Group: core.GroupID(g.Name), ReadPosition: tx.pos, Mutations: muts})
		if errors.Is(err, core.ErrConflict) && !errors.Is(err, client.ErrTooManyAttempts) {
			continue
		}
		if err == nil {
			out.Position = pos
		}
		return out, err
	}
	return out, fmt.Errorf("%w: %d attempts on group %s", client.ErrTooManyAttempts, d.opts.MaxAttempts, g.Name)
}

// View runs fn in a read-only transaction of group root with the given
// read mode (see the package doc).
func (d *DB) View(ctx context.Context, root Ref, mode core.ReadMode, fn func(tx *Tx) error) (Result, error) {
	g, err := d.Group(root)
	if err != nil {
		return Result{}, err
	}
	return d.view(ctx, g, mode, fn)
}

func (d *DB) view(ctx context.Context, g schema.Group, mode core.ReadMode, fn func(tx *Tx) error) (Result, error) {
	var pos core.Position
	if d.refused != nil {
		return Result{}, d.refused
	}
	switch mode {
	case core.Current, core.Snapshot:
		for settle := 0; ; settle++ {
			res, err := d.site.Read(ctx, core.ReadRequest{Group: core.GroupID(g.Name), Mode: mode})
			if err != nil {
				return Result{}, err
			}
			pos = res.Position
			if g.Prefix == nil || mode != core.Current || settle == 3 {
				break // NB: a snapshot read writes nothing, even to roll forward
			}
			// NB: a committed two-phase transaction is visible: roll it
			// forward, then read again (twophase.go).
			if err := d.rollForward(d.newTx(ctx, g, mode, pos, true, 1)); errors.Is(err, errSettled) {
				continue
			} else if err != nil {
				return Result{}, err
			}
			break
		}
	case core.Inconsistent:
	default:
		return Result{}, fmt.Errorf("%w: read mode %v", core.ErrMalformed, mode)
	}
	tx := d.newTx(ctx, g, mode, pos, true, 1)
	err := fn(tx)
	tx.done = true
	if err == nil {
		err = tx.err
	}
	return Result{Position: pos, Attempts: 1}, err
}

func (d *DB) newTx(ctx context.Context, g schema.Group, mode core.ReadMode, pos core.Position, readOnly bool, attempt int) *Tx {
	return &Tx{d: d, ctx: ctx, g: g, mode: mode, pos: pos, readOnly: readOnly, attempt: attempt, writes: map[string]write{}}
}

type write struct {
	value  []byte
	delete bool
}

// Tx is one run of a transaction (see the package doc). It is not safe for
// concurrent use and is dead once its function returns.
type Tx struct {
	d        *DB
	ctx      context.Context
	g        schema.Group
	mode     core.ReadMode
	pos      core.Position
	readOnly bool
	attempt  int
	done     bool
	writes   map[string]write
	order    []string // keys in first-write order
	err      error    // sticky: the first failed method
}

// Position is the log position the transaction reads at (0 for an
// inconsistent View).
func (tx *Tx) Position() core.Position { return tx.pos }

// Attempt is 1 for the first run, 2 for the first rerun, and so on.
func (tx *Tx) Attempt() int { return tx.attempt }

// Group is the transaction's entity group.
func (tx *Tx) Group() schema.Group { return tx.g }

// fail records the first error of the transaction and returns err.
func (tx *Tx) fail(err error) error {
	if tx.err == nil {
		tx.err = err
	}
	return err
}

func (tx *Tx) usable(write bool) error {
	switch {
	case tx.done:
		return ErrTxDone // NB: not sticky; the transaction is over
	case tx.err != nil:
		return tx.err
	case write && tx.readOnly:
		return tx.fail(ErrReadOnly)
	}
	return nil
}

func (tx *Tx) read(req core.ReadRequest) (nodeResult, error) {
	if tx.pos == 0 && tx.mode != core.Inconsistent {
		// NB: the transaction reads the group before its first position:
		// empty. A site reads position 0 as its newest applied one, which
		// another writer may have moved past meanwhile, so each read would
		// see whatever the site had applied by then (fractured reads of a
		// fresh group; a write would conflict, a read-only one committed).
		return nodeResult{values: make([][]byte, len(req.Keys))}, nil
	}
	req.Group = core.GroupID(tx.g.Name)
	req.Mode = core.Snapshot
	req.Position = tx.pos // NB: 0 (inconsistent): the newest applied position
	res, err := tx.d.site.Read(tx.ctx, req)
	if err != nil {
		return nodeResult{}, tx.fail(err)
	}
	return nodeResult{values: res.Values, rows: res.Rows, more: res.More}, nil
}

type nodeResult struct {
	values [][]byte
	rows   []core.KeyValue
	more   bool
}

// getRaw reads one key, seeing the transaction's own writes.
func (tx *Tx) getRaw(key []byte) ([]byte, bool, error) {
	if w, ok := tx.writes[string(key)]; ok {
		return w.value, !w.delete, nil
	}
	res, err := tx.read(core.ReadRequest{Keys: [][]byte{key}})
	if err != nil {
		return nil, false, err
	}
	return res.values[0], res.values[0] != nil, nil
}

func (tx *Tx) set(key, value []byte, del bool) {
	k := string(key)
	if _, ok := tx.writes[k]; !ok {
		tx.order = append(tx.order, k)
	}
	tx.writes[k] = write{value: value, delete: del}
}

// Get reads the row of table with primary key key.
func (tx *Tx) Get(table string, key ...any) (schema.Row, bool, error) {
	if err := tx.usable(false); err != nil {
		return nil, false, err
	}
	g, rk, err := tx.d.schema.RowKey(table, key)
	if err != nil {
		return nil, false, tx.fail(err)
	}
	if g.Name != tx.g.Name {
		return nil, false, tx.fail(fmt.Errorf("%w: %s%v is in group %s, the transaction's is %s", ErrWrongGroup, table, key, g.Name, tx.g.Name))
	}
	b, found, err := tx.getRaw(rk)
	if err != nil || !found {
		return nil, false, err
	}
	row, err := tx.d.schema.DecodeRow(table, b)
	if err != nil {
		return nil, false, tx.fail(err)
	}
	return row, true, nil
}

// rowKey checks a write's key against the transaction's group.
func (tx *Tx) rowKey(table string, key schema.Key) ([]byte, error) {
	g, rk, err := tx.d.schema.RowKey(table, key)
	if err != nil {
		return nil, err
	}
	if g.Name != tx.g.Name {
		return nil, fmt.Errorf("%w: %s%v is in group %s, the transaction's is %s", ErrWrongGroup, table, key, g.Name, tx.g.Name)
	}
	if len(rk) > tx.d.opts.MaxKeyBytes {
		return nil, fmt.Errorf("%w: key of %d bytes exceeds %d: %w", ErrTxTooLarge, len(rk), tx.d.opts.MaxKeyBytes, core.ErrKeyTooLarge)
	}
	return rk, nil
}

// oldEntries returns the index entries of the stored (or buffered) row at
// rk, and whether the row exists.
func (tx *Tx) oldEntries(table string, rk []byte) (map[string][]byte, bool, error) {
	b, found, err := tx.getRaw(rk)
	if err != nil || !found {
		return nil, false, err
	}
	if len(tx.d.schema.Indexes(table)) == 0 {
		return nil, true, nil
	}
	row, err := tx.d.schema.DecodeRow(table, b)
	if err != nil {
		return nil, false, err
	}
	entries, err := tx.d.schema.IndexEntries(table, row)
	if err != nil {
		return nil, false, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		out[string(e.Key)] = e.Value
	}
	return out, true, nil
}

// Put writes a row of table (insert or replace) and its index entries.
func (tx *Tx) Put(table string, row schema.Row) error {
	if err := tx.usable(true); err != nil {
		return err
	}
	return tx.fail2(tx.put(table, row))
}

// fail2 records a non-nil error.
func (tx *Tx) fail2(err error) error {
	if err != nil {
		return tx.fail(err)
	}
	return nil
}

func (tx *Tx) put(table string, row schema.Row) error {
	s := tx.d.schema
	n, err := s.CheckRow(table, row)
	if err != nil {
		return err
	}
	key, err := s.KeyOf(table, n)
	if err != nil {
		return err
	}
	rk, err := tx.rowKey(table, key)
	if err != nil {
		return err
	}
	value := schema.EncodeRow(n)
	if len(value) > tx.d.opts.MaxValueBytes {
		return fmt.Errorf("%w: row of %d bytes exceeds %d: %w", ErrTxTooLarge, len(value), tx.d.opts.MaxValueBytes, core.ErrValueTooLarge)
	}
	if len(s.Indexes(table)) == 0 {
		tx.set(rk, value, false) // NB: nothing to maintain, so no need to read the old row
		return nil
	}
	old, _, err := tx.oldEntries(table, rk)
	if err != nil {
		return err
	}
	entries, err := s.IndexEntries(table, n)
	if err != nil {
		return err
	}
	fresh := map[string]bool{}
	for _, e := range entries {
		fresh[string(e.Key)] = true
		if v, ok := old[string(e.Key)]; ok && bytes.Equal(v, e.Value) {
			continue // NB: unchanged entries cost no mutation
		}
		tx.set(e.Key, e.Value, false)
	}
	for k := range old {
		if !fresh[k] && !(tx.d.opts.Bugs.IndexKeepsStale && core.BugsCompiled) {
			tx.set([]byte(k), nil, true)
		}
	}
	tx.set(rk, value, false)
	return nil
}

// Delete removes the row of table with primary key key, and its index
// entries; deleting an absent row does nothing.
func (tx *Tx) Delete(table string, key ...any) error {
	if err := tx.usable(true); err != nil {
		return err
	}
	return tx.fail2(tx.delete(table, key))
}

func (tx *Tx) delete(table string, key schema.Key) error {
	rk, err := tx.rowKey(table, key)
	if err != nil {
		return err
	}
	old, found, err := tx.oldEntries(table, rk)
	if err != nil || !found {
		return err
	}
	for k := range old {
		tx.set([]byte(k), nil, true)
	}
	tx.set(rk, nil, true)
	return nil
}

// mutations returns the buffered writes, one per key, checked against the
// size limits.
func (tx *Tx) mutations() ([]core.Mutation, error) {
	if len(tx.order) > tx.d.opts.MaxMutations {
		return nil, fmt.Errorf("%w: %d mutations (rows and index entries) exceed %d: %w", ErrTxTooLarge,
			len(tx.order), tx.d.opts.MaxMutations, core.ErrTooManyMutations)
	}
	out := make([]core.Mutation, 0, len(tx.order))
	total := 0
	for _, k := range tx.order {
		w := tx.writes[k]
		total += len(k) + len(w.value)
		out = append(out, core.Mutation{Key: []byte(k), Value: w.value, Delete: w.delete})
	}
	if total > tx.d.opts.MaxTxBytes {
		return nil, fmt.Errorf("%w: %d bytes exceed %d", ErrTxTooLarge, total, tx.d.opts.MaxTxBytes)
	}
	return out, nil
}

// ScanOptions select part of a table or index.
type ScanOptions struct {
	// Prefix restricts the scan to keys starting with these values: for a
	// table, its primary key after the group key; for an index, its
	// indexed values.
	Prefix schema.Key
	// Limit bounds the rows returned (0: no bound).
	Limit int
	// Cursor continues an earlier scan of the same range.
	Cursor []byte
}

// Scan returns rows of table in the group, in primary key order, and a
// cursor (nil: no more rows).
func (tx *Tx) Scan(table string, opt ScanOptions) ([]schema.Row, []byte, error) {
	if err := tx.usable(false); err != nil {
		return nil, nil, err
	}
	start, end, err := tx.d.schema.TableRange(tx.g, table, opt.Prefix)
	if err != nil {
		return nil, nil, tx.fail(err)
	}
	kvs, cursor, err := tx.scanRaw(start, end, opt)
	if err != nil {
		return nil, nil, err
	}
	rows := make([]schema.Row, len(kvs))
	for i, kv := range kvs {
		if rows[i], err = tx.d.schema.DecodeRow(table, kv.Value); err != nil {
			return nil, nil, tx.fail(err)
		}
	}
	return rows, cursor, nil
}

// ScanIndex returns entries of a local index in the group, in index order,
// and a cursor (nil: no more entries).
func (tx *Tx) ScanIndex(index string, opt ScanOptions) ([]schema.IndexHit, []byte, error) {
	if err := tx.usable(false); err != nil {
		return nil, nil, err
	}
	start, end, err := tx.d.schema.IndexRange(tx.g, index, opt.Prefix)
	if err != nil {
		return nil, nil, tx.fail(err)
	}
	kvs, cursor, err := tx.scanRaw(start, end, opt)
	if err != nil {
		return nil, nil, err
	}
	hits := make([]schema.IndexHit, len(kvs))
	for i, kv := range kvs {
		if hits[i], err = tx.d.schema.DecodeIndexEntry(tx.g, index, kv.Key, kv.Value); err != nil {
			return nil, nil, tx.fail(err)
		}
	}
	return hits, cursor, nil
}

func inRange(k, start, end []byte) bool {
	return bytes.Compare(k, start) >= 0 && (end == nil || bytes.Compare(k, end) < 0)
}

// scanRaw merges the stored rows of [start, end) at the transaction's
// position with its buffered writes, page by page.
func (tx *Tx) scanRaw(start, end []byte, opt ScanOptions) ([]core.KeyValue, []byte, error) {
	cur := start
	if opt.Cursor != nil {
		if !inRange(opt.Cursor, start, end) {
			return nil, nil, tx.fail(fmt.Errorf("%w: %x", ErrBadCursor, opt.Cursor))
		}
		cur = opt.Cursor
	}
	var out []core.KeyValue
	for {
		res, err := tx.read(core.ReadRequest{Range: &core.KeyRange{Start: cur, End: end, Limit: tx.d.opts.ScanPage}})
		if err != nil {
			return nil, nil, err
		}
		covered := end // NB: exclusive end of what this page answers for
		if res.more && len(res.rows) > 0 {
			covered = append(bytes.Clone(res.rows[len(res.rows)-1].Key), 0)
		}
		merged := tx.overlay(res.rows, cur, covered)
		for _, kv := range merged {
			if opt.Limit > 0 && len(out) == opt.Limit {
				return out, append(bytes.Clone(out[len(out)-1].Key), 0), nil
			}
			out = append(out, kv)
		}
		if !res.more || len(res.rows) == 0 {
			return out, nil, nil
		}
		if opt.Limit > 0 && len(out) == opt.Limit {
			return out, append(bytes.Clone(out[len(out)-1].Key), 0), nil
		}
		cur = covered
	}
}

// overlay applies the buffered writes in [start, end) to stored rows.
func (tx *Tx) overlay(rows []core.KeyValue, start, end []byte) []core.KeyValue {
	byKey := map[string][]byte{}
	for _, kv := range rows {
		byKey[string(kv.Key)] = kv.Value
	}
	for k, w := range tx.writes {
		if !inRange([]byte(k), start, end) {
			continue
		}
		if w.delete {
			delete(byKey, k)
		} else {
			byKey[k] = w.value
		}
	}
	out := make([]core.KeyValue, 0, len(byKey))
	for k, v := range byKey {
		out = append(out, core.KeyValue{Key: []byte(k), Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out
}
