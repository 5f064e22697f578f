package main

import (
	"fmt"
	"io"
	"net"
	"strings"
)

// The demo: with no configuration file, radiusd runs against an embedded
// in-memory Redis (miniredis) and answers NAS on loopback only, so that
// `go run ./cmd/radiusd` plus radclient shows the whole path in a minute.
const (
	demoSecret    = "testing123" // radclient's and FreeRADIUS's customary test secret
	demoRedisAddr = "127.0.0.1:6380"
	demoAuthAddr  = "127.0.0.1:1812"
	demoAcctAddr  = "127.0.0.1:1813"
	demoAdminAddr = "127.0.0.1:9812"
)

// demoConfig returns the demo configuration. The demo addresses can be
// moved with HSRADIUS_DEMO_{REDIS,AUTH,ACCT,ADMIN}_ADDR (port 0 picks a free one);
// the log keys follow the usual environment variables and flags.
func demoConfig(o options, getenv func(string) string) (*Config, error) {
	fc := defaultFile()
	p := newProblems()
	addr := func(env, def, key string) string {
		if v := getenv(env); v != "" {
			p.from[key] = env
			return v
		}
		return def
	}
	fc.Listen = listenFile{
		Auth: []string{addr(envDemoAuthAddr, demoAuthAddr, "listen.auth")},
		Acct: []string{addr(envDemoAcctAddr, demoAcctAddr, "listen.acct")},
	}
	fc.Redis.Addrs = []string{addr(envDemoRedisAddr, demoRedisAddr, "redis.addrs")}
	fc.Admin = adminFile{Listen: addr(envDemoAdminAddr, demoAdminAddr, "admin.listen")}
	nas := nasFile{
		Secret:                      demoSecret,
		Profiles:                    []string{"wispr", "chillispot", "mikrotik"},
		GlobalDownMbits:             10,
		GlobalUpMbits:               2,
		RequireMessageAuthenticator: "auto",
		Password:                    "any",
	}
	v4, v6 := nas, nas
	v4.Name, v4.Address = "demo", "127.0.0.1/32"
	v6.Name, v6.Address = "demo6", "::1/128"
	fc.NAS = []nasFile{v4, v6}

	var ignored []string
	for _, env := range []string{envRedisAddrs, envRedisPassword, envRedisMaster, envRedisUsername, envRedisPrefix} {
		if getenv(env) != "" {
			ignored = append(ignored, env)
		}
	}
	fc.Log.Level, fc.Log.Format = envOr(getenv, envLogLevel, fc.Log.Level), envOr(getenv, envLogFormat, fc.Log.Format)
	if getenv(envLogLevel) != "" {
		p.from["log.level"] = envLogLevel
	}
	if getenv(envLogFormat) != "" {
		p.from["log.format"] = envLogFormat
	}
	applyFlags(&fc, o, p)
	cfg := resolve(&fc, getenv, p, true)
	if err := p.err(demoSource); err != nil {
		return nil, err
	}
	if len(ignored) > 0 {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("demo mode ignores %s: pass -config to use a real Redis", strings.Join(ignored, ", ")))
	}
	cfg.Source = demoSource
	return cfg, nil
}

func envOr(getenv func(string) string, env, def string) string {
	if v := getenv(env); v != "" {
		return v
	}
	return def
}

// printDemoBanner tells the operator, in plain text before the JSON logs,
// that nothing is persisted and how to try the server.
func printDemoBanner(w io.Writer, redisAddr, authAddr, acctAddr, adminAddr string) {
	rhost, rport, _ := net.SplitHostPort(redisAddr)
	redisCLI := "redis-cli -p " + rport
	if rhost != "127.0.0.1" && rhost != "localhost" {
		redisCLI = "redis-cli -h " + rhost + " -p " + rport
	}
	// radclient takes host[:port]; 1812 is its default for auth.
	target := authAddr
	if h, port, err := net.SplitHostPort(authAddr); err == nil && port == "1812" {
		target = h
	}
	line := strings.Repeat("=", 78)
	fmt.Fprintf(w, `%[1]s
 DEMO MODE: embedded in-memory Redis at %[2]s
 NOTHING IS PERSISTED: all sessions vanish when this process stops.
 RADIUS auth %[3]s, acct %[4]s, secret: %[5]s
 Admin API (no token, loopback) http://%[8]s: /v1/..., /metrics, /healthz, /readyz
 NAS "demo" is 127.0.0.1/32 and "demo6" is ::1/128; Message-Authenticator
 policy is auto (accepted without one until the NAS sends one), so plain
 radclient works.
 Try:  go run ./cmd/hsctl --redis %[2]s create --mac aa:bb:cc:dd:ee:ff --type time --time 1h --down 10 --up 2
   or: curl -s -X POST -H 'Content-Type: application/json' -d '{"type":"time","time_secs":3600,"down_mbits":10,"up_mbits":2}' http://%[8]s/v1/devices/aa:bb:cc:dd:ee:ff/sessions
       echo 'User-Name=aa:bb:cc:dd:ee:ff,User-Password=x,Calling-Station-Id=aa-bb-cc-dd-ee-ff' | radclient -x %[6]s auth %[5]s
       curl -s http://%[8]s/v1/devices/aa:bb:cc:dd:ee:ff/current
       %[7]s HGETALL 'hs:{aabbccddeeff}:s:1'
 For production pass -config (see testdata/config/radiusd.example.yaml).
%[1]s
`, line, redisAddr, authAddr, acctAddr, demoSecret, target, redisCLI, adminAddr)
}
