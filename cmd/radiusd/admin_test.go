package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/radiusd/adminapi"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
)

// TestConfigAdminEnforcementInvalid checks the admin, enforcement and
// per-NAS Disconnect/CoA keys: every problem names its key.
func TestConfigAdminEnforcementInvalid(t *testing.T) {
	nas := func(extra string) string { return minimal + extra }
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{"any address without token", minimal + "admin: {listen: '0.0.0.0:9812'}\n", nil,
			[]string{`admin.token: empty, but admin.listen "0.0.0.0:9812" is not a loopback address`}},
		{"all interfaces without token", minimal + "admin: {listen: ':9812'}\n", nil, []string{`admin.token: empty, but admin.listen ":9812"`}},
		{"LAN address without token", minimal + "admin: {listen: '192.168.88.2:9812'}\n", nil, []string{"admin.token: empty"}},
		{"IPv6 any without token", minimal + "admin: {listen: '[::]:9812'}\n", nil, []string{"admin.token: empty"}},
		{"host name without token", minimal + "admin: {listen: 'radius.lan:9812'}\n", nil, []string{"admin.token: empty"}},
		{"listen without port", minimal + "admin: {listen: '9812'}\n", nil, []string{`admin.listen: "9812": want host:port`}},
		{"listen port 0", minimal + "admin: {listen: '127.0.0.1:0'}\n", nil, []string{`admin.listen: "127.0.0.1:0": port "0"`}},
		{"token twice", minimal + "admin: {token: abcdefghijklmnopq, token_env: TOK}\n", map[string]string{"TOK": "x"},
			[]string{"admin.token_env: token is also set: use exactly one of token, token_env or token_file"}},
		{"token_env unset", minimal + "admin: {listen: '0.0.0.0:9812', token_env: NO_TOKEN}\n", nil,
			[]string{"admin.token_env: environment variable NO_TOKEN is not set or empty"}},
		{"token_env unset: one problem", minimal + "admin: {listen: '0.0.0.0:9812', token_env: NO_TOKEN}\n", nil,
			[]string{"radiusd.yaml: admin.token_env: environment variable NO_TOKEN"}},
		{"token with a space", minimal + "admin: {token: 'two words here'}\n", nil, []string{"admin.token: the token contains spaces"}},
		{"token_file with a space", minimal + "admin: {token_file: " + writeFile(t, "tok", "a b\n") + "}\n", nil, []string{"admin.token_file: the token contains spaces"}},
		{"admin misspelt key", minimal + "admin: {lisen: x}\n", nil, []string{"admin.lisen: unknown key", "did you mean listen?"}},
		{"allowed host with a scheme", minimal + "admin: {allowed_hosts: [ok.example.net, 'http://admin.example.net']}\n", nil,
			[]string{`admin.allowed_hosts[1]: "http://admin.example.net": want a host name, without scheme or port`}},
		{"allowed host with a port", minimal + "admin: {allowed_hosts: ['admin.example.net:443']}\n", nil, []string{"admin.allowed_hosts[0]"}},
		{"allowed host empty", minimal + "admin: {allowed_hosts: ['']}\n", nil, []string{"admin.allowed_hosts[0]"}},
		{"coa port too large", nas("    coa_port: 70000\n"), nil, []string{"nas[0].coa_port: 70000: want a port from 1 to 65535, or 0 to send this NAS no Disconnect/CoA"}},
		{"coa port negative", nas("    coa_port: -1\n"), nil, []string{"nas[0].coa_port: -1"}},
		{"coa port not a number", nas("    coa_port: mikrotik\n"), nil, []string{`nas[0].coa_port: got a string, want an integer`}},
		{"bad on_spill", nas("    on_spill: reauth\n"), nil, []string{`nas[0].on_spill: "reauth": want coa or disconnect`}},
		{"dynauth tries 0", minimal + "enforcement: {dynauth_tries: 0}\n", nil, []string{"enforcement.dynauth_tries: 0: want 1 to 10"}},
		{"dynauth tries 11", minimal + "enforcement: {dynauth_tries: 11}\n", nil, []string{"enforcement.dynauth_tries: 11"}},
		{"dynauth timeout 0", minimal + "enforcement: {dynauth_timeout: 0s}\n", nil, []string{"enforcement.dynauth_timeout: 0s: must be above zero"}},
		{"dynauth timeout unitless", minimal + "enforcement: {dynauth_timeout: 2}\n", nil, []string{`enforcement.dynauth_timeout: "2": want a duration with a unit`}},
		{"no workers", minimal + "enforcement: {workers: 0}\n", nil, []string{"enforcement.workers: 0: want at least 1"}},
		{"no queue", minimal + "enforcement: {queue: -5}\n", nil, []string{"enforcement.queue: -5: want at least 1"}},
		{"schedule every", minimal + "enforcement: {schedule_every: soon}\n", nil, []string{`enforcement.schedule_every: "soon"`}},
		{"reap after too short", minimal + "enforcement: {reap_after: 9m}\n", nil,
			[]string{"enforcement.reap_after: 9m0s: must be at least twice acct_interim_interval (5m0s)"}},
		{"reap every 0", minimal + "enforcement: {reap_every: 0s}\n", nil, []string{"enforcement.reap_every: 0s: must be above zero"}},
		{"checked while disabled", minimal + "enforcement: {enabled: false, workers: 0}\n", nil, []string{"enforcement.workers: 0"}},
		{"enabled misspelt", minimal + "enforcement: {enable: false}\n", nil, []string{"enforcement.enable: unknown key", "did you mean enabled?"}},
		{"every problem at once", nas("    coa_port: 70000\n    on_spill: x\nadmin: {listen: '0.0.0.0:1'}\nenforcement: {workers: 0}\n"), nil,
			[]string{"4 problems", "nas[0].coa_port", "nas[0].on_spill", "admin.token", "enforcement.workers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadYAML(t, tc.yaml, tc.env)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *configError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestConfigAdminEnforcementValid checks the defaults and what is accepted.
func TestConfigAdminEnforcementValid(t *testing.T) {
	tokenFile := writeFile(t, "admin.token", "file-token-0123456789abcdef\n")
	tests := []struct {
		name  string
		yaml  string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{"defaults", minimal, nil, func(t *testing.T, c *Config) {
			if !reflect.DeepEqual(c.Admin, adminConfig{Listen: "127.0.0.1:9812"}) {
				t.Errorf("admin: %+v", c.Admin)
			}
			want := radiusd.EnforceConfig{DynAuthTimeout: 2 * time.Second, DynAuthTries: 3, Workers: 16, Queue: 4096, ScheduleEvery: time.Second, ReapEvery: time.Minute}
			if c.Enforce == nil || *c.Enforce != want {
				t.Errorf("enforce: got %+v, want %+v", c.Enforce, want)
			}
			if c.Server.Enforce != nil {
				t.Error("Server.Enforce is set by run, with the store")
			}
			if n := c.Server.NAS[0]; n.CoAPort != 3799 || n.OnSpill != radiusd.SpillCoA {
				t.Errorf("nas: coa port %d, on_spill %v", n.CoAPort, n.OnSpill)
			}
		}},
		{"loopback without token", minimal + "admin: {listen: '[::1]:9000', pprof: true}\n", nil, func(t *testing.T, c *Config) {
			if !reflect.DeepEqual(c.Admin, adminConfig{Listen: "[::1]:9000", Pprof: true}) || len(c.Warnings) != 0 {
				t.Errorf("admin: %+v, warnings %q", c.Admin, c.Warnings)
			}
		}},
		{"localhost without token", minimal + "admin: {listen: 'localhost:9812'}\n", nil, func(t *testing.T, c *Config) {
			if c.Admin.Listen != "localhost:9812" {
				t.Errorf("admin: %+v", c.Admin)
			}
		}},
		{"127/8 without token", minimal + "admin: {listen: '127.0.0.2:9812'}\n", nil, func(t *testing.T, c *Config) {}},
		{"any address with token_env", minimal + "admin: {listen: '0.0.0.0:9812', token_env: TOK}\n", map[string]string{"TOK": "env-token-0123456789abcdef"}, func(t *testing.T, c *Config) {
			if c.Admin.Token != "env-token-0123456789abcdef" {
				t.Errorf("token: %q", c.Admin.Token)
			}
		}},
		{"LAN address with token_file", minimal + "admin: {listen: '10.0.0.5:9812', token_file: " + tokenFile + ", pprof: true}\n", nil, func(t *testing.T, c *Config) {
			if c.Admin.Token != "file-token-0123456789abcdef" {
				t.Errorf("token: %q", c.Admin.Token)
			}
			if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "admin.pprof: profiling is served on 10.0.0.5:9812") {
				t.Errorf("warnings: %s", w)
			}
		}},
		{"short token warns", minimal + "admin: {token: short}\n", nil, func(t *testing.T, c *Config) {
			if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "admin: the token is shorter than 16 characters") {
				t.Errorf("warnings: %s", w)
			}
		}},
		{"allowed hosts", minimal + "admin: {allowed_hosts: [radius-admin.example.net, Proxy.LAN]}\n", nil, func(t *testing.T, c *Config) {
			if !slices.Equal(c.Admin.AllowedHosts, []string{"radius-admin.example.net", "Proxy.LAN"}) || len(c.Warnings) != 0 {
				t.Errorf("admin: %+v, warnings %q", c.Admin, c.Warnings)
			}
		}},
		{"allowed hosts with a token", minimal + "admin: {allowed_hosts: [a.example], token: abcdefghijklmnopqrstuvwxyz}\n", nil, func(t *testing.T, c *Config) {
			if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "admin.allowed_hosts: has no effect with a token") {
				t.Errorf("warnings: %s", w)
			}
		}},
		{"Redis password, admin without token", minimal, map[string]string{envRedisPassword: "redis-pass"}, func(t *testing.T, c *Config) {
			if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "admin: no token, but Redis has a password") || strings.Contains(w, "redis-pass") {
				t.Errorf("warnings: %s", w)
			}
		}},
		{"Redis password, admin off", minimal + "admin: {listen: ''}\n", map[string]string{envRedisPassword: "redis-pass"}, func(t *testing.T, c *Config) {
			if len(c.Warnings) != 0 {
				t.Errorf("warnings: %q", c.Warnings)
			}
		}},
		{"admin off", minimal + "admin: {listen: ''}\n", nil, func(t *testing.T, c *Config) {
			if c.Admin.Listen != "" {
				t.Errorf("admin: %+v", c.Admin)
			}
		}},
		{"enforcement off", minimal + "enforcement: {enabled: false}\n", nil, func(t *testing.T, c *Config) {
			if c.Enforce != nil {
				t.Errorf("enforce: %+v", c.Enforce)
			}
		}},
		{"enforcement tuned", minimal + "radius: {acct_interim_interval: 60s}\nenforcement: {dynauth_timeout: 500ms, dynauth_tries: 5, workers: 4, queue: 100, schedule_every: 250ms, reap_after: 2m, reap_every: 30s}\n", nil, func(t *testing.T, c *Config) {
			want := radiusd.EnforceConfig{DynAuthTimeout: 500 * time.Millisecond, DynAuthTries: 5, Workers: 4, Queue: 100, ScheduleEvery: 250 * time.Millisecond, ReapAfter: 2 * time.Minute, ReapEvery: 30 * time.Second}
			if c.Enforce == nil || *c.Enforce != want {
				t.Errorf("enforce: got %+v, want %+v", c.Enforce, want)
			}
		}},
		{"coa off and spill disconnect", minimal + "    coa_port: 0\n    on_spill: Disconnect\n", nil, func(t *testing.T, c *Config) {
			if n := c.Server.NAS[0]; n.CoAPort != 0 || n.OnSpill != radiusd.SpillDisconnect {
				t.Errorf("nas: coa port %d, on_spill %v", n.CoAPort, n.OnSpill)
			}
		}},
		{"older MikroTik", minimal + "    coa_port: 1700\n", nil, func(t *testing.T, c *Config) {
			if c.Server.NAS[0].CoAPort != 1700 {
				t.Errorf("coa port %d", c.Server.NAS[0].CoAPort)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadYAML(t, tc.yaml, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
	// The demo's admin address follows its variable.
	c, err := loadConfig(options{}, envFunc(map[string]string{envDemoAdminAddr: "127.0.0.1:0"}))
	if err != nil || c.Admin.Listen != "127.0.0.1:0" || c.Admin.Token != "" {
		t.Errorf("demo admin: %+v, %v", c.Admin, err)
	}
	_, err = loadConfig(options{}, envFunc(map[string]string{envDemoAdminAddr: "0.0.0.0:9812"}))
	if err == nil || !strings.Contains(err.Error(), "admin.token") {
		t.Errorf("demo on a public address without a token: %v", err)
	}
}

// freeTCP returns a loopback address with a TCP port free a moment ago.
func freeTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// get fetches an admin URL; hdr are header name, value pairs ("Host" sets
// the Host header).
func get(t *testing.T, method, url, token, body string, hdr ...string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	client := &http.Client{Timeout: testTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestRunAdmin runs the demo and uses its admin listener: health,
// readiness, metrics after RADIUS traffic, and the session API.
func TestRunAdmin(t *testing.T) {
	r := startRun(t, nil, map[string]string{
		envDemoRedisAddr: "127.0.0.1:0",
		envDemoAuthAddr:  "127.0.0.1:0",
		envDemoAcctAddr:  "127.0.0.1:0",
		envDemoAdminAddr: "127.0.0.1:0",
	})
	if r.Admin == "" {
		t.Fatalf("the start line has no admin address: %+v", r.startLine)
	}
	base := "http://" + r.Admin
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, "GET", base+path, "", ""); code != 200 || strings.TrimSpace(body) != "ok" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}

	// A web page in the operator's browser cannot act through the API
	// (another origin, or its own name rebound to 127.0.0.1); curl can.
	create := `{"type":"time","time_secs":3600,"down_mbits":10,"up_mbits":2}`
	for _, hdr := range [][]string{
		{"Origin", "http://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Host", "evil.example:" + r.Admin[strings.LastIndex(r.Admin, ":")+1:]},
	} {
		if code, body := get(t, "POST", base+"/v1/devices/"+testMAC+"/sessions", "", create, hdr...); code != http.StatusForbidden {
			t.Errorf("create with %s: %d %s, want 403", hdr, code, body)
		}
		if code, body := get(t, "POST", base+"/v1/devices/"+testMAC+"/disconnect", "", "", hdr...); code != http.StatusForbidden {
			t.Errorf("disconnect with %s: %d %s, want 403", hdr, code, body)
		}
	}
	code, body := get(t, "POST", base+"/v1/devices/"+testMAC+"/sessions", "", create)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	resp := exchange(t, accessRequest(demoSecret, false), r.Auth[0])
	if resp.Code != radius.CodeAccessAccept {
		t.Fatalf("got %v (%q), want Access-Accept", resp.Code, rfc2865.ReplyMessage_GetString(resp))
	}
	code, body = get(t, "GET", base+"/v1/devices/"+testMAC+"/current", "", "", "Host", "localhost")
	var cur struct {
		ID      string `json:"id"`
		Current bool   `json:"current"`
	}
	if err := json.Unmarshal([]byte(body), &cur); code != 200 || err != nil || cur.ID != "aabbccddeeff-1" || !cur.Current {
		t.Errorf("current: %d %s", code, body)
	}

	code, body = get(t, "GET", base+"/metrics", "", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`radiusd_packets_total{code="Access-Request",listener="auth",outcome="accepted"} 1`,
		"radiusd_request_duration_seconds_bucket", "go_goroutines", "process_cpu_seconds_total",
		// What README.md suggests alerting on is there before it happens.
		`radiusd_store_errors_total{op="account"} 0`,
		`radiusd_packets_total{code="Accounting-Request",listener="acct",outcome="store_error"} 0`,
		`radiusd_dynauth_requests_total{kind="disconnect",result="timeout"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get(t, "GET", base+"/debug/pprof/", "", ""); code != 404 {
		t.Errorf("pprof is off by default: got %d", code)
	}

	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	out := r.log.String()
	for _, want := range []string{
		"Admin API (no token, loopback) http://" + r.Admin,
		"curl -s -X POST -H 'Content-Type: application/json'",
		`"admin":"` + r.Admin + `"`, `"enforcement":{"enabled":true`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The listener is closed after the shutdown.
	if c, err := net.DialTimeout("tcp", r.Admin, time.Second); err == nil {
		c.Close()
		t.Errorf("the admin listener still accepts after run returned")
	}
}

// TestRunAdminToken runs from a file on a real redis-server with a token:
// the API and /metrics need it, /healthz and /readyz do not.
func TestRunAdminToken(t *testing.T) {
	srv := redistest.Start(t)
	const token = "run-admin-token-0123456789"
	tokenFile := writeFile(t, "admin.token", token+"\n")
	adminAddr := freeTCP(t)
	cfgPath := writeFile(t, "radiusd.yaml", fmt.Sprintf(`
listen: {auth: [%q], acct: [%q]}
redis: {addrs: [%q]}
admin: {listen: %q, token_file: %s, pprof: true}
enforcement: {dynauth_timeout: 200ms, dynauth_tries: 1}
nas:
  - {name: lab, address: 127.0.0.1, secret: %q, coa_port: 0}
`, freeUDP(t), freeUDP(t), srv.Addr, adminAddr, tokenFile, goodSecret))
	r := startRun(t, []string{"-config", cfgPath}, nil)
	base := "http://" + r.Admin
	if r.Admin != adminAddr {
		t.Fatalf("admin: got %q, want %q", r.Admin, adminAddr)
	}
	for _, tc := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/healthz", "", "", 200},
		{"GET", "/readyz", "", "", 200},
		{"GET", "/metrics", "", "", 401},
		{"GET", "/metrics", "wrong", "", 401},
		{"GET", "/metrics", token, "", 200},
		{"GET", "/debug/pprof/", token, "", 200},
		{"POST", "/v1/devices/" + testMAC + "/sessions", "", `{"type":"data","data_mb":10,"use_global_speed":true}`, 401},
		{"POST", "/v1/devices/" + testMAC + "/sessions", token, `{"type":"data","data_mb":10,"use_global_speed":true}`, 201},
		{"PATCH", "/v1/sessions/aabbccddeeff-1", token, `{"add_data_mb":5}`, 200},
		{"POST", "/v1/devices/" + testMAC + "/disconnect", token, "", 200},
	} {
		if code, body := get(t, tc.method, base+tc.path, tc.token, tc.body); code != tc.want {
			t.Errorf("%s %s (token %q): %d, want %d: %s", tc.method, tc.path, tc.token, code, tc.want, body)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if out := r.log.String(); strings.Contains(out, token) {
		t.Errorf("the log contains the admin token:\n%s", out)
	}
}

// TestStartAdmin checks the admin listener's wiring errors and the "off"
// case.
func TestStartAdmin(t *testing.T) {
	a, err := startAdmin(adminConfig{Listen: "127.0.0.1:0"}, adminapi.Config{})
	if err == nil || a != nil {
		t.Fatalf("startAdmin without sessions: %v", err)
	}
	off, err := startAdmin(adminConfig{}, adminapi.Config{})
	if err != nil || off.addr != "" {
		t.Fatalf("admin off: %+v %v", off, err)
	}
	if err := off.shutdown(context.Background()); err != nil {
		t.Errorf("shutdown of an admin that is off: %v", err)
	}
	off.close()
}
