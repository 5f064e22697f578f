package radiusd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/mikrotik"
	"layeh.com/radius/vendors/wispr"

	"github.com/hotspot-radius/hsradius/dictionary/chillispot"
	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/radiusd/metric/prom"
	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// Enforcement in these tests: short timers, so that a timed-out request
// costs well under a second. The schedule tests are the one place where
// real time passes (sessions of 1–2 s).
const (
	enfTimeout = 200 * time.Millisecond
	enfTries   = 3
	enfEvery   = 50 * time.Millisecond
	// enfArrive is the generous deadline for what must happen.
	enfArrive = 5 * time.Second
	// enfQuiet is the bounded wait for what must not happen: a whole
	// retransmission cycle plus a few schedule ticks.
	enfQuiet = 3*enfEvery + enfTries*enfTimeout
)

// RFC 5176 codes and attributes the fake NAS deals in.
const (
	enfErrorCause       = 101 // Error-Cause
	enfNoSessionContext = 503 // Session Context Not Found
	enfMAType           = 80  // Message-Authenticator
)

// coaAnswer is how the fake NAS answers a request.
type coaAnswer int

const (
	coaACK    coaAnswer = iota // Disconnect-ACK / CoA-ACK
	coaNAK                     // Disconnect-NAK / CoA-NAK with Error-Cause 503
	coaSilent                  // nothing: the server times out
)

// coaReq is one datagram the fake NAS received.
type coaReq struct {
	raw  []byte
	p    *radius.Packet // its attributes
	err  error          // why it failed verification (nil: authentic)
	sent radius.Code    // the answer (0: none)
}

// coaNAS is the NAS side of RFC 5176: it verifies every request's Request
// Authenticator and Message-Authenticator with its secret, hands each
// request to the test on reqs, and answers ACK, NAK or nothing. It can lose
// the first requests to make the server retransmit.
type coaNAS struct {
	conn   *net.UDPConn
	secret []byte
	reqs   chan coaReq

	mu     sync.Mutex
	answer coaAnswer
	drop   int // requests still to leave unanswered
	lost   int // requests that did not fit in reqs
}

func startCoANAS(t *testing.T, answer coaAnswer, drop int) *coaNAS {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	n := &coaNAS{conn: conn, secret: []byte(e2eSecret), reqs: make(chan coaReq, 64), answer: answer, drop: drop}
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.serve()
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-done
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.lost > 0 {
			t.Errorf("fake NAS: %d requests beyond its buffer", n.lost)
		}
	})
	return n
}

func (n *coaNAS) port() int { return n.conn.LocalAddr().(*net.UDPAddr).Port }

func (n *coaNAS) serve() {
	buf := make([]byte, 4096)
	for {
		size, src, err := n.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		r := coaReq{raw: bytes.Clone(buf[:size])}
		r.p, r.err = verifyCoARequest(r.raw, n.secret)
		n.mu.Lock()
		answer, lose := n.answer, n.drop > 0
		if lose {
			n.drop--
		}
		n.mu.Unlock()
		if r.err == nil && !lose && answer != coaSilent {
			reply := n.reply(r.raw, answer)
			if _, err := n.conn.WriteToUDPAddrPort(reply, src); err == nil {
				r.sent = radius.Code(reply[0])
			}
		}
		select {
		case n.reqs <- r:
		default:
			n.mu.Lock()
			n.lost++
			n.mu.Unlock()
		}
	}
}

// reply builds the ACK or NAK to req: a Message-Authenticator first
// (computed with the request's authenticator in place, RFC 3579 §3.2), then
// the Response Authenticator MD5(Code+ID+Length+RequestAuth+Attributes+Secret).
func (n *coaNAS) reply(req []byte, answer coaAnswer) []byte {
	code := radius.CodeDisconnectACK
	if radius.Code(req[0]) == radius.CodeCoARequest {
		code = radius.CodeCoAACK
	}
	attrs := []byte{enfMAType, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if answer == coaNAK {
		code++ // Disconnect-NAK = ACK + 1, CoA-NAK likewise
		attrs = append(attrs, enfErrorCause, 6, 0, 0, 0, 0)
		binary.BigEndian.PutUint32(attrs[len(attrs)-4:], enfNoSessionContext)
	}
	b := make([]byte, 20, 20+len(attrs))
	b[0], b[1] = byte(code), req[1]
	binary.BigEndian.PutUint16(b[2:4], uint16(20+len(attrs)))
	copy(b[4:20], req[4:20])
	b = append(b, attrs...)
	packet.SignReply(b, packet.HeaderLen+2, [16]byte(req[4:20]), n.secret)
	return b
}

// verifyCoARequest checks a Disconnect-Request or CoA-Request as a NAS
// must (RFC 5176 §3.5): the Request Authenticator is
// MD5(Code+ID+Length+16 zero octets+Attributes+Secret), and the
// Message-Authenticator is HMAC-MD5 over the packet with the authenticator
// field and its own value zeroed.
func verifyCoARequest(raw, secret []byte) (*radius.Packet, error) {
	pkt, maOff, err := packet.Check(raw)
	if err != nil {
		return nil, err
	}
	if len(pkt) != len(raw) {
		return nil, fmt.Errorf("length field %d disagrees with the datagram (%d octets)", len(pkt), len(raw))
	}
	if c := radius.Code(raw[0]); c != radius.CodeDisconnectRequest && c != radius.CodeCoARequest {
		return nil, fmt.Errorf("code %v: not a Disconnect-Request or CoA-Request", c)
	}
	if !packet.VerifyRequest(raw, secret) {
		return nil, errors.New("request authenticator does not verify")
	}
	if maOff == 0 {
		return nil, errors.New("no Message-Authenticator")
	}
	if !packet.VerifyRequestMA(raw, maOff, secret) {
		return nil, errors.New("Message-Authenticator does not verify")
	}
	return radius.Parse(raw, secret)
}

// next returns the next request the NAS received, failing the test when none
// arrives within d or when it did not verify.
func (n *coaNAS) next(t *testing.T, d time.Duration) coaReq {
	t.Helper()
	select {
	case r := <-n.reqs:
		if r.err != nil {
			t.Fatalf("fake NAS got a request that does not verify: %v (% x)", r.err, r.raw)
		}
		return r
	case <-time.After(d):
		t.Fatalf("fake NAS: no Disconnect/CoA request within %v", d)
		return coaReq{}
	}
}

// none fails the test if the NAS receives anything within d.
func (n *coaNAS) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case r := <-n.reqs:
		t.Fatalf("fake NAS got an unexpected %v (Identifier %d, Acct-Session-Id %q)", radius.Code(r.raw[0]), r.raw[1], coaAcctID(r))
	case <-time.After(d):
	}
}

func coaAcctID(r coaReq) string {
	if r.p == nil {
		return ""
	}
	return rfc2866.AcctSessionID_GetString(r.p)
}

// enfLogLine is the server's "dynamic authorization" log line: the signal
// that a request ended (the metric is counted just before it).
type enfLogLine struct {
	Message       string `json:"message"`
	Request       string `json:"request"`
	Reason        string `json:"reason"`
	Result        string `json:"result"`
	ErrorCause    uint32 `json:"error_cause"`
	Attempts      int    `json:"attempts"`
	AcctSessionID string `json:"acct_session_id"`
}

// enfLogTap is the server's log: lines go to t.Log while the test runs, and
// dynamic authorization results to a channel.
type enfLogTap struct {
	t     *testing.T
	lines chan enfLogLine
	mu    sync.Mutex
	done  bool
}

func (l *enfLogTap) Write(p []byte) (int, error) {
	var line enfLogLine
	if json.Unmarshal(p, &line) == nil && line.Message == "dynamic authorization" {
		select {
		case l.lines <- line:
		default:
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (l *enfLogTap) stop() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}

// enfClock is a settable clock for the admin tests.
type enfClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *enfClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *enfClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// enfServer is the real server with enforcement on, on a real redis-server,
// its accounting listener on loopback and its CoA port the fake NAS's.
type enfServer struct {
	srv      *radiusd.Server
	mgr      *session.SessionsMgr
	vouchers *voucher.Manager
	reg      *prometheus.Registry
	acct     string
	auth     string
	logs     chan enfLogLine
}

type enfOptions struct {
	nas func(*radiusd.NAS) // edits the NAS entry
	now func() time.Time   // the server's clock (time.Now)
}

func startEnforced(t *testing.T, redisAddr string, nas *coaNAS, opts enfOptions) *enfServer {
	t.Helper()
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{redisAddr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := radiusd.NewMetrics(prom.Registry(reg))
	if err != nil {
		t.Fatal(err)
	}
	now := opts.now
	if now == nil {
		now = time.Now
	}
	tap := &enfLogTap{t: t, lines: make(chan enfLogLine, 64)}
	entry := radiusd.NAS{
		Name: "hotspot-1", Prefix: netip.MustParsePrefix("127.0.0.1/32"), Secret: []byte(e2eSecret),
		Profiles: []radiusd.Profile{radiusd.ProfileWISPr, radiusd.ProfileChilli, radiusd.ProfileMikroTik},
		MAPolicy: radiusd.MAOptional, CoAPort: nas.port(),
	}
	if opts.nas != nil {
		opts.nas(&entry)
	}
	vm := voucher.NewManager(store, now)
	srv, err := radiusd.New(radiusd.Config{
		NAS:      []radiusd.NAS{entry},
		Store:    store,
		Vouchers: vm,
		Log:      zerolog.New(tap).Level(zerolog.InfoLevel),
		Metrics:  m,
		Now:      now,
		Enforce:  &radiusd.EnforceConfig{Store: store, DynAuthTimeout: enfTimeout, DynAuthTries: enfTries, ScheduleEvery: enfEvery},
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(conn, radiusd.Acct) }()
	authConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(authConn, radiusd.Auth) }()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- srv.RunEnforcement(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("RunEnforcement: %v", err)
		}
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		tap.stop()
	})
	return &enfServer{srv: srv, mgr: session.NewSessionsMgr(store, now), vouchers: vm, reg: reg,
		acct: conn.LocalAddr().String(), auth: authConn.LocalAddr().String(), logs: tap.lines}
}

func (e *enfServer) create(t *testing.T, mac string, spec session.Spec) {
	t.Helper()
	if _, err := e.mgr.CreateSession(context.Background(), mac, spec); err != nil {
		t.Fatal(err)
	}
}

// enfNASSession is how the NAS names one of its sessions in accounting, and
// what it expects back in a Disconnect/CoA.
type enfNASSession struct {
	user, mac, framedIP, nasIP, nasID, acctID string
}

// account sends one Accounting-Request the way a NAS does (layeh encoder,
// over UDP) and waits for its Accounting-Response: after it, the store has
// the packet.
func (e *enfServer) account(t *testing.T, status rfc2866.AcctStatusType, s enfNASSession, secs uint32, in, out uint64) {
	t.Helper()
	p := radius.New(radius.CodeAccountingRequest, []byte(e2eSecret))
	_ = rfc2866.AcctStatusType_Set(p, status)
	_ = rfc2865.UserName_SetString(p, s.user)
	_ = rfc2865.CallingStationID_SetString(p, s.mac)
	_ = rfc2865.FramedIPAddress_Set(p, net.ParseIP(s.framedIP).To4())
	_ = rfc2865.NASIPAddress_Set(p, net.ParseIP(s.nasIP).To4())
	_ = rfc2865.NASIdentifier_SetString(p, s.nasID)
	_ = rfc2866.AcctSessionID_SetString(p, s.acctID)
	_ = rfc2866.AcctSessionTime_Set(p, rfc2866.AcctSessionTime(secs))
	_ = rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(uint32(in)))
	_ = rfc2866.AcctOutputOctets_Set(p, rfc2866.AcctOutputOctets(uint32(out)))
	if in>>32 > 0 {
		_ = rfc2869.AcctInputGigawords_Set(p, rfc2869.AcctInputGigawords(in>>32))
	}
	if out>>32 > 0 {
		_ = rfc2869.AcctOutputGigawords_Set(p, rfc2869.AcctOutputGigawords(out>>32))
	}
	ctx, cancel := context.WithTimeout(context.Background(), enfArrive)
	defer cancel()
	reply, err := radius.Exchange(ctx, p, e.acct)
	if err != nil {
		t.Fatalf("Accounting-Request %v for %s: %v", status, s.acctID, err)
	}
	if reply.Code != radius.CodeAccountingResponse {
		t.Fatalf("Accounting-Request %v: got %v, want Accounting-Response", status, reply.Code)
	}
}

// result waits for the server to log the end of a Disconnect/CoA.
func (e *enfServer) result(t *testing.T) enfLogLine {
	t.Helper()
	select {
	case l := <-e.logs:
		return l
	case <-time.After(enfArrive):
		t.Fatalf("no dynamic authorization result logged within %v", enfArrive)
		return enfLogLine{}
	}
}

// enfDynAuthCounts returns radiusd_dynauth_requests_total as "kind/result" →
// value, from any number of registries.
func enfDynAuthCounts(t *testing.T, regs ...*prometheus.Registry) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, reg := range regs {
		if n, err := testutil.GatherAndCount(reg, "radiusd_dynauth_requests_total"); err != nil {
			t.Fatal(err)
		} else if n == 0 {
			continue
		}
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
				if v := m.GetCounter().GetValue(); v != 0 { // not the series made at 0 for alerts
					out[l["kind"]+"/"+l["result"]] += v
				}
			}
		}
	}
	return out
}

func wantDynAuthCounts(t *testing.T, got, want map[string]float64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("radiusd_dynauth_requests_total: got %v, want %v", got, want)
	}
}

// wantCoAIdentifies checks that a request names the NAS session as the NAS
// did in its accounting (RFC 5176 §3).
func wantCoAIdentifies(t *testing.T, r coaReq, s enfNASSession) {
	t.Helper()
	for _, c := range []struct{ attr, got, want string }{
		{"User-Name", rfc2865.UserName_GetString(r.p), s.user},
		{"Acct-Session-Id", rfc2866.AcctSessionID_GetString(r.p), s.acctID},
		{"Calling-Station-Id", rfc2865.CallingStationID_GetString(r.p), s.mac},
		{"Framed-IP-Address", rfc2865.FramedIPAddress_Get(r.p).String(), s.framedIP},
		{"NAS-IP-Address", rfc2865.NASIPAddress_Get(r.p).String(), s.nasIP},
		{"NAS-Identifier", rfc2865.NASIdentifier_GetString(r.p), s.nasID},
	} {
		if c.got != c.want {
			t.Errorf("%v %s: got %q, want %q", radius.Code(r.raw[0]), c.attr, c.got, c.want)
		}
	}
}

func wantCoACode(t *testing.T, r coaReq, want radius.Code) {
	t.Helper()
	if got := radius.Code(r.raw[0]); got != want {
		t.Fatalf("fake NAS got %v (Acct-Session-Id %q), want %v", got, coaAcctID(r), want)
	}
}

// wantCoANoLimits checks that a Disconnect-Request carries no limits: only
// what identifies the session (and its Message-Authenticator).
func wantCoANoLimits(t *testing.T, r coaReq) {
	t.Helper()
	for _, a := range r.p.Attributes {
		switch a.Type {
		case rfc2865.UserName_Type, rfc2866.AcctSessionID_Type, rfc2865.CallingStationID_Type, rfc2865.FramedIPAddress_Type,
			rfc2865.NASIPAddress_Type, rfc2865.NASIdentifier_Type, enfMAType:
		default:
			t.Errorf("Disconnect-Request carries attribute %d", a.Type)
		}
	}
}

func enfSession(n int) enfNASSession {
	return enfNASSession{
		user:     fmt.Sprintf("guest-%d", n),
		mac:      fmt.Sprintf("02-00-00-00-10-%02X", n),
		framedIP: fmt.Sprintf("10.1.0.%d", n),
		nasIP:    "192.0.2.1",
		nasID:    "hotspot-lab",
		acctID:   fmt.Sprintf("8000%04X", n),
	}
}

// TestEnforceDataExhaustedDisconnect: an interim that takes a data session
// past its allocation makes the server send a Disconnect-Request that names
// the NAS session, and count the NAS's answer. A lost request is
// retransmitted with the same Identifier and bytes.
func TestEnforceDataExhaustedDisconnect(t *testing.T) {
	for _, tc := range []struct {
		name       string
		answer     coaAnswer
		drop       int
		wantResult string
		wantCause  uint32
		wantCopies int
	}{
		{name: "ack", answer: coaACK, wantResult: radiusd.DynAuthACK, wantCopies: 1},
		{name: "nak with Error-Cause", answer: coaNAK, wantResult: radiusd.DynAuthNAK, wantCause: enfNoSessionContext, wantCopies: 1},
		{name: "timeout", answer: coaSilent, wantResult: radiusd.DynAuthTimeout, wantCopies: enfTries},
		{name: "first request lost", answer: coaACK, drop: 1, wantResult: radiusd.DynAuthACK, wantCopies: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t)
			nas := startCoANAS(t, tc.answer, tc.drop)
			e := startEnforced(t, rs.Addr, nas, enfOptions{})
			s := enfSession(1)
			e.create(t, s.mac, session.Spec{Type: session.TypeData, DataMb: 10, DownMbits: 10, UpMbits: 2})

			e.account(t, rfc2866.AcctStatusType_Value_Start, s, 0, 0, 0)
			// 2 MB up + 10 MB down = 12 MB of a 10 MB session.
			e.account(t, rfc2866.AcctStatusType_Value_InterimUpdate, s, 300, 2_000_000, 10_000_000)

			first := nas.next(t, enfArrive)
			wantCoACode(t, first, radius.CodeDisconnectRequest)
			wantCoAIdentifies(t, first, s)
			wantCoANoLimits(t, first)
			for i := 2; i <= tc.wantCopies; i++ {
				r := nas.next(t, enfArrive)
				if r.raw[1] != first.raw[1] {
					t.Errorf("copy %d: Identifier %d, want %d (a retransmission keeps it)", i, r.raw[1], first.raw[1])
				}
				if !bytes.Equal(r.raw, first.raw) {
					t.Errorf("copy %d differs from the first:\n% x\n% x", i, r.raw, first.raw)
				}
			}
			got := e.result(t)
			if got.Request != "disconnect" || got.Reason != "exhausted" || got.Result != tc.wantResult ||
				got.ErrorCause != tc.wantCause || got.Attempts != tc.wantCopies || got.AcctSessionID != s.acctID {
				t.Errorf("logged %+v, want a disconnect (exhausted) of %s: %s, error cause %d, %d attempts",
					got, s.acctID, tc.wantResult, tc.wantCause, tc.wantCopies)
			}
			nas.none(t, enfQuiet) // exactly wantCopies copies, no second request
			wantDynAuthCounts(t, enfDynAuthCounts(t, e.reg), map[string]float64{"disconnect/" + tc.wantResult: 1})
		})
	}
}

// TestEnforceSpillOverCoA: an interim that uses up the first of two time
// sessions moves the NAS session onto the second. The NAS is told the new
// limits in a CoA, counted from the start of its session (60 s used of the
// first + 570 s left of the second, 90 s in: Session-Timeout 660), with the
// second session's speeds in each of its vendor families, or, with
// OnSpill = disconnect, disconnected.
func TestEnforceSpillOverCoA(t *testing.T) {
	for _, tc := range []struct {
		name    string
		onSpill radiusd.SpillAction
		want    radius.Code
	}{
		{"coa", radiusd.SpillCoA, radius.CodeCoARequest},
		{"disconnect", radiusd.SpillDisconnect, radius.CodeDisconnectRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t)
			nas := startCoANAS(t, coaACK, 0)
			e := startEnforced(t, rs.Addr, nas, enfOptions{nas: func(n *radiusd.NAS) { n.OnSpill = tc.onSpill }})
			s := enfSession(2)
			e.create(t, s.mac, session.Spec{Type: session.TypeTime, TimeSecs: 60, DownMbits: 2, UpMbits: 1})
			e.create(t, s.mac, session.Spec{Type: session.TypeTime, TimeSecs: 600, DownMbits: 20, UpMbits: 5})

			e.account(t, rfc2866.AcctStatusType_Value_Start, s, 0, 0, 0)
			e.account(t, rfc2866.AcctStatusType_Value_InterimUpdate, s, 90, 1_000_000, 5_000_000)

			r := nas.next(t, enfArrive)
			wantCoACode(t, r, tc.want)
			wantCoAIdentifies(t, r, s)
			kind := "disconnect"
			if tc.want == radius.CodeCoARequest {
				kind = "coa"
				if v, err := rfc2865.SessionTimeout_Lookup(r.p); err != nil || v != 660 {
					t.Errorf("CoA Session-Timeout: got %d (%v), want 660 (90 s in + 570 s left)", v, err)
				}
				for _, c := range []struct {
					attr      string
					got, want uint64
				}{
					{"WISPr-Bandwidth-Max-Down (bit/s)", uint64(wispr.WISPrBandwidthMaxDown_Get(r.p)), 20_000_000},
					{"WISPr-Bandwidth-Max-Up (bit/s)", uint64(wispr.WISPrBandwidthMaxUp_Get(r.p)), 5_000_000},
					{"ChilliSpot-Bandwidth-Max-Down (kbit/s)", uint64(chillispot.ChilliSpotBandwidthMaxDown_Get(r.p)), 20_000},
					{"ChilliSpot-Bandwidth-Max-Up (kbit/s)", uint64(chillispot.ChilliSpotBandwidthMaxUp_Get(r.p)), 5_000},
				} {
					if c.got != c.want {
						t.Errorf("CoA %s: got %d, want %d", c.attr, c.got, c.want)
					}
				}
				if got := mikrotik.MikrotikRateLimit_GetString(r.p); got != "5M/20M" {
					t.Errorf(`CoA Mikrotik-Rate-Limit: got %q, want "5M/20M" (rx = client upload first)`, got)
				}
				if _, err := chillispot.ChilliSpotMaxTotalOctets_Lookup(r.p); err == nil {
					t.Errorf("CoA for a time session carries ChilliSpot-Max-Total-Octets")
				}
				// CoovaChilli resets what a CoA omits: the Accept's interval again.
				if v, err := rfc2869.AcctInterimInterval_Lookup(r.p); err != nil || v != 300 {
					t.Errorf("CoA to a chillispot NAS: Acct-Interim-Interval %d (%v), want 300", v, err)
				}
			} else {
				wantCoANoLimits(t, r)
			}
			if got := e.result(t); got.Request != kind || got.Reason != "spill" || got.Result != radiusd.DynAuthACK {
				t.Errorf("logged %+v, want a %s (spill) acknowledged", got, kind)
			}
			nas.none(t, enfQuiet)
			wantDynAuthCounts(t, enfDynAuthCounts(t, e.reg), map[string]float64{kind + "/ack": 1})
		})
	}
}

// TestEnforceSpillDataLimit: RouterOS does not change Mikrotik-Total-Limit
// by CoA, so a spill-over that changes the data limit a MikroTik holds
// disconnects it (it re-authenticates and gets the new limit), even with
// on_spill: coa; a spill between time sessions, which changes only speeds
// and time, is a CoA. CoovaChilli takes a new octet limit by CoA, counted
// from the start of the NAS session, with the Accept's interval again.
func TestEnforceSpillDataLimit(t *testing.T) {
	timeSess := func(secs uint) session.Spec {
		return session.Spec{Type: session.TypeTime, TimeSecs: secs, DownMbits: 20, UpMbits: 5}
	}
	dataSess := func(mb float64) session.Spec {
		return session.Spec{Type: session.TypeData, DataMb: mb, DownMbits: 20, UpMbits: 5}
	}
	for _, tc := range []struct {
		name          string
		profile       radiusd.Profile
		first, second session.Spec
		secs          uint32
		in, out       uint64
		want          radius.Code
	}{
		// 2 + 10 MB of a 10 MB session: the rest goes to the second.
		{"mikrotik data to data", radiusd.ProfileMikroTik, dataSess(10), dataSess(100), 90, 2_000_000, 10_000_000, radius.CodeDisconnectRequest},
		// The router still holds the first session's Total-Limit.
		{"mikrotik data to time", radiusd.ProfileMikroTik, dataSess(10), timeSess(600), 90, 2_000_000, 10_000_000, radius.CodeDisconnectRequest},
		// It held no data limit, and must now have one.
		{"mikrotik time to data", radiusd.ProfileMikroTik, timeSess(60), dataSess(100), 90, 1_000_000, 1_000_000, radius.CodeDisconnectRequest},
		{"mikrotik time to time", radiusd.ProfileMikroTik, timeSess(60), timeSess(600), 90, 1_000_000, 1_000_000, radius.CodeCoARequest},
		{"chillispot data to data", radiusd.ProfileChilli, dataSess(10), dataSess(100), 90, 2_000_000, 10_000_000, radius.CodeCoARequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t)
			nas := startCoANAS(t, coaACK, 0)
			e := startEnforced(t, rs.Addr, nas, enfOptions{nas: func(n *radiusd.NAS) {
				n.Profiles = []radiusd.Profile{tc.profile}
				n.OnSpill = radiusd.SpillCoA
			}})
			s := enfSession(9)
			e.create(t, s.mac, tc.first)
			e.create(t, s.mac, tc.second)

			e.account(t, rfc2866.AcctStatusType_Value_Start, s, 0, 0, 0)
			e.account(t, rfc2866.AcctStatusType_Value_InterimUpdate, s, tc.secs, tc.in, tc.out)

			r := nas.next(t, enfArrive)
			wantCoACode(t, r, tc.want)
			wantCoAIdentifies(t, r, s)
			kind := "disconnect"
			if tc.want == radius.CodeCoARequest {
				kind = "coa"
				if _, err := mikrotik.MikrotikTotalLimit_Lookup(r.p); err == nil {
					t.Errorf("CoA carries Mikrotik-Total-Limit, which RouterOS does not change by CoA")
				}
			} else {
				wantCoANoLimits(t, r)
			}
			switch tc.name {
			case "mikrotik time to time":
				if got := mikrotik.MikrotikRateLimit_GetString(r.p); got != "5M/20M" {
					t.Errorf(`CoA Mikrotik-Rate-Limit: got %q, want "5M/20M"`, got)
				}
				if v, err := rfc2865.SessionTimeout_Lookup(r.p); err != nil || v != 660 {
					t.Errorf("CoA Session-Timeout: got %d (%v), want 660 (90 s in + 570 s left)", v, err)
				}
			case "chillispot data to data":
				// 12 MB used + 98 MB left of the second, from the NAS session's start.
				if v, err := chillispot.ChilliSpotMaxTotalOctets_Lookup(r.p); err != nil || v != 110_000_000 {
					t.Errorf("CoA ChilliSpot-Max-Total-Octets: got %d (%v), want 110000000", v, err)
				}
				if v, err := rfc2869.AcctInterimInterval_Lookup(r.p); err != nil || v != 300 {
					t.Errorf("CoA Acct-Interim-Interval: got %d (%v), want 300", v, err)
				}
			}
			if got := e.result(t); got.Request != kind || got.Reason != "spill" || got.Result != radiusd.DynAuthACK {
				t.Errorf("logged %+v, want a %s (spill) acknowledged", got, kind)
			}
			nas.none(t, enfQuiet)
			wantDynAuthCounts(t, enfDynAuthCounts(t, e.reg), map[string]float64{kind + "/ack": 1})
		})
	}
}

// TestEnforceAdminMikroTikDataChange: after an operator's change, a
// MikroTik on a data session gets a CoA when its data limit is unchanged
// (new speed: Mikrotik-Rate-Limit, no Mikrotik-Total-Limit) and a Disconnect
// when the change was to the data (a top-up: it must re-authenticate to get
// the new Total-Limit).
func TestEnforceAdminMikroTikDataChange(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nas := startCoANAS(t, coaACK, 0)
	e := startEnforced(t, rs.Addr, nas, enfOptions{nas: func(n *radiusd.NAS) { n.Profiles = []radiusd.Profile{radiusd.ProfileMikroTik} }})
	s := enfSession(10)
	cs, err := e.mgr.CreateSession(context.Background(), s.mac, session.Spec{Type: session.TypeData, DataMb: 100, DownMbits: 10, UpMbits: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.account(t, rfc2866.AcctStatusType_Value_Start, s, 0, 0, 0)
	e.account(t, rfc2866.AcctStatusType_Value_InterimUpdate, s, 60, 1_000_000, 4_000_000)

	ctx, cancel := context.WithTimeout(context.Background(), enfArrive)
	defer cancel()
	for _, tc := range []struct {
		name   string
		change radiusd.DeviceChange
		want   radius.Code
	}{
		{"speed only", radiusd.DeviceChange{SessionID: cs.ID()}, radius.CodeCoARequest},
		{"another session's data", radiusd.DeviceChange{SessionID: session.NewID(cs.MAC(), 99), Data: true}, radius.CodeCoARequest},
		{"top-up", radiusd.DeviceChange{SessionID: cs.ID(), Data: true}, radius.CodeDisconnectRequest},
	} {
		res, err := e.srv.UpdateDevice(ctx, cs.MAC(), tc.change)
		if err != nil || len(res) != 1 || res[0].Outcome != radiusd.DynAuthACK {
			t.Fatalf("%s: UpdateDevice: %+v, %v; want one ack", tc.name, res, err)
		}
		r := nas.next(t, enfArrive)
		wantCoACode(t, r, tc.want)
		wantCoAIdentifies(t, r, s)
		if tc.want == radius.CodeCoARequest {
			if got := mikrotik.MikrotikRateLimit_GetString(r.p); got != "2M/10M" {
				t.Errorf(`%s: CoA Mikrotik-Rate-Limit: got %q, want "2M/10M"`, tc.name, got)
			}
			if _, err := mikrotik.MikrotikTotalLimit_Lookup(r.p); err == nil {
				t.Errorf("%s: CoA carries Mikrotik-Total-Limit, which RouterOS does not change by CoA", tc.name)
			}
		} else {
			wantCoANoLimits(t, r)
		}
		if got := e.result(t); got.Reason != "admin" || got.Result != radiusd.DynAuthACK {
			t.Errorf("%s: logged %+v, want reason admin, acknowledged", tc.name, got)
		}
	}
	wantDynAuthCounts(t, enfDynAuthCounts(t, e.reg), map[string]float64{"coa/ack": 2, "disconnect/ack": 1})
}

// TestScheduleDisconnectWithoutInterim: a NAS session that sends a Start
// and then nothing is disconnected when its time session ends. Real time
// passes here (2 s).
func TestScheduleDisconnectWithoutInterim(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nas := startCoANAS(t, coaACK, 0)
	e := startEnforced(t, rs.Addr, nas, enfOptions{})
	s := enfSession(3)
	e.create(t, s.mac, session.Spec{Type: session.TypeTime, TimeSecs: 2, DownMbits: 10, UpMbits: 2})

	e.account(t, rfc2866.AcctStatusType_Value_Start, s, 0, 0, 0)

	r := nas.next(t, enfArrive)
	wantCoACode(t, r, radius.CodeDisconnectRequest)
	wantCoAIdentifies(t, r, s)
	if got := e.result(t); got.Request != "disconnect" || got.Reason != "exhausted" || got.Result != radiusd.DynAuthACK {
		t.Errorf("logged %+v, want a disconnect (exhausted) acknowledged", got)
	}
	nas.none(t, enfQuiet)
	wantDynAuthCounts(t, enfDynAuthCounts(t, e.reg), map[string]float64{"disconnect/ack": 1})
}

// TestScheduleSpillWithoutInterim: a NAS that sends no interims is moved
// onto the device's next session when the first ends (CoA, limits from the
// start of its session: 1 s + 2 s), and disconnected when that one ends
// too: the scheduler charges the time it did not hear about across the
// sessions, as the next interim would. Real time passes here (3 s).
func TestScheduleSpillWithoutInterim(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nas := startCoANAS(t, coaACK, 0)
	e := startEnforced(t, rs.Addr, nas, enfOptions{})
	s := enfSession(4)
	e.create(t, s.mac, session.Spec{Type: session.TypeTime, TimeSecs: 1, DownMbits: 2, UpMbits: 1})
	e.create(t, s.mac, session.Spec{Type: session.TypeTime, TimeSecs: 2, DownMbits: 20, UpMbits: 5})

	e.account(t, rfc2866.AcctStatusType_Value_Start, s, 0, 0, 0)

	coa := nas.next(t, enfArrive)
	wantCoACode(t, coa, radius.CodeCoARequest)
	wantCoAIdentifies(t, coa, s)
	if v, err := rfc2865.SessionTimeout_Lookup(coa.p); err != nil || v != 3 {
		t.Errorf("CoA Session-Timeout: got %d (%v), want 3 (1 s + 2 s from the start of the NAS session)", v, err)
	}
	if got := chillispot.ChilliSpotBandwidthMaxDown_Get(coa.p); got != 20_000 {
		t.Errorf("CoA ChilliSpot-Bandwidth-Max-Down: got %d, want 20000 kbit/s", got)
	}
	r := nas.next(t, enfArrive)
	wantCoACode(t, r, radius.CodeDisconnectRequest)
	wantCoAIdentifies(t, r, s)
	nas.none(t, enfQuiet)
	for range 2 {
		e.result(t)
	}
	wantDynAuthCounts(t, enfDynAuthCounts(t, e.reg), map[string]float64{"coa/ack": 1, "disconnect/ack": 1})
}

// TestScheduleStopBeforeEnd: a NAS session that stops before its session's
// end is not disconnected. A second device, started after it with the same
// allocation, is the signal that the scheduler has passed the first one's
// end.
func TestScheduleStopBeforeEnd(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nas := startCoANAS(t, coaACK, 0)
	e := startEnforced(t, rs.Addr, nas, enfOptions{})
	stopped, control := enfSession(5), enfSession(6)
	for _, s := range []enfNASSession{stopped, control} {
		e.create(t, s.mac, session.Spec{Type: session.TypeTime, TimeSecs: 2, DownMbits: 10, UpMbits: 2})
	}

	e.account(t, rfc2866.AcctStatusType_Value_Start, stopped, 0, 0, 0)
	e.account(t, rfc2866.AcctStatusType_Value_Stop, stopped, 1, 1000, 2000)
	e.account(t, rfc2866.AcctStatusType_Value_Start, control, 0, 0, 0)

	r := nas.next(t, enfArrive)
	wantCoACode(t, r, radius.CodeDisconnectRequest)
	wantCoAIdentifies(t, r, control)
	nas.none(t, enfQuiet)
	e.result(t)
	wantDynAuthCounts(t, enfDynAuthCounts(t, e.reg), map[string]float64{"disconnect/ack": 1})
}

// TestScheduleTwoServersOneDisconnect: two servers on one Redis, both
// running the scheduler, send exactly one Disconnect-Request for a
// session's end.
func TestScheduleTwoServersOneDisconnect(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nas := startCoANAS(t, coaACK, 0)
	a := startEnforced(t, rs.Addr, nas, enfOptions{})
	b := startEnforced(t, rs.Addr, nas, enfOptions{})
	s := enfSession(7)
	a.create(t, s.mac, session.Spec{Type: session.TypeTime, TimeSecs: 2, DownMbits: 10, UpMbits: 2})

	a.account(t, rfc2866.AcctStatusType_Value_Start, s, 0, 0, 0)

	r := nas.next(t, enfArrive)
	wantCoACode(t, r, radius.CodeDisconnectRequest)
	wantCoAIdentifies(t, r, s)
	nas.none(t, enfQuiet)
	select {
	case <-a.logs:
	case <-b.logs:
	case <-time.After(enfArrive):
		t.Fatal("neither server logged the Disconnect's result")
	}
	wantDynAuthCounts(t, enfDynAuthCounts(t, a.reg, b.reg), map[string]float64{"disconnect/ack": 1})
}

// TestEnforceAdminCoAAndDisconnect: the admin API tells a NAS session the
// device's current limits, counted from the start of the NAS session: time
// the NAS has not yet reported counts as used (100 s reported + 50 s since
// + 450 s left = 600 s), and disconnects it on demand.
func TestEnforceAdminCoAAndDisconnect(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nas := startCoANAS(t, coaACK, 0)
	clock := &enfClock{now: time.Now().Truncate(time.Second)}
	e := startEnforced(t, rs.Addr, nas, enfOptions{now: clock.Now})
	s := enfSession(8)
	e.create(t, s.mac, session.Spec{Type: session.TypeTime, TimeSecs: 600, DownMbits: 10, UpMbits: 2})
	mac, err := session.ParseMAC(s.mac)
	if err != nil {
		t.Fatal(err)
	}

	e.account(t, rfc2866.AcctStatusType_Value_Start, s, 0, 0, 0)
	clock.Advance(100 * time.Second)
	e.account(t, rfc2866.AcctStatusType_Value_InterimUpdate, s, 100, 1_000_000, 2_000_000)
	clock.Advance(50 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), enfArrive)
	defer cancel()
	res, err := e.srv.UpdateDevice(ctx, mac, radiusd.DeviceChange{})
	if err != nil || len(res) != 1 || res[0].Outcome != radiusd.DynAuthACK {
		t.Fatalf("UpdateDevice: %+v, %v; want one ack", res, err)
	}
	r := nas.next(t, enfArrive)
	wantCoACode(t, r, radius.CodeCoARequest)
	wantCoAIdentifies(t, r, s)
	if v, err := rfc2865.SessionTimeout_Lookup(r.p); err != nil || v != 600 {
		t.Errorf("CoA Session-Timeout: got %d (%v), want 600 (the whole session, from the start of the NAS session)", v, err)
	}

	res, err = e.srv.DisconnectDevice(ctx, mac)
	if err != nil || len(res) != 1 || res[0].Outcome != radiusd.DynAuthACK {
		t.Fatalf("DisconnectDevice: %+v, %v; want one ack", res, err)
	}
	r = nas.next(t, enfArrive)
	wantCoACode(t, r, radius.CodeDisconnectRequest)
	wantCoAIdentifies(t, r, s)
	wantCoANoLimits(t, r)
	for range 2 {
		if got := e.result(t); got.Reason != "admin" {
			t.Errorf("logged %+v, want reason admin", got)
		}
	}
	wantDynAuthCounts(t, enfDynAuthCounts(t, e.reg), map[string]float64{"coa/ack": 1, "disconnect/ack": 1})
}

// TestRadclientExhaustDisconnect: an Interim-Update sent by radclient that
// uses up a data session gets the NAS session disconnected.
func TestRadclientExhaustDisconnect(t *testing.T) {
	radclientBin(t)
	t.Parallel()
	rs := redistest.Start(t)
	nas := startCoANAS(t, coaACK, 0)
	e := startEnforced(t, rs.Addr, nas, enfOptions{})
	e.create(t, "aa:bb:cc:dd:ee:0e", session.Spec{Type: session.TypeData, DataMb: 10, DownMbits: 10, UpMbits: 2})

	out, err := radclient(t, e.acct, "acct", "acct-exhaust.txt", e2eSecret)
	if err != nil || !strings.Contains(out, "Received Accounting-Response") {
		t.Fatalf("radclient: %v\n%s", err, out)
	}
	r := nas.next(t, enfArrive)
	wantCoACode(t, r, radius.CodeDisconnectRequest)
	// As in testdata/radclient/acct-exhaust.txt.
	wantCoAIdentifies(t, r, enfNASSession{
		user: "guest-exhaust", mac: "AA-BB-CC-DD-EE-0E", framedIP: "10.1.0.14", nasIP: "192.0.2.1",
		nasID: "hotspot-lab", acctID: "radclient-exhaust-1",
	})
	if got := e.result(t); got.Result != radiusd.DynAuthACK || got.Reason != "exhausted" {
		t.Errorf("logged %+v, want a disconnect (exhausted) acknowledged", got)
	}
	wantDynAuthCounts(t, enfDynAuthCounts(t, e.reg), map[string]float64{"disconnect/ack": 1})
}
