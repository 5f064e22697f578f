package redisstore

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Batching. Every RADIUS packet is one script (plus, for accounting, a
// ZADD/ZREM) in one round trip. Under load hundreds of packets wait for Redis
// at once; sending each as its own request costs a write and a read system
// call on both sides per packet, which is most of what Redis spends outside
// the scripts. The batcher puts whatever packets are waiting when a pipeline
// starts into that one pipeline: one write and one read per Redis node for
// all of them. It adds no delay: with nothing else waiting a pipeline holds
// one packet and leaves at once. At most maxPipelines pipelines are in flight;
// packets arriving meanwhile wait for the next one, which is how batches form.
//
// Jobs stay independent: each job's commands keep their own replies and
// errors, a script Redis lost (NOSCRIPT) is run again with EVAL for that job
// only, and a pipeline that fails on the network fails each of its jobs, whose
// callers do not answer the NAS (which retries; accounting is idempotent).
//
// No goroutine outlives its work: a caller that finds fewer than maxPipelines
// in flight runs one itself; if more jobs arrived meanwhile a goroutine
// drains them and returns when nothing is waiting.

const (
	// defaultMaxPipelines in flight at once (one Redis connection each).
	defaultMaxPipelines = 4
	// maxBatch jobs in one pipeline: bounds the time one pipeline holds
	// Redis (a few milliseconds) and the buffers.
	maxBatch = 128
)

type job struct {
	build func(pipe redis.Pipeliner, eval bool) // queues the job's commands
	err   error                                 // first error among them (not redis.Nil)
	done  chan struct{}
}

type batcher struct {
	rdb          redis.UniversalClient
	maxPipelines int

	mu      sync.Mutex
	pending []*job
	running int
}

func newBatcher(rdb redis.UniversalClient, maxPipelines int) *batcher {
	if maxPipelines <= 0 {
		maxPipelines = defaultMaxPipelines
	}
	return &batcher{rdb: rdb, maxPipelines: maxPipelines}
}

// do runs the commands build queues, with EVALSHA (eval false) or, after
// Redis lost the scripts, EVAL (eval true); build may be called twice and
// must queue the same commands each time. It returns the first error of the
// job's commands other than redis.Nil; the caller reads its replies from the
// commands it queued. If ctx ends first do returns ctx's error; the commands
// may still run (as a sent command would).
func (b *batcher) do(ctx context.Context, build func(pipe redis.Pipeliner, eval bool)) error {
	j := &job{build: build, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, j)
	if b.running < b.maxPipelines {
		// Run one pipeline here, with this job and whatever waits with it;
		// a goroutine takes over only if more arrived meanwhile.
		b.running++
		batch := b.take(nil)
		b.mu.Unlock()
		b.exec(batch)
		b.mu.Lock()
		if len(b.pending) > 0 {
			go b.drain()
		} else {
			b.running--
		}
	}
	b.mu.Unlock()
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take moves up to maxBatch waiting jobs, oldest first, into batch; b.mu is
// held.
func (b *batcher) take(batch []*job) []*job {
	n := min(len(b.pending), maxBatch)
	batch = append(batch[:0], b.pending[:n]...)
	rest := copy(b.pending, b.pending[n:])
	clear(b.pending[rest:])
	b.pending = b.pending[:rest]
	return batch
}

// drain runs pipelines of waiting jobs until none is left.
func (b *batcher) drain() {
	var batch []*job
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		batch = b.take(batch)
		b.mu.Unlock()
		b.exec(batch)
	}
}

// exec runs the jobs in one pipeline, then the jobs whose scripts Redis had
// lost again with EVAL (which loads them), and releases each job.
func (b *batcher) exec(batch []*job) {
	// The pipeline is bounded by the client's read and write timeouts; the
	// callers' contexts bound only their own wait.
	ctx := context.Background()
	if retry := b.run(ctx, batch, false); len(retry) > 0 {
		b.run(ctx, retry, true)
	}
}

// run queues every job in one pipeline, executes it and releases the jobs
// that ran; it returns those that met NOSCRIPT (their scripts did not run;
// their other commands are idempotent).
func (b *batcher) run(ctx context.Context, jobs []*job, eval bool) []*job {
	pipe := b.rdb.Pipeline()
	ends := make([]int, len(jobs))
	for i, j := range jobs {
		j.build(pipe, eval)
		ends[i] = pipe.Len()
	}
	cmds, execErr := pipe.Exec(ctx)
	var retry []*job
	start := 0
	for i, j := range jobs {
		end := ends[i]
		j.err = nil
		noscript := false
		if end > len(cmds) { // the pipeline failed before it ran: every job fails alike
			j.err = execErr
		} else {
			for _, c := range cmds[start:end] {
				switch err := c.Err(); {
				case err == nil, errors.Is(err, redis.Nil):
				case redis.HasErrorPrefix(err, "NOSCRIPT"):
					noscript = true
				case j.err == nil:
					j.err = err
				}
			}
		}
		start = end
		if noscript {
			if !eval {
				retry = append(retry, j)
				continue
			}
			j.err = errors.New("redisstore: NOSCRIPT after EVAL")
		}
		close(j.done)
	}
	return retry
}
