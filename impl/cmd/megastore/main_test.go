package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "cluster.json")
	if err := os.WriteFile(good, []byte(`{"sites": [{"id": "a", "kind": "full", "peer_addr": "127.0.0.1:1",
		"client_addr": "127.0.0.1:2", "http_addr": "127.0.0.1:3"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"sites": [{"id": "a", "kind": "voter"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		text string
	}{
		{nil, 2, "usage: megastore"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"put", "--config", good, "--group", "g"}, 2, "--key is required"},
		{[]string{"put", "--config", good, "--group", "g", "--key", "k"}, 2, "exactly one of --value, --value-file and --delete"},
		{[]string{"get", "--config", good, "--key", "k"}, 2, "--group is required"},
		{[]string{"get", "--config", good, "--group", "g", "--key", "k", "--site", "z"}, 2, `site "z" is not in the config`},
		{[]string{"get", "--config", good, "--group", "g", "--key", "k", "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"get", "--config", bad, "--group", "g", "--key", "k"}, 1, `"kind" is "voter"`},
		{[]string{"get", "--config", filepath.Join(dir, "missing.json"), "--group", "g", "--key", "k"}, 1, "no such file"},
		{[]string{"node", "--config", good}, 2, "--config and --site are required"},
		{[]string{"node", "--config", good, "--site", "q"}, 2, `site "q" is not in the config`},
		{[]string{"scan", "--config", good, "--group", "g", "--limit", "0"}, 2, "--limit must be positive"},
		{[]string{"get", "--bogus"}, 2, "flag provided but not defined"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.text) {
			t.Errorf("%v: exit %d, stderr %q; want %d containing %q", c.args, code, errb.String(), c.code, c.text)
		}
	}
}
