package radiusd

import (
	"github.com/prometheus/client_golang/prometheus"
	"layeh.com/radius"
)

// Outcomes: every packet ends in exactly one (DESIGN §7.6).
const (
	OutcomeAccepted            = "accepted"          // Access-Accept sent
	OutcomeRejected            = "rejected"          // Access-Reject sent
	OutcomeAccounted           = "accounted"         // Accounting-Response sent after the write
	OutcomeIgnored             = "ignored"           // acknowledged, nothing to record (no device)
	OutcomeStatus              = "status"            // Status-Server answered
	OutcomeCached              = "cached"            // retransmission answered from the cache
	OutcomeDuplicate           = "duplicate"         // dropped: a copy is in flight
	OutcomeUnknownNAS          = "unknown_nas"       // dropped: source not in the NAS table
	OutcomeMalformed           = "malformed"         // dropped: framing or attribute error
	OutcomeUnsupported         = "unsupported_code"  // dropped: code not served on this port
	OutcomeBadAuth             = "bad_authenticator" // dropped: request authenticator forged
	OutcomeBadMA               = "bad_message_authenticator"
	OutcomeMissingMA           = "missing_message_authenticator"
	OutcomeBadPassword         = "bad_password" // Access-Reject sent: password check failed
	OutcomeOverload            = "overload"     // dropped: too many in flight
	OutcomeStoreError          = "store_error"  // dropped: the store failed; the NAS retries
	listenerAuth, listenerAcct = "auth", "acct"
)

// Metrics are the server's Prometheus collectors, registered on the
// registry main builds (never the global one).
type Metrics struct {
	packets  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	storeDur *prometheus.HistogramVec
	storeErr *prometheus.CounterVec
	inFlight prometheus.Gauge
	dynAuth  *prometheus.CounterVec
	// schedDropped counts end-of-session checks not scheduled after
	// accounting because the schedule queue was full.
	schedDropped prometheus.Counter
}

// NewMetrics creates and registers the collectors on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "radiusd_packets_total",
			Help: "RADIUS packets received, by listener, request code and outcome.",
		}, []string{"listener", "code", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "radiusd_request_duration_seconds",
			Help:    "Time from receiving a request to sending its reply.",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"listener"}),
		storeDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "radiusd_store_duration_seconds",
			Help:    "Latency of store (Redis) operations.",
			Buckets: []float64{.0001, .0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
		storeErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "radiusd_store_errors_total",
			Help: "Store (Redis) operations that failed.",
		}, []string{"op"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "radiusd_in_flight_requests",
			Help: "Requests being processed.",
		}),
		dynAuth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "radiusd_dynauth_requests_total",
			Help: "Disconnect and CoA requests sent to NASes (RFC 5176), by kind and result (ack, nak, timeout, error, dropped).",
		}, []string{"kind", "result"}),
		schedDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "radiusd_schedule_dropped_total",
			Help: "End-of-session checks not scheduled because the schedule queue was full; the NAS session's next interim schedules it.",
		}),
	}
	for _, c := range []prometheus.Collector{m.packets, m.duration, m.storeDur, m.storeErr, m.inFlight, m.dynAuth, m.schedDropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.initAlerted()
	return m, nil
}

// initAlerted creates, at 0, the series README.md ("Metrics") suggests
// alerting on. A labelled series is born at its first event, and
// increase() and rate() cannot see that first event, nor can an absent
// series be told from a broken scrape.
func (m *Metrics) initAlerted() {
	for _, op := range []string{"device_sessions", "account", "close_nas"} {
		m.storeErr.WithLabelValues(op)
	}
	for _, o := range []string{OutcomeStoreError, OutcomeUnknownNAS, OutcomeBadMA, OutcomeMissingMA, OutcomeOverload} {
		m.packets.WithLabelValues(listenerAuth, radius.CodeAccessRequest.String(), o)
	}
	for _, o := range []string{OutcomeStoreError, OutcomeUnknownNAS, OutcomeBadAuth, OutcomeBadMA, OutcomeOverload} {
		m.packets.WithLabelValues(listenerAcct, radius.CodeAccountingRequest.String(), o)
	}
	for _, kind := range []string{"disconnect", "coa"} {
		for _, result := range []string{DynAuthACK, DynAuthNAK, DynAuthTimeout, DynAuthError, "dropped"} {
			m.dynAuth.WithLabelValues(kind, result)
		}
	}
}
