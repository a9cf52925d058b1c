package disk

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// saved is a range of a file's synced content that an unsynced write or
// truncation replaced: old holds what was there at the last sync.
type saved struct {
	off int64
	old []byte
}

func (s saved) end() int64 { return s.off + int64(len(s.old)) }

// tracker is one file's undo log since its last sync. Each byte below
// syncedSize is saved at most once (the first time it changes), so the
// saved ranges never overlap and can be written back in any order.
type tracker struct {
	mu         sync.Mutex
	fd         int   // an O_RDWR descriptor of the backing inode, owned by the tracker
	syncedSize int64 // the file's size at its last sync
	ranges     []saved
	bytes      int64 // sum of len(old)
}

// saveLocked records the synced bytes in [off, end) that no range holds
// yet, reading them from the file before they change.
// REQUIRES: t.mu held.
func (t *tracker) saveLocked(off, end int64) error {
	end = min(end, t.syncedSize)
	if off >= end {
		return nil
	}
	// The gaps of [off, end) between existing ranges (sorted by offset).
	var gaps [][2]int64
	cur := off
	for _, r := range t.ranges {
		if r.end() <= cur {
			continue
		}
		if r.off >= end {
			break
		}
		if r.off > cur {
			gaps = append(gaps, [2]int64{cur, r.off})
		}
		cur = max(cur, r.end())
		if cur >= end {
			break
		}
	}
	if cur < end {
		gaps = append(gaps, [2]int64{cur, end})
	}
	for _, g := range gaps {
		buf := make([]byte, g[1]-g[0])
		n, err := unix.Pread(t.fd, buf, g[0])
		if err != nil {
			return fmt.Errorf("disk: saving old bytes: %w", err)
		}
		// A short read means the file is already shorter than its synced
		// size, and the bytes past its end were saved when it shrank;
		// saving zeros here would be wrong, so only what was read is kept.
		if n == 0 {
			continue
		}
		t.insertLocked(saved{off: g[0], old: buf[:n]})
	}
	return nil
}

// insertLocked adds r (which overlaps no range), merging it with a range
// that ends where it starts so sequential writes keep the list short.
func (t *tracker) insertLocked(r saved) {
	t.bytes += int64(len(r.old))
	i := sort.Search(len(t.ranges), func(i int) bool { return t.ranges[i].off > r.off })
	if i > 0 && t.ranges[i-1].end() == r.off {
		t.ranges[i-1].old = append(t.ranges[i-1].old, r.old...)
		return
	}
	t.ranges = append(t.ranges, saved{})
	copy(t.ranges[i+1:], t.ranges[i:])
	t.ranges[i] = r
}

// errStale says a tracker was dropped (its file synced) between being
// looked up and being locked: the caller looks it up again.
var errStale = errors.New("disk: stale undo log")

// write applies a write, saving first what it replaces.
func (t *tracker) write(fd int, data []byte, off int64) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fd < 0 {
		return 0, errStale
	}
	if err := t.saveLocked(off, off+int64(len(data))); err != nil {
		return 0, err
	}
	return unix.Pwrite(fd, data, off)
}

// truncate applies a size change, saving first the synced bytes it drops.
func (t *tracker) truncate(size int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fd < 0 {
		return errStale
	}
	if err := t.saveLocked(size, t.syncedSize); err != nil {
		return err
	}
	return unix.Ftruncate(t.fd, size)
}

// revertLocked puts the file back to its state at its last sync: the
// synced size, then every saved range.
func (t *tracker) revertLocked() error {
	if err := unix.Ftruncate(t.fd, t.syncedSize); err != nil {
		return err
	}
	for _, r := range t.ranges {
		if _, err := unix.Pwrite(t.fd, r.old, r.off); err != nil {
			return err
		}
	}
	return nil
}

// corruptLocked keeps a corruption made on purpose through a later power
// loss: a flipped byte is flipped in the saved copy too, and a truncation
// shortens the synced size.
func (t *tracker) flipLocked(off int64, mask byte) {
	for _, r := range t.ranges {
		if off >= r.off && off < r.end() {
			r.old[off-r.off] ^= mask
		}
	}
}

func (t *tracker) truncateSyncedLocked(size int64) {
	if size >= t.syncedSize {
		return
	}
	t.syncedSize = size
	kept := t.ranges[:0]
	t.bytes = 0
	for _, r := range t.ranges {
		if r.off >= size {
			continue
		}
		if r.end() > size {
			r.old = r.old[:size-r.off]
		}
		kept = append(kept, r)
		t.bytes += int64(len(r.old))
	}
	t.ranges = kept
}
