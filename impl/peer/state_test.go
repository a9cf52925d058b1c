package peer

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/megastore-verified/megastore/impl/core"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A peer that is down, then up, then down again gives one info line per
// change, however many retries and batches happen in between.
func TestPeerConnectionChangesAreLoggedOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs syncBuffer
	tr, err := NewTransport("a", map[core.SiteID]string{"b": addr},
		Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	count := func(what string) int { return strings.Count(logs.String(), what) }
	for i := range 20 {
		tr.Send("b", prepare(core.Position(i+1)))
	}
	waitFor(t, "the down line", func() bool { return count("peer connection down") == 1 })

	in := &inbox{}
	srv, _ := serve(t, addr, in)
	waitFor(t, "a delivery", func() bool {
		tr.Send("b", prepare(1))
		return in.count() > 0
	})
	waitFor(t, "the up line", func() bool { return count("peer connection up") == 1 })
	for i := range 50 {
		tr.Send("b", prepare(core.Position(i+1)))
	}
	srv.Stop()
	waitFor(t, "the second down line", func() bool {
		tr.Send("b", prepare(1))
		return count("peer connection down") == 2
	})
	if n := count("peer connection up"); n != 1 {
		t.Fatalf("%d up lines for one recovery:\n%s", n, logs.String())
	}
}
