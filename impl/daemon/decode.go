package daemon

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/wire"
)

// gRPC reports a request whose bytes do not decode as its message type as
// Internal, as if the server were at fault, and writes that status itself
// before any handler or interceptor sees the error. The request is at
// fault, so the site answers InvalidArgument with the MALFORMED reason
// (wire.FromStatus gives core.ErrMalformed):
//
//   - lenientCodec, the servers' codec, never fails a decode: it resets the
//     message and leaves the decode error in it as an unknown field with a
//     reserved number (decodeMarkField);
//   - decodeErrors (unary methods) and decodingStream (streams) check every
//     received message for that field and refuse it.
//
// A message that came with the field for real is refused the same way;
// nothing legitimate sends field 536870911.

// decodeMarkField is the highest protobuf field number.
const decodeMarkField protowire.Number = protowire.MaxValidNumber

// lenientCodec is gRPC's proto codec, except as above.
type lenientCodec struct{ encoding.CodecV2 }

func newLenientCodec() lenientCodec { return lenientCodec{encoding.GetCodecV2("proto")} }

func (c lenientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok {
		return err
	}
	proto.Reset(m)
	mark := protowire.AppendTag(nil, decodeMarkField, protowire.BytesType)
	m.ProtoReflect().SetUnknown(protowire.AppendString(mark, err.Error()))
	return nil
}

// undecodable returns the refusal of v if the codec marked it.
func undecodable(v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return nil
	}
	b := m.ProtoReflect().GetUnknown()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		if num == decodeMarkField && typ == protowire.BytesType {
			why, _ := protowire.ConsumeString(b)
			return wire.ToStatus(fmt.Errorf("%w: the request is not a valid protobuf %s (%s)",
				core.ErrMalformed, m.ProtoReflect().Descriptor().Name(), why))
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil
		}
		b = b[n:]
	}
	return nil
}

// decodeErrors returns desc with every unary method's decoder checking for
// undecodable requests.
func decodeErrors(desc grpc.ServiceDesc, m *metrics) *grpc.ServiceDesc {
	out := desc
	out.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, md := range desc.Methods {
		h := md.Handler
		out.Methods[i] = grpc.MethodDesc{MethodName: md.MethodName,
			Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
				return h(srv, ctx, func(v any) error {
					err := dec(v)
					if err == nil {
						err = undecodable(v)
						if err != nil {
							m.requestErrors.WithLabelValues("InvalidArgument").Inc()
						}
					}
					return err
				}, icpt)
			}}
	}
	return &out
}

// decodingStream checks each message a stream handler receives.
type decodingStream struct{ grpc.ServerStream }

func (s decodingStream) RecvMsg(v any) error {
	if err := s.ServerStream.RecvMsg(v); err != nil {
		return err
	}
	return undecodable(v)
}
