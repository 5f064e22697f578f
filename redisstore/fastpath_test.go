package redisstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// TestAccountFastPathEqualsFullPath drives the same random accounting
// traffic through account.lua twice, on one real Redis under two key
// prefixes: as shipped, and with its fast path switched off so that every
// packet takes the full spill-over path. Results and every session's
// consumption must be identical, packet by packet: the fast path is only a
// cheaper way to compute the same answer. Small limits, several sessions per
// device, expiries, reordering, duplicates, counter resets, Starts and Stops
// make the full path's special cases common.
func TestAccountFastPathEqualsFullPath(t *testing.T) {
	addr := redistest.Start(t).Addr
	newStore := func(prefix string, full bool) *Store {
		rdb, err := NewClient(ClientConfig{Addrs: []string{addr}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		s, err := New(rdb, Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if full {
			src := strings.Replace(luaAccount, "if fast then", "if false then", 1)
			if src == luaAccount {
				t.Fatal(`account.lua has no "if fast then" to switch off: update this test`)
			}
			s.account = redis.NewScript(luaLib + "\n" + src)
		}
		return s
	}
	fast, full := newStore("fast:", false), newStore("full:", true)

	rng := rand.New(rand.NewPCG(1, 2))
	specs := []func() session.Spec{
		func() session.Spec { return timeSpec(uint(50 + rng.IntN(400))) },
		func() session.Spec { return dataSpec(float64(1+rng.IntN(5)) / 10) }, // 0.1–0.5 MB
		func() session.Spec { return todSpec(uint(50+rng.IntN(400)), float64(1+rng.IntN(5))/10) },
		func() session.Spec {
			sp := timeSpec(uint(50 + rng.IntN(400)))
			day := uint(1)
			sp.ExpDays = &day
			return sp
		},
	}
	var traffic []session.AcctEvent
	var macs []session.MAC
	for dev := range 40 {
		mac := session.MAC(fmt.Sprintf("02:00:00:00:01:%02x", dev))
		macs = append(macs, mac)
		for range 1 + rng.IntN(3) {
			sp := specs[rng.IntN(len(specs))]()
			for _, s := range []*Store{fast, full} {
				if _, err := mgrAt(s, t0).CreateSession(t.Context(), string(mac), sp); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A few NAS sessions, each a Start, interims and maybe a Stop, with
		// some packets replayed, reordered or reset; the clock jumps a day
		// now and then so that expiries happen.
		now := t0
		var sent []session.AcctEvent
		for ns := range 3 {
			id := fmt.Sprintf("as-%d", ns)
			var st, in, out uint64
			for i := range 30 {
				kind := session.AcctInterim
				switch {
				case i == 0 && rng.IntN(4) > 0:
					kind = session.AcctStart
				case i == 29 && rng.IntN(2) == 0:
					kind = session.AcctStop
				}
				st += uint64(rng.IntN(40))
				in += uint64(rng.IntN(30000))
				out += uint64(rng.IntN(60000))
				if rng.IntN(20) == 0 { // counters reset with the clock moving on
					in, out = uint64(rng.IntN(1000)), uint64(rng.IntN(1000))
				}
				now = now.Add(time.Duration(rng.IntN(60)) * time.Second)
				if rng.IntN(25) == 0 {
					now = now.Add(24 * time.Hour)
				}
				ev := pkt(kind, mac, id, st, in, out, now)
				sent = append(sent, ev)
				if rng.IntN(8) == 0 && len(sent) > 2 { // a replay of an older packet, at today's arrival
					old := sent[rng.IntN(len(sent)-1)]
					old.Now = now
					sent = append(sent, old)
				}
			}
		}
		traffic = append(traffic, sent...)
	}

	// The fast store first, counting the device reads (ZRANGE) it skipped.
	zranges := func() int64 {
		info, err := fast.rdb.Info(t.Context(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(info, "cmdstat_zrange:calls=")
		n, _, _ := strings.Cut(rest, ",")
		v, _ := strconv.ParseInt(n, 10, 64)
		return v
	}
	before := zranges()
	results := make([]session.AcctResult, len(traffic))
	for i, ev := range traffic {
		var err error
		if results[i], err = fast.Account(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	skipped := int64(len(traffic)) - (zranges() - before)
	for i, ev := range traffic {
		a := results[i]
		b, err := full.Account(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		strip := func(r session.AcctResult) session.AcctResult { r.Sessions = nil; return r }
		if ra, rb := strip(a), strip(b); !equalResults(ra, rb) {
			t.Fatalf("packet %d (%s %s %s st=%d in=%d out=%d now=%s):\n fast path %+v\n full path %+v",
				i, ev.MAC, ev.Kind, ev.SessionID, ev.SessionTime, ev.InputOctets, ev.OutputOctets, ev.Now.Format(time.RFC3339), ra, rb)
		}
		if len(a.Sessions) != len(b.Sessions) {
			t.Fatalf("packet %d: %d sessions returned, full path %d", i, len(a.Sessions), len(b.Sessions))
		}
	}
	for _, mac := range macs {
		la, err := fast.DeviceSessions(t.Context(), mac)
		if err != nil {
			t.Fatal(err)
		}
		lb, err := full.DeviceSessions(t.Context(), mac)
		if err != nil {
			t.Fatal(err)
		}
		for i := range la {
			if la[i].TimeCons != lb[i].TimeCons || la[i].DataConsBytes != lb[i].DataConsBytes || !la[i].StartedAt.Equal(lb[i].StartedAt) {
				t.Fatalf("device %s session %d: fast path %d s %d B started %v, full path %d s %d B started %v", mac, i,
					la[i].TimeCons, la[i].DataConsBytes, la[i].StartedAt, lb[i].TimeCons, lb[i].DataConsBytes, lb[i].StartedAt)
			}
		}
	}
	// Every key the traffic wrote (session hashes, accounting records,
	// indexes) holds the same under both prefixes.
	keysOf := func(prefix string) []string {
		ks, err := fast.rdb.Keys(t.Context(), prefix+"*").Result() // a test Redis of a few thousand keys
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ks)
		return ks
	}
	fastKeys, fullKeys := keysOf("fast:"), keysOf("full:")
	if len(fastKeys) != len(fullKeys) || len(fastKeys) == 0 {
		t.Fatalf("%d keys under fast:, %d under full:", len(fastKeys), len(fullKeys))
	}
	for i, k := range fastKeys {
		other := "full:" + strings.TrimPrefix(k, "fast:")
		if fullKeys[i] != other {
			t.Fatalf("key %s has no twin (next full: key %s)", k, fullKeys[i])
		}
		typ, err := fast.rdb.Type(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		switch typ {
		case "hash":
			a, b = fast.rdb.HGetAll(t.Context(), k).Val(), fast.rdb.HGetAll(t.Context(), other).Val()
		case "zset":
			a, b = fast.rdb.ZRangeWithScores(t.Context(), k, 0, -1).Val(), fast.rdb.ZRangeWithScores(t.Context(), other, 0, -1).Val()
		case "set":
			sa, sb := fast.rdb.SMembers(t.Context(), k).Val(), fast.rdb.SMembers(t.Context(), other).Val()
			slices.Sort(sa)
			slices.Sort(sb)
			a, b = sa, sb
		default:
			a, b = fast.rdb.Get(t.Context(), k).Val(), fast.rdb.Get(t.Context(), other).Val()
		}
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s (%s):\n fast path %v\n full path %v", k, typ, a, b)
		}
	}
	t.Logf("%d packets, %d took the fast path (no device read); %d keys identical", len(traffic), skipped, len(fastKeys))
	if skipped < int64(len(traffic))/5 || skipped == int64(len(traffic)) {
		t.Errorf("%d of %d packets took the fast path: the traffic does not exercise both paths", skipped, len(traffic))
	}
}

func equalResults(a, b session.AcctResult) bool {
	return a.Outcome == b.Outcome && a.Feeds == b.Feeds && a.Moved == b.Moved && a.NewRecord == b.NewRecord &&
		a.Left == b.Left && a.UnbilledSecs == b.UnbilledSecs && a.UnbilledBytes == b.UnbilledBytes &&
		slices.Equal(a.Charges, b.Charges)
}
