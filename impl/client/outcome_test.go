package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/wire"
)

// Every row of the table in Classify's comment, in process and after a
// round trip through gRPC status (as impl/remote sees a site's errors).
func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		want client.Outcome
	}{
		{nil, client.Ok},
		{core.ErrConflict, client.Failed},
		{fmt.Errorf("%w: 5 attempts", client.ErrTooManyAttempts), client.Failed},
		{errors.Join(core.ErrConflict, client.ErrTooManyAttempts), client.Failed},
		{core.ErrWitnessNoReads, client.Failed},
		{client.ErrWitnessNoWrites, client.Failed},
		{wire.ErrWrongSite, client.Failed},
		{core.ErrReadOnlySite, client.Failed},
		{fmt.Errorf("%w: read position 9, applied 3", core.ErrNotApplied), client.Failed},
		{core.ErrTooManyRequests, client.Failed},
		{core.ErrKeyTooLarge, client.Failed},
		{core.ErrValueTooLarge, client.Failed},
		{core.ErrTooManyMutations, client.Failed},
		{fmt.Errorf("%w: empty group", core.ErrMalformed), client.Failed},
		{core.ErrUnknownSite, client.Failed},
		{core.ErrUnavailable, client.Unknown},
		{fmt.Errorf("%w: position 3, truncated through 9 at b", core.ErrTruncated), client.Unknown},
		{context.DeadlineExceeded, client.Unknown},
		{context.Canceled, client.Unknown},
		{node.ErrStopped, client.Unknown},
		{wire.ErrStopped, client.Unknown},
		{errors.New("connection reset by peer"), client.Unknown},
		// Ambiguous: the client gave up; Unknown wins.
		{errors.Join(core.ErrConflict, context.DeadlineExceeded), client.Unknown},
	}
	for _, c := range cases {
		if got := client.Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
		}
		if c.err == nil || errors.Is(c.err, client.ErrTooManyAttempts) || errors.Is(c.err, node.ErrStopped) {
			continue // not wire sentinels (the daemon maps them to others)
		}
		remote := wire.FromStatus(wire.ToStatus(c.err))
		if got := client.Classify(remote); got != c.want {
			t.Errorf("Classify(%v) after gRPC = %v, want %v", c.err, got, c.want)
		}
	}
	if got, want := client.Indeterminate(core.ErrUnavailable), true; got != want {
		t.Errorf("Indeterminate(ErrUnavailable) = %v", got)
	}
	if client.Indeterminate(core.ErrConflict) || client.Indeterminate(nil) {
		t.Error("Indeterminate(ErrConflict or nil) = true")
	}
}

// A transport error (connection lost, refused: gRPC Unavailable with no
// sentinel) or an Internal error may have run: Unknown.
func TestClassifyTransport(t *testing.T) {
	for _, c := range []codes.Code{codes.Unavailable, codes.Internal, codes.Unknown, codes.DeadlineExceeded} {
		err := wire.FromStatus(status.Error(c, "transport is closing"))
		if got := client.Classify(err); got != client.Unknown {
			t.Errorf("gRPC %v: %v, want info", c, got)
		}
	}
	if s := fmt.Sprint(client.Ok, client.Failed, client.Unknown); s != "ok fail info" {
		t.Errorf("String: %q", s)
	}
}
