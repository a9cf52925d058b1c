package remote

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

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
}

var _ client.Site = (*Site)(nil)

// Dial connects to the client address of site name (name may be empty: the
// server then does not check it is the site meant). gRPC connects lazily and
// reconnects by itself.
func Dial(addr string, name core.SiteID) (*Site, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseBytes)))
	if err != nil {
		return nil, fmt.Errorf("remote: %s: %w", addr, err)
	}
	return &Site{name: name, conn: conn, api: wirepb.NewClientClient(conn)}, nil
}

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
func (s *Site) Put(ctx context.Context, group core.GroupID, key, value []byte) (core.Position, error) {
	res, err := s.api.Put(ctx, &wirepb.PutRequest{Site: string(s.name), Group: string(group), Key: key, Value: value})
	if err != nil {
		return 0, wire.FromStatus(err)
	}
	return core.Position(res.Position), nil
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
