package redisstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/session"
)

// accountBatch applies evs as one batch (one pipeline; one script call per
// Redis node when batching is on) and returns each packet's result or
// error, in order.
func accountBatch(t *testing.T, s *Store, evs []session.AcctEvent) ([]session.AcctResult, []error) {
	t.Helper()
	jobs := make([]*job, len(evs))
	calls := make([]*acctCall, len(evs))
	kinds := make([]string, len(evs))
	for i, ev := range evs {
		var err error
		if calls[i], kinds[i], err = s.acctCall(ev); err != nil {
			t.Fatal(err)
		}
		jobs[i] = &job{ctx: t.Context(), acct: calls[i], done: make(chan struct{})}
	}
	s.batch.exec(jobs)
	res := make([]session.AcctResult, len(evs))
	errs := make([]error, len(evs))
	for i, j := range jobs {
		select {
		case <-j.done:
		default:
			t.Fatalf("packet %d was not released", i)
		}
		if errs[i] = j.err; errs[i] == nil {
			res[i], errs[i] = acctReply(calls[i], kinds[i], evs[i])
		}
	}
	return res, errs
}

// batchDevices gives each MAC one session of 1,000 s and 1 GB and opens an
// accounting record with a Start (alone), at t0.
func batchDevices(t *testing.T, s *Store, macs []session.MAC) {
	t.Helper()
	for _, mac := range macs {
		create(t, s, mac, todSpec(1000, 1000))
		account(t, s, pkt(session.AcctStart, mac, "as-1", 0, 0, 0, t0))
	}
}

// dumpDevice is every key of a device's hash tag and its content.
func dumpDevice(t *testing.T, s *Store, mac session.MAC) string {
	t.Helper()
	var b strings.Builder
	for _, k := range []string{sessionKey(mac, 1), recordKey(mac, "nas-a", "as-1")} {
		fmt.Fprintf(&b, "%s %v %v\n", k, hgetall(t, s, k), s.rdb.TTL(t.Context(), k).Val() > 0)
	}
	return b.String()
}

// testAcctBatchMalformedNeighbour: in one script call, a packet the script
// refuses (a malformed argument, checked before it writes; a record key of
// the wrong type, met at its first read) gets its error and changes
// nothing, and its neighbours apply exactly as alone.
func testAcctBatchMalformedNeighbour(t *testing.T, s *Store) {
	macs := []session.MAC{"02:00:00:00:0b:01", "02:00:00:00:0b:02", "02:00:00:00:0b:03", "02:00:00:00:0b:04"}
	batchDevices(t, s, macs)
	// Device 4's record is not a hash any more.
	if err := s.rdb.Set(t.Context(), recordKey(macs[3], "nas-a", "as-1"), "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	before := map[int]string{1: dumpDevice(t, s, macs[1])}
	at := t0.Add(time.Minute)
	evs := []session.AcctEvent{
		pkt(session.AcctInterim, macs[0], "as-1", 60, 1000, 2000, at),
		pkt(session.AcctInterim, macs[1], "as-1", 60, 1000, 2000, at),
		pkt(session.AcctInterim, macs[2], "as-1", 60, 1000, 2000, at),
		pkt(session.AcctInterim, macs[3], "as-1", 60, 1000, 2000, at),
	}
	calls0 := s.batch.calls.Load()
	jobs := make([]*job, len(evs))
	calls := make([]*acctCall, len(evs))
	for i, ev := range evs {
		c, _, err := s.acctCall(ev)
		if err != nil {
			t.Fatal(err)
		}
		calls[i] = c
		jobs[i] = &job{ctx: t.Context(), acct: c, done: make(chan struct{})}
	}
	calls[1].args[4] = "sixty" // Acct-Session-Time: what Go would never send
	s.batch.exec(jobs)
	_, cluster := s.rdb.(*redis.ClusterClient)
	if got := s.batch.calls.Load() - calls0; got < 1 || !cluster && got != 1 {
		t.Fatalf("%d shared script calls, want 1 (one per master on a Cluster)", got)
	}
	for i, j := range jobs {
		switch i {
		case 1, 3:
			if j.err == nil {
				t.Errorf("packet %d: no error, want the script's refusal", i)
			}
			t.Logf("packet %d: %v", i, j.err)
		default:
			if j.err != nil {
				t.Fatalf("packet %d: %v", i, j.err)
			}
			res, err := acctReply(calls[i], "interim", evs[i])
			if err != nil {
				t.Fatal(err)
			}
			want := []session.Charge{{SessionID: macs[i].Hex() + "-1", Secs: 60, Bytes: 3000}}
			if res.Outcome != session.AcctApplied || fmt.Sprint(res.Charges) != fmt.Sprint(want) {
				t.Errorf("packet %d: %+v, want applied %v", i, res, want)
			}
			h := hgetall(t, s, sessionKey(macs[i], 1))
			if h["time_cons"] != "60" || h["data_cons_bytes"] != "3000" {
				t.Errorf("device %d consumed %s s %s B, want 60 s 3000 B", i, h["time_cons"], h["data_cons_bytes"])
			}
		}
	}
	if after := dumpDevice(t, s, macs[1]); after != before[1] {
		t.Errorf("the malformed packet wrote:\n before %s after %s", before[1], after)
	}
	if h := hgetall(t, s, sessionKey(macs[3], 1)); h["time_cons"] != "0" {
		t.Errorf("the packet whose record is not a hash charged its session: %v", h)
	}
	// The refused packets, sent right, apply (the record of device 4 put back).
	if err := s.rdb.Del(t.Context(), recordKey(macs[3], "nas-a", "as-1")).Err(); err != nil {
		t.Fatal(err)
	}
	res, errs := accountBatch(t, s, []session.AcctEvent{evs[1], evs[3]})
	for i, err := range errs {
		if err != nil || res[i].Outcome != session.AcctApplied {
			t.Errorf("packet sent again %d: %+v, %v", i, res[i], err)
		}
	}
}

// testAcctBatchRefused: a Redis that refuses the batch script as a whole
// (an older or a restricted Redis) has every packet run again alone, and
// batching stays off from then on.
func testAcctBatchRefused(t *testing.T, s *Store) {
	macs := []session.MAC{"02:00:00:00:0c:01", "02:00:00:00:0c:02", "02:00:00:00:0c:03"}
	batchDevices(t, s, macs)
	s.batch.acctBatch = redis.NewScript(`return redis.error_reply('ERR this Redis refuses the batch script')`)
	s.batch.nodeOf = func(context.Context, string) any { return nil } // one call for all, also on a Cluster
	var evs []session.AcctEvent
	for _, mac := range macs {
		evs = append(evs, pkt(session.AcctInterim, mac, "as-1", 60, 1000, 2000, t0.Add(time.Minute)))
	}
	res, errs := accountBatch(t, s, evs)
	for i := range evs {
		if errs[i] != nil || res[i].Outcome != session.AcctApplied || len(res[i].Charges) != 1 {
			t.Errorf("packet %d: %+v, %v", i, res[i], errs[i])
		}
	}
	if !s.batch.unbatched.Load() || s.batch.alone.Load() != int64(len(evs)) {
		t.Errorf("unbatched %v, %d packets alone; want batching off and %d alone", s.batch.unbatched.Load(), s.batch.alone.Load(), len(evs))
	}
	calls := s.batch.calls.Load()
	for i := range evs {
		evs[i].SessionTime, evs[i].Now, evs[i].EventTime = 120, t0.Add(2*time.Minute), t0.Add(2*time.Minute)
	}
	// A passing state (Redis loading its data) fails the packets as it
	// would fail them alone, and leaves batching on.
	t.Run("Transient", func(t *testing.T) {
		other := newBatcher(s.rdb, 1)
		other.acct = s.batch.acct
		other.acctBatch = redis.NewScript(`return redis.error_reply('LOADING Redis is loading the dataset in memory')`)
		other.nodeOf = s.batch.nodeOf
		jobs := make([]*job, len(evs))
		for i, ev := range evs {
			c, _, err := s.acctCall(ev)
			if err != nil {
				t.Fatal(err)
			}
			jobs[i] = &job{ctx: t.Context(), acct: c, done: make(chan struct{})}
		}
		other.exec(jobs)
		for i, j := range jobs {
			if j.err == nil || !strings.HasPrefix(j.err.Error(), "LOADING") {
				t.Errorf("packet %d: %v, want LOADING", i, j.err)
			}
		}
		if other.unbatched.Load() || other.alone.Load() != 0 {
			t.Errorf("unbatched %v, %d alone: want batching on, none alone", other.unbatched.Load(), other.alone.Load())
		}
	})
	if _, errs := accountBatch(t, s, evs); errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatal(errs)
	}
	if s.batch.calls.Load() != calls {
		t.Error("a shared script call after Redis refused the batch script")
	}
	for _, mac := range macs {
		if h := hgetall(t, s, sessionKey(mac, 1)); h["time_cons"] != "120" {
			t.Errorf("%s: time_cons %s, want 120", mac, h["time_cons"])
		}
	}
}

// testAcctBatchSpansSlots (Cluster): packets of devices on every master, in
// one batch, share one script call per master; with the grouping switched
// off (a stale slot map: one call for all) the packets whose slots are
// elsewhere run again alone; every packet counts once either way.
func testAcctBatchSpansSlots(t *testing.T, s *Store) {
	cc := s.rdb.(*redis.ClusterClient)
	macs := clusterMACs(t, cc, 48)
	batchDevices(t, s, macs)
	masters := map[string]bool{}
	slots := map[int]bool{}
	for _, mac := range macs {
		m, err := cc.MasterForKey(t.Context(), s.keys.record(mac, "nas-a", "as-1"))
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
		slots[keySlot(mac.Hex())] = true
	}
	if len(masters) != 3 || len(slots) < 40 {
		t.Fatalf("the devices are on %d masters, %d slots: want 3 and about one slot each", len(masters), len(slots))
	}
	send := func(secs uint64) {
		t.Helper()
		var evs []session.AcctEvent
		for _, mac := range macs {
			at := t0.Add(time.Duration(secs) * time.Second)
			evs = append(evs, pkt(session.AcctInterim, mac, "as-1", secs, 10*secs, 20*secs, at))
		}
		res, errs := accountBatch(t, s, evs)
		for i := range evs {
			if errs[i] != nil || res[i].Outcome != session.AcctApplied {
				t.Fatalf("packet %d: %+v, %v", i, res[i], errs[i])
			}
		}
	}
	calls := s.batch.calls.Load()
	send(60)
	if got := s.batch.calls.Load() - calls; got != 3 || s.batch.alone.Load() != 0 {
		t.Errorf("%d shared script calls, %d packets alone: want one call per master, none alone", got, s.batch.alone.Load())
	}

	s.batch.nodeOf = func(context.Context, string) any { return nil } // one call for all: the first packet's node
	send(120)
	first, err := cc.MasterForKey(t.Context(), s.keys.record(macs[0], "nas-a", "as-1"))
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := 0
	for _, mac := range macs {
		if m, _ := cc.MasterForKey(t.Context(), s.keys.record(mac, "nas-a", "as-1")); m.Options().Addr != first.Options().Addr {
			elsewhere++
		}
	}
	if got := s.batch.alone.Load(); got != int64(elsewhere) {
		t.Errorf("%d packets ran again alone, want the %d on other masters", got, elsewhere)
	}
	if s.batch.unbatched.Load() {
		t.Error("batching switched off by a slot elsewhere: want it kept")
	}
	for _, mac := range macs {
		if h := hgetall(t, s, sessionKey(mac, 1)); h["time_cons"] != "120" || h["data_cons_bytes"] != "3600" {
			t.Errorf("%s: %s s %s B, want 120 s 3600 B", mac, h["time_cons"], h["data_cons_bytes"])
		}
	}
	n, err := cc.ZCard(t.Context(), s.keys.nasOpen("nas-a")).Result()
	if err != nil || n != int64(len(macs)) {
		t.Errorf("NAS open index: %d members, %v; want %d", n, err, len(macs))
	}
}

// testAcctBatchSlotMigrating (Cluster): a device whose slot is migrating,
// one of its keys already on the importing master, is in a batch with
// devices of the same master. Its packet must not write anything on the
// way (it fails in the shared call at its keys' check, then alone with
// Redis's TRYAGAIN), its neighbours apply, and once the slot is settled the
// NAS's retry counts it exactly once.
func testAcctBatchSlotMigrating(t *testing.T, s *Store) {
	ctx := t.Context()
	cc := s.rdb.(*redis.ClusterClient)
	macs := clusterMACs(t, cc, 48)
	batchDevices(t, s, macs)
	moving := macs[0]
	src, err := cc.MasterForKey(ctx, s.keys.index(moving))
	if err != nil {
		t.Fatal(err)
	}
	var group []session.MAC // devices of src's slots, moving first
	for _, mac := range macs {
		if m, _ := cc.MasterForKey(ctx, s.keys.index(mac)); m.Options().Addr == src.Options().Addr {
			group = append(group, mac)
		}
	}
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var dst *redis.Client
	for _, r := range slots {
		if addr := r.Nodes[0].Addr; addr != src.Options().Addr && dst == nil {
			dst = redis.NewClient(&redis.Options{Addr: addr})
		}
	}
	if dst == nil || len(group) < 3 {
		t.Fatalf("no second master, or %d devices on the first", len(group))
	}
	t.Cleanup(func() { _ = dst.Close() })
	srcNode := redis.NewClient(&redis.Options{Addr: src.Options().Addr})
	t.Cleanup(func() { _ = srcNode.Close() })
	srcID, err1 := srcNode.ClusterMyID(ctx).Result()
	dstID, err2 := dst.ClusterMyID(ctx).Result()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	slot := keySlot(moving.Hex())
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err())
	must(srcNode.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err())
	settle := func() { // the slot back to src, the moved key with it
		_ = dst.Do(ctx, "MIGRATE", srcNode.Options().Addr[:strings.LastIndex(srcNode.Options().Addr, ":")],
			srcNode.Options().Addr[strings.LastIndex(srcNode.Options().Addr, ":")+1:], s.keys.deviceOpen(moving), 0, 5000).Err()
		_ = dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "STABLE").Err()
		_ = srcNode.Do(ctx, "CLUSTER", "SETSLOT", slot, "STABLE").Err()
	}
	t.Cleanup(settle)
	host, port, _ := strings.Cut(dst.Options().Addr, ":")
	must(srcNode.Do(ctx, "MIGRATE", host, port, s.keys.deviceOpen(moving), 0, 5000).Err())

	before := dumpDevice(t, s, moving)
	at := t0.Add(time.Minute)
	var evs []session.AcctEvent
	for _, mac := range group {
		evs = append(evs, pkt(session.AcctInterim, mac, "as-1", 60, 1000, 2000, at))
	}
	alone := s.batch.alone.Load()
	res, errs := accountBatch(t, s, evs)
	if s.batch.alone.Load() == alone {
		t.Error("the packet of the migrating slot did not run again alone")
	}
	t.Logf("packet of the migrating slot: %+v, %v", res[0], errs[0])
	if errs[0] == nil {
		t.Fatalf("the packet of the migrating slot was applied: %+v (want an error: some of its keys are elsewhere)", res[0])
	}
	if after := dumpDevice(t, s, moving); after != before {
		t.Errorf("the packet of the migrating slot wrote:\n before %s after %s", before, after)
	}
	for i := 1; i < len(evs); i++ {
		if errs[i] != nil || res[i].Outcome != session.AcctApplied {
			t.Errorf("neighbour %d: %+v, %v", i, res[i], errs[i])
		}
	}
	settle()
	if r := account(t, s, evs[0]); r.Outcome != session.AcctApplied {
		t.Fatalf("the NAS's retry after the slot settled: %+v", r)
	}
	account(t, s, evs[0]) // and its duplicate
	for _, mac := range group {
		if h := hgetall(t, s, sessionKey(mac, 1)); h["time_cons"] != "60" || h["data_cons_bytes"] != "3000" {
			t.Errorf("%s: %s s %s B, want 60 s 3000 B", mac, h["time_cons"], h["data_cons_bytes"])
		}
	}
}

// testAcctUpgradeOldRecord: a record written before opt and before
// began_at (its NAS session's start known only as started_at) is upgraded
// at its next packet: it gets opt and began_at, and the identity rule still
// measures from its start (a packet whose session began more than the
// retransmit window later is a new NAS session).
func testAcctUpgradeOldRecord(t *testing.T, s *Store) {
	mac := session.MAC("02:00:00:00:0d:01")
	create(t, s, mac, todSpec(100000, 1000))
	start := pkt(session.AcctStart, mac, "as-1", 0, 0, 0, t0)
	start.Policy.RetransmitWindow = 2 * time.Minute
	account(t, s, start)
	rec := recordKey(mac, "nas-a", "as-1")
	// A record that old predates hot too.
	if err := s.rdb.HDel(t.Context(), rec, "opt", "began_at", "hot").Err(); err != nil {
		t.Fatal(err)
	}
	next := start
	next.Kind, next.SessionTime, next.InputOctets = session.AcctInterim, 60, 1000
	next.Now, next.EventTime = t0.Add(time.Minute), t0.Add(time.Minute)
	if r := account(t, s, next); r.Outcome != session.AcctApplied || r.NewRecord {
		t.Fatalf("the old record's next packet: %+v", r)
	}
	h := hgetall(t, s, rec)
	if _, ok := h["opt"]; !ok || h["began_at"] != unixStr(t0) {
		t.Fatalf("upgraded record: opt %q (present %v), began_at %q; want opt and began_at %s", h["opt"], ok, h["began_at"], unixStr(t0))
	}
	// A NAS session that began 5 minutes after the record's: a new one.
	later := next
	later.SessionTime, later.InputOctets = 60, 2000
	later.Now, later.EventTime = t0.Add(6*time.Minute), t0.Add(6*time.Minute)
	if r := account(t, s, later); r.Outcome != session.AcctApplied || !r.NewRecord {
		t.Fatalf("a NAS session that began 5 min after the upgraded record's: %+v, want a new record", r)
	}
}
