package radiusd

// The packet server: one read loop per PacketConn, the in-flight bound and
// the pool of handler goroutines (as layeh's PacketServer or miekg/dns's
// Server serve UDP). What is done with a datagram is handle.go's.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
)

// Handler goroutines are kept and reused: a fresh goroutine per packet grows
// its stack on every packet (the handler and the Redis client go deep), and
// at 14k requests/s that copying and newproc took about 9% of the server's CPU.
const (
	// maxWorkers bounds the goroutines kept (at most MaxInFlight). It is
	// well above the concurrency of a busy server (14k requests/s at 2 ms
	// each keeps 28 in flight) and small enough that the kept stacks stay
	// a few MiB; beyond it a burst is handled by one-off goroutines, as
	// the in-flight bound allows.
	maxWorkers = 256
	// workerIdle: a worker that got no packet in a whole period (30 to 60 s
	// after its last; the sweeper's periods) exits. Idle workers take
	// packets in turn, so the pool shrinks only when traffic nearly stops,
	// not after every burst.
	workerIdle = 30 * time.Second
)

// Listener says which requests a PacketConn serves.
type Listener uint8

// Listeners.
const (
	Auth Listener = iota // Access-Request, Status-Server (port 1812)
	Acct                 // Accounting-Request, Status-Server (port 1813)
	// RadSec serves every request on one TLS connection (RFC 6614, port
	// 2083); radsec.go reads it.
	RadSec
)

func (l Listener) String() string {
	switch l {
	case Auth:
		return listenerAuth
	case RadSec:
		return listenerRadSec
	}
	return listenerAcct
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("radiusd: server closed")

// Serve reads requests from conn until Shutdown (ErrServerClosed) or a
// read error. The caller owns conn's creation; Shutdown closes it.
func (s *Server) Serve(conn net.PacketConn, l Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = conn.Close()
		return ErrServerClosed
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1) // the conn itself: closed only after in-flight replies
	s.mu.Unlock()
	defer s.wg.Done()

	udp, _ := conn.(*net.UDPConn)
	if udp != nil && s.cfg.IOBatch > 1 {
		return s.serveBatch(newBatchConn(udp, s.cfg.IOBatch, s.cfg.MaxInFlight, s.writeFailed), l)
	}
	buf := make([]byte, packet.MaxLen+1) // one octet more: packet.Check sees an oversized datagram
	for {
		var (
			n   int
			src netip.AddrPort
			err error
		)
		if udp != nil {
			n, src, err = udp.ReadFromUDPAddrPort(buf)
		} else {
			var a net.Addr
			n, a, err = conn.ReadFrom(buf)
			if ua, ok := a.(*net.UDPAddr); ok {
				src = ua.AddrPort()
			}
		}
		if err != nil {
			if stop, err := s.readError(err, l); stop {
				return err
			}
			continue
		}
		s.receive(conn, l, buf[:n], src)
	}
}

// readError says whether a read error ends the read loop, and with what:
// ErrServerClosed after Shutdown; a timeout is not an end.
func (s *Server) readError(err error, l Listener) (bool, error) {
	if s.closing.Load() {
		return true, ErrServerClosed
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, nil
	}
	return true, fmt.Errorf("radiusd: read %s: %w", l, err)
}

// receive takes one datagram from the read loop: admit does the cheap
// checks inline, then the request goes to a worker, within the in-flight
// bound.
func (s *Server) receive(conn net.PacketConn, l Listener, b []byte, src netip.AddrPort) {
	t, ok := s.admit(conn, l, b, src)
	if !ok {
		return
	}
	s.dispatch(t)
}

// dispatch hands an admitted request to a worker, within the in-flight
// bound (beyond it: dropped).
func (s *Server) dispatch(t task) {
	select {
	case s.sem <- struct{}{}:
	default:
		s.overload(t)
		return
	}
	s.start(t)
}

// overload drops a request that found no place in flight.
func (s *Server) overload(t task) {
	s.cache.abort(t.key)
	s.drop(t.l, radius.Code(t.pkt[0]).String(), OutcomeOverload, t.nas, t.src, errors.New("too many requests in flight"))
}

// start runs a request that has its place in flight (s.sem) on a worker;
// t.pkt is copied (the reader's buffer is reused).
func (s *Server) start(t task) {
	s.wg.Add(1)
	s.inFlight(1)
	t.pkt = append([]byte(nil), t.pkt...) // b is the read loop's buffer, reused
	select {
	case s.work <- t: // an idle worker took it
	default:
		if s.nworkers.Add(1) <= s.maxWork {
			s.startSweeper()
			s.workers.Go(func() { s.worker(t) })
		} else {
			s.nworkers.Add(-1)
			go s.run(t)
		}
	}
}

// task is an accepted request on its way to handle.
type task struct {
	out   sink
	l     Listener
	nas   *nasEntry
	pkt   []byte
	maOff int
	src   netip.AddrPort
	key   cacheKey
	start time.Time
}

// worker is a packet handler goroutine: it runs t, then the tasks receive
// hands it, until Shutdown or a whole workerIdle period without any. The
// periods are the sweeper's (one goroutine for all workers): a worker's own
// timer in its select cost a timer heap insertion and removal at every
// wait, about 3% of the server's CPU at 28k requests/s.
func (s *Server) worker(t task) {
	defer s.nworkers.Add(-1)
	s.run(t)
	sweep := *s.sweep.Load()
	busy := true
	for {
		select {
		case t = <-s.work:
			s.run(t)
			busy = true
		case <-sweep:
			if !busy {
				return
			}
			busy = false
			sweep = *s.sweep.Load()
		case <-s.quit:
			return
		}
	}
}

// startSweeper starts, once, the goroutine that ends a workerIdle period
// every workerIdle by closing the channel the workers wait on and putting
// a new one in its place. It stops at Shutdown.
func (s *Server) startSweeper() {
	s.sweeperOnce.Do(func() {
		s.workers.Go(func() {
			tick := time.NewTicker(workerIdle)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					s.endIdlePeriod()
				case <-s.quit:
					return
				}
			}
		})
	})
}

// endIdlePeriod wakes every waiting worker to check whether it got a task
// since the last period.
func (s *Server) endIdlePeriod() {
	next := make(chan struct{})
	close(*s.sweep.Swap(&next))
}

// run handles one task and releases its place in flight.
func (s *Server) run(t task) {
	defer func() {
		<-s.sem
		s.inFlight(-1)
		s.wg.Done()
	}()
	s.handle(t.out, t.l, t.nas, t.pkt, t.maOff, t.src, t.key, t.start)
}
func (s *Server) inFlight(d float64) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.inFlight.Add(d)
	}
}
