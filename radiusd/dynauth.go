package radiusd

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc3576"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
)

// DynAuth results, as counted in radiusd_dynauth_requests_total.
const (
	DynAuthACK     = "ack"
	DynAuthNAK     = "nak"
	DynAuthTimeout = "timeout"
	DynAuthError   = "error"
)

// DynAuthResult is the NAS's answer to a Disconnect-Request or CoA-Request.
type DynAuthResult struct {
	Outcome    string // ack, nak, timeout or error
	ErrorCause uint32 // Error-Cause (RFC 5176 §3.5) of a NAK, 0 if absent
	Attempts   int
	// NAS and AcctSessionID say which NAS session answered.
	NAS, AcctSessionID string
}

// dynAuthClient sends RFC 5176 requests: we are the client, the NAS listens
// on its configured coa_port (3799 in RFC 5176; NAS defaults differ, see
// README.md, "Setting up your NAS"). A retransmission reuses the same
// Identifier and bytes, so the NAS can recognise it.
type dynAuthClient struct {
	timeout time.Duration // per attempt
	tries   int
}

// send delivers one request to addr and waits for its ACK or NAK.
func (c *dynAuthClient) send(ctx context.Context, addr netip.AddrPort, secret []byte, code radius.Code, attrs radius.Attributes) (DynAuthResult, error) {
	var idb [1]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return DynAuthResult{Outcome: DynAuthError}, err
	}
	req, err := packet.EncodeRequest(code, idb[0], attrs, secret)
	if err != nil {
		return DynAuthResult{Outcome: DynAuthError}, err
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return DynAuthResult{Outcome: DynAuthError}, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, packet.MaxLen)
	res := DynAuthResult{Outcome: DynAuthTimeout}
	for attempt := 1; attempt <= c.tries; attempt++ {
		res.Attempts = attempt
		if _, err := conn.Write(req); err != nil {
			return DynAuthResult{Outcome: DynAuthError, Attempts: attempt}, fmt.Errorf("send to %s: %w", addr, err)
		}
		deadline := time.Now().Add(c.timeout)
		_ = conn.SetReadDeadline(deadline)
		if ctx.Err() != nil {
			// Cancelled before the deadline above replaced the one the
			// AfterFunc set: the read would wait out the whole timeout.
			return res, ctx.Err()
		}
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // next attempt
				}
				// ICMP port unreachable and the like: the NAS may come back.
				if time.Now().Before(deadline) {
					continue
				}
				break
			}
			if r, ok := parseDynAuthReply(buf[:n], req, secret, code); ok {
				r.Attempts = attempt
				return r, nil
			}
			// Not ours (stale or forged): keep waiting for this attempt.
		}
	}
	return res, nil
}

// parseDynAuthReply accepts an ACK or NAK to req, authenticated with secret.
func parseDynAuthReply(b, req, secret []byte, code radius.Code) (DynAuthResult, bool) {
	pkt, maOff, err := packet.Check(b)
	if err != nil || pkt[1] != req[1] || !radius.IsAuthenticResponse(pkt, req, secret) {
		return DynAuthResult{}, false
	}
	if maOff != 0 && !packet.VerifyReplyMA(pkt, maOff, [16]byte(req[4:packet.HeaderLen]), secret) {
		return DynAuthResult{}, false
	}
	ack, nak := radius.CodeDisconnectACK, radius.CodeDisconnectNAK
	if code == radius.CodeCoARequest {
		ack, nak = radius.CodeCoAACK, radius.CodeCoANAK
	}
	switch radius.Code(pkt[0]) {
	case ack:
		return DynAuthResult{Outcome: DynAuthACK}, true
	case nak:
		r := DynAuthResult{Outcome: DynAuthNAK}
		if attrs, err := radius.ParseAttributes(pkt[packet.HeaderLen:]); err == nil {
			if v, ok := attrs.Lookup(rfc3576.ErrorCause_Type); ok && len(v) == 4 {
				r.ErrorCause = binary.BigEndian.Uint32(v)
			}
		}
		return r, true
	}
	return DynAuthResult{}, false
}
