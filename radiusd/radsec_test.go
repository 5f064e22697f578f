package radiusd_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/radiusd/metric/prom"
	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/radiusd/radsec"
	"github.com/hotspot-radius/hsradius/radiusd/radsec/radsectest"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// rsEnv is the real server with a RadSec listener on loopback, on a real
// redis-server, with enforcement (Disconnect/CoA) running. Its NAS table
// lists "site-7", known only by its client certificate (no address), and
// "office", on an address no test connects from.
type rsEnv struct {
	srv   *radiusd.Server
	reg   *prometheus.Registry
	addr  string // the RadSec listener, host:port
	ca    *radsectest.CA
	site7 *radsectest.Leaf // the client certificate of site-7
	rdb   *redis.Client
	mgr   *session.SessionsMgr
	cfg   radiusd.RadSecConfig
}

type rsOptions struct {
	maxInFlight int                // radiusd.Config.MaxInFlight (0: the default)
	office      func(*radiusd.NAS) // edits the entry "office"
	log         io.Writer          // the server's log at debug level (default: the test's, warnings)
	radsec      func(*radiusd.RadSecConfig)
	wrap        func(net.Listener) net.Listener
}

func startRadSec(t *testing.T, o rsOptions) *rsEnv {
	t.Helper()
	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &rsEnv{reg: prometheus.NewRegistry(), rdb: rdb, mgr: session.NewSessionsMgr(store, time.Now)}
	m, err := radiusd.NewMetrics(prom.Registry(e.reg))
	if err != nil {
		t.Fatal(err)
	}
	e.ca = radsectest.NewCA(t, "hotspot-ca")
	srvCert := e.ca.Server(t, "radius.example")
	e.site7 = e.ca.Client(t, "site-7")
	e.cfg = radiusd.RadSecConfig{Files: radsec.Files{Cert: srvCert.CertFile, Key: srvCert.KeyFile, ClientCA: e.ca.File}}
	if o.radsec != nil {
		o.radsec(&e.cfg)
	}
	profiles := []radiusd.Profile{radiusd.ProfileWISPr, radiusd.ProfileMikroTik}
	office := radiusd.NAS{Name: "office", Prefix: netip.MustParsePrefix("192.0.2.10/32"), Secret: []byte(e2eSecret), Profiles: profiles}
	if o.office != nil {
		o.office(&office)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	if o.log != nil {
		log = zerolog.New(o.log).Level(zerolog.DebugLevel)
	}
	e.srv, err = radiusd.New(radiusd.Config{
		NAS: []radiusd.NAS{
			{Name: "site-7", Profiles: profiles, CoAPort: 3799, RadSec: radiusd.NASRadSec{Names: []string{"site-7"}}},
			office,
		},
		Store:   store,
		Log:     log,
		Metrics: m,
		Enforce: &radiusd.EnforceConfig{Store: store, DynAuthTimeout: enfTimeout, DynAuthTries: enfTries, ScheduleEvery: enfEvery},
		RadSec:  &e.cfg,

		MaxInFlight: o.maxInFlight,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	if o.wrap != nil {
		ln = o.wrap(ln)
	}
	served := make(chan error, 1)
	go func() { served <- e.srv.ServeRadSec(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- e.srv.RunEnforcement(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-ran
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := e.srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, radiusd.ErrServerClosed) {
			t.Errorf("ServeRadSec: %v, want ErrServerClosed", err)
		}
	})
	return e
}

// dial connects as a NAS with the client certificate (nil: none) and
// completes the handshake.
func (e *rsEnv) dial(t *testing.T, client *radsectest.Leaf) (*tls.Conn, error) {
	t.Helper()
	raw, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, radsectest.ClientConfig(e.ca, client))
	_ = c.SetDeadline(time.Now().Add(enfArrive))
	if err := c.Handshake(); err != nil {
		_ = c.Close()
		return nil, err
	}
	// TLS 1.3: the server's verdict on our certificate comes with its
	// first record; a refused client reads the alert here.
	_ = c.SetDeadline(time.Time{})
	t.Cleanup(func() { _ = c.Close() })
	return c, nil
}

// refused checks that a NAS with the certificate (nil: none) is refused,
// and waits for the server to have counted it (it closes after counting).
func (e *rsEnv) refused(t *testing.T, closed *closes, leaf *radsectest.Leaf) {
	t.Helper()
	raw := rawDial(t, e.addr)
	conn := tls.Client(raw, radsectest.ClientConfig(e.ca, leaf))
	_ = conn.SetDeadline(time.Now().Add(enfArrive))
	err := conn.Handshake()
	if err == nil {
		// TLS 1.3: the client's handshake ends before the server's
		// verdict, which the first read brings.
		if _, err = conn.Write(rsStatusServer(t)); err == nil {
			_, err = radsec.ReadFrame(conn, make([]byte, radsec.MaxLen), nil)
		}
	}
	if err == nil {
		t.Fatal("served; want the handshake refused")
	}
	closed.wait(t, raw)
}

// roundTrip writes one request and reads the next packet.
func roundTrip(t *testing.T, c *tls.Conn, req []byte) []byte {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(enfArrive))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := c.Write(req); err != nil {
		t.Fatalf("write: %v", err)
	}
	b, err := radsec.ReadFrame(c, make([]byte, radsec.MaxLen), nil)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	return b
}

const rsSecret = radiusd.DefaultRadSecSecret

func rsStatusServer(t *testing.T) []byte {
	t.Helper()
	p := radius.New(radius.CodeStatusServer, []byte(rsSecret))
	if err := packet.SignMA(p); err != nil {
		t.Fatal(err)
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rsAccessRequest(t *testing.T, mac string) []byte {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(rsSecret))
	_ = rfc2865.UserName_SetString(p, mac)
	_ = rfc2865.UserPassword_SetString(p, mac)
	_ = rfc2865.CallingStationID_SetString(p, mac)
	if err := packet.SignMA(p); err != nil {
		t.Fatal(err)
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rsAcct(t *testing.T, id byte, status rfc2866.AcctStatusType, mac, acctID string, secs uint32) []byte {
	t.Helper()
	p := radius.New(radius.CodeAccountingRequest, []byte(rsSecret))
	p.Identifier = id
	_ = rfc2866.AcctStatusType_Set(p, status)
	_ = rfc2865.UserName_SetString(p, mac)
	_ = rfc2865.CallingStationID_SetString(p, mac)
	_ = rfc2866.AcctSessionID_SetString(p, acctID)
	_ = rfc2866.AcctSessionTime_Set(p, rfc2866.AcctSessionTime(secs))
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantReply(t *testing.T, reply, req []byte, want radius.Code) *radius.Packet {
	t.Helper()
	if !radius.IsAuthenticResponse(reply, req, []byte(rsSecret)) {
		t.Fatalf("reply does not verify with the RadSec secret %q", rsSecret)
	}
	p, err := radius.Parse(reply, []byte(rsSecret))
	if err != nil {
		t.Fatal(err)
	}
	if p.Code != want {
		t.Fatalf("got %v, want %v", p.Code, want)
	}
	return p
}

func (e *rsEnv) count(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

// TestRadSecServesCertificateNAS: a NAS known only by its certificate,
// connecting from an address no NAS entry lists, gets Status-Server,
// Access-Request and Accounting-Request answered as on UDP, signed with the
// RadSec secret; its accounting is recorded under its name.
func TestRadSecServesCertificateNAS(t *testing.T) {
	e := startRadSec(t, rsOptions{})
	ctx := context.Background()
	const mac = "aa:bb:cc:dd:ee:07"
	if _, err := e.mgr.CreateSession(ctx, mac, session.Spec{Type: session.TypeTime, TimeSecs: 3600, DownMbits: 10, UpMbits: 2}); err != nil {
		t.Fatal(err)
	}
	c, err := e.dial(t, e.site7)
	if err != nil {
		t.Fatal(err)
	}
	req := rsStatusServer(t)
	wantReply(t, roundTrip(t, c, req), req, radius.CodeAccessAccept)

	req = rsAccessRequest(t, mac)
	p := wantReply(t, roundTrip(t, c, req), req, radius.CodeAccessAccept)
	if v := rfc2865.SessionTimeout_Get(p); v != 3600 {
		t.Errorf("Session-Timeout = %d, want 3600", v)
	}
	req = rsAccessRequest(t, "aa:bb:cc:dd:ee:99")
	wantReply(t, roundTrip(t, c, req), req, radius.CodeAccessReject)

	req = rsAcct(t, 1, rfc2866.AcctStatusType_Value_Start, mac, "rs-0001", 0)
	wantReply(t, roundTrip(t, c, req), req, radius.CodeAccountingResponse)
	req = rsAcct(t, 2, rfc2866.AcctStatusType_Value_InterimUpdate, mac, "rs-0001", 60)
	wantReply(t, roundTrip(t, c, req), req, radius.CodeAccountingResponse)
	if got := e.rdb.HGet(ctx, "hs:{aabbccddee07}:acct:site-7:rs-0001", "state").Val(); got != "open" {
		t.Errorf("record under the NAS's name: state %q, want open", got)
	}
	if got := e.rdb.HGet(ctx, "hs:{aabbccddee07}:s:1", "time_cons").Val(); got != "60" {
		t.Errorf("time_cons = %q, want 60", got)
	}
	if got := e.count(t, "radiusd_radsec_connections", "nas", "site-7"); got != 1 {
		t.Errorf("radiusd_radsec_connections{nas=site-7} = %v, want 1", got)
	}
	for _, o := range []struct{ code, outcome string }{
		{"Status-Server", radiusd.OutcomeStatus}, {"Access-Request", radiusd.OutcomeAccepted},
		{"Access-Request", radiusd.OutcomeRejected}, {"Accounting-Request", radiusd.OutcomeAccounted},
	} {
		if got := e.count(t, "radiusd_packets_total", "listener", "radsec", "code", o.code, "outcome", o.outcome); got < 1 {
			t.Errorf("radiusd_packets_total{listener=radsec,code=%s,outcome=%s} = %v", o.code, o.outcome, got)
		}
	}
}

// TestRadSecRefusesClients: a certificate of another CA, no certificate, and
// a certificate of our CA that names no NAS are refused at the handshake,
// and counted by reason.
func TestRadSecRefusesClients(t *testing.T) {
	closed := newCloses()
	e := startRadSec(t, rsOptions{wrap: closed.wrap})
	other := radsectest.NewCA(t, "other-ca")
	for _, c := range []struct {
		name   string
		leaf   *radsectest.Leaf
		reason string
	}{
		{"another CA", other.Client(t, "site-7"), "bad_certificate"},
		{"no certificate", nil, "no_certificate"},
		{"unknown name", e.ca.Client(t, "site-8"), "unknown_nas"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.refused(t, closed, c.leaf)
			if got := e.count(t, "radiusd_radsec_handshake_failures_total", "reason", c.reason); got != 1 {
				t.Errorf("handshake failures {reason=%s} = %v, want 1", c.reason, got)
			}
		})
	}
	if n := len(e.srv.RadSecConnected()); n != 0 {
		t.Errorf("%d NASes connected, want none", n)
	}
}

// TestRadSecResendOnNewConnection: the response cache is per connection
// (RFC 6614 §2.6). A NAS whose connection dropped before it read the reply
// resends the same packet on a new connection: it is processed again and
// accounting's idempotency keeps the counters exact; on one connection a
// duplicate is answered from the cache.
func TestRadSecResendOnNewConnection(t *testing.T) {
	e := startRadSec(t, rsOptions{})
	ctx := context.Background()
	const mac = "aa:bb:cc:dd:ee:08"
	if _, err := e.mgr.CreateSession(ctx, mac, session.Spec{Type: session.TypeTime, TimeSecs: 3600, DownMbits: 10, UpMbits: 2}); err != nil {
		t.Fatal(err)
	}
	c1, err := e.dial(t, e.site7)
	if err != nil {
		t.Fatal(err)
	}
	start := rsAcct(t, 1, rfc2866.AcctStatusType_Value_Start, mac, "rs-0002", 0)
	wantReply(t, roundTrip(t, c1, start), start, radius.CodeAccountingResponse)
	interim := rsAcct(t, 2, rfc2866.AcctStatusType_Value_InterimUpdate, mac, "rs-0002", 120)
	wantReply(t, roundTrip(t, c1, interim), interim, radius.CodeAccountingResponse)
	// The same bytes again on the same connection: from the cache.
	wantReply(t, roundTrip(t, c1, interim), interim, radius.CodeAccountingResponse)
	if got := e.count(t, "radiusd_packets_total", "listener", "radsec", "outcome", radiusd.OutcomeCached); got != 1 {
		t.Errorf("cached = %v, want 1", got)
	}
	_ = c1.Close()

	c2, err := e.dial(t, e.site7)
	if err != nil {
		t.Fatal(err)
	}
	wantReply(t, roundTrip(t, c2, interim), interim, radius.CodeAccountingResponse)
	if got := e.count(t, "radiusd_packets_total", "listener", "radsec", "outcome", radiusd.OutcomeCached); got != 1 {
		t.Errorf("cached = %v after the resend on a new connection, want still 1 (processed again)", got)
	}
	if got := e.count(t, "radiusd_packets_total", "listener", "radsec", "code", "Accounting-Request", "outcome", radiusd.OutcomeAccounted); got != 3 {
		t.Errorf("accounted = %v, want 3 (start, interim, interim again on the new connection)", got)
	}
	if got := e.rdb.HGet(ctx, "hs:{aabbccddee08}:s:1", "time_cons").Val(); got != "120" {
		t.Errorf("time_cons = %q after the resend, want 120 (counted once)", got)
	}
	stop := rsAcct(t, 3, rfc2866.AcctStatusType_Value_Stop, mac, "rs-0002", 150)
	wantReply(t, roundTrip(t, c2, stop), stop, radius.CodeAccountingResponse)
	if got := e.rdb.HGet(ctx, "hs:{aabbccddee08}:s:1", "time_cons").Val(); got != "150" {
		t.Errorf("time_cons = %q after the Stop, want 150", got)
	}
}

// rsNAS answers the Disconnect/CoA requests it reads on its connection, as
// a NAS would (crypto/tls; RFC 5176 codes), while the test sends its own
// requests on the same connection.
type rsNAS struct {
	c   *tls.Conn
	mu  sync.Mutex
	got []*radius.Packet
	// replies are the server's answers to the NAS's own requests.
	replies chan []byte
	done    chan struct{}
}

// online gives mac a one-hour session and starts its NAS session acctID on
// nas's connection (Identifier id), waiting for the Accounting-Response.
func (e *rsEnv) online(t *testing.T, nas *rsNAS, id byte, mac, acctID string) {
	t.Helper()
	if _, err := e.mgr.CreateSession(context.Background(), mac, session.Spec{Type: session.TypeTime, TimeSecs: 3600, DownMbits: 10, UpMbits: 2}); err != nil {
		t.Fatal(err)
	}
	start := rsAcct(t, id, rfc2866.AcctStatusType_Value_Start, mac, acctID, 0)
	if _, err := nas.c.Write(start); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-nas.replies:
		wantReply(t, b, start, radius.CodeAccountingResponse)
	case <-time.After(enfArrive):
		t.Fatal("no Accounting-Response")
	}
}

func startRSNAS(t *testing.T, c *tls.Conn, answer radius.Code) *rsNAS {
	n := &rsNAS{c: c, replies: make(chan []byte, 16), done: make(chan struct{})}
	go func() {
		defer close(n.done)
		buf := make([]byte, radsec.MaxLen)
		for {
			b, err := radsec.ReadFrame(c, buf, nil)
			if err != nil {
				return
			}
			switch radius.Code(b[0]) {
			case radius.CodeDisconnectRequest, radius.CodeCoARequest:
				p, err := radius.Parse(b, []byte(rsSecret))
				if err != nil || !packet.VerifyRequest(b, []byte(rsSecret)) {
					t.Errorf("Disconnect/CoA request does not verify with the RadSec secret: %v", err)
					return
				}
				n.mu.Lock()
				n.got = append(n.got, p)
				n.mu.Unlock()
				code := answer
				if p.Code == radius.CodeCoARequest {
					code = radius.CodeCoAACK
				}
				r := p.Response(code)
				out, err := r.Encode()
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Write(out); err != nil {
					return
				}
			default:
				n.replies <- append([]byte(nil), b...)
			}
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-n.done })
	return n
}

// TestRadSecDisconnectOverConnection: a NAS behind NAT (known by its
// certificate, no address) gets a Disconnect-Request over its own RadSec
// connection, and its ACK is matched to it.
func TestRadSecDisconnectOverConnection(t *testing.T) {
	closed := newCloses()
	e := startRadSec(t, rsOptions{wrap: closed.wrap})
	ctx := context.Background()
	c, err := e.dial(t, e.site7)
	if err != nil {
		t.Fatal(err)
	}
	nas := startRSNAS(t, c, radius.CodeDisconnectACK)
	e.online(t, nas, 1, "aa:bb:cc:dd:ee:09", "rs-0003")
	res, err := e.srv.DisconnectDevice(ctx, session.MAC("aabbccddee09"))
	if err != nil || len(res) != 1 || res[0].Outcome != radiusd.DynAuthACK {
		t.Fatalf("DisconnectDevice: %+v, %v; want one ack", res, err)
	}
	if res[0].NAS != "site-7" || res[0].AcctSessionID != "rs-0003" {
		t.Errorf("answered by %s/%s, want site-7/rs-0003", res[0].NAS, res[0].AcctSessionID)
	}
	nas.mu.Lock()
	defer nas.mu.Unlock()
	if len(nas.got) != 1 || rfc2866.AcctSessionID_GetString(nas.got[0]) != "rs-0003" {
		t.Fatalf("NAS got %d requests, want one Disconnect-Request for rs-0003", len(nas.got))
	}
	if got := e.count(t, "radiusd_dynauth_requests_total", "kind", "disconnect", "result", radiusd.DynAuthACK); got != 1 {
		t.Errorf("dynauth disconnect ack = %v, want 1", got)
	}

	// Without a connection the NAS, which has no address, cannot be reached:
	// a clear error, no UDP packet to nowhere.
	_ = c.Close()
	<-nas.done
	closed.wait(t, c)
	if n := e.srv.RadSecConnected(); len(n) != 0 {
		t.Fatalf("connected after the close: %v", n)
	}
	res, err = e.srv.DisconnectDevice(ctx, session.MAC("aabbccddee09"))
	if err != nil || len(res) != 1 || res[0].Outcome != radiusd.DynAuthError {
		t.Fatalf("DisconnectDevice without a connection: %+v, %v; want one error", res, err)
	}
}

// closeTap is a listener whose connections report when the server closes
// them: after the server's last word on a connection (it closes the socket
// after forgetting the connection).
type closeTap struct {
	net.Listener
	closed chan string // the remote address of each connection closed
}

func (l *closeTap) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, closed: l.closed}, nil
}

type tapConn struct {
	net.Conn
	once   sync.Once
	closed chan string
}

func (c *tapConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.closed <- c.RemoteAddr().String() })
	return err
}

// closes is what a closeTap reports.
type closes struct {
	ch   chan string
	seen map[string]bool
}

func newCloses() *closes { return &closes{ch: make(chan string, 64), seen: map[string]bool{}} }

func (cl *closes) wrap(ln net.Listener) net.Listener { return &closeTap{Listener: ln, closed: cl.ch} }

// wait waits for the server to close the connection whose local end is c.
func (cl *closes) wait(t *testing.T, c net.Conn) {
	t.Helper()
	want := c.LocalAddr().String()
	deadline := time.After(enfArrive)
	for !cl.seen[want] {
		select {
		case a := <-cl.ch:
			cl.seen[a] = true
		case <-deadline:
			t.Fatalf("the server did not close the connection from %s", want)
		}
	}
}

// TestRadSecReload: ReloadRadSec (SIGHUP) serves a renewed certificate to
// new connections; a broken file is refused with an error naming it, and
// the loaded certificate stays in use.
func TestRadSecReload(t *testing.T) {
	e := startRadSec(t, rsOptions{})
	served := func() string {
		t.Helper()
		c, err := e.dial(t, e.site7)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := served()
	renewed := e.ca.Server(t, "radius-renewed")
	for from, to := range map[string]string{renewed.CertFile: e.cfg.Files.Cert, renewed.KeyFile: e.cfg.Files.Key} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.srv.ReloadRadSec(); err != nil {
		t.Fatal(err)
	}
	after := served()
	if after == before {
		t.Fatal("the renewed certificate is not served after ReloadRadSec")
	}
	if err := os.WriteFile(e.cfg.Files.ClientCA, []byte("broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := e.srv.ReloadRadSec()
	if err == nil || !strings.Contains(err.Error(), e.cfg.Files.ClientCA) {
		t.Fatalf("broken client_ca: %v, want an error naming the file", err)
	}
	if served() != after {
		t.Error("a failed reload changed the served certificate")
	}
}

// TestRadSecAddressNASFallsBackToUDP: a NAS recognised on RadSec by its
// address (its entry has no certificate identity; any certificate of the CA
// will do) gets Disconnect over its connection while it is open, and over
// UDP to its address, with its UDP secret, once it is not.
func TestRadSecAddressNASFallsBackToUDP(t *testing.T) {
	coa := startCoANAS(t, coaACK, 0)
	closed := newCloses()
	e := startRadSec(t, rsOptions{wrap: closed.wrap, office: func(n *radiusd.NAS) {
		n.Prefix, n.CoAPort = netip.MustParsePrefix("127.0.0.1/32"), coa.port()
	}})
	ctx := context.Background()
	c, err := e.dial(t, e.ca.Client(t, "ap-1"))
	if err != nil {
		t.Fatal(err)
	}
	nas := startRSNAS(t, c, radius.CodeDisconnectACK)
	e.online(t, nas, 1, "aa:bb:cc:dd:ee:0a", "rs-0004")
	if got := e.rdb.HGet(ctx, "hs:{aabbccddee0a}:acct:office:rs-0004", "state").Val(); got != "open" {
		t.Fatalf("record office/rs-0004: state %q, want open", got)
	}
	res, err := e.srv.DisconnectDevice(ctx, session.MAC("aabbccddee0a"))
	if err != nil || len(res) != 1 || res[0].Outcome != radiusd.DynAuthACK {
		t.Fatalf("DisconnectDevice over the connection: %+v, %v; want one ack", res, err)
	}
	nas.mu.Lock()
	overTLS := len(nas.got)
	nas.mu.Unlock()
	if overTLS != 1 {
		t.Fatalf("%d requests over the connection, want 1", overTLS)
	}

	_ = c.Close()
	<-nas.done
	closed.wait(t, c)
	res, err = e.srv.DisconnectDevice(ctx, session.MAC("aabbccddee0a"))
	if err != nil || len(res) != 1 || res[0].Outcome != radiusd.DynAuthACK {
		t.Fatalf("DisconnectDevice over UDP: %+v, %v; want one ack", res, err)
	}
	r := coa.next(t, enfArrive)
	if r.err != nil || rfc2866.AcctSessionID_GetString(r.p) != "rs-0004" {
		t.Fatalf("UDP request: %v (want it authentic with the NAS's UDP secret, for rs-0004)", r.err)
	}
}

// TestRadSecShutdown: Shutdown with a NAS connected returns once in-flight
// requests are answered, and closes the connection (the NAS reads its end).
func TestRadSecShutdown(t *testing.T) {
	e := startRadSec(t, rsOptions{})
	c, err := e.dial(t, e.site7)
	if err != nil {
		t.Fatal(err)
	}
	req := rsStatusServer(t)
	wantReply(t, roundTrip(t, c, req), req, radius.CodeAccessAccept)
	ctx, cancel := context.WithTimeout(context.Background(), enfArrive)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(enfArrive))
	if _, err := radsec.ReadFrame(c, make([]byte, radsec.MaxLen), nil); !errors.Is(err, io.EOF) {
		t.Errorf("after Shutdown the NAS reads %v, want io.EOF (close_notify)", err)
	}
}

// TestRadSecDynAuthConcurrent: CoA and Disconnect requests for many NAS
// sessions at once share the NAS's one connection, each matched to its
// answer by Identifier.
func TestRadSecDynAuthConcurrent(t *testing.T) {
	e := startRadSec(t, rsOptions{})
	ctx := context.Background()
	c, err := e.dial(t, e.site7)
	if err != nil {
		t.Fatal(err)
	}
	nas := startRSNAS(t, c, radius.CodeDisconnectACK)
	const devices = 12
	mac := func(i int) string { return fmt.Sprintf("02:00:00:00:77:%02x", i) }
	for i := range devices {
		e.online(t, nas, byte(i), mac(i), fmt.Sprintf("cc-%02d", i))
	}
	results := make(chan []radiusd.DynAuthResult, devices)
	errs := make(chan error, devices)
	for i := range devices {
		go func() {
			m := session.MAC(fmt.Sprintf("0200000077%02x", i))
			var (
				res []radiusd.DynAuthResult
				err error
			)
			if i%2 == 0 {
				res, err = e.srv.UpdateDevice(ctx, m, radiusd.DeviceChange{})
			} else {
				res, err = e.srv.DisconnectDevice(ctx, m)
			}
			results <- res
			errs <- err
		}()
	}
	ids := map[string]bool{}
	for range devices {
		res, err := <-results, <-errs
		if err != nil || len(res) != 1 || res[0].Outcome != radiusd.DynAuthACK {
			t.Fatalf("got %+v, %v; want one ack", res, err)
		}
		ids[res[0].AcctSessionID] = true
	}
	if len(ids) != devices {
		t.Errorf("answers for %d NAS sessions, want %d", len(ids), devices)
	}
	nas.mu.Lock()
	defer nas.mu.Unlock()
	kinds := map[radius.Code]int{}
	for _, p := range nas.got {
		kinds[p.Code]++
	}
	if kinds[radius.CodeCoARequest] != devices/2 || kinds[radius.CodeDisconnectRequest] != devices/2 {
		t.Errorf("NAS got %v, want %d CoA and %d Disconnect requests", kinds, devices/2, devices/2)
	}
}

// TestRadSecBackPressure: at the in-flight bound a RadSec connection waits
// for a place (TCP slows the NAS down) instead of dropping: 300 requests
// pipelined with max_in_flight 2 are all answered.
func TestRadSecBackPressure(t *testing.T) {
	e := startRadSec(t, rsOptions{maxInFlight: 2})
	c, err := e.dial(t, e.site7)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var all []byte
	for range n {
		all = append(all, rsStatusServer(t)...)
	}
	_ = c.SetDeadline(time.Now().Add(enfArrive))
	go func() { _, _ = c.Write(all) }()
	buf := make([]byte, radsec.MaxLen)
	for i := range n {
		if _, err := radsec.ReadFrame(c, buf, nil); err != nil {
			t.Fatalf("reply %d of %d: %v", i+1, n, err)
		}
	}
	if got := e.count(t, "radiusd_packets_total", "listener", "radsec", "outcome", radiusd.OutcomeOverload); got != 0 {
		t.Errorf("overload = %v, want 0", got)
	}
}
