package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/mikrotik"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/radiusd/radsec"
	"github.com/hotspot-radius/hsradius/radiusd/radsec/radsectest"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

const (
	testMAC     = "aa:bb:cc:dd:ee:ff"
	testTimeout = 15 * time.Second // a safety net, not a wait: tests proceed on signals
)

// nopStore satisfies radiusd.Store for configuration checks.
type nopStore struct{}

func (nopStore) DeviceSessions(context.Context, session.MAC) ([]session.Data, error) {
	return nil, nil
}

func (nopStore) Account(context.Context, session.AcctEvent) (session.AcctResult, error) {
	return session.AcctResult{}, nil
}

func (nopStore) CloseNAS(context.Context, string, time.Time, string) (int, error) { return 0, nil }

// logSink collects run's stderr and signals the "radiusd started" line,
// which lists the bound addresses: the test's readiness signal.
type logSink struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	started chan startLine
}

type startLine struct {
	Auth       []string `json:"auth"`
	Acct       []string `json:"acct"`
	RadSec     []string `json:"radsec"`
	RedisAddrs []string `json:"redis_addrs"`
	RedisMode  string   `json:"redis_mode"`
	Admin      string   `json:"admin"`
	NAS        []struct {
		Name     string   `json:"name"`
		Profiles []string `json:"profiles"`
	} `json:"nas"`
}

func newLogSink() *logSink { return &logSink{started: make(chan startLine, 1)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all.Write(p)
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		line := s.partial[:i]
		var m struct {
			Message string `json:"message"`
			startLine
		}
		if json.Unmarshal(line, &m) == nil && m.Message == "radiusd started" {
			s.started <- m.startLine
		}
		s.partial = append([]byte(nil), s.partial[i+1:]...)
	}
	return len(p), nil
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all.String()
}

// running is a run() in progress.
type running struct {
	startLine
	log  *logSink
	stop func() error
}

// startRun calls run in a goroutine and waits for its start line.
func startRun(t *testing.T, args []string, env map[string]string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sink := newLogSink()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, envFunc(env), io.Discard, sink) }()
	var stopped bool
	var result error
	r := &running{log: sink}
	r.stop = func() error {
		t.Helper()
		if stopped {
			return result
		}
		stopped = true
		cancel()
		select {
		case result = <-done:
		case <-time.After(testTimeout):
			t.Fatalf("run did not return after cancel:\n%s", sink)
		}
		return result
	}
	t.Cleanup(func() { _ = r.stop() })
	select {
	case r.startLine = <-sink.started:
	case err := <-done:
		stopped = true
		t.Fatalf("run returned before starting: %v\n%s", err, sink)
	case <-time.After(testTimeout):
		t.Fatalf("run did not start:\n%s", sink)
	}
	return r
}

func accessRequest(secret string, withMA bool) *radius.Packet {
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	_ = rfc2865.UserName_SetString(p, testMAC)
	_ = rfc2865.UserPassword_SetString(p, "x")
	_ = rfc2865.CallingStationID_SetString(p, "AA-BB-CC-DD-EE-FF")
	if withMA {
		addMessageAuthenticator(p)
	}
	return p
}

// addMessageAuthenticator signs p (RFC 3579 §3.2): HMAC-MD5 over the packet
// with the attribute zeroed. layeh encodes a request the same way each time
// (same Authenticator), so the second encoding matches the signed one.
func addMessageAuthenticator(p *radius.Packet) {
	_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	if err := packet.SignMA(p); err != nil {
		panic(err)
	}
}

func exchange(t *testing.T, p *radius.Packet, addr string) *radius.Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := radius.Exchange(ctx, p, addr)
	if err != nil {
		t.Fatalf("exchange with %s: %v", addr, err)
	}
	return resp
}

// TestRunDemo starts the demo on free ports and asks it about a device that
// has no session.
func TestRunDemo(t *testing.T) {
	r := startRun(t, nil, map[string]string{
		envDemoRedisAddr: "127.0.0.1:0",
		envDemoAuthAddr:  "127.0.0.1:0",
		envDemoAcctAddr:  "127.0.0.1:0",
		envDemoAdminAddr: "127.0.0.1:0",
	})
	if len(r.Auth) != 1 || len(r.Acct) != 1 || len(r.RedisAddrs) != 1 || r.RedisMode != "standalone" {
		t.Fatalf("start line: %+v", r.startLine)
	}
	if len(r.NAS) != 1 || r.NAS[0].Name != "demo" || strings.Join(r.NAS[0].Profiles, ",") != "wispr,chillispot,mikrotik" {
		t.Errorf("start line NAS: %+v", r.NAS)
	}

	// Requests with and without Message-Authenticator are answered, in
	// this order too (policy auto would require it after the first).
	for _, withMA := range []bool{true, false, true} {
		resp := exchange(t, accessRequest(demoSecret, withMA), r.Auth[0])
		if resp.Code != radius.CodeAccessReject {
			t.Fatalf("Message-Authenticator %v: got %v, want Access-Reject", withMA, resp.Code)
		}
		if got, want := rfc2865.ReplyMessage_GetString(resp), "no session for this device"; got != want {
			t.Errorf("Reply-Message: got %q, want %q", got, want)
		}
	}

	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	out := r.log.String()
	banner := strings.Index(out, "DEMO MODE: embedded in-memory Redis at "+r.RedisAddrs[0])
	firstJSON := strings.Index(out, "{")
	if banner < 0 || banner > firstJSON {
		t.Errorf("the banner should come before the JSON logs:\n%s", out)
	}
	for _, want := range []string{
		"NOTHING IS PERSISTED",
		"secret: testing123",
		"radclient -x " + r.Auth[0] + " auth testing123",
		`NAS "demo" is 127.0.0.1/32. Message-Authenticator is verified when present`,
		`"level":"warn"`, "demo mode: embedded in-memory Redis, nothing is persisted",
		`"message":"shutting down"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunRealRedis runs from a configuration file against a real
// redis-server: a session created through the store is granted, and
// accounting reaches Redis.
func TestRunRealRedis(t *testing.T) {
	srv := redistest.Start(t)
	const secret = "lab-secret-0123456789abc"
	secretFile := writeFile(t, "lab.secret", secret+"\n")

	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.Options{Prefix: "hstest:"})
	if err != nil {
		t.Fatal(err)
	}
	mgr := session.NewSessionsMgr(store, time.Now)
	cs, err := mgr.CreateSession(t.Context(), testMAC, session.Spec{Type: session.TypeTime, TimeSecs: 3600, DownMbits: 10, UpMbits: 2})
	if err != nil {
		t.Fatal(err)
	}

	authAddr, acctAddr := freeUDP(t), freeUDP(t)
	cfgPath := writeFile(t, "radiusd.yaml", fmt.Sprintf(`
listen: {auth: [%q], acct: [%q]}
redis: {addrs: [%q], prefix: "hstest:"}
admin: {listen: %q}
log: {level: debug}
nas:
  - name: lab
    address: 127.0.0.1
    secret_file: %s
    profiles: [mikrotik, wispr]
`, authAddr, acctAddr, srv.Addr, freeTCP(t), secretFile))
	r := startRun(t, []string{"-config", cfgPath}, nil)
	if r.Auth[0] != authAddr || r.Acct[0] != acctAddr || r.RedisAddrs[0] != srv.Addr {
		t.Fatalf("start line: %+v", r.startLine)
	}

	// The default policy requires a Message-Authenticator.
	resp := exchange(t, accessRequest(secret, true), authAddr)
	if resp.Code != radius.CodeAccessAccept {
		t.Fatalf("got %v (%q), want Access-Accept", resp.Code, rfc2865.ReplyMessage_GetString(resp))
	}
	if st := rfc2865.SessionTimeout_Get(resp); st < 3590 || st > 3600 {
		t.Errorf("Session-Timeout: got %d, want about 3600", st)
	}
	if got := rfc2869.AcctInterimInterval_Get(resp); got != 300 {
		t.Errorf("Acct-Interim-Interval: got %d, want 300", got)
	}
	if got := mikrotik.MikrotikRateLimit_GetString(resp); got != "2M/10M" {
		t.Errorf("Mikrotik-Rate-Limit: got %q, want 2M/10M", got)
	}

	for _, st := range []struct {
		status rfc2866.AcctStatusType
		secs   rfc2866.AcctSessionTime
	}{{rfc2866.AcctStatusType_Value_Start, 0}, {rfc2866.AcctStatusType_Value_InterimUpdate, 60}} {
		p := radius.New(radius.CodeAccountingRequest, []byte(secret))
		_ = rfc2865.UserName_SetString(p, testMAC)
		_ = rfc2865.CallingStationID_SetString(p, "aa-bb-cc-dd-ee-ff")
		_ = rfc2866.AcctStatusType_Set(p, st.status)
		_ = rfc2866.AcctSessionID_SetString(p, "81000001")
		_ = rfc2866.AcctSessionTime_Set(p, st.secs)
		if resp := exchange(t, p, acctAddr); resp.Code != radius.CodeAccountingResponse {
			t.Fatalf("%v: got %v, want Accounting-Response", st.status, resp.Code)
		}
	}
	if err := cs.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if cs.TimeConsumption() != 60 || cs.StartedAt() == nil {
		t.Errorf("after accounting: consumption %d s, started %v; want 60 s, started", cs.TimeConsumption(), cs.StartedAt())
	}

	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if out := r.log.String(); strings.Contains(out, secret) {
		t.Errorf("the log contains the shared secret:\n%s", out)
	}
}

// freeUDP returns a loopback address with a UDP port free a moment ago.
func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// TestRunErrors checks the failures at start and their exit codes.
func TestRunErrors(t *testing.T) {
	busyUDP, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyUDP.Close()
	busyTCP, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyTCP.Close()
	// A TCP port nobody listens on: Redis is down.
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := down.Addr().String()
	down.Close()

	demoEnv := func(auth, redis string) map[string]string {
		return map[string]string{envDemoRedisAddr: redis, envDemoAuthAddr: auth, envDemoAcctAddr: "127.0.0.1:0", envDemoAdminAddr: "127.0.0.1:0"}
	}
	adminBusy := demoEnv("127.0.0.1:0", "127.0.0.1:0")
	adminBusy[envDemoAdminAddr] = busyTCP.Addr().String()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		want     []string
	}{
		{"bad flag", []string{"-nope"}, nil, 2, []string{"flag provided but not defined: -nope"}},
		{"bad config", []string{"-config", writeFile(t, "bad.yaml", "nas: []\n")}, nil, 2, []string{"nas: empty"}},
		{"redis down", []string{"-config", writeFile(t, "down.yaml", minimal+"redis: {addrs: ["+strconv.Quote(downAddr)+"], timeout: 200ms}\n")}, nil, 1,
			[]string{"redis (standalone, " + downAddr + ") does not answer", "check that Redis is running"}},
		{"auth port busy", nil, demoEnv(busyUDP.LocalAddr().String(), "127.0.0.1:0"), 1,
			[]string{"listen.auth[0]: cannot listen on udp " + busyUDP.LocalAddr().String(), "address already in use", "another process"}},
		{"demo redis port busy", nil, demoEnv("127.0.0.1:0", busyTCP.Addr().String()), 1,
			[]string{"demo: the embedded Redis cannot listen on " + busyTCP.Addr().String(), "free the port", "-config"}},
		{"admin port busy", nil, adminBusy, 1,
			[]string{"admin.listen: cannot listen on tcp " + busyTCP.Addr().String(), "address already in use"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			var stderr bytes.Buffer
			err := run(ctx, tc.args, envFunc(tc.env), io.Discard, &stderr)
			if err == nil {
				t.Fatal("run returned nil")
			}
			if got := exitCode(err); got != tc.wantCode {
				t.Errorf("exit code: got %d, want %d (%v)", got, tc.wantCode, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestRunVersionAndHelp(t *testing.T) {
	for _, args := range [][]string{{"-version"}, {"-h"}} {
		var stdout bytes.Buffer
		if err := run(context.Background(), args, envFunc(nil), &stdout, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.Contains(stdout.String(), "radiusd") {
			t.Errorf("%v: stdout %q", args, stdout.String())
		}
	}
}

// TestRunCancelledWhileStarting checks that a signal during start is a clean
// stop, not an error.
func TestRunCancelledWhileStarting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, nil, envFunc(map[string]string{
		envDemoRedisAddr: "127.0.0.1:0", envDemoAuthAddr: "127.0.0.1:0", envDemoAcctAddr: "127.0.0.1:0", envDemoAdminAddr: "127.0.0.1:0",
	}), io.Discard, io.Discard)
	if err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestRunDemoRadclient runs README.md's quick start against the demo with
// radclient: the Access-Request line is answered whether or not a request
// with Message-Authenticator came before it (policy auto made the demo
// silent to it after one).
func TestRunDemoRadclient(t *testing.T) {
	bin := radclientPath(t)
	r := startRun(t, nil, map[string]string{
		envDemoRedisAddr: "127.0.0.1:0",
		envDemoAuthAddr:  "127.0.0.1:0",
		envDemoAcctAddr:  "127.0.0.1:0",
		envDemoAdminAddr: "127.0.0.1:0",
	})
	if code, body := get(t, "POST", "http://"+r.Admin+"/v1/devices/"+testMAC+"/sessions", "", `{"type":"time","time_secs":3600,"down_mbits":10,"up_mbits":2}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	const readme = "User-Name=aa:bb:cc:dd:ee:ff,User-Password=x,Calling-Station-Id=aa-bb-cc-dd-ee-ff"
	for _, in := range []string{readme + ",Message-Authenticator=0x00", readme, readme + ",Message-Authenticator=0x00", readme} {
		cmd := exec.Command(bin, "-x", "-r", "1", "-t", "3", r.Auth[0], "auth", demoSecret)
		cmd.Stdin = strings.NewReader(in + "\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Access-Accept") || !strings.Contains(string(out), "Session-Timeout = 3600") {
			t.Fatalf("radclient %q: %v\n%s", in, err, out)
		}
	}
}

// TestRunRadSec: with radsec enabled, run listens on TCP beside UDP, logs
// the address, and serves a NAS known by its certificate; accounting
// through it lands in Redis under the NAS's name.
func TestRunRadSec(t *testing.T) {
	srv := redistest.Start(t)
	ca, cert, key := radsecFiles(t)
	nas := ca.Client(t, "site-7.nas.example")
	rsAddr := freeTCP(t)
	cfgPath := writeFile(t, "radiusd.yaml", fmt.Sprintf(`
listen: {auth: [%q], acct: [%q]}
redis: {addrs: [%q], prefix: "hstest:"}
admin: {listen: ""}
radsec: {enabled: true, listen: [%q], cert: %s, key: %s, client_ca: %s}
nas:
  - name: site-7
    radsec: {names: [site-7.nas.example]}
`, freeUDP(t), freeUDP(t), srv.Addr, rsAddr, cert, key, ca.File))
	r := startRun(t, []string{"-config", cfgPath}, nil)
	if len(r.RadSec) != 1 || r.RadSec[0] != rsAddr {
		t.Fatalf("start line radsec = %v, want [%s]", r.RadSec, rsAddr)
	}
	c, err := tls.Dial("tcp", rsAddr, radsectest.ClientConfig(ca, nas))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(testTimeout))
	p := radius.New(radius.CodeAccountingRequest, []byte("radsec"))
	_ = rfc2865.UserName_SetString(p, testMAC)
	_ = rfc2865.CallingStationID_SetString(p, "aa-bb-cc-dd-ee-ff")
	_ = rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_Start)
	_ = rfc2866.AcctSessionID_SetString(p, "82000001")
	req, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	// The device has no session, so enforcement may send a
	// Disconnect-Request on the same connection, before or after the
	// Accounting-Response: the NAS reads both, in either order.
	var reply []byte
	for range 3 {
		if reply, err = radsec.ReadFrame(c, make([]byte, radsec.MaxLen), nil); err != nil {
			t.Fatalf("no reply over RadSec: %v\n%s", err, r.log)
		}
		if code := radius.Code(reply[0]); code != radius.CodeDisconnectRequest && code != radius.CodeCoARequest {
			break
		}
	}
	if radius.Code(reply[0]) != radius.CodeAccountingResponse || !radius.IsAuthenticResponse(reply, req, []byte("radsec")) {
		t.Fatalf("got %v, want an Accounting-Response signed with \"radsec\"", radius.Code(reply[0]))
	}
	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(r.log.String(), `"nas":"site-7"`) {
		t.Errorf("the log does not name the NAS of the connection:\n%s", r.log)
	}
}

// radclientPath finds radclient: a skip without it, a failure when CI=true.
func radclientPath(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("radclient")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("radclient not found: apt-get install freeradius-utils")
		}
		t.Skip("radclient not found: apt-get install freeradius-utils")
	}
	return bin
}
