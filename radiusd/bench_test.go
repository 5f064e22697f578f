package radiusd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/session"
)

// benchProcess measures one request from its encoded bytes to its encoded
// reply: framing, authenticator checks, parsing, the handler with the fake
// store, reply building and signing (no goroutine, cache or socket).
func benchProcess(b *testing.B, l Listener, req []byte, want radius.Code) {
	e := newEnv(b, withNAS(func() NAS { n := testNAS(); n.Profiles, n.Password = Profiles, PasswordMAC; return n }()))
	e.store.put(sess(1, session.TypeTimeOrData, nil))
	nas := e.srv.nas.lookup(testSrc.Addr())
	pkt, maOff, err := packet.Check(req)
	if err != nil {
		b.Fatal(err)
	}
	if reply, outcome, err := e.srv.process(l, nas, pkt, maOff, testSrc); reply == nil || radius.Code(reply[0]) != want {
		b.Fatalf("no %s: %s %v", want, outcome, err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		pkt, maOff, err := packet.Check(req)
		if err != nil {
			b.Fatal(err)
		}
		reply, _, _ := e.srv.process(l, nas, pkt, maOff, testSrc)
		if reply == nil {
			b.Fatal("dropped")
		}
		// Keep the fake store from growing without bound.
		e.store.mu.Lock()
		e.store.lookups, e.store.events = e.store.lookups[:0], e.store.events[:0]
		e.store.mu.Unlock()
	}
}

// BenchmarkAuthPath: an Access-Request (PAP, MAC password) to an
// Access-Accept with every vendor family.
func BenchmarkAuthPath(b *testing.B) {
	req := accessRequest(b, userName("aabbccddeeff"), papPassword("aabbccddeeff"),
		callingStation("AA-BB-CC-DD-EE-FF"), intAttr(5, 1), intAttr(61, 19))
	benchProcess(b, Auth, req, radius.CodeAccessAccept)
}

// BenchmarkAcctPath: an Interim-Update with 64-bit counters to its
// Accounting-Response.
func BenchmarkAcctPath(b *testing.B) {
	req := acctRequest(b, acctStatus(rfc2866.AcctStatusType_Value_InterimUpdate), acctSessionID("80000001"),
		userName("aabbccddeeff"), callingStation("AA-BB-CC-DD-EE-FF"),
		intAttr(rfc2866.AcctSessionTime_Type, 600),
		intAttr(rfc2866.AcctInputOctets_Type, 123456), intAttr(rfc2869.AcctInputGigawords_Type, 1),
		intAttr(rfc2866.AcctOutputOctets_Type, 654321), intAttr(rfc2869.AcctOutputGigawords_Type, 2),
		intAttr(rfc2866.AcctDelayTime_Type, 0))
	benchProcess(b, Acct, req, radius.CodeAccountingResponse)
}

// BenchmarkReceive: the Access-Request of BenchmarkAuthPath through
// receive to its reply on the connection, with at most inflight requests
// outstanding. On top of the process path it measures the hand-off to the
// goroutine that handles the packet (and that goroutine's stack growth), the
// in-flight bound, the response cache and the write.
func BenchmarkReceive(b *testing.B) {
	for _, inflight := range []int{1, 32} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) { benchReceive(b, inflight) })
	}
}

func benchReceive(b *testing.B, inflight int) {
	e := newEnv(b, withNAS(func() NAS { n := testNAS(); n.Profiles, n.Password = Profiles, PasswordMAC; return n }()))
	b.Cleanup(func() { _ = e.srv.Shutdown(context.Background()) })
	e.store.put(sess(1, session.TypeTimeOrData, nil))
	req := accessRequest(b, userName("aabbccddeeff"), papPassword("aabbccddeeff"),
		callingStation("AA-BB-CC-DD-EE-FF"), intAttr(5, 1), intAttr(61, 19))
	conn := &replyConn{replies: make(chan struct{}, inflight)}
	b.ReportAllocs()
	var sent, outstanding int
	drain := func() {
		for ; outstanding > 0; outstanding-- {
			<-conn.replies
		}
	}
	for b.Loop() {
		sent++
		// A new source port per request, so none is a retransmission; once
		// all are answered the clock moves past the cache TTL before the
		// ports repeat.
		port := uint16(sent)
		if port == 0 {
			drain()
			e.clock.Advance(DefaultCacheTTL + time.Second)
			continue
		}
		if outstanding == inflight {
			<-conn.replies
			outstanding--
		}
		e.srv.receive(conn, Auth, req, netip.AddrPortFrom(testSrc.Addr(), port))
		outstanding++
		if sent%1024 == 0 { // keep the fake store from growing without bound
			e.store.mu.Lock()
			e.store.lookups = e.store.lookups[:0]
			e.store.mu.Unlock()
		}
	}
	drain()
}

// replyConn is a PacketConn that signals each reply written and keeps none.
type replyConn struct {
	recConn
	replies chan struct{}
}

func (c *replyConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.replies <- struct{}{}
	return len(b), nil
}

// BenchmarkRespCache: the response cache on its two paths. new: a request
// not seen before (begin, then finish with its reply), at a steady state
// where as many entries expire as arrive (10 s of 15k requests/s). hit: a
// retransmission answered from the cache.
func BenchmarkRespCache(b *testing.B) {
	reply := make([]byte, 60)
	key := func(i int) cacheKey {
		auth := [16]byte{byte(i), byte(i >> 8), byte(i >> 16)}
		return newCacheKey(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 16), byte(i >> 8)}), uint16(i)), Auth, byte(i), auth[:])
	}
	b.Run("new", func(b *testing.B) {
		c := newRespCache(DefaultCacheTTL, DefaultCacheMax)
		now := time.Unix(0, 0)
		step := time.Second / 15000
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := key(i)
			if _, st := c.begin(k, now); st != cacheNew {
				b.Fatalf("state %v for a new key", st)
			}
			c.finish(k, reply, now)
			now = now.Add(step)
			i++
		}
	})
	b.Run("hit", func(b *testing.B) {
		c := newRespCache(DefaultCacheTTL, DefaultCacheMax)
		now := time.Unix(0, 0)
		for i := range 1024 {
			c.begin(key(i), now)
			c.finish(key(i), reply, now)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, st := c.begin(key(i%1024), now); st != cacheAnswered {
				b.Fatalf("state %v for an answered key", st)
			}
			i++
		}
	})
}
