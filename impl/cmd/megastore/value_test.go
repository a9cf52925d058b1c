package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/megastore-verified/megastore/impl/daemon"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// runSite runs site a of a one-site cluster whose config, with
// max_value_bytes set, it writes to dir/cluster.json.
func runSite(t *testing.T, dir string, maxValue int) string {
	t.Helper()
	f, err := siteconfig.Loopback([]string{"a"}, map[string]string{"a": "full"})
	if err != nil {
		t.Fatal(err)
	}
	f.MaxValueBytes = maxValue
	config := filepath.Join(dir, "cluster.json")
	if err := f.Write(config); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{Config: f, Site: "a", DataDir: filepath.Join(dir, "data"),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func() { close(ready) }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	return config
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// A 5 MB value, far over the argument length limit, goes in from a file
// or from stdin and comes back whole.
func TestPutAValueFromAFileOrStdin(t *testing.T) {
	dir := t.TempDir()
	config := runSite(t, dir, 8<<20)
	value := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16)
	path := filepath.Join(dir, "value.bin")
	if err := os.WriteFile(path, value, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCmd(t, "put", "--config", config, "--group", "g", "--key", "big", "--value-file", path); code != 0 || !strings.Contains(out, "committed at position 1") {
		t.Fatalf("put --value-file: exit %d, %q %q", code, out, errs)
	}
	code, out, errs := runCmd(t, "get", "--config", config, "--group", "g", "--key", "big")
	if code != 0 || !strings.HasPrefix(out, string(value)+"\n(at position 1)") {
		t.Fatalf("get: exit %d, %d bytes out, %q", code, len(out), errs)
	}

	back := filepath.Join(dir, "back.bin")
	if code, out, errs := runCmd(t, "get", "--config", config, "--group", "g", "--key", "big", "--value-file", back); code != 0 || !strings.Contains(out, "5242880 bytes written") {
		t.Fatalf("get --value-file: exit %d, %q %q", code, out, errs)
	}
	if b, err := os.ReadFile(back); err != nil || !bytes.Equal(b, value) {
		t.Fatalf("get --value-file wrote %d bytes, %v", len(b), err)
	}

	stdin = bytes.NewReader([]byte("from stdin"))
	defer func() { stdin = os.Stdin }()
	if code, out, errs := runCmd(t, "put", "--config", config, "--group", "g", "--key", "s", "--value", "-"); code != 0 || !strings.Contains(out, "position 2") {
		t.Fatalf("put --value -: exit %d, %q %q", code, out, errs)
	}
	if code, out, _ := runCmd(t, "get", "--config", config, "--group", "g", "--key", "s"); code != 0 || !strings.HasPrefix(out, "from stdin\n") {
		t.Fatalf("get after --value -: %q", out)
	}

	// Too large for the site: its refusal names the limit.
	huge := filepath.Join(dir, "huge.bin")
	if err := os.WriteFile(huge, make([]byte, 9<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, "put", "--config", config, "--group", "g", "--key", "h", "--value-file", huge); code != 1 || !strings.Contains(errs, "value too large") {
		t.Fatalf("an oversized value: exit %d, %q", code, errs)
	}
	for _, c := range []struct {
		args []string
		code int
		text string
	}{
		{[]string{"--value-file", filepath.Join(dir, "missing")}, 1, "no such file"},
		{[]string{"--value-file", path, "--value", "x"}, 2, "exactly one of"},
		{[]string{"--value-file", path, "--delete"}, 2, "exactly one of"},
	} {
		args := append([]string{"put", "--config", config, "--group", "g", "--key", "k"}, c.args...)
		if code, _, errs := runCmd(t, args...); code != c.code || !strings.Contains(errs, c.text) {
			t.Errorf("%v: exit %d, %q; want %d, %q", c.args, code, errs, c.code, c.text)
		}
	}
}

// `megastore cluster` does not start over a running cluster's directory:
// neither while its pid file names a live process nor while a site of its
// cluster.json answers.
func TestClusterRefusesToStartOverARunningOne(t *testing.T) {
	live := t.TempDir()
	runSite(t, live, 0)
	if code, _, errs := runCmd(t, "cluster", "--dir", live); code != 1 || !strings.Contains(errs, "already running") || !strings.Contains(errs, "answers on") {
		t.Fatalf("over a live site: exit %d, %q", code, errs)
	}
	pids := t.TempDir()
	if err := os.WriteFile(filepath.Join(pids, "cluster.pid"), []byte(strconv.Itoa(os.Getppid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, "cluster", "--dir", pids); code != 1 || !strings.Contains(errs, "already running") || !strings.Contains(errs, "process") {
		t.Fatalf("over a live pid file: exit %d, %q", code, errs)
	}
}
