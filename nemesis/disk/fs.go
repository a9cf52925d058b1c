package disk

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Options tune a mount. The zero value is what the suite uses.
type Options struct {
	// Name shows in /proc/mounts as the filesystem's source, so a person
	// can tell whose mount it is (default "megastore-disk").
	Name string
	// Debug logs every FUSE request (very verbose).
	Debug bool
	// SyncDelay makes every fsync take this long before it makes anything
	// durable, as a real disk's flush does: the window in which written
	// but unsynced data is at risk. A PowerLoss during the delay loses the
	// data and the fsync fails. Zero: fsync is instant.
	SyncDelay time.Duration
}

// FS is one mounted layer over one backing directory.
type FS struct {
	syncDelay  time.Duration
	backing    string
	mountpoint string
	server     *fuse.Server

	// mu orders file operations (shared) against PowerLoss and the
	// corruptions (exclusive): a revert never interleaves with a write.
	mu    sync.RWMutex
	epoch uint64 // bumped by PowerLoss; handles from an older epoch are dead

	trMu     sync.Mutex
	trackers map[uint64]*tracker // backing inode number -> undo log

	unmountOnce sync.Once
	unmountErr  error
}

// Loss says what one PowerLoss threw away.
type Loss struct {
	Files   int   // files reverted to their last sync
	Bytes   int64 // synced bytes written back over unsynced ones
	Dropped int64 // unsynced bytes cut off past the files' synced sizes
}

func (l Loss) String() string {
	return fmt.Sprintf("%d files reverted, %d bytes rewritten, %d cut", l.Files, l.Bytes, l.Dropped)
}

// Available says why FUSE cannot be mounted here, or nil.
func Available() error {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("no usable /dev/fuse: %w", err)
	}
	f.Close()
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			if _, err := exec.LookPath("fusermount"); err != nil {
				return errors.New("not root and no fusermount in PATH")
			}
		}
	}
	return nil
}

// Mount mounts the layer over backingDir at mountpoint (both must exist).
// The mount allows other users, so a container's processes can use it
// through a bind mount.
func Mount(backingDir, mountpoint string, opts Options) (*FS, error) {
	backing, err := filepath.Abs(backingDir)
	if err != nil {
		return nil, err
	}
	mnt, err := filepath.Abs(mountpoint)
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("disk: backing directory: %w", err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil, fmt.Errorf("disk: backing %s is not a directory", backing)
	}
	f := &FS{backing: backing, mountpoint: mnt, trackers: map[uint64]*tracker{}, syncDelay: opts.SyncDelay}
	root := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, fsys: f}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	if opts.Name == "" {
		opts.Name = "megastore-disk"
	}
	// No kernel caching of entries, attributes or data: after a power
	// loss the next process must see exactly what the layer holds.
	var zero time.Duration
	server, err := fs.Mount(mnt, root.RootNode, &fs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther: true,
			FsName:     opts.Name,
			Name:       "megastore",
			Debug:      opts.Debug,
			// Extended attributes are not part of the durability model.
			DisableXAttrs: true,
		},
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
	})
	if err != nil {
		return nil, fmt.Errorf("disk: mount %s on %s: %w", backing, mnt, err)
	}
	f.server = server
	return f, nil
}

// Mountpoint is where the layer is mounted.
func (f *FS) Mountpoint() string { return f.mountpoint }

// Backing is the directory the layer stores files in.
func (f *FS) Backing() string { return f.backing }

// Pending says how many files have unsynced changes and how many synced
// bytes are saved to undo them.
func (f *FS) Pending() (files int, bytes int64) {
	f.trMu.Lock()
	defer f.trMu.Unlock()
	for _, t := range f.trackers {
		t.mu.Lock()
		files++
		bytes += t.bytes
		t.mu.Unlock()
	}
	return files, bytes
}

// PowerLoss reverts every file to its content and size at its last
// fsync/fdatasync and makes every file handle opened before it fail with
// EIO. It waits for operations in flight and holds new ones off while it
// runs. Call it while the processes using the mount are dead (a container
// killed and waited for): a write the kernel still delivers from a dead
// process fails rather than landing on the reverted state.
func (f *FS) PowerLoss() (Loss, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch++
	f.trMu.Lock()
	defer f.trMu.Unlock()
	var loss Loss
	var errs []error
	for ino, t := range f.trackers {
		t.mu.Lock()
		var st unix.Stat_t
		if unix.Fstat(t.fd, &st) == nil && st.Size > t.syncedSize {
			loss.Dropped += st.Size - t.syncedSize
		}
		if err := t.revertLocked(); err != nil {
			errs = append(errs, fmt.Errorf("disk: reverting inode %d: %w", ino, err))
		}
		loss.Files++
		loss.Bytes += t.bytes
		unix.Close(t.fd)
		t.mu.Unlock()
		delete(f.trackers, ino)
	}
	return loss, errors.Join(errs...)
}

// Truncate cuts the file at relPath (relative to the mount) to size, as a
// torn or lost tail would. The cut is durable: a later PowerLoss keeps it.
func (f *FS) Truncate(relPath string, size int64) error {
	if size < 0 {
		return fmt.Errorf("disk: truncate %s to negative size %d", relPath, size)
	}
	return f.corrupt(relPath, func(fd int, t *tracker) error {
		if err := unix.Ftruncate(fd, size); err != nil {
			return err
		}
		if t != nil {
			t.truncateSyncedLocked(size)
		}
		return nil
	})
}

// FlipBit inverts bit (0..7) of the byte at offset in the file at relPath,
// as silent media corruption would. The flip is durable: a later PowerLoss
// keeps it.
func (f *FS) FlipBit(relPath string, offset int64, bit uint) error {
	if bit > 7 {
		return fmt.Errorf("disk: bit %d is not in 0..7", bit)
	}
	mask := byte(1) << bit
	return f.corrupt(relPath, func(fd int, t *tracker) error {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if offset < 0 || offset >= st.Size {
			return fmt.Errorf("offset %d is outside the file (size %d)", offset, st.Size)
		}
		b := make([]byte, 1)
		if _, err := unix.Pread(fd, b, offset); err != nil {
			return err
		}
		b[0] ^= mask
		if _, err := unix.Pwrite(fd, b, offset); err != nil {
			return err
		}
		if t != nil {
			t.flipLocked(offset, mask)
		}
		return nil
	})
}

func (f *FS) corrupt(relPath string, do func(fd int, t *tracker) error) error {
	p, err := f.backingPath(relPath)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("disk: %s: %w", relPath, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("disk: %s: %w", relPath, err)
	}
	f.trMu.Lock()
	t := f.trackers[st.Ino]
	f.trMu.Unlock()
	if t != nil {
		t.mu.Lock()
		defer t.mu.Unlock()
	}
	if err := do(fd, t); err != nil {
		return fmt.Errorf("disk: %s: %w", relPath, err)
	}
	return nil
}

// backingPath maps a path relative to the mount into the backing
// directory, refusing one that would leave it.
func (f *FS) backingPath(relPath string) (string, error) {
	clean := filepath.Clean("/" + relPath)
	if clean == "/" {
		return "", fmt.Errorf("disk: %q names the root, not a file", relPath)
	}
	p := filepath.Join(f.backing, clean)
	if !strings.HasPrefix(p, f.backing+string(filepath.Separator)) {
		return "", fmt.Errorf("disk: %q leaves the backing directory", relPath)
	}
	return p, nil
}

// Unmount unmounts the layer; it is safe to call more than once and from a
// test's cleanup. When a process still holds the mount busy it falls back
// to a lazy unmount, so the mountpoint never stays wedged.
func (f *FS) Unmount() error {
	f.unmountOnce.Do(func() {
		err := f.server.Unmount()
		if err != nil {
			lazy := exec.Command("fusermount", "-u", "-z", f.mountpoint)
			if out, lerr := lazy.CombinedOutput(); lerr != nil {
				if uerr := unix.Unmount(f.mountpoint, unix.MNT_DETACH); uerr != nil {
					err = fmt.Errorf("disk: unmount %s: %v; lazy: %v %s; detach: %v", f.mountpoint, err, lerr, out, uerr)
				} else {
					err = nil
				}
			} else {
				err = nil
			}
		}
		f.trMu.Lock()
		for ino, t := range f.trackers {
			unix.Close(t.fd)
			delete(f.trackers, ino)
		}
		f.trMu.Unlock()
		f.unmountErr = err
	})
	return f.unmountErr
}

// tracker returns the undo log of the inode open as fd, making one (with
// the file's current size as its synced size) on first change.
func (f *FS) tracker(ino uint64, fd int) (*tracker, error) {
	f.trMu.Lock()
	defer f.trMu.Unlock()
	if t := f.trackers[ino]; t != nil {
		return t, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	own, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(own)
	t := &tracker{fd: own, syncedSize: st.Size}
	f.trackers[ino] = t
	return t, nil
}

// synced drops the undo log of ino: everything in the file is durable.
func (f *FS) synced(ino uint64) {
	f.trMu.Lock()
	t := f.trackers[ino]
	delete(f.trackers, ino)
	f.trMu.Unlock()
	if t != nil {
		// Wait for a write in progress on t, then forget it.
		t.mu.Lock()
		unix.Close(t.fd)
		t.fd = -1
		t.mu.Unlock()
	}
}

// forget drops the undo log of an inode that no name reaches any more.
func (f *FS) forget(ino uint64) { f.synced(ino) }
