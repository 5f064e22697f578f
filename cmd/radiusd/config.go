package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/radiusd/adminapi"
	"github.com/hotspot-radius/hsradius/radiusd/radsec"
	"github.com/hotspot-radius/hsradius/redisstore"
)

// The configuration file's schema. Every key is documented, with its
// default, in testdata/config/radiusd.example.yaml. Durations are strings
// ("300s", "5m") parsed during validation so that a bad one is reported
// with its key, together with every other problem.
type fileConfig struct {
	Listen listenFile `yaml:"listen"`
	Redis  redisFile  `yaml:"redis"`
	Radius radiusFile `yaml:"radius"`
	Log    logFile    `yaml:"log"`
	Admin  adminFile  `yaml:"admin"`
	// Enforcement is Disconnect/CoA (RFC 5176), the end-of-session
	// schedule and the reaper of silent accounting records.
	Enforcement enforcementFile `yaml:"enforcement"`
	// RadSec is RADIUS over TLS (RFC 6614) beside the UDP listeners.
	RadSec radsecFile `yaml:"radsec"`
	NAS    []nasFile  `yaml:"nas"`
}

// radsecFile is the RadSec listener (README.md, "RadSec").
type radsecFile struct {
	Enabled          bool     `yaml:"enabled"`
	Listen           []string `yaml:"listen"`
	Cert             string   `yaml:"cert"`
	Key              string   `yaml:"key"`
	ClientCA         string   `yaml:"client_ca"`
	HandshakeTimeout string   `yaml:"handshake_timeout"`
	IdleTimeout      string   `yaml:"idle_timeout"`
	WriteTimeout     string   `yaml:"write_timeout"`
	MaxConns         int      `yaml:"max_conns"`
	MaxConnsPerNAS   int      `yaml:"max_conns_per_nas"`
}

// nasRadSecFile is a NAS's identity and secret on RadSec.
type nasRadSecFile struct {
	Names        []string `yaml:"names"`
	Fingerprints []string `yaml:"fingerprints"`
	Secret       string   `yaml:"secret"`
	SecretEnv    string   `yaml:"secret_env"`
	SecretFile   string   `yaml:"secret_file"`
}

// adminFile is the HTTP admin listener: the session API, /metrics,
// /healthz, /readyz and optionally pprof.
type adminFile struct {
	Listen    string `yaml:"listen"`
	Token     string `yaml:"token"`
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`
	Pprof     bool   `yaml:"pprof"`
	// AllowedHosts are host names, besides localhost and IP addresses, that
	// requests may carry in Host when there is no token (a reverse proxy's).
	AllowedHosts []string `yaml:"allowed_hosts"`
}

type enforcementFile struct {
	Enabled        bool   `yaml:"enabled"`
	DynAuthTimeout string `yaml:"dynauth_timeout"`
	DynAuthTries   int    `yaml:"dynauth_tries"`
	Workers        int    `yaml:"workers"`
	Queue          int    `yaml:"queue"`
	ScheduleEvery  string `yaml:"schedule_every"`
	ReapAfter      string `yaml:"reap_after"`
	ReapEvery      string `yaml:"reap_every"`
}

type listenFile struct {
	Auth []string `yaml:"auth"`
	Acct []string `yaml:"acct"`
}

type redisFile struct {
	Addrs                []string `yaml:"addrs"`
	Cluster              bool     `yaml:"cluster"`
	MasterName           string   `yaml:"master_name"`
	Username             string   `yaml:"username"`
	PasswordEnv          string   `yaml:"password_env"`
	PasswordFile         string   `yaml:"password_file"`
	SentinelPasswordEnv  string   `yaml:"sentinel_password_env"`
	SentinelPasswordFile string   `yaml:"sentinel_password_file"`
	DB                   int      `yaml:"db"`
	TLS                  bool     `yaml:"tls"`
	TLSCAFile            string   `yaml:"tls_ca_file"`
	Prefix               string   `yaml:"prefix"`
	Timeout              string   `yaml:"timeout"`
	OpenRecordTTL        string   `yaml:"open_record_ttl"`
	StoppedRecordTTL     string   `yaml:"stopped_record_ttl"`
}

type radiusFile struct {
	AcctInterimInterval string `yaml:"acct_interim_interval"`
	IdleTimeout         string `yaml:"idle_timeout"`
	ResponseCacheTTL    string `yaml:"response_cache_ttl"`
	MaxInFlight         int    `yaml:"max_in_flight"`
	IOBatch             int    `yaml:"io_batch"`
	StoreTimeout        string `yaml:"store_timeout"`
	// Failed voucher logins allowed a minute per device and per NAS entry
	// (README.md, "Vouchers").
	VoucherFailuresPerDevice int `yaml:"voucher_failures_per_device"`
	VoucherFailuresPerNAS    int `yaml:"voucher_failures_per_nas"`
}

type logFile struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type nasFile struct {
	Name                        string   `yaml:"name"`
	Address                     string   `yaml:"address"`
	Secret                      string   `yaml:"secret"`
	SecretEnv                   string   `yaml:"secret_env"`
	SecretFile                  string   `yaml:"secret_file"`
	Profiles                    []string `yaml:"profiles"`
	GlobalDownMbits             uint32   `yaml:"global_down_mbits"`
	GlobalUpMbits               uint32   `yaml:"global_up_mbits"`
	CoAPort                     *int     `yaml:"coa_port"` // nil: the default; 0 disables Disconnect/CoA
	OnSpill                     string   `yaml:"on_spill"`
	CoASecret                   string   `yaml:"coa_secret"`
	CoASecretEnv                string   `yaml:"coa_secret_env"`
	CoASecretFile               string   `yaml:"coa_secret_file"`
	RequireMessageAuthenticator string   `yaml:"require_message_authenticator"`
	Password                    string   `yaml:"password"`
	FixedPassword               string   `yaml:"fixed_password"`
	FixedPasswordEnv            string   `yaml:"fixed_password_env"`
	FixedPasswordFile           string   `yaml:"fixed_password_file"`
	// Login is how the NAS's logins name the device: mac, mac_username,
	// any_name, voucher or mac_or_voucher (radiusd.LoginStyle).
	Login string `yaml:"login"`
	// VoucherPassword is how a voucher login's password is checked: code
	// or any (radiusd.VoucherPassword); only with the voucher styles.
	VoucherPassword string `yaml:"voucher_password"`
	MACSuffix       string `yaml:"mac_suffix"`
	// How the NAS's accounting is read (session.AcctPolicy).
	RetransmitWindow  string `yaml:"retransmit_window"`
	CounterWrap       string `yaml:"counter_wrap"`
	AccountingUpdates string `yaml:"accounting_updates"`
	// RadSec: recognised by its client certificate instead of its address.
	RadSec nasRadSecFile `yaml:"radsec"`
}

// defaultFile is the value of every key the file may leave out, except
// the per-NAS ones. The libraries' own defaults (their SetDefaults) are
// written in as the file would: the file and the libraries cannot differ.
func defaultFile() fileConfig {
	var srv radiusd.Config
	srv.SetDefaults()
	var enf radiusd.EnforceConfig
	enf.SetDefaults()
	var store redisstore.Options
	store.SetDefaults()
	var rs radiusd.RadSecConfig
	rs.SetDefaults()
	return fileConfig{
		RadSec: radsecFile{
			Listen:           []string{":2083"},
			HandshakeTimeout: rs.HandshakeTimeout.String(),
			IdleTimeout:      rs.IdleTimeout.String(),
			WriteTimeout:     rs.WriteTimeout.String(),
			MaxConns:         rs.MaxConns,
			MaxConnsPerNAS:   rs.MaxConnsPerNAS,
		},
		Listen: listenFile{
			Auth: []string{"127.0.0.1:1812", "[::1]:1812"},
			Acct: []string{"127.0.0.1:1813", "[::1]:1813"},
		},
		Redis: redisFile{
			Addrs:            []string{"127.0.0.1:6379"},
			Prefix:           store.Prefix,
			Timeout:          defaultRedisTimeout.String(),
			OpenRecordTTL:    store.OpenRecordTTL.String(),
			StoppedRecordTTL: store.StoppedRecordTTL.String(),
		},
		Radius: radiusFile{
			AcctInterimInterval: srv.AcctInterimInterval.String(),
			IdleTimeout:         srv.IdleTimeout.String(),
			ResponseCacheTTL:    srv.CacheTTL.String(),
			MaxInFlight:         srv.MaxInFlight,
			IOBatch:             srv.IOBatch,
			StoreTimeout:        srv.StoreTimeout.String(),

			VoucherFailuresPerDevice: srv.VoucherLimits.PerDevice,
			VoucherFailuresPerNAS:    srv.VoucherLimits.PerNAS,
		},
		Log:   logFile{Level: "info", Format: "json"},
		Admin: adminFile{Listen: defaultAdminListen},
		Enforcement: enforcementFile{
			Enabled:        true,
			DynAuthTimeout: enf.DynAuthTimeout.String(),
			DynAuthTries:   enf.DynAuthTries,
			Workers:        enf.Workers,
			Queue:          enf.Queue,
			ScheduleEvery:  enf.ScheduleEvery.String(),
			ReapAfter:      enf.ReapAfter.String(), // 0: radiusd works it out from the interim interval
			ReapEvery:      enf.ReapEvery.String(),
		},
	}
}

// Settings of this command's own (the libraries have no such default).
const (
	// defaultRedisTimeout bounds one Redis command: below the NAS's retry
	// interval, unlike go-redis's defaults.
	defaultRedisTimeout = 2 * time.Second
	minSecretLen        = 16 // BlastRADIUS guidance for shared secrets
	defaultAdminListen  = "127.0.0.1:9812"
	minTokenLen         = 16
)

// Config is the validated configuration: everything run needs.
type Config struct {
	Source string // the file, or "demo mode"
	Demo   bool

	Listen []listenAddr
	// RadSecListen are the TCP addresses of the RadSec listener (none when
	// it is disabled); Server.RadSec is its configuration.
	RadSecListen []listenAddr

	Redis        redisstore.ClientConfig
	RedisMode    string // standalone, cluster or sentinel
	RedisTimeout time.Duration
	Store        redisstore.Options

	// Server holds the NAS table and the protocol settings; run adds the
	// store, logger and metrics.
	Server radiusd.Config
	// Enforce is nil when enforcement is disabled; run adds the store and
	// sets it as Server.Enforce.
	Enforce *radiusd.EnforceConfig

	Admin adminConfig

	LogLevel  zerolog.Level
	LogFormat string // json or console

	// Warnings are logged once the logger exists (never with secrets).
	Warnings []string

	inlineSecrets []string // keys whose secret is written in the file
}

// adminConfig is the validated admin listener.
type adminConfig struct {
	Listen       string // "": no admin listener
	Token        string // "": no authentication (loopback only)
	Pprof        bool
	AllowedHosts []string
}

// listenAddr is one UDP address to bind and the key that configured it.
type listenAddr struct {
	Addr string
	Kind radiusd.Listener
	Key  string // e.g. listen.auth[0], for error messages
}

// options are the command-line flags.
type options struct {
	configPath string
	logLevel   string
	logFormat  string
	demo       bool
	version    bool
	help       bool
}

// Environment variables.
const (
	envConfig        = "HSRADIUS_CONFIG"
	envRedisAddrs    = "HSRADIUS_REDIS_ADDRS"
	envRedisPassword = "HSRADIUS_REDIS_PASSWORD"
	envRedisMaster   = "HSRADIUS_REDIS_MASTER"
	envRedisUsername = "HSRADIUS_REDIS_USERNAME"
	envRedisPrefix   = "HSRADIUS_REDIS_PREFIX"
	envLogLevel      = "HSRADIUS_LOG_LEVEL"
	envLogFormat     = "HSRADIUS_LOG_FORMAT"
	envDemoRedisAddr = "HSRADIUS_DEMO_REDIS_ADDR"
	envDemoAuthAddr  = "HSRADIUS_DEMO_AUTH_ADDR"
	envDemoAcctAddr  = "HSRADIUS_DEMO_ACCT_ADDR"
	envDemoAdminAddr = "HSRADIUS_DEMO_ADMIN_ADDR"
	// envFaultVoucher=after_claim makes the process kill itself between
	// the first and second step of a voucher redemption: for the fault
	// tests only (README.md, "Vouchers").
	envFaultVoucher   = "HSRADIUS_FAULT_VOUCHER"
	demoSource        = "demo mode"
	commandLineSource = "command line"
)

// loadConfig reads the configuration: the file named by -config or
// HSRADIUS_CONFIG, then the environment overrides, then the flags. Without a
// file (or with -demo) it returns the demo configuration.
func loadConfig(o options, getenv func(string) string) (*Config, error) {
	path := o.configPath
	if o.demo && path != "" {
		return nil, &configError{source: commandLineSource, problems: []string{"-demo and -config exclude each other"}}
	}
	if path == "" && !o.demo {
		path = getenv(envConfig)
	}
	if path == "" {
		return demoConfig(o, getenv)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &configError{source: path, problems: []string{fmt.Sprintf("cannot read the configuration file: %v", err)}}
	}
	fc := defaultFile()
	p := newProblems()
	if err := decodeYAML(b, &fc, p); err != nil {
		return nil, &configError{source: path, problems: []string{err.Error()}}
	}
	applyEnv(&fc, getenv, p)
	applyFlags(&fc, o, p)
	cfg := resolve(&fc, getenv, p, false)
	if err := p.err(path); err != nil {
		return nil, err
	}
	cfg.Source = path
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o004 != 0 && len(cfg.inlineSecrets) > 0 {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%s is readable by every user of this host (mode %v) and holds secrets (%s): chmod o-r it, or give them with *_env or *_file", path, st.Mode().Perm(), strings.Join(cfg.inlineSecrets, ", ")))
	}
	return cfg, nil
}

// applyEnv applies the HSRADIUS_* overrides of the file's keys.
func applyEnv(fc *fileConfig, getenv func(string) string, p *problems) {
	set := func(env, key string, dst *string) {
		if v := getenv(env); v != "" {
			*dst = v
			p.from[key] = env
		}
	}
	if v := getenv(envRedisAddrs); v != "" {
		fc.Redis.Addrs = splitList(v)
		p.from["redis.addrs"] = envRedisAddrs
	}
	set(envRedisMaster, "redis.master_name", &fc.Redis.MasterName)
	set(envRedisUsername, "redis.username", &fc.Redis.Username)
	set(envRedisPrefix, "redis.prefix", &fc.Redis.Prefix)
	set(envLogLevel, "log.level", &fc.Log.Level)
	set(envLogFormat, "log.format", &fc.Log.Format)
}

func applyFlags(fc *fileConfig, o options, p *problems) {
	if o.logLevel != "" {
		fc.Log.Level = o.logLevel
		p.from["log.level"] = "-log-level"
	}
	if o.logFormat != "" {
		fc.Log.Format = o.logFormat
		p.from["log.format"] = "-log-format"
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// resolver validates a fileConfig into a Config.
type resolver struct {
	p      *problems
	getenv func(string) string
	demo   bool
	warn   []string
	inline []string // keys holding a secret inline: the file itself is secret
	// secrets says, for the key of each secret (nas[0].secret), where its
	// value came from: a library's problem with it is reported there.
	secrets map[string]secretSource
}

// secretSource is where a secret's value came from.
type secretSource struct {
	key   string // the file's key that gave it (nas[0].secret_env); "" when none did
	forms string // the keys that may give it: "secret, secret_env or secret_file"
}

// resolve maps fc onto the libraries' configurations and validates them
// with their own Validate, recording every problem in p under the file's
// keys. What is checked here is the file's own: its syntax (durations,
// names of modes, secrets given once), the keys of this command (listen,
// log, admin, redis.timeout, tls) and the rules between two libraries.
func resolve(fc *fileConfig, getenv func(string) string, p *problems, demo bool) *Config {
	r := &resolver{p: p, getenv: getenv, demo: demo, secrets: map[string]secretSource{}}
	cfg := &Config{Demo: demo}

	cfg.Listen = r.listen(fc.Listen)

	srv := radiusd.Config{}
	srv.SetDefaults() // the settings the file has no key for
	srv.AcctInterimInterval = r.duration("radius.acct_interim_interval", fc.Radius.AcctInterimInterval)
	srv.IdleTimeout = r.duration("radius.idle_timeout", fc.Radius.IdleTimeout)
	srv.CacheTTL = r.duration("radius.response_cache_ttl", fc.Radius.ResponseCacheTTL)
	srv.MaxInFlight = fc.Radius.MaxInFlight
	srv.IOBatch = fc.Radius.IOBatch
	srv.StoreTimeout = r.duration("radius.store_timeout", fc.Radius.StoreTimeout)
	srv.VoucherLimits.PerDevice = fc.Radius.VoucherFailuresPerDevice
	srv.VoucherLimits.PerNAS = fc.Radius.VoucherFailuresPerNAS
	srv.NAS = r.nasList(fc.NAS)
	srv.RadSec, cfg.RadSecListen = r.radsec(fc.RadSec)
	// The enforcement section is checked even when disabled: a mistake in
	// it shows before it is turned on.
	srv.Enforce = r.enforcement(fc.Enforcement)
	r.addProblems(srv.Validate(), radiusKey)
	if fc.Enforcement.Enabled {
		cfg.Enforce = srv.Enforce
	}
	srv.Enforce = nil // run sets it, with the store
	cfg.Server = srv

	cfg.Redis, cfg.RedisTimeout, cfg.Store = r.redis(fc.Redis, srv.AcctInterimInterval)
	cfg.RedisMode = cfg.Redis.Mode()

	cfg.Admin = r.admin(fc.Admin)
	if cfg.Admin.Listen != "" && cfg.Admin.Token == "" && cfg.Redis.Password != "" {
		r.warnf("admin: no token, but Redis has a password: every user of this host can create sessions through the admin API on %s without knowing it; set admin.token_env or admin.token_file", cfg.Admin.Listen)
	}

	switch lvl := strings.ToLower(strings.TrimSpace(fc.Log.Level)); lvl {
	case "trace", "debug", "info", "warn", "error":
		cfg.LogLevel, _ = zerolog.ParseLevel(lvl)
	default:
		p.add("log.level", "%q: want trace, debug, info, warn or error", fc.Log.Level)
	}
	switch f := strings.ToLower(strings.TrimSpace(fc.Log.Format)); f {
	case "json", "console":
		cfg.LogFormat = f
	default:
		p.add("log.format", "%q: want json or console", fc.Log.Format)
	}
	cfg.Warnings = r.warn
	cfg.inlineSecrets = r.inline
	return cfg
}

func (r *resolver) warnf(format string, args ...any) {
	r.warn = append(r.warn, fmt.Sprintf(format, args...))
}

// duration parses a duration key; 0 when invalid (the problem is recorded,
// and the library's about the same key would only repeat it).
func (r *resolver) duration(key, s string) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		r.p.add(key, "%q: want a duration with a unit, e.g. 300s, 5m or 1h30m", s)
		r.p.failed[key] = true
		return 0
	}
	return d
}

// addProblems records the problems a library's Validate found (its
// *ConfigErrors), each under the file's key: key places the library's key
// in the file. A problem with a secret names the key that gave it, or
// which keys may.
func (r *resolver) addProblems(err error, key func(string) string) {
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var (
			path, problem string
			rc            *radiusd.ConfigError
			sc            *redisstore.ConfigError
		)
		switch {
		case errors.As(e, &rc):
			path, problem = key(rc.Key), rc.Problem
		case errors.As(e, &sc):
			path, problem = key(sc.Key), sc.Problem
		default:
			r.p.add("", "%v", e)
			continue
		}
		if src, ok := r.secrets[path]; ok {
			if src.key != "" {
				path = src.key
			} else {
				problem += " (set " + src.forms + ")"
			}
		}
		r.p.add(path, "%s", problem)
	}
}

// radiusKey places a radiusd.Config key in the file: the NAS list and the
// enforcement section are at the top level, the rest under radius.
func radiusKey(k string) string {
	switch section(k) {
	case "nas", "enforcement", "radsec":
		return k
	}
	return "radius." + k
}

// listen validates the UDP addresses to bind.
func (r *resolver) listen(l listenFile) []listenAddr {
	var out []listenAddr
	seen := map[string]string{}
	for _, g := range []struct {
		key   string
		kind  radiusd.Listener
		addrs []string
	}{{"listen.auth", radiusd.Auth, l.Auth}, {"listen.acct", radiusd.Acct, l.Acct}} {
		for i, a := range g.addrs {
			key := fmt.Sprintf("%s[%d]", g.key, i)
			norm, port, err := checkHostPort(a, r.demo)
			if err != nil {
				r.p.add(key, "%v", err)
				continue
			}
			if other, ok := seen[norm]; ok && port != 0 {
				r.p.add(key, "%q: already listed as %s", a, other)
				continue
			}
			seen[norm] = key
			out = append(out, listenAddr{Addr: a, Kind: g.kind, Key: key})
		}
	}
	if len(l.Auth) == 0 && len(l.Acct) == 0 {
		r.p.add("listen", "no address in auth or acct: nothing to serve")
	}
	return out
}

// checkHostPort validates host:port and returns a normalized form for
// duplicate detection.
func checkHostPort(s string, allowZero bool) (string, int, error) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(s))
	if err != nil {
		return "", 0, fmt.Errorf("%q: want host:port (IPv6 as [::1]:1812)", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !allowZero) {
		return "", 0, fmt.Errorf("%q: port %q: want a number from 1 to 65535", s, port)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
	}
	return net.JoinHostPort(strings.ToLower(host), port), n, nil
}

// redis maps the Redis keys and resolves its credentials.
func (r *resolver) redis(f redisFile, interim time.Duration) (redisstore.ClientConfig, time.Duration, redisstore.Options) {
	p := r.p
	cc := redisstore.ClientConfig{
		Addrs:      f.Addrs,
		Cluster:    f.Cluster,
		MasterName: strings.TrimSpace(f.MasterName),
		Username:   f.Username,
		DB:         f.DB,
	}
	if v := r.getenv(envRedisPassword); v != "" {
		cc.Password = v
		r.exclusive("redis", "password", "", "", f.PasswordEnv, f.PasswordFile)
	} else {
		cc.Password, _ = r.secret("redis", "password", "", "", f.PasswordEnv, f.PasswordFile)
	}
	cc.SentinelPassword, _ = r.secret("redis", "sentinel_password", "", "", f.SentinelPasswordEnv, f.SentinelPasswordFile)

	if f.TLS {
		cc.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if f.TLSCAFile != "" {
			pem, err := os.ReadFile(f.TLSCAFile)
			pool := x509.NewCertPool()
			switch {
			case err != nil:
				p.add("redis.tls_ca_file", "%v", err)
			case !pool.AppendCertsFromPEM(pem):
				p.add("redis.tls_ca_file", "%s: no PEM certificate in it", f.TLSCAFile)
			default:
				cc.TLS.RootCAs = pool
			}
		}
	} else if f.TLSCAFile != "" {
		p.add("redis.tls_ca_file", "set but tls is false: set tls: true")
	}
	timeout := r.duration("redis.timeout", f.Timeout)
	if timeout <= 0 && !p.failed["redis.timeout"] {
		p.add("redis.timeout", "%q: must be above zero", f.Timeout)
	}
	cc.DialTimeout, cc.ReadTimeout, cc.WriteTimeout = timeout, timeout, timeout
	if r.demo {
		// The address is where the demo's embedded Redis listens (port 0:
		// any free one), checked as a listen address; the rest of cc is
		// the demo's own.
		for i, a := range cc.Addrs {
			if _, _, err := checkHostPort(a, true); err != nil {
				p.add(fmt.Sprintf("redis.addrs[%d]", i), "%v", err)
			}
		}
	} else {
		r.addProblems(cc.Validate(), redisKey)
	}

	var opts redisstore.Options
	opts.SetDefaults() // the settings the file has no key for
	opts.Prefix = f.Prefix
	opts.OpenRecordTTL = r.duration("redis.open_record_ttl", f.OpenRecordTTL)
	opts.StoppedRecordTTL = r.duration("redis.stopped_record_ttl", f.StoppedRecordTTL)
	r.addProblems(opts.Validate(), redisKey)
	// A rule between the two libraries: the store does not know the
	// interim interval the server asks for.
	if open := opts.OpenRecordTTL; open >= time.Second && interim > 0 && open < 2*interim {
		p.add("redis.open_record_ttl", "%v: must be at least twice radius.acct_interim_interval (%v), or a live session's counters would be counted again from zero", open, interim)
	}
	return cc, timeout, opts
}

func redisKey(k string) string { return "redis." + k }

// secret resolves a secret given inline (key), by environment variable
// (key_env) or by file (key_file): at most one of them. inlineKey is "" where
// the schema has no inline form. It reports whether one was set, and
// records where it came from (r.secrets); when a form was given but gave no
// value, the problem is reported and the library's (empty) would only
// repeat it.
func (r *resolver) secret(path, key, inlineKey, inline, env, file string) (string, bool) {
	lib := joinPath(path, key)
	src := secretSource{forms: secretForms(key, inlineKey)}
	defer func() { r.secrets[lib] = src }()
	fail := func() (string, bool) {
		r.p.failed[lib] = true
		return "", false
	}
	switch n := r.exclusive(path, key, inlineKey, inline, env, file); {
	case n == 0:
		return "", false
	case n > 1:
		return fail()
	case inline != "":
		r.inline = append(r.inline, joinPath(path, inlineKey))
		src.key = joinPath(path, inlineKey)
		return inline, true
	case env != "":
		v := r.getenv(env)
		if v == "" {
			// A value that does not look like a variable's name may be the
			// secret itself, typed into the wrong key: never repeat it.
			if envNameRE.MatchString(env) {
				r.p.add(joinPath(path, key+"_env"), "environment variable %s is not set or empty", env)
			} else {
				r.p.add(joinPath(path, key+"_env"), "the environment variable it names is not set or empty (the name is not shown: %s_env takes the NAME of a variable, like HSRADIUS_NAS_SECRET, not the secret itself)", key)
			}
			return fail()
		}
		src.key = joinPath(path, key+"_env")
		return v, true
	}
	b, err := os.ReadFile(file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // its message repeats the path
		}
		if pathRE.MatchString(file) {
			r.p.add(joinPath(path, key+"_file"), "%s: %v", file, err)
		} else {
			r.p.add(joinPath(path, key+"_file"), "cannot read the file it names: %v (the name is not shown: %s_file takes the PATH of a file, like /etc/hsradius/nas.secret, not the secret itself)", err, key)
		}
		return fail()
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		r.p.add(joinPath(path, key+"_file"), "%s is empty", file)
		return fail()
	}
	if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o004 != 0 {
		r.warnf("%s: %s is readable by every user of this host (mode %v): chmod o-r it", joinPath(path, key+"_file"), file, st.Mode().Perm())
	}
	src.key = joinPath(path, key+"_file")
	return v, true
}

// secretForms lists the keys that may give a secret.
func secretForms(key, inlineKey string) string {
	if inlineKey != "" {
		return inlineKey + ", " + key + "_env or " + key + "_file"
	}
	return key + "_env or " + key + "_file"
}

// exclusive reports a problem when more than one form of a secret is set
// and returns how many are.
func (r *resolver) exclusive(path, key, inlineKey, inline, env, file string) int {
	var set []string
	if inline != "" {
		set = append(set, inlineKey)
	}
	if env != "" {
		set = append(set, key+"_env")
	}
	if file != "" {
		set = append(set, key+"_file")
	}
	if len(set) > 1 {
		r.p.add(joinPath(path, set[1]), "%s is also set: use exactly one of %s", set[0], secretForms(key, inlineKey))
	}
	return len(set)
}

var (
	// envNameRE is a variable name as people write them (HSRADIUS_NAS_SECRET):
	// capitals, digits and at least one underscore. Random secrets (hex is
	// lower case, base32 and base64 have no underscore) do not match, so
	// only a name that matches is repeated in an error.
	envNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)
	// pathRE is a file name as people write them: absolute or ./ relative,
	// no characters of base64 padding or shell quoting. Only a name that
	// matches is repeated in an error.
	pathRE = regexp.MustCompile(`^\.{0,2}/[A-Za-z0-9._/-]*$`)
)

// nasList maps the NAS entries, one radiusd.NAS each (so that the
// library's nas[i] is the file's).
func (r *resolver) nasList(list []nasFile) []radiusd.NAS {
	out := make([]radiusd.NAS, 0, len(list))
	for i, f := range list {
		out = append(out, r.nas(fmt.Sprintf("nas[%d]", i), f))
	}
	return out
}

// nas maps one NAS entry: its values parsed and its secrets read, and the
// per-NAS defaults (radiusd.NAS.SetDefaults) where the file leaves a key out.
func (r *resolver) nas(path string, f nasFile) radiusd.NAS {
	p := r.p
	n := radiusd.NAS{Name: f.Name, GlobalDownMbits: f.GlobalDownMbits, GlobalUpMbits: f.GlobalUpMbits, MACSuffix: f.MACSuffix}
	label := f.Name
	if label == "" {
		label = path
	}
	if pf, warn, err := parseNASAddress(f.Address); err != nil {
		p.add(path+".address", "%v", err)
		p.failed[path+".address"] = true
	} else {
		if warn != "" {
			r.warnf("%s.address: %s", path, warn)
		}
		n.Prefix = pf
	}

	if secret, ok := r.secret(path, "secret", "secret", f.Secret, f.SecretEnv, f.SecretFile); ok {
		n.Secret = []byte(secret)
		if len(secret) < minSecretLen && !r.demo {
			r.warnf("nas %s: the shared secret is shorter than %d characters: use a long random one (BlastRADIUS, CVE-2024-3596)", label, minSecretLen)
		}
	}
	if coa, ok := r.secret(path, "coa_secret", "coa_secret", f.CoASecret, f.CoASecretEnv, f.CoASecretFile); ok {
		n.CoASecret = []byte(coa)
		if len(coa) < minSecretLen && !r.demo {
			r.warnf("nas %s: the CoA secret is shorter than %d characters: use a long random one", label, minSecretLen)
		}
	}
	n.Profiles = r.profiles(path, f.Profiles)

	n.CoAPort = radiusd.DefaultCoAPort
	if f.CoAPort != nil {
		n.CoAPort = *f.CoAPort
	}
	r.parse(path+".on_spill", f.OnSpill, func(s string) (err error) { n.OnSpill, err = radiusd.ParseSpillAction(s); return err })
	r.parse(path+".require_message_authenticator", f.RequireMessageAuthenticator, func(s string) (err error) {
		n.MAPolicy, err = radiusd.ParseMAPolicy(s)
		return err
	})
	if n.MAPolicy == radiusd.MAOptional && !r.demo { // the demo answers loopback only
		r.warnf("nas %s: require_message_authenticator: no leaves its Access-Requests open to forgery (BlastRADIUS, CVE-2024-3596): use yes, or auto", label)
	}

	mode, err := radiusd.ParsePasswordMode(f.Password)
	fixedSet := f.FixedPassword != "" || f.FixedPasswordEnv != "" || f.FixedPasswordFile != ""
	switch {
	case err != nil:
		// Not %v: the value may be the password itself.
		p.add(path+".password", "want any, mac or fixed (the value is not shown: it may be a password; the password of password: fixed goes in fixed_password, fixed_password_env or fixed_password_file)")
	case mode == radiusd.PasswordFixed:
		n.FixedPassword, _ = r.secret(path, "fixed_password", "fixed_password", f.FixedPassword, f.FixedPasswordEnv, f.FixedPasswordFile)
	case fixedSet:
		// radiusd ignores it; the file's author meant something.
		p.add(path+".fixed_password", "set, but password is %q: set password: fixed, or remove it", mode)
	}
	n.Password = mode

	r.parse(path+".login", f.Login, func(s string) (err error) { n.Login, err = radiusd.ParseLoginStyle(s); return err })
	if strings.TrimSpace(f.VoucherPassword) != "" {
		r.parse(path+".voucher_password", f.VoucherPassword, func(s string) (err error) {
			n.VoucherPassword, err = radiusd.ParseVoucherPassword(s)
			return err
		})
	}
	r.parse(path+".accounting_updates", f.AccountingUpdates, func(s string) (err error) {
		n.Acct.Updates, err = radiusd.ParseAcctUpdates(s)
		return err
	})
	r.parse(path+".counter_wrap", f.CounterWrap, func(s string) (err error) { n.Acct.Wrap32, err = radiusd.ParseCounterWrap(s); return err })
	n.RadSec = r.nasRadSec(path, f.RadSec)
	n.SetDefaults() // the retransmit window follows accounting_updates
	if f.RetransmitWindow != "" {
		n.Acct.RetransmitWindow = r.duration(path+".retransmit_window", f.RetransmitWindow)
	}
	return n
}

// parse runs a radiusd Parse function on a key's value, trimmed, and
// records its error under the key.
func (r *resolver) parse(key, value string, parse func(string) error) {
	if err := parse(strings.TrimSpace(value)); err != nil {
		r.p.add(key, "%v", err)
		r.p.failed[key] = true
	}
}

// profiles parses the profile names; a name that fails keeps its place
// (the zero Profile), so that radiusd's profiles[j] is the file's.
func (r *resolver) profiles(path string, names []string) []radiusd.Profile {
	if names == nil {
		return []radiusd.Profile{radiusd.ProfileWISPr}
	}
	if len(names) == 0 {
		r.p.add(path+".profiles", "empty list: name at least one of wispr, chillispot, mikrotik, pfsense, rfc (rfc: only the RFC attributes)")
		return nil
	}
	out := make([]radiusd.Profile, len(names))
	for j, s := range names {
		r.parse(fmt.Sprintf("%s.profiles[%d]", path, j), s, func(s string) (err error) { out[j], err = radiusd.ParseProfile(s); return err })
	}
	return out
}

// parseNASAddress accepts an IP address or a CIDR prefix, IPv4 or IPv6; an
// empty one is radiusd's to report. The warning is set when the prefix had
// host bits (they are cleared).
func parseNASAddress(s string) (netip.Prefix, string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, "", nil
	}
	const want = "want an IP address or CIDR prefix (e.g. 192.168.88.1, 10.0.0.0/24, 2001:db8::1, 2001:db8::/64)"
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, "", fmt.Errorf("%q: %s", s, want)
		}
		if m := pf.Masked(); m != pf {
			return m, fmt.Sprintf("%s has host bits set: it means %s", s, m), nil
		}
		return pf, "", nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, "", fmt.Errorf("%q: %s", s, want)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), "", nil
}

// enforcement maps the enforcement section.
func (r *resolver) enforcement(f enforcementFile) *radiusd.EnforceConfig {
	return &radiusd.EnforceConfig{
		DynAuthTimeout: r.duration("enforcement.dynauth_timeout", f.DynAuthTimeout),
		DynAuthTries:   f.DynAuthTries,
		Workers:        f.Workers,
		Queue:          f.Queue,
		ScheduleEvery:  r.duration("enforcement.schedule_every", f.ScheduleEvery),
		ReapAfter:      r.duration("enforcement.reap_after", f.ReapAfter),
		ReapEvery:      r.duration("enforcement.reap_every", f.ReapEvery),
	}
}

// admin validates the admin listener. A listener reachable from other
// hosts must have a token: the API creates sessions (free Internet access)
// and disconnects devices.
func (r *resolver) admin(f adminFile) adminConfig {
	p := r.p
	a := adminConfig{Listen: strings.TrimSpace(f.Listen), Pprof: f.Pprof}
	token, hasToken := r.secret("admin", "token", "token", f.Token, f.TokenEnv, f.TokenFile)
	if hasToken {
		if err := adminapi.CheckToken(token); err != nil {
			key := "admin.token"
			switch {
			case f.TokenEnv != "":
				key = "admin.token_env"
			case f.TokenFile != "":
				key = "admin.token_file"
			}
			p.add(key, "%v", err)
		} else {
			a.Token = token
			if len(token) < minTokenLen && !r.demo {
				r.warnf("admin: the token is shorter than %d characters: use a long random one (e.g. openssl rand -hex 32)", minTokenLen)
			}
		}
	}
	for i, h := range f.AllowedHosts {
		if err := adminapi.CheckAllowedHost(h); err != nil {
			p.add(fmt.Sprintf("admin.allowed_hosts[%d]", i), "%v", err)
			continue
		}
		a.AllowedHosts = append(a.AllowedHosts, h)
	}
	if len(f.AllowedHosts) > 0 && (hasToken || f.Token != "" || f.TokenEnv != "" || f.TokenFile != "") {
		r.warnf("admin.allowed_hosts: has no effect with a token: the Host header is only checked without one")
	}
	if a.Listen == "" {
		return a
	}
	norm, _, err := checkHostPort(a.Listen, r.demo)
	if err != nil {
		p.add("admin.listen", "%v", err)
		return a
	}
	tokenSet := f.Token != "" || f.TokenEnv != "" || f.TokenFile != "" // a problem with it is already reported
	if !hasToken && !tokenSet && !isLoopback(norm) {
		p.add("admin.token", "empty, but admin.listen %q is not a loopback address: set token, token_env or token_file (anyone who reaches it could create sessions and disconnect devices), or listen on 127.0.0.1", a.Listen)
	}
	if a.Pprof && !isLoopback(norm) {
		r.warnf("admin.pprof: profiling is served on %s, a non-loopback address (behind the token): turn it off when done", a.Listen)
	}
	return a
}

// isLoopback reports whether host:port only accepts connections from this
// host. A host name other than localhost, or an empty host (every
// interface), is not.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// radsec maps the RadSec section: nil and no address when it is disabled.
// Its files are loaded here, so that a wrong one is reported with its key
// and every other problem.
func (r *resolver) radsec(f radsecFile) (*radiusd.RadSecConfig, []listenAddr) {
	if !f.Enabled {
		if f.Cert != "" || f.Key != "" || f.ClientCA != "" {
			r.warnf("radsec: cert, key or client_ca set, but enabled is false: RadSec is off")
		}
		return nil, nil
	}
	c := &radiusd.RadSecConfig{
		Files:            radsec.Files{Cert: strings.TrimSpace(f.Cert), Key: strings.TrimSpace(f.Key), ClientCA: strings.TrimSpace(f.ClientCA)},
		HandshakeTimeout: r.duration("radsec.handshake_timeout", f.HandshakeTimeout),
		IdleTimeout:      r.duration("radsec.idle_timeout", f.IdleTimeout),
		WriteTimeout:     r.duration("radsec.write_timeout", f.WriteTimeout),
		MaxConns:         f.MaxConns,
		MaxConnsPerNAS:   f.MaxConnsPerNAS,
	}
	if c.Files.Cert != "" && c.Files.Key != "" {
		if _, err := tls.LoadX509KeyPair(c.Files.Cert, c.Files.Key); err != nil {
			r.p.add("radsec.cert", "%v (cert and key: PEM files of the server's certificate chain and its private key; see README.md, RadSec)", err)
		}
		if st, err := os.Stat(c.Files.Key); err == nil && st.Mode().Perm()&0o004 != 0 {
			r.warnf("radsec.key: %s is readable by every user of this host (mode %v): chmod o-r it", c.Files.Key, st.Mode().Perm())
		}
	}
	if c.Files.ClientCA != "" {
		pem, err := os.ReadFile(c.Files.ClientCA)
		switch {
		case err != nil:
			r.p.add("radsec.client_ca", "%v", err)
		case !x509.NewCertPool().AppendCertsFromPEM(pem):
			r.p.add("radsec.client_ca", "%s: no PEM certificate in it: want the certificate of the CA that signs the NASes' certificates", c.Files.ClientCA)
		}
	}
	var out []listenAddr
	seen := map[string]string{}
	for i, a := range f.Listen {
		key := fmt.Sprintf("radsec.listen[%d]", i)
		norm, _, err := checkHostPort(a, r.demo)
		if err != nil {
			r.p.add(key, "%v", err)
			continue
		}
		if other, ok := seen[norm]; ok {
			r.p.add(key, "%q: already listed as %s", a, other)
			continue
		}
		seen[norm] = key
		out = append(out, listenAddr{Addr: a, Kind: radiusd.RadSec, Key: key})
	}
	if len(f.Listen) == 0 {
		r.p.add("radsec.listen", "empty, but enabled is true: give an address such as \":2083\" (RFC 6614's port) or \"192.0.2.1:2083\"")
	}
	return c, out
}

// nasRadSec maps a NAS's RadSec identity and secret.
func (r *resolver) nasRadSec(path string, f nasRadSecFile) radiusd.NASRadSec {
	rs := radiusd.NASRadSec{Names: f.Names}
	for j, s := range f.Fingerprints {
		fp, err := parseFingerprint(s)
		if err != nil {
			r.p.add(fmt.Sprintf("%s.radsec.fingerprints[%d]", path, j), "%v", err)
			continue
		}
		rs.Fingerprints = append(rs.Fingerprints, fp)
	}
	if secret, ok := r.secret(path+".radsec", "secret", "secret", f.Secret, f.SecretEnv, f.SecretFile); ok {
		rs.Secret = []byte(secret)
	}
	return rs
}

// parseFingerprint reads a SHA-256 certificate fingerprint as openssl
// prints it ("sha256 Fingerprint=AB:CD:..."), or in plain hex, with or
// without colons and a "sha256:" prefix.
func parseFingerprint(s string) ([32]byte, error) {
	var fp [32]byte
	v := strings.TrimSpace(s)
	if i := strings.LastIndexByte(v, '='); i >= 0 {
		v = v[i+1:]
	}
	v = strings.TrimPrefix(strings.ToLower(v), "sha256:")
	v = strings.ReplaceAll(v, ":", "")
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != len(fp) {
		return fp, fmt.Errorf("%q: want a SHA-256 fingerprint, 64 hex digits (openssl x509 -in nas.pem -noout -fingerprint -sha256)", s)
	}
	copy(fp[:], b)
	return fp, nil
}
