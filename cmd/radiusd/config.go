package main

import (
	"crypto/tls"
	"crypto/x509"
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
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/session"
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
	NAS         []nasFile       `yaml:"nas"`
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
	StoreTimeout        string `yaml:"store_timeout"`
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
	// Login is how the NAS's logins name the device: mac, mac_username or
	// any_name (radiusd.LoginStyle).
	Login     string `yaml:"login"`
	MACSuffix string `yaml:"mac_suffix"`
	// How the NAS's accounting is read (session.AcctPolicy).
	RetransmitWindow  string `yaml:"retransmit_window"`
	CounterWrap       string `yaml:"counter_wrap"`
	AccountingUpdates string `yaml:"accounting_updates"`
}

// Defaults of the keys that are not per NAS.
func defaultFile() fileConfig {
	return fileConfig{
		Listen: listenFile{
			Auth: []string{"127.0.0.1:1812", "[::1]:1812"},
			Acct: []string{"127.0.0.1:1813", "[::1]:1813"},
		},
		Redis: redisFile{
			Addrs:            []string{"127.0.0.1:6379"},
			Prefix:           redisstore.DefaultPrefix,
			Timeout:          "2s",
			OpenRecordTTL:    "168h",
			StoppedRecordTTL: "24h",
		},
		Radius: radiusFile{
			AcctInterimInterval: "300s",
			IdleTimeout:         "0s",
			ResponseCacheTTL:    "10s",
			MaxInFlight:         radiusd.DefaultMaxInFlight,
			StoreTimeout:        "2s",
		},
		Log:   logFile{Level: "info", Format: "json"},
		Admin: adminFile{Listen: defaultAdminListen},
		Enforcement: enforcementFile{
			Enabled:        true,
			DynAuthTimeout: "2s",
			DynAuthTries:   3,
			Workers:        16,
			Queue:          4096,
			ScheduleEvery:  "1s",
			ReapAfter:      "0s",
			ReapEvery:      "1m",
		},
	}
}

// Per-NAS defaults.
const (
	defaultCoAPort     = 3799
	minSecretLen       = 16 // BlastRADIUS guidance for shared secrets
	defaultAdminListen = "127.0.0.1:9812"
	minTokenLen        = 16
	maxEnforceWorkers  = 1024
	maxEnforceQueue    = 1 << 20
)

// Config is the validated configuration: everything run needs.
type Config struct {
	Source string // the file, or "demo mode"
	Demo   bool

	Listen []listenAddr

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
	envConfig         = "HSRADIUS_CONFIG"
	envRedisAddrs     = "HSRADIUS_REDIS_ADDRS"
	envRedisPassword  = "HSRADIUS_REDIS_PASSWORD"
	envRedisMaster    = "HSRADIUS_REDIS_MASTER"
	envRedisUsername  = "HSRADIUS_REDIS_USERNAME"
	envRedisPrefix    = "HSRADIUS_REDIS_PREFIX"
	envLogLevel       = "HSRADIUS_LOG_LEVEL"
	envLogFormat      = "HSRADIUS_LOG_FORMAT"
	envDemoRedisAddr  = "HSRADIUS_DEMO_REDIS_ADDR"
	envDemoAuthAddr   = "HSRADIUS_DEMO_AUTH_ADDR"
	envDemoAcctAddr   = "HSRADIUS_DEMO_ACCT_ADDR"
	envDemoAdminAddr  = "HSRADIUS_DEMO_ADMIN_ADDR"
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
}

// resolve validates fc, recording every problem in p.
func resolve(fc *fileConfig, getenv func(string) string, p *problems, demo bool) *Config {
	r := &resolver{p: p, getenv: getenv, demo: demo}
	cfg := &Config{Demo: demo}

	cfg.Listen = r.listen(fc.Listen)

	interim := r.wholeSeconds("radius.acct_interim_interval", fc.Radius.AcctInterimInterval)
	if interim > 0 && interim < 60*time.Second {
		p.add("radius.acct_interim_interval", "%v: must be at least 60s (RFC 2869 §5.16)", interim)
	}
	idle := r.wholeSeconds("radius.idle_timeout", fc.Radius.IdleTimeout)
	cacheTTL := r.duration("radius.response_cache_ttl", fc.Radius.ResponseCacheTTL)
	if cacheTTL > 0 && (cacheTTL < 5*time.Second || cacheTTL > 30*time.Second) {
		p.add("radius.response_cache_ttl", "%v: want 5s to 30s (RFC 5080 §2.2.2)", cacheTTL)
	}
	if fc.Radius.MaxInFlight < 1 {
		p.add("radius.max_in_flight", "%d: want at least 1", fc.Radius.MaxInFlight)
	}
	storeTimeout := r.positive("radius.store_timeout", fc.Radius.StoreTimeout)

	cfg.Redis, cfg.RedisTimeout, cfg.Store = r.redis(fc.Redis, interim)
	cfg.RedisMode = redisMode(cfg.Redis)

	cfg.Server = radiusd.Config{
		NAS:                 r.nasList(fc.NAS),
		AcctInterimInterval: interim,
		IdleTimeout:         idle,
		CacheTTL:            cacheTTL,
		MaxInFlight:         fc.Radius.MaxInFlight,
		StoreTimeout:        storeTimeout,
	}
	cfg.Enforce = r.enforcement(fc.Enforcement, interim)
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

// duration parses a duration key; 0 when invalid (the problem is recorded).
func (r *resolver) duration(key, s string) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		r.p.add(key, "%q: want a duration with a unit, e.g. 300s, 5m or 1h30m", s)
		return 0
	case d < 0:
		r.p.add(key, "%q: must not be negative", s)
		return 0
	}
	return d
}

// positive parses a duration key that must be above zero.
func (r *resolver) positive(key, s string) time.Duration {
	d := r.duration(key, s)
	if d == 0 && validDuration(s) {
		r.p.add(key, "%q: must be above zero", s)
	}
	return d
}

func validDuration(s string) bool {
	_, err := time.ParseDuration(strings.TrimSpace(s))
	return err == nil
}

// wholeSeconds parses a duration that is sent to the NAS in seconds.
func (r *resolver) wholeSeconds(key, s string) time.Duration {
	d := r.duration(key, s)
	if d%time.Second != 0 {
		r.p.add(key, "%v: want whole seconds (RADIUS sends seconds)", d)
		return 0
	}
	return d
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

// redis validates the Redis keys and resolves its credentials.
func (r *resolver) redis(f redisFile, interim time.Duration) (redisstore.ClientConfig, time.Duration, redisstore.Options) {
	p := r.p
	cc := redisstore.ClientConfig{
		Addrs:      f.Addrs,
		Cluster:    f.Cluster,
		MasterName: strings.TrimSpace(f.MasterName),
		Username:   f.Username,
		DB:         f.DB,
	}
	if len(f.Addrs) == 0 {
		p.add("redis.addrs", "empty: want at least one host:port")
	}
	for i, a := range f.Addrs {
		if _, _, err := checkHostPort(a, r.demo); err != nil {
			p.add(fmt.Sprintf("redis.addrs[%d]", i), "%v", err)
		}
	}
	if cc.Cluster && cc.MasterName != "" {
		p.add("redis.master_name", "%q: a Sentinel master name and cluster: true exclude each other", cc.MasterName)
	}
	cluster := cc.Cluster || (len(cc.Addrs) > 1 && cc.MasterName == "")
	switch {
	case cc.DB < 0:
		p.add("redis.db", "%d: must be 0 or more", cc.DB)
	case cc.DB != 0 && cluster:
		p.add("redis.db", "%d: Redis Cluster has only db 0 (several addrs without master_name mean Cluster)", cc.DB)
	}

	if v := r.getenv(envRedisPassword); v != "" {
		cc.Password = v
		r.exclusive("redis", "password", "", "", f.PasswordEnv, f.PasswordFile)
	} else {
		cc.Password, _ = r.secret("redis", "password", "", "", f.PasswordEnv, f.PasswordFile)
	}
	cc.SentinelPassword, _ = r.secret("redis", "sentinel_password", "", "", f.SentinelPasswordEnv, f.SentinelPasswordFile)
	if cc.SentinelPassword != "" && cc.MasterName == "" {
		key := "redis.sentinel_password_env"
		if f.SentinelPasswordEnv == "" {
			key = "redis.sentinel_password_file"
		}
		p.add(key, "set, but redis.master_name is empty: only Sentinel uses it")
	}

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

	prefix := f.Prefix
	switch {
	case prefix == "":
		p.add("redis.prefix", "empty: the keys need a prefix (default %q)", redisstore.DefaultPrefix)
	case strings.ContainsAny(prefix, "{} \t\r\n"):
		p.add("redis.prefix", "%q: must not contain braces (they delimit hash tags) or spaces", prefix)
	}
	timeout := r.positive("redis.timeout", f.Timeout)
	cc.DialTimeout, cc.ReadTimeout, cc.WriteTimeout = timeout, timeout, timeout

	open := r.positive("redis.open_record_ttl", f.OpenRecordTTL)
	stopped := r.positive("redis.stopped_record_ttl", f.StoppedRecordTTL)
	for _, ttl := range []struct {
		key string
		d   time.Duration
	}{{"redis.open_record_ttl", open}, {"redis.stopped_record_ttl", stopped}} {
		if ttl.d > 0 && ttl.d < time.Second {
			p.add(ttl.key, "%v: must be at least 1s", ttl.d)
		}
	}
	if open >= time.Second && interim > 0 && open < 2*interim {
		p.add("redis.open_record_ttl", "%v: must be at least twice radius.acct_interim_interval (%v), or a live session's counters would be counted again from zero", open, interim)
	}
	return cc, timeout, redisstore.Options{Prefix: prefix, OpenRecordTTL: open, StoppedRecordTTL: stopped}
}

func redisMode(c redisstore.ClientConfig) string {
	switch {
	case c.MasterName != "":
		return "sentinel"
	case c.Cluster || len(c.Addrs) > 1:
		return "cluster"
	}
	return "standalone"
}

// secret resolves a secret given inline (key), by environment variable
// (key_env) or by file (key_file): at most one of them. inlineKey is "" where
// the schema has no inline form. It reports whether one was set.
func (r *resolver) secret(path, key, inlineKey, inline, env, file string) (string, bool) {
	n := r.exclusive(path, key, inlineKey, inline, env, file)
	switch {
	case n != 1:
		return "", false
	case inline != "":
		r.inline = append(r.inline, joinPath(path, inlineKey))
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
			return "", false
		}
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
		return "", false
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		r.p.add(joinPath(path, key+"_file"), "%s is empty", file)
		return "", false
	}
	if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o004 != 0 {
		r.warnf("%s: %s is readable by every user of this host (mode %v): chmod o-r it", joinPath(path, key+"_file"), file, st.Mode().Perm())
	}
	return v, true
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
		forms := key + "_env or " + key + "_file"
		if inlineKey != "" {
			forms = inlineKey + ", " + key + "_env or " + key + "_file"
		}
		r.p.add(joinPath(path, set[1]), "%s is also set: use exactly one of %s", set[0], forms)
	}
	return len(set)
}

var (
	nasNameRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	hostNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9.])?$`)
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

// nasList validates the NAS entries.
func (r *resolver) nasList(list []nasFile) []radiusd.NAS {
	p := r.p
	if len(list) == 0 {
		p.add("nas", "empty: configure at least one NAS (name, address, secret)")
		return nil
	}
	names := map[string]int{}
	prefixes := map[netip.Prefix]int{}
	out := make([]radiusd.NAS, 0, len(list))
	for i, f := range list {
		path := fmt.Sprintf("nas[%d]", i)
		n := radiusd.NAS{Name: f.Name}
		switch {
		case f.Name == "":
			p.add(path+".name", "empty: want a name of letters, digits, '.', '_' or '-'")
		case len(f.Name) > 64 || !nasNameRE.MatchString(f.Name):
			p.add(path+".name", "%q: want at most 64 letters, digits, '.', '_' or '-'", f.Name)
		default:
			if j, ok := names[f.Name]; ok {
				p.add(path+".name", "%q: already used by nas[%d]", f.Name, j)
			}
			names[f.Name] = i
		}
		label := f.Name
		if label == "" {
			label = path
		}

		if pf, warn, err := parseNASAddress(f.Address); err != nil {
			p.add(path+".address", "%v", err)
		} else {
			if warn != "" {
				r.warnf("%s.address: %s", path, warn)
			}
			if j, ok := prefixes[pf]; ok {
				p.add(path+".address", "%s: already the address of nas[%d] (%s)", pf, j, list[j].Name)
			}
			prefixes[pf] = i
			n.Prefix = pf
		}

		if secret, ok := r.secret(path, "secret", "secret", f.Secret, f.SecretEnv, f.SecretFile); ok {
			n.Secret = []byte(secret)
			if len(secret) < minSecretLen && !r.demo {
				r.warnf("nas %s: the shared secret is shorter than %d characters: use a long random one (BlastRADIUS, CVE-2024-3596)", label, minSecretLen)
			}
		} else if f.Secret == "" && f.SecretEnv == "" && f.SecretFile == "" {
			p.add(path+".secret", "empty (set secret, secret_env or secret_file)")
		}

		n.Profiles = r.profiles(path, f.Profiles)
		n.GlobalDownMbits, n.GlobalUpMbits = f.GlobalDownMbits, f.GlobalUpMbits

		n.CoAPort = defaultCoAPort
		if f.CoAPort != nil {
			n.CoAPort = *f.CoAPort
		}
		if n.CoAPort < 0 || n.CoAPort > 65535 {
			p.add(path+".coa_port", "%d: want a port from 1 to 65535, or 0 to send this NAS no Disconnect/CoA (default %d; older MikroTik: 1700)", n.CoAPort, defaultCoAPort)
		}
		if spill, err := radiusd.ParseSpillAction(strings.TrimSpace(f.OnSpill)); err != nil {
			p.add(path+".on_spill", "%v", err)
		} else {
			n.OnSpill = spill
		}
		if coa, ok := r.secret(path, "coa_secret", "coa_secret", f.CoASecret, f.CoASecretEnv, f.CoASecretFile); ok {
			n.CoASecret = []byte(coa)
			if len(coa) < minSecretLen && !r.demo {
				r.warnf("nas %s: the CoA secret is shorter than %d characters: use a long random one", label, minSecretLen)
			}
		} else {
			n.CoASecret = n.Secret
		}

		ma := f.RequireMessageAuthenticator
		if ma == "" {
			ma = "yes"
		}
		if pol, err := radiusd.ParseMAPolicy(ma); err != nil {
			p.add(path+".require_message_authenticator", "%v", err)
		} else {
			n.MAPolicy = pol
			if pol == radiusd.MAOptional && !r.demo { // the demo answers loopback only
				r.warnf("nas %s: require_message_authenticator: no leaves its Access-Requests open to forgery (BlastRADIUS, CVE-2024-3596): use yes, or auto", label)
			}
		}

		mode, err := radiusd.ParsePasswordMode(f.Password)
		if err != nil {
			// Not %v: the value may be the password itself.
			p.add(path+".password", "want any, mac or fixed (the value is not shown: it may be a password; the password of password: fixed goes in fixed_password, fixed_password_env or fixed_password_file)")
		}
		n.Password = mode
		fixedSet := f.FixedPassword != "" || f.FixedPasswordEnv != "" || f.FixedPasswordFile != ""
		switch {
		case err != nil:
		case mode == radiusd.PasswordFixed && !fixedSet:
			p.add(path+".fixed_password", "empty (password: fixed needs fixed_password, fixed_password_env or fixed_password_file)")
		case mode == radiusd.PasswordFixed:
			n.FixedPassword, _ = r.secret(path, "fixed_password", "fixed_password", f.FixedPassword, f.FixedPasswordEnv, f.FixedPasswordFile)
		case fixedSet:
			p.add(path+".fixed_password", "set, but password is %q: set password: fixed, or remove it", mode)
		}
		r.nasLogin(path, f, &n)
		out = append(out, n)
	}
	return out
}

// nasLogin reads the per-NAS login style and how its accounting is read.
func (r *resolver) nasLogin(path string, f nasFile, n *radiusd.NAS) {
	p := r.p
	if l, err := radiusd.ParseLoginStyle(strings.TrimSpace(f.Login)); err != nil {
		p.add(path+".login", "%v", err)
	} else {
		n.Login = l
	}
	n.MACSuffix = f.MACSuffix
	if u, err := radiusd.ParseAcctUpdates(strings.TrimSpace(f.AccountingUpdates)); err != nil {
		p.add(path+".accounting_updates", "%v", err)
	} else {
		n.Acct.Updates = u
	}
	if w, err := radiusd.ParseCounterWrap(strings.TrimSpace(f.CounterWrap)); err != nil {
		p.add(path+".counter_wrap", "%v", err)
	} else {
		n.Acct.Wrap32 = w
	}
	win := radiusd.DefaultRetransmitWindow
	if n.Acct.Updates == session.AcctUpdatesStopStartReset {
		win = 20 * time.Second
	}
	if f.RetransmitWindow != "" {
		d, err := time.ParseDuration(strings.TrimSpace(f.RetransmitWindow))
		switch {
		case err != nil:
			p.add(path+".retransmit_window", "%q: want a duration such as 2m or 30s", f.RetransmitWindow)
		case d < 5*time.Second || d > time.Hour:
			p.add(path+".retransmit_window", "%v: want 5s to 1h (how long the NAS may resend one accounting packet; default %v)", d, radiusd.DefaultRetransmitWindow)
		default:
			win = d
		}
	}
	if n.Acct.Updates == session.AcctUpdatesStopStartReset && win >= 30*time.Second {
		p.add(path+".retransmit_window", "%v: accounting_updates: stop_start_reset tells its one-minute segments apart by time alone, so the window must be under half of one (e.g. 20s)", win)
	}
	n.Acct.RetransmitWindow = win
}

func (r *resolver) profiles(path string, names []string) []radiusd.Profile {
	if names == nil {
		return []radiusd.Profile{radiusd.ProfileWISPr}
	}
	if len(names) == 0 {
		r.p.add(path+".profiles", "empty list: name at least one of wispr, chillispot, mikrotik, pfsense, rfc (rfc: only the RFC attributes)")
		return nil
	}
	var out []radiusd.Profile
	seen := map[radiusd.Profile]bool{}
	for j, s := range names {
		pr, err := radiusd.ParseProfile(strings.TrimSpace(s))
		switch {
		case err != nil:
			r.p.add(fmt.Sprintf("%s.profiles[%d]", path, j), "%v", err)
		case seen[pr]:
			r.p.add(fmt.Sprintf("%s.profiles[%d]", path, j), "%q: listed twice", s)
		default:
			seen[pr] = true
			out = append(out, pr)
		}
	}
	return out
}

// parseNASAddress accepts an IP address or a CIDR prefix, IPv4 or IPv6. The
// warning is set when the prefix had host bits (they are cleared).
func parseNASAddress(s string) (netip.Prefix, string, error) {
	s = strings.TrimSpace(s)
	const want = "want an IP address or CIDR prefix (e.g. 192.168.88.1, 10.0.0.0/24, 2001:db8::1, 2001:db8::/64)"
	if s == "" {
		return netip.Prefix{}, "", fmt.Errorf("empty: %s", want)
	}
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, "", fmt.Errorf("%q: %s", s, want)
		}
		if pf.Addr().Is4In6() {
			return netip.Prefix{}, "", fmt.Errorf("%q: an IPv4-mapped IPv6 prefix never matches: write the IPv4 prefix", s)
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

// enforcement validates the enforcement section; nil when it is disabled.
func (r *resolver) enforcement(f enforcementFile, interim time.Duration) *radiusd.EnforceConfig {
	p := r.p
	e := &radiusd.EnforceConfig{
		DynAuthTimeout: r.positive("enforcement.dynauth_timeout", f.DynAuthTimeout),
		DynAuthTries:   f.DynAuthTries,
		Workers:        f.Workers,
		Queue:          f.Queue,
		ScheduleEvery:  r.positive("enforcement.schedule_every", f.ScheduleEvery),
		ReapAfter:      r.duration("enforcement.reap_after", f.ReapAfter),
		ReapEvery:      r.positive("enforcement.reap_every", f.ReapEvery),
	}
	if f.DynAuthTries < 1 || f.DynAuthTries > 10 {
		p.add("enforcement.dynauth_tries", "%d: want 1 to 10 (default 3)", f.DynAuthTries)
	}
	// Upper bounds too: the server allocates the queue and starts the
	// workers at start-up, so a huge value would crash or exhaust it there.
	switch {
	case f.Workers < 1:
		p.add("enforcement.workers", "%d: want at least 1 (default 16)", f.Workers)
	case f.Workers > maxEnforceWorkers:
		p.add("enforcement.workers", "%d: want at most %d (default 16)", f.Workers, maxEnforceWorkers)
	}
	switch {
	case f.Queue < 1:
		p.add("enforcement.queue", "%d: want at least 1 (default 4096)", f.Queue)
	case f.Queue > maxEnforceQueue:
		p.add("enforcement.queue", "%d: want at most %d (default 4096)", f.Queue, maxEnforceQueue)
	}
	// A record reaped while its NAS session lives loses what the next
	// interim reports (an interim after a close adds nothing): leave room
	// for at least two missed interims.
	if e.ReapAfter > 0 && interim > 0 && e.ReapAfter < 2*interim {
		p.add("enforcement.reap_after", "%v: must be at least twice radius.acct_interim_interval (%v), or live sessions are closed and their consumption lost; 0 means 3 intervals + 1m", e.ReapAfter, interim)
	}
	if !f.Enabled {
		return nil
	}
	return e
}

// admin validates the admin listener. A listener reachable from other
// hosts must have a token: the API creates sessions (free Internet access)
// and disconnects devices.
func (r *resolver) admin(f adminFile) adminConfig {
	p := r.p
	a := adminConfig{Listen: strings.TrimSpace(f.Listen), Pprof: f.Pprof}
	token, hasToken := r.secret("admin", "token", "token", f.Token, f.TokenEnv, f.TokenFile)
	if hasToken {
		if strings.ContainsAny(token, " \t\r\n") {
			key := "admin.token"
			switch {
			case f.TokenEnv != "":
				key = "admin.token_env"
			case f.TokenFile != "":
				key = "admin.token_file"
			}
			p.add(key, "the token contains spaces or line breaks: clients send it in an HTTP header")
		} else {
			a.Token = token
			if len(token) < minTokenLen && !r.demo {
				r.warnf("admin: the token is shorter than %d characters: use a long random one (e.g. openssl rand -hex 32)", minTokenLen)
			}
		}
	}
	for i, h := range f.AllowedHosts {
		if !hostNameRE.MatchString(h) {
			p.add(fmt.Sprintf("admin.allowed_hosts[%d]", i), "%q: want a host name, without scheme or port (e.g. radius-admin.example.net)", h)
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
