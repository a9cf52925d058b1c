package jepsen

import (
	"context"
	"errors"
	"time"

	"github.com/megastore-verified/megastore/impl/client"
	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/remote"
)

// txnAttempts bounds a transaction's reruns on conflict (as the simulator).
const txnAttempts = 5

// scanLimit is a scan's row limit (the core allows 4096).
const scanLimit = 1000

// recordingSite remembers a transaction's last call, so the runner knows
// whether a failed transaction failed in a read (then nothing was proposed
// in its last attempt, and every earlier attempt conflicted: it certainly
// did not happen) or in its commit (and for which position).
type recordingSite struct {
	client.Site
	lastWasWrite bool
	target       core.Position
}

func (r *recordingSite) Write(ctx context.Context, req core.WriteRequest) (core.Position, error) {
	r.lastWasWrite, r.target = true, req.ReadPosition+1
	return r.Site.Write(ctx, req)
}

func (r *recordingSite) Read(ctx context.Context, req core.ReadRequest) (node.ReadResult, error) {
	r.lastWasWrite = false
	return r.Site.Read(ctx, req)
}

// execute runs o at its site and fills in its outcome and times.
func execute(ctx context.Context, site *remote.Site, o *Operation, begin time.Time, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	g := core.GroupID(o.Group)
	o.Start = time.Since(begin).Nanoseconds()
	var err error
	switch o.F {
	case FRead:
		req := core.ReadRequest{Group: g, Mode: readMode(o.Mode)}
		for _, kv := range o.Reads {
			req.Keys = append(req.Keys, []byte(kv.K))
		}
		var res node.ReadResult
		if res, err = site.Read(ctx, req); err == nil {
			o.Position = int(res.Position)
			for i := range o.Reads {
				o.Reads[i].V = string(res.Values[i])
			}
		}
	case FScan:
		// The workload's ranges span at most 300 ids: the whole range fits.
		r := core.KeyRange{Start: []byte(o.Range.Start), End: []byte(o.Range.End), Limit: scanLimit}
		var res node.ReadResult
		if res, err = site.Read(ctx, core.ReadRequest{Group: g, Mode: readMode(o.Mode), Range: &r}); err == nil {
			o.Position = int(res.Position)
			o.Rows = make([]KV, 0, len(res.Rows))
			for _, kv := range res.Rows {
				o.Rows = append(o.Rows, KV{string(kv.Key), string(kv.Value)})
			}
			if res.More {
				err = errors.New("jepsen: scan answered More: the range outgrew a scan's limit")
			}
		}
	case FWrite:
		var pos core.Position
		if pos, err = site.Put(ctx, g, []byte(o.Writes[0].K), []byte(o.Writes[0].V)); err == nil {
			o.Position = int(pos)
		}
	case FTxn:
		rec := &recordingSite{Site: site}
		cl := client.New(rec)
		cl.MaxAttempts = txnAttempts
		var pos core.Position
		pos, err = cl.Transaction(ctx, g, func(tx *client.Tx) error {
			o.ReadPosition = int(tx.Position())
			for i := range o.Reads {
				v, err := tx.Get([]byte(o.Reads[i].K))
				if err != nil {
					return err
				}
				o.Reads[i].V = string(v)
			}
			for _, w := range o.Writes {
				tx.Put([]byte(w.K), []byte(w.V))
			}
			return nil
		})
		if err == nil {
			o.Position = int(pos)
		} else if rec.lastWasWrite {
			o.Target = int(rec.target)
		} else {
			// The last attempt failed reading: it proposed nothing.
			o.Type, o.Error = Fail, err.Error()
		}
	}
	o.End = time.Since(begin).Nanoseconds()
	o.Conflict = errors.Is(err, core.ErrConflict) || errors.Is(err, client.ErrTooManyAttempts)
	o.Refused = o.ExpectRefusal && (errors.Is(err, core.ErrWitnessNoReads) || errors.Is(err, client.ErrWitnessNoWrites) ||
		errors.Is(err, core.ErrReadOnlySite))
	switch {
	case o.Type == Fail:
	case err == nil:
		o.Type = OK
	case !o.IsWrite():
		o.Type, o.Error = Fail, err.Error() // a read has no effect
	default:
		o.Type, o.Error = Type(client.Classify(err).String()), err.Error()
	}
	if o.Type != OK && o.Target == 0 {
		// What a failed read saw is not an observation. (A transaction
		// with a Target reached its commit: its reads completed, and if
		// the log shows it committed they are checked.)
		for i := range o.Reads {
			o.Reads[i].V = ""
		}
		o.Rows = nil
	}
}

func readMode(m Mode) core.ReadMode {
	switch m {
	case Snapshot:
		return core.Snapshot
	case Inconsistent:
		return core.Inconsistent
	}
	return core.Current
}
