package daemon

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/peer"
	"github.com/megastore-verified/megastore/impl/remote"
	"github.com/megastore-verified/megastore/impl/wire"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

// rawCodec sends the bytes it is given as the message, so a test can send
// what no well-behaved client would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		return b, nil
	}
	return nil, fmt.Errorf("rawCodec: %T", v)
}
func (rawCodec) Unmarshal(b []byte, v any) error { return nil }
func (rawCodec) Name() string                    { return "proto" }

// garbageProto is not a protobuf message: field 1 is declared length-
// delimited with a length far past the end.
var garbageProto = []byte{0x0a, 0xff, 0xff, 0xff, 0x0f, 'x'}

// rawTCP writes b to addr and reads until the server closes or 2 s pass;
// it returns what the server said.
func rawTCP(t *testing.T, addr string, b []byte) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	defer nc.Close()
	_, _ = nc.Write(b)
	_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	out, _ := io.ReadAll(bufio.NewReader(nc))
	return string(out)
}

// oversizedH2Frame is the HTTP/2 preface, an empty SETTINGS frame, then a
// DATA frame header announcing 16 MB on stream 1 (the default limit is
// 16 KB) and a few of those bytes.
func oversizedH2Frame() []byte {
	b := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	b = append(b, 0, 0, 0, 0x4, 0, 0, 0, 0, 0) // SETTINGS, length 0
	hdr := make([]byte, 9)
	hdr[0], hdr[1], hdr[2] = 0xff, 0xff, 0xff // length 2^24-1
	hdr[3] = 0x0                              // DATA
	binary.BigEndian.PutUint32(hdr[5:], 1)
	b = append(b, hdr...)
	return append(b, make([]byte, 1024)...)
}

// Garbage and oversized frames on every port (peer gRPC, client gRPC,
// HTTP): each gets a clear refusal where the protocol has one, and the
// site keeps serving all three ports with its data intact.
func TestGarbageAndOversizedFramesOnEveryPort(t *testing.T) {
	f := runSite(t, false)
	s := f.Sites[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := remote.Dial(s.ClientAddr, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cl := r.Client()
	if _, err := cl.Put(ctx, "g", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	serving := func(after string) {
		t.Helper()
		v, _, err := cl.Get(ctx, "g", []byte("k"))
		if err != nil || string(v) != "v" {
			t.Fatalf("after %s: client port: %q %v", after, v, err)
		}
		resp, err := http.Get("http://" + s.HTTPAddr + "/healthz")
		if err != nil {
			t.Fatalf("after %s: http port: %v", after, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("after %s: /healthz %d", after, resp.StatusCode)
		}
		pconn, err := grpc.NewClient(s.PeerAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer pconn.Close()
		stream, err := wirepb.NewPeerClient(pconn).Deliver(peer.WithMembership(ctx, f.Membership()))
		if err != nil {
			t.Fatalf("after %s: peer port: %v", after, err)
		}
		if err := stream.Send(&wirepb.Batch{}); err != nil {
			t.Fatalf("after %s: peer port: %v", after, err)
		}
		if _, err := stream.CloseAndRecv(); err != nil {
			t.Fatalf("after %s: peer port: %v", after, err)
		}
	}
	serving("start")

	conn, err := grpc.NewClient(s.ClientAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Client port: an undecodable request is the client's fault.
	for _, method := range []string{wirepb.Client_Get_FullMethodName, wirepb.Client_Put_FullMethodName,
		wirepb.Client_Commit_FullMethodName, wirepb.Client_Status_FullMethodName} {
		err := conn.Invoke(ctx, method, garbageProto, new([]byte))
		if status.Code(err) != codes.InvalidArgument || !errors.Is(wire.FromStatus(err), core.ErrMalformed) ||
			!strings.Contains(err.Error(), "not a valid protobuf") {
			t.Errorf("%s with garbage: %v; want InvalidArgument, MALFORMED", method, err)
		}
	}
	serving("garbage protobuf on the client port")

	// Client port: a message over the server's limit.
	big := make([]byte, maxClientRequestBytes+1)
	big[0] = 0x0a
	if err := conn.Invoke(ctx, wirepb.Client_Get_FullMethodName, big, new([]byte)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized request: %v; want ResourceExhausted", err)
	}
	big = nil
	serving("an oversized request on the client port")

	// Peer port: an undecodable batch ends the stream with InvalidArgument.
	pconn, err := grpc.NewClient(s.PeerAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer pconn.Close()
	ps, err := pconn.NewStream(peer.WithMembership(ctx, f.Membership()), &wirepb.Peer_ServiceDesc.Streams[0], wirepb.Peer_Deliver_FullMethodName,
		grpc.ForceCodec(rawCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	_ = ps.SendMsg(garbageProto)
	_ = ps.CloseSend()
	if err := ps.RecvMsg(new([]byte)); status.Code(err) != codes.InvalidArgument || !errors.Is(wire.FromStatus(err), core.ErrMalformed) {
		t.Errorf("garbage batch: %v; want InvalidArgument, MALFORMED", err)
	}
	serving("garbage protobuf on the peer port")

	// Both gRPC ports: bytes that are not HTTP/2, and an HTTP/2 frame far
	// over the frame size limit. The server closes the connection.
	for _, addr := range []string{s.PeerAddr, s.ClientAddr} {
		rawTCP(t, addr, []byte("\x00\xffGET / HTTP/1.0\r\n\r\nthis is not gRPC\x00\x01\x02"))
		rawTCP(t, addr, oversizedH2Frame())
		serving("raw garbage and an oversized frame on " + addr)
	}

	// HTTP port: a request line that is not HTTP gets 400; a header block
	// over the limit gets 431; a body to a GET endpoint is ignored.
	if got := rawTCP(t, s.HTTPAddr, []byte("\x00\xff\xfe garbage\r\n\r\n")); !strings.HasPrefix(got, "HTTP/1.1 400") {
		t.Errorf("garbage on the HTTP port: %q; want 400", firstLine(got))
	}
	huge := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n"
	if got := rawTCP(t, s.HTTPAddr, []byte(huge)); !strings.HasPrefix(got, "HTTP/1.1 431") {
		t.Errorf("oversized header on the HTTP port: %q; want 431", firstLine(got))
	}
	rawTCP(t, s.HTTPAddr, oversizedH2Frame())
	serving("garbage and oversized input on the HTTP port")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
