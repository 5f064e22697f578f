package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Several accounting packets per script call. A script call has a fixed cost
// in Redis (its keys and arguments turned into Lua tables, the helpers'
// closures, the reply) that a lone packet pays in full. The batcher puts the
// accounting packets of one pipeline that go to the same Redis node (all of
// them on a standalone Redis or Sentinel; those of one master's slots on a
// Cluster) into one call of account_batch.lua, which applies each packet in
// turn with account.lua's own function, each on its own (a packet's error
// is its own, and it wrote nothing). The NAS-wide indexes each packet
// updates (the NAS's open records, the enforcement schedule) are merged
// into one command per index in the same pipeline.
//
// Packets that cannot share a call run again alone: on a Cluster, a packet
// whose slot is not on the node the call reached (a slot that moved, a
// migration under way); and every packet from the moment a Redis refused
// the batch script as a whole (then batching stays off for this Store).

// maxScriptBatch packets at most in one script call: bounds the time one
// call holds Redis (a few hundred microseconds) and its reply.
const maxScriptBatch = 64

// acctCall is one accounting packet for the batcher: account.lua's keys and
// arguments, the index commands that go with it, and, once run, the
// script's reply.
type acctCall struct {
	keys  []string
	args  []any
	index []indexOp
	reply any
	// What keys, args and index hold (Store.acctCall): one allocation.
	keyArr [4]string
	strs   [26]string
	nums   [4]int64
	argArr [26]any
	idxArr [2]indexOp
}

// indexOp is one change of a NAS-wide sorted set: ZADD member score, or ZREM
// member.
type indexOp struct {
	key    string
	add    bool
	member string
	score  float64
}

// acctGroup is one script call and the packets it carries.
type acctGroup struct {
	jobs    []*job
	batched bool // account_batch.lua, else account.lua for the one packet
	cmd     *redis.Cmd
	index   []indexRun // the index commands, shared by every group of the pipeline
}

// indexRun is consecutive ops of one kind on one index, as one command.
type indexRun struct {
	cmd  redis.Cmder
	jobs []*job
}

// queueAcct queues the accounting jobs' script calls, grouped by Redis node
// when batched, then their index commands; it returns the groups for settle.
func (b *batcher) queueAcct(ctx context.Context, pipe redis.Pipeliner, jobs []*job, eval, batched bool) []*acctGroup {
	if len(jobs) == 0 {
		return nil
	}
	_, cluster := b.rdb.(*redis.ClusterClient)
	var groups []*acctGroup
	if !batched {
		for _, j := range jobs {
			groups = append(groups, &acctGroup{jobs: []*job{j}})
		}
	} else {
		byNode := map[any]*acctGroup{}
		for _, j := range jobs {
			node := b.nodeOf(ctx, j.acct.keys[0])
			g := byNode[node]
			if g == nil || len(g.jobs) == maxScriptBatch {
				g = &acctGroup{}
				byNode[node] = g
				groups = append(groups, g)
			}
			g.jobs = append(g.jobs, j)
		}
	}
	for _, g := range groups {
		if len(g.jobs) == 1 {
			c := g.jobs[0].acct
			g.cmd = evalScript(ctx, pipe, b.acct, eval, c.keys, c.args...)
			continue
		}
		g.batched = true
		n := 1
		for _, j := range g.jobs {
			n += 2 + len(j.acct.keys) + len(j.acct.args)
		}
		args := make([]any, 0, n)
		args = append(args, flag(cluster))
		for _, j := range g.jobs {
			c := j.acct
			args = append(args, len(c.keys), len(c.args))
			for i := range c.keys {
				args = append(args, &c.keys[i]) // a pointer: no allocation
			}
			args = append(args, c.args...)
		}
		g.cmd = evalScript(ctx, pipe, b.acctBatch, eval, g.jobs[0].acct.keys[:1], args...)
	}
	runs := queueIndex(ctx, pipe, jobs)
	for _, g := range groups {
		g.index = runs
	}
	return groups
}

// node names the Redis node a key lives on, for grouping: nil for every key
// on a standalone Redis or Sentinel (and when a Cluster's map is not known
// yet: go-redis routes the call by its first key, and packets elsewhere run
// again alone).
func (b *batcher) node(ctx context.Context, key string) any {
	cc, ok := b.rdb.(*redis.ClusterClient)
	if !ok {
		return nil
	}
	m, err := cc.MasterForKey(ctx, key)
	if err != nil {
		return nil
	}
	return m
}

// queueIndex queues the jobs' index ops, consecutive ops of one kind on one
// index merged into one command (per index, the order of the packets is
// kept).
func queueIndex(ctx context.Context, pipe redis.Pipeliner, jobs []*job) []indexRun {
	type run struct {
		key     string
		add     bool
		zs      []redis.Z
		members []any
		jobs    []*job
	}
	var order []*run
	last := map[string]*run{}
	for _, j := range jobs {
		for k := range j.acct.index {
			op := &j.acct.index[k]
			r := last[op.key]
			if r == nil || r.add != op.add {
				r = &run{key: op.key, add: op.add}
				last[op.key] = r
				order = append(order, r)
			}
			// Members by pointer (go-redis writes *string): no allocation.
			if op.add {
				r.zs = append(r.zs, redis.Z{Score: op.score, Member: &op.member})
			} else {
				r.members = append(r.members, &op.member)
			}
			if len(r.jobs) == 0 || r.jobs[len(r.jobs)-1] != j {
				r.jobs = append(r.jobs, j)
			}
		}
	}
	out := make([]indexRun, len(order))
	for i, r := range order {
		if r.add {
			out[i] = indexRun{cmd: pipe.ZAdd(ctx, r.key, r.zs...), jobs: r.jobs}
		} else {
			out[i] = indexRun{cmd: pipe.ZRem(ctx, r.key, r.members...), jobs: r.jobs}
		}
	}
	return out
}

// settle reads a group's replies after the pipeline ran: it releases the
// jobs that are done and returns those to run again with EVAL (NOSCRIPT)
// and those to run again alone.
func (b *batcher) settle(g *acctGroup, eval bool) (retry, alone []*job) {
	indexErr := func(j *job) error {
		for _, r := range g.index {
			if err := r.cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
				for _, x := range r.jobs {
					if x == j {
						return err
					}
				}
			}
		}
		return nil
	}
	release := func(j *job, reply any, err error) {
		j.acct.reply = reply
		if err == nil {
			err = indexErr(j)
		}
		j.err = err
		close(j.done)
	}
	err := g.cmd.Err()
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		if !eval {
			return g.jobs, nil
		}
		for _, j := range g.jobs {
			release(j, nil, errors.New("redisstore: NOSCRIPT after EVAL"))
		}
		return nil, nil
	}
	if !g.batched {
		release(g.jobs[0], g.cmd.Val(), err)
		return nil, nil
	}
	if err != nil {
		if isRedirect(err) {
			return nil, g.jobs
		}
		if isNetwork(err) || isTransient(err) {
			for _, j := range g.jobs {
				release(j, nil, err)
			}
			return nil, nil
		}
		// A Redis that refuses the batch script itself (not a packet's
		// error, which comes back in the reply, nor a passing state such as
		// loading or a failover): account alone from now on.
		b.unbatched.Store(true)
		return nil, g.jobs
	}
	b.calls.Add(1)
	replies, ok := g.cmd.Val().([]any)
	if !ok || len(replies) != len(g.jobs) {
		b.unbatched.Store(true)
		return nil, g.jobs
	}
	for i, j := range g.jobs {
		if e, ok := batchError(replies[i]); ok {
			if isRedirect(errors.New(e)) {
				alone = append(alone, j)
				continue
			}
			release(j, nil, fmt.Errorf("redisstore: %s", e))
			continue
		}
		release(j, replies[i], nil)
	}
	return nil, alone
}

// batchError returns the message of a packet's {'error', message} reply.
func batchError(v any) (string, bool) {
	l, ok := v.([]any)
	if !ok || len(l) != 2 {
		return "", false
	}
	if s, _ := l[0].(string); s != "error" {
		return "", false
	}
	msg, _ := l[1].(string)
	return msg, true
}

// isRedirect reports a Cluster error that says the keys are not (all) on
// the node the call reached: the call or packet did not run there.
func isRedirect(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"MOVED", "ASK", "CROSSSLOT", "TRYAGAIN", "CLUSTERDOWN"} {
		if redis.HasErrorPrefix(err, p) || strings.Contains(msg, " "+p+" ") {
			return true
		}
	}
	return strings.Contains(msg, "non local key") || strings.Contains(msg, "hash to the same slot")
}

// isTransient reports a Redis error any call would meet now and not later
// (loading, busy, a replica after a failover, out of memory): the packets
// fail as they would alone, and batching stays on.
func isTransient(err error) bool {
	for _, p := range []string{"LOADING", "BUSY", "READONLY", "MASTERDOWN", "OOM", "NOREPLICAS", "NOPERM"} {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	return false
}

// isNetwork reports an error that is not a Redis reply (a connection
// error, a timeout): the call's fate is unknown.
func isNetwork(err error) bool {
	var re redis.Error
	return !errors.As(err, &re)
}
