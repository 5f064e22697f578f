package radiusd

import (
	"net/netip"
	"sync"
	"time"
)

// cacheKey identifies one request (RFC 5080 §2.2.2): a retransmission has
// the same source, Identifier and Request Authenticator, and reaches the same
// listener (Status-Server is served on both, with different replies). On
// RadSec the key is per connection (RFC 6614 §2.6): a NAS that reconnects
// resends on a new one, and accounting's idempotency makes that exact.
type cacheKey struct {
	src  netip.AddrPort
	conn uint64 // the RadSec connection's serial number; 0 on UDP
	l    Listener
	id   byte
	auth [16]byte
}

type cacheEntry struct {
	reply   []byte // nil while in flight
	expires time.Time
}

// cacheState is what begin found.
type cacheState uint8

const (
	cacheNew      cacheState = iota // first sight: process it
	cacheInFlight                   // a copy is being processed: drop this one
	cacheAnswered                   // answered before: resend the cached reply
)

// respCache is the duplicate detector and response cache. Entries expire
// after ttl; a FIFO of keys (TTL is constant, so insertion order is expiry
// order) lets each insert evict what expired, with no background goroutine.
// Sharded to keep lock contention low.
type respCache struct {
	ttl    time.Duration
	max    int // per shard; beyond it new requests are processed uncached
	shards [16]cacheShard
}

type cacheShard struct {
	mu   sync.Mutex
	m    map[cacheKey]*cacheEntry
	fifo []cacheKey
	head int
	peak int // most entries m held since it was last rebuilt
}

// A burst (a flood from a NAS address, an overload) grows a shard's map and
// FIFO; Go maps and slices never give memory back. After the burst expires
// both are rebuilt at their live size, so the memory is released.
const shrinkAbove = 4096

func newRespCache(ttl time.Duration, maxEntries int) *respCache {
	c := &respCache{ttl: ttl}
	c.max = maxEntries/len(c.shards) + 1
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]*cacheEntry)
	}
	return c
}

func (c *respCache) shard(k cacheKey) *cacheShard {
	return &c.shards[(k.auth[0]^k.auth[7]^byte(k.src.Port()))%byte(len(c.shards))]
}

// begin registers a request. It returns the cached reply for a
// retransmission of an answered request.
func (c *respCache) begin(k cacheKey, now time.Time) ([]byte, cacheState) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict(now)
	if e, ok := s.m[k]; ok {
		// Check expiry here too: evict stops at the first live FIFO slot, and
		// finish re-queues keys, so an expired entry may sit behind a live one.
		if now.Before(e.expires) {
			if e.reply == nil {
				return nil, cacheInFlight
			}
			return e.reply, cacheAnswered
		}
		delete(s.m, k)
	}
	if len(s.m) >= c.max {
		return nil, cacheNew // full: process, but duplicates are not caught
	}
	// In-flight entries expire too, so an entry whose handler vanished
	// cannot pin the key forever.
	s.m[k] = &cacheEntry{expires: now.Add(c.ttl)}
	s.fifo = append(s.fifo, k)
	return nil, cacheNew
}

// finish stores the reply sent for k; retransmissions within ttl get it.
func (c *respCache) finish(k cacheKey, reply []byte, now time.Time) {
	s := c.shard(k)
	s.mu.Lock()
	if e, ok := s.m[k]; ok {
		e.reply = reply
		e.expires = now.Add(c.ttl)
		s.fifo = append(s.fifo, k) // re-queued: the earlier FIFO slot is now stale
	}
	s.mu.Unlock()
}

// abort forgets k, so that a retransmission is processed afresh (used when
// nothing was answered, e.g. on a store error).
func (c *respCache) abort(k cacheKey) {
	s := c.shard(k)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// evict drops expired entries from the front of the FIFO and gives back
// the memory a burst left behind.
func (s *cacheShard) evict(now time.Time) {
	for s.head < len(s.fifo) {
		k := s.fifo[s.head]
		if e, ok := s.m[k]; ok {
			if now.Before(e.expires) {
				break
			}
			delete(s.m, k)
		}
		s.head++
	}
	if s.head > 1024 && s.head*2 > len(s.fifo) {
		live := len(s.fifo) - s.head
		if cap(s.fifo) > shrinkAbove && cap(s.fifo) > 4*live {
			s.fifo = append(make([]cacheKey, 0, 2*live+64), s.fifo[s.head:]...)
		} else {
			n := copy(s.fifo, s.fifo[s.head:])
			s.fifo = s.fifo[:n]
		}
		s.head = 0
	}
	if n := len(s.m); n > s.peak {
		s.peak = n
	} else if s.peak > shrinkAbove && n < s.peak/8 {
		m := make(map[cacheKey]*cacheEntry, n)
		for k, e := range s.m {
			m[k] = e
		}
		s.m, s.peak = m, n
	}
}

// len returns the number of entries (for tests and metrics).
func (c *respCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
