package peer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/impl/wire"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

// Server is the Peer service of one site.
type Server struct {
	wirepb.UnimplementedPeerServer
	self    core.SiteID
	limits  wire.Limits
	deliver func(core.Message)
	logger  *slog.Logger
	// OnReceived and OnRejected, if set, count messages taken and batches
	// refused.
	OnReceived func(n int)
	OnRejected func(err error)
	// Membership, if its Digest is set, is checked against every sender's:
	// a stream from a site whose cluster.json disagrees is refused with
	// FailedPrecondition before any message is taken.
	Membership siteconfig.Membership
	// OnMismatch, if set, is called when a sender's membership digest
	// differs from ours (not when it sent none: that is a stray client, not
	// a site with another cluster.json). Which side's file is wrong cannot
	// be known here, so the daemon stops, as the refused sender does.
	OnMismatch func(err error)
}

// NewServer returns the Peer service that validates every batch for self
// against limits and hands its messages to deliver (which must not block;
// node.Driver.Deliver drops when its inbox is full).
func NewServer(self core.SiteID, limits wire.Limits, deliver func(core.Message), logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{self: self, limits: limits, deliver: deliver, logger: logger}
}

// Deliver takes batches until the sender closes the stream. A batch that
// fails validation ends the stream with an InvalidArgument status naming the
// problem; none of its messages is delivered.
func (s *Server) Deliver(stream wirepb.Peer_DeliverServer) error {
	if s.Membership.Digest != "" {
		if err := checkMembership(stream.Context(), s.Membership); err != nil {
			s.logger.Error("refused a peer whose cluster.json disagrees on membership", "err", err)
			if s.OnRejected != nil {
				s.OnRejected(err)
			}
			if s.OnMismatch != nil && sentDigest(stream.Context()) {
				why := strings.TrimPrefix(status.Convert(err).Message(), ErrMembershipMismatch.Error()+": ")
				s.OnMismatch(fmt.Errorf("%w: refused a peer: %s", ErrMembershipMismatch, why))
			}
			return err
		}
	}
	// The header tells the sender its stream was accepted (the handshake
	// in outStream.open waits for it).
	if err := stream.SendHeader(metadata.Pairs(mdAccepted, "1")); err != nil {
		return err
	}
	var accepted uint64
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&wirepb.DeliverSummary{Accepted: accepted})
		}
		if err != nil {
			return err
		}
		ms, err := s.limits.BatchFromProto(b, s.self, MaxBatchMessages)
		if err != nil {
			s.logger.Warn("refused a peer batch", "err", err)
			if s.OnRejected != nil {
				s.OnRejected(err)
			}
			return wire.ToStatus(err)
		}
		for _, m := range ms {
			s.deliver(m)
		}
		accepted += uint64(len(ms))
		if s.OnReceived != nil {
			s.OnReceived(len(ms))
		}
	}
}
