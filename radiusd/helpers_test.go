package radiusd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd/metric/prom"
	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/session"
)

// The fixed world of the tests: one NAS on 10.0.0.0/24, a device MAC, a
// clock that only moves when a test moves it.
var (
	testSecret = []byte("s3cret-shared")
	testSrc    = netip.MustParseAddrPort("10.0.0.5:40000")
	testMAC    = session.MAC("aa:bb:cc:dd:ee:ff")
	testNow    = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

// fakeStore is the Store the handlers talk to: sessions per MAC, a record
// of every accounting event and CloseNAS call, an injectable error, and an
// optional gate that holds calls until the test releases them.
type fakeStore struct {
	mu       sync.Mutex
	sessions map[session.MAC][]session.Data
	events   []session.AcctEvent
	closes   []closeCall
	lookups  []session.MAC // DeviceSessions arguments
	err      error         // returned by every method when set

	// When gate is set, every call first reports on entered (if set) and
	// then waits for gate to be closed or to yield a value.
	entered chan struct{}
	gate    chan struct{}
}

type closeCall struct {
	NAS    string
	At     time.Time
	Reason string
}

var _ Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{sessions: map[session.MAC][]session.Data{}}
}

func (f *fakeStore) put(ds ...session.Data) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range ds {
		f.sessions[d.MAC] = append(f.sessions[d.MAC], d)
	}
}

func (f *fakeStore) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeStore) wait() {
	f.mu.Lock()
	entered, gate := f.entered, f.gate
	f.mu.Unlock()
	if gate == nil {
		return
	}
	if entered != nil {
		entered <- struct{}{}
	}
	<-gate
}

func (f *fakeStore) DeviceSessions(_ context.Context, mac session.MAC) ([]session.Data, error) {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups = append(f.lookups, mac)
	if f.err != nil {
		return nil, f.err
	}
	return append([]session.Data(nil), f.sessions[mac]...), nil
}

func (f *fakeStore) Account(_ context.Context, ev session.AcctEvent) (session.AcctResult, error) {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	if f.err != nil {
		return session.AcctResult{}, f.err
	}
	sessions := f.sessions[ev.MAC]
	_, err := session.Current(sessions, ev.Now)
	return session.AcctResult{Outcome: session.AcctApplied, Sessions: sessions, Left: err == nil}, nil
}

func (f *fakeStore) CloseNAS(_ context.Context, nas string, at time.Time, reason string) (int, error) {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes = append(f.closes, closeCall{nas, at, reason})
	if f.err != nil {
		return 0, f.err
	}
	return 1, nil
}

// calls returns how many times the store was called, all methods together.
func (f *fakeStore) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.lookups) + len(f.events) + len(f.closes)
}

func (f *fakeStore) acctEvents() []session.AcctEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]session.AcctEvent(nil), f.events...)
}

func (f *fakeStore) closeCalls() []closeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]closeCall(nil), f.closes...)
}

// fakeClock is Config.Now: it moves only when the test says so.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recConn is a net.PacketConn that records what the server writes.
type recConn struct {
	mu     sync.Mutex
	writes []sentPacket
}

type sentPacket struct {
	b  []byte
	to net.Addr
}

func (c *recConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, sentPacket{append([]byte(nil), b...), addr})
	return len(b), nil
}

func (c *recConn) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, net.ErrClosed }
func (c *recConn) Close() error                           { return nil }
func (c *recConn) LocalAddr() net.Addr                    { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1812} }
func (c *recConn) SetDeadline(time.Time) error            { return nil }
func (c *recConn) SetReadDeadline(time.Time) error        { return nil }
func (c *recConn) SetWriteDeadline(time.Time) error       { return nil }

func (c *recConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.writes)
}

func (c *recConn) sent() []sentPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentPacket(nil), c.writes...)
}

// testEnv is a server wired to a fake store, a fixed clock, a recording
// connection and its own metrics registry.
type testEnv struct {
	t     testing.TB
	srv   *Server
	store *fakeStore
	clock *fakeClock
	reg   *prometheus.Registry
	conn  *recConn
}

// testNAS is the NAS of most tests: MARequire, profile WISPr, global speed
// 20/5 Mbit.
func testNAS() NAS {
	return NAS{
		Name:            "nas1",
		Prefix:          netip.MustParsePrefix("10.0.0.0/24"),
		Secret:          testSecret,
		Profiles:        []Profile{ProfileWISPr},
		GlobalDownMbits: 20,
		GlobalUpMbits:   5,
		MAPolicy:        MARequire,
	}
}

func newEnv(t testing.TB, opts ...func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{
		t:     t,
		store: newFakeStore(),
		clock: &fakeClock{now: testNow},
		reg:   prometheus.NewRegistry(),
		conn:  &recConn{},
	}
	m, err := NewMetrics(prom.Registry(e.reg))
	if err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	cfg := Config{
		NAS:         []NAS{testNAS()},
		Store:       e.store,
		Log:         zerolog.Nop(),
		Metrics:     m,
		Now:         e.clock.Now,
		IdleTimeout: 10 * time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// withNAS replaces the NAS table.
func withNAS(list ...NAS) func(*Config) {
	return func(c *Config) { c.NAS = list }
}

// send runs one datagram through the whole receive path from testSrc and
// waits for its handler; it returns the reply written, nil if none.
func (e *testEnv) send(l Listener, b []byte) []byte {
	e.t.Helper()
	return e.sendFrom(l, b, testSrc)
}

func (e *testEnv) sendFrom(l Listener, b []byte, src netip.AddrPort) []byte {
	e.t.Helper()
	before := e.conn.count()
	e.srv.receive(e.conn, l, b, src)
	e.srv.wg.Wait() // receive adds to wg before it starts the handler
	sent := e.conn.sent()
	switch len(sent) - before {
	case 0:
		return nil
	case 1:
		w := sent[before]
		if got := w.to.String(); got != net.UDPAddrFromAddrPort(src).String() {
			e.t.Errorf("reply sent to %s, want %s", got, src)
		}
		return w.b
	default:
		e.t.Fatalf("one request produced %d replies", len(sent)-before)
		return nil
	}
}

// outcomes returns radiusd_packets_total as "listener code outcome" → count.
func (e *testEnv) outcomes() map[string]int {
	e.t.Helper()
	return packetCounts(e.t, e.reg)
}

func packetCounts(t testing.TB, reg *prometheus.Registry) map[string]int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() != "radiusd_packets_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			lv := map[string]string{}
			for _, lp := range m.GetLabel() {
				lv[lp.GetName()] = lp.GetValue()
			}
			if v := int(m.GetCounter().GetValue()); v != 0 { // not the series made at 0 for alerts
				out[lv["listener"]+" "+lv["code"]+" "+lv["outcome"]] += v
			}
		}
	}
	return out
}

// wantOutcomes checks the packet counter against want exactly.
func (e *testEnv) wantOutcomes(want map[string]int) {
	e.t.Helper()
	got := e.outcomes()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		e.t.Errorf("radiusd_packets_total: got %v, want %v", got, want)
	}
}

// attrFn sets fields or attributes of a request under construction.
type attrFn func(p *radius.Packet)

func withID(id byte) attrFn { return func(p *radius.Packet) { p.Identifier = id } }

func withAuthenticator(a [16]byte) attrFn { return func(p *radius.Packet) { p.Authenticator = a } }

func callingStation(s string) attrFn {
	return func(p *radius.Packet) { _ = rfc2865.CallingStationID_AddString(p, s) }
}

func userName(s string) attrFn {
	return func(p *radius.Packet) { _ = rfc2865.UserName_AddString(p, s) }
}

// papPassword encrypts with the packet's authenticator: apply it after
// withAuthenticator.
func papPassword(s string) attrFn {
	return func(p *radius.Packet) {
		if err := rfc2865.UserPassword_AddString(p, s); err != nil {
			panic(err)
		}
	}
}

// chapPassword adds CHAP-Password = ident + MD5(ident + password +
// challenge); with challenge nil the Request Authenticator is the challenge
// (RFC 2865 §2.2), else a CHAP-Challenge attribute carries it.
func chapPassword(ident byte, password string, challenge []byte) attrFn {
	return func(p *radius.Packet) {
		c := challenge
		if c == nil {
			c = p.Authenticator[:]
		} else {
			_ = rfc2865.CHAPChallenge_Add(p, c)
		}
		sum := packet.CHAPResponse(ident, []byte(password), c)
		_ = rfc2865.CHAPPassword_Add(p, append([]byte{ident}, sum[:]...))
	}
}

func acctStatus(v rfc2866.AcctStatusType) attrFn {
	return func(p *radius.Packet) { _ = rfc2866.AcctStatusType_Add(p, v) }
}

func acctSessionID(s string) attrFn {
	return func(p *radius.Packet) { _ = rfc2866.AcctSessionID_AddString(p, s) }
}

func intAttr(t radius.Type, v uint32) attrFn {
	return func(p *radius.Packet) { p.Add(t, radius.NewInteger(v)) }
}

func eventTimestamp(ts time.Time) attrFn {
	return func(p *radius.Packet) { _ = rfc2869.EventTimestamp_Add(p, ts) }
}

// buildRequest encodes a request with layeh. Access-Request and
// Status-Server get a random authenticator (fns may replace it) and, with
// withMA, a Message-Authenticator computed as a NAS does: HMAC-MD5 with the
// secret over the packet with the attribute's value zeroed.
// Accounting-Request gets its Request Authenticator from Encode.
func buildRequest(t testing.TB, code radius.Code, secret []byte, withMA bool, fns ...attrFn) []byte {
	t.Helper()
	p := radius.New(code, secret)
	for _, fn := range fns {
		fn(p)
	}
	if withMA {
		_ = rfc2869.MessageAuthenticator_Add(p, make([]byte, 16))
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatalf("encode %s: %v", code, err)
	}
	if withMA {
		signMA(t, b, secret)
	}
	return b
}

// signMA computes the Message-Authenticator of a request in place. For an
// Accounting-Request it then recomputes the Request Authenticator, which
// covers the attribute.
func signMA(t testing.TB, b, secret []byte) {
	t.Helper()
	_, off, err := packet.Check(b)
	if err != nil || off == 0 {
		t.Fatalf("signMA: no Message-Authenticator slot (err %v)", err)
	}
	packet.SignRequest(b, off, secret)
}

// signAcct sets the Request Authenticator of an accounting request.
func signAcct(b, secret []byte) { packet.SignRequest(b, 0, secret) }

// accessRequest is an Access-Request as a NAS doing MAC authentication
// sends it: unless fns set them, User-Name is the Calling-Station-Id and
// the password is PAP "x". accessRequestBare adds nothing.
func accessRequest(t testing.TB, fns ...attrFn) []byte {
	t.Helper()
	return buildRequest(t, radius.CodeAccessRequest, testSecret, true, append(fns, macLogin)...)
}

func accessRequestBare(t testing.TB, fns ...attrFn) []byte {
	t.Helper()
	return buildRequest(t, radius.CodeAccessRequest, testSecret, true, fns...)
}

func macLogin(p *radius.Packet) {
	if _, ok := p.Attributes.Lookup(rfc2865.UserName_Type); !ok {
		if v, ok := p.Attributes.Lookup(rfc2865.CallingStationID_Type); ok {
			_ = rfc2865.UserName_Add(p, v)
		}
	}
	_, pap := p.Attributes.Lookup(rfc2865.UserPassword_Type)
	_, chap := p.Attributes.Lookup(rfc2865.CHAPPassword_Type)
	_, eap := p.Attributes.Lookup(rfc2869.EAPMessage_Type)
	if !pap && !chap && !eap {
		papPassword("x")(p)
	}
}

func acctRequest(t testing.TB, fns ...attrFn) []byte {
	t.Helper()
	return buildRequest(t, radius.CodeAccountingRequest, testSecret, false, fns...)
}

// checkReply verifies a reply to req: it exists, has code want, its
// Response Authenticator verifies (radius.IsAuthenticResponse), and — on
// every Access-Accept/Reject and every Status-Server reply — a correct
// Message-Authenticator is the first attribute. It returns the parsed reply.
func checkReply(t testing.TB, reply, req, secret []byte, want radius.Code) *radius.Packet {
	t.Helper()
	if reply == nil {
		t.Fatalf("no reply to %s, want %s", radius.Code(req[0]), want)
	}
	if got := radius.Code(reply[0]); got != want {
		t.Fatalf("reply code: got %s, want %s", got, want)
	}
	if reply[1] != req[1] {
		t.Errorf("reply identifier: got %d, want %d", reply[1], req[1])
	}
	if !radius.IsAuthenticResponse(reply, req, secret) {
		t.Errorf("%s: Response Authenticator does not verify", want)
	}
	needMA := want == radius.CodeAccessAccept || want == radius.CodeAccessReject ||
		want == radius.CodeAccessChallenge || radius.Code(req[0]) == radius.CodeStatusServer
	if needMA {
		checkReplyMA(t, reply, req, secret)
	}
	p, err := radius.Parse(reply, secret)
	if err != nil {
		t.Fatalf("parse reply: %v", err)
	}
	return p
}

// checkReplyMA checks that the first attribute is a Message-Authenticator
// equal to HMAC-MD5(secret, reply with the request's authenticator and the
// attribute zeroed), RFC 3579 §3.2.
func checkReplyMA(t testing.TB, reply, req, secret []byte) {
	t.Helper()
	if len(reply) < packet.HeaderLen+packet.MALen || reply[20] != packet.MAType || reply[21] != packet.MALen {
		t.Errorf("%s: Message-Authenticator is not the first attribute", radius.Code(reply[0]))
		return
	}
	if n := bytes.Count(attrTypes(reply), []byte{packet.MAType}); n != 1 {
		t.Errorf("%s: %d Message-Authenticators, want 1", radius.Code(reply[0]), n)
	}
	if !packet.VerifyReplyMA(reply, packet.HeaderLen+2, [16]byte(req[4:20]), secret) {
		t.Errorf("%s: Message-Authenticator does not verify", radius.Code(reply[0]))
	}
}

// attrTypes lists the attribute types of a well-framed packet, in order.
func attrTypes(b []byte) []byte {
	var out []byte
	for i := packet.HeaderLen; i+1 < len(b) && b[i+1] >= 2; i += int(b[i+1]) {
		out = append(out, b[i])
	}
	return out
}

// vsaName names the vendor attributes the server sends, and says whether
// the value is an integer.
var vsaName = map[[2]uint32]struct {
	name string
	num  bool
}{
	{14122, 7}: {"WISPr-Bandwidth-Max-Up", true},
	{14122, 8}: {"WISPr-Bandwidth-Max-Down", true},
	{14122, 9}: {"WISPr-Session-Terminate-Time", false},

	{14559, 3}:  {"ChilliSpot-Max-Total-Octets", true},
	{14559, 4}:  {"ChilliSpot-Bandwidth-Max-Up", true},
	{14559, 5}:  {"ChilliSpot-Bandwidth-Max-Down", true},
	{14559, 23}: {"ChilliSpot-Max-Total-Gigawords", true},

	{14988, 8}:  {"Mikrotik-Rate-Limit", false},
	{14988, 17}: {"Mikrotik-Total-Limit", true},
	{14988, 18}: {"Mikrotik-Total-Limit-Gigawords", true},

	{13644, 1}: {"pfSense-Bandwidth-Max-Up", true},
	{13644, 2}: {"pfSense-Bandwidth-Max-Down", true},
	{13644, 3}: {"pfSense-Max-Total-Octets", true},
}

var stdName = map[radius.Type]struct {
	name string
	num  bool
}{
	rfc2865.ReplyMessage_Type:        {"Reply-Message", false},
	rfc2865.SessionTimeout_Type:      {"Session-Timeout", true},
	rfc2865.IdleTimeout_Type:         {"Idle-Timeout", true},
	rfc2869.AcctInterimInterval_Type: {"Acct-Interim-Interval", true},
}

// decodeAttrs renders a reply's attributes as "Name = value" lines, vendor
// attributes by their dictionary names; the Message-Authenticator, checked
// elsewhere, is shown without its value.
func decodeAttrs(t testing.TB, p *radius.Packet) []string {
	t.Helper()
	var lines []string
	val := func(num bool, v []byte) string {
		if num {
			if len(v) != 4 {
				t.Errorf("integer attribute of %d octets", len(v))
				return fmt.Sprintf("0x%x", v)
			}
			n, _ := radius.Integer(v)
			return fmt.Sprint(n)
		}
		return fmt.Sprintf("%q", v)
	}
	for _, a := range p.Attributes {
		switch {
		case a.Type == rfc2869.MessageAuthenticator_Type:
			lines = append(lines, "Message-Authenticator = <verified>")
		case a.Type == rfc2865.Class_Type && strings.HasPrefix(string(a.Attribute), classPrefix):
			lines = append(lines, "Class = <unique, "+classPrefix+"...>")
		case a.Type == rfc2865.VendorSpecific_Type:
			vendor, vsa, err := radius.VendorSpecific(a.Attribute)
			if err != nil {
				t.Errorf("Vendor-Specific: %v", err)
				continue
			}
			for len(vsa) > 0 {
				if len(vsa) < 2 || int(vsa[1]) < 2 || int(vsa[1]) > len(vsa) {
					t.Errorf("vendor %d: malformed sub-attribute %x", vendor, vsa)
					break
				}
				typ, v := vsa[0], vsa[2:vsa[1]]
				vsa = vsa[vsa[1]:]
				n, ok := vsaName[[2]uint32{vendor, uint32(typ)}]
				if !ok {
					lines = append(lines, fmt.Sprintf("Vendor-%d-Attr-%d = 0x%x", vendor, typ, v))
					continue
				}
				lines = append(lines, n.name+" = "+val(n.num, v))
			}
		default:
			n, ok := stdName[a.Type]
			if !ok {
				lines = append(lines, fmt.Sprintf("Attr-%d = 0x%x", a.Type, a.Attribute))
				continue
			}
			lines = append(lines, n.name+" = "+val(n.num, a.Attribute))
		}
	}
	return lines
}

// attrMap is decodeAttrs as name → value (the last one wins).
func attrMap(t testing.TB, p *radius.Packet) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range decodeAttrs(t, p) {
		k, v, _ := strings.Cut(l, " = ")
		m[k] = v
	}
	return m
}

// sess builds a session of the test device.
func sess(seq uint64, typ session.Type, mod func(*session.Data)) session.Data {
	d := session.Data{
		ID:        session.NewID(testMAC, seq),
		MAC:       testMAC,
		Type:      typ,
		CreatedAt: testNow.Add(-48 * time.Hour),
		DownMbits: 10,
		UpMbits:   2,
	}
	switch typ {
	case session.TypeTime:
		d.TimeSecs = 3600
	case session.TypeData:
		d.DataBytes = 1000 * session.BytesPerMB
	case session.TypeTimeOrData:
		d.TimeSecs, d.DataBytes = 3600, 1000*session.BytesPerMB
	}
	if mod != nil {
		mod(&d)
	}
	return d
}

var errStoreDown = errors.New("fake store: connection refused")
