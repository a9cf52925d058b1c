package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
)

// Operator controls (§4.9 [ours]) on the HTTP port, which an operator
// keeps off public networks like /metrics:
//
//	POST /operator/coordinator?site=c&down=true   this site's lease service refuses c;
//	                                              at c, the coordinator drops its lease
//	POST /operator/drain?on=true                  refuse client reads and writes here
//	GET  /operator                                the marks in force, as JSON
//
// `megastore operator` sends a coordinator mark to every site, since a
// down coordinator's lease runs out only once a majority refuses it.
type operator struct {
	drained atomic.Bool
}

// OperatorState is what GET /operator answers.
type OperatorState struct {
	Site             core.SiteID   `json:"site"`
	Drained          bool          `json:"drained"`
	CoordinatorDown  bool          `json:"coordinator_down"`
	DownCoordinators []core.SiteID `json:"down_coordinators"`
	LeaseHeld        bool          `json:"lease_held"`
}

func (op *operator) register(mux *http.ServeMux, d *node.Driver, log *slog.Logger) {
	boolParam := func(r *http.Request, name string) (bool, error) {
		v, err := strconv.ParseBool(r.URL.Query().Get(name))
		if err != nil {
			return false, fmt.Errorf("%s=%q: want true or false", name, r.URL.Query().Get(name))
		}
		return v, nil
	}
	mux.HandleFunc("POST /operator/coordinator", func(w http.ResponseWriter, r *http.Request) {
		down, err := boolParam(r, "down")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c := core.SiteID(r.URL.Query().Get("site"))
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := d.MarkCoordinatorDown(ctx, c, down); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Info("operator marked a coordinator", "coordinator", string(c), "down", down)
		op.state(w, r, d)
	})
	mux.HandleFunc("POST /operator/drain", func(w http.ResponseWriter, r *http.Request) {
		on, err := boolParam(r, "on")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		op.drained.Store(on)
		log.Info("operator drained the site", "drained", on)
		op.state(w, r, d)
	})
	mux.HandleFunc("GET /operator", func(w http.ResponseWriter, r *http.Request) { op.state(w, r, d) })
}

func (op *operator) state(w http.ResponseWriter, r *http.Request, d *node.Driver) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := d.Status(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(OperatorState{Site: st.Site, Drained: op.drained.Load(),
		CoordinatorDown: st.CoordinatorDown, DownCoordinators: st.DownCoordinators, LeaseHeld: st.LeaseHeld})
}

// drainUnary refuses reads and writes while the site is drained, with
// Unavailable, so a client library with fallback sites moves on; Status and
// Log still answer.
func (op *operator) drainUnary(site core.SiteID) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if op.drained.Load() && !strings.HasSuffix(info.FullMethod, "/Status") && !strings.HasSuffix(info.FullMethod, "/Log") {
			return nil, status.Errorf(codes.Unavailable, "site %s is drained by an operator: use another site", site)
		}
		return handler(ctx, req)
	}
}
