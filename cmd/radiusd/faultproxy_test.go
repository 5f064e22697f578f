package main

// The fault suite's harness, part 2: a lossy UDP proxy between the
// simulated NAS and a radiusd, the network a NAS really has: it duplicates,
// delays (reorders), drops and replays datagrams in both directions.

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault kinds the proxy injects.
const (
	faultDrop   = "drop"   // not forwarded: the NAS retransmits
	faultDup    = "dup"    // forwarded twice at once
	faultDelay  = "delay"  // forwarded 20–400 ms later: overtaken by later datagrams
	faultLate   = "late"   // forwarded, and again 0.5–2.5 s later (a copy stuck in the network)
	faultReplay = "replay" // forwarded, plus an earlier datagram of any session replayed now
)

// faultProxy forwards datagrams from NAS sockets to one server address and
// the replies back, injecting faults in a fraction pct of the datagrams of
// each direction (the kinds listed in reqKinds and respKinds).
type faultProxy struct {
	t         *testing.T
	name      string
	front     *net.UDPConn // the NAS sends here
	target    *net.UDPAddr // the server
	pct       float64
	reqKinds  []string
	respKinds []string

	mu       sync.Mutex
	rng      *rand.Rand
	backs    map[netip.AddrPort]*net.UDPConn // one upstream socket per NAS socket
	reqs     []faultDatagram                 // every request seen, for replays
	resps    []faultDatagram                 // every response seen, for replays
	injected map[string]int                  // "request dup" -> count
	nReq     int                             // requests received from the NAS
	nResp    int                             // responses received from the server
	toClient int                             // responses forwarded to the NAS
	upstream atomic.Int64                    // datagrams sent to the server

	pending int            // delayed sends not yet done, under mu
	settled *sync.Cond     // signalled when pending drops to 0
	wg      sync.WaitGroup // read loops
	closed  atomic.Bool
}

type faultDatagram struct {
	client netip.AddrPort
	b      []byte
}

// startFaultProxy listens on a free loopback port and forwards to target.
func startFaultProxy(t *testing.T, name, target string, pct float64, seed uint64, reqKinds, respKinds []string) *faultProxy {
	t.Helper()
	ta, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{
		t: t, name: name, front: front, target: ta, pct: pct, reqKinds: reqKinds, respKinds: respKinds,
		rng:      rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		backs:    map[netip.AddrPort]*net.UDPConn{},
		injected: map[string]int{},
	}
	p.settled = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.requests()
	t.Cleanup(p.close)
	return p
}

// addr is where the NAS sends.
func (p *faultProxy) addr() string { return p.front.LocalAddr().String() }

func (p *faultProxy) close() {
	p.closed.Store(true)
	_ = p.front.Close()
	p.mu.Lock()
	for _, b := range p.backs {
		_ = b.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.drain()
}

// requests is the read loop of the NAS side.
func (p *faultProxy) requests() {
	defer p.wg.Done()
	buf := make([]byte, 4097)
	for {
		n, client, err := p.front.ReadFromUDPAddrPort(buf)
		if err != nil {
			if p.closed.Load() {
				return
			}
			continue
		}
		b := append([]byte(nil), buf[:n]...)
		back := p.backFor(client)
		if back == nil {
			return
		}
		p.mu.Lock()
		p.nReq++
		kind := p.pick(p.reqKinds, len(p.reqs) > 0)
		var old faultDatagram
		var d time.Duration
		switch kind {
		case faultReplay:
			old = p.reqs[p.rng.IntN(len(p.reqs))]
		case faultDelay:
			d = 20*time.Millisecond + time.Duration(p.rng.Int64N(int64(380*time.Millisecond)))
		case faultLate:
			d = 500*time.Millisecond + time.Duration(p.rng.Int64N(int64(2*time.Second)))
		}
		if kind != "" {
			p.injected["request "+kind]++
		}
		p.reqs = append(p.reqs, faultDatagram{client, b})
		p.mu.Unlock()
		switch kind {
		case faultDrop:
		case faultDup:
			p.toServer(back, b)
			p.toServer(back, b)
		case faultDelay:
			p.after(d, func() { p.toServer(back, b) })
		case faultLate:
			p.toServer(back, b)
			p.after(d, func() { p.toServer(back, b) })
		case faultReplay:
			p.toServer(back, b)
			if ob := p.backFor(old.client); ob != nil {
				p.toServer(ob, old.b)
			}
		default:
			p.toServer(back, b)
		}
	}
}

// pick returns the fault for one datagram ("" for none).
func (p *faultProxy) pick(kinds []string, canReplay bool) string {
	if len(kinds) == 0 || p.rng.Float64() >= p.pct {
		return ""
	}
	k := kinds[p.rng.IntN(len(kinds))]
	if k == faultReplay && !canReplay {
		return faultDup
	}
	return k
}

// backFor returns the upstream socket of a NAS socket, starting its read
// loop on first use (nil once closed).
func (p *faultProxy) backFor(client netip.AddrPort) *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.backs[client]; ok {
		return b
	}
	if p.closed.Load() {
		return nil
	}
	b, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		p.t.Errorf("proxy %s: %v", p.name, err)
		return nil
	}
	p.backs[client] = b
	p.wg.Add(1)
	go p.responses(b, client)
	return b
}

// responses is the read loop of one upstream socket.
func (p *faultProxy) responses(back *net.UDPConn, client netip.AddrPort) {
	defer p.wg.Done()
	buf := make([]byte, 4097)
	for {
		n, _, err := back.ReadFromUDPAddrPort(buf)
		if err != nil {
			if p.closed.Load() {
				return
			}
			continue
		}
		b := append([]byte(nil), buf[:n]...)
		p.mu.Lock()
		p.nResp++
		kind := p.pick(p.respKinds, len(p.resps) > 0)
		var old faultDatagram
		var d time.Duration
		switch kind {
		case faultReplay:
			old = p.resps[p.rng.IntN(len(p.resps))]
		case faultDelay:
			d = 20*time.Millisecond + time.Duration(p.rng.Int64N(int64(380*time.Millisecond)))
		case faultLate:
			d = 500*time.Millisecond + time.Duration(p.rng.Int64N(int64(2*time.Second)))
		}
		if kind != "" {
			p.injected["response "+kind]++
		}
		p.resps = append(p.resps, faultDatagram{client, b})
		p.mu.Unlock()
		switch kind {
		case faultDrop:
		case faultDup:
			p.toNAS(client, b)
			p.toNAS(client, b)
		case faultDelay:
			p.after(d, func() { p.toNAS(client, b) })
		case faultLate:
			p.toNAS(client, b)
			p.after(d, func() { p.toNAS(client, b) })
		case faultReplay:
			p.toNAS(client, b)
			p.toNAS(old.client, old.b)
		default:
			p.toNAS(client, b)
		}
	}
}

func (p *faultProxy) toServer(back *net.UDPConn, b []byte) {
	if p.closed.Load() {
		return
	}
	p.upstream.Add(1)
	if _, err := back.WriteToUDP(b, p.target); err != nil && !p.closed.Load() {
		p.t.Errorf("proxy %s: to server: %v", p.name, err)
	}
}

func (p *faultProxy) toNAS(client netip.AddrPort, b []byte) {
	if p.closed.Load() {
		return
	}
	p.mu.Lock()
	p.toClient++
	p.mu.Unlock()
	_, _ = p.front.WriteToUDPAddrPort(b, client)
}

func (p *faultProxy) after(d time.Duration, f func()) {
	p.mu.Lock()
	p.pending++
	p.mu.Unlock()
	time.AfterFunc(d, func() {
		f()
		p.mu.Lock()
		if p.pending--; p.pending == 0 {
			p.settled.Broadcast()
		}
		p.mu.Unlock()
	})
}

// replayHistory replays a fraction of every request seen so far, in random
// order: old Starts, Interims and Stops long after their Stop, some past
// the server's response cache. It returns how many it sent.
func (p *faultProxy) replayHistory(frac float64) int {
	p.mu.Lock()
	var pick []faultDatagram
	for _, d := range p.reqs {
		if p.rng.Float64() < frac {
			pick = append(pick, d)
		}
	}
	p.rng.Shuffle(len(pick), func(i, j int) { pick[i], pick[j] = pick[j], pick[i] })
	p.injected["request final-replay"] += len(pick)
	p.mu.Unlock()
	for i, d := range pick {
		if b := p.backFor(d.client); b != nil {
			p.toServer(b, d.b)
		}
		if i%20 == 19 {
			time.Sleep(5 * time.Millisecond) // a storm, not a flood that overflows the server's socket buffer
		}
	}
	return len(pick)
}

// drain waits for the delayed sends.
func (p *faultProxy) drain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.pending > 0 {
		p.settled.Wait()
	}
}

// faultProxyStats is a proxy's figures.
type faultProxyStats struct {
	requests, responses, toNAS int
	upstream                   int64
	injected                   map[string]int
	reqFaults, respFaults      int // datagrams with a fault (final replays excluded)
}

func (p *faultProxy) stats() faultProxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := faultProxyStats{requests: p.nReq, responses: p.nResp, toNAS: p.toClient, upstream: p.upstream.Load(), injected: map[string]int{}}
	for k, v := range p.injected {
		s.injected[k] = v
		switch {
		case k == "request final-replay":
		case strings.HasPrefix(k, "request "):
			s.reqFaults += v
		default:
			s.respFaults += v
		}
	}
	return s
}

func (s faultProxyStats) String() string {
	keys := make([]string, 0, len(s.injected))
	for k := range s.injected {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var inj []string
	for _, k := range keys {
		inj = append(inj, fmt.Sprintf("%s=%d", k, s.injected[k]))
	}
	return fmt.Sprintf("requests in %d (faulted %d = %.1f%%), sent to server %d; responses in %d (faulted %d = %.1f%%), sent to NAS %d; injected: %s",
		s.requests, s.reqFaults, pctOf(s.reqFaults, s.requests), s.upstream,
		s.responses, s.respFaults, pctOf(s.respFaults, s.responses), s.toNAS, strings.Join(inj, " "))
}

func pctOf(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
