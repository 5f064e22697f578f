package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
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
	redisAddr := addr(envDemoRedisAddr, demoRedisAddr, "redis.addrs")
	fc.Redis.Addrs = []string{redisAddr}
	// The embedded Redis has no password: anyone who reaches it can sell
	// sessions.
	if _, _, err := checkHostPort(redisAddr, true); err == nil && !isLoopback(redisAddr) {
		p.add("redis.addrs", "%q: the demo's embedded Redis has no password, so it listens on loopback only (127.0.0.1, [::1] or localhost); for a Redis other hosts reach, pass -config", redisAddr)
	}
	fc.Admin = adminFile{Listen: addr(envDemoAdminAddr, demoAdminAddr, "admin.listen")}
	// Message-Authenticator verified when present, never required: the
	// README's radclient lines work with and without it, in any order
	// (auto would require it after the first request that has one).
	nas := nasFile{
		Secret:                      demoSecret,
		Profiles:                    []string{"wispr", "chillispot", "mikrotik"},
		GlobalDownMbits:             10,
		GlobalUpMbits:               2,
		RequireMessageAuthenticator: "no",
		Password:                    "any",
		// A MAC login (User-Name = the MAC) as in the README's first lines,
		// anything else a voucher code typed with itself as the password.
		Login: "mac_or_voucher",
		// radclient answers no Disconnect/CoA: the demo sends none, so an
		// admin PATCH answers at once instead of waiting 3 × 2 s for nothing.
		CoAPort: new(int),
	}
	fc.NAS = nil
	v4, v6 := demoFamilies(append(fc.Listen.Auth, fc.Listen.Acct...))
	if v4 {
		n := nas
		n.Name, n.Address = "demo", "127.0.0.1/32"
		fc.NAS = append(fc.NAS, n)
	}
	if v6 {
		n := nas
		n.Name, n.Address = "demo6", "::1/128"
		fc.NAS = append(fc.NAS, n)
	}

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

// demoFamilies says which loopback NAS the demo needs: requests come from
// 127.0.0.1 to an IPv4 (or named) address and from ::1 to an IPv6 one; an
// empty host is every address, both. Only the families listened on get a
// NAS, so that the NAS table says what the demo answers.
func demoFamilies(addrs []string) (v4, v6 bool) {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(strings.TrimSpace(a))
		if err != nil {
			continue // reported by the listen checks
		}
		ip, err := netip.ParseAddr(host)
		switch {
		case host == "", err == nil && ip == netip.IPv6Unspecified(): // [::] is dual-stack
			v4, v6 = true, true
		case err != nil || ip.Unmap().Is4():
			v4 = true
		default:
			v6 = true
		}
	}
	if !v4 && !v6 {
		v4 = true // the listen checks report the addresses
	}
	return v4, v6
}

func envOr(getenv func(string) string, env, def string) string {
	if v := getenv(env); v != "" {
		return v
	}
	return def
}

// printDemoBanner tells the operator, in plain text before the JSON logs,
// that nothing is persisted and how to try the server.
func printDemoBanner(w io.Writer, redisAddr, authAddr, acctAddr, adminAddr, nas string) {
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
 Dashboard (no sign-in in the demo): open http://%[8]s/ui/ in a browser
 Admin API (no token, loopback) http://%[8]s: /v1/..., /metrics, /healthz, /readyz
 NAS %[9]s. Message-Authenticator is verified when present and never
 required (require_message_authenticator: no), so plain radclient works.
 Try:  go run ./cmd/hsctl --redis %[2]s create --mac aa:bb:cc:dd:ee:ff --type time --time 1h --down 10 --up 2
   or: curl -s -X POST -H 'Content-Type: application/json' -d '{"type":"time","time_secs":3600,"down_mbits":10,"up_mbits":2}' http://%[8]s/v1/devices/aa:bb:cc:dd:ee:ff/sessions
       echo 'User-Name=aa:bb:cc:dd:ee:ff,User-Password=x,Calling-Station-Id=aa-bb-cc-dd-ee-ff' | radclient -x %[6]s auth %[5]s
       curl -s http://%[8]s/v1/devices/aa:bb:cc:dd:ee:ff/current
       %[7]s HGETALL 'hs:{aabbccddeeff}:s:1'
 For production pass -config (see testdata/config/radiusd.example.yaml).
%[1]s
`, line, redisAddr, authAddr, acctAddr, demoSecret, target, redisCLI, adminAddr, nas)
}
