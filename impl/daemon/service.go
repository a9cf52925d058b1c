package daemon

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/wire"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

const (
	// requestTimeout caps a client request that came without a deadline, so
	// no handler waits forever on a replica that cannot reach a quorum.
	requestTimeout = 30 * time.Second
	// putAttempts bounds the server-side reruns of one Put.
	putAttempts = 50
)

// service is the Client gRPC API of one site.
type service struct {
	wirepb.UnimplementedClientServer
	self   core.SiteID
	limits wire.Limits
	driver *node.Driver
	m      *metrics
	log    *slog.Logger
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, requestTimeout)
}

// siteError maps the driver's errors onto wire sentinels before ToStatus.
func siteError(err error) error {
	if errors.Is(err, node.ErrStopped) {
		err = errors.Join(wire.ErrStopped, err)
	}
	return wire.ToStatus(err)
}

func (s *service) read(ctx context.Context, req core.ReadRequest, shape string) (node.ReadResult, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	asked := req
	if req.Mode == core.Inconsistent {
		// NB: the core answers an inconsistent read with no position
		// (core.LatestPosition, which must never travel). The newest local
		// version of a key is its version at the last applied position, so a
		// snapshot read there returns the same values and names the position.
		asked.Mode = core.Snapshot
	}
	res, err := s.driver.Read(ctx, asked)
	if err != nil {
		s.m.readErrors.WithLabelValues(req.Mode.String()).Inc()
		return res, siteError(err)
	}
	s.m.reads.WithLabelValues(req.Mode.String(), shape).Inc()
	return res, nil
}

func (s *service) Get(ctx context.Context, p *wirepb.GetRequest) (*wirepb.GetResponse, error) {
	req, err := s.limits.GetFromProto(p, s.self)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	res, err := s.read(ctx, req, "get")
	if err != nil {
		return nil, err
	}
	out := &wirepb.GetResponse{Position: uint64(res.Position)}
	for _, v := range res.Values {
		out.Values = append(out.Values, &wirepb.OptionalBytes{Present: v != nil, Value: v})
	}
	return out, nil
}

func (s *service) Scan(ctx context.Context, p *wirepb.ScanRequest) (*wirepb.ScanResponse, error) {
	req, err := s.limits.ScanFromProto(p, s.self)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	res, err := s.read(ctx, req, "scan")
	if err != nil {
		return nil, err
	}
	out := &wirepb.ScanResponse{Position: uint64(res.Position), More: res.More}
	for _, kv := range res.Rows {
		out.Items = append(out.Items, &wirepb.KeyValue{Key: kv.Key, Value: kv.Value})
	}
	return out, nil
}

func (s *service) countWrite(err error) {
	switch {
	case err == nil:
		s.m.commits.Inc()
	case errors.Is(err, core.ErrConflict):
		s.m.conflicts.Inc()
	default:
		s.m.writeErrors.WithLabelValues(status.Code(wire.ToStatus(err)).String()).Inc()
	}
}

func (s *service) Commit(ctx context.Context, p *wirepb.CommitRequest) (*wirepb.CommitResponse, error) {
	req, err := s.limits.CommitFromProto(p, s.self)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	pos, err := s.driver.Write(ctx, req)
	s.countWrite(err)
	if err != nil {
		// NB: the core refuses a write at a witness with the read sentinel.
		return nil, siteError(wire.WitnessWrite(err))
	}
	return &wirepb.CommitResponse{Position: uint64(pos)}, nil
}

// countingSite counts each commit attempt of a server-side Put.
type countingSite struct {
	*node.Driver
	s *service
}

func (c countingSite) Write(ctx context.Context, req core.WriteRequest) (core.Position, error) {
	pos, err := c.Driver.Write(ctx, req)
	c.s.countWrite(err)
	return pos, err
}

func (s *service) Put(ctx context.Context, p *wirepb.PutRequest) (*wirepb.PutResponse, error) {
	g, mu, err := s.limits.PutFromProto(p, s.self)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	cl := client.New(countingSite{s.driver, s})
	cl.MaxAttempts = putAttempts
	res, err := cl.Run(ctx, g, func(tx *client.Tx) error {
		if mu.Delete {
			tx.Delete(mu.Key)
		} else {
			tx.Put(mu.Key, mu.Value)
		}
		return nil
	})
	if err != nil {
		// client.ErrTooManyAttempts wraps core.ErrConflict and travels as
		// TOO_MANY_ATTEMPTS, the error an in-process client.Put gives.
		return nil, siteError(wire.WitnessWrite(err))
	}
	return &wirepb.PutResponse{Position: uint64(res.Position), Attempts: uint32(res.Attempts)}, nil
}

func (s *service) Status(ctx context.Context, p *wirepb.StatusRequest) (*wirepb.StatusResponse, error) {
	g, err := s.limits.StatusFromProto(p, s.self)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	st, err := s.driver.Status(ctx)
	if err != nil {
		return nil, siteError(err)
	}
	out := &wirepb.StatusResponse{Site: string(st.Site), Kind: st.Kind.String(), Now: st.Now,
		Incarnation: st.Incarnation, Epoch: st.Epoch, LeaseHeld: st.LeaseHeld, InFlight: uint32(st.InFlight)}
	for id, gs := range st.Groups {
		if g != "" && id != g {
			continue
		}
		out.Groups = append(out.Groups, &wirepb.GroupStatus{Group: string(id), Valid: gs.Valid,
			InvalidatedAt: uint64(gs.InvPos), Applied: uint64(gs.Applied), KnownPrefix: uint64(gs.KnownPrefix),
			Highest: uint64(gs.Highest)})
	}
	slices.SortFunc(out.Groups, func(a, b *wirepb.GroupStatus) int {
		if a.Group < b.Group {
			return -1
		}
		if a.Group > b.Group {
			return 1
		}
		return 0
	})
	return out, nil
}

func (s *service) Log(ctx context.Context, p *wirepb.LogRequest) (*wirepb.LogResponse, error) {
	g, from, to, err := s.limits.LogFromProto(p, s.self)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	entries, err := s.driver.Log(ctx, g, from, to, wire.MaxLogEntries)
	if err != nil {
		return nil, siteError(err)
	}
	out := &wirepb.LogResponse{}
	for _, e := range entries {
		out.Entries = append(out.Entries, &wirepb.LogEntry{Position: uint64(e.Position), Value: wire.ValueToProto(e.Value)})
	}
	return out, nil
}

// recoverUnary and recoverStream turn a panic in a handler into an Internal
// status and a log line: a bug in one request must not take the site down.
func recoverUnary(m *metrics, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				m.panics.Inc()
				log.Error("panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				resp, err = nil, status.Errorf(codes.Internal, "internal error in %s", info.FullMethod)
			}
		}()
		resp, err = h(ctx, req)
		if err != nil {
			m.requestErrors.WithLabelValues(status.Code(err).String()).Inc()
		}
		return resp, err
	}
}

func recoverStream(m *metrics, log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				m.panics.Inc()
				log.Error("panic in stream handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Errorf(codes.Internal, "internal error in %s", info.FullMethod)
			}
		}()
		return h(srv, decodingStream{ss})
	}
}
