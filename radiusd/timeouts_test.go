package radiusd

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A store call's context ends at its deadline, rounded up to the tick, with
// DeadlineExceeded; contexts of one tick share a channel; the goroutine
// that closes them stops once none is pending (no goroutine outlives its
// work) and starts again for the next.
func TestTimeoutsEndAtDeadline(t *testing.T) {
	to := newTimeouts(5 * time.Millisecond)
	start := time.Now()
	ctx := to.after(30 * time.Millisecond)
	dl, ok := ctx.Deadline()
	if !ok || dl.Before(start.Add(30*time.Millisecond)) || dl.After(start.Add(40*time.Millisecond)) {
		t.Fatalf("deadline %v (ok %v), want 30-40 ms after %v", dl, ok, start)
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err before the deadline: %v", err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not done 5 s after a 30 ms deadline")
	}
	if time.Now().Before(dl) {
		t.Fatalf("done at %v, before its deadline %v", time.Now(), dl)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline: %v", ctx.Err())
	}

	// The closer stops when nothing is pending.
	waitIdle := func() {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
			to.mu.Lock()
			idle := !to.running && len(to.pending) == 0
			to.mu.Unlock()
			if idle {
				return
			}
		}
		t.Fatal("the closing goroutine still runs with nothing pending")
	}
	waitIdle()

	// It starts again; contexts of one tick share one channel; it keeps
	// running while a later one is pending, and stops after it.
	a := to.after(200 * time.Millisecond)
	b := to.after(200 * time.Millisecond)
	da, _ := a.Deadline()
	db, _ := b.Deadline()
	if da.Equal(db) != (a.Done() == b.Done()) {
		t.Errorf("deadlines %v and %v, same channel %v", da, db, a.Done() == b.Done())
	}
	c := to.after(10 * time.Millisecond)
	<-c.Done()
	if a.Err() != nil && time.Now().Before(da) {
		t.Errorf("a context ended before its deadline %v: %v", da, a.Err())
	}
	to.mu.Lock()
	running := to.running
	to.mu.Unlock()
	if !running && time.Now().Before(da) {
		t.Error("the closer stopped with contexts pending")
	}
	<-a.Done()
	<-b.Done()
	waitIdle()
}
