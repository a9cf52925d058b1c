package peer

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/impl/wire"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

var sites = []core.Site{{ID: "a", Kind: core.Full}, {ID: "b", Kind: core.Full}}

type inbox struct {
	mu   sync.Mutex
	msgs []core.Message
}

func (i *inbox) deliver(m core.Message) {
	i.mu.Lock()
	i.msgs = append(i.msgs, m)
	i.mu.Unlock()
}

func (i *inbox) count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.msgs)
}

// serve starts b's Peer service on addr ("" for a free port).
func serve(t *testing.T, addr string, in *inbox) (*grpc.Server, string) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	var err error
	for range 50 { // the port of a stopped server may take a moment to free
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	wirepb.RegisterPeerServer(srv, NewServer("b", wire.LimitsFor(core.DefaultConfig("b", sites)), in.deliver, nil))
	go srv.Serve(lis)
	return srv, lis.Addr().String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func prepare(pos core.Position) core.Message {
	return core.Message{Type: core.MsgPrepare, From: "a", To: "b", Group: "g", Position: pos,
		Ballot: core.MakeBallot(1, 1, 0)}
}

func TestDeliverAndReconnect(t *testing.T) {
	in := &inbox{}
	srv, addr := serve(t, "", in)
	tr, err := NewTransport("a", map[core.SiteID]string{"a": "unused", "b": addr}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for p := range core.Position(100) {
		tr.Send("b", prepare(p+1))
	}
	waitFor(t, "100 messages", func() bool { return in.count() == 100 })
	tr.Send("zz", prepare(1)) // not a peer: dropped, no panic

	// The peer restarts on the same address: the transport reconnects and
	// later messages arrive (earlier ones may be lost, which is allowed).
	srv.Stop()
	srv, _ = serve(t, addr, in)
	defer srv.Stop()
	waitFor(t, "a message after the restart", func() bool {
		tr.Send("b", prepare(1))
		return in.count() > 100
	})
}

func TestServerRefusesGarbage(t *testing.T) {
	in := &inbox{}
	srv, addr := serve(t, "", in)
	defer srv.Stop()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		batch *wirepb.Batch
		text  string
	}{
		{&wirepb.Batch{Messages: []*wirepb.Message{wire.MessageToProto(prepare(1)), {Type: 42, From: "a", To: "b"}}}, "unknown message type 42"},
		{&wirepb.Batch{Messages: []*wirepb.Message{{Type: wirepb.MessageType_PREPARE, From: "mallory", To: "b", Group: "g", Position: 1}}}, `"mallory" is not a member`},
		{&wirepb.Batch{Messages: []*wirepb.Message{wire.MessageToProto(core.Message{Type: core.MsgPrepare, From: "b", To: "a", Group: "g", Position: 1})}}, "delivered to"},
	} {
		s, err := wirepb.NewPeerClient(conn).Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Send(c.batch)
		_, err = s.CloseAndRecv()
		if status.Code(err) != codes.InvalidArgument && status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), c.text) {
			t.Errorf("got %v, want a refusal containing %q", err, c.text)
		}
	}
	if n := in.count(); n != 0 {
		t.Fatalf("%d messages of refused batches were delivered", n)
	}
}

func membership(t *testing.T, kinds string) siteconfig.Membership {
	t.Helper()
	f, err := siteconfig.Parse([]byte(`{"sites": [
 {"id": "a", "kind": "full", "peer_addr": "127.0.0.1:7001", "client_addr": "127.0.0.1:7101", "http_addr": "127.0.0.1:7201"},
 {"id": "b", "kind": "` + kinds + `", "peer_addr": "127.0.0.1:7002", "client_addr": "127.0.0.1:7102", "http_addr": "127.0.0.1:7202"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return f.Membership()
}

// A sender whose membership differs is refused before any message is taken,
// and told why; the same membership is accepted.
func TestMembershipHandshake(t *testing.T) {
	mine := membership(t, "full")
	in := &inbox{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	ps := NewServer("b", wire.LimitsFor(core.DefaultConfig("b", sites)), in.deliver, nil)
	ps.Membership = mine
	var rejected atomic.Int64
	ps.OnRejected = func(error) { rejected.Add(1) }
	wirepb.RegisterPeerServer(srv, ps)
	go srv.Serve(lis)
	defer srv.Stop()

	for _, c := range []struct {
		name string
		m    siteconfig.Membership
		want string // "" means accepted
	}{
		{"same", mine, ""},
		{"witness", membership(t, "witness"), "sites: a:full,b:full vs a:full,b:witness"},
		{"none", siteconfig.Membership{}, "sent no membership digest"},
	} {
		refusals := make(chan error, 100)
		before := in.count()
		tr, err := NewTransport("a", map[core.SiteID]string{"b": lis.Addr().String()}, Options{
			Membership: c.m,
			OnRefused:  func(_ core.SiteID, err error) { refusals <- err },
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.want == "" {
			waitFor(t, c.name+": a delivered message", func() bool {
				tr.Send("b", prepare(1))
				return in.count() > before
			})
		} else {
			// Refused at start, before any message is sent.
			select {
			case err := <-refusals:
				if !errors.Is(err, ErrMembershipMismatch) || !strings.Contains(err.Error(), c.want) ||
					c.m.Digest != "" && !strings.Contains(err.Error(), c.m.Digest) || !strings.Contains(err.Error(), mine.Digest) {
					t.Errorf("%s: refusal %v, want both digests and %q", c.name, err, c.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no refusal", c.name)
			}
			for range 20 {
				tr.Send("b", prepare(1))
			}
			time.Sleep(100 * time.Millisecond)
			if n := in.count(); n != before {
				t.Errorf("%s: %d messages delivered from a refused sender", c.name, n-before)
			}
		}
		tr.Close()
	}
	if rejected.Load() == 0 {
		t.Error("OnRejected never called")
	}
}
