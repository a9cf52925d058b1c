package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/megastore-verified/megastore/impl/core"
)

// Pebble is core.Storage on a Pebble database.
type Pebble struct {
	db  *pebble.DB
	mem *vfs.MemFS // set when opened with OpenMem
	dir string
}

var _ core.Storage = (*Pebble)(nil)

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func open(dir string, fs vfs.FS) (*pebble.DB, error) {
	return openWith(dir, fs, pebble.FormatDefault)
}

// memFormat is the format of OpenMem stores: columnar blocks. NB: Pebble's
// older row-block sstable writer takes its write tasks from a global
// sync.Pool, each with a channel made where the task was first made; the
// simulator runs every seed's stores in a testing/synctest bubble of its
// own, and a flush in one bubble that took a task made in another died
// ("send on synctest channel from outside bubble"). The columnar writer
// makes its channels per table.
const memFormat = pebble.FormatNewest

func openWith(dir string, fs vfs.FS, format pebble.FormatMajorVersion) (*pebble.DB, error) {
	opts := &pebble.Options{FS: fs, Logger: quietLogger{}, FormatMajorVersion: format,
		// Pebble's default answer to a checksum mismatch is Logger.Fatalf,
		// which panics here. Without the hook the corruption comes back as
		// an error from the read (the iterator's Error), so a damaged store
		// fails Load with "pebble: corruption ... checksum mismatch"
		// instead of crashing the node.
		EventListener: &pebble.EventListener{DataCorruption: func(pebble.DataCorruptionInfo) {}},
	}
	return pebble.Open(dir, opts)
}

// Open opens (or creates) the store in dir on the real filesystem.
func Open(dir string) (*Pebble, error) {
	db, err := open(dir, vfs.Default)
	if err != nil {
		return nil, err
	}
	return &Pebble{db: db, dir: dir}, nil
}

// OpenMem opens a store on an in-memory filesystem that remembers what was
// synced, so Crash can throw the rest away.
func OpenMem() (*Pebble, error) {
	fs := vfs.NewCrashableMem()
	db, err := openWith("db", fs, memFormat)
	if err != nil {
		return nil, err
	}
	return &Pebble{db: db, mem: fs, dir: "db"}, nil
}

// Crash simulates power loss: it returns the store reopened from only what
// had been synced, and closes this one. keepUnsyncedPercent (0..100) lets a
// simulator keep a random part of the unsynced writes, drawn from rng.
// REQUIRES: opened with OpenMem.
func (s *Pebble) Crash(keepUnsyncedPercent int, rng *rand.Rand) (*Pebble, error) {
	if s.mem == nil {
		return nil, fmt.Errorf("storage: Crash needs an OpenMem store")
	}
	cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: keepUnsyncedPercent}
	if keepUnsyncedPercent > 0 {
		cfg.RNG = rng
	}
	clone := s.mem.CrashClone(cfg)
	_ = s.db.Close() // NB: the clone is already taken; nothing more reaches it.
	db, err := openWith(s.dir, clone, memFormat)
	if err != nil {
		return nil, err
	}
	return &Pebble{db: db, mem: clone, dir: s.dir}, nil
}

var _ core.GroupStorage = (*Pebble)(nil)

// LoadHardState reads the hard state alone: a replica restored from it
// (core.State.Partial) loads groups as they are named, so startup reads one
// key however many groups the store holds.
func (s *Pebble) LoadHardState() (core.HardState, error) {
	var hs core.HardState
	v, closer, err := s.db.Get(hardStateKey)
	switch {
	case err == nil:
		inc, n := binary.Uvarint(v)
		closer.Close()
		if n <= 0 {
			return hs, fmt.Errorf("%w: hard state", ErrCorrupt)
		}
		hs.Incarnation = inc
	case err != pebble.ErrNotFound:
		return hs, err
	}
	return hs, nil
}

// LoadGroup reads one group's acceptor records, log and applied position:
// two range reads and one point read under the group's prefix, never its
// data rows.
func (s *Pebble) LoadGroup(g core.GroupID) (core.GroupState, error) {
	var gs core.GroupState
	for _, kind := range []byte{kindAcceptor, kindLog} {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: groupKey(g, kind), UpperBound: groupKey(g, kind+1)})
		if err != nil {
			return gs, err
		}
		for it.First(); it.Valid(); it.Next() {
			rest := it.Key()[len(groupKey(g, kind)):]
			if len(rest) != 8 {
				it.Close()
				return gs, fmt.Errorf("%w: position in %q", ErrCorrupt, it.Key())
			}
			p := core.Position(binary.BigEndian.Uint64(rest))
			if kind == kindAcceptor {
				a, err := decodeAcceptor(g, p, it.Value())
				if err != nil {
					it.Close()
					return gs, err
				}
				gs.Acceptor = append(gs.Acceptor, a)
				continue
			}
			d := decoder{b: it.Value()}
			v := d.value()
			if d.err != nil {
				it.Close()
				return gs, d.err
			}
			gs.Chosen = append(gs.Chosen, core.Entry{Group: g, Position: p, Value: v})
		}
		if err := it.Close(); err != nil {
			return gs, err
		}
	}
	var err error
	if gs.Applied, err = s.position(groupKey(g, kindMeta)); err != nil {
		return gs, err
	}
	if gs.Truncated, err = s.position(groupKey(g, kindTruncated)); err != nil {
		return gs, err
	}
	return gs, nil
}

// position reads a root-row position (0 if absent).
func (s *Pebble) position(key []byte) (core.Position, error) {
	v, closer, err := s.db.Get(key)
	switch {
	case err == pebble.ErrNotFound:
		return 0, nil
	case err != nil:
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: root row %q", ErrCorrupt, key)
	}
	return core.Position(binary.BigEndian.Uint64(v)), nil
}

// Load reads the hard state, every acceptor record, the log and the applied
// positions: the whole State, for a replica that holds every group (and
// for checkers). It seeks past each group's data rows.
func (s *Pebble) Load() (core.State, error) {
	st := core.State{Applied: map[core.GroupID]core.Position{}, Truncated: map[core.GroupID]core.Position{}}
	hs, err := s.LoadHardState()
	if err != nil {
		return st, err
	}
	st.HardState = hs
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("g"), UpperBound: []byte("h")})
	if err != nil {
		return st, err
	}
	defer it.Close()
	for it.First(); it.Valid(); {
		g, kind, rest, err := parseGroupKey(it.Key())
		if err != nil {
			return st, err
		}
		switch kind {
		case kindMeta:
			if len(it.Value()) != 8 {
				return st, fmt.Errorf("%w: root row of %q", ErrCorrupt, g)
			}
			st.Applied[g] = core.Position(binary.BigEndian.Uint64(it.Value()))
		case kindTruncated:
			if len(it.Value()) != 8 {
				return st, fmt.Errorf("%w: truncation point of %q", ErrCorrupt, g)
			}
			st.Truncated[g] = core.Position(binary.BigEndian.Uint64(it.Value()))
		case kindAcceptor, kindLog:
			if len(rest) != 8 {
				return st, fmt.Errorf("%w: position in %q", ErrCorrupt, it.Key())
			}
			p := core.Position(binary.BigEndian.Uint64(rest))
			if kind == kindAcceptor {
				a, err := decodeAcceptor(g, p, it.Value())
				if err != nil {
					return st, err
				}
				st.Acceptor = append(st.Acceptor, a)
			} else {
				d := decoder{b: it.Value()}
				v := d.value()
				if d.err != nil {
					return st, d.err
				}
				st.Chosen = append(st.Chosen, core.Entry{Group: g, Position: p, Value: v})
			}
		case kindData:
			// Data is not part of the state: skip the group's data rows.
			it.SeekGE(groupKey(g, kindData+1))
			continue
		default:
			return st, fmt.Errorf("%w: kind %q", ErrCorrupt, kind)
		}
		it.Next()
	}
	return st, it.Error()
}

// Save writes d in one batch, synced if sync.
func (s *Pebble) Save(d core.Durable, sync bool) error {
	if d.IsEmpty() {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	if d.HardState != nil {
		if err := b.Set(hardStateKey, binary.AppendUvarint(nil, d.HardState.Incarnation), nil); err != nil {
			return err
		}
	}
	for _, a := range d.Acceptor {
		if err := b.Set(posKey(a.Group, kindAcceptor, a.Position), encodeAcceptor(a), nil); err != nil {
			return err
		}
	}
	for _, e := range d.Chosen {
		if err := b.Set(posKey(e.Group, kindLog, e.Position), appendValue(nil, e.Value), nil); err != nil {
			return err
		}
	}
	// NB: after the records above, in the same batch: a later operation
	// of a batch wins, so a record at or below a point is deleted too.
	for _, in := range d.Install {
		if err := s.install(b, in); err != nil {
			return err
		}
	}
	for _, t := range d.Truncate {
		if err := s.truncate(b, t); err != nil {
			return err
		}
	}
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	return b.Commit(opt)
}

// Apply writes each entry's mutations as versions at its position and
// advances the root row's applied position, in one unsynced batch.
func (s *Pebble) Apply(entries []core.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	applied := map[core.GroupID]core.Position{}
	for _, e := range entries {
		for _, m := range e.Value.Mutations {
			var v []byte
			if m.Delete {
				v = []byte{1}
			} else {
				v = append([]byte{0}, m.Value...)
			}
			if err := b.Set(dataKey(e.Group, m.Key, e.Position), v, nil); err != nil {
				return err
			}
		}
		applied[e.Group] = max(applied[e.Group], e.Position)
	}
	for g, p := range applied {
		if err := b.Set(groupKey(g, kindMeta), binary.BigEndian.AppendUint64(nil, uint64(p)), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.NoSync)
}

// Read returns the newest version at or below at of each key.
func (s *Pebble) Read(g core.GroupID, keys [][]byte, at core.Position) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	lower := groupKey(g, kindData)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: groupKey(g, kindData+1)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for i, k := range keys {
		prefix := rowPrefix(g, k)
		if !it.SeekGE(dataKey(g, k, at)) || !bytes.HasPrefix(it.Key(), prefix) ||
			len(it.Key()) != len(prefix)+8 {
			continue
		}
		v := it.Value()
		if len(v) == 0 {
			return nil, fmt.Errorf("%w: data row %q", ErrCorrupt, k)
		}
		if v[0] == 0 {
			out[i] = append([]byte{}, v[1:]...)
		}
	}
	return out, it.Error()
}

// Close closes the database.
func (s *Pebble) Close() error { return s.db.Close() }

// Scan returns the live rows of group in r as of position at.
func (s *Pebble) Scan(g core.GroupID, r core.KeyRange, at core.Position) ([]core.KeyValue, bool, error) {
	if r.Limit <= 0 {
		return nil, false, nil
	}
	dataStart := groupKey(g, kindData)
	upper := groupKey(g, kindData+1)
	if r.End != nil {
		upper = rowPrefix(g, r.End)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: upper})
	if err != nil {
		return nil, false, err
	}
	defer it.Close()
	var rows []core.KeyValue
	ok := it.SeekGE(rowPrefix(g, r.Start))
	for ok {
		row, rest, err := decodeEscaped(it.Key()[len(dataStart):])
		if err != nil || len(rest) != 8 {
			return nil, false, fmt.Errorf("%w: data key %q", ErrCorrupt, it.Key())
		}
		if len(rows) == r.Limit {
			return rows, true, it.Error()
		}
		prefix := rowPrefix(g, row)
		// The newest version at or below at, if any.
		if it.SeekGE(dataKey(g, row, at)) && bytes.HasPrefix(it.Key(), prefix) {
			if v := it.Value(); len(v) > 0 && v[0] == 0 {
				rows = append(rows, core.KeyValue{Key: row, Value: append([]byte{}, v[1:]...)})
			}
		}
		// NB: every key of this row is prefix + 8 bytes, so this is past all.
		ok = it.SeekGE(append(prefix, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	}
	return rows, false, it.Error()
}

// checkPoint refuses a truncation point no log could have reached.
func checkPoint(g core.GroupID, p, votes core.Position) error {
	if g == "" {
		return fmt.Errorf("%w: truncation of an empty group name", core.ErrMalformed)
	}
	if p == 0 || p >= core.LatestPosition>>2 || votes > p {
		return fmt.Errorf("%w: truncation of %q through %d (acceptor records through %d)", core.ErrMalformed, g, p, votes)
	}
	return nil
}

// dropLog deletes g's chosen entries at or below t and its acceptor
// records at or below votes, and records t as its truncation point.
func dropLog(b *pebble.Batch, g core.GroupID, t, votes core.Position) error {
	if err := b.DeleteRange(posKey(g, kindLog, 0), posKey(g, kindLog, t+1), nil); err != nil {
		return err
	}
	if votes > 0 {
		if err := b.DeleteRange(posKey(g, kindAcceptor, 0), posKey(g, kindAcceptor, votes+1), nil); err != nil {
			return err
		}
	}
	return b.Set(groupKey(g, kindTruncated), binary.BigEndian.AppendUint64(nil, uint64(t)), nil)
}

// truncate adds to b the truncation of t.Group through t.Through: its log
// at or below the point, and every data version at or below it but the
// newest of each row (and that one too if it is a deletion). A read at
// the point or above sees what it saw; a read below it must not run.
func (s *Pebble) truncate(b *pebble.Batch, t core.Truncation) error {
	if err := checkPoint(t.Group, t.Through, t.VotesThrough); err != nil {
		return err
	}
	if err := dropLog(b, t.Group, t.Through, t.VotesThrough); err != nil {
		return err
	}
	dataStart := groupKey(t.Group, kindData)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: dataStart, UpperBound: groupKey(t.Group, kindData+1)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; {
		row, rest, err := decodeEscaped(it.Key()[len(dataStart):])
		if err != nil || len(rest) != 8 {
			return fmt.Errorf("%w: data key %q", ErrCorrupt, it.Key())
		}
		prefix := rowPrefix(t.Group, row)
		inRow := func() bool {
			return ok && bytes.HasPrefix(it.Key(), prefix) && len(it.Key()) == len(prefix)+8
		}
		// NB: versions sort newest first: the first at or below the point
		// is the one a read there sees. Keep it, unless a deletion.
		ok = it.SeekGE(dataKey(t.Group, row, t.Through))
		if inRow() {
			if v := it.Value(); len(v) == 0 || v[0] != 0 {
				if err := b.Delete(it.Key(), nil); err != nil {
					return err
				}
			}
			ok = it.Next()
		}
		for ; inRow(); ok = it.Next() {
			if err := b.Delete(it.Key(), nil); err != nil {
				return err
			}
		}
	}
	return it.Error()
}

// install adds to b a compacted state fetched from another site: the
// group's rows become in.Rows as of in.Through (every version of its own
// deleted: a site installs only when behind the point, so all its versions
// are older), its applied position and truncation point in.Through, and
// its log at or below the point goes.
func (s *Pebble) install(b *pebble.Batch, in core.Install) error {
	if err := checkPoint(in.Group, in.Through, in.VotesThrough); err != nil {
		return err
	}
	if err := dropLog(b, in.Group, in.Through, in.VotesThrough); err != nil {
		return err
	}
	if err := b.DeleteRange(groupKey(in.Group, kindData), groupKey(in.Group, kindData+1), nil); err != nil {
		return err
	}
	for _, kv := range in.Rows {
		if len(kv.Key) == 0 {
			return fmt.Errorf("%w: installed row with an empty key in %q", core.ErrMalformed, in.Group)
		}
		if err := b.Set(dataKey(in.Group, kv.Key, in.Through), append([]byte{0}, kv.Value...), nil); err != nil {
			return err
		}
	}
	return b.Set(groupKey(in.Group, kindMeta), binary.BigEndian.AppendUint64(nil, uint64(in.Through)), nil)
}
