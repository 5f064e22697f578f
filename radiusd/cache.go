package radiusd

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// cacheKey identifies one request (RFC 5080 §2.2.2): a retransmission has
// the same source, Identifier and Request Authenticator, and reaches the same
// listener (Status-Server is served on both, with different replies). Its
// octets: the source address (16, IPv4 mapped), the port (2), whether the
// address is IPv4 (1), the listener (1), the Identifier (1) and the
// authenticator (16), then the RadSec connection's serial number (8; 0 on
// UDP: RFC 6614 §2.6, duplicates are per connection, and a NAS that
// reconnects resends on a new one, which accounting's idempotency makes
// exact). An IPv6 zone is not part of it: two link-local NASes
// of one address on two interfaces would also need the same Identifier and
// 16-octet authenticator at the same moment. seq, once begin set it, finds
// the request's slot for finish and abort without a map lookup.
type cacheKey struct {
	id  [keyLen]byte
	seq uint64 // the slot's sequence number; 0: not known
}

const (
	keyPort = 16 // 2 octets, big-endian
	keyIs4  = 18
	keyL    = 19
	keyID   = 20
	keyAuth = 21 // 16 octets
	keyConn = 37 // 8 octets, big-endian
	keyLen  = 45
)

func newCacheKey(src netip.AddrPort, l Listener, id byte, auth []byte) cacheKey {
	var k cacheKey
	a := src.Addr().As16()
	copy(k.id[:], a[:])
	binary.BigEndian.PutUint16(k.id[keyPort:], src.Port())
	if src.Addr().Is4() {
		k.id[keyIs4] = 1
	}
	k.id[keyL], k.id[keyID] = byte(l), id
	copy(k.id[keyAuth:], auth)
	return k
}

// setConn makes the key a RadSec connection's (see cacheKey).
func (k *cacheKey) setConn(serial uint64) {
	binary.BigEndian.PutUint64(k.id[keyConn:], serial)
}

// cacheSlot is one request in a shard's FIFO.
type cacheSlot struct {
	key     [keyLen]byte
	live    bool   // false once its key left the map (aborted, or expired and seen again)
	hash    uint64 // its key in the shard's map
	expires int64  // Unix nanoseconds
	reply   []byte // nil while in flight
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
// front, with no background goroutine. The map's keys are 64-bit hashes of
// the request keys (under a seed of this process's), a third of a key's
// size and hashed by the map's fast path; the slot holds the whole key, and
// a request whose hash is taken by another is processed uncached, as when
// the cache is full. Sharded to keep lock contention low.
type respCache struct {
	ttl    time.Duration
	max    int // per shard; beyond it new requests are processed uncached
	seed   maphash.Seed
	shards [16]cacheShard
}

type cacheShard struct {
	mu   sync.Mutex
	m    map[uint64]uint64 // key's hash → sequence number of its live slot
	fifo []cacheSlot       // fifo[i] has sequence number base+i
	base uint64
	head int // fifo[:head] are evicted
	peak int // most entries m held since it was last rebuilt
}

// A burst (a flood from a NAS address, an overload) grows a shard's map and
// FIFO; Go maps and slices never give memory back. After the burst expires
// both are rebuilt at their live size, so the memory is released.
const shrinkAbove = 4096

func newRespCache(ttl time.Duration, maxEntries int) *respCache {
	c := &respCache{ttl: ttl, seed: maphash.MakeSeed()}
	c.max = maxEntries/len(c.shards) + 1
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]uint64)
		c.shards[i].base = 1 // sequence number 0 means none (cacheKey.seq)
	}
	return c
}

func (c *respCache) shard(k *cacheKey) *cacheShard {
	return &c.shards[(k.id[keyAuth]^k.id[keyAuth+7]^k.id[keyPort+1])%byte(len(c.shards))]
}

func (c *respCache) hash(k *cacheKey) uint64 { return maphash.Bytes(c.seed, k.id[:]) }

// slot returns the live slot of hash h, nil if none; it may be another
// key's.
func (s *cacheShard) slot(h uint64) *cacheSlot {
	seq, ok := s.m[h]
	if !ok {
		return nil
	}
	return &s.fifo[seq-s.base]
}

// find returns k's live slot, nil if none: by k.seq when begin set it,
// else through the map.
func (c *respCache) find(s *cacheShard, k *cacheKey) *cacheSlot {
	var sl *cacheSlot
	if k.seq != 0 {
		if k.seq < s.base+uint64(s.head) || k.seq-s.base >= uint64(len(s.fifo)) {
			return nil // evicted
		}
		sl = &s.fifo[k.seq-s.base]
	} else {
		sl = s.slot(c.hash(k))
	}
	if sl == nil || !sl.live || sl.key != k.id {
		return nil
	}
	return sl
}

// drop takes the live slot sl out of the map.
func (s *cacheShard) drop(sl *cacheSlot) {
	sl.live, sl.reply = false, nil
	delete(s.m, sl.hash)
}

// begin registers a request. It returns the cached reply for a
// retransmission of an answered request.
func (c *respCache) begin(k cacheKey, now time.Time) ([]byte, cacheState) {
	return c.beginRef(&k, now)
}

// beginRef is begin that also sets k.seq when it takes a slot for k.
func (c *respCache) beginRef(k *cacheKey, now time.Time) ([]byte, cacheState) {
	t := now.UnixNano()
	h := c.hash(k)
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict(t)
	if sl := s.slot(h); sl != nil {
		// Check expiry here too: evict stops at the first live slot, and
		// finish extends a slot's life, so an expired one may sit behind it.
		if t >= sl.expires {
			s.drop(sl)
		} else if sl.key != k.id {
			return nil, cacheNew // another request's hash: process, uncached
		} else if sl.reply == nil {
			return nil, cacheInFlight
		} else {
			return sl.reply, cacheAnswered
		}
	}
	if len(s.m) >= c.max {
		return nil, cacheNew // full: process, but duplicates are not caught
	}
	// In-flight entries expire too, so an entry whose handler vanished
	// cannot pin the key forever.
	k.seq = s.base + uint64(len(s.fifo))
	s.m[h] = k.seq
	s.fifo = append(s.fifo, cacheSlot{key: k.id, live: true, hash: h, expires: t + int64(c.ttl)})
	return nil, cacheNew
}

// finish stores the reply sent for k; retransmissions within ttl get it.
// The slot stays where it is in the FIFO: evict stops at it until it
// expires, which delays the eviction of the slots behind it by at most the
// time the request was in flight.
func (c *respCache) finish(k cacheKey, reply []byte, now time.Time) {
	s := c.shard(&k)
	s.mu.Lock()
	if sl := c.find(s, &k); sl != nil {
		sl.reply = reply
		sl.expires = now.UnixNano() + int64(c.ttl)
	}
	s.mu.Unlock()
}

// abort forgets k, so that a retransmission is processed afresh (used when
// nothing was answered, e.g. on a store error).
func (c *respCache) abort(k cacheKey) {
	s := c.shard(&k)
	s.mu.Lock()
	if sl := c.find(s, &k); sl != nil {
		s.drop(sl)
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
			delete(s.m, sl.hash)
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
		m := make(map[uint64]uint64, n)
		for h, seq := range s.m {
			m[h] = seq
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
