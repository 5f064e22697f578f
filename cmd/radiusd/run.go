package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/radiusd/adminapi"
	"github.com/hotspot-radius/hsradius/radiusd/metric/prom"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// shutdownTimeout bounds the drain of in-flight requests on SIGTERM.
const shutdownTimeout = 10 * time.Second

// exitCode maps run's error to the process exit status.
func exitCode(err error) int {
	var ce *configError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		return 2
	}
	return 1
}

const usage = `Usage: radiusd [-config FILE] [-log-level LEVEL] [-log-format json|console]
       radiusd -demo | -version

radiusd answers hotspot NAS (MikroTik, CoovaChilli, pfSense, ...) from the
sessions kept in Redis. Without -config (and without HSRADIUS_CONFIG) it
starts a demo on loopback with an embedded, non-persistent Redis.

Flags:
`

const usageEnv = `
Environment (overrides the file; flags override the environment):
  HSRADIUS_CONFIG          configuration file, when -config is not given
  HSRADIUS_REDIS_ADDRS     redis.addrs, comma-separated host:port list
  HSRADIUS_REDIS_PASSWORD  the Redis password (instead of redis.password_env/_file)
  HSRADIUS_REDIS_MASTER    redis.master_name (Sentinel)
  HSRADIUS_REDIS_USERNAME  redis.username (Redis 6 ACL user)
  HSRADIUS_REDIS_PREFIX    redis.prefix
  HSRADIUS_LOG_LEVEL       log.level
  HSRADIUS_LOG_FORMAT      log.format
  HSRADIUS_DEMO_REDIS_ADDR, HSRADIUS_DEMO_AUTH_ADDR, HSRADIUS_DEMO_ACCT_ADDR,
  HSRADIUS_DEMO_ADMIN_ADDR demo addresses (default 127.0.0.1:6380, 127.0.0.1:1812,
                           127.0.0.1:1813, and the admin API on 127.0.0.1:9812;
                           port 0 picks a free one; Redis on loopback only)

Secrets are never taken from flags. Every configuration key is documented in
testdata/config/radiusd.example.yaml.
`

// parseFlags parses the command line. Flag errors are usage errors (exit 2).
func parseFlags(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("radiusd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.configPath, "config", "", "the YAML configuration `file` (default $HSRADIUS_CONFIG; none: demo mode)")
	fs.StringVar(&o.logLevel, "log-level", "", "log `level`: trace, debug, info, warn or error (overrides log.level)")
	fs.StringVar(&o.logFormat, "log-format", "", "log `format`: json or console (overrides log.format)")
	fs.BoolVar(&o.demo, "demo", false, "run the demo (embedded in-memory Redis, loopback only) even if HSRADIUS_CONFIG is set")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, usage)
		fs.PrintDefaults()
		fmt.Fprint(stdout, usageEnv)
		o.help = true
		return o, nil
	case err != nil:
		return o, &configError{source: commandLineSource, problems: []string{err.Error() + " (see radiusd -h)"}}
	case fs.NArg() > 0:
		return o, &configError{source: commandLineSource, problems: []string{fmt.Sprintf("unexpected argument %q (see radiusd -h)", fs.Arg(0))}}
	}
	return o, nil
}

func version() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
	}
	return v
}

// run is the whole program: it returns when ctx is done (after a graceful
// shutdown) or on a fatal error. A *configError means a configuration or
// usage error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stdout)
	if err != nil || o.help {
		return err
	}
	if o.version {
		fmt.Fprintf(stdout, "radiusd %s %s\n", version(), runtime.Version())
		return nil
	}
	cfg, err := loadConfig(o, getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel, cfg.LogFormat, stderr)
	// go-redis logs pool trouble through a package-level logger of its own;
	// route it to ours so stderr stays one format.
	redis.SetLogger(redisLogger{log.With().Str("component", "go-redis").Logger().
		Sample(&zerolog.BurstSampler{Burst: 5, Period: 10 * time.Second})})

	var demoRedis *miniredis.Miniredis
	if cfg.Demo {
		demoRedis, err = startDemoRedis(cfg.Redis.Addrs[0])
		if err != nil {
			return err
		}
		defer demoRedis.Close()
		cfg.Redis.Addrs = []string{demoRedis.Addr()}
	}

	rdb, err := redisstore.NewClient(cfg.Redis)
	if err != nil {
		return &configError{source: cfg.Source, problems: []string{err.Error()}}
	}
	defer rdb.Close()
	store, err := redisstore.New(rdb, cfg.Store)
	if err != nil {
		return &configError{source: cfg.Source, problems: []string{err.Error()}}
	}
	pctx, cancel := context.WithTimeout(ctx, max(5*time.Second, 2*cfg.RedisTimeout))
	err = store.Ping(pctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return fmt.Errorf("redis (%s, %s) does not answer: %w\n  check that Redis is running and reachable from this host, and redis.addrs (or %s), the credentials and tls in %s",
			cfg.RedisMode, strings.Join(cfg.Redis.Addrs, ", "), err, envRedisAddrs, cfg.Source)
	}

	// The one registry: the server's metrics and the Go runtime and
	// process collectors, served on the admin listener's /metrics.
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	metrics, err := radiusd.NewMetrics(prom.Registry(reg))
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	vouchers := voucher.NewManager(store, time.Now)
	if getenv(envFaultVoucher) == "after_claim" {
		// The fault tests (cmd/radiusd/fault*_test.go) kill the server
		// between the first and second step of a redemption.
		vouchers.SetAfterClaim(func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) })
	}
	scfg := cfg.Server
	scfg.Store, scfg.Log, scfg.Metrics = store, log, metrics
	scfg.Vouchers = vouchers
	if cfg.Enforce != nil {
		enf := *cfg.Enforce
		enf.Store = store
		scfg.Enforce = &enf
	}
	srv, err := radiusd.New(scfg)
	if err != nil {
		return &configError{source: cfg.Source, problems: []string{err.Error()}}
	}

	conns, err := listen(cfg.Listen)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range conns {
			_ = c.conn.Close() // Shutdown closes the conns it served; these are the rest
		}
	}()

	rsLns, err := listenRadSec(cfg.RadSecListen)
	if err != nil {
		return err
	}
	defer func() {
		for _, l := range rsLns {
			_ = l.ln.Close() // Shutdown closes those it served
		}
	}()
	var radsecAddrs []string
	for _, l := range rsLns {
		radsecAddrs = append(radsecAddrs, l.ln.Addr().String())
	}

	var auth, acct []string
	for _, c := range conns {
		if c.Kind == radiusd.Auth {
			auth = append(auth, c.conn.LocalAddr().String())
		} else {
			acct = append(acct, c.conn.LocalAddr().String())
		}
	}
	nasTable := make([]adminapi.NASEntry, len(cfg.Server.NAS))
	for i, n := range cfg.Server.NAS {
		profiles := make([]string, len(n.Profiles))
		for j, p := range n.Profiles {
			profiles[j] = string(p)
		}
		nasTable[i] = adminapi.NASEntry{Name: n.Name, Address: n.Prefix.String(), Profiles: profiles, CoAPort: n.CoAPort}
	}
	admin, err := startAdmin(cfg.Admin, adminapi.Config{
		Sessions:  session.NewSessionsMgr(store, time.Now),
		Vouchers:  vouchers,
		DynAuth:   srv,
		Ready:     store.Ping,
		Gatherer:  reg,
		Log:       log.With().Str("component", "admin").Logger(),
		Directory: store,
		NAS:       nasTable,
	})
	if err != nil {
		return err
	}
	defer admin.close()

	if cfg.Demo {
		var nas []string
		for _, n := range cfg.Server.NAS {
			nas = append(nas, fmt.Sprintf("%q is %s", n.Name, n.Prefix))
		}
		printDemoBanner(stderr, cfg.Redis.Addrs[0], strings.Join(auth, ", "), strings.Join(acct, ", "), admin.addr, strings.Join(nas, ", "))
		log.Warn().Str("redis_addr", cfg.Redis.Addrs[0]).
			Msg("demo mode: embedded in-memory Redis, nothing is persisted; all sessions vanish when this process stops")
	}
	for _, w := range cfg.Warnings {
		log.Warn().Msg(w)
	}
	nas := zerolog.Arr()
	for _, n := range cfg.Server.NAS {
		nas.Object(nasLog(n))
	}
	log.Info().Str("version", version()).Str("config", cfg.Source).
		Strs("auth", auth).Strs("acct", acct).Strs("radsec", radsecAddrs).Array("nas", nas).
		Str("redis_mode", cfg.RedisMode).Strs("redis_addrs", cfg.Redis.Addrs).Str("redis_prefix", cfg.Store.Prefix).
		Str("acct_interim_interval", cfg.Server.AcctInterimInterval.String()).
		Str("idle_timeout", cfg.Server.IdleTimeout.String()).
		Str("response_cache_ttl", cfg.Server.CacheTTL.String()).
		Int("max_in_flight", cfg.Server.MaxInFlight).
		Str("store_timeout", cfg.Server.StoreTimeout.String()).
		Str("admin", admin.addr).Bool("admin_token", cfg.Admin.Token != "").Bool("pprof", cfg.Admin.Pprof && admin.addr != "").
		Object("enforcement", enforceLog{cfg.Enforce}).
		Msg("radiusd started")

	// Enforcement outlives the listeners' drain: in-flight accounting may
	// still queue a Disconnect.
	ectx, stopEnforce := context.WithCancel(context.Background())
	defer stopEnforce()
	enforced := make(chan struct{})
	go func() {
		defer close(enforced)
		_ = srv.RunEnforcement(ectx)
	}()

	if len(rsLns) > 0 {
		// SIGHUP reloads the RadSec certificate, key and client CA (they
		// are also reloaded when their files change).
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-hup:
					if err := srv.ReloadRadSec(); err != nil {
						log.Error().Err(err).Str("trigger", "SIGHUP").Msg("radsec: reload")
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	errc := make(chan error, len(conns)+len(rsLns)+1)
	for _, c := range conns {
		go func() {
			err := srv.Serve(c.conn, c.Kind)
			if err != nil && !errors.Is(err, radiusd.ErrServerClosed) {
				err = fmt.Errorf("%s %s: %w", c.Key, c.Addr, err)
			}
			errc <- err
		}()
	}
	for _, l := range rsLns {
		go func() {
			err := srv.ServeRadSec(l.ln)
			if err != nil && !errors.Is(err, radiusd.ErrServerClosed) {
				err = fmt.Errorf("%s %s: %w", l.Key, l.Addr, err)
			}
			errc <- err
		}()
	}
	pending := len(conns) + len(rsLns)
	if admin.srv != nil {
		pending++
		go func() {
			err := admin.srv.Serve(admin.ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("admin.listen %s: %w", admin.addr, err)
			}
			errc <- err
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down")
	case runErr = <-errc:
		pending--
		log.Error().Err(runErr).Msg("a listener failed: shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// The admin API first (no new changes; running calls finish), then the
	// RADIUS drain, then enforcement.
	if err := admin.shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("admin requests did not finish in time")
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Str("timeout", shutdownTimeout.String()).Msg("in-flight requests did not finish in time")
		if runErr == nil {
			runErr = fmt.Errorf("shutdown: in-flight requests did not finish within %v", shutdownTimeout)
		}
	}
	for _, c := range conns {
		_ = c.conn.Close() // Serve returns before registering when it raced with Shutdown
	}
	for ; pending > 0; pending-- {
		<-errc
	}
	stopEnforce()
	<-enforced
	log.Info().Msg("stopped")
	return runErr
}

// boundConn is an open listener and the configuration that asked for it.
type boundConn struct {
	listenAddr
	conn net.PacketConn
}

// listen binds every configured UDP address, or none.
func listen(addrs []listenAddr) ([]boundConn, error) {
	var out []boundConn
	for _, a := range addrs {
		c, err := net.ListenPacket("udp", a.Addr)
		if err != nil {
			for _, b := range out {
				_ = b.conn.Close()
			}
			return nil, fmt.Errorf("%s: cannot listen on udp %s: %w%s", a.Key, a.Addr, err, bindHint(err))
		}
		out = append(out, boundConn{listenAddr: a, conn: c})
	}
	return out, nil
}

// boundListener is an open RadSec (TCP) listener and its configuration.
type boundListener struct {
	listenAddr
	ln net.Listener
}

// listenRadSec binds every RadSec address, or none.
func listenRadSec(addrs []listenAddr) ([]boundListener, error) {
	var out []boundListener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a.Addr)
		if err != nil {
			for _, b := range out {
				_ = b.ln.Close()
			}
			hint := bindHint(err)
			if errors.Is(err, syscall.EADDRINUSE) {
				hint = "\n  another process (radsecproxy? FreeRADIUS?) has this port: find it with `ss -ltnp`, stop it, or change the address"
			}
			return nil, fmt.Errorf("%s: cannot listen on tcp %s: %w%s", a.Key, a.Addr, err, hint)
		}
		out = append(out, boundListener{listenAddr: a, ln: ln})
	}
	return out, nil
}

// bindHint says what to do about a failed bind.
func bindHint(err error) string {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return "\n  another process (FreeRADIUS? another radiusd?) has this port: find it with `ss -lunp`, stop it, or change the address"
	case errors.Is(err, syscall.EACCES):
		return "\n  ports below 1024 need root or CAP_NET_BIND_SERVICE"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EAFNOSUPPORT):
		return "\n  no interface of this host has this address (IPv6 disabled? remove the [::1] entries)"
	}
	return ""
}

// startDemoRedis starts the embedded Redis of the demo.
func startDemoRedis(addr string) (*miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(addr); err != nil {
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = fmt.Sprintf("\n  free the port (another radiusd demo? a redis-server? see `ss -ltnp`), set %s to another address, or pass -config to use a real Redis", envDemoRedisAddr)
		}
		return nil, fmt.Errorf("demo: the embedded Redis cannot listen on %s: %w%s", addr, err, hint)
	}
	return m, nil
}

// newLogger builds the root logger: JSON lines, or human-readable console
// output (coloured only on a terminal).
func newLogger(level zerolog.Level, format string, w io.Writer) zerolog.Logger {
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !isTerminal(w)}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// nasLog logs a NAS entry without its secrets.
type nasLog radiusd.NAS

func (n nasLog) MarshalZerologObject(e *zerolog.Event) {
	profiles := make([]string, len(n.Profiles))
	for i, p := range n.Profiles {
		profiles[i] = string(p)
	}
	addr := ""
	if n.Prefix.IsValid() {
		addr = n.Prefix.String()
	}
	e.Str("name", n.Name).Str("address", addr).Strs("profiles", profiles).
		Str("require_message_authenticator", n.MAPolicy.String()).Str("password", n.Password.String()).
		Uint32("global_down_mbits", n.GlobalDownMbits).Uint32("global_up_mbits", n.GlobalUpMbits).
		Int("coa_port", n.CoAPort).Str("on_spill", n.OnSpill.String()).
		Str("login", n.Login.String()).Str("mac_suffix", n.MACSuffix)
	if n.Login.TakesVouchers() {
		vp := n.VoucherPassword
		if vp == radiusd.VoucherPasswordUnset {
			vp = radiusd.VoucherPasswordCode
		}
		e.Str("voucher_password", vp.String())
	}
	e.Str("accounting_updates", n.Acct.Updates.String()).Str("retransmit_window", n.Acct.RetransmitWindow.String()).
		Str("counter_wrap", map[bool]string{true: "wrap", false: "reset"}[n.Acct.Wrap32])
	if nn := radiusd.NAS(n); nn.CertIdentified() {
		e.Strs("radsec_names", n.RadSec.Names).Int("radsec_fingerprints", len(n.RadSec.Fingerprints))
	}
}

// enforceLog logs the enforcement settings (enabled false when off).
type enforceLog struct{ e *radiusd.EnforceConfig }

func (l enforceLog) MarshalZerologObject(e *zerolog.Event) {
	e.Bool("enabled", l.e != nil)
	if l.e == nil {
		return
	}
	e.Str("dynauth_timeout", l.e.DynAuthTimeout.String()).Int("dynauth_tries", l.e.DynAuthTries).
		Int("workers", l.e.Workers).Int("queue", l.e.Queue).Str("schedule_every", l.e.ScheduleEvery.String()).
		Str("reap_after", l.e.ReapAfter.String()).Str("reap_every", l.e.ReapEvery.String())
}

// redisLogger adapts zerolog to go-redis's internal logging.
type redisLogger struct{ log zerolog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Msg(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
