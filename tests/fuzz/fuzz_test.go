package fuzz

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	gofuzz "github.com/google/gofuzz"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/wire"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

var sites = []core.Site{{ID: "a", Kind: core.Full}, {ID: "b", Kind: core.Full}, {ID: "c", Kind: core.Full},
	{ID: "w", Kind: core.Witness}, {ID: "r", Kind: core.ReadOnly}}

var sentinels = []error{core.ErrMalformed, core.ErrUnknownSite, core.ErrKeyTooLarge, core.ErrValueTooLarge,
	core.ErrTooManyMutations, core.ErrNotApplied, core.ErrWitnessNoReads, core.ErrReadOnlySite,
	core.ErrTooManyRequests, wire.ErrWrongSite}

// clear fails unless err wraps a sentinel and says more than its name.
func clear(t *testing.T, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("refusal %q wraps no documented sentinel", err)
}

func limits() wire.Limits {
	cfg := core.DefaultConfig("a", sites)
	return wire.LimitsFor(cfg)
}

// filler makes a gofuzz Fuzzer from the fuzzer's bytes, with small
// collections and names drawn from the members half the time, so that
// inputs get past the first checks.
func filler(data []byte) *gofuzz.Fuzzer {
	names := []string{"a", "b", "c", "w", "r", "g", "", "x\x00", "a/b"}
	return gofuzz.NewFromGoFuzz(data).NilChance(0.2).NumElements(0, 4).MaxDepth(6).Funcs(
		func(s *string, c gofuzz.Continue) {
			if c.RandBool() {
				*s = names[c.Intn(len(names))]
			} else {
				*s = c.RandString()
			}
		},
		func(b *[]byte, c gofuzz.Continue) {
			n := c.Intn(8)
			if c.Intn(20) == 0 {
				n = 2000 // past MaxKeyBytes
			}
			*b = make([]byte, n)
			for i := range *b {
				(*b)[i] = byte(c.Uint32())
			}
		},
		func(u *uint64, c gofuzz.Continue) {
			switch c.Intn(4) {
			case 0:
				*u = 0
			case 1:
				*u = uint64(c.Intn(10))
			default:
				*u = c.Uint64()
			}
		},
	)
}

func seeds(f *testing.F) {
	for i := range 16 {
		b := make([]byte, 64)
		r := rand.New(rand.NewPCG(uint64(i), 3))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		f.Add(b)
	}
	f.Add([]byte{})
}

// newReplica returns a replica at site with its first Ready handled.
func newReplica(t *testing.T, site core.SiteID) *core.Replica {
	cfg := core.DefaultConfig(site, sites)
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	cfg.MaxKeyBytes, cfg.MaxValueBytes = 64, 256
	r, err := core.NewReplica(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for r.HasReady() {
		r.Advance(r.Ready())
	}
	return r
}

// FuzzWireMessage: a message decoded from any well-typed protobuf value is
// either refused clearly, or survives a round trip and can be stepped by a
// replica without a panic (an error, if any, is a sentinel).
func FuzzWireMessage(f *testing.F) {
	seeds(f)
	lim := limits()
	f.Fuzz(func(t *testing.T, data []byte) {
		var p wirepb.Message
		filler(data).Fuzz(&p)
		m, err := wire.MessageFromProto(&p, lim)
		if err != nil {
			clear(t, err)
			if !reflect.ValueOf(m).IsZero() {
				t.Fatalf("refused message still decoded to %+v", m)
			}
			return
		}
		again, err := wire.MessageFromProto(wire.MessageToProto(m), lim)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip of %+v: %+v, %v", m, again, err)
		}
		if r := newReplica(t, m.To); r != nil {
			if err := r.Step(m); err != nil {
				clear(t, err)
			}
		}
	})
}

// FuzzWireRequests: every client request decoder, on any well-typed value.
func FuzzWireRequests(f *testing.F) {
	seeds(f)
	lim := limits()
	f.Fuzz(func(t *testing.T, data []byte) {
		fz := filler(data)
		check := func(what string, err error, result any) {
			if err == nil {
				return
			}
			clear(t, err)
			if !reflect.ValueOf(result).IsZero() {
				t.Fatalf("%s refused but produced %+v", what, result)
			}
		}
		var get wirepb.GetRequest
		fz.Fuzz(&get)
		rr, err := lim.GetFromProto(&get, "a")
		check("get", err, rr)
		var scan wirepb.ScanRequest
		fz.Fuzz(&scan)
		sr, err := lim.ScanFromProto(&scan, "a")
		check("scan", err, sr)
		var commit wirepb.CommitRequest
		fz.Fuzz(&commit)
		wr, err := lim.CommitFromProto(&commit, "a")
		check("commit", err, wr)
		var put wirepb.PutRequest
		fz.Fuzz(&put)
		g, mu, err := lim.PutFromProto(&put, "a")
		check("put", err, struct {
			G core.GroupID
			M core.Mutation
		}{g, mu})
		var lg wirepb.LogRequest
		fz.Fuzz(&lg)
		lgID, from, to, err := lim.LogFromProto(&lg, "a")
		check("log", err, struct {
			G    core.GroupID
			F, T core.Position
		}{lgID, from, to})
		var st wirepb.StatusRequest
		fz.Fuzz(&st)
		sg, err := lim.StatusFromProto(&st, "a")
		check("status", err, sg)
		var batch wirepb.Batch
		fz.Fuzz(&batch)
		ms, err := lim.BatchFromProto(&batch, "a", 8)
		check("batch", err, ms)
	})
}

// FuzzClientWrite: the core's write API refuses bad requests clearly and
// queues nothing for them; accepted ones do not panic.
func FuzzClientWrite(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var req core.WriteRequest
		fz := filler(data)
		fz.Fuzz(&req)
		var at uint8
		fz.Fuzz(&at)
		site := sites[int(at)%len(sites)].ID
		r := newReplica(t, site)
		if _, err := r.ProposeWrite(req); err != nil {
			clear(t, err)
			if r.HasReady() {
				t.Fatalf("refused write %+v at %s still queued work: %+v", req, site, r.Ready())
			}
		}
	})
}

// FuzzClientRead: the same for reads of every mode.
func FuzzClientRead(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var req core.ReadRequest
		fz := filler(data)
		fz.Fuzz(&req)
		var at uint8
		fz.Fuzz(&at)
		site := sites[int(at)%len(sites)].ID
		r := newReplica(t, site)
		if _, err := r.Read(req); err != nil {
			clear(t, err)
			if r.HasReady() {
				t.Fatalf("refused read %+v at %s still queued work", req, site)
			}
			return
		}
		for r.HasReady() {
			rd := r.Ready()
			if !rd.Durable.IsEmpty() || len(rd.Apply) > 0 {
				t.Fatalf("a read at %s persisted or applied something: %+v", site, rd)
			}
			r.Advance(rd)
		}
	})
}
