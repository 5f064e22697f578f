package redisstore

import (
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// benchStore starts a real redis-server (skipping when it is missing) and
// returns a Store on it with one device holding one large session.
func benchStore(b *testing.B, sessions int) (*Store, string) {
	b.Helper()
	s := newTestStore(b, redistest.Start(b).Addr)
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
	ev := pkt(session.AcctInterim, testMAC, "bench", 0, 0, 0, t0)
	b.ReportAllocs()
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

// BenchmarkDeviceSessions reads a device with three sessions.
func BenchmarkDeviceSessions(b *testing.B) {
	s, _ := benchStore(b, 3)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		list, err := s.DeviceSessions(ctx, testMAC)
		if err != nil {
			b.Fatal(err)
		}
		if len(list) != 3 {
			b.Fatalf("%d sessions", len(list))
		}
	}
}
