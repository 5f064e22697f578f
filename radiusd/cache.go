package radiusd

import (
	"net/netip"
	"sync"
	"time"
)

// cacheKey identifies one request (RFC 5080 §2.2.2): a retransmission has
// the same source, Identifier and Request Authenticator, and reaches the same
// listener (Status-Server is served on both, with different replies). It
// holds no pointer (the source address as 16 octets, not a netip.Addr), so
// the shards' maps are never scanned by the garbage collector. An IPv6
// zone is not part of it: two link-local NASes of one address on two
// interfaces would also need the same Identifier and 16-octet authenticator.
type cacheKey struct {
	addr [16]byte
	port uint16
	is4  bool
	l    Listener
	id   byte
	auth [16]byte
}

func newCacheKey(src netip.AddrPort, l Listener, id byte, auth []byte) cacheKey {
	k := cacheKey{addr: src.Addr().As16(), port: src.Port(), is4: src.Addr().Is4(), l: l, id: id}
	copy(k.auth[:], auth)
	return k
}

// cacheSlot is one request in a shard's FIFO.
type cacheSlot struct {
	key     cacheKey
	reply   []byte // nil while in flight
	expires int64  // Unix nanoseconds
	live    bool   // false once its key left the map (aborted, or expired and seen again)
}

// cacheState is what begin found.
type cacheState uint8

const (
	cacheNew      cacheState = iota // first sight: process it
	cacheInFlight                   // a copy is being processed: drop this one
	cacheAnswered                   // answered before: resend the cached reply
)

// respCache is the duplicate detector and response cache. Entries expire
// after ttl. Each shard keeps its requests as slots of a FIFO in arrival
// order (TTL is constant, so this is expiry order, give or take the time a
// request is in flight) and a map from key to the slot's sequence number:
// no allocation per entry, and each insert evicts what expired from the
// front, with no background goroutine. Sharded to keep lock contention low.
type respCache struct {
	ttl    time.Duration
	max    int // per shard; beyond it new requests are processed uncached
	shards [16]cacheShard
}

type cacheShard struct {
	mu   sync.Mutex
	m    map[cacheKey]uint64 // key → sequence number of its live slot
	fifo []cacheSlot         // fifo[i] has sequence number base+i
	base uint64
	head int // fifo[:head] are evicted
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
		c.shards[i].m = make(map[cacheKey]uint64)
	}
	return c
}

func (c *respCache) shard(k cacheKey) *cacheShard {
	return &c.shards[(k.auth[0]^k.auth[7]^byte(k.port))%byte(len(c.shards))]
}

// slot returns k's live slot, nil if none.
func (s *cacheShard) slot(k cacheKey) *cacheSlot {
	seq, ok := s.m[k]
	if !ok {
		return nil
	}
	return &s.fifo[seq-s.base]
}

// drop takes k, whose live slot is sl, out of the map.
func (s *cacheShard) drop(k cacheKey, sl *cacheSlot) {
	sl.live, sl.reply = false, nil
	delete(s.m, k)
}

// begin registers a request. It returns the cached reply for a
// retransmission of an answered request.
func (c *respCache) begin(k cacheKey, now time.Time) ([]byte, cacheState) {
	t := now.UnixNano()
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict(t)
	if sl := s.slot(k); sl != nil {
		// Check expiry here too: evict stops at the first live slot, and
		// finish extends a slot's life, so an expired one may sit behind it.
		if t < sl.expires {
			if sl.reply == nil {
				return nil, cacheInFlight
			}
			return sl.reply, cacheAnswered
		}
		s.drop(k, sl)
	}
	if len(s.m) >= c.max {
		return nil, cacheNew // full: process, but duplicates are not caught
	}
	// In-flight entries expire too, so an entry whose handler vanished
	// cannot pin the key forever.
	s.m[k] = s.base + uint64(len(s.fifo))
	s.fifo = append(s.fifo, cacheSlot{key: k, expires: t + int64(c.ttl), live: true})
	return nil, cacheNew
}

// finish stores the reply sent for k; retransmissions within ttl get it.
// The slot stays where it is in the FIFO: evict stops at it until it
// expires, which delays the eviction of the slots behind it by at most the
// time the request was in flight.
func (c *respCache) finish(k cacheKey, reply []byte, now time.Time) {
	s := c.shard(k)
	s.mu.Lock()
	if sl := s.slot(k); sl != nil {
		sl.reply = reply
		sl.expires = now.UnixNano() + int64(c.ttl)
	}
	s.mu.Unlock()
}

// abort forgets k, so that a retransmission is processed afresh (used when
// nothing was answered, e.g. on a store error).
func (c *respCache) abort(k cacheKey) {
	s := c.shard(k)
	s.mu.Lock()
	if sl := s.slot(k); sl != nil {
		s.drop(k, sl)
	}
	s.mu.Unlock()
}

// evict drops expired entries from the front of the FIFO and gives back
// the memory a burst left behind.
func (s *cacheShard) evict(t int64) {
	for s.head < len(s.fifo) {
		sl := &s.fifo[s.head]
		if sl.live {
			if t < sl.expires {
				break
			}
			delete(s.m, sl.key)
		}
		*sl = cacheSlot{} // its reply can be collected
		s.head++
	}
	if s.head > 1024 && s.head*2 > len(s.fifo) {
		live := len(s.fifo) - s.head
		if cap(s.fifo) > shrinkAbove && cap(s.fifo) > 4*live {
			s.fifo = append(make([]cacheSlot, 0, 2*live+64), s.fifo[s.head:]...)
		} else {
			n := copy(s.fifo, s.fifo[s.head:])
			clear(s.fifo[n:])
			s.fifo = s.fifo[:n]
		}
		s.base += uint64(s.head)
		s.head = 0
	}
	if n := len(s.m); n > s.peak {
		s.peak = n
	} else if s.peak > shrinkAbove && n < s.peak/8 {
		m := make(map[cacheKey]uint64, n)
		for k, seq := range s.m {
			m[k] = seq
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
