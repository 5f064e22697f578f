package radiusd

import (
	"bytes"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/session"
)

// TestRetransmissionCached checks RFC 5080 §2.2.2 on both listeners: a
// retransmission of an answered request gets the same bytes without a
// second store call.
func TestRetransmissionCached(t *testing.T) {
	tests := []struct {
		name string
		l    Listener
		req  func(t *testing.T) []byte
		code string
		out  string
	}{
		{"access", Auth, func(t *testing.T) []byte { return accessRequest(t, callingStation("aabbccddeeff")) }, "Access-Request", OutcomeAccepted},
		{"access reject", Auth, func(t *testing.T) []byte { return accessRequest(t, callingStation("02:00:00:00:00:00")) }, "Access-Request", OutcomeRejected},
		{"accounting", Acct, func(t *testing.T) []byte {
			return acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_InterimUpdate), acctSessionID("s1"), callingStation("aabbccddeeff"))
		}, "Accounting-Request", OutcomeAccounted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.store.put(sess(1, session.TypeTime, nil))
			req := tc.req(t)
			first := e.send(tc.l, req)
			if first == nil {
				t.Fatal("no reply")
			}
			e.clock.Advance(DefaultCacheTTL - time.Second)
			again := e.send(tc.l, req)
			if !bytes.Equal(first, again) {
				t.Errorf("retransmission reply differs:\n%x\n%x", first, again)
			}
			if n := e.store.calls(); n != 1 {
				t.Errorf("store called %d times, want 1", n)
			}
			e.wantOutcomes(map[string]int{
				tc.l.String() + " " + tc.code + " " + tc.out: 1,
				tc.l.String() + " " + tc.code + " cached":    1,
			})
		})
	}
}

// TestCacheKey checks what makes a request new: another authenticator,
// another source port, or the TTL having passed.
func TestCacheKey(t *testing.T) {
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))
	var a1, a2 [16]byte
	a1[0], a2[0] = 1, 2
	r1 := accessRequest(t, withID(42), withAuthenticator(a1), callingStation("aabbccddeeff"))
	r2 := accessRequest(t, withID(42), withAuthenticator(a2), callingStation("aabbccddeeff"))

	checkReply(t, e.send(Auth, r1), r1, testSecret, radius.CodeAccessAccept)
	// Same Identifier, new authenticator: a new request (the NAS reused the ID).
	checkReply(t, e.send(Auth, r2), r2, testSecret, radius.CodeAccessAccept)
	if n := e.store.calls(); n != 2 {
		t.Errorf("after a new authenticator: %d store calls, want 2", n)
	}
	// Same bytes from another source port: another request.
	other := netip.MustParseAddrPort("10.0.0.5:40001")
	checkReply(t, e.sendFrom(Auth, r1, other), r1, testSecret, radius.CodeAccessAccept)
	if n := e.store.calls(); n != 3 {
		t.Errorf("from another port: %d store calls, want 3", n)
	}
	// Within the TTL: cached.
	e.clock.Advance(DefaultCacheTTL - time.Nanosecond)
	e.send(Auth, r1)
	if n := e.store.calls(); n != 3 {
		t.Errorf("within the TTL: %d store calls, want 3", n)
	}
	// Past the TTL: processed again.
	e.clock.Advance(time.Nanosecond)
	checkReply(t, e.send(Auth, r1), r1, testSecret, radius.CodeAccessAccept)
	if n := e.store.calls(); n != 4 {
		t.Errorf("after the TTL: %d store calls, want 4", n)
	}
	e.wantOutcomes(map[string]int{
		"auth Access-Request accepted": 4,
		"auth Access-Request cached":   1,
	})
}

// TestInFlightDuplicate checks a copy arriving while the first is being
// processed is dropped, and the first still answers.
func TestInFlightDuplicate(t *testing.T) {
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))
	e.store.entered, e.store.gate = make(chan struct{}), make(chan struct{})
	req := accessRequest(t, callingStation("aabbccddeeff"))

	e.srv.receive(e.conn, Auth, req, testSrc)
	<-e.store.entered // the handler is inside the store
	e.srv.receive(e.conn, Auth, req, testSrc)
	if n := e.conn.count(); n != 0 {
		t.Errorf("%d writes while the first copy is in flight", n)
	}
	e.wantOutcomes(map[string]int{"auth Access-Request duplicate": 1})

	close(e.store.gate)
	e.srv.wg.Wait()
	sent := e.conn.sent()
	if len(sent) != 1 {
		t.Fatalf("%d replies, want 1", len(sent))
	}
	checkReply(t, sent[0].b, req, testSecret, radius.CodeAccessAccept)
	if n := e.store.calls(); n != 1 {
		t.Errorf("store called %d times, want 1", n)
	}
	e.wantOutcomes(map[string]int{
		"auth Access-Request duplicate": 1,
		"auth Access-Request accepted":  1,
	})
}

func key(port uint16, id byte, auth0 byte) cacheKey {
	var auth [16]byte
	auth[0] = auth0
	return newCacheKey(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port), Auth, id, auth[:])
}

func TestRespCacheLifecycle(t *testing.T) {
	c := newRespCache(10*time.Second, 1000)
	k := key(1000, 1, 1)
	t0 := testNow

	if _, st := c.begin(k, t0); st != cacheNew {
		t.Fatalf("first begin: state %d, want new", st)
	}
	if _, st := c.begin(k, t0.Add(time.Second)); st != cacheInFlight {
		t.Fatalf("second begin: state %d, want in flight", st)
	}
	c.finish(k, []byte("reply"), t0.Add(2*time.Second))
	if r, st := c.begin(k, t0.Add(11*time.Second)); st != cacheAnswered || string(r) != "reply" {
		t.Fatalf("after finish: %q, state %d; want the reply", r, st)
	}
	// The TTL counts from the answer, not from the first sight.
	if _, st := c.begin(k, t0.Add(12*time.Second)); st != cacheNew {
		t.Fatalf("after the TTL: state %d, want new", st)
	}
	c.abort(k)
	if c.len() != 0 {
		t.Fatalf("after abort: %d entries, want 0", c.len())
	}
	if _, st := c.begin(k, t0.Add(13*time.Second)); st != cacheNew {
		t.Fatalf("after abort: state %d, want new", st)
	}
	// finish and abort of unknown keys are harmless.
	c.finish(key(1, 1, 1), []byte("x"), t0)
	c.abort(key(2, 2, 2))
	if c.len() != 1 {
		t.Fatalf("%d entries, want 1", c.len())
	}
}

// TestRespCacheInFlightExpires checks an in-flight entry whose handler
// never finished stops blocking its key after the TTL.
func TestRespCacheInFlightExpires(t *testing.T) {
	c := newRespCache(10*time.Second, 1000)
	k := key(1000, 1, 1)
	c.begin(k, testNow)
	if _, st := c.begin(k, testNow.Add(9*time.Second)); st != cacheInFlight {
		t.Fatalf("within the TTL: state %d, want in flight", st)
	}
	if _, st := c.begin(k, testNow.Add(10*time.Second)); st != cacheNew {
		t.Fatalf("after the TTL: state %d, want new", st)
	}
}

// TestRespCacheInFlightExpiresBehindFinished: finish re-queues its key,
// leaving a stale FIFO slot whose entry now lives longer; an expired
// in-flight entry behind that slot must still stop blocking its key.
func TestRespCacheInFlightExpiresBehindFinished(t *testing.T) {
	c := newRespCache(10*time.Second, 1000)
	a, b := key(7, 1, 9), key(7, 2, 9) // one shard
	c.begin(a, testNow)
	c.begin(b, testNow.Add(time.Second)) // its handler never finishes
	c.finish(a, []byte("a"), testNow.Add(5*time.Second))
	if _, st := c.begin(b, testNow.Add(12*time.Second)); st != cacheNew {
		t.Errorf("expired in-flight entry: state %d, want new", st)
	}
	if r, st := c.begin(a, testNow.Add(12*time.Second)); st != cacheAnswered || string(r) != "a" {
		t.Errorf("answered entry within its TTL: %q, state %d", r, st)
	}
}

func TestRespCacheEvict(t *testing.T) {
	c := newRespCache(10*time.Second, 1<<20)
	const n = 20000 // > 1024 FIFO slots per shard: eviction compacts the FIFO
	for i := range n {
		k := key(uint16(i), byte(i), byte(i>>8))
		c.begin(k, testNow.Add(time.Duration(i)*100*time.Microsecond))
		if i%2 == 0 {
			c.finish(k, []byte{1}, testNow.Add(time.Duration(i)*100*time.Microsecond))
		}
	}
	if got := c.len(); got != n {
		t.Fatalf("%d entries, want %d", got, n)
	}
	// Before the first expiry nothing is evicted.
	c.begin(key(60000, 0, 0), testNow.Add(5*time.Second))
	if got := c.len(); got != n+1 {
		t.Fatalf("before expiry: %d entries, want %d", got, n+1)
	}
	// Every shard evicts on its next insert once everything expired.
	late := testNow.Add(time.Hour)
	for i := range len(c.shards) {
		k := key(uint16(i), 0xff, 0) // shard i
		if got := c.shard(&k); got != &c.shards[i] {
			t.Fatalf("key %d not in shard %d", i, i)
		}
		c.begin(k, late)
		c.abort(k)
	}
	if got := c.len(); got != 0 {
		t.Errorf("after expiry: %d entries, want 0", got)
	}
	for i := range c.shards {
		s := &c.shards[i]
		// One stale slot: the key just begun and aborted.
		if len(s.fifo) > 1 || s.head != 0 {
			t.Errorf("shard %d: FIFO of %d slots, head %d after eviction; want compacted", i, len(s.fifo), s.head)
		}
	}
}

// TestRespCacheMax checks the bound: a full shard processes new requests
// without caching them (their duplicates are not caught), and never grows.
func TestRespCacheMax(t *testing.T) {
	c := newRespCache(10*time.Second, 32) // 32/16+1 = 3 per shard
	// Same auth[0], auth[7] and port: one shard.
	keys := []cacheKey{key(7, 1, 9), key(7, 2, 9), key(7, 3, 9), key(7, 4, 9)}
	for _, k := range keys[:3] {
		if _, st := c.begin(k, testNow); st != cacheNew {
			t.Fatalf("begin %d: state %d", k.id[keyID], st)
		}
	}
	if _, st := c.begin(keys[3], testNow); st != cacheNew {
		t.Fatalf("begin beyond max: state %d, want new (processed uncached)", st)
	}
	if _, st := c.begin(keys[3], testNow); st != cacheNew {
		t.Errorf("duplicate of an uncached request: state %d, want new", st)
	}
	if got := c.len(); got != 3 {
		t.Errorf("%d entries, want 3 (the shard's bound)", got)
	}
	// Other shards still cache.
	if _, st := c.begin(key(8, 1, 9), testNow); st != cacheNew {
		t.Fatal("other shard refused")
	}
	if _, st := c.begin(key(8, 1, 9), testNow); st != cacheInFlight {
		t.Error("other shard does not catch duplicates")
	}
	// Expiry frees room.
	if _, st := c.begin(keys[3], testNow.Add(11*time.Second)); st != cacheNew {
		t.Fatal("after expiry: refused")
	}
	if _, st := c.begin(keys[3], testNow.Add(11*time.Second)); st != cacheInFlight {
		t.Error("after expiry the shard has room again, but the duplicate was not caught")
	}
}

// TestForgedPacketsTakeNoCacheEntry: a flood of forged packets from a NAS's
// address (wrong secret, or no Message-Authenticator where required) is
// refused before the response cache, so it leaves nothing behind — before,
// each took a FIFO slot that outlived its aborted entry.
func TestForgedPacketsTakeNoCacheEntry(t *testing.T) {
	e := newEnv(t)
	const n = 3000
	for i := range n {
		forged := buildRequest(t, radius.CodeAccountingRequest, []byte("not-the-secret"), false,
			withID(byte(i)), acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID(strconv.Itoa(i)), callingStation("aabbccddeeff"))
		noMA := buildRequest(t, radius.CodeAccessRequest, testSecret, false, withID(byte(i)), callingStation("aabbccddeeff"), userName(strconv.Itoa(i)))
		if e.send(Acct, forged) != nil || e.send(Auth, noMA) != nil {
			t.Fatal("a forged packet was answered")
		}
	}
	slots := 0
	for i := range e.srv.cache.shards {
		s := &e.srv.cache.shards[i]
		slots += len(s.fifo) - s.head
	}
	if got := e.srv.cache.len(); got != 0 || slots != 0 {
		t.Errorf("after %d forged packets: %d cache entries, %d FIFO slots; want none", 2*n, got, slots)
	}
	e.wantOutcomes(map[string]int{
		"acct Accounting-Request bad_authenticator":         n,
		"auth Access-Request missing_message_authenticator": n,
	})
}

// TestRespCacheShrinks: after a burst expires, a shard's FIFO and map are
// rebuilt at their live size, so the memory of the burst is given back.
func TestRespCacheShrinks(t *testing.T) {
	c := newRespCache(10*time.Second, 1<<20)
	s := &c.shards[0]
	const n = 50000
	for i := range n {
		k := key(uint16(i%4096*16), byte(i/4096), 0) // shard 0
		c.begin(k, testNow)
		c.finish(k, []byte{1}, testNow)
	}
	if cap(s.fifo) < n {
		t.Fatalf("burst: FIFO capacity %d, want ≥ %d", cap(s.fifo), n)
	}
	late := testNow.Add(time.Minute)
	for i := range 10 {
		c.begin(key(uint16(i*16), 200, 0), late)
	}
	if cap(s.fifo) > 1024 || s.peak > 1024 {
		t.Errorf("after the burst expired: FIFO capacity %d, map peak %d; want both small", cap(s.fifo), s.peak)
	}
	if got := c.len(); got != 10 {
		t.Errorf("%d entries, want the 10 live ones", got)
	}
}

// TestRespCacheHashCollision: a request whose key hashes like a cached
// other's is processed uncached, and its finish and abort leave the other's
// entry alone.
func TestRespCacheHashCollision(t *testing.T) {
	c := newRespCache(10*time.Second, 1000)
	a, b := key(7, 1, 9), key(7, 2, 9) // one shard
	s := c.shard(&a)
	c.begin(a, testNow)
	// Make b's hash point at a's slot, as a collision would.
	s.m[c.hash(&b)] = s.m[c.hash(&a)]
	if _, st := c.begin(b, testNow); st != cacheNew {
		t.Fatalf("colliding request: state %d, want new", st)
	}
	c.finish(b, []byte("b"), testNow)
	c.abort(b)
	if _, st := c.begin(a, testNow); st != cacheInFlight {
		t.Fatalf("the other request after the collision's finish and abort: state %d, want in flight", st)
	}
	c.finish(a, []byte("a"), testNow)
	if r, st := c.begin(a, testNow); st != cacheAnswered || string(r) != "a" {
		t.Fatalf("the other request: %q, state %d; want its reply", r, st)
	}
}

// TestRespCacheRef: finish and abort through the slot begin recorded in the
// key reach that request's slot, and only while it lives.
func TestRespCacheRef(t *testing.T) {
	c := newRespCache(10*time.Second, 1<<20)
	k := key(7, 1, 9)
	if _, st := c.beginRef(&k, testNow); st != cacheNew || k.seq == 0 {
		t.Fatalf("beginRef: state %d, seq %d; want new and a slot", st, k.seq)
	}
	c.finish(k, []byte("r"), testNow)
	if r, st := c.begin(k, testNow); st != cacheAnswered || string(r) != "r" {
		t.Fatalf("after finish by slot: %q, state %d", r, st)
	}
	// The entry expires while a second handler of the same key is in
	// flight; a third copy takes a new slot; the second's finish (old slot)
	// must not answer for the third.
	old := key(7, 2, 9)
	c.beginRef(&old, testNow)
	again := key(7, 2, 9)
	if _, st := c.beginRef(&again, testNow.Add(11*time.Second)); st != cacheNew || again.seq == old.seq {
		t.Fatalf("after expiry: state %d, seq %d (old %d)", st, again.seq, old.seq)
	}
	c.finish(old, []byte("old"), testNow.Add(11*time.Second))
	if _, st := c.begin(again, testNow.Add(11*time.Second)); st != cacheInFlight {
		t.Fatalf("the old handler's finish answered the new copy: state %d", st)
	}
	// Slots evicted and compacted away: finish and abort of the old refs
	// are harmless.
	for i := range 5000 {
		c.begin(key(7, byte(i), byte(i>>8)), testNow.Add(time.Hour))
	}
	c.finish(old, []byte("x"), testNow.Add(time.Hour))
	c.abort(k)
}
