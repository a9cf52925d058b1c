package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // NB: registers client-side health checking (WithHealthCheck)

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/wire"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

// maxResponseBytes bounds what one answer may carry (a Get of many large
// values, a long Log).
const maxResponseBytes = 256 << 20

// Site is a connection to one site's client API.
type Site struct {
	name core.SiteID
	conn *grpc.ClientConn
	api  wirepb.ClientClient
	opts options
}

var _ client.Site = (*Site)(nil)

// options are what Dial's Options set.
type options struct {
	connectTimeout time.Duration
	backoff        backoff.Config
	waitForReady   bool
	dialTimeout    time.Duration
	healthCheck    bool
	dialer         func(context.Context, string) (net.Conn, error)
}

// Defaults. gRPC's own reconnect backoff starts at 1 s and grows by 1.6 up
// to 2 minutes: after a site restarts, its clients would see "connection
// refused" for up to about 2 s. A site is a few processes an operator
// restarts in place, so retry fast and cap low.
const (
	DefaultBackoffBase    = 50 * time.Millisecond
	DefaultBackoffMax     = 300 * time.Millisecond
	DefaultConnectTimeout = 2 * time.Second
)

func defaultOptions() options {
	return options{
		connectTimeout: DefaultConnectTimeout,
		backoff: backoff.Config{BaseDelay: DefaultBackoffBase, Multiplier: 1.6, Jitter: 0.2,
			MaxDelay: DefaultBackoffMax},
		healthCheck: true,
	}
}

// Option configures Dial.
type Option func(*options)

// WithConnectTimeout bounds each attempt to establish the connection (TCP
// and HTTP/2 handshake) before it counts as failed and is retried after
// backoff (default DefaultConnectTimeout).
func WithConnectTimeout(d time.Duration) Option { return func(o *options) { o.connectTimeout = d } }

// WithBackoff sets the reconnect backoff: the first retry after base, each
// next one 1.6 times later (with 20% jitter), never more than max apart
// (defaults DefaultBackoffBase, DefaultBackoffMax).
func WithBackoff(base, max time.Duration) Option {
	return func(o *options) { o.backoff.BaseDelay, o.backoff.MaxDelay = base, max }
}

// WithWaitForReady makes every call wait, up to its context's deadline, for
// the site to become reachable, instead of failing at once with
// Unavailable while the site is down or restarting. A call that waited and
// then ran is an ordinary call: its outcome is known. Default off.
func WithWaitForReady(on bool) Option { return func(o *options) { o.waitForReady = on } }

// WithDialTimeout makes Dial itself connect and wait up to d for the site
// to be reachable and healthy, returning an error naming the address if it
// is not; without it Dial returns at once and connects on the first call.
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithHealthCheck turns the use of the site's gRPC health service on or off
// (default on): with it, a connection is used only while the site reports
// SERVING, so a site that is shutting down or not yet started is treated as
// unreachable, and the connection is retried, rather than sent requests it
// will refuse. Sites without the service count as healthy.
func WithHealthCheck(on bool) Option { return func(o *options) { o.healthCheck = on } }

// withDialer replaces the TCP dialer (tests count connection attempts).
func withDialer(f func(context.Context, string) (net.Conn, error)) Option {
	return func(o *options) { o.dialer = f }
}

// healthServiceConfig makes the channel watch the standard gRPC health
// service (the empty service name: the whole server). Client-side health
// checking runs under round_robin; with one address it picks that address
// whenever it is healthy.
const healthServiceConfig = `{"loadBalancingConfig": [{"round_robin": {}}], "healthCheckConfig": {"serviceName": ""}}`

// Dial connects to the client address of site name (name may be empty: the
// server then does not check it is the site meant). gRPC connects lazily
// (unless WithDialTimeout) and reconnects by itself after the backoff the
// options set.
func Dial(addr string, name core.SiteID, opts ...Option) (*Site, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.backoff.BaseDelay <= 0 || o.backoff.MaxDelay < o.backoff.BaseDelay || o.connectTimeout <= 0 {
		return nil, fmt.Errorf("remote: %s: backoff %v..%v and connect timeout %v must be positive, base at most max",
			addr, o.backoff.BaseDelay, o.backoff.MaxDelay, o.connectTimeout)
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseBytes), grpc.WaitForReady(o.waitForReady)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: o.backoff, MinConnectTimeout: o.connectTimeout}),
	}
	if o.healthCheck {
		dopts = append(dopts, grpc.WithDefaultServiceConfig(healthServiceConfig))
	}
	if o.dialer != nil {
		dopts = append(dopts, grpc.WithContextDialer(o.dialer))
	}
	conn, err := grpc.NewClient(addr, dopts...)
	if err != nil {
		return nil, fmt.Errorf("remote: %s: %w", addr, err)
	}
	s := &Site{name: name, conn: conn, api: wirepb.NewClientClient(conn), opts: o}
	if o.dialTimeout > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), o.dialTimeout)
		defer cancel()
		if err := s.WaitReady(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("remote: %s is not reachable after %v: %w", addr, o.dialTimeout, err)
		}
	}
	return s, nil
}

// WaitReady connects if need be and waits until the connection to the site
// is ready (and, with health checking, the site reports SERVING), or ctx
// ends. It skips any backoff in progress: a caller that has reason to think
// the site is back (a restart it ordered, say) reaches it at once.
func (s *Site) WaitReady(ctx context.Context) error {
	s.conn.Connect()
	for {
		st := s.conn.GetState()
		switch st {
		case connectivity.Ready:
			return nil
		case connectivity.Shutdown:
			return errors.New("connection closed")
		case connectivity.TransientFailure:
			s.conn.ResetConnectBackoff()
		}
		if !s.conn.WaitForStateChange(ctx, st) {
			return ctx.Err()
		}
	}
}

// State is the connection's state (idle, connecting, ready, transient
// failure, shutdown), for operators and tests.
func (s *Site) State() connectivity.State { return s.conn.GetState() }

// Close closes the connection.
func (s *Site) Close() error { return s.conn.Close() }

// Client returns the client library over this site.
func (s *Site) Client() *client.Client { return client.New(s) }

// Write commits req's mutations at req.ReadPosition+1 (client.Site).
func (s *Site) Write(ctx context.Context, req core.WriteRequest) (core.Position, error) {
	res, err := s.api.Commit(ctx, &wirepb.CommitRequest{Site: string(s.name), Group: string(req.Group),
		ReadPosition: uint64(req.ReadPosition), Mutations: wire.MutationsToProto(req.Mutations)})
	if err != nil {
		return 0, wire.FromStatus(err)
	}
	return core.Position(res.Position), nil
}

// ErrKeysAndRange: the wire has no single read of both keys and a range.
var ErrKeysAndRange = errors.New("remote: a read names both keys and a range; send two reads")

// Read performs a Get (keys) or a Scan (range) (client.Site).
func (s *Site) Read(ctx context.Context, req core.ReadRequest) (node.ReadResult, error) {
	mode := wire.ReadModeToProto(req.Mode)
	if req.Range != nil {
		if len(req.Keys) > 0 {
			return node.ReadResult{}, ErrKeysAndRange
		}
		res, err := s.api.Scan(ctx, &wirepb.ScanRequest{Site: string(s.name), Group: string(req.Group),
			Start: req.Range.Start, End: req.Range.End, Limit: uint32(req.Range.Limit), Mode: mode,
			Position: uint64(req.Position)})
		if err != nil {
			return node.ReadResult{}, wire.FromStatus(err)
		}
		out := node.ReadResult{Position: core.Position(res.Position), More: res.More}
		for _, kv := range res.Items {
			out.Rows = append(out.Rows, core.KeyValue{Key: kv.Key, Value: kv.Value})
		}
		return out, nil
	}
	res, err := s.api.Get(ctx, &wirepb.GetRequest{Site: string(s.name), Group: string(req.Group),
		Keys: req.Keys, Mode: mode, Position: uint64(req.Position)})
	if err != nil {
		return node.ReadResult{}, wire.FromStatus(err)
	}
	if len(res.Values) != len(req.Keys) {
		return node.ReadResult{}, fmt.Errorf("remote: site answered %d values for %d keys", len(res.Values), len(req.Keys))
	}
	out := node.ReadResult{Position: core.Position(res.Position), Values: make([][]byte, len(req.Keys))}
	for i, v := range res.Values {
		if v.GetPresent() {
			out.Values[i] = append([]byte{}, v.Value...)
		}
	}
	return out, nil
}

// Put writes one key in its own transaction, rerun by the site on conflict.
// Giving up is client.ErrTooManyAttempts (a core.ErrConflict), as for an
// in-process client.Put.
func (s *Site) Put(ctx context.Context, group core.GroupID, key, value []byte) (core.Position, error) {
	res, err := s.PutResult(ctx, group, key, value)
	return res.Position, err
}

// PutResult is Put, also returning how many times the site ran the
// transaction (0 from a site too old to say).
func (s *Site) PutResult(ctx context.Context, group core.GroupID, key, value []byte) (client.TxResult, error) {
	res, err := s.api.Put(ctx, &wirepb.PutRequest{Site: string(s.name), Group: string(group), Key: key, Value: value})
	if err != nil {
		return client.TxResult{}, wire.FromStatus(err)
	}
	return client.TxResult{Position: core.Position(res.Position), Attempts: int(res.Attempts)}, nil
}

// Status returns the site's status (all groups, or only group if set).
func (s *Site) Status(ctx context.Context, group core.GroupID) (*wirepb.StatusResponse, error) {
	res, err := s.api.Status(ctx, &wirepb.StatusRequest{Site: string(s.name), Group: string(group)})
	return res, wire.FromStatus(err)
}

// Log returns the entries the site knows committed in group from position
// from to to, stopping at the first it does not know.
func (s *Site) Log(ctx context.Context, group core.GroupID, from, to core.Position) ([]core.Entry, error) {
	res, err := s.api.Log(ctx, &wirepb.LogRequest{Site: string(s.name), Group: string(group),
		From: uint64(from), To: uint64(to)})
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	out := make([]core.Entry, 0, len(res.Entries))
	for _, e := range res.Entries {
		v := core.Value{}
		if e.Value != nil && e.Value.Id != nil {
			v.ID = core.ValueID{Site: core.SiteID(e.Value.Id.Site), Incarnation: e.Value.Id.Incarnation, Seq: e.Value.Id.Seq}
		}
		if e.Value != nil {
			v.Timestamp, v.NextLeader, v.NoOp = e.Value.Timestamp, core.SiteID(e.Value.NextLeader), e.Value.NoOp
			for _, m := range e.Value.Mutations {
				v.Mutations = append(v.Mutations, core.Mutation{Key: m.Key, Value: m.Value, Delete: m.Delete})
			}
		}
		out = append(out, core.Entry{Group: group, Position: core.Position(e.Position), Value: v})
	}
	return out, nil
}
