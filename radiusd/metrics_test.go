package radiusd

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"layeh.com/radius"
	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/radiusd/metric/prom"
	"github.com/hotspot-radius/hsradius/session"
)

// TestPacketOutcomes sends a mix of packets to both listeners and checks
// radiusd_packets_total: each count, and one outcome per packet sent.
func TestPacketOutcomes(t *testing.T) {
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))
	start := []attrFn{acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("s1"), callingStation("aabbccddeeff")}

	accept := accessRequest(t, callingStation("aabbccddeeff"))
	acct := acctRequest(t, start...)
	sent := 0
	send := func(l Listener, b []byte) {
		t.Helper()
		sent++
		e.send(l, b)
	}
	sendFrom := func(l Listener, b []byte, src string) {
		t.Helper()
		sent++
		e.sendFrom(l, b, netip.MustParseAddrPort(src))
	}

	send(Auth, accept)                                                                                       // accepted
	send(Auth, accept)                                                                                       // cached
	send(Auth, accessRequest(t, callingStation("02:00:00:00:00:01")))                                        // rejected
	send(Auth, accessRequest(t, userName("bob")))                                                            // rejected (no MAC)
	send(Auth, buildRequest(t, radius.CodeAccessRequest, testSecret, false, callingStation("aabbccddeeff"))) // missing MA
	send(Auth, buildRequest(t, radius.CodeAccessRequest, []byte("x"), true, callingStation("aabbccddeeff"))) // bad MA
	send(Auth, buildRequest(t, radius.CodeStatusServer, testSecret, true))                                   // status
	send(Auth, acct)                                                                                         // unsupported
	send(Auth, accept[:10])                                                                                  // malformed
	sendFrom(Auth, accept, "192.0.2.7:1812")                                                                 // unknown NAS

	send(Acct, acct)                                                                                               // accounted
	send(Acct, acct)                                                                                               // cached
	send(Acct, acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("s2"), userName("x"))) // ignored
	send(Acct, buildRequest(t, radius.CodeAccountingRequest, []byte("x"), false, start...))                        // bad authenticator
	send(Acct, acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_Start), callingStation("aabbccddeeff")))     // malformed
	send(Acct, buildRequest(t, radius.CodeStatusServer, testSecret, true))                                         // status
	e.store.setErr(errStoreDown)
	send(Acct, acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_Stop), acctSessionID("s1"), callingStation("aabbccddeeff"))) // store error
	send(Auth, accessRequest(t, callingStation("aabbccddeeff")))                                                                   // store error

	want := `
# HELP radiusd_packets_total RADIUS packets received, by listener, request code and outcome.
# TYPE radiusd_packets_total counter
radiusd_packets_total{code="Access-Request",listener="auth",outcome="accepted"} 1
radiusd_packets_total{code="Access-Request",listener="auth",outcome="bad_message_authenticator"} 1
radiusd_packets_total{code="Access-Request",listener="auth",outcome="cached"} 1
radiusd_packets_total{code="Access-Request",listener="auth",outcome="malformed"} 1
radiusd_packets_total{code="Access-Request",listener="auth",outcome="missing_message_authenticator"} 1
radiusd_packets_total{code="Access-Request",listener="auth",outcome="overload"} 0
radiusd_packets_total{code="Access-Request",listener="auth",outcome="rejected"} 2
radiusd_packets_total{code="Access-Request",listener="auth",outcome="store_error"} 1
radiusd_packets_total{code="Access-Request",listener="auth",outcome="unknown_nas"} 1
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="accounted"} 1
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="bad_authenticator"} 1
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="bad_message_authenticator"} 0
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="cached"} 1
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="ignored"} 1
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="malformed"} 1
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="overload"} 0
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="store_error"} 1
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="unknown_nas"} 0
radiusd_packets_total{code="Accounting-Request",listener="auth",outcome="unsupported_code"} 1
radiusd_packets_total{code="Status-Server",listener="acct",outcome="status"} 1
radiusd_packets_total{code="Status-Server",listener="auth",outcome="status"} 1
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "radiusd_packets_total"); err != nil {
		t.Error(err)
	}
	total := 0
	for _, n := range e.outcomes() {
		total += n
	}
	if total != sent {
		t.Errorf("sum of radiusd_packets_total = %d, want %d (one outcome per packet)", total, sent)
	}

	// Replies were timed; store calls were timed and failures counted.
	if n := testutil.CollectAndCount(e.reg, "radiusd_request_duration_seconds"); n != 2 {
		t.Errorf("radiusd_request_duration_seconds: %d series, want 2 (auth, acct)", n)
	}
	if got := testutil.ToFloat64(e.srv.cfg.Metrics.storeErr.WithLabelValues("account").(prometheus.Collector)); got != 1 {
		t.Errorf(`radiusd_store_errors_total{op="account"} = %v, want 1`, got)
	}
	if got := testutil.ToFloat64(e.srv.cfg.Metrics.storeErr.WithLabelValues("device_sessions").(prometheus.Collector)); got != 1 {
		t.Errorf(`radiusd_store_errors_total{op="device_sessions"} = %v, want 1`, got)
	}
	if got := testutil.ToFloat64(e.srv.cfg.Metrics.inFlight.(prometheus.Collector)); got != 0 {
		t.Errorf("radiusd_in_flight_requests = %v after all requests finished, want 0", got)
	}
}

// TestMetricsLint runs promlint over every collector.
func TestMetricsLint(t *testing.T) {
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))
	// Populate every vector so its series are linted too.
	req := accessRequest(t, callingStation("aabbccddeeff"))
	e.send(Auth, req)
	e.store.setErr(errStoreDown)
	e.send(Acct, acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("s"), callingStation("aabbccddeeff")))

	problems, err := testutil.GatherAndLint(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestMetricsAlertedSeriesAtStart: every series README.md suggests alerting
// on exists, at 0, before the first event: an alert on increase() needs the
// series before the event it counts.
func TestMetricsAlertedSeriesAtStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(prom.Registry(reg)); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP radiusd_store_errors_total Store (Redis) operations that failed.
# TYPE radiusd_store_errors_total counter
radiusd_store_errors_total{op="account"} 0
radiusd_store_errors_total{op="close_nas"} 0
radiusd_store_errors_total{op="device_sessions"} 0
# HELP radiusd_packets_total RADIUS packets received, by listener, request code and outcome.
# TYPE radiusd_packets_total counter
radiusd_packets_total{code="Access-Request",listener="auth",outcome="bad_message_authenticator"} 0
radiusd_packets_total{code="Access-Request",listener="auth",outcome="missing_message_authenticator"} 0
radiusd_packets_total{code="Access-Request",listener="auth",outcome="overload"} 0
radiusd_packets_total{code="Access-Request",listener="auth",outcome="store_error"} 0
radiusd_packets_total{code="Access-Request",listener="auth",outcome="unknown_nas"} 0
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="bad_authenticator"} 0
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="bad_message_authenticator"} 0
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="overload"} 0
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="store_error"} 0
radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="unknown_nas"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "radiusd_store_errors_total", "radiusd_packets_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "radiusd_dynauth_requests_total"); err != nil || n != 10 {
		t.Errorf("radiusd_dynauth_requests_total: %d series (%v), want 10 (disconnect, coa × ack, nak, timeout, error, dropped)", n, err)
	}
	got := map[string]bool{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "radiusd_dynauth_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			got[l["kind"]+"/"+l["result"]] = m.GetCounter().GetValue() == 0
		}
	}
	for _, kind := range []string{"disconnect", "coa"} {
		for _, result := range []string{"timeout", "nak", "dropped"} {
			if !got[kind+"/"+result] {
				t.Errorf("no radiusd_dynauth_requests_total{kind=%q,result=%q} at 0", kind, result)
			}
		}
	}
}

func TestNewMetricsTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(prom.Registry(reg)); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(prom.Registry(reg)); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
}
