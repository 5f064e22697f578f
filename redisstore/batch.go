package redisstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

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

// maxBatch jobs in one pipeline: bounds the time one pipeline holds Redis
// (a few milliseconds) and the buffers.
const maxBatch = 128

type job struct {
	ctx   context.Context                       // the caller's: bounds its wait and the pipeline
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

// newBatcher runs at most maxPipelines (Options.MaxPipelines) at once.
func newBatcher(rdb redis.UniversalClient, maxPipelines int) *batcher {
	return &batcher{rdb: rdb, maxPipelines: maxPipelines}
}

// do runs the commands build queues, with EVALSHA (eval false) or, after
// Redis lost the scripts, EVAL (eval true); build may be called twice and
// must queue the same commands each time. It returns the first error of the
// job's commands other than redis.Nil; the caller reads its replies from the
// commands it queued. If ctx ends first do returns ctx's error: a job still
// waiting is taken out of the queue (a stalled Redis must not pile up work
// for when it returns; the NAS retries), one already sent may still run (as
// a sent command would).
func (b *batcher) do(ctx context.Context, build func(pipe redis.Pipeliner, eval bool)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &job{ctx: ctx, build: build, done: make(chan struct{})}
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
	select { // done first: after exec both may be ready, and select picks at random
	case <-j.done:
		return j.err
	default:
	}
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		b.abandon(j)
		return ctx.Err()
	}
}

// abandon takes j out of the queue if it is still there.
func (b *batcher) abandon(j *job) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.pending, j); i >= 0 {
		b.pending = slices.Delete(b.pending, i, i+1)
	}
}

// evalScript queues sc with EVALSHA, or with EVAL when eval is set (do's
// second call of build, after Redis lost its scripts).
func evalScript(ctx context.Context, pipe redis.Pipeliner, sc *redis.Script, eval bool, keys []string, args ...any) *redis.Cmd {
	if eval {
		return sc.Eval(ctx, pipe, keys, args...)
	}
	return sc.EvalSha(ctx, pipe, keys, args...)
}

// take moves up to maxBatch waiting jobs, oldest first, into batch,
// releasing those whose caller's context has ended; b.mu is held.
func (b *batcher) take(batch []*job) []*job {
	batch = batch[:0]
	i := 0
	for ; i < len(b.pending) && len(batch) < maxBatch; i++ {
		j := b.pending[i]
		if err := j.ctx.Err(); err != nil {
			j.err = err
			close(j.done)
			continue
		}
		batch = append(batch, j)
	}
	rest := copy(b.pending, b.pending[i:])
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
// lost again with EVAL (which loads them), and releases each job. The
// pipeline is bounded by the latest of the callers' deadlines (and by the
// client's read and write timeouts).
func (b *batcher) exec(batch []*job) {
	if len(batch) == 0 {
		return
	}
	var latest time.Time
	for _, j := range batch {
		d, ok := j.ctx.Deadline()
		if !ok {
			latest = time.Time{}
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !latest.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, latest)
	}
	defer cancel()
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
		if end > len(cmds) { // defensive: go-redis returns every queued command, each with its error
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
