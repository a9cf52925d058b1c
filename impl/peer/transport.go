package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/impl/wire"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

// Bounds of the transport.
const (
	// DefaultQueueSize bounds the messages waiting for one peer.
	DefaultQueueSize = 4096
	// MaxBatchMessages bounds the messages of one Batch (both directions).
	MaxBatchMessages = 512
	// maxBatchBytes keeps one Batch well under MaxMessageBytes; a single
	// message larger than this still goes alone.
	maxBatchBytes = 4 << 20
	// MaxMessageBytes is the gRPC message limit between sites: a catch-up
	// answer may carry MaxCatchUpEntries entries of up to MaxValueBytes.
	MaxMessageBytes = 256 << 20
	backoffMin      = 20 * time.Millisecond
	backoffMax      = time.Second
	// handshakeTimeout bounds the wait for a peer to accept a new stream;
	// it is generous because a link profile may add hundreds of
	// milliseconds of latency.
	handshakeTimeout = 10 * time.Second
)

// Options tune a Transport.
type Options struct {
	QueueSize int
	Logger    *slog.Logger
	// OnDrop, if set, counts messages dropped (queue full, peer unreachable).
	OnDrop func(to core.SiteID, n int)
	// OnSent, if set, counts messages handed to gRPC.
	OnSent func(to core.SiteID, n int)
	// Membership is sent on every stream; the peer refuses the stream if
	// its own differs.
	Membership siteconfig.Membership
	// OnRefused, if set, is called (again on every retry) when a peer
	// refuses our membership: the caller should stop, since this site and
	// that peer read different cluster.json files. The error wraps
	// ErrMembershipMismatch.
	OnRefused func(to core.SiteID, err error)
}

// Transport is a core.Transport over gRPC client streams.
type Transport struct {
	self  core.SiteID
	opts  Options
	peers map[core.SiteID]*link
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

var _ core.Transport = (*Transport)(nil)

type link struct {
	to    core.SiteID
	addr  string
	queue chan core.Message
	conn  *grpc.ClientConn
	// state is what was last logged about reaching the peer (state.go).
	state linkState
}

// NewTransport starts one sender per peer in addrs (site -> the address this
// site dials for it: its peer address or a link proxy). Each sender opens
// its stream at once, so a peer that disagrees on membership is found at
// start, not at the first write; gRPC remakes connections after failures.
func NewTransport(self core.SiteID, addrs map[core.SiteID]string, opts Options) (*Transport, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	t := &Transport{self: self, opts: opts, peers: map[core.SiteID]*link{}, ctx: ctx, stop: stop}
	for id, addr := range addrs {
		if id == self {
			continue
		}
		conn, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(MaxMessageBytes), grpc.MaxCallRecvMsgSize(MaxMessageBytes)),
			grpc.WithConnectParams(connectParams()))
		if err != nil {
			t.Close()
			return nil, err
		}
		l := &link{to: id, addr: addr, queue: make(chan core.Message, opts.QueueSize), conn: conn}
		t.peers[id] = l
		t.wg.Add(1)
		go t.run(l)
	}
	return t, nil
}

// Send queues m for its peer; it never blocks. Messages to unknown sites
// and messages beyond the queue bound are dropped.
func (t *Transport) Send(to core.SiteID, m core.Message) {
	l := t.peers[to]
	if l == nil {
		t.dropped(to, 1)
		return
	}
	select {
	case l.queue <- m:
	default:
		t.dropped(to, 1)
	}
}

// Close stops every sender and closes the connections; queued messages are
// dropped.
func (t *Transport) Close() {
	t.stop()
	t.wg.Wait()
	for _, l := range t.peers {
		_ = l.conn.Close()
	}
}

func (t *Transport) dropped(to core.SiteID, n int) {
	if t.opts.OnDrop != nil && n > 0 {
		t.opts.OnDrop(to, n)
	}
}

// run sends l's queue over one client stream at a time. On any stream error
// it drops the batch in hand (the protocol retries), waits a growing backoff
// and opens a new stream.
func (t *Transport) run(l *link) {
	defer t.wg.Done()
	backoff := backoffMin
	var out outStream
	defer out.close()
	for t.ctx.Err() == nil {
		if out.stream == nil {
			if err := out.open(t.ctx, l, t.opts.Membership); err != nil {
				t.refused(l, err)
				t.sleep(&backoff, l, err)
				continue
			}
		}
		var first core.Message
		select {
		case <-t.ctx.Done():
			return
		case first = <-l.queue:
		}
		batch := t.gather(l, first)
		if err := out.stream.Send(batch); err != nil {
			// NB: Send reports io.EOF when the server ended the stream; the
			// reason is in the status CloseAndRecv returns.
			if _, rerr := out.stream.CloseAndRecv(); rerr != nil {
				err = rerr
			}
			out.close()
			t.dropped(l.to, len(batch.Messages))
			t.refused(l, err)
			t.sleep(&backoff, l, err)
			continue
		}
		backoff = backoffMin
		t.reachable(l, nil)
		if t.opts.OnSent != nil {
			t.opts.OnSent(l.to, len(batch.Messages))
		}
	}
}

// refused reports a peer's refusal of our membership, loudly: this site and
// that peer disagree on who the members are.
func (t *Transport) refused(l *link, err error) {
	if !isMembershipRefusal(err) {
		return
	}
	why := strings.TrimPrefix(status.Convert(err).Message(), ErrMembershipMismatch.Error()+": ")
	err = fmt.Errorf("%w: peer %s at %s refused us: %s", ErrMembershipMismatch, l.to, l.addr, why)
	t.opts.Logger.Error("a peer refused this site's membership; cluster.json differs between sites", "peer", string(l.to), "addr", l.addr, "err", err)
	if t.opts.OnRefused != nil {
		t.opts.OnRefused(l.to, err)
	}
}

// outStream is the current Deliver stream to one peer, if any.
type outStream struct {
	stream grpc.ClientStreamingClient[wirepb.Batch, wirepb.DeliverSummary]
	cancel context.CancelFunc
}

// open starts a Deliver stream carrying our membership and waits (bounded)
// for the peer's header, which it sends only once it accepted us.
func (o *outStream) open(ctx context.Context, l *link, m siteconfig.Membership) error {
	if m.Digest != "" {
		ctx = WithMembership(ctx, m)
	}
	sctx, cancel := context.WithCancel(ctx)
	s, err := wirepb.NewPeerClient(l.conn).Deliver(sctx)
	if err != nil {
		cancel()
		return err
	}
	timer := time.AfterFunc(handshakeTimeout, cancel)
	md, err := s.Header()
	if err == nil && md.Get(mdAccepted) == nil {
		// NB: Header reports a refusal as no header; the status comes
		// from CloseAndRecv.
		if _, err = s.CloseAndRecv(); err == nil {
			err = errors.New("the peer ended the stream without accepting it")
		}
	}
	if !timer.Stop() && err == nil {
		err = fmt.Errorf("no answer from the peer within %v", handshakeTimeout)
	}
	if err != nil {
		cancel()
		return err
	}
	o.stream, o.cancel = s, cancel
	return nil
}

func (o *outStream) close() {
	if o.cancel != nil {
		o.cancel()
	}
	o.stream, o.cancel = nil, nil
}

// gather takes first and whatever else is queued, up to the batch bounds.
func (t *Transport) gather(l *link, first core.Message) *wirepb.Batch {
	b := &wirepb.Batch{Messages: []*wirepb.Message{wire.MessageToProto(first)}}
	size := proto.Size(b)
	for len(b.Messages) < MaxBatchMessages && size < maxBatchBytes {
		select {
		case m := <-l.queue:
			pm := wire.MessageToProto(m)
			size += proto.Size(pm)
			b.Messages = append(b.Messages, pm)
			continue
		default:
		}
		break
	}
	return b
}

// sleep backs off after a failure, dropping what queued up meanwhile: those
// messages are stale by the time the peer is back, and the core resends.
func (t *Transport) sleep(backoff *time.Duration, l *link, err error) {
	t.opts.Logger.Debug("peer stream failed", "peer", string(l.to), "addr", l.addr, "err", err, "backoff", *backoff)
	t.reachable(l, err)
	timer := time.NewTimer(*backoff)
	defer timer.Stop()
	select {
	case <-t.ctx.Done():
	case <-timer.C:
	}
	n := 0
	for {
		select {
		case <-l.queue:
			n++
			continue
		default:
		}
		break
	}
	t.dropped(l.to, n)
	*backoff = min(2**backoff, backoffMax)
}
