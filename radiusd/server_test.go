package radiusd

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/session"
)

func TestUnknownNAS(t *testing.T) {
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))
	for _, src := range []string{"10.0.1.5:1812", "[2001:db8::1]:1812", "[::ffff:10.0.1.5]:1812", "0.0.0.0:0"} {
		req := accessRequest(t, callingStation("aabbccddeeff"))
		if reply := e.sendFrom(Auth, req, netip.MustParseAddrPort(src)); reply != nil {
			t.Errorf("%s: answered a packet from an unknown address", src)
		}
	}
	if reply := e.sendFrom(Auth, nil, netip.MustParseAddrPort("192.0.2.1:9")); reply != nil {
		t.Errorf("answered an empty datagram")
	}
	if e.store.calls() != 0 {
		t.Errorf("an unknown NAS reached the store")
	}
	e.wantOutcomes(map[string]int{
		"auth Access-Request unknown_nas": 4,
		"auth invalid unknown_nas":        1,
	})
}

// TestNASTable checks the most specific prefix wins, whatever the order of
// the configuration, and that IPv4-mapped IPv6 sources match IPv4 entries.
func TestNASTable(t *testing.T) {
	list := []NAS{
		{Name: "wide", Prefix: netip.MustParsePrefix("10.0.0.0/8"), Secret: []byte("w")},
		{Name: "host", Prefix: netip.MustParsePrefix("10.1.2.3/32"), Secret: []byte("h")},
		{Name: "narrow", Prefix: netip.MustParsePrefix("10.1.2.99/24"), Secret: []byte("n")}, // host bits masked
		{Name: "v6", Prefix: netip.MustParsePrefix("2001:db8::/32"), Secret: []byte("6")},
		{Name: "v6host", Prefix: netip.MustParsePrefix("2001:db8::5/128"), Secret: []byte("7")},
	}
	tab := newNASTable(list)
	tests := []struct{ addr, want string }{
		{"10.1.2.3", "host"},
		{"10.1.2.4", "narrow"},
		{"10.1.3.4", "wide"},
		{"10.255.255.255", "wide"},
		{"::ffff:10.1.2.3", "host"},
		{"::ffff:10.1.2.4", "narrow"},
		{"::ffff:10.9.9.9", "wide"},
		{"2001:db8::5", "v6host"},
		{"2001:db8::6", "v6"},
		{"11.0.0.1", ""},
		{"::ffff:11.0.0.1", ""},
		{"2001:db9::1", ""},
		{"::1", ""},
	}
	for _, tc := range tests {
		got := ""
		if e := tab.lookup(netip.MustParseAddr(tc.addr)); e != nil {
			got = e.Name
		}
		if got != tc.want {
			t.Errorf("lookup(%s): got %q, want %q", tc.addr, got, tc.want)
		}
	}

	// Through the packet path: the NAS's name and secret apply.
	e := newEnv(t, withNAS(list...))
	send := func(src, secret string) {
		t.Helper()
		req := buildRequest(t, radius.CodeAccountingRequest, []byte(secret), false,
			acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("s"), callingStation("aabbccddeeff"))
		checkReply(t, e.sendFrom(Acct, req, netip.MustParseAddrPort(src)), req, []byte(secret), radius.CodeAccountingResponse)
	}
	send("10.1.2.3:1", "h")
	send("[::ffff:10.1.2.3]:2", "h")
	send("10.1.2.200:3", "n")
	send("10.200.0.1:4", "w")
	var names []string
	for _, ev := range e.store.acctEvents() {
		names = append(names, ev.NAS)
	}
	// A network entry counts each address apart (access points behind one
	// entry may hand out the same Acct-Session-Id).
	if got, want := strings.Join(names, ","), "host,host,narrow@10.1.2.200,wide@10.200.0.1"; got != want {
		t.Errorf("event NAS names: got %s, want %s", got, want)
	}
	// The wide NAS's secret does not work from the narrow one's addresses.
	req := buildRequest(t, radius.CodeAccountingRequest, []byte("w"), false,
		acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("s"), callingStation("aabbccddeeff"))
	if reply := e.sendFrom(Acct, req, netip.MustParseAddrPort("10.1.2.200:5")); reply != nil {
		t.Error("the wide NAS's secret was accepted from the narrow NAS's address")
	}
}

// TestUnsupportedCode checks codes a port does not serve are dropped.
func TestUnsupportedCode(t *testing.T) {
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))
	access := accessRequest(t, callingStation("aabbccddeeff"))
	acct := acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("s"), callingStation("aabbccddeeff"))
	accept := append([]byte(nil), access...)
	accept[0] = byte(radius.CodeAccessAccept)
	code99 := append([]byte(nil), access...)
	code99[0] = 99
	coa := append([]byte(nil), acct...)
	coa[0] = byte(radius.CodeCoARequest)

	for _, tc := range []struct {
		l Listener
		b []byte
	}{{Acct, access}, {Auth, acct}, {Auth, accept}, {Acct, accept}, {Auth, code99}, {Acct, coa}} {
		if reply := e.send(tc.l, tc.b); reply != nil {
			t.Errorf("%s on %s answered", radius.Code(tc.b[0]), tc.l)
		}
	}
	if e.store.calls() != 0 {
		t.Error("an unsupported code reached the store")
	}
	e.wantOutcomes(map[string]int{
		"acct Access-Request unsupported_code":     1,
		"auth Accounting-Request unsupported_code": 1,
		"auth Access-Accept unsupported_code":      1,
		"acct Access-Accept unsupported_code":      1,
		"auth Code(99) unsupported_code":           1,
		"acct CoA-Request unsupported_code":        1,
	})
}

// TestOverload checks that beyond MaxInFlight packets are dropped without
// an answer, and not remembered as in flight.
func TestOverload(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxInFlight = 1 })
	e.store.put(sess(1, session.TypeTime, nil))
	e.store.entered, e.store.gate = make(chan struct{}), make(chan struct{})

	first := accessRequest(t, callingStation("aabbccddeeff"))
	second := accessRequest(t, callingStation("aabbccddeeff"))
	e.srv.receive(e.conn, Auth, first, testSrc)
	<-e.store.entered
	e.srv.receive(e.conn, Auth, second, testSrc)
	if n := e.conn.count(); n != 0 {
		t.Errorf("%d writes while overloaded", n)
	}
	e.wantOutcomes(map[string]int{"auth Access-Request overload": 1})
	close(e.store.gate)
	e.srv.wg.Wait()

	// The dropped request's retransmission is processed, not a "duplicate".
	e.store.mu.Lock()
	e.store.gate = nil
	e.store.mu.Unlock()
	checkReply(t, e.send(Auth, second), second, testSecret, radius.CodeAccessAccept)
	if n := e.conn.count(); n != 2 {
		t.Errorf("%d replies, want 2", n)
	}
	e.wantOutcomes(map[string]int{
		"auth Access-Request overload": 1,
		"auth Access-Request accepted": 2,
	})
}

// TestMalformed checks framing errors end as malformed, unanswered.
func TestMalformed(t *testing.T) {
	e := newEnv(t)
	good := accessRequest(t, callingStation("aabbccddeeff"))
	short := good[:19]
	longField := append([]byte(nil), good...)
	longField[3]++ // length field one beyond the datagram
	badAttr := append([]byte(nil), good...)
	badAttr[21] = 1 // first attribute length 1
	for _, b := range [][]byte{short, longField, badAttr} {
		if reply := e.send(Auth, b); reply != nil {
			t.Errorf("malformed %x answered", b)
		}
	}
	e.wantOutcomes(map[string]int{"auth Access-Request malformed": 3})
}

// TestTrailingPadding checks octets beyond the Length field are ignored
// (RFC 2865 §3), not treated as attributes.
func TestTrailingPadding(t *testing.T) {
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))
	req := accessRequest(t, callingStation("aabbccddeeff"))
	padded := append(append([]byte(nil), req...), 0xff, 0x01, 0x00)
	checkReply(t, e.send(Auth, padded), req, testSecret, radius.CodeAccessAccept)
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{
		AcctInterimInterval: 30 * time.Second,
		CacheTTL:            time.Minute,
		NAS:                 []NAS{{Name: "a", Prefix: netip.MustParsePrefix("10.0.0.0/8")}, {Name: "a", Prefix: netip.MustParsePrefix("10.0.0.0/9")}},
	})
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"no store", "acct_interim_interval: 30s", "response_cache_ttl: 1m0s", `nas[1].name: "a": already used by nas[0]`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestServeUDP runs the real server on 127.0.0.1:0 and shuts it down with a
// request in flight: the request is still answered.
func TestServeUDP(t *testing.T) {
	nas := testNAS()
	nas.Prefix = netip.MustParsePrefix("127.0.0.0/8")
	e := newEnv(t, withNAS(nas))
	e.store.put(sess(1, session.TypeTime, nil))
	e.store.entered, e.store.gate = make(chan struct{}), make(chan struct{})

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(pc, Auth) }()

	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := accessRequest(t, callingStation("aabbccddeeff"))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	<-e.store.entered // the request is in flight

	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(context.Background()) }()
	close(e.store.gate)

	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	checkReply(t, buf[:n], req, testSecret, radius.CodeAccessAccept)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	if err := e.srv.Serve(pc, Auth); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown returned %v", err)
	}
}

// TestWorkers: past the workers kept, packets still run at once (up to
// MaxInFlight) and are all answered; Shutdown leaves no worker behind.
func TestWorkers(t *testing.T) {
	const n = maxWorkers + 10 // below DefaultMaxInFlight
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))
	e.store.entered, e.store.gate = make(chan struct{}), make(chan struct{})
	req := accessRequest(t, callingStation("aabbccddeeff"))
	for i := range n {
		e.srv.receive(e.conn, Auth, req, netip.AddrPortFrom(testSrc.Addr(), uint16(40000+i)))
	}
	timeout := time.After(10 * time.Second)
	for i := range n { // every packet reaches the store before any returns
		select {
		case <-e.store.entered:
		case <-timeout:
			t.Fatalf("%d of %d requests reached the store", i, n)
		}
	}
	if got := e.srv.nworkers.Load(); got != maxWorkers {
		t.Errorf("workers: got %d, want %d", got, maxWorkers)
	}
	close(e.store.gate)
	e.srv.wg.Wait()
	if got := e.conn.count(); got != n {
		t.Errorf("replies: got %d, want %d", got, n)
	}
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := e.srv.nworkers.Load(); got != 0 {
		t.Errorf("%d workers left after Shutdown", got)
	}
}

// TestIdleWorkersExit: a worker that gets no task for a whole idle period
// exits (the periods are the sweeper's; here ended by hand), one that had a
// task stays for the next period.
func TestIdleWorkersExit(t *testing.T) {
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))
	req := accessRequest(t, callingStation("aabbccddeeff"))
	e.srv.receive(e.conn, Auth, req, testSrc)
	e.srv.wg.Wait()
	if got := e.srv.nworkers.Load(); got != 1 {
		t.Fatalf("workers after one packet: %d, want 1", got)
	}
	for i := 0; i < 1000 && e.srv.nworkers.Load() > 0; i++ {
		e.srv.endIdlePeriod()
		for range 100 {
			runtime.Gosched()
		}
	}
	if got := e.srv.nworkers.Load(); got != 0 {
		t.Fatalf("an idle worker still there after 1000 idle periods (%d workers)", got)
	}
	// A new packet gets a new worker, and is answered.
	e.srv.receive(e.conn, Auth, accessRequest(t, withID(9), callingStation("aabbccddeeff")), testSrc)
	e.srv.wg.Wait()
	if got := e.conn.count(); got != 2 {
		t.Errorf("%d replies, want 2", got)
	}
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.nworkers.Load(); got != 0 {
		t.Errorf("%d workers left after Shutdown", got)
	}
}
