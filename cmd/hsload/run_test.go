package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// runJSON runs hsload with -json and decodes its summary.
func runJSON(t *testing.T, env map[string]string, args ...string) summary {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, append(args, "-json"), getenv, &stdout, &stderr); err != nil {
		t.Fatalf("hsload %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var s summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout.String())
	}
	return s
}

// testServer is the real radiusd.Server on loopback, on a real redis-server.
type testServer struct {
	store      *redisstore.Store
	redis      string
	auth, acct int // ports
}

func startServer(t *testing.T, secret string) *testServer {
	t.Helper()
	rs := redistest.Start(t)
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{rs.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := radiusd.New(radiusd.Config{
		NAS: []radiusd.NAS{{
			Name: "loopback", Prefix: netip.MustParsePrefix("127.0.0.1/32"), Secret: []byte(secret),
			Profiles: []radiusd.Profile{radiusd.ProfileWISPr},
			MAPolicy: radiusd.MARequire, Password: radiusd.PasswordMAC,
		}},
		Store: store,
		Log:   zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	listen := func(l radiusd.Listener) int {
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(conn, l) }()
		return conn.LocalAddr().(*net.UDPAddr).Port
	}
	ts := &testServer{store: store, redis: rs.Addr, auth: listen(radiusd.Auth), acct: listen(radiusd.Acct)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ts
}

func (ts *testServer) args(mode string) []string {
	return []string{"-server", "127.0.0.1", "-auth-port", strconv.Itoa(ts.auth), "-acct-port", strconv.Itoa(ts.acct), "-mode", mode}
}

// TestMixAgainstRealServer is the end-to-end check: the real server on a
// real Redis, sessions created by -create-sessions, a bounded mixed run;
// every request must be answered and verified, every device accepted, and
// what Redis charged must equal, to the second and the octet, the totals
// the generator saw acknowledged.
func TestMixAgainstRealServer(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sessionType string
		interval    string
	}{
		{"time sessions", "time", "300s"},
		// One-hour intervals: fast devices pass 2^32 octets (Gigawords).
		{"data sessions, gigawords", "data", "3600s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const secret = "e2e-secret-from-env"
			ts := startServer(t, secret)
			const devices, count = 200, 2000
			s := runJSON(t, map[string]string{envSecret: secret}, append(ts.args("mix"),
				"-devices", strconv.Itoa(devices), "-count", strconv.Itoa(count), "-concurrency", "32",
				"-interims", "3", "-interval", tc.interval,
				"-create-sessions", "-redis", ts.redis, "-session-type", tc.sessionType)...)

			if s.CreateSessions == nil || s.CreateSessions.Sessions != devices {
				t.Errorf("create_sessions: %+v", s.CreateSessions)
			}
			if s.Sent != count || s.Answered != count || s.Timeouts != 0 || s.Bad != 0 || s.Late != 0 || s.Unmatched != 0 {
				t.Errorf("sent %d answered %d timeouts %d bad %d (%v) late %d unmatched %d; want all %d answered, nothing else",
					s.Sent, s.Answered, s.Timeouts, s.Bad, s.BadReasons, s.Late, s.Unmatched, count)
			}
			// 6-step cycles (auth, start, 3 interims, stop), population
			// spread over them: about a sixth are Access-Requests.
			accepts, responses := s.Codes["Access-Accept"], s.Codes["Accounting-Response"]
			if accepts+responses != count || accepts < count/8 || len(s.Codes) != 2 {
				t.Errorf("codes %v: want only Access-Accept (about %d) and Accounting-Response", s.Codes, count/6)
			}
			if s.RepliesWithoutMA != 0 {
				t.Errorf("%d replies without Message-Authenticator", s.RepliesWithoutMA)
			}
			if s.LatencyUS.P50 == 0 || s.LatencyUS.P50 > s.LatencyUS.P99 || s.LatencyUS.P99 > s.LatencyUS.Max || s.ReqPerSec <= 0 {
				t.Errorf("latency %+v, %v req/s", s.LatencyUS, s.ReqPerSec)
			}

			var timeCons, dataCons uint64
			ctx := context.Background()
			for k := range devices {
				d := newDevice(uint32(k), 1)
				sessions, err := ts.store.DeviceSessions(ctx, session.MAC(d.mac[:]))
				if err != nil {
					t.Fatal(err)
				}
				if len(sessions) != 1 {
					t.Fatalf("device %s: %d sessions, want 1", d.mac, len(sessions))
				}
				timeCons += sessions[0].TimeCons
				dataCons += sessions[0].DataConsBytes
			}
			tot := s.Totals
			if tot.Sessions == 0 || timeCons != tot.TimeSecs || dataCons != tot.InputOctets+tot.OutputOctets {
				t.Errorf("Redis holds %d s and %d octets; the generator had %d s and %d+%d octets acknowledged (%d sessions)",
					timeCons, dataCons, tot.TimeSecs, tot.InputOctets, tot.OutputOctets, tot.Sessions)
			}
			if tc.sessionType == "data" && tot.OutputOctets/uint64(tot.Sessions) < 1<<32/8 {
				t.Errorf("average %d octets out per session: Gigawords hardly exercised", tot.OutputOctets/uint64(tot.Sessions))
			}
		})
	}
}

func TestWrongSecretTimesOut(t *testing.T) {
	ts := startServer(t, "the-server-secret")
	s := runJSON(t, nil, append(ts.args("auth"), "-secret", "another-secret",
		"-devices", "4", "-concurrency", "4", "-count", "8", "-timeout", "100ms", "-retries", "1")...)
	// The server drops what does not verify: every request times out twice
	// (first send, one retransmission), none is answered.
	if s.Sent != 8 || s.Answered != 0 || s.Timeouts != 16 || s.Retransmits != 8 || s.Lost != 8 {
		t.Errorf("sent %d answered %d timeouts %d retransmits %d lost %d; want 8, 0, 16, 8, 8",
			s.Sent, s.Answered, s.Timeouts, s.Retransmits, s.Lost)
	}
}

// TestBadResponses answers with a responder that signs with the wrong
// secret: every response is discarded as bad, the requests time out.
func TestBadResponses(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		buf := make([]byte, maxPacket)
		for {
			n, src, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			// An Access-Accept whose authenticator uses the wrong secret.
			req := buf[:n]
			resp := append([]byte{codeAccessAccept, req[1], 0, 20}, req[4:20]...)
			sum := packet.Authenticator(resp, [16]byte(req[4:20]), []byte("wrong"))
			copy(resp[4:20], sum[:])
			_, _ = conn.WriteToUDPAddrPort(resp, src)
		}
	}()
	port := strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port)
	s := runJSON(t, nil, "-server", "127.0.0.1", "-auth-port", port, "-mode", "auth",
		"-devices", "2", "-concurrency", "2", "-count", "4", "-timeout", "100ms")
	if s.Answered != 0 || s.Bad != 4 || s.BadReasons[badAuth] != 4 || s.Timeouts != 4 {
		t.Errorf("answered %d bad %d %v timeouts %d; want 0 answered, 4 bad authenticators, 4 timeouts",
			s.Answered, s.Bad, s.BadReasons, s.Timeouts)
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // in the error
	}{
		{"unbounded", []string{"-mode", "auth"}, []string{"-duration or -count"}},
		{"too long", []string{"-duration", "11m"}, []string{"at most 10m"}},
		{"every problem at once", []string{"-mode", "bogus", "-count", "0", "-devices", "0", "-retries", "-1"},
			[]string{`-mode "bogus"`, "-count 0", "-devices 0", "-retries -1"}},
		{"sockets too few", []string{"-count", "1", "-concurrency", "600", "-sockets", "2"}, []string{"at least 3 sockets"}},
		{"remote", []string{"-count", "1", "-server", "192.0.2.1"}, []string{"not a loopback address", "-allow-remote"}},
		{"session type", []string{"-count", "1", "-session-type", "time_or_data"}, []string{"-session-type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, func(string) string { return "" }, &stdout, &stderr)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a usage error", err)
			}
			if exitCode(err) != 2 {
				t.Errorf("exit code %d, want 2", exitCode(err))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		var stdout bytes.Buffer
		if err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &stdout, &stdout); err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"-create-sessions", "HSLOAD_SECRET", "mix"} {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("help does not mention %s", w)
			}
		}
	})
}

func TestConcurrencyCappedAtDevices(t *testing.T) {
	c, err := parseFlags([]string{"-count", "1", "-devices", "10", "-concurrency", "64"}, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.concurrency != 10 || c.sockets != 2 || len(c.notes) != 1 {
		t.Errorf("concurrency %d sockets %d notes %v", c.concurrency, c.sockets, c.notes)
	}
}
