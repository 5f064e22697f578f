package redisstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
//
// A third store takes the same traffic in batches (several packets of
// several devices per script call, account_batch.lua, in the order the
// devices sent them): each packet's result and every key must be identical
// to the packet applied alone.
//
// A fourth store has each packet meet its record as written before records
// held opt (the list of optional fields a record holds, README "The Redis
// schema"): its opt is deleted before every packet, so every packet reads
// the record whole and upgrades it. Results and keys must be identical:
// the upgrade reads old records right and leaves what the script keeps.
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
			// and its hot lane: the full store runs the full path only.
			nohot := strings.Replace(src, "local hot_lane = true", "local hot_lane = false", 1)
			if nohot == src {
				t.Fatal(`account.lua has no "local hot_lane = true" to switch off: update this test`)
			}
			src = nohot
			s.setAccount(luaLib, src)
		}
		return s
	}
	fast, full, batched := newStore("fast:", false), newStore("full:", true), newStore("batch:", false)
	legacy, mainRec := newStore("legacy:", false), newStore("mainrec:", false)
	// The fast store counts the packets its hot lane took, in a key outside
	// every store's prefix (the batched store runs the script as shipped).
	const hotCount = "fastpath-test:hot-lane"
	hotSrc := strings.Replace(luaAccount, "        return 'applied ' .. h_sess",
		"        redis.call('HINCRBY', '"+hotCount+"', kind, 1)\n        return 'applied ' .. h_sess", 1)
	if hotSrc == luaAccount {
		t.Fatal(`account.lua's hot lane has no "return 'applied ' .. h_sess" to count: update this test`)
	}
	fast.setAccount(luaLib, hotSrc)
	if err := fast.rdb.Del(t.Context(), hotCount).Err(); err != nil {
		t.Fatal(err)
	}

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
	var perDevice [][]int // indexes in traffic, per device
	var macs []session.MAC
	for dev := range 40 {
		mac := session.MAC(fmt.Sprintf("02:00:00:00:01:%02x", dev))
		macs = append(macs, mac)
		for range 1 + rng.IntN(3) {
			sp := specs[rng.IntN(len(specs))]()
			for _, s := range []*Store{fast, full, batched, legacy, mainRec} {
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
			// Some NAS sessions echo a Class, send Gigawords, trust their
			// clock: the record's optional fields (opt) come and go with them.
			class := ""
			if rng.IntN(2) == 0 {
				class = fmt.Sprintf("hsr1:t:%d-%d", dev, ns)
			}
			gw, nasClock := rng.IntN(2) == 0, rng.IntN(3) == 0
			// Some report like pfSense (Stop/Start updates): their Stops
			// and Starts are segments, which only the full path counts.
			updates := session.AcctUpdatesInterim
			switch rng.IntN(8) {
			case 0:
				updates = session.AcctUpdatesStopStart
			case 1:
				updates = session.AcctUpdatesStopStartReset
			}
			for i := range 30 {
				kind := session.AcctInterim
				switch {
				case i == 0 && rng.IntN(4) > 0:
					kind = session.AcctStart
				case i == 29 && rng.IntN(2) == 0:
					kind = session.AcctStop
				case i > 0 && rng.IntN(15) == 0: // a Stop, then packets after it
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
				ev.Class, ev.Gigawords, ev.NASClock = class, gw, nasClock
				ev.Policy = session.AcctPolicy{RetransmitWindow: 2 * time.Minute, Wrap32: true, Updates: updates}
				sent = append(sent, ev)
				if rng.IntN(8) == 0 && len(sent) > 2 { // a replay of an older packet, at today's arrival
					old := sent[rng.IntN(len(sent)-1)]
					old.Now = now
					sent = append(sent, old)
				}
			}
		}
		var mine []int
		for i := range sent {
			mine = append(mine, len(traffic)+i)
		}
		perDevice = append(perDevice, mine)
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
	upgraded := 0
	for i, ev := range traffic {
		a := results[i]
		b, err := full.Account(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		n, err := legacy.rdb.HDel(t.Context(), legacy.keys.record(ev.MAC, ev.NAS, ev.SessionID), "opt").Result()
		if err != nil {
			t.Fatal(err)
		}
		upgraded += int(n)
		// A record written before issue 12 has neither opt nor hot.
		if err := legacy.rdb.HDel(t.Context(), legacy.keys.record(ev.MAC, ev.NAS, ev.SessionID), "hot").Err(); err != nil {
			t.Fatal(err)
		}
		c, err := legacy.Account(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		// A record written before the hot lane (opt, no hot): upgraded by
		// the full path at its next packet.
		if err := mainRec.rdb.HDel(t.Context(), mainRec.keys.record(ev.MAC, ev.NAS, ev.SessionID), "hot").Err(); err != nil {
			t.Fatal(err)
		}
		d, err := mainRec.Account(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if !equalResults(a, d) || len(a.Sessions) != len(d.Sessions) {
			t.Fatalf("packet %d (%s %s %s st=%d): %+v\n on a record without hot %+v", i, ev.MAC, ev.Kind, ev.SessionID, ev.SessionTime, a, d)
		}
		if !equalResults(a, c) || len(a.Sessions) != len(c.Sessions) {
			t.Fatalf("packet %d (%s %s %s st=%d): %+v\n on a record without opt %+v", i, ev.MAC, ev.Kind, ev.SessionID, ev.SessionTime, a, c)
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
	// The batched store: the devices' packets interleaved, each device's in
	// its order, in batches of 1 to 80 (more than one script call holds).
	var order []int
	for k := 0; len(order) < len(traffic); k++ {
		for _, mine := range perDevice {
			if k < len(mine) {
				order = append(order, mine[k])
			}
		}
	}
	batchCalls := batched.batch.calls.Load()
	for len(order) > 0 {
		n := min(len(order), 1+rng.IntN(80))
		jobs := make([]*job, n)
		calls := make([]*acctCall, n)
		kinds := make([]string, n)
		for k, i := range order[:n] {
			var err error
			if calls[k], kinds[k], err = batched.acctCall(traffic[i]); err != nil {
				t.Fatal(err)
			}
			jobs[k] = &job{ctx: t.Context(), acct: calls[k], done: make(chan struct{})}
		}
		batched.batch.exec(jobs)
		for k, i := range order[:n] {
			if jobs[k].err != nil {
				t.Fatalf("packet %d in a batch: %v", i, jobs[k].err)
			}
			b, err := acctReply(calls[k], kinds[k], traffic[i])
			if err != nil {
				t.Fatal(err)
			}
			if a := results[i]; !equalResults(a, b) || len(a.Sessions) != len(b.Sessions) {
				t.Fatalf("packet %d (%s %s %s st=%d) alone %+v\n in a batch %+v", i, traffic[i].MAC, traffic[i].Kind,
					traffic[i].SessionID, traffic[i].SessionTime, a, b)
			}
		}
		order = order[n:]
	}
	if batchCalls == batched.batch.calls.Load() || batched.batch.alone.Load() != 0 {
		t.Errorf("batched store: %d shared script calls, %d packets alone: want shared calls only",
			batched.batch.calls.Load()-batchCalls, batched.batch.alone.Load())
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
	upgradedKept := 0 // records of the legacy store that were upgraded last
	hotKept := 0      // records of the mainrec store that got their hot at their last packet
	same := func(pa, pb string) int {
		aKeys, bKeys := keysOf(pa), keysOf(pb)
		if len(aKeys) != len(bKeys) || len(aKeys) == 0 {
			t.Fatalf("%d keys under %s, %d under %s", len(aKeys), pa, len(bKeys), pb)
		}
		for i, k := range aKeys {
			other := pb + strings.TrimPrefix(k, pa)
			if bKeys[i] != other {
				t.Fatalf("key %s has no twin (next %s key %s)", k, pb, bKeys[i])
			}
			typ, err := fast.rdb.Type(t.Context(), k).Result()
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			switch typ {
			case "hash":
				ha, hb := fast.rdb.HGetAll(t.Context(), k).Val(), fast.rdb.HGetAll(t.Context(), other).Val()
				if _, ok := hb["opt"]; !ok && pb == "legacy:" {
					delete(ha, "opt") // its last packet wrote nothing (stale): not upgraded
				} else if ok && pb == "legacy:" {
					upgradedKept++
				}
				if _, ok := hb["hot"]; !ok && (pb == "legacy:" || pb == "mainrec:") {
					delete(ha, "hot") // its hot was deleted before its last packet, which wrote nothing
				} else if ok && pb == "mainrec:" {
					hotKept++
				}
				a, b = ha, hb
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
				t.Errorf("%s (%s):\n %s %v\n %s %v", k, typ, pa, a, pb, b)
			}
		}
		return len(aKeys)
	}
	nkeys := same("fast:", "full:")
	same("fast:", "batch:")
	same("fast:", "legacy:")
	same("fast:", "mainrec:")
	lane, err := fast.rdb.HGetAll(t.Context(), hotCount).Result()
	if err != nil {
		t.Fatal(err)
	}
	laneInterims, _ := strconv.ParseInt(lane["interim"], 10, 64)
	laneStops, _ := strconv.ParseInt(lane["stop"], 10, 64)
	hot := laneInterims + laneStops
	t.Logf("%d packets took the hot lane (%d interims, %d Stops; other kinds %v)", hot, laneInterims, laneStops, lane)
	if laneStops == 0 || len(lane) != 2 {
		t.Errorf("hot lane by kind %v: want interims and Stops, nothing else", lane)
	}
	if hotKept == 0 {
		t.Error("no record of the mainrec store got its hot field at its last packet")
	}
	if hot < int64(len(traffic))/20 || hot >= skipped {
		t.Errorf("%d of %d packets took the hot lane (%d the fast path or the lane): the traffic does not exercise both", hot, len(traffic), skipped)
	}
	if upgradedKept == 0 {
		t.Error("no record of the legacy store was upgraded by its last packet")
	}
	if upgraded < len(traffic)/2 {
		t.Errorf("%d of %d packets met a record without opt: want most", upgraded, len(traffic))
	}
	t.Logf("%d packets, %d took the fast path (no device read); %d keys identical", len(traffic), skipped, nkeys)
	if skipped < int64(len(traffic))/5 || skipped == int64(len(traffic)) {
		t.Errorf("%d of %d packets took the fast path: the traffic does not exercise both paths", skipped, len(traffic))
	}
}

func equalResults(a, b session.AcctResult) bool {
	return a.Outcome == b.Outcome && a.Feeds == b.Feeds && a.Moved == b.Moved && a.NewRecord == b.NewRecord &&
		a.Left == b.Left && a.UnbilledSecs == b.UnbilledSecs && a.UnbilledBytes == b.UnbilledBytes &&
		slices.Equal(a.Charges, b.Charges)
}
