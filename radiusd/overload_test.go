package radiusd

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/hotspot-radius/hsradius/radiusd/metric/prom"
	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/session"
)

// slowStore delays every call, as a Redis under load would, and records the
// most calls it saw at once.
type slowStore struct {
	Store
	delay     time.Duration
	cur, peak atomic.Int64
}

func (s *slowStore) wait(ctx context.Context) {
	n := s.cur.Add(1)
	defer s.cur.Add(-1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (s *slowStore) DeviceSessions(ctx context.Context, mac session.MAC) ([]session.Data, error) {
	s.wait(ctx)
	return s.Store.DeviceSessions(ctx, mac)
}

func (s *slowStore) Account(ctx context.Context, ev session.AcctEvent) (session.AcctResult, error) {
	s.wait(ctx)
	return s.Store.Account(ctx, ev)
}

// TestOverloadBurst offers far more concurrent Access-Requests than the
// server may process (MaxInFlight 8, a store taking 20 ms): the excess is
// dropped and counted as overload, never answered; every reply belongs to
// an answered request; the store never sees more than MaxInFlight calls at
// once; memory and the response cache stay bounded; and right after the
// burst a NAS's request is answered within its normal timeout.
func TestOverloadBurst(t *testing.T) {
	const (
		maxInFlight = 8
		delay       = 20 * time.Millisecond
		sockets     = 50
		perSocket   = 40 // 2000 requests offered at once
		offered     = sockets * perSocket
	)
	fake := newFakeStore()
	fake.put(sess(1, session.TypeTime, nil))
	store := &slowStore{Store: fake, delay: delay}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(prom.Registry(reg))
	if err != nil {
		t.Fatal(err)
	}
	nas := testNAS()
	nas.Prefix = netip.MustParsePrefix("127.0.0.1/32")
	srv, err := New(Config{
		NAS: []NAS{nas}, Store: store, Log: zerolog.Nop(), Metrics: m,
		MaxInFlight: maxInFlight,
	})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(pc, Auth) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	server := pc.LocalAddr().(*net.UDPAddr).AddrPort()

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	// Each socket's requests, by Identifier: a reply must match one.
	type client struct {
		conn *net.UDPConn
		reqs [perSocket][]byte
	}
	clients := make([]*client, sockets)
	for i := range clients {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		c := &client{conn: conn}
		for j := range c.reqs {
			c.reqs[j] = accessRequest(t, withID(byte(j)), callingStation("aabbccddeeff"))
		}
		clients[i] = c
	}

	// The burst: every socket sends all its requests at once.
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			<-start
			for _, req := range c.reqs {
				if _, err := c.conn.WriteToUDPAddrPort(req, server); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		})
	}
	burstStart := time.Now()
	close(start)
	wg.Wait()
	burst := time.Since(burstStart)

	// Recovery: a NAS (layeh's client, retransmitting every 100 ms like a
	// NAS would) asks right after the burst and is answered within its
	// timeout. Its datagrams queue behind the burst's, so once it is
	// answered the server has read the whole burst.
	p := radius.New(radius.CodeAccessRequest, testSecret)
	_ = rfc2865.CallingStationID_SetString(p, "aa-bb-cc-dd-ee-ff")
	_ = rfc2865.UserName_SetString(p, "aa-bb-cc-dd-ee-ff")
	_ = rfc2865.UserPassword_SetString(p, "x")
	if err := packet.SignMA(p); err != nil { // a Message-Authenticator first
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	recStart := time.Now()
	r, err := (&radius.Client{Retry: 100 * time.Millisecond, MaxPacketErrors: 1}).Exchange(ctx, p, server.String())
	recovery := time.Since(recStart)
	if err != nil {
		t.Fatalf("request right after the burst: %v (after %v)", err, recovery)
	}
	if r.Code != radius.CodeAccessAccept {
		t.Fatalf("request right after the burst: got %s", r.Code)
	}

	// Let the handlers in flight finish: then every reply has been written.
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.sem) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := len(srv.sem); n > 0 {
		t.Fatalf("%d requests still in flight 5 s after the burst", n)
	}

	// Every reply answers a request of its socket, once, authentically.
	replies := 0
	buf := make([]byte, packet.MaxLen)
	for i, c := range clients {
		marker := []byte("end")
		if _, err := c.conn.WriteToUDPAddrPort(marker, c.conn.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
			t.Fatal(err)
		}
		seen := map[byte]bool{}
		for {
			_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _, err := c.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("socket %d: %v", i, err)
			}
			reply := buf[:n]
			if string(reply) == string(marker) {
				break
			}
			if n < packet.HeaderLen || int(reply[1]) >= perSocket || seen[reply[1]] {
				t.Errorf("socket %d: reply %x answers no request, or one already answered", i, reply)
				continue
			}
			seen[reply[1]] = true
			req := c.reqs[reply[1]]
			if radius.Code(reply[0]) != radius.CodeAccessAccept || !radius.IsAuthenticResponse(reply, req, testSecret) {
				t.Errorf("socket %d: reply %x is not an authentic Access-Accept to request %d", i, reply, reply[1])
			}
			replies++
		}
	}

	counts := packetCounts(t, reg)
	accepted := counts["auth Access-Request accepted"]
	overload := counts["auth Access-Request overload"]
	read := 0
	for _, n := range counts {
		read += n
	}
	for k := range counts {
		switch k {
		case "auth Access-Request accepted", "auth Access-Request overload",
			"auth Access-Request duplicate", "auth Access-Request cached": // the recovery request's retransmissions
		default:
			t.Errorf("unexpected outcome %q: %v", k, counts)
		}
	}
	if overload == 0 {
		t.Errorf("no overload drop for %d requests offered at once to %d slots", offered, maxInFlight)
	}
	// The recovery request was accepted once; every other acceptance is a
	// reply some burst socket received, and nothing else was answered.
	if replies != accepted-1 {
		t.Errorf("burst sockets got %d replies, server accepted %d burst requests", replies, accepted-1)
	}
	if peak := store.peak.Load(); peak > maxInFlight {
		t.Errorf("the store saw %d calls at once, MaxInFlight is %d", peak, maxInFlight)
	}
	if n := srv.cache.len(); n > accepted {
		t.Errorf("response cache holds %d entries for %d answered requests", n, accepted)
	}

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.HeapInuse > 200<<20 {
		t.Errorf("heap in use %d MB after the burst, want < 200 MB", after.HeapInuse>>20)
	}
	t.Logf("offered %d requests from %d sockets in %v; the server counted %d datagrams (with the recovery request's copies; the rest were lost in the kernel), answered %d of the burst, dropped %d as overload; store peak concurrency %d",
		offered, sockets, burst.Round(time.Millisecond), read, replies, overload, store.peak.Load())
	t.Logf("request right after the burst answered in %v; response cache %d entries; heap in use %d MB before, %d MB after; goroutines %d",
		recovery.Round(time.Microsecond), srv.cache.len(), before.HeapInuse>>20, after.HeapInuse>>20, runtime.NumGoroutine())
}
