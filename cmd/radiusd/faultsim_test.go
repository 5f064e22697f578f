package main

// The fault suite's harness, part 1: the real radiusd binary as a child
// process, its /metrics, and the quiescence barrier. The simulated NAS is in
// faultnas_test.go, the lossy UDP proxy in faultproxy_test.go, the tests in
// fault_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var faultSeed = flag.Uint64("fault.seed", 0, "seed of the fault tests' randomness (0: from the clock; each test logs the seed it used)")

const (
	// faultSecret is the simulated NAS's shared secret: 32 characters, so
	// radiusd logs no short-secret warning.
	faultSecret  = "fault-sim-0123456789abcdef012345"
	faultNASName = "sim-nas"
	// faultStartTimeout bounds a radiusd start (a safety net: the start line
	// is the signal).
	faultStartTimeout = 30 * time.Second
)

// faultTmp holds the radiusd binary the fault tests build once per test
// binary. This is the package's TestMain: merge into it rather than adding
// another.
var faultTmp string

var faultBuild struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "hsradius-fault-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault tests:", err)
		os.Exit(1)
	}
	faultTmp = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// faultBinary builds ./cmd/radiusd once (with -race when the tests run
// with it) and returns its path.
func faultBinary(t *testing.T) string {
	t.Helper()
	faultBuild.once.Do(func() {
		gobin, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
		if err != nil {
			faultBuild.err = fmt.Errorf("fault tests: the go command is needed to build radiusd: %w", err)
			return
		}
		out := filepath.Join(faultTmp, "radiusd")
		args := []string{"build", "-o", out}
		if faultRace {
			args = append(args, "-race")
		}
		cmd := exec.Command(gobin, append(args, ".")...)
		if b, err := cmd.CombinedOutput(); err != nil {
			faultBuild.err = fmt.Errorf("fault tests: go build: %v\n%s", err, b)
			return
		}
		faultBuild.path = out
	})
	if faultBuild.err != nil {
		t.Fatal(faultBuild.err)
	}
	return faultBuild.path
}

// faultRNGSeed returns the seed of one test's randomness and logs it.
func faultRNGSeed(t *testing.T) uint64 {
	t.Helper()
	seed := *faultSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -fault.seed=%d)", seed, seed)
	return seed
}

// faultServer is one radiusd process, restartable on the same ports.
type faultServer struct {
	t     *testing.T
	name  string
	redis string
	dir   string
	log   *faultLog
	// nasYAML is added to the NAS entry of the configuration; env to the
	// environment of the next launch (then cleared).
	nasYAML string
	env     []string

	// The bound addresses of the current (or last) instance, from its
	// start line.
	auth, acct, admin string
	starts            int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// startFaultServer starts radiusd on free loopback ports against the Redis
// at redisAddr and stops it (SIGTERM, exit status checked) when the test
// ends.
func startFaultServer(t *testing.T, name, redisAddr string) *faultServer {
	t.Helper()
	return startFaultServerWith(t, name, redisAddr, "", nil)
}

// startFaultServerWith is startFaultServer with nasYAML added to the NAS
// entry and env to the first instance's environment.
func startFaultServerWith(t *testing.T, name, redisAddr, nasYAML string, env []string) *faultServer {
	t.Helper()
	s := &faultServer{t: t, name: name, redis: redisAddr, dir: t.TempDir(), log: &faultLog{name: name}, nasYAML: nasYAML, env: env}
	t.Cleanup(s.shutdown)
	for attempt := 1; ; attempt++ {
		// The configuration wants real ports: take free ones (another
		// process may grab one before radiusd binds it: then try again).
		err := s.launch(faultFreePort(t, "udp"), faultFreePort(t, "udp"))
		if err == nil {
			return s
		}
		if attempt == 5 {
			t.Fatal(err)
		}
	}
}

// faultFreePort returns a loopback address with a port that was free a
// moment ago.
func faultFreePort(t *testing.T, network string) string {
	t.Helper()
	var addr string
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = c.LocalAddr().String()
		_ = c.Close()
	} else {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		_ = l.Close()
	}
	return addr
}

// config is the file of one instance: the simulated NAS with
// Message-Authenticator required, no Disconnect/CoA (it has no CoA
// server), the admin listener for /metrics, log level info (the start
// line, the readiness signal, is an info line; no info line is logged per
// packet), the shortest response cache so that replays get past it.
func (s *faultServer) config(auth, acct, admin string) string {
	return fmt.Sprintf(`# radiusd for the fault tests (%s)
listen:
  auth: [%q]
  acct: [%q]
redis:
  addrs: [%q]
radius:
  response_cache_ttl: 5s
log:
  level: info
  format: json
admin:
  listen: %q
nas:
  - name: %s
    address: 127.0.0.1
    secret: %q
    profiles: [mikrotik]
    coa_port: 0
    require_message_authenticator: "yes"
    # The simulated NAS runs minutes of session time in milliseconds, so its
    # sessions' starts as the server's clock estimates them (arrival −
    # Acct-Session-Time) are far apart: the window that tells a reused
    # Acct-Session-Id from a copy must span a whole simulated session.
    retransmit_window: 1h
%s`, s.name, auth, acct, s.redis, admin, faultNASName, faultSecret, s.nasYAML)
}

// launch starts an instance and waits for its "radiusd started" line. An
// instance that exits first (a port taken) is an error; anything else
// fails the test.
func (s *faultServer) launch(auth, acct string) error {
	s.t.Helper()
	bin := faultBinary(s.t)
	s.starts++
	cfg := filepath.Join(s.dir, fmt.Sprintf("radiusd-%d.yaml", s.starts))
	if err := os.WriteFile(cfg, []byte(s.config(auth, acct, faultFreePort(s.t, "tcp"))), 0o600); err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfg)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HSRADIUS_") { // the file alone configures it
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, s.env...)
	started := s.log.expectStart()
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("%s: start: %v", s.name, err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited, s.waitErr = cmd, exited, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(exited)
	}()
	select {
	case ln := <-started:
		if len(ln.Auth) != 1 || len(ln.Acct) != 1 || ln.Admin == "" {
			s.t.Fatalf("%s: start line lacks addresses: %+v", s.name, ln)
		}
		s.auth, s.acct, s.admin = ln.Auth[0], ln.Acct[0], ln.Admin
		return nil
	case <-exited:
		s.mu.Lock()
		s.cmd = nil
		s.mu.Unlock()
		return fmt.Errorf("%s (start %d) exited before it started: %v\n%s", s.name, s.starts, s.exitErr(), s.log.tail(20))
	case <-time.After(faultStartTimeout):
		s.kill()
		s.t.Fatalf("%s (start %d): no start line within %v\n%s", s.name, s.starts, faultStartTimeout, s.log.tail(40))
		return nil
	}
}

func (s *faultServer) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitErr
}

// kill sends SIGKILL to the running instance and waits for it to die.
func (s *faultServer) kill() {
	s.t.Helper()
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		s.t.Fatalf("%s: kill: not running", s.name)
	}
	if err := cmd.Process.Kill(); err != nil {
		s.t.Fatalf("%s: kill pid %d: %v", s.name, cmd.Process.Pid, err)
	}
	<-exited
	var ee *exec.ExitError
	if err := s.exitErr(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		s.t.Fatalf("%s: pid %d did not die of SIGKILL: %v", s.name, cmd.Process.Pid, err)
	}
}

// restart starts a new instance on the ports of the last one.
func (s *faultServer) restart() {
	s.t.Helper()
	auth, acct := s.auth, s.acct
	var err error
	for range 5 { // only the admin port is new: it may be taken
		if err = s.launch(auth, acct); err == nil {
			break
		}
	}
	if err != nil {
		s.t.Fatal(err)
	}
	if s.auth != auth || s.acct != acct {
		s.t.Fatalf("%s: restarted on %s/%s, want %s/%s", s.name, s.auth, s.acct, auth, acct)
	}
}

// shutdown stops the running instance gracefully (SIGTERM, as systemd
// does) and checks that it exited 0 and that no instance logged a data race
// or a panic.
func (s *faultServer) shutdown() {
	s.t.Helper()
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			if err := s.exitErr(); err != nil {
				s.t.Errorf("%s: exit after SIGTERM: %v\n%s", s.name, err, s.log.tail(40))
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			s.t.Errorf("%s: did not stop within 20s of SIGTERM\n%s", s.name, s.log.tail(40))
		}
	}
	if bad := s.log.alarms(); bad != "" {
		s.t.Errorf("%s logged a data race or a panic:\n%s", s.name, bad)
	}
}

// faultLog is a radiusd's stdout and stderr: JSON lines, kept for failure
// messages, with the start line signalled.
type faultLog struct {
	name string

	mu      sync.Mutex
	partial []byte
	lines   []string
	dropped int
	alarm   []string // data race reports, panics
	started chan faultStartLine
}

// faultStartLine is the part of the "radiusd started" line the tests read.
type faultStartLine struct {
	Auth  []string `json:"auth"`
	Acct  []string `json:"acct"`
	Admin string   `json:"admin"`
}

const faultLogMax = 20000

func (l *faultLog) expectStart() <-chan faultStartLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.started = make(chan faultStartLine, 1)
	return l.started
}

func (l *faultLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if len(l.lines) < faultLogMax {
			l.lines = append(l.lines, line)
		} else {
			l.dropped++
		}
		if strings.Contains(line, "DATA RACE") || strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:") {
			l.alarm = append(l.alarm, line)
		}
		var m struct {
			Message string `json:"message"`
			faultStartLine
		}
		if l.started != nil && json.Unmarshal([]byte(line), &m) == nil && m.Message == "radiusd started" {
			l.started <- m.faultStartLine
			l.started = nil
		}
	}
	return len(p), nil
}

// tail returns the last n lines.
func (l *faultLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	from := max(0, len(l.lines)-n)
	return fmt.Sprintf("--- last %d lines of %s's log ---\n%s", len(l.lines)-from, l.name, strings.Join(l.lines[from:], "\n"))
}

func (l *faultLog) alarms() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.alarm) == 0 {
		return ""
	}
	return strings.Join(l.alarm, "\n") + "\n" + strings.Join(l.lines[max(0, len(l.lines)-60):], "\n")
}

// messages returns the decoded log lines whose message is msg.
func (l *faultLog) messages(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range l.lines {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// faultMetrics is what the tests read from a radiusd's /metrics.
type faultMetrics struct {
	packets  map[string]float64 // "listener code outcome" -> count
	inFlight float64
}

func (m faultMetrics) total() int64 {
	var n float64
	for _, v := range m.packets {
		n += v
	}
	return int64(n)
}

// outcome sums the packets of one listener and outcome.
func (m faultMetrics) outcome(listener, outcome string) int64 {
	var n float64
	for k, v := range m.packets {
		f := strings.Fields(k)
		if f[0] == listener && f[2] == outcome {
			n += v
		}
	}
	return int64(n)
}

// String lists the outcomes, e.g. "acct/Accounting-Request/accounted=812".
func (m faultMetrics) String() string {
	keys := make([]string, 0, len(m.packets))
	for k := range m.packets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%d", strings.ReplaceAll(k, " ", "/"), int64(m.packets[k]))
	}
	return b.String()
}

// metrics scrapes the running instance's /metrics.
func (s *faultServer) metrics() (faultMetrics, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.admin+"/metrics", nil)
	if err != nil {
		return faultMetrics{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return faultMetrics{}, fmt.Errorf("%s: /metrics: %w", s.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return faultMetrics{}, fmt.Errorf("%s: /metrics: %s", s.name, resp.Status)
	}
	return parseFaultMetrics(resp.Body)
}

// parseFaultMetrics reads the two series the tests need from the
// Prometheus text format.
func parseFaultMetrics(r io.Reader) (faultMetrics, error) {
	m := faultMetrics{packets: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "radiusd_in_flight_requests "):
			v, err := strconv.ParseFloat(strings.TrimPrefix(line, "radiusd_in_flight_requests "), 64)
			if err != nil {
				return m, fmt.Errorf("metrics: %q: %w", line, err)
			}
			m.inFlight = v
		case strings.HasPrefix(line, "radiusd_packets_total{"):
			end := strings.LastIndexByte(line, '}')
			if end < 0 {
				return m, fmt.Errorf("metrics: %q", line)
			}
			labels := map[string]string{}
			for _, kv := range strings.Split(line[len("radiusd_packets_total{"):end], ",") {
				k, v, _ := strings.Cut(kv, "=")
				labels[k] = strings.Trim(v, `"`)
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
			if err != nil {
				return m, fmt.Errorf("metrics: %q: %w", line, err)
			}
			m.packets[labels["listener"]+" "+labels["code"]+" "+labels["outcome"]] += v
		}
	}
	return m, sc.Err()
}

// faultQuiesce waits until the servers have settled: nothing in flight,
// and either their packet counts add up to want (the datagrams the proxies
// sent them: every datagram ends in exactly one counted outcome, see
// docs/ARCHITECTURE.md) or, with want < 0, the counts stopped moving. It returns the last
// scrape of each server.
func faultQuiesce(t *testing.T, servers []*faultServer, want int64) []faultMetrics {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var prev int64 = -1
	stable := 0
	for {
		ms := make([]faultMetrics, len(servers))
		var total int64
		var inFlight float64
		for i, s := range servers {
			m, err := s.metrics()
			if err != nil {
				t.Fatal(err)
			}
			ms[i] = m
			total += m.total()
			inFlight += m.inFlight
		}
		if inFlight == 0 {
			if want >= 0 && total == want {
				return ms
			}
			if want < 0 && total == prev {
				if stable++; stable >= 2 {
					return ms
				}
			} else {
				stable = 0
			}
		}
		if want >= 0 && total > want {
			t.Fatalf("the servers counted %d packets, more than the %d sent to them", total, want)
		}
		prev = total
		if time.Now().After(deadline) {
			t.Fatalf("servers did not settle in 30s: %d packets counted (want %d), %v in flight%s", total, want, inFlight, faultUDPDrops())
		}
		time.Sleep(50 * time.Millisecond) // polling /metrics, not waiting for readiness
	}
}

// faultUDPDrops reports the kernel's count of datagrams dropped for a full
// socket buffer (Linux), which would explain packets the servers never
// counted.
func faultUDPDrops() string {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return ""
	}
	var head []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, k := range head {
			if k == "RcvbufErrors" && i < len(f) {
				return fmt.Sprintf("; the kernel has dropped %s UDP datagrams for full receive buffers since boot", f[i])
			}
		}
	}
	return ""
}
