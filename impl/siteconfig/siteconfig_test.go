package siteconfig

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
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
		{`"http_addr": "127.0.0.1:7201"|"http_addr": "127.0.0.1:7201", "peer_listen_addr": "0.0.0.0:7001"`, ""},
		{`"http_addr": "127.0.0.1:7201"|"http_addr": "127.0.0.1:7201", "peer_listen_addr": ":7001"`, `"peer_listen_addr"`},
		{`{"sites"|{"links": [{"from": "a", "to": "b", "dial": "10.0.0.1:21001"}, {"from": "b", "to": "a", "dial": "10.0.0.1:21002"}], "sites"`, ""},
		{`{"sites"|{"links": [{"from": "a", "to": "b", "dial": "127.0.0.1:7002"}], "sites"`, ""},
		{`{"sites"|{"links": [{"from": "a", "to": "z", "dial": "10.0.0.1:21001"}], "sites"`, `links[0] "to" "z" is not a listed site`},
		{`{"sites"|{"links": [{"from": "", "to": "b", "dial": "10.0.0.1:21001"}], "sites"`, `links[0] "from" "" is not a listed site`},
		{`{"sites"|{"links": [{"from": "a", "to": "a", "dial": "10.0.0.1:21001"}], "sites"`, "does not dial itself"},
		{`{"sites"|{"links": [{"from": "a", "to": "b", "dial": "10.0.0.1:1"}, {"from": "a", "to": "b", "dial": "10.0.0.1:2"}], "sites"`, "a->b is listed twice"},
		{`{"sites"|{"links": [{"from": "a", "to": "b", "dial": "10.0.0.1"}], "sites"`, `links[0] (a->b) "dial"`},
		{`{"sites"|{"links": [{"from": "a", "to": "b", "dial": "127.0.0.1:7003"}], "sites"`, `peer_addr of site "c", which does not reach "b"`},
		{`{"sites"|{"links": [{"from": "a", "to": "b", "dial": "127.0.0.1:7101"}], "sites"`, `client_addr of site "a"`},
		{`{"sites"|{"links": [{"from": "a", "to": "b", "dial": "10.0.0.1:1"}, {"from": "a", "to": "c", "dial": "10.0.0.1:1"}], "sites"`, `also the dial address of a link to "b"`},
		{`{"sites"|{"links": [{"from": "a", "to": "b"}], "sites"`, `"dial": missing`},
		{`{"sites"|{"links": [{"from": "a", "to": "b", "dail": "10.0.0.1:1"}], "sites"`, "unknown field"},
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

func TestListenAndDial(t *testing.T) {
	in := strings.Replace(good, `"http_addr": "127.0.0.1:7201"`, `"http_addr": "127.0.0.1:7201", "peer_listen_addr": "0.0.0.0:7001"`, 1)
	in = strings.Replace(in, `{"sites"`, `{"links": [{"from": "a", "to": "b", "dial": "10.0.0.1:21001"}, {"from": "c", "to": "a", "dial": "10.0.0.1:21002"}], "sites"`, 1)
	f, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Site("a")
	b, _ := f.Site("b")
	if a.PeerListen() != "0.0.0.0:7001" || b.PeerListen() != "127.0.0.1:7002" {
		t.Errorf("listen: a %s b %s", a.PeerListen(), b.PeerListen())
	}
	for _, c := range []struct {
		from string
		want map[core.SiteID]string
	}{
		{"a", map[core.SiteID]string{"b": "10.0.0.1:21001", "c": "127.0.0.1:7003"}},
		{"b", map[core.SiteID]string{"a": "127.0.0.1:7001", "c": "127.0.0.1:7003"}},
		{"c", map[core.SiteID]string{"a": "10.0.0.1:21002", "b": "127.0.0.1:7002"}},
	} {
		if got := f.DialAddrs(c.from); !maps.Equal(got, c.want) {
			t.Errorf("DialAddrs(%s) = %v, want %v", c.from, got, c.want)
		}
	}
}

func TestMembership(t *testing.T) {
	base, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	m := base.Membership()
	if m.Summary != "sites=a:full,b:witness,c:readonly leader=a tick_ms=5 lease_ticks=40 clock_skew_ticks=4" || len(m.Digest) != 16 {
		t.Fatalf("membership %+v", m)
	}
	// Addresses, listen addresses and links do not count.
	same := strings.ReplaceAll(good, "127.0.0.1:", "127.0.0.9:")
	same = strings.Replace(same, `{"sites"`, `{"links": [{"from": "a", "to": "b", "dial": "10.0.0.1:21001"}], "sites"`, 1)
	if f, err := Parse([]byte(same)); err != nil || f.Membership() != m {
		t.Errorf("addresses changed the membership: %+v %v", f, err)
	}
	for _, c := range []struct{ edit, diff string }{
		{`"id": "c", "kind": "readonly"|"id": "c", "kind": "full"`, "sites: a:full,b:witness,c:readonly vs a:full,b:witness,c:full"},
		{`{"sites"|{"initial_leader": "a", "sites"`, ""},
		{`{"sites"|{"tick_ms": 10, "sites"`, "tick_ms: 5 vs 10"},
		{`{"sites"|{"lease_ticks": 80, "clock_skew_ticks": 8, "sites"`, "lease_ticks: 40 vs 80; clock_skew_ticks: 4 vs 8"},
	} {
		parts := strings.SplitN(c.edit, "|", 2)
		f, err := Parse([]byte(strings.Replace(good, parts[0], parts[1], 1)))
		if err != nil {
			t.Fatal(err)
		}
		other := f.Membership()
		if c.diff == "" {
			if other != m {
				t.Errorf("%s: the default made explicit changed the membership", c.edit)
			}
			continue
		}
		if other.Digest == m.Digest {
			t.Errorf("%s: same digest", c.edit)
		}
		if got := DiffSummaries(m.Summary, other.Summary); got != c.diff {
			t.Errorf("%s: diff %q, want %q", c.edit, got, c.diff)
		}
	}
	if got := DiffSummaries("a=1 b=2", "b=3 c=4"); got != "a: 1 vs (none); b: 2 vs 3; c: (none) vs 4" {
		t.Errorf("diff %q", got)
	}
}
