package wire

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/core"
)

// ErrorDomain is the ErrorInfo domain of every status this package makes.
const ErrorDomain = "megastore"

// reasons maps each sentinel to a stable ErrorInfo reason and a gRPC code,
// so a client classifies errors with errors.Is, never by message text.
var reasons = []struct {
	err    error
	reason string
	code   codes.Code
}{
	// NB: before CONFLICT: ErrTooManyAttempts wraps core.ErrConflict, and the
	// first match names the reason.
	{ErrTooManyAttempts, "TOO_MANY_ATTEMPTS", codes.Aborted},
	{core.ErrConflict, "CONFLICT", codes.Aborted},
	{core.ErrUnavailable, "UNAVAILABLE", codes.Unavailable},
	{core.ErrTruncated, "TRUNCATED", codes.FailedPrecondition},
	{ErrWitnessNoWrites, "WITNESS_NO_WRITES", codes.FailedPrecondition},
	{core.ErrWitnessNoReads, "WITNESS_NO_READS", codes.FailedPrecondition},
	{core.ErrReadOnlySite, "READ_ONLY_SITE", codes.FailedPrecondition},
	{core.ErrNotApplied, "NOT_APPLIED", codes.FailedPrecondition},
	{core.ErrKeyTooLarge, "KEY_TOO_LARGE", codes.InvalidArgument},
	{core.ErrValueTooLarge, "VALUE_TOO_LARGE", codes.InvalidArgument},
	{core.ErrTooManyMutations, "TOO_MANY_MUTATIONS", codes.InvalidArgument},
	{core.ErrMalformed, "MALFORMED", codes.InvalidArgument},
	{core.ErrUnknownSite, "UNKNOWN_SITE", codes.InvalidArgument},
	{ErrWrongSite, "WRONG_SITE", codes.FailedPrecondition},
	{core.ErrTooManyRequests, "TOO_MANY_REQUESTS", codes.ResourceExhausted},
	{ErrStopped, "STOPPED", codes.Unavailable},
}

// ErrStopped: the site is shutting down or its driver failed. The daemon
// maps node.ErrStopped to it (wire does not import node).
var ErrStopped = errors.New("megastore: site stopped")

// ErrTooManyAttempts: a transaction kept losing its log position to other
// writers and whoever ran it (impl/client in process, or a site's
// server-side Put) gave up rerunning it. It wraps core.ErrConflict, so both
// errors.Is(err, ErrTooManyAttempts) and errors.Is(err, core.ErrConflict)
// hold, on either side of the wire. It did not commit. impl/client exports
// the same value as client.ErrTooManyAttempts.
var ErrTooManyAttempts = fmt.Errorf("%w (gave up rerunning the transaction)", core.ErrConflict)

// ErrWitnessNoWrites: a write or transaction was sent to a witness site,
// which keeps no data (its log votes only). The core refuses it with
// core.ErrWitnessNoReads, the reason for reads; the client library and the
// daemon map that to this write-specific sentinel. Send writes to a full
// site. impl/client exports it as client.ErrWitnessNoWrites.
var ErrWitnessNoWrites = errors.New("megastore: witness sites accept no writes or transactions; send them to a full site")

// WitnessWrite returns err as ErrWitnessNoWrites if it is a witness's
// refusal of a write that came with the read sentinel, and err otherwise.
// The result says only the write's refusal but keeps err in its chain (for
// errors.Is and a gRPC status code).
func WitnessWrite(err error) error {
	if errors.Is(err, core.ErrWitnessNoReads) && !errors.Is(err, ErrWitnessNoWrites) {
		return witnessWrite{err}
	}
	return err
}

type witnessWrite struct{ cause error }

func (e witnessWrite) Error() string   { return ErrWitnessNoWrites.Error() }
func (e witnessWrite) Unwrap() []error { return []error{ErrWitnessNoWrites, e.cause} }

// ToStatus turns an error from a site into a gRPC status error that carries
// the sentinel's reason. Unknown errors become Internal.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			st := status.New(r.code, err.Error())
			if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: r.reason, Domain: ErrorDomain}); derr == nil {
				st = d
			}
			return st.Err()
		}
	}
	return status.Error(codes.Internal, err.Error())
}

// RemoteError is an error returned by a site, as a client sees it.
// errors.Is matches the sentinel the site reported (core.ErrConflict, ...).
type RemoteError struct {
	Code    codes.Code
	Message string
	cause   error
}

func (e *RemoteError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Unwrap returns the sentinel, if the site named one.
func (e *RemoteError) Unwrap() error { return e.cause }

// GRPCStatus lets status.FromError see through the wrapper.
func (e *RemoteError) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// FromStatus turns a gRPC error back into an error that errors.Is matches
// against the sentinel the server reported.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	out := &RemoteError{Code: st.Code(), Message: st.Message()}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.Domain != ErrorDomain {
			continue
		}
		for _, r := range reasons {
			if r.reason == info.Reason {
				out.cause = r.err
			}
		}
	}
	switch st.Code() {
	case codes.DeadlineExceeded:
		out.cause = context.DeadlineExceeded
	case codes.Canceled:
		out.cause = context.Canceled
	}
	return out
}
