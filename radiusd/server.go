// Package radiusd is the RADIUS server of the hotspot backend: UDP
// listeners for authentication and accounting, the NAS table and its
// secrets, the packet checks of docs/ARCHITECTURE.md ("Protocol rules") (authenticators,
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
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

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

// Vouchers is what the server needs for voucher logins (README.md,
// "Vouchers"); *voucher.Manager satisfies it.
type Vouchers interface {
	// Redeem binds the code, as typed, to the device on its first login
	// and returns the ID of the device's session of the code (the same on
	// every later login), or why the code is refused: an error wrapping
	// voucher.ErrUnknown, ErrRevoked, ErrUsedUp, ErrExpired,
	// ErrOtherDevice or ErrNoPlan; another error when the store failed.
	Redeem(ctx context.Context, code string, mac session.MAC) (string, error)
}

// Config is everything the server needs; main builds it from the
// configuration file and passes it to New.
type Config struct {
	NAS   []NAS
	Store Store
	// Vouchers serves the NAS entries whose login style takes voucher
	// codes (required with them).
	Vouchers Vouchers
	Log      zerolog.Logger
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
	// IOBatch is the most datagrams a UDP listener reads or sends with one
	// system call (recvmmsg, sendmmsg; batchio.go); 1 reads and sends one
	// at a time. Default DefaultIOBatch.
	IOBatch int
	// StoreTimeout bounds one store call; keep it below the NAS's retry
	// interval.
	StoreTimeout time.Duration
	// VoucherLimits bound failed voucher logins, so codes cannot be guessed.
	VoucherLimits VoucherLimits
	// Enforce enables Disconnect/CoA (RFC 5176), the end-of-session
	// schedule and the reaper (nil: disabled). RunEnforcement runs them.
	Enforce *EnforceConfig
	// RadSec enables RADIUS over TLS (ServeRadSec; nil: disabled).
	RadSec *RadSecConfig
}

// Defaults applied to zero fields by Config.SetDefaults.
const (
	DefaultAcctInterimInterval = 300 * time.Second
	DefaultCacheTTL            = 10 * time.Second
	DefaultCacheMax            = 1 << 20
	DefaultMaxInFlight         = 4096
	DefaultStoreTimeout        = 2 * time.Second
)

// Server answers RADIUS on any number of PacketConns.
type Server struct {
	cfg      Config
	nas      *nasTable
	cache    *respCache
	timeouts *timeouts // the store calls' deadlines (storeCtx)
	sem      chan struct{}
	log      zerolog.Logger
	warn     zerolog.Logger // sampled, for dropped packets
	now      func() time.Time
	wg       sync.WaitGroup // Serve loops and packets in flight
	closing  atomic.Bool

	work     chan task     // to an idle worker; never closed
	quit     chan struct{} // closed by Shutdown: workers exit
	quitOnce sync.Once
	// sweep is closed, and replaced, at the end of each workerIdle period
	// (startSweeper).
	sweep       atomic.Pointer[chan struct{}]
	sweeperOnce sync.Once
	workers     sync.WaitGroup
	nworkers    atomic.Int64
	maxWork     int64

	enf     *enforcer    // nil when enforcement is off
	rs      *radsecState // nil when RadSec is off (radsec.go)
	vlimit  *voucherLimiter
	classes *classes // Class values of Access-Accepts

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
	if cfg.RadSec != nil {
		rs := *cfg.RadSec
		cfg.RadSec = &rs
	}
	cfg.SetDefaults()
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("no store"))
	}
	if cfg.Enforce != nil && cfg.Enforce.Store == nil {
		errs = append(errs, errors.New("enforcement enabled without a store"))
	}
	if cfg.Vouchers == nil {
		for _, n := range cfg.NAS {
			if n.Login.TakesVouchers() {
				errs = append(errs, fmt.Errorf("NAS %s has login: %s but the server has no voucher store", n.Name, n.Login))
			}
		}
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
	var rs *radsecState
	if cfg.RadSec != nil {
		if rs, err = newRadSecState(*cfg.RadSec); err != nil {
			return nil, fmt.Errorf("radiusd: %w", err)
		}
	}
	srv := &Server{
		rs:      rs,
		classes: cls,
		enf:     enf,
		vlimit:  newVoucherLimiter(cfg.VoucherLimits),
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

		timeouts: newTimeouts(timeoutTick),

		maxWork: int64(min(cfg.MaxInFlight, maxWorkers)),
	}
	sweep := make(chan struct{})
	srv.sweep.Store(&sweep)
	return srv, nil
}

// storeCtx returns the context for one store call: never cancelled by
// shutdown, so an in-flight write can finish, bounded by the store timeout
// (timeouts: no runtime timer per call). The cancel function is a no-op,
// kept so that callers read as with context.WithTimeout.
func (s *Server) storeCtx() (context.Context, context.CancelFunc) {
	return s.timeouts.after(s.cfg.StoreTimeout), func() {}
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
	s.radsecStopReading()
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
	s.radsecClose()
	return err
}
