package radiusd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
)

var daSecret = []byte("coa-secret-7f3a")

// daAttrs identify a NAS session as a Disconnect/CoA does.
func daAttrs(t *testing.T) radius.Attributes {
	t.Helper()
	var p radius.Packet
	for _, err := range []error{
		rfc2865.UserName_SetString(&p, "guest-1"),
		rfc2866.AcctSessionID_SetString(&p, "80000001"),
		rfc2865.CallingStationID_SetString(&p, "02-00-00-00-00-01"),
		rfc2865.FramedIPAddress_Set(&p, net.IPv4(10, 1, 0, 1).To4()),
		rfc2865.SessionTimeout_Set(&p, 660),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return p.Attributes
}

// daRequestOK checks a Disconnect/CoA request as a NAS does (RFC 5176
// §3.5): well framed, a Message-Authenticator (computed with the
// authenticator field zeroed) and the Request Authenticator
// MD5(Code+ID+Length+16 zero octets+Attributes+Secret).
func daRequestOK(b, secret []byte) bool {
	pkt, maOff, err := packet.Check(b)
	return err == nil && len(pkt) == len(b) && maOff != 0 &&
		packet.VerifyRequest(pkt, secret) && packet.VerifyRequestMA(pkt, maOff, secret)
}

// daReply builds a NAS's answer to req as RFC 5176 §3.5 says: with ma a
// Message-Authenticator first, computed with the request's authenticator
// in place (RFC 3579 §3.2), then the Response Authenticator
// MD5(Code+ID+Length+RequestAuth+Attributes+Secret). bad, if set, corrupts
// the packet before the Response Authenticator is computed.
func daReply(code radius.Code, id byte, req []byte, ma bool, secret []byte, bad func(b []byte), attrs ...[]byte) []byte {
	b := make([]byte, packet.HeaderLen, 128)
	b[0], b[1] = byte(code), id
	copy(b[4:20], req[4:20])
	if ma {
		b = append(b, 80, 18)
		b = append(b, make([]byte, 16)...)
	}
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	reqAuth := [16]byte(req[4:20])
	if ma {
		sum := packet.MessageAuthenticator(b, packet.HeaderLen+2, reqAuth, secret)
		copy(b[packet.HeaderLen+2:], sum[:])
	}
	if bad != nil {
		bad(b)
	}
	sum := packet.Authenticator(b, reqAuth, secret)
	copy(b[4:20], sum[:])
	return b
}

func daErrorCause(v uint32) []byte {
	a := []byte{101, 6, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(a[2:], v)
	return a
}

func TestDynAuthParseReply(t *testing.T) {
	disc, err := packet.EncodeRequest(radius.CodeDisconnectRequest, 42, daAttrs(t)[:4], daSecret)
	if err != nil {
		t.Fatal(err)
	}
	coa, err := packet.EncodeRequest(radius.CodeCoARequest, 42, daAttrs(t), daSecret)
	if err != nil {
		t.Fatal(err)
	}
	other, err := packet.EncodeRequest(radius.CodeDisconnectRequest, 42, daAttrs(t)[:2], daSecret)
	if err != nil {
		t.Fatal(err)
	}
	const cause = 503 // Session Context Not Found
	for _, tc := range []struct {
		name  string
		req   []byte
		reply []byte
		ok    bool
		want  DynAuthResult
	}{
		{"ack", disc, daReply(radius.CodeDisconnectACK, 42, disc, false, daSecret, nil), true, DynAuthResult{Outcome: DynAuthACK}},
		{"ack with Message-Authenticator", disc, daReply(radius.CodeDisconnectACK, 42, disc, true, daSecret, nil), true, DynAuthResult{Outcome: DynAuthACK}},
		{"nak with Error-Cause", disc, daReply(radius.CodeDisconnectNAK, 42, disc, false, daSecret, nil, daErrorCause(cause)), true,
			DynAuthResult{Outcome: DynAuthNAK, ErrorCause: cause}},
		{"nak with Error-Cause and Message-Authenticator", disc, daReply(radius.CodeDisconnectNAK, 42, disc, true, daSecret, nil, daErrorCause(cause)), true,
			DynAuthResult{Outcome: DynAuthNAK, ErrorCause: cause}},
		{"nak without Error-Cause", disc, daReply(radius.CodeDisconnectNAK, 42, disc, false, daSecret, nil), true, DynAuthResult{Outcome: DynAuthNAK}},
		{"coa ack", coa, daReply(radius.CodeCoAACK, 42, coa, true, daSecret, nil), true, DynAuthResult{Outcome: DynAuthACK}},
		{"coa nak", coa, daReply(radius.CodeCoANAK, 42, coa, false, daSecret, nil, daErrorCause(cause)), true, DynAuthResult{Outcome: DynAuthNAK, ErrorCause: cause}},

		{"wrong authenticator", disc, func() []byte {
			b := daReply(radius.CodeDisconnectACK, 42, disc, false, daSecret, nil)
			b[7] ^= 1
			return b
		}(), false, DynAuthResult{}},
		{"wrong secret", disc, daReply(radius.CodeDisconnectACK, 42, disc, false, []byte("not-the-secret"), nil), false, DynAuthResult{}},
		{"answer to another request", disc, daReply(radius.CodeDisconnectACK, 42, other, false, daSecret, nil), false, DynAuthResult{}},
		{"wrong Identifier", disc, daReply(radius.CodeDisconnectACK, 43, disc, false, daSecret, nil), false, DynAuthResult{}},
		{"coa ack to a disconnect", disc, daReply(radius.CodeCoAACK, 42, disc, false, daSecret, nil), false, DynAuthResult{}},
		{"disconnect ack to a coa", coa, daReply(radius.CodeDisconnectACK, 42, coa, false, daSecret, nil), false, DynAuthResult{}},
		{"access-accept", disc, daReply(radius.CodeAccessAccept, 42, disc, false, daSecret, nil), false, DynAuthResult{}},
		{"request echoed", disc, daReply(radius.CodeDisconnectRequest, 42, disc, false, daSecret, nil), false, DynAuthResult{}},
		{"Message-Authenticator forged", disc, daReply(radius.CodeDisconnectACK, 42, disc, true, daSecret, func(b []byte) { b[packet.HeaderLen+2] ^= 1 }), false, DynAuthResult{}},
		{"Message-Authenticator over a zero authenticator", disc, daReply(radius.CodeDisconnectACK, 42, disc, true, daSecret, func(b []byte) {
			sum := packet.MessageAuthenticator(b, packet.HeaderLen+2, [16]byte{}, daSecret)
			copy(b[packet.HeaderLen+2:], sum[:])
		}), false, DynAuthResult{}},
		{"shorter than its length field", disc, daReply(radius.CodeDisconnectACK, 42, disc, false, daSecret, nil, daErrorCause(cause))[:22], false, DynAuthResult{}},
		{"shorter than a header", disc, []byte{byte(radius.CodeDisconnectACK), 42, 0, 20}, false, DynAuthResult{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseDynAuthReply(tc.reply, tc.req, daSecret, radius.Code(tc.req[0]))
			if ok != tc.ok || got != tc.want {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// daNAS is a NAS on loopback whose answers the test scripts: for the n-th
// request (from 0) it sends what script returns. Every request goes to got.
type daNAS struct {
	conn *net.UDPConn
	got  chan []byte
}

func startDaNAS(t *testing.T, script func(n int, req []byte) [][]byte) *daNAS {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	n := &daNAS{conn: conn, got: make(chan []byte, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, packet.MaxLen)
		for i := 0; ; i++ {
			size, src, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			req := bytes.Clone(buf[:size])
			for _, b := range script(i, req) {
				_, _ = conn.WriteToUDPAddrPort(b, src)
			}
			select {
			case n.got <- req:
			default:
			}
		}
	}()
	t.Cleanup(func() { _ = conn.Close(); <-done })
	return n
}

func (n *daNAS) addr() netip.AddrPort { return n.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// received returns the requests the NAS has got so far (its goroutine hands
// each over after answering it).
func (n *daNAS) received(t *testing.T, want int) [][]byte {
	t.Helper()
	var out [][]byte
	for len(out) < want {
		select {
		case b := <-n.got:
			out = append(out, b)
		case <-time.After(5 * time.Second):
			t.Fatalf("the NAS got %d requests, want %d", len(out), want)
		}
	}
	return out
}

func TestDynAuthSend(t *testing.T) {
	ack := func(req []byte) []byte {
		return daReply(radius.CodeDisconnectACK, req[1], req, true, daSecret, nil)
	}
	for _, tc := range []struct {
		name     string
		script   func(n int, req []byte) [][]byte
		want     DynAuthResult
		requests int
	}{
		{"ack", func(_ int, req []byte) [][]byte { return [][]byte{ack(req)} },
			DynAuthResult{Outcome: DynAuthACK, Attempts: 1}, 1},
		{"stale and forged answers ignored", func(_ int, req []byte) [][]byte {
			return [][]byte{
				daReply(radius.CodeDisconnectACK, req[1]+1, req, true, daSecret, nil),        // an older request's
				daReply(radius.CodeDisconnectNAK, req[1], req, false, []byte("forged"), nil), // not the secret
				ack(req),
			}
		}, DynAuthResult{Outcome: DynAuthACK, Attempts: 1}, 1},
		{"first request lost", func(n int, req []byte) [][]byte {
			if n == 0 {
				return nil
			}
			return [][]byte{ack(req)}
		}, DynAuthResult{Outcome: DynAuthACK, Attempts: 2}, 2},
		{"nak", func(_ int, req []byte) [][]byte {
			return [][]byte{daReply(radius.CodeDisconnectNAK, req[1], req, true, daSecret, nil, daErrorCause(503))}
		}, DynAuthResult{Outcome: DynAuthNAK, ErrorCause: 503, Attempts: 1}, 1},
		{"silent", func(int, []byte) [][]byte { return nil },
			DynAuthResult{Outcome: DynAuthTimeout, Attempts: 3}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nas := startDaNAS(t, tc.script)
			c := dynAuthClient{timeout: 100 * time.Millisecond, tries: 3}
			got, err := c.send(context.Background(), nas.addr(), daSecret, radius.CodeDisconnectRequest, daAttrs(t)[:4])
			if err != nil || got != tc.want {
				t.Errorf("send: %+v, %v; want %+v", got, err, tc.want)
			}
			reqs := nas.received(t, tc.requests)
			for i, r := range reqs {
				if !daRequestOK(r, daSecret) {
					t.Errorf("request %d does not verify", i)
				}
				if !bytes.Equal(r, reqs[0]) {
					t.Errorf("retransmission %d differs from the first request (same Identifier and bytes expected)", i)
				}
			}
			select {
			case r := <-nas.got:
				t.Errorf("the NAS got %d requests, want %d: one more with Identifier %d", tc.requests+1, tc.requests, r[1])
			default:
			}
		})
	}
}

// TestDynAuthSendCancelled: a send ends when its context does, without
// waiting for its tries.
func TestDynAuthSendCancelled(t *testing.T) {
	nas := startDaNAS(t, func(int, []byte) [][]byte { return nil })
	c := dynAuthClient{timeout: time.Hour, tries: 3}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.send(ctx, nas.addr(), daSecret, radius.CodeDisconnectRequest, nil)
		done <- err
	}()
	nas.received(t, 1) // it is waiting for the answer
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("send: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("send did not return after its context was cancelled")
	}
}
