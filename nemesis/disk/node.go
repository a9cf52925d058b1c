package disk

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// node is go-fuse's loopback node with every operation that changes a
// file's content routed through its undo log.
type node struct {
	fs.LoopbackNode
	fsys *FS
}

var (
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeUnlinker  = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
	_ fs.NodeTmpfiler  = (*node)(nil)
)

func (n *node) backingPath(name string) string {
	return filepath.Join(n.RootData.Path, n.Path(nil), name)
}

// openFlags turns write-only into read-write (the undo log reads what a
// write replaces through the same descriptor) and takes O_TRUNC out (a
// truncation goes through the undo log).
func openFlags(flags uint32) (uint32, bool) {
	trunc := flags&syscall.O_TRUNC != 0
	flags &^= syscall.O_TRUNC | syscall.O_APPEND
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		flags = flags&^syscall.O_ACCMODE | syscall.O_RDWR
	}
	return flags, trunc
}

// adopt takes the descriptor out of a loopback file handle into ours.
func (n *node) adopt(lf fs.FileHandle, trunc bool) (fs.FileHandle, uint32, syscall.Errno) {
	ctx := context.Background()
	pfd, ok := lf.(fs.FilePassthroughFder)
	if !ok {
		return nil, 0, syscall.EIO
	}
	fd, ok := pfd.PassthroughFd()
	if !ok {
		lf.(fs.FileReleaser).Release(ctx)
		return nil, 0, syscall.EBADF
	}
	own, err := unix.Dup(fd)
	lf.(fs.FileReleaser).Release(ctx)
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	unix.CloseOnExec(own)
	var st unix.Stat_t
	if err := unix.Fstat(own, &st); err != nil {
		unix.Close(own)
		return nil, 0, fs.ToErrno(err)
	}
	h := &handle{fsys: n.fsys, fd: own, ino: st.Ino, epoch: n.fsys.epoch}
	if trunc {
		if errno := h.truncateLocked(0); errno != 0 {
			unix.Close(own)
			return nil, 0, errno
		}
	}
	// Direct I/O: no page cache in the kernel that could hold data the
	// layer has reverted.
	return h, fuse.FOPEN_DIRECT_IO, 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	n.fsys.mu.RLock()
	defer n.fsys.mu.RUnlock()
	flags, trunc := openFlags(flags)
	lf, _, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return n.adopt(lf, trunc)
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	n.fsys.mu.RLock()
	defer n.fsys.mu.RUnlock()
	flags, trunc := openFlags(flags)
	ch, lf, _, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	h, fuseFlags, errno := n.adopt(lf, trunc)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if trunc {
		out.Attr.Size = 0
	}
	return ch, h, fuseFlags, 0
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.fsys.mu.RLock()
	defer n.fsys.mu.RUnlock()
	if size, ok := in.GetSize(); ok {
		if h, ok := f.(*handle); ok {
			if errno := h.truncateLocked(int64(size)); errno != 0 {
				return errno
			}
		} else {
			fd, err := unix.Open(n.backingPath(""), unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				return fs.ToErrno(err)
			}
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				unix.Close(fd)
				return fs.ToErrno(err)
			}
			h := &handle{fsys: n.fsys, fd: fd, ino: st.Ino}
			errno := h.truncateLocked(int64(size))
			unix.Close(fd)
			if errno != 0 {
				return errno
			}
		}
		rest := *in
		rest.Valid &^= fuse.FATTR_SIZE
		in = &rest
	}
	return n.LoopbackNode.Setattr(ctx, f, in, out)
}

// lastLink returns the inode number of the regular file at p if p is its
// only name, so its undo log can be dropped once the name goes.
func lastLink(p string) (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return 0, false
	}
	return st.Ino, st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink == 1
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	n.fsys.mu.RLock()
	defer n.fsys.mu.RUnlock()
	ino, last := lastLink(n.backingPath(name))
	errno := n.LoopbackNode.Unlink(ctx, name)
	if errno == 0 && last {
		n.fsys.forget(ino)
	}
	return errno
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	n.fsys.mu.RLock()
	defer n.fsys.mu.RUnlock()
	var ino uint64
	var last bool
	if np, ok := newParent.(*node); ok && flags&unix.RENAME_EXCHANGE == 0 {
		ino, last = lastLink(np.backingPath(newName))
	}
	errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	if errno == 0 && last {
		n.fsys.forget(ino)
	}
	return errno
}

// Tmpfile is refused: an O_TMPFILE file would need its own tracking, and
// nothing the suite runs uses it.
func (n *node) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

// handle is an open file: a descriptor of the backing file and the epoch
// it was opened in.
type handle struct {
	fsys  *FS
	fd    int
	ino   uint64
	epoch uint64
}

var (
	_ fs.FileReader    = (*handle)(nil)
	_ fs.FileWriter    = (*handle)(nil)
	_ fs.FileWritever  = (*handle)(nil)
	_ fs.FileFsyncer   = (*handle)(nil)
	_ fs.FileFlusher   = (*handle)(nil)
	_ fs.FileReleaser  = (*handle)(nil)
	_ fs.FileGetattrer = (*handle)(nil)
	_ fs.FileLseeker   = (*handle)(nil)
)

// liveLocked says whether the handle was opened since the last power
// loss. REQUIRES: fsys.mu held (shared).
func (h *handle) liveLocked() bool { return h.epoch == h.fsys.epoch }

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.fsys.mu.RLock()
	defer h.fsys.mu.RUnlock()
	if !h.liveLocked() {
		return nil, syscall.EIO
	}
	n, err := unix.Pread(h.fd, dest, off)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.fsys.mu.RLock()
	defer h.fsys.mu.RUnlock()
	if !h.liveLocked() {
		return 0, syscall.EIO
	}
	for {
		t, err := h.fsys.tracker(h.ino, h.fd)
		if err != nil {
			return 0, fs.ToErrno(err)
		}
		n, err := t.write(h.fd, data, off)
		if errors.Is(err, errStale) {
			continue
		}
		if err != nil {
			return uint32(n), fs.ToErrno(err)
		}
		return uint32(n), 0
	}
}

func (h *handle) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	var all []byte
	for _, d := range data {
		all = append(all, d...)
	}
	return h.Write(ctx, all, off)
}

// truncateLocked sets the file's size through its undo log.
// REQUIRES: fsys.mu held (shared).
func (h *handle) truncateLocked(size int64) syscall.Errno {
	for {
		t, err := h.fsys.tracker(h.ino, h.fd)
		if err != nil {
			return fs.ToErrno(err)
		}
		err = t.truncate(size)
		if errors.Is(err, errStale) {
			continue
		}
		return fs.ToErrno(err)
	}
}

// Fsync makes the file's content and size durable: its undo log is
// dropped. fsync and fdatasync are the same here. The backing file is not
// synced to the host's disk: the host does not lose power, the layer's
// model does.
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if d := h.fsys.syncDelay; d > 0 {
		// NB: outside the lock, so a PowerLoss can land inside the flush
		// and the handle is found dead below.
		time.Sleep(d)
	}
	h.fsys.mu.RLock()
	defer h.fsys.mu.RUnlock()
	if !h.liveLocked() {
		return syscall.EIO
	}
	h.fsys.synced(h.ino)
	return 0
}

func (h *handle) Flush(ctx context.Context) syscall.Errno { return 0 }

func (h *handle) Release(ctx context.Context) syscall.Errno {
	return fs.ToErrno(unix.Close(h.fd))
}

func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Fstat(h.fd, &st); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStat(&st)
	return 0
}

func (h *handle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	n, err := unix.Seek(h.fd, int64(off), int(whence))
	return uint64(n), fs.ToErrno(err)
}
