// Package dynauthtest is a fake NAS for tests: an RFC 5176 server on a
// loopback UDP port that records each Disconnect-Request and CoA-Request it
// receives and answers it with an ACK (or a NAK), with a properly computed
// Response Authenticator. The admin API's tests and the dashboard's browser
// tests use it.
package dynauthtest

import (
	"crypto/md5"
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"layeh.com/radius"
)

// Wait bounds Next: a safety net, not a wait (tests proceed on signals).
const Wait = 10 * time.Second

// NAS is the fake NAS's Disconnect/CoA listener.
type NAS struct {
	conn   net.PacketConn
	secret []byte
	got    chan Request
	// NAK, when not 0, is the Error-Cause the NAS answers with (a NAK);
	// 0 answers ACK.
	NAK atomic.Uint32
}

// Request is one request the NAS received.
type Request struct {
	Code   radius.Code
	Packet *radius.Packet
	AuthOK bool // the Request Authenticator verified
}

// Start listens on 127.0.0.1 and answers until the test ends.
func Start(t testing.TB, secret []byte) *NAS {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &NAS{conn: conn, secret: secret, got: make(chan Request, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, addr, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			n.answer(append([]byte(nil), buf[:k]...), addr)
		}
	}()
	t.Cleanup(func() { _ = conn.Close(); <-done })
	return n
}

// Port is the UDP port the NAS listens on (the NAS entry's coa_port).
func (n *NAS) Port() int { return n.conn.LocalAddr().(*net.UDPAddr).Port }

func (n *NAS) answer(req []byte, from net.Addr) {
	if len(req) < 20 {
		return
	}
	// Request Authenticator (RFC 5176 §3.5):
	// MD5(Code+Identifier+Length+16 zero octets+Attributes+Secret).
	h := md5.New()
	h.Write(req[:4])
	h.Write(make([]byte, 16))
	h.Write(req[20:])
	h.Write(n.secret)
	authOK := string(h.Sum(nil)) == string(req[4:20])
	p, err := radius.Parse(req, n.secret)
	if err != nil {
		return
	}
	var code radius.Code
	switch p.Code {
	case radius.CodeDisconnectRequest:
		code = radius.CodeDisconnectACK
	case radius.CodeCoARequest:
		code = radius.CodeCoAACK
	default:
		return
	}
	var attrs []byte
	if cause := n.NAK.Load(); cause != 0 {
		code++ // Disconnect-NAK = ACK+1, CoA-NAK = ACK+1
		attrs = binary.BigEndian.AppendUint32([]byte{101, 6}, cause)
	}
	resp := make([]byte, 20, 20+len(attrs))
	resp[0], resp[1] = byte(code), req[1]
	resp = append(resp, attrs...)
	binary.BigEndian.PutUint16(resp[2:4], uint16(len(resp)))
	// Response Authenticator: MD5(Code+ID+Length+Request Authenticator+Attributes+Secret).
	h = md5.New()
	h.Write(resp[:4])
	h.Write(req[4:20])
	h.Write(resp[20:])
	h.Write(n.secret)
	copy(resp[4:20], h.Sum(nil))
	_, _ = n.conn.WriteTo(resp, from)
	select {
	case n.got <- Request{Code: p.Code, Packet: p, AuthOK: authOK}:
	default: // nobody reads: the answer was sent all the same
	}
}

// Next returns the next request received, or fails the test after Wait.
func (n *NAS) Next(t testing.TB) Request {
	t.Helper()
	select {
	case r := <-n.got:
		return r
	case <-time.After(Wait):
		t.Fatal("the fake NAS received no request")
	}
	return Request{}
}

// Received returns a request received and not yet taken, without waiting.
func (n *NAS) Received() (Request, bool) {
	select {
	case r := <-n.got:
		return r, true
	default:
		return Request{}, false
	}
}
