package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
)

// incr is a script with a visible effect: it counts its runs in KEYS[1].
var incr = redis.NewScript(`return redis.call('INCR', KEYS[1])`)

func incrJob(ctx context.Context, key string, cmd **redis.Cmd) *job {
	return &job{ctx: ctx, done: make(chan struct{}), build: func(pipe redis.Pipeliner, eval bool) {
		if eval {
			*cmd = incr.Eval(ctx, pipe, []string{key})
		} else {
			*cmd = incr.EvalSha(ctx, pipe, []string{key})
		}
	}}
}

func batchClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	rdb, err := NewClient(ClientConfig{Addrs: []string{redistest.Start(t).Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestBatchNoScriptPerJob: in one pipeline, a job whose script Redis does
// not have is run again with EVAL; the job whose script ran is not run twice.
func TestBatchNoScriptPerJob(t *testing.T) {
	rdb := batchClient(t)
	ctx := t.Context()
	other := redis.NewScript(`return redis.call('INCR', KEYS[1]) + 1000`)
	if err := other.Load(ctx, rdb).Err(); err != nil {
		t.Fatal(err)
	}
	var c1, c2 *redis.Cmd
	loaded := &job{ctx: ctx, done: make(chan struct{}), build: func(pipe redis.Pipeliner, eval bool) {
		if eval {
			c1 = other.Eval(ctx, pipe, []string{"a"})
		} else {
			c1 = other.EvalSha(ctx, pipe, []string{"a"})
		}
	}}
	missing := incrJob(ctx, "b", &c2) // never loaded: NOSCRIPT
	newBatcher(rdb, 1).exec([]*job{loaded, missing})
	for _, j := range []*job{loaded, missing} {
		select {
		case <-j.done:
		default:
			t.Fatal("a job was not released")
		}
		if j.err != nil {
			t.Fatal(j.err)
		}
	}
	if v, err := c1.Int64(); err != nil || v != 1001 {
		t.Errorf("loaded script: %v, %v; want 1001", v, err)
	}
	if v, err := c2.Int64(); err != nil || v != 1 {
		t.Errorf("script run after NOSCRIPT: %v, %v; want 1", v, err)
	}
	if n, _ := rdb.Get(ctx, "a").Int(); n != 1 {
		t.Errorf("the loaded script ran %d times, want once", n)
	}
}

// TestBatchAbandoned: a caller whose context ends while its job waits
// leaves nothing in the queue, and the job never runs.
func TestBatchAbandoned(t *testing.T) {
	rdb := batchClient(t)
	b := newBatcher(rdb, 1)
	b.running = 1 // every pipeline slot busy: jobs wait
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	built := false
	err := b.do(ctx, func(redis.Pipeliner, bool) { built = true })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("do: %v, want the context's deadline", err)
	}
	b.mu.Lock()
	n := len(b.pending)
	b.mu.Unlock()
	if n != 0 {
		t.Errorf("%d jobs left in the queue", n)
	}
	// A job whose context ended before a pipeline took it is released, not run.
	b.running = 0
	expired, cancel2 := context.WithCancel(t.Context())
	var c *redis.Cmd
	j := incrJob(expired, "never", &c)
	b.pending = append(b.pending, j)
	cancel2()
	b.mu.Lock()
	batch := b.take(nil)
	b.mu.Unlock()
	if len(batch) != 0 || !errors.Is(j.err, context.Canceled) || built {
		t.Errorf("take returned %d jobs, job error %v, built %v", len(batch), j.err, built)
	}
	if n, _ := rdb.Exists(t.Context(), "never").Result(); n != 0 {
		t.Error("an abandoned job ran")
	}
}

// TestBatchNetworkError: when Redis cannot be reached every job of the
// pipeline fails, and no caller hangs.
func TestBatchNetworkError(t *testing.T) {
	srv := redistest.Start(t)
	rdb, err := NewClient(ClientConfig{Addrs: []string{srv.Addr}, MaxRetries: -1, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	srv.Stop()
	b := newBatcher(rdb, 2)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			var c *redis.Cmd
			errs[i] = b.do(t.Context(), incrJob(t.Context(), fmt.Sprint("k", i), &c).build)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Errorf("job %d succeeded with Redis stopped", i)
		}
	}
}

// TestBatchConcurrent: many callers at once, each effect exactly once.
func TestBatchConcurrent(t *testing.T) {
	rdb := batchClient(t)
	b := newBatcher(rdb, 4)
	const callers, each = 64, 50
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for range each {
				var c *redis.Cmd
				if err := b.do(t.Context(), incrJob(t.Context(), fmt.Sprint("c", i), &c).build); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range callers {
		if n, err := rdb.Get(t.Context(), fmt.Sprint("c", i)).Int(); err != nil || n != each {
			t.Errorf("key c%d: %d, %v; want %d", i, n, err, each)
		}
	}
	// A drainer may still be returning: it must, within a moment.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		running, waiting := b.running, len(b.pending)
		b.mu.Unlock()
		if running == 0 && waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the callers: %d pipelines running, %d jobs waiting", running, waiting)
		}
	}
}
