package radiusd

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/session"
)

// TestBatchSendEachOnce: replies sent at once by many goroutines through
// one batched listener (some send, the others queue for the sender) all
// arrive, each once, at the socket they are for.
func TestBatchSendEachOnce(t *testing.T) {
	const (
		clients = 8
		senders = 32
		each    = 64 // replies per sender
	)
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	var failures []error
	var mu sync.Mutex
	bc := newBatchConn(srv, DefaultIOBatch, DefaultMaxInFlight, func(err error, _ netip.AddrPort) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	})
	dst := make([]*net.UDPConn, clients)
	for i := range dst {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadBuffer(1 << 20)
		t.Cleanup(func() { _ = c.Close() })
		dst[i] = c
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for j := range each {
				b := make([]byte, 4)
				binary.BigEndian.PutUint16(b, uint16(s))
				binary.BigEndian.PutUint16(b[2:], uint16(j))
				bc.send(b, dst[(s+j)%clients].LocalAddr().(*net.UDPAddr).AddrPort())
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("sends failed: %v", failures)
	}
	seen := map[[2]uint16]bool{}
	buf := make([]byte, 64)
	for i, c := range dst {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for range senders * each / clients {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("client %d after %d replies: %v", i, len(seen), err)
			}
			if n != 4 {
				t.Fatalf("client %d: datagram of %d octets", i, n)
			}
			s, j := binary.BigEndian.Uint16(buf), binary.BigEndian.Uint16(buf[2:])
			k := [2]uint16{s, j}
			if seen[k] || (int(s)+int(j))%clients != i {
				t.Fatalf("client %d: reply %v twice or not for it", i, k)
			}
			seen[k] = true
		}
	}
	if len(seen) != senders*each {
		t.Errorf("%d replies, want %d", len(seen), senders*each)
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.sending || len(bc.queue) != 0 {
		t.Errorf("after the last send: sending %v, %d queued", bc.sending, len(bc.queue))
	}
}

// TestServeBatchFamilies runs the real server on an IPv4 and an IPv6
// loopback socket, batched and not (io_batch 1): each answers a request.
func TestServeBatchFamilies(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		batch      int
	}{
		{"ipv4 batched", "127.0.0.1:0", DefaultIOBatch},
		{"ipv6 batched", "[::1]:0", DefaultIOBatch},
		{"ipv4 one at a time", "127.0.0.1:0", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", tc.addr)
			if err != nil {
				t.Skipf("no %s socket here: %v", tc.addr, err)
			}
			nas := testNAS()
			nas.Prefix = netip.PrefixFrom(pc.LocalAddr().(*net.UDPAddr).AddrPort().Addr(), 128)
			if nas.Prefix.Addr().Is4() {
				nas.Prefix = netip.PrefixFrom(nas.Prefix.Addr(), 32)
			}
			e := newEnv(t, withNAS(nas), func(c *Config) { c.IOBatch = tc.batch })
			e.store.put(sess(1, session.TypeTime, nil))
			served := make(chan error, 1)
			go func() { served <- e.srv.Serve(pc, Auth) }()

			c, err := net.Dial("udp", pc.LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for id := range 3 { // a few, so that the queue and its reuse are exercised
				req := accessRequest(t, withID(byte(id)), callingStation("aabbccddeeff"))
				if _, err := c.Write(req); err != nil {
					t.Fatal(err)
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 4096)
				n, err := c.Read(buf)
				if err != nil {
					t.Fatalf("no reply: %v", err)
				}
				checkReply(t, buf[:n], req, testSecret, radius.CodeAccessAccept)
			}
			if err := e.srv.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-served; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
			e.wantOutcomes(map[string]int{"auth Access-Request accepted": 3})
		})
	}
}

func TestIOBatchValidate(t *testing.T) {
	for _, n := range []int{-1, maxIOBatch + 1} {
		c := Config{IOBatch: n}
		c.SetDefaults()
		err := c.Validate()
		if n < 0 {
			if c.IOBatch != DefaultIOBatch {
				t.Errorf("io_batch %d: default %d, want %d", n, c.IOBatch, DefaultIOBatch)
			}
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != "io_batch" {
			t.Errorf("io_batch %d: %v, want a ConfigError for io_batch", n, err)
		}
	}
}

// TestBatchQueueBound: while the sender is held up, replies queue up to the
// bound; the next is written by its own caller at once.
func TestBatchQueueBound(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dst, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dst.Close() })
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	bc := newBatchConn(srv, DefaultIOBatch, 3, func(err error, _ netip.AddrPort) { t.Errorf("send: %v", err) })
	bc.mu.Lock()
	bc.sending = true // a sender is busy (held up)
	bc.mu.Unlock()
	for i := range 4 {
		bc.send([]byte{byte(i)}, to)
	}
	bc.mu.Lock()
	queued := len(bc.queue)
	bc.mu.Unlock()
	if queued != 3 {
		t.Fatalf("%d replies queued, want the bound, 3", queued)
	}
	buf := make([]byte, 8)
	_ = dst.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := dst.Read(buf)
	if err != nil || n != 1 || buf[0] != 3 {
		t.Fatalf("the reply beyond the bound: %x, %v; want 03 written at once", buf[:n], err)
	}
	// The held-up sender resumes and sends what was queued.
	bc.mu.Lock()
	batch := bc.queue
	bc.queue = nil
	bc.sending = false
	bc.mu.Unlock()
	bc.flush(batch)
	for i := range 3 {
		n, err := dst.Read(buf)
		if err != nil || n != 1 || buf[0] != byte(i) {
			t.Fatalf("queued reply %d: %x, %v", i, buf[:n], err)
		}
	}
}
