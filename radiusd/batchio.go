package radiusd

// Batched socket I/O on a UDP listener (docs/ARCHITECTURE.md, "The path of
// one packet"): the read loop takes every datagram waiting on the socket
// with one system call (recvmmsg through golang.org/x/net's ReadBatch), and
// replies leave together (sendmmsg, WriteBatch) without waiting for a batch
// to fill: the worker that has a reply to send and finds no send under way
// yields once (so that the workers woken with it queue theirs), then sends
// every reply queued, until none is; a worker that finds a send under way
// queues its reply for that sender and goes back to work, unless
// max_in_flight replies are queued already (a stalled socket): then it
// writes its own, keeping its place in flight until it is sent. Platforms
// without recvmmsg/sendmmsg get one datagram per call from the same
// functions (x/net's fallback); a PacketConn other than *net.UDPConn, or
// Config.IOBatch 1, uses Serve's plain loop.

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
)

// DefaultIOBatch is the default of Config.IOBatch: datagrams read or sent
// per system call at most.
const DefaultIOBatch = 32

// maxIOBatch bounds Config.IOBatch: each read slot holds a 4 KiB buffer.
const maxIOBatch = 1024

var errNothingSent = errors.New("sendmmsg sent no datagram")

// batchIO is what x/net's ipv4 and ipv6 PacketConns both offer (their
// Message is the same type).
type batchIO interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchConn is a UDP listener with batched reads and writes. It is the
// PacketConn handed to receive, so that write finds its reply queue.
type batchConn struct {
	*net.UDPConn
	io  batchIO
	max int
	// maxQueue bounds the replies waiting for the sender: when the socket
	// stalls the sender, further replies are written by their own worker,
	// which holds its place in flight meanwhile, as without batching, so
	// the in-flight bound still holds the server back.
	maxQueue int
	// failed reports a reply the socket refused.
	failed func(err error, dst netip.AddrPort)

	mu      sync.Mutex
	queue   []pendingReply // replies waiting for the sender
	spare   []pendingReply // the sender's previous batch, reused
	sending bool

	// Owned by the sender (sending true): reused for every batch, so that a
	// send allocates nothing.
	msgs  []ipv4.Message
	bufs  [][]byte
	addrs []replyAddr
}

type pendingReply struct {
	b   []byte
	dst netip.AddrPort
}

// replyAddr is a destination as x/net wants it (a *net.UDPAddr), its IP in
// the same struct's array.
type replyAddr struct {
	ip [16]byte
	ua net.UDPAddr
}

func (a *replyAddr) set(dst netip.AddrPort) *net.UDPAddr {
	addr := dst.Addr()
	if addr.Is4() {
		a.ip = [16]byte{}
		ip4 := addr.As4()
		copy(a.ip[:], ip4[:])
		a.ua.IP = a.ip[:4]
	} else {
		a.ip = addr.As16()
		a.ua.IP = a.ip[:]
	}
	a.ua.Port, a.ua.Zone = int(dst.Port()), addr.Zone()
	return &a.ua
}

func newBatchConn(udp *net.UDPConn, max, maxQueue int, failed func(error, netip.AddrPort)) *batchConn {
	c := &batchConn{UDPConn: udp, max: max, maxQueue: maxQueue, failed: failed,
		msgs: make([]ipv4.Message, max), bufs: make([][]byte, max), addrs: make([]replyAddr, max)}
	if la, ok := udp.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() != nil {
		c.io = ipv4.NewPacketConn(udp)
	} else {
		c.io = ipv6.NewPacketConn(udp)
	}
	return c
}

// serveBatch is Serve's read loop on a batchConn.
func (s *Server) serveBatch(c *batchConn, l Listener) error {
	msgs := make([]ipv4.Message, c.max)
	for i := range msgs {
		// One octet more than the largest packet: packet.Check sees an
		// oversized datagram (truncated by the kernel) for what it is.
		msgs[i].Buffers = [][]byte{make([]byte, packet.MaxLen+1)}
	}
	for {
		n, err := c.io.ReadBatch(msgs, 0)
		if err != nil {
			if stop, err := s.readError(err, l); stop {
				return err
			}
			continue
		}
		for i := range msgs[:n] {
			m := &msgs[i]
			var src netip.AddrPort
			if ua, ok := m.Addr.(*net.UDPAddr); ok {
				src = ua.AddrPort()
			}
			s.receive(c, l, m.Buffers[0][:m.N], src)
			m.Addr = nil
		}
	}
}

// send queues b for dst, and sends it with whatever else is queued unless
// another goroutine is sending (which then sends it too, before it stops).
// b must not change afterwards.
func (c *batchConn) send(b []byte, dst netip.AddrPort) {
	c.mu.Lock()
	if c.sending && len(c.queue) >= c.maxQueue {
		c.mu.Unlock()
		if _, err := c.WriteToUDPAddrPort(b, dst); err != nil {
			c.failed(err, dst)
		}
		return
	}
	c.queue = append(c.queue, pendingReply{b, dst})
	if c.sending {
		c.mu.Unlock()
		return
	}
	c.sending = true
	// One yield before the first send: the goroutines made runnable with
	// this one (one Redis pipeline answers many packets at once) get to
	// queue their replies, so that they leave in this system call rather
	// than each in its own. With nothing else runnable it returns at once.
	// Measured (BENCHMARKS.md, issue 12): 8.6 replies per sendmmsg instead
	// of 1.25, and a lower p99.
	c.mu.Unlock()
	runtime.Gosched()
	c.mu.Lock()
	for {
		batch := c.queue
		c.queue = c.spare[:0]
		c.mu.Unlock()
		c.flush(batch)
		clear(batch) // the replies can be collected
		c.mu.Lock()
		c.spare = batch[:0]
		if len(c.queue) == 0 {
			c.sending = false
			c.mu.Unlock()
			return
		}
	}
}

// flush sends batch, at most c.max datagrams per system call. A datagram
// the socket refuses is reported and skipped; the others still go.
func (c *batchConn) flush(batch []pendingReply) {
	for len(batch) > 0 {
		k := min(len(batch), c.max)
		ms := c.msgs[:k]
		for i := range ms {
			c.bufs[i] = batch[i].b
			ms[i].Buffers = c.bufs[i : i+1]
			ms[i].Addr = c.addrs[i].set(batch[i].dst)
		}
		n, err := c.io.WriteBatch(ms, 0)
		n = max(n, 0)
		if err == nil && n == 0 {
			err = errNothingSent // never loop on a socket that takes nothing
		}
		if err != nil && n < k {
			c.failed(err, batch[n].dst)
			n++
		}
		batch = batch[n:]
	}
	clear(c.bufs)
}
