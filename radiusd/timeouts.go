package radiusd

import (
	"context"
	"sync"
	"time"
)

// timeouts gives store calls contexts that end at a deadline without a
// runtime timer each. context.WithTimeout costs every packet a timer armed
// and stopped and four allocations (about 5% of the server's CPU at full
// load, BENCHMARKS.md); here the calls whose deadlines fall in the same tick
// share one channel, closed by one goroutine that runs only while some
// channel is pending. A deadline is rounded up to the next tick.
type timeouts struct {
	tick time.Duration
	// base is the origin of tick numbers: deadlines are measured on the
	// monotonic clock from it (time.Since), so a step of the wall clock
	// (NTP, a resumed VM) neither ends every call at once nor delays them.
	base time.Time

	mu      sync.Mutex
	pending map[int64]chan struct{} // tick number → the channel its contexts share
	running bool                    // the closing goroutine runs
}

// timeoutTick is the rounding of store deadlines: far below any store
// timeout (milliseconds to seconds), far above the cost of a tick.
const timeoutTick = 10 * time.Millisecond

func newTimeouts(tick time.Duration) *timeouts {
	return &timeouts{tick: tick, base: time.Now(), pending: map[int64]chan struct{}{}}
}

// after returns a context that ends d from now (rounded up to the tick),
// with context.DeadlineExceeded; it is never cancelled otherwise.
func (t *timeouts) after(d time.Duration) context.Context {
	tick := int64(t.tick)
	n := (int64(time.Since(t.base)+d) + tick - 1) / tick
	t.mu.Lock()
	ch := t.pending[n]
	if ch == nil {
		ch = make(chan struct{})
		t.pending[n] = ch
		if !t.running {
			t.running = true
			go t.run()
		}
	}
	t.mu.Unlock()
	return &deadlineCtx{deadline: t.base.Add(time.Duration(n * tick)), done: ch}
}

// run closes each pending channel once its tick has passed, and returns
// when none is left.
func (t *timeouts) run() {
	tk := time.NewTicker(t.tick)
	defer tk.Stop()
	for range tk.C {
		now := int64(time.Since(t.base)) / int64(t.tick)
		t.mu.Lock()
		for n, ch := range t.pending {
			if n <= now {
				close(ch)
				delete(t.pending, n)
			}
		}
		if len(t.pending) == 0 {
			t.running = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
	}
}

// deadlineCtx is a context.Context without values or a parent that ends
// at its deadline.
type deadlineCtx struct {
	deadline time.Time
	done     <-chan struct{}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *deadlineCtx) Done() <-chan struct{}       { return c.done }
func (c *deadlineCtx) Value(any) any               { return nil }
func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
func (c *deadlineCtx) String() string { return "radiusd.storeCtx(" + c.deadline.String() + ")" }
