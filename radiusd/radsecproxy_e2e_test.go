package radiusd_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/radiusd/radsec/radsectest"
	"github.com/hotspot-radius/hsradius/session"
)

// radsecproxy (an independent RadSec implementation) as the bridge of a NAS
// that speaks only UDP: radclient → radsecproxy (UDP) → our RadSec
// listener, as README.md ("RadSec") tells an operator to set it up.

func radsecproxyBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("radsecproxy")
	if err != nil {
		// Debian installs it in /usr/sbin, outside a user's PATH.
		p, err = exec.LookPath("/usr/sbin/radsecproxy")
	}
	if err != nil {
		msg := "radsecproxy not found: apt-get install radsecproxy to run the RadSec bridge scenarios"
		if isCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// freeUDPPort returns a UDP port free on 127.0.0.1 a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startRadsecproxy runs radsecproxy in the foreground with the client
// certificate of site-7, forwarding UDP on the returned address to e.
func startRadsecproxy(t *testing.T, e *rsEnv, certFile, keyFile string) (addr string, logs func() string) {
	t.Helper()
	bin := radsecproxyBin(t)
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(e.addr)
	addr = fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	conf := fmt.Sprintf(`ListenUDP %s
LogLevel 4
tls default {
    CACertificateFile %s
    CertificateFile %s
    CertificateKeyFile %s
}
client radclient {
    host 127.0.0.1
    type udp
    secret %s
}
server hsradius {
    host %s
    port %s
    type tls
    secret %s
    CertificateNameCheck on
    StatusServer on
}
realm * {
    server hsradius
    accountingServer hsradius
}
`, addr, e.ca.File, certFile, keyFile, e2eSecret, host, port, rsSecret)
	path := filepath.Join(dir, "radsecproxy.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd := exec.Command(bin, "-f", "-c", path, "-i", filepath.Join(dir, "pid"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by its PID: the one we started
		<-done
		if t.Failed() {
			t.Logf("radsecproxy:\n%s", out.String())
		}
	})
	return addr, out.String
}

// radclientVia runs a scenario through the bridge; -r 5 rides out
// radsecproxy's start (its UDP socket opens after its configuration is read).
func radclientVia(t *testing.T, addr, kind, file string) (string, error) {
	t.Helper()
	return radclient(t, addr, kind, file, e2eSecret, "-r", "5", "-t", "1")
}

func TestRadsecproxyBridge(t *testing.T) {
	radclientBin(t)
	t.Parallel() // it waits for radsecproxy's periodic Status-Server
	statusSeen := make(chan struct{}, 1)
	e := startRadSec(t, rsOptions{log: &logWatch{t: t, match: []string{`"code":"Status-Server"`, `"outcome":"status"`}, seen: statusSeen}})
	ctx := context.Background()
	if _, err := e.mgr.CreateSession(ctx, "aa:bb:cc:dd:ee:01", session.Spec{Type: session.TypeTime, TimeSecs: 3600, DownMbits: 10, UpMbits: 2}); err != nil {
		t.Fatal(err)
	}
	addr, _ := startRadsecproxy(t, e, e.site7.CertFile, e.site7.KeyFile)

	out, err := radclientVia(t, addr, "auth", "auth-accept.txt")
	if err != nil || !strings.Contains(out, "Received Access-Accept") || !strings.Contains(out, "Session-Timeout = 3600") {
		t.Fatalf("auth through radsecproxy: %v\n%s", err, out)
	}
	out, err = radclientVia(t, addr, "acct", "acct-cycle.txt")
	if n := strings.Count(out, "Received Accounting-Response"); err != nil || n != 4 {
		t.Fatalf("acct through radsecproxy: %d Accounting-Responses, want 4 (%v)\n%s", n, err, out)
	}
	// Recorded under the NAS's certificate identity, not an address.
	if got := e.rdb.HGet(ctx, "hs:{aabbccddee01}:acct:site-7:radclient-0001", "state").Val(); got != "stopped" {
		t.Errorf("record site-7/radclient-0001: state %q, want stopped", got)
	}
	if got := e.rdb.HGet(ctx, "hs:{aabbccddee01}:s:1", "time_cons").Val(); got != "150" {
		t.Errorf("time_cons = %q, want 150", got)
	}
	if got := e.count(t, "radiusd_packets_total", "listener", "radsec", "code", "Access-Request", "outcome", "accepted"); got != 1 {
		t.Errorf("radsec Access-Request accepted = %v, want 1", got)
	}
	out, err = radclientVia(t, addr, "status", "status.txt")
	// radsecproxy answers a client's Status-Server itself; its own, sent to
	// us every 25 s or so (StatusServer on), are ours to answer.
	if err != nil || !strings.Contains(out, "Received Access-Accept") {
		t.Errorf("Status-Server to radsecproxy: %v\n%s", err, out)
	}
	select {
	case <-statusSeen:
	case <-time.After(time.Minute):
		t.Fatal("no Status-Server from radsecproxy answered within a minute")
	}
	if got := e.count(t, "radiusd_radsec_connections", "nas", "site-7"); got != 1 {
		t.Errorf("radiusd_radsec_connections{nas=site-7} = %v, want 1", got)
	}
}

// logWatch passes the server's log to the test's and signals seen when a
// line has every string of match.
type logWatch struct {
	t     *testing.T
	mu    sync.Mutex
	done  bool
	match []string
	seen  chan struct{}
}

func (w *logWatch) Write(p []byte) (int, error) {
	line := string(p)
	for _, m := range w.match {
		if !strings.Contains(line, m) {
			return len(p), nil
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.done = true
		close(w.seen)
	}
	return len(p), nil
}

// TestRadsecproxyOtherCA: radsecproxy with a client certificate of another
// CA is refused at the handshake; the NAS behind it gets no answer.
func TestRadsecproxyOtherCA(t *testing.T) {
	radclientBin(t)
	closed := newCloses()
	e := startRadSec(t, rsOptions{wrap: closed.wrap})
	other := radsectest.NewCA(t, "other-ca").Client(t, "site-7")
	addr, _ := startRadsecproxy(t, e, other.CertFile, other.KeyFile)
	out, err := radclient(t, addr, "auth", "auth-accept.txt", e2eSecret, "-r", "2", "-t", "1")
	if err == nil || strings.Contains(out, "Received Access-") {
		t.Fatalf("served through radsecproxy with a certificate of another CA:\n%s", out)
	}
	if got := e.count(t, "radiusd_radsec_handshake_failures_total", "reason", "bad_certificate"); got < 1 {
		t.Errorf("handshake failures {bad_certificate} = %v, want at least 1", got)
	}
	if n := e.srv.RadSecConnected(); len(n) != 0 {
		t.Errorf("connected: %v, want none", n)
	}
}
