package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/megastore-verified/megastore/impl/core"
)

// metrics are one site's Prometheus series. Protocol counts come from the
// core's trace events, so they count steps exactly as the spec names them.
//
// Counters count since this process started and restart at zero with it,
// as Prometheus counters do (rate() and increase() handle the reset). The
// megastore_incarnation gauge says which start of the site's store this is,
// so a reset is told from a quiet site; persisting the counters would cost a
// write per step for numbers Prometheus already keeps.
type metrics struct {
	reg *prometheus.Registry

	commits       prometheus.Counter
	conflicts     prometheus.Counter
	writeErrors   *prometheus.CounterVec
	reads         *prometheus.CounterVec
	readErrors    *prometheus.CounterVec
	steps         *prometheus.CounterVec
	catchUps      prometheus.Counter
	invalidations prometheus.Counter
	leaseHeld     prometheus.Gauge
	leaseChanges  *prometheus.CounterVec
	groups        prometheus.Gauge
	incarnation   prometheus.Gauge
	inFlight      prometheus.Gauge
	readyLatency  prometheus.Histogram
	saveLatency   *prometheus.HistogramVec
	applyLatency  prometheus.Histogram
	peerSent      *prometheus.CounterVec
	peerDropped   *prometheus.CounterVec
	peerReceived  prometheus.Counter
	peerRejected  prometheus.Counter
	stepErrors    prometheus.Counter
	requestErrors *prometheus.CounterVec
	panics        prometheus.Counter
}

func newMetrics(site core.SiteID, kind core.SiteKind) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := prometheusFactory{reg: reg, labels: prometheus.Labels{"site": string(site), "kind": kind.String()}}
	latency := prometheus.ExponentialBuckets(50e-6, 2, 16) // 50µs .. 1.6s
	return &metrics{
		reg:           reg,
		commits:       f.counter("megastore_commits_total", "Writes acknowledged as committed at this site (the client's value won)."),
		conflicts:     f.counter("megastore_conflicts_total", "Writes at this site that lost their log position (the client reruns)."),
		writeErrors:   f.counterVec("megastore_write_errors_total", "Writes that failed other than by conflict, by reason.", "reason"),
		reads:         f.counterVec("megastore_reads_total", "Reads served, by consistency (current, snapshot, inconsistent) and shape (get, scan).", "mode", "shape"),
		readErrors:    f.counterVec("megastore_read_errors_total", "Reads refused or failed, by consistency.", "mode"),
		steps:         f.counterVec("megastore_protocol_steps_total", "Protocol steps at this site, by the spec's action name.", "action"),
		catchUps:      f.counter("megastore_catchups_total", "Current reads that had to catch the site up (ReadCatchUp)."),
		invalidations: f.counter("megastore_invalidations_total", "Coordinator invalidations this site's writers caused (Invalidate) or waited out (WaitOutLease)."),
		leaseHeld:     f.gauge("megastore_lease_held", "1 while this site's coordinator holds leases at a majority."),
		leaseChanges:  f.counterVec("megastore_lease_changes_total", "Coordinator lease losses and regains.", "change"),
		groups:        f.gauge("megastore_groups", "Entity groups this site knows."),
		incarnation:   f.gauge("megastore_incarnation", "Which start of this site's store this process is (1: the first); counters restart at zero with each."),
		inFlight:      f.gauge("megastore_in_flight", "Proposals and reads in flight at this site."),
		readyLatency:  f.histogram("megastore_ready_seconds", "Time to persist and apply one Ready (Save through Apply).", latency),
		saveLatency:   f.histogramVec("megastore_save_seconds", "Time to persist a Ready's durable state; synced=true includes the fsync.", latency, "synced"),
		applyLatency:  f.histogram("megastore_apply_seconds", "Time to apply a Ready's entries to the data rows.", latency),
		peerSent:      f.counterVec("megastore_peer_sent_total", "Messages handed to gRPC, by peer.", "peer"),
		peerDropped:   f.counterVec("megastore_peer_dropped_total", "Messages dropped (queue full or peer unreachable), by peer.", "peer"),
		peerReceived:  f.counter("megastore_peer_received_total", "Messages received from peers and handed to the driver."),
		peerRejected:  f.counter("megastore_peer_rejected_batches_total", "Peer batches refused as malformed."),
		stepErrors:    f.counter("megastore_step_errors_total", "Messages the core refused."),
		requestErrors: f.counterVec("megastore_request_errors_total", "Client requests refused or failed, by gRPC code.", "code"),
		panics:        f.counter("megastore_recovered_panics_total", "Panics recovered in request handlers (each is a bug)."),
	}
}

type prometheusFactory struct {
	reg    *prometheus.Registry
	labels prometheus.Labels
}

func (f prometheusFactory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: f.labels})
	f.reg.MustRegister(c)
	return c
}

func (f prometheusFactory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: f.labels}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f prometheusFactory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: f.labels})
	f.reg.MustRegister(g)
	return g
}

func (f prometheusFactory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, ConstLabels: f.labels, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f prometheusFactory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, ConstLabels: f.labels, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// onTrace counts protocol steps; it runs on the driver's goroutine, so it
// only touches atomic counters.
func (m *metrics) onTrace(_ core.SiteID, events []core.TraceEvent) {
	for _, e := range events {
		m.steps.WithLabelValues(e.Action).Inc()
		switch e.Action {
		case core.ActReadCatchUp:
			m.catchUps.Inc()
		case core.ActInvalidate, core.ActWaitOutLease:
			m.invalidations.Inc()
		case core.ActLoseLease:
			m.leaseChanges.WithLabelValues("lost").Inc()
		case core.ActRegainLease:
			m.leaseChanges.WithLabelValues("regained").Inc()
		}
	}
}

func (m *metrics) observeStatus(st core.Status) {
	if st.LeaseHeld {
		m.leaseHeld.Set(1)
	} else {
		m.leaseHeld.Set(0)
	}
	m.groups.Set(float64(len(st.Groups)))
	m.incarnation.Set(float64(st.Incarnation))
	m.inFlight.Set(float64(st.InFlight))
}

// timedStorage is core.Storage that times Save and Apply. The driver calls
// Save then Apply once per Ready, so Save's start to Apply's end is the
// Ready's persist-and-apply time.
type timedStorage struct {
	core.GroupStorage // NB: the driver loads groups one at a time through it
	m                 *metrics
	readyStart        time.Time
}

func (s *timedStorage) Save(d core.Durable, sync bool) error {
	s.readyStart = time.Now()
	err := s.GroupStorage.Save(d, sync)
	label := "false"
	if sync {
		label = "true"
	}
	if !d.IsEmpty() {
		s.m.saveLatency.WithLabelValues(label).Observe(time.Since(s.readyStart).Seconds())
	}
	return err
}

func (s *timedStorage) Apply(entries []core.Entry) error {
	start := time.Now()
	err := s.GroupStorage.Apply(entries)
	if len(entries) > 0 {
		s.m.applyLatency.Observe(time.Since(start).Seconds())
	}
	if !s.readyStart.IsZero() {
		s.m.readyLatency.Observe(time.Since(s.readyStart).Seconds())
		s.readyStart = time.Time{}
	}
	return err
}
