package redisstore

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// t0 is the fixed "now" of the suite: nothing here reads the wall clock.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const testMAC session.MAC = "aa:bb:cc:dd:ee:ff"

// TestStoreMiniredis runs the suite on miniredis, one server per subtest.
func TestStoreMiniredis(t *testing.T) {
	testStore(t, func(t *testing.T) *Store {
		t.Helper()
		return newTestStore(t, miniredis.RunT(t).Addr())
	})
}

// TestStoreRealRedis runs the suite on a real redis-server (skipped when the
// binary is missing, a failure when CI=true), flushed before each subtest.
func TestStoreRealRedis(t *testing.T) {
	srv := redistest.Start(t)
	testStore(t, func(t *testing.T) *Store {
		t.Helper()
		s := newTestStore(t, srv.Addr)
		flushAll(t, s)
		return s
	})
}

// flushAll empties the store's Redis: every master of a Cluster.
func flushAll(t testing.TB, s *Store) {
	t.Helper()
	ctx := t.Context()
	var err error
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.FlushAll(ctx).Err() })
	} else {
		err = s.rdb.FlushAll(ctx).Err()
	}
	if err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
}

// testStore is the suite both backends must pass. Each subtest gets a fresh,
// empty store from newStore.
func testStore(t *testing.T, newStore func(t *testing.T) *Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *Store)
	}{
		{"CreateGetList", testCreateGetList},
		{"RawHash", testRawHash},
		{"SaveRoundTrip", testSaveRoundTrip},
		{"SaveOnlyChanged", testSaveOnlyChanged},
		{"ClearExpDaysAndStartedAt", testClearFields},
		{"Delete", testDelete},
		{"LostCounter", testLostCounter},
		{"NotFound", testNotFound},
		{"CorruptHash", testCorruptHash},
		{"SessionsEncoding", testSessionsEncoding},
		{"ConcurrentSave", testConcurrentSave},
		{"SaveIdempotent", testSaveIdempotent},
		{"ClientSessionConcurrentUse", testClientSessionConcurrentUse},
		{"ConcurrentAccount", testConcurrentAccount},
		{"AcctLifecycle", testAcctLifecycle},
		{"AcctDuplicate", testAcctDuplicate},
		{"AcctShuffled", testAcctShuffled},
		{"AcctAfterStop", testAcctAfterStop},
		{"AcctGigawords", testAcctGigawords},
		{"AcctCounterReset", testAcctCounterReset},
		{"AcctNoStart", testAcctNoStart},
		{"AcctSpillNoStart", testAcctSpillNoStart},
		{"AcctDeletedSession", testAcctDeletedSession},
		{"AcctExpiryBoundary", testAcctExpiryBoundary},
		{"AcctSpillTime", testAcctSpillTime},
		{"AcctSpillData", testAcctSpillData},
		{"AcctSpillTimeOrData", testAcctSpillTimeOrData},
		{"AcctOverage", testAcctOverage},
		{"AcctNoSessions", testAcctNoSessions},
		{"AcctRestart", testAcctRestart},
		{"AcctExpired", testAcctExpired},
		{"AcctInvalid", testAcctInvalid},
		{"AcctReusedAfterReboot", testAcctReusedAfterReboot},
		{"AcctDelayedDuplicates", testAcctDelayedDuplicates},
		{"AcctReusedWithClass", testAcctReusedWithClass},
		{"AcctReusedQuickNoProof", testAcctReusedQuickNoProof},
		{"AcctNetworkEntry", testAcctNetworkEntry},
		{"AcctWrap32", testAcctWrap32},
		{"AcctWrap32Gigawords", testAcctWrap32Gigawords},
		{"AcctStopStart", testAcctStopStart},
		{"AcctStopStartReset", testAcctStopStartReset},
		{"AcctIdentityPrevBeganMidpoint", testAcctIdentityPrevBeganMidpoint},
		{"AcctIdentityReuseWrapOvercount", testAcctIdentityReuseWrapOvercount},
		{"AcctIdentityNASClockStep", testAcctIdentityNASClockStep},
		{"AcctIdentityNASClockMixedTrust", testAcctIdentityNASClockMixedTrust},
		{"AcctIdentityIdleStopLateInterim", testAcctIdentityIdleStopLateInterim},
		{"AcctIdentityStopStartResetBoundary", testAcctIdentityStopStartResetBoundary},
		{"AcctIdentityStopStartReorder", testAcctIdentityStopStartReorder},
		{"AcctIdentityIdleStopLongIdle", testAcctIdentityIdleStopLongIdle},
		{"AcctIdentityUpgradeNetworkEntry", testAcctIdentityUpgradeNetworkEntry},
		{"AcctBatchMalformedNeighbour", testAcctBatchMalformedNeighbour},
		{"AcctBatchRefused", testAcctBatchRefused},
		{"AcctUpgradeOldRecord", testAcctUpgradeOldRecord},
		{"CloseNAS", testCloseNAS},
		{"AgreesWithCurrent", testAgreesWithCurrent},
		{"NoScript", testNoScript},
		{"OpenRecords", testOpenRecords},
		{"RecordAndSchedule", testRecordAndSchedule},
		{"Directory", testDirectory},
	}
	tests = append(tests, voucherTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// newTestStore returns a Store with default options on its own client: a
// standalone client for one address, a Cluster client for several.
func newTestStore(tb testing.TB, addrs ...string) *Store {
	tb.Helper()
	rdb, err := NewClient(ClientConfig{Addrs: addrs})
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	tb.Cleanup(func() { _ = rdb.Close() })
	s, err := New(rdb, Options{})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// twin returns a second Store on a separate client (its own connection pool)
// to the same Redis as s: another server process, as far as Redis can tell.
func twin(t *testing.T, s *Store) *Store {
	t.Helper()
	switch c := s.rdb.(type) {
	case *redis.Client:
		return newTestStore(t, c.Options().Addr)
	case *redis.ClusterClient:
		return newTestStore(t, c.Options().Addrs...)
	}
	t.Fatalf("twin: client is %T, want *redis.Client or *redis.ClusterClient", s.rdb)
	return nil
}

func mgrAt(s *Store, now time.Time) *session.SessionsMgr {
	return session.NewSessionsMgr(s, func() time.Time { return now })
}

func timeSpec(secs uint) session.Spec {
	return session.Spec{Provider: "shop", Type: session.TypeTime, TimeSecs: secs, DownMbits: 10, UpMbits: 2}
}

func dataSpec(mb float64) session.Spec {
	return session.Spec{Provider: "shop", Type: session.TypeData, DataMb: mb, DownMbits: 10, UpMbits: 2}
}

func todSpec(secs uint, mb float64) session.Spec {
	return session.Spec{Provider: "shop", Type: session.TypeTimeOrData, TimeSecs: secs, DataMb: mb, DownMbits: 10, UpMbits: 2}
}

// create stores a session for mac at t0 and returns its ID.
func create(t *testing.T, s *Store, mac session.MAC, spec session.Spec) string {
	t.Helper()
	cs, err := mgrAt(s, t0).CreateSession(t.Context(), string(mac), spec)
	if err != nil {
		t.Fatalf("CreateSession(%s): %v", mac, err)
	}
	return cs.ID()
}

func sessionKey(mac session.MAC, n int) string {
	return DefaultPrefix + "{" + mac.Hex() + "}:s:" + strconv.Itoa(n)
}

func recordKey(mac session.MAC, nas, acctID string) string {
	return DefaultPrefix + "{" + mac.Hex() + "}:acct:" + nas + ":" + acctID
}

func hgetall(t *testing.T, s *Store, key string) map[string]string {
	t.Helper()
	h, err := s.rdb.HGetAll(t.Context(), key).Result()
	if err != nil {
		t.Fatalf("HGETALL %s: %v", key, err)
	}
	return h
}

// keyOf returns the hash key of a session ID.
func keyOf(t *testing.T, id string) string {
	t.Helper()
	mac, seq, err := session.ParseID(id)
	if err != nil {
		t.Fatal(err)
	}
	return sessionKey(mac, int(seq))
}

func unixStr(tm time.Time) string { return strconv.FormatInt(tm.Unix(), 10) }

// normalize makes Data comparable with ==.
func normalize(d session.Data) session.Data {
	d.CreatedAt, d.StartedAt = d.CreatedAt.UTC(), d.StartedAt.UTC()
	return d
}

func testCreateGetList(t *testing.T, s *Store) {
	ctx := t.Context()
	mgr := mgrAt(s, t0)
	a, err := mgr.CreateSession(ctx, "AA-BB-CC-DD-EE-FF", timeSpec(3600))
	if err != nil {
		t.Fatal(err)
	}
	days := uint(7)
	spec := todSpec(600, 1.5)
	spec.ExpDays, spec.UseGlobalSpeed, spec.DownMbits, spec.UpMbits = &days, true, 0, 0
	b, err := mgr.CreateSession(ctx, "aabb.ccdd.eeff", spec)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() != "aabbccddeeff-1" || b.ID() != "aabbccddeeff-2" {
		t.Fatalf("IDs: got %s, %s, want aabbccddeeff-1, aabbccddeeff-2", a.ID(), b.ID())
	}
	for _, cs := range []*session.ClientSession{a, b} {
		got, err := mgr.GetSession(ctx, cs.ID())
		if err != nil {
			t.Fatalf("GetSession(%s): %v", cs.ID(), err)
		}
		if g, w := normalize(got.Data()), normalize(cs.Data()); g != w {
			t.Errorf("GetSession(%s):\n got %+v\nwant %+v", cs.ID(), g, w)
		}
	}
	list, err := mgr.Sessions(ctx, string(testMAC))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, cs := range list {
		ids = append(ids, cs.ID())
	}
	if want := []string{"aabbccddeeff-1", "aabbccddeeff-2"}; !slices.Equal(ids, want) {
		t.Errorf("Sessions: got %v, want %v", ids, want)
	}
	// The store itself returns creation order, whatever the manager sorts.
	raw, err := s.DeviceSessions(ctx, testMAC)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2 || raw[0].ID != "aabbccddeeff-1" || raw[1].ID != "aabbccddeeff-2" {
		t.Errorf("DeviceSessions: got %v", raw)
	}
	cur, err := mgr.CurrSession(ctx, string(testMAC))
	if err != nil || cur.ID() != "aabbccddeeff-1" {
		t.Errorf("CurrSession: got %v, %v, want aabbccddeeff-1", cur, err)
	}
	none, err := s.DeviceSessions(ctx, "02:00:00:00:00:01")
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("DeviceSessions(unknown): got %#v, %v, want an empty slice", none, err)
	}
}

func testRawHash(t *testing.T, s *Store) {
	ctx := t.Context()
	mgr := mgrAt(s, t0)
	if _, err := mgr.CreateSession(ctx, string(testMAC), timeSpec(3600)); err != nil {
		t.Fatal(err)
	}
	days := uint(30)
	spec := todSpec(7200, 250.5)
	spec.ExpDays, spec.UseGlobalSpeed, spec.Provider = &days, true, "voucher-7"
	if _, err := mgr.CreateSession(ctx, string(testMAC), spec); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.CreateSession(ctx, string(testMAC), dataSpec(0.000001)); err != nil {
		t.Fatal(err)
	}
	created := unixStr(t0)
	tests := []struct {
		n    int
		want map[string]string
	}{
		{1, map[string]string{
			"mac": "aa:bb:cc:dd:ee:ff", "type": "time", "time_secs": "3600", "data_bytes": "0",
			"time_cons": "0", "data_cons_bytes": "0", "created_at": created,
			"down_mbits": "10", "up_mbits": "2", "use_global_speed": "0", "provider": "shop",
		}},
		{2, map[string]string{
			"mac": "aa:bb:cc:dd:ee:ff", "type": "time_or_data", "time_secs": "7200", "data_bytes": "250500000",
			"time_cons": "0", "data_cons_bytes": "0", "created_at": created, "exp_days": "30",
			"down_mbits": "10", "up_mbits": "2", "use_global_speed": "1", "provider": "voucher-7",
		}},
		{3, map[string]string{
			"mac": "aa:bb:cc:dd:ee:ff", "type": "data", "time_secs": "0", "data_bytes": "1",
			"time_cons": "0", "data_cons_bytes": "0", "created_at": created,
			"down_mbits": "10", "up_mbits": "2", "use_global_speed": "0", "provider": "shop",
		}},
	}
	for _, tc := range tests {
		key := sessionKey(testMAC, tc.n)
		if got := hgetall(t, s, key); !maps.Equal(got, tc.want) {
			t.Errorf("HGETALL %s:\n got %v\nwant %v", key, got, tc.want)
		}
	}
	// Starting a session adds started_at, in Unix seconds.
	cs, err := mgr.GetSession(ctx, "aabbccddeeff-1")
	if err != nil {
		t.Fatal(err)
	}
	cs.SetStartedAt(t0.Add(90*time.Second + 400*time.Millisecond))
	if err := cs.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := hgetall(t, s, sessionKey(testMAC, 1))["started_at"], unixStr(t0.Add(90*time.Second)); got != want {
		t.Errorf("started_at: got %q, want %q", got, want)
	}
}

func testSaveRoundTrip(t *testing.T, s *Store) {
	ctx := t.Context()
	mgr := mgrAt(s, t0)
	cs, err := mgr.CreateSession(ctx, string(testMAC), todSpec(3600, 100))
	if err != nil {
		t.Fatal(err)
	}
	cs.SetTimeSecs(7200)
	cs.TopUpTime(60)
	cs.SetDataMb(200)
	cs.TopUpData(0.5)
	cs.IncTimeCons(30)
	cs.IncDataConsBytes(12345)
	cs.SetStartedAt(t0.Add(time.Minute))
	cs.SetExpDays(3)
	cs.SetDownMbits(50)
	cs.SetUpMbits(20)
	cs.SetProvider("portal")
	if err := cs.Save(ctx); err != nil {
		t.Fatal(err)
	}
	want := session.Data{
		ID: "aabbccddeeff-1", MAC: testMAC, Provider: "portal", Type: session.TypeTimeOrData,
		TimeSecs: 7260, DataBytes: 200_500_000, TimeCons: 30, DataConsBytes: 12345,
		StartedAt: t0.Add(time.Minute), CreatedAt: t0, ExpDays: 3, HasExpiry: true,
		DownMbits: 50, UpMbits: 20,
	}
	if got := normalize(cs.Data()); got != want {
		t.Errorf("after Save:\n got %+v\nwant %+v", got, want)
	}
	got, err := s.GetSession(ctx, cs.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got := normalize(got); got != want {
		t.Errorf("GetSession:\n got %+v\nwant %+v", got, want)
	}
	cs.SetUseGlobalSpeed(true)
	cs.SetTimeCons(10)
	if err := cs.Save(ctx); err != nil {
		t.Fatal(err)
	}
	h := hgetall(t, s, sessionKey(testMAC, 1))
	if h["use_global_speed"] != "1" || h["time_cons"] != "10" || h["data_bytes"] != "200500000" {
		t.Errorf("hash after second Save: %v", h)
	}
	// Nothing changed: Save writes nothing and succeeds.
	if err := cs.Save(ctx); err != nil {
		t.Errorf("empty Save: %v", err)
	}
}

// testSaveOnlyChanged: a Save carries only what its ClientSession changed, so
// another writer's field writes and increments survive it.
func testSaveOnlyChanged(t *testing.T, s *Store) {
	ctx := t.Context()
	id := create(t, s, testMAC, timeSpec(3600))
	cs, err := mgrAt(s, t0).GetSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	other := twin(t, s)
	key := sessionKey(testMAC, 1)
	if err := other.rdb.HSet(ctx, key, "down_mbits", "77", "provider", "elsewhere").Err(); err != nil {
		t.Fatal(err)
	}
	if err := other.rdb.HIncrBy(ctx, key, "time_cons", 5).Err(); err != nil {
		t.Fatal(err)
	}
	cs.SetUpMbits(9)
	cs.IncTimeCons(3)
	if err := cs.Save(ctx); err != nil {
		t.Fatal(err)
	}
	h := hgetall(t, s, key)
	for f, want := range map[string]string{"down_mbits": "77", "provider": "elsewhere", "up_mbits": "9", "time_cons": "8"} {
		if h[f] != want {
			t.Errorf("%s: got %q, want %q", f, h[f], want)
		}
	}
	// Save returns the stored state, other writers' changes included.
	if d := cs.Data(); d.DownMbits != 77 || d.TimeCons != 8 || d.Provider != "elsewhere" {
		t.Errorf("local state after Save: %+v", d)
	}
}

func testClearFields(t *testing.T, s *Store) {
	ctx := t.Context()
	days := uint(2)
	spec := timeSpec(3600)
	spec.ExpDays = &days
	id := create(t, s, testMAC, spec)
	cs, err := mgrAt(s, t0).GetSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cs.SetStartedAt(t0)
	if err := cs.Save(ctx); err != nil {
		t.Fatal(err)
	}
	h := hgetall(t, s, keyOf(t, id))
	if h["exp_days"] != "2" || h["started_at"] != unixStr(t0) {
		t.Fatalf("before clearing: %v", h)
	}
	cs.ClearExpDays()
	cs.SetStartedAt(time.Time{})
	if err := cs.Save(ctx); err != nil {
		t.Fatal(err)
	}
	h = hgetall(t, s, keyOf(t, id))
	for _, f := range []string{"exp_days", "started_at"} {
		if v, ok := h[f]; ok {
			t.Errorf("%s still present (%q) after clearing", f, v)
		}
	}
	got, err := s.GetSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.HasExpiry || got.Started() {
		t.Errorf("GetSession after clearing: HasExpiry %v, Started %v", got.HasExpiry, got.Started())
	}
}

// testLostCounter: a create after the sequence counter vanished (deleted,
// evicted) skips numbers in use instead of overwriting a session.
func testLostCounter(t *testing.T, s *Store) {
	ctx := t.Context()
	id1 := create(t, s, testMAC, timeSpec(60))
	if err := s.rdb.Del(ctx, DefaultPrefix+"{aabbccddeeff}:seq").Err(); err != nil {
		t.Fatal(err)
	}
	id2 := create(t, s, testMAC, timeSpec(120))
	if id2 == id1 {
		t.Fatalf("create reused %s after the counter was lost", id1)
	}
	got, err := s.GetSession(ctx, id1)
	if err != nil || got.TimeSecs != 60 {
		t.Errorf("session %s after a create with a lost counter: time_secs %d, %v; want 60", id1, got.TimeSecs, err)
	}
}

func testDelete(t *testing.T, s *Store) {
	ctx := t.Context()
	mgr := mgrAt(s, t0)
	id1 := create(t, s, testMAC, timeSpec(60))
	id2 := create(t, s, testMAC, timeSpec(60))
	if err := mgr.DeleteSession(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if n, err := s.rdb.Exists(ctx, keyOf(t, id1)).Result(); err != nil || n != 0 {
		t.Errorf("session hash after delete: EXISTS %d, %v", n, err)
	}
	idx, err := s.rdb.ZRange(ctx, DefaultPrefix+"{aabbccddeeff}:sessions", 0, -1).Result()
	if err != nil || !slices.Equal(idx, []string{id2}) {
		t.Errorf("index after delete: %v, %v; want [%s]", idx, err, id2)
	}
	list, err := s.DeviceSessions(ctx, testMAC)
	if err != nil || len(list) != 1 || list[0].ID != id2 {
		t.Errorf("DeviceSessions after delete: %v, %v", list, err)
	}
	// Sequence numbers are never reused: an old ID never names a new session.
	if id3 := create(t, s, testMAC, timeSpec(60)); id3 != "aabbccddeeff-3" {
		t.Errorf("next ID after delete: got %s, want aabbccddeeff-3", id3)
	}
}

func testNotFound(t *testing.T, s *Store) {
	ctx := t.Context()
	mgr := mgrAt(s, t0)
	id := create(t, s, testMAC, timeSpec(60))
	cs, err := mgr.GetSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	const missing = "aabbccddeeff-9"
	if _, err := mgr.GetSession(ctx, missing); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("GetSession(missing): got %v, want ErrNotFound", err)
	}
	if _, err := s.SaveSession(ctx, missing, session.Changes{IncTimeCons: 1}); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("SaveSession(missing): got %v, want ErrNotFound", err)
	}
	if err := mgr.DeleteSession(ctx, missing); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("DeleteSession(missing): got %v, want ErrNotFound", err)
	}
	if err := mgr.DeleteSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	cs.IncTimeCons(1)
	if err := cs.Save(ctx); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Save of a deleted session: got %v, want ErrNotFound", err)
	}
	// Save must not resurrect the hash.
	if n, _ := s.rdb.Exists(ctx, keyOf(t, id)).Result(); n != 0 {
		t.Errorf("Save of a deleted session recreated its hash")
	}
	if err := mgr.DeleteSession(ctx, id); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("second DeleteSession: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetSession(ctx, "not-an-id"); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("GetSession(bad id): got %v, want ErrInvalid", err)
	}
}

func testCorruptHash(t *testing.T, s *Store) {
	ctx := t.Context()
	id := create(t, s, testMAC, timeSpec(60))
	if err := s.rdb.HSet(ctx, keyOf(t, id), "time_secs", "abc").Err(); err != nil {
		t.Fatal(err)
	}
	check := func(op string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "time_secs") {
			t.Errorf("%s of a corrupt hash: got %v, want an error naming time_secs", op, err)
		}
	}
	_, err := s.GetSession(ctx, id)
	check("GetSession", err)
	_, err = s.DeviceSessions(ctx, testMAC)
	check("DeviceSessions", err)
	_, err = s.SaveSession(ctx, id, session.Changes{IncTimeCons: 1})
	check("SaveSession", err)
	_, err = mgrAt(s, t0).CurrSession(ctx, string(testMAC))
	check("CurrSession", err)
}
