package disk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// requireFUSE skips with one line where FUSE cannot be mounted, except
// under CI=true, where the disk layer's tests are part of what CI promises
// to run.
func requireFUSE(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but FUSE is unavailable: %v", err)
		}
		t.Skipf("skipping disk layer tests (outside CI): no usable FUSE here: %v", err)
	}
}

// mount mounts a fresh layer for the test and unmounts it at cleanup,
// also when the test fails.
func mount(t *testing.T) *FS {
	t.Helper()
	requireFUSE(t)
	backing, mnt := t.TempDir(), t.TempDir()
	f, err := Mount(backing, mnt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return f
}

func powerLoss(t *testing.T, f *FS) Loss {
	t.Helper()
	loss, err := f.PowerLoss()
	if err != nil {
		t.Fatalf("PowerLoss: %v", err)
	}
	return loss
}

func writeAt(t *testing.T, file *os.File, b []byte, off int64) {
	t.Helper()
	if _, err := file.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func fsync(t *testing.T, file *os.File) {
	t.Helper()
	if err := file.Sync(); err != nil {
		t.Fatal(err)
	}
}

func wantContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes %q, want %d bytes %q", filepath.Base(path), len(got), clip(got), len(want), clip(want))
	}
}

func clip(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "..."...)
	}
	return b
}

func create(t *testing.T, path string) *os.File {
	t.Helper()
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	return file
}

func fill(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

func TestUnsyncedWriteIsLost(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "wal")
	file := create(t, p)
	writeAt(t, file, []byte("acknowledged but never synced"), 0)
	file.Close()
	wantContent(t, p, []byte("acknowledged but never synced")) // before: it is there
	if loss := powerLoss(t, f); loss.Files != 1 {
		t.Errorf("loss %+v, want 1 file", loss)
	}
	// The name was durable at once (see doc.go); the data was not.
	wantContent(t, p, nil)
}

func TestSyncedWriteSurvives(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "wal")
	file := create(t, p)
	writeAt(t, file, []byte("synced"), 0)
	fsync(t, file)
	if files, _ := f.Pending(); files != 0 {
		t.Errorf("after fsync %d files pending, want 0", files)
	}
	writeAt(t, file, []byte(" and then not"), 6)
	file.Close()
	powerLoss(t, f)
	wantContent(t, p, []byte("synced"))
}

func TestOverwriteAndExtensionUndone(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "f")
	file := create(t, p)
	writeAt(t, file, fill('a', 100), 0)
	fsync(t, file)
	writeAt(t, file, fill('b', 20), 40)  // in the middle
	writeAt(t, file, fill('c', 30), 30)  // overlapping the first overwrite
	writeAt(t, file, fill('d', 10), 150) // extends, leaving a hole
	writeAt(t, file, fill('e', 10), 95)  // straddles the synced end
	// Synced bytes changed: [30,60) and [95,100), each saved once.
	if _, saved := f.Pending(); saved != 35 {
		t.Errorf("saved %d bytes, want 35 (each synced byte once)", saved)
	}
	file.Close()
	powerLoss(t, f)
	wantContent(t, p, fill('a', 100))
}

func TestPartialSync(t *testing.T) {
	f := mount(t)
	mnt := f.Mountpoint()
	a, b := create(t, filepath.Join(mnt, "a")), create(t, filepath.Join(mnt, "b"))
	writeAt(t, a, []byte("one"), 0)
	fsync(t, a)
	writeAt(t, a, []byte("two"), 0)
	fsync(t, a) // the second sync of a keeps its second content
	writeAt(t, a, []byte("three"), 0)
	writeAt(t, b, []byte("unsynced"), 0)
	writeAt(t, b, []byte("B"), 0)
	a.Close()
	b.Close()
	powerLoss(t, f)
	wantContent(t, filepath.Join(mnt, "a"), []byte("two"))
	wantContent(t, filepath.Join(mnt, "b"), nil)
}

func TestTruncationUndone(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "f")
	file := create(t, p)
	writeAt(t, file, fill('a', 100), 0)
	fsync(t, file)
	if err := file.Truncate(10); err != nil { // ftruncate through the handle
		t.Fatal(err)
	}
	writeAt(t, file, fill('z', 10), 190)       // extend again past the old end
	if err := os.Truncate(p, 50); err != nil { // truncate(2) by path
		t.Fatal(err)
	}
	file.Close()
	powerLoss(t, f)
	wantContent(t, p, fill('a', 100))

	// O_TRUNC on open is a truncation too.
	file, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	writeAt(t, file, []byte("x"), 0)
	file.Close()
	wantContent(t, p, []byte("x"))
	powerLoss(t, f)
	wantContent(t, p, fill('a', 100))
}

func TestHandleFromBeforePowerLossIsDead(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "f")
	file := create(t, p)
	writeAt(t, file, []byte("x"), 0)
	fsync(t, file)
	powerLoss(t, f)
	if _, err := file.WriteAt([]byte("late"), 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write through a handle from before the power loss: %v, want EIO", err)
	}
	wantContent(t, p, []byte("x"))
	// A handle opened afterwards works.
	file2 := create(t, p)
	writeAt(t, file2, []byte("y"), 0)
	wantContent(t, p, []byte("y"))
}

func TestRenameAndUnlinkDropUndo(t *testing.T) {
	f := mount(t)
	mnt := f.Mountpoint()
	file := create(t, filepath.Join(mnt, "tmp"))
	writeAt(t, file, []byte("new"), 0)
	file.Close()
	old := create(t, filepath.Join(mnt, "CURRENT"))
	writeAt(t, old, []byte("old"), 0)
	old.Close()
	if files, _ := f.Pending(); files != 2 {
		t.Fatalf("%d files pending, want 2", files)
	}
	// Renamed over, CURRENT's old inode has no name left: its undo log
	// goes with it.
	if err := os.Rename(filepath.Join(mnt, "tmp"), filepath.Join(mnt, "CURRENT")); err != nil {
		t.Fatal(err)
	}
	if files, _ := f.Pending(); files != 1 {
		t.Fatalf("after rename %d files pending, want 1", files)
	}
	if err := os.Remove(filepath.Join(mnt, "CURRENT")); err != nil {
		t.Fatal(err)
	}
	if files, _ := f.Pending(); files != 0 {
		t.Fatalf("after unlink %d files pending, want 0", files)
	}
}

func TestFlipBitAndTruncateAreDurable(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "sst")
	file := create(t, p)
	writeAt(t, file, fill('a', 10), 0)
	fsync(t, file)
	writeAt(t, file, fill('b', 10), 0) // unsynced, to be reverted
	if err := f.FlipBit("sst", 3, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.FlipBit("sst", 100, 0); err == nil {
		t.Error("FlipBit past the end: no error")
	}
	if err := f.FlipBit("../escape", 0, 0); err == nil {
		t.Error("FlipBit outside the mount: no error")
	}
	if err := f.FlipBit("sst", 0, 8); err == nil {
		t.Error("FlipBit bit 8: no error")
	}
	want := fill('b', 10)
	want[3] ^= 1
	wantContent(t, p, want)
	file.Close()
	powerLoss(t, f)
	want = fill('a', 10)
	want[3] ^= 1 // 'a'^1 = '`'
	wantContent(t, p, want)
	if err := f.Truncate("sst", 4); err != nil {
		t.Fatal(err)
	}
	powerLoss(t, f)
	wantContent(t, p, want[:4])
}

func TestUnmountTwice(t *testing.T) {
	f := mount(t)
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.Mountpoint(), "x")); !os.IsNotExist(err) {
		t.Fatalf("after unmount: %v", err)
	}
}

// With SyncDelay, a power loss inside a slow fsync loses what the fsync
// was flushing, and the fsync fails: the window a real disk's flush opens.
func TestPowerLossInsideASlowSync(t *testing.T) {
	requireFUSE(t)
	backing, mnt := t.TempDir(), t.TempDir()
	f, err := Mount(backing, mnt, Options{SyncDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Unmount() })
	path := filepath.Join(mnt, "wal")
	file := create(t, path)
	writeAt(t, file, fill('a', 100), 0)
	synced := make(chan error, 1)
	go func() { synced <- file.Sync() }()
	time.Sleep(100 * time.Millisecond) // inside the flush
	powerLoss(t, f)
	if err := <-synced; err == nil {
		t.Fatal("an fsync a power loss interrupted reported success")
	}
	file.Close()
	wantContent(t, path, nil)
}
