package radiusd_test

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/radiusd/radsec/radsectest"
)

// The RadSec listener's bad input and faults: what a TLS server on the
// Internet meets. Each case ends with the server still serving.

func rawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readToEnd reads until the server closes (bounded by enfArrive).
func readToEnd(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(enfArrive))
	if _, err := io.Copy(io.Discard, c); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server did not close the connection")
		}
	}
}

// stillServes checks that a good NAS is served after the fault.
func stillServes(t *testing.T, e *rsEnv) {
	t.Helper()
	c, err := e.dial(t, e.site7)
	if err != nil {
		t.Fatalf("after the fault: %v", err)
	}
	req := rsStatusServer(t)
	wantReply(t, roundTrip(t, c, req), req, radius.CodeAccessAccept)
	_ = c.Close()
}

func TestRadSecGarbageBeforeHandshake(t *testing.T) {
	closed := newCloses()
	e := startRadSec(t, rsOptions{wrap: closed.wrap})
	for _, garbage := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		rsStatusServer(t),                    // plain RADIUS on the TLS port
		{0x16, 0x03, 0x01, 0xff, 0xff, 0x01}, // a TLS record header that lies
	} {
		c := rawDial(t, e.addr)
		if _, err := c.Write(garbage); err != nil {
			t.Fatal(err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		readToEnd(t, c)
		closed.wait(t, c)
	}
	if got := e.count(t, "radiusd_radsec_handshake_failures_total", "reason", "tls") + e.count(t, "radiusd_radsec_handshake_failures_total", "reason", "closed"); got != 3 {
		t.Errorf("handshake failures {tls or closed} = %v, want 3", got)
	}
	stillServes(t, e)
}

func TestRadSecBadFrames(t *testing.T) {
	closed := newCloses()
	e := startRadSec(t, rsOptions{wrap: closed.wrap, radsec: func(c *radiusd.RadSecConfig) {
		c.HandshakeTimeout = 300 * time.Millisecond
	}})
	hdr := func(length int) []byte {
		b := []byte{byte(radius.CodeAccountingRequest), 1, 0, 0}
		binary.BigEndian.PutUint16(b[2:], uint16(length))
		return b
	}
	for _, c := range []struct {
		name, reason string
		send         []byte
		closeWrite   bool
	}{
		{"longer than 4096", "length", hdr(5000), false},
		{"shorter than the header", "length", hdr(10), false},
		{"truncated", "truncated", append(hdr(100), make([]byte, 30)...), true},
		{"header then silence", "slow", hdr(100), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := e.dial(t, e.site7)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(c.send); err != nil {
				t.Fatal(err)
			}
			if c.closeWrite {
				_ = conn.CloseWrite()
			}
			readToEnd(t, conn)
			closed.wait(t, conn)
			if got := e.count(t, "radiusd_radsec_frames_refused_total", "reason", c.reason); got < 1 {
				t.Errorf("frames refused {reason=%s} = %v, want at least 1", c.reason, got)
			}
		})
	}

	// A packet whose frame is sound but whose attributes are not is dropped
	// and counted as on UDP; the connection goes on.
	conn, err := e.dial(t, e.site7)
	if err != nil {
		t.Fatal(err)
	}
	bad := rsStatusServer(t)
	bad = append(bad[:len(bad):len(bad)], 1, 9) // an attribute that runs past the end
	binary.BigEndian.PutUint16(bad[2:], uint16(len(bad)))
	bad[len(bad)-1] = 9
	if _, err := conn.Write(bad); err != nil {
		t.Fatal(err)
	}
	req := rsStatusServer(t)
	wantReply(t, roundTrip(t, conn, req), req, radius.CodeAccessAccept)
	if got := e.count(t, "radiusd_packets_total", "listener", "radsec", "outcome", radiusd.OutcomeMalformed); got != 1 {
		t.Errorf("malformed = %v, want 1", got)
	}
	stillServes(t, e)
}

// TestRadSecClientStopsReading: a NAS that sends requests and never reads
// the replies cannot pile them up, nor hold a worker: the server closes the
// connection.
func TestRadSecClientStopsReading(t *testing.T) {
	closed := newCloses()
	e := startRadSec(t, rsOptions{
		wrap: func(ln net.Listener) net.Listener { return closed.wrap(smallBuffers{ln}) },
		radsec: func(c *radiusd.RadSecConfig) {
			c.WriteTimeout = 300 * time.Millisecond
		},
	})
	raw := rawDial(t, e.addr)
	_ = raw.(*net.TCPConn).SetReadBuffer(4096)
	c := tls.Client(raw, radsectest.ClientConfig(e.ca, e.site7))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	req := rsStatusServer(t)
	var err error
	for i := 0; i < 200000 && err == nil; i++ {
		_ = c.SetWriteDeadline(time.Now().Add(enfArrive))
		_, err = c.Write(req)
	}
	if err == nil {
		t.Fatal("the server still takes requests from a NAS that reads no reply")
	}
	closed.wait(t, raw)
	stillServes(t, e)
}

// smallBuffers makes the server's socket buffers small, so that a client
// that does not read fills them quickly.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestRadSecManyIdleConnections: connections that never start a handshake
// take at most max_conns places, are closed after handshake_timeout, and
// the one beyond the bound is closed at once.
func TestRadSecManyIdleConnections(t *testing.T) {
	closed := newCloses()
	e := startRadSec(t, rsOptions{wrap: closed.wrap, radsec: func(c *radiusd.RadSecConfig) {
		c.MaxConns, c.MaxConnsPerNAS, c.HandshakeTimeout = 4, 2, 300*time.Millisecond
	}})
	var idle []net.Conn
	for range 4 {
		idle = append(idle, rawDial(t, e.addr))
	}
	// The accept loop takes them in order: once the fifth is refused, the
	// four hold every place.
	extra := rawDial(t, e.addr)
	readToEnd(t, extra)
	if got := e.count(t, "radiusd_radsec_handshake_failures_total", "reason", "too_many_connections"); got < 1 {
		t.Errorf("too_many_connections = %v, want at least 1", got)
	}
	for _, c := range idle {
		readToEnd(t, c)
		closed.wait(t, c)
	}
	if got := e.count(t, "radiusd_radsec_handshake_failures_total", "reason", "timeout"); got != 4 {
		t.Errorf("timeouts = %v, want 4", got)
	}
	stillServes(t, e)

	// max_conns_per_nas: a third connection of site-7 is refused at the
	// handshake while two are open.
	var open []*tls.Conn
	for range 2 {
		c, err := e.dial(t, e.site7)
		if err != nil {
			t.Fatal(err)
		}
		req := rsStatusServer(t)
		wantReply(t, roundTrip(t, c, req), req, radius.CodeAccessAccept)
		open = append(open, c)
	}
	e.refused(t, closed, e.site7)
	if got := e.count(t, "radiusd_radsec_handshake_failures_total", "reason", "nas_limit"); got != 1 {
		t.Errorf("nas_limit = %v, want 1", got)
	}
	if got := e.count(t, "radiusd_radsec_connections", "nas", "site-7"); got != 2 {
		t.Errorf("radiusd_radsec_connections{nas=site-7} = %v, want 2", got)
	}
}

// TestRadSecIdleTimeout: a NAS that connected and then sends nothing is
// closed after idle_timeout (a half-open connection cannot hold a place).
func TestRadSecIdleTimeout(t *testing.T) {
	closed := newCloses()
	e := startRadSec(t, rsOptions{wrap: closed.wrap, radsec: func(c *radiusd.RadSecConfig) {
		c.IdleTimeout = 300 * time.Millisecond
	}})
	c, err := e.dial(t, e.site7)
	if err != nil {
		t.Fatal(err)
	}
	readToEnd(t, c)
	closed.wait(t, c)
	if n := e.srv.RadSecConnected(); len(n) != 0 {
		t.Errorf("still connected: %v", n)
	}
	stillServes(t, e)
}
