package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The engine is closed-loop: each slot is one simulated client with one
// request outstanding, so there are always -concurrency requests in
// flight. Slots are spread over the sockets; a socket's reader goroutine
// matches a response to its slot by Identifier, verifies it and sends the
// slot's next request itself, so that a request costs one read, one write
// and no goroutine hand-off. One ticker expires, retransmits and ends the
// run.

// engine runs one load test.
type engine struct {
	w                  *workload
	authAddr, acctAddr netip.AddrPort
	timeout            time.Duration
	retries            int
	withMA             bool
	limit              int64 // requests to send; 0: until end
	end                time.Time
	socks              []*sock

	start    time.Time
	issued   atomic.Int64
	stopping atomic.Bool
	active   atomic.Int64 // slots not yet idle
	done     chan struct{}
}

// sock is one UDP socket and the up to 256 requests in flight on it. mu
// guards everything but conn, which is safe for concurrent use.
type sock struct {
	e     *engine
	conn  *net.UDPConn
	slots []*slot

	mu      sync.Mutex
	codec   *codec
	rng     *rand.ChaCha8
	pending [256]*slot
	// stale keeps, per Identifier, the last request that was retransmitted
	// or abandoned: a late answer to it is "late", not a bad response.
	stale    [256]staleRequest
	free     [256]byte // FIFO of free Identifiers: the least recently used first
	freeHead int
	freeLen  int
	st       stats
}

type staleRequest struct {
	req request
	ok  bool
}

// slot is one simulated client: it owns devices first, first+stride, …
// and sends for them in turn, one request at a time.
type slot struct {
	first, stride, ndev, cursor uint32

	buf      [maxRequest]byte
	sid      [24]byte
	pkt      []byte
	id       byte
	req      request
	dst      netip.AddrPort
	dev      *device
	kind     kind
	counters counters
	sentAt   time.Time
	deadline time.Time
	tries    int
}

// stats are one socket's counts; merged at the end.
type stats struct {
	sent, answered, timeouts, retransmits, lost uint64
	late, unmatched, sendErrors, readErrors     uint64
	noMA                                        uint64 // Access-*/Status replies without Message-Authenticator
	bad                                         map[string]uint64
	codes                                       [256]uint64
	hist                                        histogram
	lastDone                                    time.Time
}

func (s *stats) merge(o *stats) {
	s.sent += o.sent
	s.answered += o.answered
	s.timeouts += o.timeouts
	s.retransmits += o.retransmits
	s.lost += o.lost
	s.late += o.late
	s.unmatched += o.unmatched
	s.sendErrors += o.sendErrors
	s.readErrors += o.readErrors
	s.noMA += o.noMA
	for k, v := range o.bad {
		s.bad[k] += v
	}
	for i, v := range o.codes {
		s.codes[i] += v
	}
	s.hist.merge(&o.hist)
	if o.lastDone.After(s.lastDone) {
		s.lastDone = o.lastDone
	}
}

// engineConfig is what newEngine needs besides the workload.
type engineConfig struct {
	authAddr, acctAddr netip.AddrPort
	secret             []byte
	concurrency        int
	sockets            int
	timeout            time.Duration
	retries            int
	withMA             bool
	count              int64
	duration           time.Duration
	seed               uint64
}

// newEngine opens the sockets. Concurrency must not exceed the devices
// (a device is never in flight twice) nor 256 per socket.
func newEngine(cfg engineConfig, w *workload) (*engine, error) {
	e := &engine{
		w: w, authAddr: cfg.authAddr, acctAddr: cfg.acctAddr,
		timeout: cfg.timeout, retries: cfg.retries, withMA: cfg.withMA,
		limit: cfg.count, done: make(chan struct{}),
	}
	network := "udp4"
	if cfg.authAddr.Addr().Is6() && !cfg.authAddr.Addr().Is4In6() {
		network = "udp6"
	}
	for i := range cfg.sockets {
		conn, err := net.ListenUDP(network, nil)
		if err != nil {
			e.close()
			return nil, fmt.Errorf("open UDP socket: %w", err)
		}
		// Bursts of replies must not overflow the default buffers.
		_ = conn.SetReadBuffer(4 << 20)
		_ = conn.SetWriteBuffer(4 << 20)
		s := &sock{
			e: e, conn: conn, codec: newCodec(cfg.secret),
			rng: rand.NewChaCha8(seedBytes(cfg.seed, uint64(i))),
			st:  stats{bad: map[string]uint64{}},
		}
		for id := range 256 {
			s.free[id] = byte(id)
		}
		s.freeLen = 256
		e.socks = append(e.socks, s)
	}
	stride := uint32(cfg.concurrency)
	for j := range cfg.concurrency {
		s := e.socks[j%len(e.socks)]
		sl := &slot{first: uint32(j), stride: stride}
		sl.ndev = (uint32(len(w.devices)) - sl.first + stride - 1) / stride
		s.slots = append(s.slots, sl)
	}
	return e, nil
}

func seedBytes(seed, i uint64) [32]byte {
	var b [32]byte
	for j := range 4 {
		binary.LittleEndian.PutUint64(b[8*j:], mix64(seed+uint64(j)<<32+i))
	}
	return b
}

func (e *engine) close() {
	for _, s := range e.socks {
		_ = s.conn.Close()
	}
}

// progressFunc is called every second with the run's counts so far.
type progressFunc func(elapsed time.Duration, sent, answered, timeouts uint64)

// run sends until the count or the end time is reached, or ctx is done,
// then waits for the requests in flight (answered or timed out) and
// returns the merged counts and the time from the first send to the last
// request's end.
func (e *engine) run(ctx context.Context, duration time.Duration, progress progressFunc) (stats, time.Duration) {
	var readers sync.WaitGroup
	for _, s := range e.socks {
		readers.Go(s.read)
	}
	e.start = time.Now()
	e.end = e.start.Add(duration)
	for _, s := range e.socks {
		e.active.Add(int64(len(s.slots)))
	}
	for _, s := range e.socks {
		s.mu.Lock()
		now := time.Now()
		for _, sl := range s.slots {
			s.issue(sl, now)
		}
		s.mu.Unlock()
	}

	tick := time.NewTicker(min(max(e.timeout/20, time.Millisecond), 10*time.Millisecond))
	defer tick.Stop()
	var every <-chan time.Time
	if progress != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		every = t.C
	}
	cancelled := ctx.Done()
loop:
	for {
		select {
		case <-e.done:
			break loop
		case <-cancelled:
			e.stopping.Store(true) // no new requests; those in flight end
			cancelled = nil
		case now := <-tick.C:
			for _, s := range e.socks {
				s.mu.Lock()
				s.expire(now)
				s.mu.Unlock()
			}
		case now := <-every:
			var sent, answered, timeouts uint64
			for _, s := range e.socks {
				s.mu.Lock()
				sent, answered, timeouts = sent+s.st.sent, answered+s.st.answered, timeouts+s.st.timeouts
				s.mu.Unlock()
			}
			progress(now.Sub(e.start), sent, answered, timeouts)
		}
	}
	e.close()
	readers.Wait()
	total := stats{bad: map[string]uint64{}}
	for _, s := range e.socks {
		total.merge(&s.st)
	}
	elapsed := time.Since(e.start)
	if !total.lastDone.IsZero() {
		elapsed = total.lastDone.Sub(e.start)
	}
	return total, elapsed
}

// idle retires a slot; the run is over when every slot is idle.
func (e *engine) idle() {
	if e.active.Add(-1) == 0 {
		close(e.done)
	}
}

// issue sends the slot's next request, or retires the slot when the run is
// over. Called with s.mu held.
func (s *sock) issue(sl *slot, now time.Time) {
	e := s.e
	if sl.ndev == 0 || e.stopping.Load() || !now.Before(e.end) || (e.limit > 0 && e.issued.Add(1) > e.limit) {
		e.idle()
		return
	}
	d := &e.w.devices[sl.first+sl.cursor*sl.stride]
	sl.cursor = (sl.cursor + 1) % sl.ndev
	id := s.free[s.freeHead]
	s.freeHead = (s.freeHead + 1) % len(s.free)
	s.freeLen--

	sl.dev, sl.id, sl.kind = d, id, e.w.kind(d)
	sl.counters = counters{}
	sl.req = request{ma: e.withMA}
	switch sl.kind {
	case kindAuth, kindStatus:
		binary.LittleEndian.PutUint64(sl.req.auth[:8], s.rng.Uint64())
		binary.LittleEndian.PutUint64(sl.req.auth[8:], s.rng.Uint64())
		sl.dst = e.authAddr
		if sl.kind == kindAuth {
			sl.req.code = codeAccessRequest
			sl.pkt = s.codec.accessRequest(sl.buf[:0], id, &sl.req.auth, d, e.withMA)
		} else {
			sl.req.code = codeStatusServer
			sl.pkt = s.codec.statusServer(sl.buf[:0], id, &sl.req.auth, e.withMA)
		}
	default:
		status := statusInterim
		switch sl.kind {
		case kindStart:
			status = statusStart
		case kindStop:
			status = statusStop
		}
		sl.counters = e.w.counters(d, sl.kind)
		sl.dst = e.acctAddr
		sl.req.code, sl.req.ma = codeAcctRequest, false
		sl.pkt, sl.req.auth = s.codec.accountingRequest(sl.buf[:0], id, d, acct{
			status:    status,
			sessionID: e.w.sessionID(&sl.sid, d),
			counters:  sl.counters,
			eventTime: uint32(now.Unix()),
		})
	}
	s.pending[id] = sl
	sl.sentAt, sl.deadline, sl.tries = now, now.Add(e.timeout), 1
	s.st.sent++
	s.send(sl)
}

func (s *sock) send(sl *slot) {
	if _, err := s.conn.WriteToUDPAddrPort(sl.pkt, sl.dst); err != nil {
		s.st.sendErrors++ // it will time out like a lost datagram
	}
}

// complete ends the slot's request (code 0: unanswered), moves its device
// on and sends the slot's next request. Called with s.mu held.
func (s *sock) complete(sl *slot, code byte, now time.Time) {
	s.pending[sl.id] = nil
	s.stale[sl.id] = staleRequest{req: sl.req, ok: sl.tries > 1 || code == 0}
	s.free[(s.freeHead+s.freeLen)%len(s.free)] = sl.id
	s.freeLen++
	s.st.lastDone = now
	s.e.w.settle(sl.dev, sl.kind, sl.counters, code)
	s.issue(sl, now)
}

// read receives responses until the socket is closed.
func (s *sock) read() {
	buf := make([]byte, maxPacket+1)
	for {
		n, src, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.mu.Lock()
			s.st.readErrors++
			s.mu.Unlock()
			continue
		}
		now := time.Now()
		s.mu.Lock()
		s.receive(buf[:n], src, now)
		s.mu.Unlock()
	}
}

// receive handles one datagram. Called with s.mu held.
func (s *sock) receive(b []byte, src netip.AddrPort, now time.Time) {
	if len(b) < headerLen {
		s.st.bad[badMalformed]++
		return
	}
	id := b[1]
	sl := s.pending[id]
	if sl == nil {
		if s.isStale(b) {
			s.st.late++
		} else {
			s.st.unmatched++
		}
		return
	}
	if src.Addr().Unmap() != sl.dst.Addr().Unmap() || src.Port() != sl.dst.Port() {
		s.st.bad[badSource]++
		return
	}
	reason, hasMA := s.codec.verify(b, &sl.req)
	if reason != "" {
		if s.isStale(b) {
			s.st.late++ // an answer to the Identifier's previous request
		} else {
			s.st.bad[reason]++
		}
		return // discarded: the request still waits for a valid answer
	}
	s.st.answered++
	s.st.codes[b[0]]++
	s.st.hist.record(now.Sub(sl.sentAt))
	if !hasMA && sl.req.code != codeAcctRequest {
		s.st.noMA++
	}
	s.complete(sl, b[0], now)
}

func (s *sock) isStale(b []byte) bool {
	st := &s.stale[b[1]]
	if !st.ok {
		return false
	}
	reason, _ := s.codec.verify(b, &st.req)
	return reason == ""
}

// expire times out requests past their deadline: each timeout is counted,
// then the same bytes are retransmitted while retries remain, else the
// request is abandoned. Called with s.mu held.
func (s *sock) expire(now time.Time) {
	for i := range s.pending {
		sl := s.pending[i]
		if sl == nil || now.Before(sl.deadline) {
			continue
		}
		s.st.timeouts++
		if sl.tries <= s.e.retries {
			sl.tries++
			sl.deadline = now.Add(s.e.timeout)
			s.st.retransmits++
			s.send(sl)
			continue
		}
		s.st.lost++
		s.complete(sl, 0, now)
	}
}
