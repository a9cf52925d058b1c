package disk

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/storage"
)

// The store tests run Pebble in a child process (this test binary again)
// so it can be SIGKILLed like a node: the kill keeps whatever reached the
// backing files, and only the layer's power loss takes the unsynced part
// away.
const helperEnv = "MEGASTORE_DISK_TEST_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		if err := storeHelper(dir); err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		select {} // wait to be killed
	}
	os.Exit(m.Run())
}

const (
	syncedEntries   = 5
	unsyncedEntries = 5
	unsyncedMarker  = "written-without-sync"
	// Pebble's WAL writer flushes NoSync commits to the file only when a
	// 32 KiB block fills (or a sync comes), so each unsynced commit is
	// made larger than a block: at least the first ones reach the file.
	unsyncedPadding = 40 << 10
)

func entry(p int, value string) core.Entry {
	return core.Entry{Group: "g", Position: core.Position(p), Value: core.Value{
		ID:        core.ValueID{Seq: uint64(p)},
		Mutations: []core.Mutation{{Key: []byte("k"), Value: []byte(value)}},
	}}
}

// storeHelper commits entries 1..5 with Sync and 6..10 without, says so,
// and returns (the caller then waits to be killed).
func storeHelper(dir string) error {
	s, err := storage.Open(dir)
	if err != nil {
		return err
	}
	for p := 1; p <= syncedEntries; p++ {
		if err := s.Save(core.Durable{Chosen: []core.Entry{entry(p, "synced")}}, true); err != nil {
			return err
		}
	}
	for p := syncedEntries + 1; p <= syncedEntries+unsyncedEntries; p++ {
		if err := s.Save(core.Durable{Chosen: []core.Entry{entry(p, unsyncedMarker+strings.Repeat(".", unsyncedPadding))}}, false); err != nil {
			return err
		}
	}
	fmt.Println("committed")
	return nil
}

// positions loads the store in dir and returns its log positions.
func positions(t *testing.T, dir string) []core.Position {
	t.Helper()
	s, err := storage.Open(dir)
	if err != nil {
		t.Fatalf("open store %s: %v", dir, err)
	}
	defer s.Close()
	st, err := s.Load()
	if err != nil {
		t.Fatalf("load store %s: %v", dir, err)
	}
	var ps []core.Position
	for _, e := range st.Chosen {
		ps = append(ps, e.Position)
	}
	return ps
}

// filesContaining says whether the files under dir hold marker twice: the
// first unsynced commit is then whole in the file (the second one's start
// follows it).
func filesContaining(dir, marker string) bool {
	found := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(marker)) {
			found += bytes.Count(b, []byte(marker))
		}
		return nil
	})
	return found >= 2
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPebbleSyncSurvivesNoSyncIsLost: after a SIGKILL the unsynced commits
// are still in the files (a plain kill hides a missing fsync); after the
// layer's power loss only the synced commits remain.
func TestPebbleSyncSurvivesNoSyncIsLost(t *testing.T) {
	f := mount(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+filepath.Join(f.Mountpoint(), "db"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "committed" {
		t.Fatalf("store helper: %q", line)
	}
	// NoSync commits reach the WAL file from Pebble's flush loop shortly
	// after Commit returns; wait until they are in the backing files, so
	// the kill below is the case where a plain kill keeps them.
	deadline := time.Now().Add(10 * time.Second)
	for !filesContaining(f.Backing(), unsyncedMarker) {
		if time.Now().After(deadline) {
			t.Fatal("the unsynced commits never reached the WAL file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()

	all := make([]core.Position, 0, syncedEntries+unsyncedEntries)
	for p := 1; p <= syncedEntries+unsyncedEntries; p++ {
		all = append(all, core.Position(p))
	}
	// What a restart after a plain kill sees (on a copy, so the layer's
	// files stay as they are).
	plain := t.TempDir()
	copyDir(t, filepath.Join(f.Backing(), "db"), plain)
	if got := positions(t, plain); len(got) <= syncedEntries || !slices.Equal(got, all[:len(got)]) {
		t.Fatalf("after a plain kill the store holds %v, want the synced commits and some unsynced ones, a prefix of %v", got, all)
	} else {
		t.Logf("after a plain kill the store holds %v: a missing fsync would go unseen", got)
	}

	loss := powerLoss(t, f)
	t.Logf("power loss: %+v", loss)
	got := positions(t, filepath.Join(f.Mountpoint(), "db"))
	if !slices.Equal(got, all[:syncedEntries]) {
		t.Fatalf("after a power loss the store holds %v, want only the synced commits %v", got, all[:syncedEntries])
	}
}

// corruptStore writes a store through the layer large enough to have an
// sstable, closes it cleanly and returns its files by kind.
func corruptStore(t *testing.T) (*FS, map[string][]string) {
	t.Helper()
	f := mount(t)
	dir := filepath.Join(f.Mountpoint(), "db")
	s, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// Random values do not compress, so 6 MiB outgrow Pebble's 4 MiB
	// memtable and one flush writes an sstable.
	for p := 1; p <= 96; p++ {
		v := make([]byte, 64<<10)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		if err := s.Save(core.Durable{Chosen: []core.Entry{entry(p, string(v))}}, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		switch {
		case strings.HasSuffix(e.Name(), ".sst"):
			files["sst"] = append(files["sst"], "db/"+e.Name())
		case strings.HasPrefix(e.Name(), "MANIFEST-"):
			files["manifest"] = append(files["manifest"], "db/"+e.Name())
		}
	}
	if len(files["sst"]) == 0 || len(files["manifest"]) == 0 {
		t.Fatalf("store has no sstable or manifest to damage: %v", ents)
	}
	return f, files
}

// openAndLoad returns the first error opening and loading the store, or
// nil when the whole log loads.
func openAndLoad(dir string) (int, error) {
	s, err := storage.Open(dir)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	st, err := s.Load()
	return len(st.Chosen), err
}

func TestPebbleRefusesFlippedBit(t *testing.T) {
	f, files := corruptStore(t)
	dir := filepath.Join(f.Mountpoint(), "db")
	if n, err := openAndLoad(dir); err != nil || n != 96 {
		t.Fatalf("undamaged store: %d entries, %v", n, err)
	}
	sst := files["sst"][0]
	st, err := os.Stat(filepath.Join(f.Mountpoint(), sst))
	if err != nil {
		t.Fatal(err)
	}
	// The middle of the file is inside a data block.
	if err := f.FlipBit(sst, st.Size()/2, 3); err != nil {
		t.Fatal(err)
	}
	n, err := openAndLoad(dir)
	if err == nil {
		t.Fatalf("store with a flipped bit in %s loaded %d entries without an error", sst, n)
	}
	if !strings.Contains(strings.ToLower(err.Error()), "corrupt") && !strings.Contains(err.Error(), "checksum") {
		t.Errorf("error does not say corruption: %v", err)
	}
	t.Logf("flipped bit: %v", err)
}

// A cut sstable loses its footer: the store refuses to open or load. (A
// cut MANIFEST or WAL is not detected: Pebble reads it as the torn tail of
// a crash and silently drops synced data, so disk-corrupt damages only
// sstables.)
func TestPebbleRefusesTruncatedTable(t *testing.T) {
	f, files := corruptStore(t)
	sst := files["sst"][0]
	st, err := os.Stat(filepath.Join(f.Mountpoint(), sst))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(sst, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	n, err := openAndLoad(filepath.Join(f.Mountpoint(), "db"))
	if err == nil {
		t.Fatalf("store with %s cut in half loaded %d entries without an error", sst, n)
	}
	t.Logf("truncated table: %v", err)
}
