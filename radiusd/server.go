// Package radiusd is the RADIUS server of the hotspot backend: UDP
// listeners for authentication and accounting, the NAS table and its
// secrets, the packet checks of DESIGN §7 (authenticators,
// Message-Authenticator, the RFC 5080 response cache, Status-Server, bounded
// concurrency), and the handlers that turn Access-Requests and
// Accounting-Requests into session decisions through the Store.
//
// Every datagram ends in exactly one outcome, counted in
// radiusd_packets_total; nothing is acknowledged before it is stored.
package radiusd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/hotspot-radius/hsradius/session"
)

// Store is what the server needs from session storage. Implementations
// return errors only when the operation may not have been applied; the
// server then stays silent so the NAS retries.
type Store interface {
	// DeviceSessions returns the device's sessions (read-only).
	DeviceSessions(ctx context.Context, mac session.MAC) ([]session.Data, error)
	// Account applies one accounting packet. Idempotent for a given packet
	// (counters are cumulative), so a retry after a timeout is safe.
	Account(ctx context.Context, ev session.AcctEvent) (session.AcctResult, error)
	// CloseNAS closes the NAS's records open at the given time (Accounting-On/Off).
	// Idempotent.
	CloseNAS(ctx context.Context, nas string, at time.Time, reason string) (int, error)
}

// Config is everything the server needs; main builds it from the
// configuration file and passes it to New.
type Config struct {
	NAS   []NAS
	Store Store
	Log   zerolog.Logger
	// Metrics may be nil (no metrics).
	Metrics *Metrics
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	// AcctInterimInterval is sent as Acct-Interim-Interval (≥ 60 s).
	AcctInterimInterval time.Duration
	// IdleTimeout is sent as Idle-Timeout (0: not sent).
	IdleTimeout time.Duration
	// CacheTTL is how long replies are kept for retransmissions (5–30 s).
	CacheTTL time.Duration
	// CacheMax bounds the response cache's entries.
	CacheMax int
	// MaxInFlight bounds concurrent requests; beyond it packets are dropped.
	MaxInFlight int
	// StoreTimeout bounds one store call; keep it below the NAS's retry
	// interval.
	StoreTimeout time.Duration
	// Enforce enables Disconnect/CoA (RFC 5176), the end-of-session
	// schedule and the reaper (nil: disabled). RunEnforcement runs them.
	Enforce *EnforceConfig
}

// Defaults applied to zero fields by Config.SetDefaults.
const (
	DefaultAcctInterimInterval = 300 * time.Second
	DefaultCacheTTL            = 10 * time.Second
	DefaultCacheMax            = 1 << 20
	DefaultMaxInFlight         = 4096
	DefaultStoreTimeout        = 2 * time.Second
)

// Handler goroutines are kept and reused: a fresh goroutine per packet grows
// its stack on every packet (the handler and the Redis client go deep), and
// at 14k requests/s that copying and newproc took about 9% of the server's CPU.
const (
	// maxWorkers bounds the goroutines kept (at most MaxInFlight). It is
	// well above the concurrency of a busy server (14k requests/s at 2 ms
	// each keeps 28 in flight) and small enough that the kept stacks stay
	// a few MiB; beyond it a burst is handled by one-off goroutines, as
	// the in-flight bound allows.
	maxWorkers = 256
	// workerIdle: a worker that got no packet in a whole period (30 to 60 s
	// after its last) exits. Idle workers take packets in turn, so the pool
	// shrinks only when traffic nearly stops, not after every burst.
	workerIdle = 30 * time.Second
)

// Server answers RADIUS on any number of PacketConns.
type Server struct {
	cfg     Config
	nas     *nasTable
	cache   *respCache
	sem     chan struct{}
	log     zerolog.Logger
	warn    zerolog.Logger // sampled, for dropped packets
	now     func() time.Time
	wg      sync.WaitGroup // Serve loops and packets in flight
	closing atomic.Bool

	work     chan task     // to an idle worker; never closed
	quit     chan struct{} // closed by Shutdown: workers exit
	quitOnce sync.Once
	workers  sync.WaitGroup
	nworkers atomic.Int64
	maxWork  int64

	enf     *enforcer // nil when enforcement is off
	classes *classes  // Class values of Access-Accepts

	mu    sync.Mutex
	conns map[net.PacketConn]struct{}
}

// New fills cfg's defaults (Config.SetDefaults), validates it
// (Config.Validate) and returns a Server.
func New(cfg Config) (*Server, error) {
	// SetDefaults writes to the NAS entries and Enforce: not the caller's.
	cfg.NAS = slices.Clone(cfg.NAS)
	if cfg.Enforce != nil {
		enf := *cfg.Enforce
		cfg.Enforce = &enf
	}
	cfg.SetDefaults()
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("no store"))
	}
	if cfg.Enforce != nil && cfg.Enforce.Store == nil {
		errs = append(errs, errors.New("enforcement enabled without a store"))
	}
	errs = append(errs, cfg.Validate())
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("radiusd: %w", err)
	}
	table := newNASTable(cfg.NAS)
	cls, err := newClasses()
	if err != nil {
		return nil, fmt.Errorf("radiusd: class values: %w", err)
	}
	var enf *enforcer
	if cfg.Enforce != nil {
		enf = newEnforcer(*cfg.Enforce, cfg.AcctInterimInterval)
	}
	return &Server{
		classes: cls,
		enf:     enf,
		cfg:     cfg,
		nas:     table,
		cache:   newRespCache(cfg.CacheTTL, cfg.CacheMax),
		sem:     make(chan struct{}, cfg.MaxInFlight),
		work:    make(chan task),
		quit:    make(chan struct{}),
		log:     cfg.Log,
		warn:    cfg.Log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Second}),
		now:     cfg.Now,
		conns:   map[net.PacketConn]struct{}{},

		maxWork: int64(min(cfg.MaxInFlight, maxWorkers)),
	}, nil
}

// Listener says which requests a PacketConn serves.
type Listener uint8

// Listeners.
const (
	Auth Listener = iota // Access-Request, Status-Server (port 1812)
	Acct                 // Accounting-Request, Status-Server (port 1813)
)

func (l Listener) String() string {
	if l == Auth {
		return listenerAuth
	}
	return listenerAcct
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("radiusd: server closed")

// Serve reads requests from conn until Shutdown (ErrServerClosed) or a
// read error. The caller owns conn's creation; Shutdown closes it.
func (s *Server) Serve(conn net.PacketConn, l Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = conn.Close()
		return ErrServerClosed
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1) // the conn itself: closed only after in-flight replies
	s.mu.Unlock()
	defer s.wg.Done()

	udp, _ := conn.(*net.UDPConn)
	buf := make([]byte, maxPacketLen+1)
	for {
		var (
			n   int
			src netip.AddrPort
			err error
		)
		if udp != nil {
			n, src, err = udp.ReadFromUDPAddrPort(buf)
		} else {
			var a net.Addr
			n, a, err = conn.ReadFrom(buf)
			if ua, ok := a.(*net.UDPAddr); ok {
				src = ua.AddrPort()
			}
		}
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("radiusd: read %s: %w", l, err)
		}
		s.receive(conn, l, buf[:n], src)
	}
}

// receive does the cheap checks inline and hands the packet to a worker,
// within the in-flight bound.
func (s *Server) receive(conn net.PacketConn, l Listener, b []byte, src netip.AddrPort) {
	start := s.now()
	code := "invalid"
	if len(b) > 0 {
		code = radius.Code(b[0]).String()
	}
	nas := s.nas.lookup(src.Addr())
	if nas == nil {
		s.count(l, code, OutcomeUnknownNAS)
		s.warn.Warn().Str("src", src.String()).Str("outcome", OutcomeUnknownNAS).Msg("packet from an address not in the NAS table")
		return
	}
	pkt, maOff, err := checkFraming(b)
	if err != nil {
		s.drop(l, code, OutcomeMalformed, nas, src, err)
		return
	}
	if !servedOn(radius.Code(pkt[0]), l) {
		s.drop(l, code, OutcomeUnsupported, nas, src, fmt.Errorf("code %s not served on the %s port", code, l))
		return
	}
	// Authenticity before the cache: a forged packet must not take a cache
	// entry (a flood of them would hold memory for the entry's lifetime).
	if outcome, err := s.authentic(nas, pkt, maOff); err != nil {
		s.drop(l, code, outcome, nas, src, err)
		return
	}
	key := cacheKey{src: src, l: l, id: pkt[1]}
	copy(key.auth[:], pkt[4:20])
	cached, state := s.cache.begin(key, start)
	switch state {
	case cacheInFlight:
		s.count(l, code, OutcomeDuplicate)
		return
	case cacheAnswered:
		s.write(conn, cached, src)
		s.count(l, code, OutcomeCached)
		return
	}
	select {
	case s.sem <- struct{}{}:
	default:
		s.cache.abort(key)
		s.drop(l, code, OutcomeOverload, nas, src, errors.New("too many requests in flight"))
		return
	}
	s.wg.Add(1)
	s.inFlight(1)
	t := task{conn: conn, l: l, nas: nas, pkt: append([]byte(nil), pkt...), // buf is reused by the read loop
		maOff: maOff, src: src, key: key, start: start}
	select {
	case s.work <- t: // an idle worker took it
	default:
		if s.nworkers.Add(1) <= s.maxWork {
			s.workers.Go(func() { s.worker(t) })
		} else {
			s.nworkers.Add(-1)
			go s.run(t)
		}
	}
}

// task is an accepted request on its way to handle.
type task struct {
	conn  net.PacketConn
	l     Listener
	nas   *nasEntry
	pkt   []byte
	maOff int
	src   netip.AddrPort
	key   cacheKey
	start time.Time
}

// worker is a packet handler goroutine: it runs t, then the tasks receive
// hands it, until Shutdown or a workerIdle period without any.
func (s *Server) worker(t task) {
	defer s.nworkers.Add(-1)
	s.run(t)
	idle := time.NewTicker(workerIdle)
	defer idle.Stop()
	busy := false
	for {
		select {
		case t = <-s.work:
			s.run(t)
			busy = true
		case <-idle.C:
			if !busy {
				return
			}
			busy = false
		case <-s.quit:
			return
		}
	}
}

// run handles one task and releases its place in flight.
func (s *Server) run(t task) {
	defer func() {
		<-s.sem
		s.inFlight(-1)
		s.wg.Done()
	}()
	s.handle(t.conn, t.l, t.nas, t.pkt, t.maOff, t.src, t.key, t.start)
}

func servedOn(c radius.Code, l Listener) bool {
	switch c {
	case radius.CodeStatusServer:
		return true
	case radius.CodeAccessRequest:
		return l == Auth
	case radius.CodeAccountingRequest:
		return l == Acct
	}
	return false
}

// handle verifies, processes and answers one request; it ends in exactly one
// counted outcome.
func (s *Server) handle(conn net.PacketConn, l Listener, nas *nasEntry, pkt []byte, maOff int, src netip.AddrPort, key cacheKey, start time.Time) {
	code := radius.Code(pkt[0])
	reply, outcome, err := s.process(l, nas, pkt, maOff, src)
	if reply == nil {
		s.cache.abort(key)
		s.drop(l, code.String(), outcome, nas, src, err)
		return
	}
	s.cache.finish(key, reply, s.now())
	s.write(conn, reply, src)
	s.count(l, code.String(), outcome)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.duration.WithLabelValues(l.String()).Observe(s.now().Sub(start).Seconds())
	}
}

// process checks the request's authenticity and runs its handler. A nil
// reply means drop, with outcome and err saying why.
func (s *Server) process(l Listener, nas *nasEntry, pkt []byte, maOff int, src netip.AddrPort) ([]byte, string, error) {
	code := radius.Code(pkt[0])
	secret := nas.Secret
	p, err := radius.Parse(pkt, secret)
	if err != nil {
		return nil, OutcomeMalformed, err
	}
	var r *response
	switch {
	case code == radius.CodeStatusServer:
		r = &response{outcome: OutcomeStatus, code: radius.CodeAccessAccept}
		if l == Acct {
			r.code = radius.CodeAccountingResponse
		}
	case code == radius.CodeAccessRequest:
		r, err = s.authorize(nas, p)
	default:
		r, err = s.account(nas, p, src)
	}
	if r == nil {
		var d dropError
		if errors.As(err, &d) {
			return nil, d.outcome, d.err
		}
		return nil, OutcomeStoreError, err
	}
	// DESIGN §7.3: every Access-* reply and every Status-Server reply,
	// including the Accounting-Response to one on the accounting port.
	withMA := r.code != radius.CodeAccountingResponse || code == radius.CodeStatusServer
	// RFC 2865 §5.33: every Proxy-State of the request, in order, in the
	// reply (after the Message-Authenticator, which encodeReply puts first),
	// so that a proxy in front of us can match its requests.
	for _, a := range p.Attributes {
		if a.Type == rfc2865.ProxyState_Type {
			r.attrs = append(r.attrs, a)
		}
	}
	b, err := encodeReply(r.code, p.Identifier, p.Authenticator, r.attrs, secret, withMA)
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
		if !verifyRequestAuth(pkt, nas.Secret) {
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
		if !verifyMA(pkt, maOff, nas.Secret) {
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

func (s *Server) write(conn net.PacketConn, b []byte, src netip.AddrPort) {
	var err error
	if udp, ok := conn.(*net.UDPConn); ok {
		_, err = udp.WriteToUDPAddrPort(b, src)
	} else {
		_, err = conn.WriteTo(b, net.UDPAddrFromAddrPort(src))
	}
	if err != nil && !s.closing.Load() {
		s.warn.Warn().Err(err).Str("src", src.String()).Msg("write reply")
	}
}

func (s *Server) count(l Listener, code, outcome string) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.packets.WithLabelValues(l.String(), code, outcome).Inc()
	}
}

func (s *Server) inFlight(d float64) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.inFlight.Add(d)
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

// storeCtx returns the context for one store call: never cancelled by
// shutdown, so an in-flight write can finish, bounded by the store timeout.
func (s *Server) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.StoreTimeout)
}

func (s *Server) observeStore(op string, start time.Time, err error) {
	if s.cfg.Metrics == nil {
		return
	}
	s.cfg.Metrics.storeDur.WithLabelValues(op).Observe(s.now().Sub(start).Seconds())
	if err != nil {
		s.cfg.Metrics.storeErr.WithLabelValues(op).Inc()
	}
}

// Shutdown stops reading, lets in-flight requests finish and answer (their
// store writes are not cancelled), stops the workers, then closes the
// connections. If ctx ends first it closes them at once and returns ctx's
// error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	conns := make([]net.PacketConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		// Unblock the read loops; replies can still be written.
		_ = c.SetReadDeadline(time.Unix(1, 0))
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.quitOnce.Do(func() { close(s.quit) })
	if err == nil {
		// Nothing is in flight and the read loops have returned, so no
		// worker starts now and every worker is idle: they return at once.
		// (When ctx ended first, workers still busy exit after their packet.)
		s.workers.Wait()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	return err
}
