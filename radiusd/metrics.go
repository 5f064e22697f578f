package radiusd

import (
	"errors"
	"fmt"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/radiusd/metric"
)

// Outcomes: every packet ends in exactly one (docs/ARCHITECTURE.md, "The path of one packet").
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

// Metrics are the server's instruments, made on the registry main builds
// (never a global one): radiusd/metric/prom.Registry for Prometheus.
type Metrics struct {
	packets  *metric.Vec[metric.Counter]
	duration *metric.Vec[metric.Observer]
	storeDur *metric.Vec[metric.Observer]
	storeErr *metric.Vec[metric.Counter]
	inFlight metric.Gauge
	dynAuth  *metric.Vec[metric.Counter]
	vouchers *metric.Vec[metric.Counter]
	// schedDropped counts end-of-session checks not scheduled after
	// accounting because the schedule queue was full.
	schedDropped metric.Counter
}

// NewMetrics makes the instruments on reg.
func NewMetrics(reg metric.Registry) (*Metrics, error) {
	var errs []error
	counters := func(name, help string, labels ...string) *metric.Vec[metric.Counter] {
		f, err := reg.CounterVec(name, help, labels...)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		return metric.NewVec(f)
	}
	histograms := func(name, help string, buckets []float64, labels ...string) *metric.Vec[metric.Observer] {
		f, err := reg.HistogramVec(name, help, buckets, labels...)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		return metric.NewVec(f)
	}
	m := &Metrics{
		packets: counters("radiusd_packets_total",
			"RADIUS packets received, by listener, request code and outcome.", "listener", "code", "outcome"),
		duration: histograms("radiusd_request_duration_seconds", "Time from receiving a request to sending its reply.",
			[]float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}, "listener"),
		storeDur: histograms("radiusd_store_duration_seconds", "Latency of store (Redis) operations.",
			[]float64{.0001, .0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}, "op"),
		storeErr: counters("radiusd_store_errors_total", "Store (Redis) operations that failed.", "op"),
		vouchers: counters("radiusd_voucher_logins_total",
			"Logins with a voucher code, by outcome (accepted, rate_limited, bad_password, rejected_*).", "outcome"),
		dynAuth: counters("radiusd_dynauth_requests_total",
			"Disconnect and CoA requests sent to NASes (RFC 5176), by kind and result (ack, nak, timeout, error, dropped).", "kind", "result"),
	}
	var err error
	if m.inFlight, err = reg.Gauge("radiusd_in_flight_requests", "Requests being processed."); err != nil {
		errs = append(errs, err)
	}
	if m.schedDropped, err = reg.Counter("radiusd_schedule_dropped_total",
		"End-of-session checks not scheduled because the schedule queue was full; the NAS session's next interim schedules it."); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("radiusd: metrics: %w", err)
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
	for _, o := range voucherOutcomes {
		m.vouchers.WithLabelValues(o)
	}
	for _, kind := range []string{"disconnect", "coa"} {
		for _, result := range []string{DynAuthACK, DynAuthNAK, DynAuthTimeout, DynAuthError, "dropped"} {
			m.dynAuth.WithLabelValues(kind, result)
		}
	}
}
