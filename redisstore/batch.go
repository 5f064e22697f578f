package redisstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
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
	build func(pipe redis.Pipeliner, eval bool) // queues the job's commands (nil for acct)
	acct  *acctCall                             // an accounting packet, which may share a script call
	err   error                                 // first error among them (not redis.Nil)
	done  chan struct{}
}

type batcher struct {
	rdb          redis.UniversalClient
	maxPipelines int
	// acct applies one accounting packet, acctBatch several (nil: every
	// packet is its own script call).
	acct, acctBatch *redis.Script
	// unbatched is set once a Redis refused acctBatch as a whole (not for a
	// packet's own error): from then on every packet is its own call.
	unbatched atomic.Bool
	// calls counts the shared script calls sent, alone the packets that
	// had to run again alone after one (for tests and diagnosis).
	calls, alone atomic.Int64
	// nodeOf names the Redis node of a key, to group packets per node
	// (batcher.node; tests replace it).
	nodeOf func(ctx context.Context, key string) any

	mu      sync.Mutex
	pending []*job
	running int
}

// newBatcher runs at most maxPipelines (Options.MaxPipelines) at once.
func newBatcher(rdb redis.UniversalClient, maxPipelines int) *batcher {
	b := &batcher{rdb: rdb, maxPipelines: maxPipelines}
	b.nodeOf = b.node
	return b
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
	return b.enqueue(&job{ctx: ctx, build: build, done: make(chan struct{})})
}

// account applies one accounting packet: alone or, with other packets
// waiting for the same Redis node, in one script call (account_batch.lua);
// c.reply is account.lua's reply. Errors as do's.
func (b *batcher) account(ctx context.Context, c *acctCall) error {
	return b.enqueue(&job{ctx: ctx, acct: c, done: make(chan struct{})})
}

func (b *batcher) enqueue(j *job) error {
	ctx := j.ctx
	if err := ctx.Err(); err != nil {
		return err
	}
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
	if alone := b.runAll(ctx, batch, b.acctBatch != nil && !b.unbatched.Load()); len(alone) > 0 {
		b.alone.Add(int64(len(alone)))
		b.runAll(ctx, alone, false)
	}
}

// runAll runs the jobs in one pipeline and those that met NOSCRIPT again
// with EVAL; it returns the accounting jobs to run again alone (batched
// only: see run).
func (b *batcher) runAll(ctx context.Context, jobs []*job, batched bool) []*job {
	retry, alone := b.run(ctx, jobs, false, batched)
	if len(retry) > 0 {
		_, more := b.run(ctx, retry, true, batched)
		alone = append(alone, more...)
	}
	return alone
}

// run queues every job in one pipeline, executes it and releases the jobs
// that ran; it returns those that met NOSCRIPT (their scripts did not run;
// their other commands are idempotent) and, when batched, the accounting
// packets that could not run in a shared call (a Cluster slot that moved,
// or a Redis that refused the batch script): they run again alone, which is
// safe because a packet that failed wrote nothing and a packet is
// idempotent anyway.
func (b *batcher) run(ctx context.Context, jobs []*job, eval, batched bool) (retry, alone []*job) {
	pipe := b.rdb.Pipeline()
	ends := make([]int, len(jobs))
	var calls []*job // accounting jobs, queued after the others
	for i, j := range jobs {
		if j.acct != nil {
			calls = append(calls, j)
		} else {
			j.build(pipe, eval)
		}
		ends[i] = pipe.Len()
	}
	groups := b.queueAcct(ctx, pipe, calls, eval, batched)
	cmds, execErr := pipe.Exec(ctx)
	start := 0
	for i, j := range jobs {
		end := ends[i]
		j.err = nil
		if j.acct != nil {
			continue
		}
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
	for _, g := range groups {
		r, a := b.settle(g, eval)
		retry = append(retry, r...)
		alone = append(alone, a...)
	}
	return retry, alone
}
