package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/megastore-verified/megastore/impl/core"
	"github.com/megastore-verified/megastore/impl/node"
	"github.com/megastore-verified/megastore/impl/peer"
	"github.com/megastore-verified/megastore/impl/siteconfig"
	"github.com/megastore-verified/megastore/impl/storage"
	"github.com/megastore-verified/megastore/impl/wire"
	"github.com/megastore-verified/megastore/impl/wire/wirepb"
)

// Options start one site.
type Options struct {
	Config *siteconfig.File
	Site   core.SiteID
	// DataDir holds the site's Pebble store; it is created if missing and
	// recovered from on restart.
	DataDir string
	// TestAdmin serves /admin/ (clock offset and rate). Never in production:
	// it lets anyone break the lease safety argument.
	TestAdmin bool
	// TraceDir, if set, receives the site's spec-level trace as JSON lines
	// (one node.TraceBatch a line) in <site>.trace.jsonl, appended across
	// restarts, for tests/tracemap to validate against the spec.
	TraceDir string
	// TestBug turns on one bug switch: a core.Bugs field, or
	// SendBeforePersist (the driver's). Only with TestAdmin, and only in a
	// binary built with -tags megastore_bugs (core.BugsCompiled).
	TestBug string
	Logger  *slog.Logger
	// Ready, if set, is called once every listener is up.
	Ready func()
}

// maxClientRequestBytes bounds one client request on the wire; gRPC refuses
// larger ones with ResourceExhausted before any handler runs.
const maxClientRequestBytes = 64 << 20

// statusInterval is how often lease state and other gauges are refreshed.
const statusInterval = 500 * time.Millisecond

// Run runs the site until ctx ends or the site fails.
func Run(ctx context.Context, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("site", string(o.Site))
	site, err := o.Config.Site(string(o.Site))
	if err != nil {
		return err
	}
	cfg, err := o.Config.CoreConfig(o.Site)
	if err != nil {
		return err
	}
	index := 0
	for i, s := range cfg.Sites {
		if s.ID == o.Site {
			index = i
		}
	}
	cfg.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(index)))
	sendBeforePersist := false
	if o.TestBug != "" {
		if !o.TestAdmin {
			return fmt.Errorf("%w: a test bug (%s) needs --test-admin", core.ErrInvalidConfig, o.TestBug)
		}
		if !core.BugsCompiled {
			return fmt.Errorf("%w: a test bug (%s) needs a binary built with -tags %s; this one has no bug switches",
				core.ErrInvalidConfig, o.TestBug, core.BugTag)
		}
		if o.TestBug == "SendBeforePersist" {
			sendBeforePersist = true
		} else if b, ok := core.BugByName(o.TestBug); ok {
			cfg.Bugs = b
		} else {
			return fmt.Errorf("%w: unknown bug %q; known: SendBeforePersist, %s", core.ErrInvalidConfig,
				o.TestBug, strings.Join(core.BugNames(), ", "))
		}
		log.Warn("a bug switch is on: this site is broken on purpose", "bug", o.TestBug)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	kind := siteconfig.Kinds[site.Kind]
	m := newMetrics(o.Site, kind)

	// Listen first: a port that is taken should stop the process before it
	// touches its store.
	var lc net.ListenConfig
	peerLis, err := lc.Listen(ctx, "tcp", site.PeerListen())
	if err != nil {
		return fmt.Errorf("peer address: %w", err)
	}
	defer peerLis.Close()
	clientLis, err := lc.Listen(ctx, "tcp", site.ClientAddr)
	if err != nil {
		return fmt.Errorf("client address: %w", err)
	}
	defer clientLis.Close()
	httpLis, err := lc.Listen(ctx, "tcp", site.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http address: %w", err)
	}
	defer httpLis.Close()

	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := storage.Open(o.DataDir)
	if err != nil {
		return fmt.Errorf("opening the store in %s: %w", o.DataDir, err)
	}
	defer st.Close()

	// A peer whose membership differs from ours (its cluster.json differs),
	// refusing us or refused by us, stops this site: running on would
	// split the view of what a majority is.
	membership := o.Config.Membership()
	refused := make(chan error, 1)
	tr, err := peer.NewTransport(o.Site, o.Config.DialAddrs(string(o.Site)), peer.Options{
		Logger:     log,
		OnDrop:     func(to core.SiteID, n int) { m.peerDropped.WithLabelValues(string(to)).Add(float64(n)) },
		OnSent:     func(to core.SiteID, n int) { m.peerSent.WithLabelValues(string(to)).Add(float64(n)) },
		Membership: membership,
		OnRefused: func(_ core.SiteID, err error) {
			select {
			case refused <- err:
			default:
			}
		},
	})
	if err != nil {
		return err
	}
	defer tr.Close()

	var onTraceBatch func(node.TraceBatch)
	var onLoad func(core.State)
	if o.TraceDir != "" {
		tw, err := openTrace(o.TraceDir, o.Site)
		if err != nil {
			return err
		}
		defer tw.Close()
		onTraceBatch, onLoad = tw.write, tw.onLoad
	}

	clock := NewClock(o.Config.Tick())
	defer clock.Stop()
	explain := newExplainer(log)
	stepErrors := 0
	d, err := node.Start(node.Config{
		Core:      cfg,
		Storage:   &timedStorage{GroupStorage: st, m: m},
		Transport: tr,
		Clock:     clock,
		OnTrace: func(site core.SiteID, ev []core.TraceEvent) {
			m.onTrace(site, ev)
			explain.onTrace(site, ev)
		},
		// The trace is stamped with the host's wall clock, never the
		// test-adjustable tick clock: containers share the kernel's.
		OnTraceBatch:          onTraceBatch,
		OnLoad:                onLoad,
		TestSendBeforePersist: sendBeforePersist,
		OnStepError: func(msg core.Message, err error) {
			m.stepErrors.Inc()
			if stepErrors++; stepErrors <= 100 { // NB: bounded: a noisy peer cannot flood the log
				log.Warn("core refused a message", "msg", msg.String(), "err", err)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("starting the replica from %s: %w", o.DataDir, err)
	}
	defer d.Stop()

	limits := wire.LimitsFor(cfg)
	peerSrv := grpc.NewServer(grpc.MaxRecvMsgSize(peer.MaxMessageBytes), grpc.ForceServerCodecV2(newLenientCodec()),
		grpc.ChainStreamInterceptor(recoverStream(m, log)))
	ps := peer.NewServer(o.Site, limits, d.Deliver, log)
	ps.OnReceived = func(n int) { m.peerReceived.Add(float64(n)) }
	ps.OnRejected = func(error) { m.peerRejected.Inc() }
	ps.Membership = membership
	ps.OnMismatch = func(err error) {
		select {
		case refused <- err:
		default:
		}
	}
	wirepb.RegisterPeerServer(peerSrv, ps)

	op := &operator{}
	clientSrv := grpc.NewServer(grpc.MaxRecvMsgSize(maxClientRequestBytes), grpc.ForceServerCodecV2(newLenientCodec()),
		grpc.ChainUnaryInterceptor(recoverUnary(m, log), op.drainUnary(o.Site)))
	clientSrv.RegisterService(decodeErrors(wirepb.Client_ServiceDesc, m), &service{self: o.Site, limits: limits, driver: d, m: m, log: log})
	// The standard health service lets clients (impl/remote) stop using a
	// site the moment it starts shutting down, instead of on its first
	// refused request.
	health := grpchealth.NewServer()
	healthpb.RegisterHealthServer(clientSrv, health)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		hctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		stat, err := d.Status(hctx)
		if err == nil {
			err = d.Err()
		}
		if err != nil {
			http.Error(w, fmt.Sprintf("unhealthy: %v\n", err), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok site=%s kind=%s lease_held=%v incarnation=%d\n", stat.Site, stat.Kind, stat.LeaseHeld, stat.Incarnation)
	})
	op.register(mux, d, log)
	if o.TestAdmin {
		registerAdmin(mux, clock, log)
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	errs := make(chan error, 3)
	go func() { errs <- fmt.Errorf("peer server: %w", peerSrv.Serve(peerLis)) }()
	go func() { errs <- fmt.Errorf("client server: %w", clientSrv.Serve(clientLis)) }()
	go func() { errs <- fmt.Errorf("http server: %w", httpSrv.Serve(httpLis)) }()
	defer func() {
		// Client requests first, so nothing new reaches the driver; then
		// peers. GracefulStop is bounded: a peer stream never ends by itself.
		health.Shutdown()
		stopBounded(clientSrv)
		peerSrv.Stop()
		_ = httpSrv.Close()
	}()
	logStart(ctx, log, d)
	log.Info("site started", "kind", site.Kind, "peer", site.PeerListen(), "membership", membership.Digest, "client", site.ClientAddr,
		"http", site.HTTPAddr, "data", o.DataDir, "test_admin", o.TestAdmin, "tick", o.Config.Tick().String())
	if o.Ready != nil {
		o.Ready()
	}

	t := time.NewTicker(statusInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Info("site stopping")
			return nil
		case err := <-errs:
			return err
		case err := <-refused:
			// NB: give our refusal time to reach the peer before the
			// deferred Stop cuts its stream, so that it stops too.
			log.Error("stopping: cluster.json membership differs from a peer's", "err", err)
			time.Sleep(time.Second)
			return err
		case <-t.C:
			if err := d.Err(); err != nil {
				return fmt.Errorf("replica failed: %w", err)
			}
			sctx, cancel := context.WithTimeout(ctx, statusInterval)
			if stat, err := d.Status(sctx); err == nil {
				m.observeStatus(stat)
			}
			cancel()
		}
	}
}

func stopBounded(s *grpc.Server) {
	done := make(chan struct{})
	go func() { s.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		s.Stop()
	}
}

// registerAdmin adds the test-only endpoints. Each answers with the clock's
// state as JSON.
func registerAdmin(mux *http.ServeMux, clock *Clock, log *slog.Logger) {
	reply := func(w http.ResponseWriter, offset int64) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"now_ticks": clock.Now(), "offset_ticks": offset})
	}
	intParam := func(r *http.Request, name string, lo, hi int64) (int64, error) {
		v := r.URL.Query().Get(name)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("query parameter %s=%q: want an integer in %d..%d", name, v, lo, hi)
		}
		return n, nil
	}
	// POST /admin/clock-offset?ticks=N moves this site's clock N ticks
	// (negative: it stands still for N ticks).
	mux.HandleFunc("POST /admin/clock-offset", func(w http.ResponseWriter, r *http.Request) {
		n, err := intParam(r, "ticks", -1_000_000, 1_000_000)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		off := clock.AddOffset(n)
		log.Warn("test admin: clock offset", "added_ticks", n, "offset_ticks", off)
		reply(w, off)
	})
	// POST /admin/clock-rate?milli=R runs this site's clock at R/1000 of
	// real time (drift).
	mux.HandleFunc("POST /admin/clock-rate", func(w http.ResponseWriter, r *http.Request) {
		n, err := intParam(r, "milli", 0, 100_000)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		clock.SetRate(n)
		log.Warn("test admin: clock rate", "milli", n)
		reply(w, clock.AddOffset(0))
	})
}
