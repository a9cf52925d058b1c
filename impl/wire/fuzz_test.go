package wire

import (
	"errors"
	"reflect"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

// Every decoder from the wire has a fuzz target here. Each checks the same
// three things: it never panics; a refusal is a clear error (it wraps a
// sentinel, so the server can map it to a status, and says something); and
// a refusal yields nothing (zero value, nil slices), so nothing can reach
// the core or storage from a refused input.

var sentinels = []error{core.ErrMalformed, core.ErrUnknownSite, core.ErrKeyTooLarge,
	core.ErrValueTooLarge, core.ErrTooManyMutations, ErrWrongSite}

func checkRefusal(t *testing.T, err error, result any) {
	t.Helper()
	known := false
	for _, s := range sentinels {
		known = known || errors.Is(err, s)
	}
	if !known || len(err.Error()) < len("megastore: x") {
		t.Fatalf("unclear error %q", err)
	}
	if !reflect.ValueOf(result).IsZero() {
		t.Fatalf("refused input still produced %+v", result)
	}
}

func seedMessages(f *testing.F) {
	for _, m := range validMessages() {
		b, _ := proto.Marshal(MessageToProto(m))
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x63})
}

func FuzzMessageFromProto(f *testing.F) {
	seedMessages(f)
	lim := testLimits()
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wirepb.Message
		if proto.Unmarshal(b, &p) != nil {
			return // gRPC refuses undecodable bytes before any decoder of ours runs
		}
		m, err := MessageFromProto(&p, lim)
		if err != nil {
			checkRefusal(t, err, m)
			return
		}
		// An accepted message survives a round trip unchanged.
		again, err := MessageFromProto(MessageToProto(m), lim)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip of accepted %+v: %+v %v", m, again, err)
		}
	})
}

func FuzzBatchFromProto(f *testing.F) {
	lim := testLimits()
	var all wirepb.Batch
	for _, m := range validMessages() {
		if m.To == "a" {
			all.Messages = append(all.Messages, MessageToProto(m))
		}
	}
	b, _ := proto.Marshal(&all)
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wirepb.Batch
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		ms, err := lim.BatchFromProto(&p, "a", 64)
		if err != nil {
			checkRefusal(t, err, ms)
			return
		}
		for _, m := range ms {
			if m.To != "a" {
				t.Fatalf("accepted a message for %q", m.To)
			}
		}
	})
}

func FuzzGetFromProto(f *testing.F) {
	lim := testLimits()
	for _, r := range []*wirepb.GetRequest{
		{Site: "a", Group: "g", Keys: [][]byte{[]byte("k")}},
		{Group: "g", Mode: wirepb.ReadMode_SNAPSHOT, Position: 3},
		{Site: "b", Group: "g"},
	} {
		b, _ := proto.Marshal(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wirepb.GetRequest
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		r, err := lim.GetFromProto(&p, "a")
		if err != nil {
			checkRefusal(t, err, r.Group)
			if r.Keys != nil || r.Mode != 0 {
				t.Fatalf("refused get produced %+v", r)
			}
			return
		}
		for _, k := range r.Keys {
			if len(k) == 0 || len(k) > lim.MaxKeyBytes {
				t.Fatalf("accepted key of %d bytes", len(k))
			}
		}
	})
}

func FuzzScanFromProto(f *testing.F) {
	lim := testLimits()
	for _, r := range []*wirepb.ScanRequest{
		{Group: "g", Start: []byte("a"), End: []byte("z"), Limit: 3},
		{Group: "g", Mode: wirepb.ReadMode_INCONSISTENT},
	} {
		b, _ := proto.Marshal(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wirepb.ScanRequest
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		r, err := lim.ScanFromProto(&p, "a")
		if err != nil {
			checkRefusal(t, err, r.Group)
			if r.Range != nil || r.Mode != 0 {
				t.Fatalf("refused scan produced %+v", r)
			}
			return
		}
		if r.Range == nil || r.Range.Limit <= 0 || r.Range.Limit > lim.MaxScanRows {
			t.Fatalf("accepted range %+v", r.Range)
		}
	})
}

func FuzzCommitFromProto(f *testing.F) {
	lim := testLimits()
	b, _ := proto.Marshal(&wirepb.CommitRequest{Group: "g", ReadPosition: 2,
		Mutations: MutationsToProto(testValue().Mutations)})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wirepb.CommitRequest
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		w, err := lim.CommitFromProto(&p, "a")
		if err != nil {
			checkRefusal(t, err, w.Group)
			if w.Mutations != nil {
				t.Fatalf("refused commit produced %+v", w)
			}
			return
		}
		if len(w.Mutations) == 0 || len(w.Mutations) > lim.MaxMutations {
			t.Fatalf("accepted %d mutations", len(w.Mutations))
		}
	})
}

func FuzzPutFromProto(f *testing.F) {
	lim := testLimits()
	b, _ := proto.Marshal(&wirepb.PutRequest{Group: "g", Key: []byte("k"), Value: []byte("v")})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wirepb.PutRequest
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		g, m, err := lim.PutFromProto(&p, "a")
		if err != nil {
			checkRefusal(t, err, g)
			if m.Key != nil || m.Value != nil {
				t.Fatalf("refused put produced %+v", m)
			}
		}
	})
}

func FuzzLogFromProto(f *testing.F) {
	lim := testLimits()
	b, _ := proto.Marshal(&wirepb.LogRequest{Group: "g", From: 1, To: 10})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wirepb.LogRequest
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		g, from, to, err := lim.LogFromProto(&p, "a")
		if err != nil {
			checkRefusal(t, err, g)
			if from != 0 || to != 0 {
				t.Fatalf("refused log request produced %d..%d", from, to)
			}
			return
		}
		if from == 0 || to < from || to-from >= MaxLogEntries {
			t.Fatalf("accepted range %d..%d", from, to)
		}
	})
}

func FuzzStatusFromProto(f *testing.F) {
	lim := testLimits()
	b, _ := proto.Marshal(&wirepb.StatusRequest{Site: "a", Group: "g"})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wirepb.StatusRequest
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		if g, err := lim.StatusFromProto(&p, "a"); err != nil {
			checkRefusal(t, err, g)
		}
	})
}

// FuzzFromStatus decodes whatever status a server might send back.
func FuzzFromStatus(f *testing.F) {
	st := status.New(10, "lost the race")
	st, _ = st.WithDetails(&errdetails.ErrorInfo{Reason: "CONFLICT", Domain: ErrorDomain})
	b, _ := proto.Marshal(st.Proto())
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p spb.Status
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		err := FromStatus(status.FromProto(&p).Err())
		if p.Code == 0 {
			if err != nil {
				t.Fatalf("OK status became %v", err)
			}
			return
		}
		if err == nil || err.Error() == "" {
			t.Fatalf("status %v lost its error", &p)
		}
	})
}
