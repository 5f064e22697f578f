package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/session"
)

// createWorkers is how many CreateSession calls are in flight: each is one
// round trip, so throughput comes from concurrency (the go-redis pool
// matches it).
const createWorkers = 64

// Allocations of the created sessions: large enough that a bounded run
// cannot use them up, so the server accepts every device throughout.
const (
	createTimeSecs = 24 * 60 * 60 // a 1-day time session
	createDataMb   = 1e9          // 10^15 bytes, below Redis scripts' 2^53
)

// created reports the sessions made before the run.
type created struct {
	Sessions int     `json:"sessions"`
	Type     string  `json:"type"`
	Secs     float64 `json:"secs"`
}

// createSessions creates one session of type t per device through the
// SessionsMgr, as an operator's tooling would.
func createSessions(ctx context.Context, addr, prefix string, t session.Type, devices []device) (created, error) {
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{
		Addrs: []string{addr}, PoolSize: createWorkers,
		DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
	})
	if err != nil {
		return created{}, err
	}
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if err != nil {
		return created{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = store.Ping(pctx)
	cancel()
	if err != nil {
		return created{}, fmt.Errorf("-create-sessions: redis %s does not answer: %w", addr, err)
	}
	mgr := session.NewSessionsMgr(store, time.Now)
	spec := session.Spec{Type: t, UseGlobalSpeed: true}
	if t == session.TypeData {
		spec.DataMb = createDataMb
	} else {
		spec.TimeSecs = createTimeSecs
	}

	ctx, cancel = context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(createWorkers, len(devices)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(devices) || ctx.Err() != nil {
					return
				}
				if _, err := mgr.CreateSession(ctx, string(devices[i].mac[:]), spec); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return created{}, fmt.Errorf("-create-sessions: %w", firstErr)
	}
	return created{Sessions: len(devices), Type: t.String(), Secs: time.Since(start).Seconds()}, nil
}
