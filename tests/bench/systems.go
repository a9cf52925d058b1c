package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/nemesis/linkproxy"
)

// members is how many sites or etcd members each system runs.
const members = 3

// system is one replicated store under test: members processes on
// loopback, written and read through one client connection per member.
type system interface {
	Name() string
	// Put writes value under key (this store: key is an entity group, the
	// write one transaction on it) through member m.
	Put(ctx context.Context, m int, key string, value []byte) error
	// Get is a current read (etcd: linearizable) of key through member m.
	Get(ctx context.Context, m int, key string) error
	// Leader is the member that leads writes: etcd's raft leader; for this
	// store the initial leader of every group, which every bench key is
	// first written from.
	Leader() int
	Close()
}

// procs are a system's member processes.
type procs struct {
	dir  string
	cmds []*exec.Cmd
	done []chan struct{}
}

// start runs this binary as a child of kind with args, its output in
// dir/<name>.log.
func (p *procs) start(kind, name string, args ...string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(p.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), childEnv+"="+kind)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	p.cmds, p.done = append(p.cmds, cmd), append(p.done, done)
	return nil
}

// exited names a child that is gone, with its log's end, or is empty.
func (p *procs) exited() string {
	for i, d := range p.done {
		select {
		case <-d:
			return fmt.Sprintf("%s exited: %s", strings.Join(p.cmds[i].Args[1:], " "), p.logTail())
		default:
		}
	}
	return ""
}

func (p *procs) logTail() string {
	logs, _ := filepath.Glob(filepath.Join(p.dir, "*.log"))
	var out []string
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil && len(b) > 0 {
			if len(b) > 1500 {
				b = b[len(b)-1500:]
			}
			out = append(out, filepath.Base(l)+":\n"+string(b))
		}
	}
	return strings.Join(out, "\n")
}

// stop kills every child and waits for it: the data is thrown away, and a
// graceful etcd stop takes seconds (its leader first tries to hand over
// leadership to members that are stopping too).
func (p *procs) stop() {
	for _, c := range p.cmds {
		_ = c.Process.Kill()
	}
	for _, d := range p.done {
		<-d
	}
}

// freePorts returns n distinct free ports on host, held until all are
// chosen (a port may still be taken before a child binds it; the child
// then fails with "address in use" and the harness says so).
func freePorts(host string, n int) ([]string, error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", host+":0")
		if err != nil {
			return nil, err
		}
		held = append(held, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// wan makes every peer link of a system go through a link proxy that
// delays each direction by half the round trip (nil: loopback, no proxy).
type wan struct{ rtt time.Duration }

// uniform puts one-way delay d on every link of set.
func uniform(set *linkproxy.Set, d time.Duration) error {
	shapes := map[linkproxy.Link]linkproxy.Shape{}
	for l := range set.Addrs() {
		shapes[l] = linkproxy.Shape{LatencyMs: int(d / time.Millisecond)}
	}
	return set.SetShapes(shapes)
}

// waitUntil retries f every 100 ms until it succeeds, p exits or the
// timeout passes.
func waitUntil(p *procs, timeout time.Duration, what string, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if gone := p.exited(); gone != "" {
			return fmt.Errorf("%s: a member stopped: %s", what, gone)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not done after %v: %v\n%s", what, timeout, err, p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// megastore is this store: three full sites, each `megastore node` as
// its own process with its own Pebble directory.
type megastore struct {
	procs
	sites   []*remote.Site
	proxies *linkproxy.Set
}

func startMegastore(dir string, w *wan) (*megastore, error) {
	ids := []string{"a", "b", "c"}
	f, err := siteconfig.Loopback(ids, map[string]string{"a": "full", "b": "full", "c": "full"})
	if err != nil {
		return nil, err
	}
	f.InitialLeader = "a"
	m := &megastore{procs: procs{dir: dir}}
	if w != nil {
		var targets []linkproxy.Target
		for _, s := range f.Sites {
			targets = append(targets, linkproxy.Target{Site: linkproxy.Site{ID: s.ID, Kind: s.Kind},
				Peer: netip.MustParseAddrPort(s.PeerAddr)})
		}
		lan, _ := linkproxy.ProfileByName("lan")
		if m.proxies, err = linkproxy.Start(netip.MustParseAddr("127.0.0.1"), targets, lan); err != nil {
			return nil, err
		}
		if err := uniform(m.proxies, w.rtt/2); err != nil {
			m.Close()
			return nil, err
		}
		f.Links = m.proxies.ConfigLinks()
	}
	cfgPath := filepath.Join(dir, "cluster.json")
	if err := f.Write(cfgPath); err != nil {
		m.Close()
		return nil, err
	}
	for _, id := range ids {
		if err := m.start("site", "site-"+id, "--config", cfgPath, "--site", id,
			"--data", filepath.Join(dir, "data-"+id)); err != nil {
			m.Close()
			return nil, err
		}
	}
	hc := &http.Client{Timeout: time.Second}
	for _, s := range f.Sites {
		err := waitUntil(&m.procs, 60*time.Second, "site "+s.ID+" healthy", func() error {
			resp, err := hc.Get("http://" + s.HTTPAddr + "/healthz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("/healthz: %s", resp.Status)
			}
			return nil
		})
		if err != nil {
			m.Close()
			return nil, err
		}
		r, err := remote.Dial(s.ClientAddr, core.SiteID(s.ID))
		if err != nil {
			m.Close()
			return nil, err
		}
		m.sites = append(m.sites, r)
	}
	return m, nil
}

func (m *megastore) Name() string { return "megastore" }
func (m *megastore) Leader() int  { return 0 }

func (m *megastore) Put(ctx context.Context, i int, key string, value []byte) error {
	_, err := m.sites[i].Put(ctx, core.GroupID(key), []byte("k"), value)
	return err
}

func (m *megastore) Get(ctx context.Context, i int, key string) error {
	_, _, err := m.sites[i].Client().Get(ctx, core.GroupID(key), []byte("k"))
	return err
}

func (m *megastore) Close() {
	for _, s := range m.sites {
		s.Close()
	}
	m.stop()
	if m.proxies != nil {
		m.proxies.Close()
	}
}

// etcd is three etcd members, each its own process.
type etcd struct {
	procs
	clients []*clientv3.Client
	leader  int
	proxies *linkproxy.Set
}

func startEtcd(dir string, w *wan) (*etcd, error) {
	addrs, err := freePorts("127.0.0.1", 2*members)
	if err != nil {
		return nil, err
	}
	e := &etcd{procs: procs{dir: dir}}
	clientURL := func(i int) string { return "http://" + addrs[2*i] }
	peerListen := func(i int) string { return "http://" + addrs[2*i+1] }
	advertise := peerListen
	if w != nil {
		// etcd advertises one peer URL per member, which every other member
		// dials: member i's is the proxy of link (i+1 -> i). With one delay
		// on every link, each proxy delays both directions alike, so every
		// message between two members takes rtt/2 as with this store.
		var targets []linkproxy.Target
		for i := range members {
			targets = append(targets, linkproxy.Target{Site: linkproxy.Site{ID: fmt.Sprint("e", i), Kind: "full"},
				Peer: netip.MustParseAddrPort(addrs[2*i+1])})
		}
		lan, _ := linkproxy.ProfileByName("lan")
		if e.proxies, err = linkproxy.Start(netip.MustParseAddr("127.0.0.1"), targets, lan); err != nil {
			return nil, err
		}
		if err := uniform(e.proxies, w.rtt/2); err != nil {
			e.Close()
			return nil, err
		}
		pa := e.proxies.Addrs()
		advertise = func(i int) string {
			return "http://" + pa[linkproxy.Link{From: fmt.Sprint("e", (i+1)%members), To: fmt.Sprint("e", i)}].String()
		}
	}
	var cluster []string
	for i := range members {
		cluster = append(cluster, fmt.Sprintf("e%d=%s", i, advertise(i)))
	}
	for i := range members {
		if err := e.start("etcd", fmt.Sprint("etcd-", i), "--name", fmt.Sprint("e", i),
			"--data", filepath.Join(dir, fmt.Sprint("etcd-", i)), "--client-url", clientURL(i),
			"--peer-listen-url", peerListen(i), "--peer-advertise-url", advertise(i),
			"--initial-cluster", strings.Join(cluster, ",")); err != nil {
			e.Close()
			return nil, err
		}
	}
	for i := range members {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{clientURL(i)}, DialTimeout: 5 * time.Second,
			Logger: zap.NewNop()})
		if err != nil {
			e.Close()
			return nil, err
		}
		e.clients = append(e.clients, c)
	}
	// Wait for a leader every member agrees on.
	err = waitUntil(&e.procs, 60*time.Second, "etcd leader elected", func() error {
		var leader uint64
		for i, c := range e.clients {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := c.Status(ctx, addrs[2*i])
			cancel()
			if err != nil {
				return err
			}
			if st.Leader == 0 || (leader != 0 && st.Leader != leader) {
				return errors.New("no agreed leader yet")
			}
			leader = st.Leader
			if st.Header.MemberId == st.Leader {
				e.leader = i
			}
		}
		return nil
	})
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *etcd) Name() string { return "etcd" }
func (e *etcd) Leader() int  { return e.leader }

func (e *etcd) Put(ctx context.Context, i int, key string, value []byte) error {
	_, err := e.clients[i].Put(ctx, key, string(value))
	return err
}

func (e *etcd) Get(ctx context.Context, i int, key string) error {
	_, err := e.clients[i].Get(ctx, key)
	return err
}

func (e *etcd) Close() {
	for _, c := range e.clients {
		c.Close()
	}
	e.stop()
	if e.proxies != nil {
		e.proxies.Close()
	}
}
