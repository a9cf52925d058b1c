package peer

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/impl/wire"
)

// Metadata keys of the membership handshake on every Deliver stream.
const (
	mdDigest  = "megastore-membership-digest"
	mdSummary = "megastore-membership"
	// mdAccepted is the receiver's header: the stream was accepted.
	mdAccepted = "megastore-accepted"
	// maxSummaryBytes bounds the summary a receiver quotes back in errors
	// and logs; gRPC already bounds the whole header block.
	maxSummaryBytes = 4096
)

// reasonMembership is the ErrorInfo reason of a refused membership, so the
// sender recognises the refusal without parsing the message.
const reasonMembership = "MEMBERSHIP_MISMATCH"

// ErrMembershipMismatch: a peer's cluster.json disagrees with ours on what
// must agree (siteconfig.Membership). Running on would split the cluster's
// view of its majority, so the daemon stops.
var ErrMembershipMismatch = errors.New("peer: cluster.json membership differs between sites")

// WithMembership adds m to a stream's outgoing metadata, as the Transport
// does on every stream (tools that open a Deliver stream by hand need it).
func WithMembership(ctx context.Context, m siteconfig.Membership) context.Context {
	return metadata.AppendToOutgoingContext(ctx, mdDigest, m.Digest, mdSummary, m.Summary)
}

// checkMembership compares the sender's membership in ctx with mine and
// returns nil or a FailedPrecondition status naming both digests and what
// differs.
func checkMembership(ctx context.Context, mine siteconfig.Membership) error {
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	digest, summary := first(mdDigest), first(mdSummary)
	if len(summary) > maxSummaryBytes {
		summary = summary[:maxSummaryBytes]
	}
	if digest == mine.Digest {
		return nil
	}
	var msg string
	if digest == "" {
		msg = fmt.Sprintf("%v: the sender sent no membership digest (want %s: %s)", ErrMembershipMismatch, mine.Digest, mine.Summary)
	} else {
		msg = fmt.Sprintf("%v: receiver %s, sender %s; differs (receiver vs sender): %s", ErrMembershipMismatch,
			mine.Digest, digest, siteconfig.DiffSummaries(mine.Summary, summary))
	}
	st := status.New(codes.FailedPrecondition, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reasonMembership, Domain: wire.ErrorDomain}); err == nil {
		st = d
	}
	return st.Err()
}

// sentDigest tells whether the sender of an incoming stream sent a
// membership digest at all.
func sentDigest(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	return len(md.Get(mdDigest)) > 0
}

// isMembershipRefusal tells whether err is a peer's refusal of our
// membership.
func isMembershipRefusal(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == wire.ErrorDomain && info.Reason == reasonMembership {
			return true
		}
	}
	return false
}
