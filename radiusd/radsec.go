package radiusd

// RadSec: RADIUS over TLS on TCP (RFC 6614; README.md, "RadSec";
// docs/ARCHITECTURE.md, "RadSec"). A connection is accepted within the
// connection bound, its handshake identifies the NAS (by its client
// certificate, else by its source address), then every packet read from it
// goes through the same admit and handle as a UDP datagram, its reply back
// on the connection. Disconnect/CoA replies read from it go to the request
// waiting for them (radsec_dynauth.go).

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/radiusd/radsec"
)

// Handshake failures, as counted in radiusd_radsec_handshake_failures_total.
const (
	rsFailTooMany   = "too_many_connections" // max_conns reached: closed at accept
	rsFailNASLimit  = "nas_limit"            // max_conns_per_nas reached
	rsFailTimeout   = "timeout"              // no handshake within handshake_timeout
	rsFailNoCert    = "no_certificate"       // the client sent none
	rsFailBadCert   = "bad_certificate"      // not signed by client_ca, expired, not for client auth
	rsFailUnknown   = "unknown_nas"          // verified, but no NAS entry names it
	rsFailTLS       = "tls"                  // not TLS, or a TLS error (garbage before the handshake)
	rsFailClosed    = "closed"               // closed by the client before the handshake ended
	rsOutQueue      = 512                    // replies waiting for one connection's writer
	rsWriteBatch    = 64 << 10               // the writer sends the replies queued together, up to this
	rsCertCheckGap  = time.Second            // certificate files are stat'ed at most this often
	rsAcceptBackoff = time.Second            // the longest wait after an accept error
)

// Frames refused, as counted in radiusd_radsec_frames_refused_total. A bad
// length ends the connection: nothing after it can be found on the stream.
const (
	rsFrameLength     = "length"             // Length below 20 or above 4096
	rsFrameTruncated  = "truncated"          // the connection ended inside a packet
	rsFrameSlow       = "slow"               // the rest of a packet took longer than handshake_timeout
	rsFrameUnmatched  = "unmatched_response" // a Disconnect/CoA reply to no request of ours
	rsFrameBadReply   = "bad_response"       // a Disconnect/CoA reply that does not verify
	rsFrameNotReading = "not_reading"        // replies piled up: the NAS stopped reading
)

// radsecState is a Server's RadSec side.
type radsecState struct {
	cfg       RadSecConfig
	certs     *radsec.Certs
	limit     *radsec.Limiter
	nextID    atomic.Uint64
	lastCheck atomic.Int64 // unix nanoseconds of the last certificate file check

	mu      sync.Mutex
	lns     map[net.Listener]struct{}
	conns   map[*rsConn]struct{} // accepted and not yet closed
	byNAS   map[string][]*rsConn // identified, by accounting identity, oldest first
	writers sync.WaitGroup
	closed  bool // radsecClose ran: no writer starts
}

func newRadSecState(cfg RadSecConfig) (*radsecState, error) {
	certs, err := radsec.NewCerts(cfg.Files)
	if err != nil {
		return nil, err
	}
	return &radsecState{
		cfg:   cfg,
		certs: certs,
		limit: radsec.NewLimiter(cfg.MaxConns, cfg.MaxConnsPerNAS),
		lns:   map[net.Listener]struct{}{},
		conns: map[*rsConn]struct{}{},
		byNAS: map[string][]*rsConn{},
	}, nil
}

// rsConn is one RadSec connection.
type rsConn struct {
	id     uint64
	s      *Server
	raw    net.Conn
	tc     *tls.Conn
	remote netip.AddrPort
	nas    *nasEntry // the RadSec entry (its secret is the RadSec secret); set by the handshake
	ident  string    // the NAS's accounting identity: the per-NAS bound's key, the metric's label
	held   bool      // a place of ident in the per-NAS bound is held

	out       chan []byte
	done      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	dyn     map[byte]*dynWait
	nextDyn byte
}

// close ends the connection: the writer sends what is queued, then closes.
func (c *rsConn) close() { c.closeOnce.Do(func() { close(c.done) }) }

// send queues a reply for the writer. A NAS that does not read its replies
// cannot make a worker wait: when its queue is full the connection ends.
func (c *rsConn) send(b []byte) {
	select {
	case c.out <- b:
	case <-c.done:
	default:
		c.s.frameRefused(rsFrameNotReading)
		c.s.warn.Warn().Str("nas", c.ident).Str("src", c.remote.String()).Int("queued", rsOutQueue).
			Msg("radsec: the NAS does not read its replies: connection closed")
		c.close()
	}
}

// ServeRadSec accepts RadSec connections on ln (a TCP listener; the TLS is
// the server's) until Shutdown (ErrServerClosed) or an accept error that
// is not temporary. It needs Config.RadSec. Shutdown closes ln.
func (s *Server) ServeRadSec(ln net.Listener) error {
	rs := s.rs
	if rs == nil {
		_ = ln.Close()
		return errors.New("radiusd: radsec: not configured (Config.RadSec is nil)")
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	rs.mu.Lock()
	rs.lns[ln] = struct{}{}
	rs.mu.Unlock()
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				// Out of descriptors and the like: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), rsAcceptBackoff)
				s.warn.Warn().Err(err).Dur("retry_in", backoff).Msg("radsec: accept")
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("radiusd: radsec accept: %w", err)
		}
		backoff = 0
		if !rs.limit.Acquire() {
			s.handshakeFailed(rsFailTooMany, addrPort(raw.RemoteAddr()), fmt.Errorf("max_conns (%d) connections open", rs.cfg.MaxConns))
			_ = raw.Close()
			continue
		}
		c := &rsConn{
			id: rs.nextID.Add(1), s: s, raw: raw, remote: addrPort(raw.RemoteAddr()),
			out: make(chan []byte, rsOutQueue), done: make(chan struct{}), dyn: map[byte]*dynWait{},
		}
		rs.mu.Lock()
		rs.conns[c] = struct{}{}
		rs.mu.Unlock()
		if s.closing.Load() { // Shutdown may have passed this connection by
			rs.drop(c)
			continue
		}
		s.wg.Add(1)
		go s.serveRadSecConn(c)
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return netip.AddrPortFrom(t.AddrPort().Addr().Unmap(), t.AddrPort().Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// drop closes a connection that never got a writer, and gives its place back.
func (rs *radsecState) drop(c *rsConn) {
	_ = c.raw.Close()
	rs.mu.Lock()
	delete(rs.conns, c)
	rs.mu.Unlock()
	rs.limit.Release()
}

// serveRadSecConn runs the handshake, then reads packets until the NAS
// closes, the connection idles out or breaks, or Shutdown.
func (s *Server) serveRadSecConn(c *rsConn) {
	defer s.wg.Done()
	rs := s.rs
	ok := s.handshake(c)
	rs.mu.Lock()
	if ok && !rs.closed && !s.closing.Load() {
		rs.writers.Add(1)
		rs.byNAS[c.ident] = append(rs.byNAS[c.ident], c)
	} else {
		ok = false
	}
	rs.mu.Unlock()
	if !ok {
		if c.held {
			rs.limit.ReleaseKey(c.ident)
		}
		rs.drop(c)
		return
	}
	go c.writer()
	s.radsecGauge(c.ident, 1)
	s.log.Info().Str("nas", c.ident).Str("src", c.remote.String()).Str("tls_version", tls.VersionName(c.tc.ConnectionState().Version)).
		Msg("radsec: NAS connected")

	why := c.read()

	rs.mu.Lock()
	list := rs.byNAS[c.ident]
	for i, o := range list {
		if o == c {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(rs.byNAS, c.ident)
	} else {
		rs.byNAS[c.ident] = list
	}
	rs.mu.Unlock()
	rs.limit.ReleaseKey(c.ident)
	s.radsecGauge(c.ident, -1)
	if !s.closing.Load() {
		// On Shutdown the connection stays open for the replies in flight;
		// radsecClose ends it.
		c.close()
	}
	s.log.Info().Str("nas", c.ident).Str("src", c.remote.String()).Str("reason", why).Msg("radsec: NAS disconnected")
}

// handshake runs the TLS handshake within handshake_timeout; the client
// certificate, verified against client_ca, names the NAS.
func (s *Server) handshake(c *rsConn) bool {
	rs := s.rs
	rs.checkCerts(s)
	cur := rs.certs.Current()
	var why string // a reason of VerifyConnection's refusal
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cur.Cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    cur.ClientCA,
		// Called after the chain verified: the certificate names a NAS
		// entry, within its connection bound, or the handshake fails with
		// an alert.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				why = rsFailNoCert
				return errors.New("no client certificate")
			}
			nas := s.identify(cs.PeerCertificates[0], c.remote.Addr())
			if nas == nil {
				why = rsFailUnknown
				return fmt.Errorf("no NAS entry for certificate %q (sha256 %x) from %s", certName(cs.PeerCertificates[0]), sha256.Sum256(cs.PeerCertificates[0].Raw), c.remote.Addr())
			}
			ident := nas.acctNAS(c.remote.Addr())
			if n, ok := rs.limit.AcquireKey(ident); !ok {
				why = rsFailNASLimit
				return fmt.Errorf("nas %s has max_conns_per_nas (%d) connections open", ident, n)
			}
			c.nas, c.ident, c.held = nas.tls, ident, true
			return nil
		},
	}
	c.tc = tls.Server(c.raw, cfg)
	_ = c.raw.SetDeadline(time.Now().Add(rs.cfg.HandshakeTimeout))
	if s.closing.Load() { // Shutdown's deadline may be the one just replaced
		return false
	}
	err := c.tc.Handshake()
	if err == nil {
		_ = c.raw.SetDeadline(time.Time{})
		return true
	}
	if s.closing.Load() {
		return false
	}
	if why == "" {
		why = handshakeReason(err)
	}
	s.handshakeFailed(why, c.remote, err)
	return false
}

// handshakeReason classifies a handshake error VerifyConnection did not.
func handshakeReason(err error) string {
	var (
		ne net.Error
		ce *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return rsFailTimeout
	case errors.As(err, &ce):
		return rsFailBadCert
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, errConnReset):
		return rsFailClosed
	case strings.Contains(err.Error(), "didn't provide a certificate"):
		return rsFailNoCert
	}
	return rsFailTLS
}

// identify finds the NAS entry of a verified client certificate: by its
// fingerprint, then by its names, then (entries without a certificate
// identity only) by the source address. nil when none.
func (s *Server) identify(leaf *x509.Certificate, src netip.Addr) *nasEntry {
	fp := sha256.Sum256(leaf.Raw)
	for _, e := range s.nas.byPrefix {
		for _, f := range e.RadSec.Fingerprints {
			if f == fp {
				return e
			}
		}
	}
	names := append([]string{leaf.Subject.CommonName}, leaf.DNSNames...)
	for _, e := range s.nas.byPrefix {
		for _, want := range e.RadSec.Names {
			for _, n := range names {
				if n != "" && strings.EqualFold(n, want) {
					return e
				}
			}
		}
	}
	if e := s.nas.lookup(src); e != nil && !e.CertIdentified() {
		return e
	}
	return nil
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return ""
}

// read reads packets until the connection ends, and says why it did.
func (c *rsConn) read() string {
	s, cfg := c.s, c.s.rs.cfg
	buf := make([]byte, radsec.MaxLen)
	slow := false
	for {
		_ = c.raw.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
		if s.closing.Load() { // Shutdown's deadline may be the one just replaced
			return "shutdown"
		}
		slow = false
		b, err := radsec.ReadFrame(c.tc, buf, func() {
			slow = true
			_ = c.raw.SetReadDeadline(time.Now().Add(cfg.HandshakeTimeout))
		})
		if err != nil {
			var ne net.Error
			switch {
			case s.closing.Load():
				return "shutdown"
			case errors.Is(err, radsec.ErrShort), errors.Is(err, radsec.ErrLong):
				s.frameRefused(rsFrameLength)
				s.warn.Warn().Err(err).Str("nas", c.ident).Str("src", c.remote.String()).Msg("radsec: bad packet length: connection closed")
				return "bad length"
			case errors.As(err, &ne) && ne.Timeout() && slow:
				s.frameRefused(rsFrameSlow)
				return "packet not sent within handshake_timeout"
			case errors.As(err, &ne) && ne.Timeout():
				return "idle for idle_timeout"
			case errors.Is(err, io.ErrUnexpectedEOF):
				s.frameRefused(rsFrameTruncated)
				return "closed inside a packet"
			case errors.Is(err, io.EOF):
				return "closed by the NAS"
			}
			return err.Error()
		}
		select {
		case <-c.done: // the writer gave up (write error, replies not read)
			return "write failed or replies not read"
		default:
		}
		switch radius.Code(b[0]) {
		case radius.CodeDisconnectACK, radius.CodeDisconnectNAK, radius.CodeCoAACK, radius.CodeCoANAK:
			c.response(b)
			continue
		}
		if t, ok := s.admitFrom(sink{tls: c}, RadSec, c.nas, b, c.remote); ok {
			s.dispatchWait(t)
		}
	}
}

// dispatchWait is dispatch for a stream: at the in-flight bound the reader
// waits for a place, up to store_timeout, instead of dropping at once. A
// RadSec client does not retransmit on its connection, so a drop costs it
// its whole timeout; waiting leaves the packets in the socket and slows the
// NAS down by TCP's own flow control, one connection at a time.
func (s *Server) dispatchWait(t task) {
	select {
	case s.sem <- struct{}{}:
		s.start(t)
		return
	default:
	}
	wait := time.NewTimer(s.cfg.StoreTimeout)
	defer wait.Stop()
	select {
	case s.sem <- struct{}{}:
		s.start(t)
	case <-wait.C:
		s.overload(t)
	}
}

// writer writes the queued replies, each within write_timeout, until the
// connection is closed; then it sends what is still queued and closes.
func (c *rsConn) writer() {
	rs := c.s.rs
	defer rs.writers.Done()
	// The replies queued are written together (one TLS record, one
	// system call): the writer keeps up with any number of workers, so a
	// full queue means the NAS is not reading, not that the writer is slow.
	batch := make([]byte, 0, rsWriteBatch)
	write := func(b []byte) bool {
		batch = append(batch[:0], b...)
	more:
		for len(batch) < rsWriteBatch-radsec.MaxLen {
			select {
			case b := <-c.out:
				batch = append(batch, b...)
			default:
				break more
			}
		}
		_ = c.raw.SetWriteDeadline(time.Now().Add(rs.cfg.WriteTimeout))
		if _, err := c.tc.Write(batch); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.s.frameRefused(rsFrameNotReading)
			}
			if !c.s.closing.Load() {
				c.s.warn.Warn().Err(err).Str("nas", c.ident).Str("src", c.remote.String()).Msg("radsec: write reply: connection closed")
			}
			return false
		}
		return true
	}
	ok := true
	for ok {
		select {
		case b := <-c.out:
			ok = write(b)
		case <-c.done:
			// On Shutdown the replies in flight are sent; otherwise the NAS
			// is gone or not reading, and nothing more is written.
		drain:
			for ok && c.s.closing.Load() {
				select {
				case b := <-c.out:
					ok = write(b)
				default:
					break drain
				}
			}
			ok = false
		}
	}
	c.close()
	if c.s.closing.Load() {
		_ = c.raw.SetWriteDeadline(time.Now().Add(rs.cfg.WriteTimeout))
		_ = c.tc.Close() // close_notify, then the socket
	} else {
		_ = c.raw.Close() // the reader returns
	}
	rs.mu.Lock()
	delete(rs.conns, c)
	rs.mu.Unlock()
	rs.limit.Release()
}

// radsecStopReading is Shutdown's first step: no new connection, no new
// packet; replies in flight are still written.
func (s *Server) radsecStopReading() {
	rs := s.rs
	if rs == nil {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for ln := range rs.lns {
		_ = ln.Close()
	}
	for c := range rs.conns {
		_ = c.raw.SetReadDeadline(time.Unix(1, 0))
	}
}

// radsecClose is Shutdown's last step: every connection writes what is
// queued and closes.
func (s *Server) radsecClose() {
	rs := s.rs
	if rs == nil {
		return
	}
	rs.mu.Lock()
	rs.closed = true
	for c := range rs.conns {
		c.close()
	}
	rs.mu.Unlock()
	rs.writers.Wait()
}

// checkCerts reloads the certificate files when they changed (at most once
// per rsCertCheckGap), so a renewed certificate is served without SIGHUP.
func (rs *radsecState) checkCerts(s *Server) {
	now := time.Now().UnixNano()
	last := rs.lastCheck.Load()
	if now-last < int64(rsCertCheckGap) || !rs.lastCheck.CompareAndSwap(last, now) {
		return
	}
	switch changed, err := rs.certs.Check(); {
	case err != nil:
		// Once per change of a file (Check remembers the broken one).
		s.log.Error().Err(err).Str("trigger", "file changed").Msg("radsec: certificates not reloaded: the loaded ones stay in use")
	case changed:
		s.logReloaded("file changed")
	}
}

// ReloadRadSec loads the RadSec certificate, key and client CA files again
// (on SIGHUP). On error the loaded ones stay in use and the error says
// which file is wrong; the caller logs it. New connections use the new
// ones, open ones keep theirs.
func (s *Server) ReloadRadSec() error {
	if s.rs == nil {
		return nil
	}
	if _, err := s.rs.certs.Reload(); err != nil {
		return fmt.Errorf("radiusd: radsec: certificates not reloaded, the loaded ones stay in use: %w", err)
	}
	s.logReloaded("reload")
	return nil
}

func (s *Server) logReloaded(why string) {
	s.log.Info().Str("trigger", why).Time("cert_not_after", s.rs.certs.Current().NotAfter).Msg("radsec: certificates reloaded")
}

// RadSecConnected lists the accounting identities of the NASes connected
// by RadSec now.
func (s *Server) RadSecConnected() []string {
	if s.rs == nil {
		return nil
	}
	s.rs.mu.Lock()
	defer s.rs.mu.Unlock()
	out := make([]string, 0, len(s.rs.byNAS))
	for k := range s.rs.byNAS {
		out = append(out, k)
	}
	return out
}

// radsecConn is the newest connection of the NAS with the accounting
// identity ident, nil when it has none.
func (s *Server) radsecConn(ident string) *rsConn {
	if s.rs == nil {
		return nil
	}
	s.rs.mu.Lock()
	defer s.rs.mu.Unlock()
	if l := s.rs.byNAS[ident]; len(l) > 0 {
		return l[len(l)-1]
	}
	return nil
}

func (s *Server) handshakeFailed(reason string, src netip.AddrPort, err error) {
	if m := s.cfg.Metrics; m != nil {
		m.rsHandshake.WithLabelValues(reason).Inc()
	}
	s.warn.Warn().Err(err).Str("src", src.String()).Str("reason", reason).Msg("radsec: connection refused")
}

func (s *Server) frameRefused(reason string) {
	if m := s.cfg.Metrics; m != nil {
		m.rsFrames.WithLabelValues(reason).Inc()
	}
}

func (s *Server) radsecGauge(nas string, d float64) {
	if m := s.cfg.Metrics; m != nil {
		m.rsConns.WithLabelValues(nas).Add(d)
	}
}

// dynWait is a Disconnect/CoA request waiting for its reply on a connection.
type dynWait struct {
	req  []byte
	code radius.Code
	res  chan DynAuthResult
}

var (
	errTooManyFiles = syscall.EMFILE
	errConnReset    = syscall.ECONNRESET
)
