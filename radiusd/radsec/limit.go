package radsec

import "sync"

// Limiter bounds connections in total and per key (a NAS's name). The zero
// Limiter is not usable; see NewLimiter.
type Limiter struct {
	total, perKey int
	mu            sync.Mutex
	n             int
	byKey         map[string]int
}

// NewLimiter returns a Limiter of total connections, perKey for each key.
func NewLimiter(total, perKey int) *Limiter {
	return &Limiter{total: total, perKey: perKey, byKey: map[string]int{}}
}

// Acquire takes a place in the total; false when all are taken.
func (l *Limiter) Acquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.total {
		return false
	}
	l.n++
	return true
}

// Release gives back a place Acquire took.
func (l *Limiter) Release() {
	l.mu.Lock()
	l.n--
	l.mu.Unlock()
}

// AcquireKey takes a place of key (within a place Acquire already took)
// and returns how many key holds then; false when key has all its places.
func (l *Limiter) AcquireKey(key string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byKey[key] >= l.perKey {
		return l.byKey[key], false
	}
	l.byKey[key]++
	return l.byKey[key], true
}

// ReleaseKey gives back a place AcquireKey took and returns how many key
// holds then.
func (l *Limiter) ReleaseKey(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byKey[key]--
	n := l.byKey[key]
	if n <= 0 {
		delete(l.byKey, key)
	}
	return n
}

// Len returns the connections held in total.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
