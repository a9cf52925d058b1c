package siteconfig

import (
	"errors"
	"strings"
	"testing"
)

const good = `{"sites": [
 {"id": "a", "kind": "full", "peer_addr": "127.0.0.1:7001", "client_addr": "127.0.0.1:7101", "http_addr": "127.0.0.1:7201"},
 {"id": "b", "kind": "witness", "peer_addr": "127.0.0.1:7002", "client_addr": "127.0.0.1:7102", "http_addr": "127.0.0.1:7202"},
 {"id": "c", "kind": "readonly", "peer_addr": "127.0.0.1:7003", "client_addr": "127.0.0.1:7103", "http_addr": "127.0.0.1:7203"}
]}`

func TestParse(t *testing.T) {
	f, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.CoreConfig("b")
	if err != nil || cfg.Self != "b" || cfg.InitialLeader != "a" || len(cfg.Sites) != 3 {
		t.Fatalf("%+v %v", cfg, err)
	}
	if _, err := f.Site("z"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "members are [a b c]") {
		t.Fatalf("unknown site: %v", err)
	}
}

func TestRejects(t *testing.T) {
	for _, c := range []struct{ edit, text string }{
		{`"kind": "full"`, ""},
		{`"kind": "witness"|"kind": "voter"`, `"kind" is "voter"`},
		{`"id": "b"|"id": "b b"`, `"id"`},
		{`"id": "b"|"id": "a"`, "listed twice"},
		{`"127.0.0.1:7002"|"127.0.0.1:7001"`, "already used"},
		{`"127.0.0.1:7002"|"127.0.0.1"`, "not host:port"},
		{`"127.0.0.1:7002"|"127.0.0.1:99999"`, "1..65535"},
		{`"127.0.0.1:7002"|":7002"`, "no host"},
		{`"127.0.0.1:7002"|"example.com:7002"`, "not an IP"},
		{`"sites"|"sitez"`, "unknown field"},
		{`{"sites"|{"initial_leader": "c", "sites"`, "initial leader"},
		{`{"sites"|{"tick_ms": 5000, "sites"`, "tick_ms"},
		{`{"sites"|{"lease_ticks": 4, "clock_skew_ticks": 9, "sites"`, "clock skew"},
		{`"kind": "full"|"kind": "readonly"`, "no voting site|initial leader"},
	} {
		in := good
		if parts := strings.SplitN(c.edit, "|", 2); len(parts) == 2 {
			in = strings.Replace(good, parts[0], parts[1], 1)
		}
		_, err := Parse([]byte(in))
		if c.text == "" {
			if err != nil {
				t.Errorf("%s: %v", c.edit, err)
			}
			continue
		}
		ok := false
		for _, alt := range strings.Split(c.text, "|") {
			ok = ok || (err != nil && strings.Contains(err.Error(), alt))
		}
		if !errors.Is(err, ErrInvalid) || !ok {
			t.Errorf("%s: got %v, want %q", c.edit, err, c.text)
		}
	}
	if _, err := Parse([]byte(`{"sites": []}`)); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty: %v", err)
	}
	if _, err := Parse([]byte(good + `{}`)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("trailing: %v", err)
	}
}
