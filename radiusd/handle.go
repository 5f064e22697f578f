package radiusd

// What is done with a datagram the packet server (serve.go) read: the checks
// that decide whether it is a request to handle (a known NAS, framing,
// authenticity, the response cache), then on a worker the dispatch to the
// Access-Request and Accounting-Request handlers and the reply, in the way
// of layeh's Handler. Every datagram ends in exactly one counted outcome.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
)

var (
	errMABad       = errors.New("Message-Authenticator does not verify (wrong shared secret?)")
	errMAMissing   = errors.New("Message-Authenticator required but missing")
	errRequestAuth = errors.New("request authenticator does not verify (wrong shared secret?)")
)

// admit does the checks cheap enough for the read loop, in order: a known
// NAS, framing, a code served on this port, authenticity, then the response
// cache (a retransmission is answered from it here). It returns a new
// request, its pkt still in b; false when the datagram ended here, in its
// counted outcome.
func (s *Server) admit(conn net.PacketConn, l Listener, b []byte, src netip.AddrPort) (task, bool) {
	nas := s.nas.lookup(src.Addr())
	if nas == nil {
		s.count(l, codeName(b), OutcomeUnknownNAS)
		s.warn.Warn().Str("src", src.String()).Str("outcome", OutcomeUnknownNAS).Msg("packet from an address not in the NAS table")
		return task{}, false
	}
	return s.admitFrom(sink{pc: conn}, l, nas, b, src)
}

// sink is where a request's reply goes: the UDP socket it came in on (to
// its source address), or the RadSec connection it came on.
type sink struct {
	pc  net.PacketConn
	tls *rsConn
}

func codeName(b []byte) string {
	if len(b) == 0 {
		return "invalid"
	}
	return radius.Code(b[0]).String()
}

// admitFrom is admit once the NAS is known: by its source address (UDP) or
// by the RadSec connection it came on (radsec.go).
func (s *Server) admitFrom(out sink, l Listener, nas *nasEntry, b []byte, src netip.AddrPort) (task, bool) {
	start := s.now()
	code := codeName(b)
	pkt, maOff, err := packet.Check(b)
	if err != nil {
		s.drop(l, code, OutcomeMalformed, nas, src, err)
		return task{}, false
	}
	if !servedOn(radius.Code(pkt[0]), l) {
		s.drop(l, code, OutcomeUnsupported, nas, src, fmt.Errorf("code %s not served on the %s port", code, l))
		return task{}, false
	}
	// Authenticity before the cache: a forged packet must not take a cache
	// entry (a flood of them would hold memory for the entry's lifetime).
	if outcome, err := s.authentic(nas, pkt, maOff); err != nil {
		s.drop(l, code, outcome, nas, src, err)
		return task{}, false
	}
	key := newCacheKey(src, l, pkt[1], pkt[4:20])
	if out.tls != nil {
		key.setConn(out.tls.id) // RFC 6614 §2.6: duplicates are per connection
	}
	cached, state := s.cache.beginRef(&key, start)
	switch state {
	case cacheInFlight:
		s.count(l, code, OutcomeDuplicate)
		return task{}, false
	case cacheAnswered:
		s.count(l, code, OutcomeCached) // before the reply, as in handle
		s.write(out, cached, src)
		return task{}, false
	}
	return task{out: out, l: l, nas: nas, pkt: pkt, maOff: maOff, src: src, key: key, start: start}, true
}

func servedOn(c radius.Code, l Listener) bool {
	switch c {
	case radius.CodeStatusServer:
		return true
	case radius.CodeAccessRequest:
		return l == Auth || l == RadSec
	case radius.CodeAccountingRequest:
		return l == Acct || l == RadSec
	}
	return false
}

// handle verifies, processes and answers one request; it ends in exactly one
// counted outcome.
func (s *Server) handle(out sink, l Listener, nas *nasEntry, pkt []byte, maOff int, src netip.AddrPort, key cacheKey, start time.Time) {
	code := radius.Code(pkt[0])
	reply, outcome, err := s.process(l, nas, pkt, maOff, src)
	if reply == nil {
		s.cache.abort(key)
		s.drop(l, code.String(), outcome, nas, src, err)
		return
	}
	s.cache.finish(key, reply, s.now())
	// Counted before the reply leaves, so that whoever got the reply sees
	// it counted (a test, an operator comparing radclient with /metrics).
	s.count(l, code.String(), outcome)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.duration.WithLabelValues(l.String()).Observe(s.now().Sub(start).Seconds())
	}
	s.write(out, reply, src)
}

// process checks the request's authenticity and runs its handler. A nil
// reply means drop, with outcome and err saying why.
func (s *Server) process(l Listener, nas *nasEntry, pkt []byte, maOff int, src netip.AddrPort) ([]byte, string, error) {
	code := radius.Code(pkt[0])
	secret := nas.Secret
	// No radius.Parse: packet.Check has checked the framing, and the
	// handlers read the attributes they need in one pass (packet.Attrs)
	// without layeh's allocation per attribute.
	var (
		r   *response
		err error
	)
	switch {
	case code == radius.CodeStatusServer:
		r = &response{outcome: OutcomeStatus, code: radius.CodeAccessAccept}
		if l == Acct {
			r.code = radius.CodeAccountingResponse
		}
	case code == radius.CodeAccessRequest:
		r, err = s.authorize(nas, pkt)
	default:
		r, err = s.account(nas, pkt, src)
	}
	if r == nil {
		var d dropError
		if errors.As(err, &d) {
			return nil, d.outcome, d.err
		}
		return nil, OutcomeStoreError, err
	}
	// docs/ARCHITECTURE.md, "Protocol rules": every Access-* reply and every Status-Server reply,
	// including the Accounting-Response to one on the accounting port.
	withMA := r.code != radius.CodeAccountingResponse || code == radius.CodeStatusServer
	// RFC 2865 §5.33: every Proxy-State of the request, in order, in the
	// reply (after the Message-Authenticator, which EncodeReply puts first),
	// so that a proxy in front of us can match its requests.
	for t, v := range packet.Attrs(pkt) {
		if t == rfc2865.ProxyState_Type {
			r.attrs = append(r.attrs, &radius.AVP{Type: t, Attribute: v})
		}
	}
	b, err := packet.EncodeReply(r.code, pkt[1], [16]byte(pkt[4:packet.HeaderLen]), r.attrs, secret, withMA)
	if err != nil {
		return nil, OutcomeMalformed, err
	}
	if e := s.log.Debug(); e.Enabled() { // no per-packet formatting unless debugging
		e.Str("nas", nas.Name).Str("src", src.String()).Str("code", code.String()).
			Str("reply", r.code.String()).Str("outcome", r.outcome).Msg("request answered")
	}
	return b, r.outcome, nil
}

// authentic checks a request's origin before anything else is done with it
// (the response cache included): the Request Authenticator of an
// Accounting-Request, the Message-Authenticator of an Access-Request or
// Status-Server as the NAS's policy requires it. The string is the outcome
// of a refusal.
func (s *Server) authentic(nas *nasEntry, pkt []byte, maOff int) (string, error) {
	code := radius.Code(pkt[0])
	switch code {
	case radius.CodeAccountingRequest:
		if !packet.VerifyRequest(pkt, nas.Secret) {
			return OutcomeBadAuth, errRequestAuth
		}
	case radius.CodeAccessRequest, radius.CodeStatusServer:
		if maOff == 0 {
			if code == radius.CodeStatusServer || nas.MAPolicy == MARequire || (nas.MAPolicy == MAAuto && nas.maSeen.Load()) {
				return OutcomeMissingMA, errMAMissing
			}
		}
	}
	if maOff != 0 {
		if !packet.VerifyRequestMA(pkt, maOff, nas.Secret) {
			return OutcomeBadMA, errMABad
		}
		if nas.MAPolicy == MAAuto && code == radius.CodeAccessRequest && !nas.maSeen.Load() {
			nas.maSeen.Store(true)
			s.log.Info().Str("nas", nas.Name).Msg("NAS sent a Message-Authenticator: now required from it (policy auto)")
		}
	}
	return "", nil
}

// dropError is a handler's reason to drop a request other than a store
// failure.
type dropError struct {
	outcome string
	err     error
}

func (d dropError) Error() string { return d.err.Error() }

// response is a handler's answer: a code and its attributes.
type response struct {
	code    radius.Code
	attrs   radius.Attributes
	outcome string
}

// write sends a reply: on the NAS's RadSec connection, or on a batched UDP
// listener (batchio.go) possibly with others, by this goroutine or by the
// one sending when it is called.
func (s *Server) write(out sink, b []byte, src netip.AddrPort) {
	if out.tls != nil {
		out.tls.send(b)
		return
	}
	conn := out.pc
	var err error
	if bc, ok := conn.(*batchConn); ok {
		bc.send(b, src)
		return
	}
	if udp, ok := conn.(*net.UDPConn); ok {
		_, err = udp.WriteToUDPAddrPort(b, src)
	} else {
		_, err = conn.WriteTo(b, net.UDPAddrFromAddrPort(src))
	}
	if err != nil {
		s.writeFailed(err, src)
	}
}

func (s *Server) writeFailed(err error, dst netip.AddrPort) {
	if !s.closing.Load() {
		s.warn.Warn().Err(err).Str("src", dst.String()).Msg("write reply")
	}
}

func (s *Server) count(l Listener, code, outcome string) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.packets.WithLabelValues(l.String(), code, outcome).Inc()
	}
}
func (s *Server) drop(l Listener, code, outcome string, nas *nasEntry, src netip.AddrPort, err error) {
	s.count(l, code, outcome)
	ev := s.warn.Warn()
	if outcome == OutcomeStoreError {
		ev = s.log.Error() // every store failure matters, unsampled
	}
	ev = ev.Err(err).Str("nas", nas.Name).Str("src", src.String()).Str("code", code).Str("outcome", outcome)
	if outcome == OutcomeMissingMA && code != radius.CodeStatusServer.String() {
		// The one drop an operator causes by configuration (pfSense before
		// 2.9 never sends it): name the setting, so one look finds it.
		ev.Str("setting", "require_message_authenticator: "+nas.MAPolicy.String()).
			Msgf("request dropped: nas %s sent no Message-Authenticator and its require_message_authenticator is %s (set it to no for a NAS that cannot send one, e.g. pfSense before 2.9)", nas.Name, nas.MAPolicy)
		return
	}
	ev.Msg("request dropped")
}
