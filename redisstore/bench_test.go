package redisstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// benchStore starts a real redis-server (skipping when it is missing) and
// returns a Store on it with one device holding one large session.
func benchStore(b *testing.B, sessions int) (*Store, string) {
	b.Helper()
	s := newTestStore(b, benchRedis(b))
	flushAll(b, s)
	mgr := session.NewSessionsMgr(s, func() time.Time { return t0 })
	var id string
	for range sessions {
		cs, err := mgr.CreateSession(b.Context(), string(testMAC), todSpec(1<<40, 1e9))
		if err != nil {
			b.Fatal(err)
		}
		id = cs.ID()
	}
	return s, id
}

func BenchmarkSave(b *testing.B) {
	s, id := benchStore(b, 1)
	cs, err := session.NewSessionsMgr(s, func() time.Time { return t0 }).GetSession(b.Context(), id)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		cs.IncTimeCons(1)
		if err := cs.Save(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAccountInterim(b *testing.B) {
	s, _ := benchStore(b, 1)
	ctx := b.Context()
	ev := benchPkt(testMAC)
	b.ReportAllocs()
	defer redisCPU(b, s)()
	for b.Loop() {
		ev.SessionTime++
		ev.InputOctets += 1500
		ev.OutputOctets += 15000
		ev.EventTime = ev.EventTime.Add(time.Second)
		ev.Now = ev.EventTime
		res, err := s.Account(ctx, ev)
		if err != nil {
			b.Fatal(err)
		}
		if res.Outcome != session.AcctApplied {
			b.Fatalf("outcome %v", res.Outcome)
		}
	}
}

// BenchmarkDeviceSessions reads a device with one and with three sessions
// (the Access-Request's read, one round trip each).
func BenchmarkDeviceSessions(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			s, _ := benchStore(b, n)
			ctx := b.Context()
			b.ReportAllocs()
			defer redisCPU(b, s)()
			for b.Loop() {
				list, err := s.DeviceSessions(ctx, testMAC)
				if err != nil {
					b.Fatal(err)
				}
				if len(list) != n {
					b.Fatalf("%d sessions, want %d", len(list), n)
				}
			}
		})
	}
}

// benchRedis is the address of the Redis the benchmarks use: a fresh
// redis-server, or HSRADIUS_BENCH_REDIS (host:port), e.g. one running under
// valgrind --tool=callgrind to count the instructions a script costs. That
// Redis is flushed.
func benchRedis(b *testing.B) string {
	if addr := os.Getenv("HSRADIUS_BENCH_REDIS"); addr != "" {
		return addr
	}
	return redistest.Start(b).Addr
}

// redisCPU returns a function that reports, as the metric redis-µs/op, the
// CPU time (user + system) the Redis server spent per benchmark operation
// since redisCPU was called: what each call costs Redis, whatever the wall
// clock of a shared machine says.
func redisCPU(b *testing.B, s *Store) func() {
	b.Helper()
	read := func() float64 {
		info, err := s.rdb.Info(b.Context(), "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var total float64
		for _, line := range strings.Split(info, "\r\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatalf("INFO cpu %s: %v", line, err)
				}
				total += f
			}
		}
		return total
	}
	start := read()
	return func() {
		b.ReportMetric((read()-start)*1e6/float64(b.N), "redis-µs/op")
	}
}

// BenchmarkAccountInterimParallel sends interims for many devices from many
// goroutines at once, as a loaded server does: the batcher puts them in
// shared pipelines. redis-µs/op is Redis's CPU per packet.
func BenchmarkAccountInterimParallel(b *testing.B) {
	s := benchDevices(b, parallelDevices)
	var next atomic.Int64
	b.SetParallelism(32) // 64 packets in flight on 2 cores, as hsload -concurrency 64
	b.ReportAllocs()
	report := redisCPU(b, s)
	b.RunParallel(func(pb *testing.PB) {
		k := int(next.Add(1)-1) % parallelDevices // one device per goroutine at a time
		ev := benchPkt(benchMAC(k))
		ctx := b.Context()
		for pb.Next() {
			ev.SessionTime++
			ev.InputOctets += 1500
			ev.OutputOctets += 15000
			ev.EventTime = ev.EventTime.Add(time.Second)
			ev.Now = ev.EventTime
			res, err := s.Account(ctx, ev)
			if err != nil {
				b.Error(err)
				return
			}
			if res.Outcome != session.AcctApplied {
				b.Errorf("outcome %v", res.Outcome)
				return
			}
		}
	})
	report()
}

// BenchmarkDeviceSessionsParallel is the Access-Request's read, from many
// goroutines at once.
func BenchmarkDeviceSessionsParallel(b *testing.B) {
	s := benchDevices(b, parallelDevices)
	var next atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	report := redisCPU(b, s)
	b.RunParallel(func(pb *testing.PB) {
		mac := benchMAC(int(next.Add(1)-1) % parallelDevices)
		ctx := b.Context()
		for pb.Next() {
			list, err := s.DeviceSessions(ctx, mac)
			if err != nil || len(list) != 1 {
				b.Errorf("%d sessions, %v", len(list), err)
				return
			}
		}
	})
	report()
}

// parallelDevices: the parallel benchmarks' goroutines each take one device.
const parallelDevices = 1024

// benchDevices returns a Store on an empty Redis with one large session on
// each of n devices (benchMAC(0) to benchMAC(n-1)).
func benchDevices(b *testing.B, n int) *Store {
	b.Helper()
	s := newTestStore(b, benchRedis(b))
	flushAll(b, s)
	mgr := session.NewSessionsMgr(s, func() time.Time { return t0 })
	for k := range n {
		if _, err := mgr.CreateSession(b.Context(), string(benchMAC(k)), todSpec(1<<40, 1e9)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func benchMAC(k int) session.MAC {
	return session.MAC(fmt.Sprintf("02:00:00:%02x:%02x:%02x", k>>16&0xff, k>>8&0xff, k&0xff))
}

// BenchmarkAccountBatch sends the interims of size devices as one batch
// (one pipeline; one script call when batching is on): one op is one
// batch, so Redis's instructions per interim are its instructions per op
// divided by size (BENCHMARKS.md, "Where the time goes").
func BenchmarkAccountBatch(b *testing.B) {
	for _, size := range []int{1, 8, 32, 64} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			s, evs, jobs, calls := benchBatchSetup(b, size)
			b.ReportAllocs()
			report := redisCPU(b, s)
			for b.Loop() {
				for k := range evs {
					ev := &evs[k]
					ev.SessionTime++
					ev.InputOctets += 1500
					ev.OutputOctets += 15000
					ev.EventTime = ev.EventTime.Add(time.Second)
					ev.Now = ev.EventTime
				}
				applyBatch(b, s, evs, jobs, calls)
			}
			report()
		})
	}
}

// benchBatchSetup returns a Store with size devices (benchDevices), an
// interim of each (benchPkt), and the slices applyBatch fills.
func benchBatchSetup(b *testing.B, size int) (*Store, []session.AcctEvent, []*job, []*acctCall) {
	s := benchDevices(b, size)
	evs := make([]session.AcctEvent, size)
	for k := range evs {
		evs[k] = benchPkt(benchMAC(k))
	}
	return s, evs, make([]*job, size), make([]*acctCall, size)
}

// applyBatch sends evs as one batch (one pipeline; one script call when
// batching is on), through jobs and calls (len(evs) each), and requires
// every packet applied.
func applyBatch(b *testing.B, s *Store, evs []session.AcctEvent, jobs []*job, calls []*acctCall) {
	for k := range evs {
		c, _, err := s.acctCall(evs[k])
		if err != nil {
			b.Fatal(err)
		}
		calls[k] = c
		jobs[k] = &job{ctx: b.Context(), acct: c, done: make(chan struct{})}
	}
	s.batch.exec(jobs)
	for k, j := range jobs {
		if j.err != nil {
			b.Fatal(j.err)
		}
		res, err := acctReply(calls[k], evs[k].Kind.String(), evs[k])
		if err != nil || res.Outcome != session.AcctApplied {
			b.Fatalf("%s: outcome %v, %v", evs[k].Kind, res.Outcome, err)
		}
	}
}

// benchPkt is an Interim-Update as a MikroTik sends it (README "Attributes
// sent"): the NAS's attributes the record keeps, our Class echoed,
// Gigawords, the default counter policy. A record of this NAS holds about
// 21 fields, which is what the script's reads cost in production.
func benchPkt(mac session.MAC) session.AcctEvent {
	ev := pkt(session.AcctInterim, mac, "81a00001", 0, 0, 0, t0)
	ev.NASAttrs = session.NASAttrs{UserName: mac.Hex(), CallingStationID: strings.ToUpper(strings.ReplaceAll(string(mac), ":", "-")),
		FramedIP: "10.5.50.17", NASIP: "192.0.2.10", NASIdentifier: "hotspot-lobby", SourceIP: "192.0.2.10"}
	ev.Class = "hsr1:bench:" + mac.Hex()
	ev.Gigawords = true
	ev.Policy = session.AcctPolicy{RetransmitWindow: 2 * time.Minute, Wrap32: true}
	return ev
}

// BenchmarkAccountKinds measures what mixed traffic adds to interims: one
// op is one batch of size devices' packets of one kind. kind=start: every
// device's NAS session begins (a new Acct-Session-Id, the previous one
// stopped in the same op's second batch: startstop); kind=interim: as
// AccountBatch. Instructions per Start+Stop = per op ÷ size.
func BenchmarkAccountKinds(b *testing.B) {
	const size = 32
	for _, kind := range []string{"startstop", "start", "interim"} {
		b.Run("kind="+kind, func(b *testing.B) {
			s, evs, jobs, calls := benchBatchSetup(b, size)
			n := 0
			batch := func(kind session.AcctKind) {
				for k := range evs {
					evs[k].Kind = kind
				}
				applyBatch(b, s, evs, jobs, calls)
			}
			b.ReportAllocs()
			report := redisCPU(b, s)
			for b.Loop() {
				n++
				for k := range evs {
					ev := &evs[k]
					ev.EventTime = ev.EventTime.Add(time.Minute)
					ev.Now = ev.EventTime
					if kind != "interim" {
						ev.SessionID = fmt.Sprintf("%08x", n)
						ev.Class = fmt.Sprintf("hsr1:bench%d:%s", n, benchMAC(k).Hex())
						ev.SessionTime, ev.InputOctets, ev.OutputOctets = 0, 0, 0
					} else {
						ev.SessionTime++
						ev.InputOctets += 1500
						ev.OutputOctets += 15000
					}
				}
				if kind == "interim" {
					batch(session.AcctInterim)
					continue
				}
				batch(session.AcctStart)
				if kind == "start" {
					continue
				}
				for k := range evs {
					evs[k].SessionTime, evs[k].InputOctets, evs[k].OutputOctets = 60, 150000, 1500000
				}
				batch(session.AcctStop)
			}
			report()
		})
	}
}
