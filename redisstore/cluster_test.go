package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// TestStoreCluster runs the suite on a real 3-master Redis Cluster through
// a Cluster client (several seed addresses), flushed before each subtest:
// scripts are EVALSHA'd on the master of their slot, SCRIPT FLUSH reaches
// every master, and the NAS open index and the schedule (their own slots)
// are written in the same pipelines. The cluster-only tests share the
// cluster (redis-cli --cluster create takes seconds).
func TestStoreCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	newStore := func(t *testing.T) *Store {
		t.Helper()
		s := newTestStore(t, c.Addrs()...)
		if _, ok := s.rdb.(*redis.ClusterClient); !ok {
			t.Fatalf("client for %v is %T, want *redis.ClusterClient", c.Addrs(), s.rdb)
		}
		flushAll(t, s)
		return s
	}
	testStore(t, newStore)
	t.Run("ManyDevices", func(t *testing.T) { testClusterManyDevices(t, newStore(t)) })
	t.Run("KeySlotMatchesRedis", func(t *testing.T) { testKeySlotMatchesRedis(t, c) })
	t.Run("AcctBatchSpansSlots", func(t *testing.T) { testAcctBatchSpansSlots(t, newStore(t)) })
	t.Run("AcctBatchSlotMigrating", func(t *testing.T) { testAcctBatchSlotMigrating(t, newStore(t)) })
}

// clusterMACs returns n device MACs whose keys fall on every master of the
// cluster.
func clusterMACs(t *testing.T, rdb *redis.ClusterClient, n int) []session.MAC {
	t.Helper()
	macs := make([]session.MAC, n)
	for i := range macs {
		macs[i] = session.MAC(fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff))
	}
	slots, err := rdb.ClusterSlots(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]int{}
	for _, mac := range macs {
		slot := keySlot(mac.Hex())
		for _, r := range slots {
			if int(r.Start) <= slot && slot <= int(r.End) {
				nodes[r.Nodes[0].Addr]++
			}
		}
	}
	if len(nodes) != len(slots) {
		t.Fatalf("%d devices fall on %d of the %d masters: %v", n, len(nodes), len(slots), nodes)
	}
	return macs
}

// testClusterManyDevices: accounting for devices on every master, then one
// CloseNAS closes their records across slots (its pipeline spans the
// masters), NOSCRIPT recovery included, and the NAS's open index is empty.
func testClusterManyDevices(t *testing.T, s *Store) {
	ctx := t.Context()
	macs := clusterMACs(t, s.rdb.(*redis.ClusterClient), 60)
	ids := map[session.MAC]string{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, mac := range macs {
		ids[mac] = create(t, s, mac, timeSpec(1_000_000))
	}
	for i, mac := range macs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ev := range []session.AcctEvent{
				pkt(session.AcctStart, mac, "c"+strconv.Itoa(i), 0, 0, 0, t0),
				pkt(session.AcctInterim, mac, "c"+strconv.Itoa(i), 60, uint64(i), 1000, t0.Add(time.Minute)),
			} {
				if _, err := s.Account(ctx, ev); err != nil {
					mu.Lock()
					t.Errorf("%s: %v", mac, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if n, err := s.rdb.ZCard(ctx, s.keys.nasOpen("nas-a")).Result(); err != nil || n != int64(len(macs)) {
		t.Fatalf("nas-a open index: %d, %v; want %d", n, err, len(macs))
	}
	// The scripts are gone from every master: the pipeline's EVALSHAs fail
	// on each node and the retry with EVAL reloads them.
	if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	n, err := s.CloseNAS(ctx, "nas-a", t0.Add(2*time.Minute), "accounting-on")
	if err != nil || n != len(macs) {
		t.Fatalf("CloseNAS = %d, %v; want %d", n, err, len(macs))
	}
	if n, err := s.rdb.ZCard(ctx, s.keys.nasOpen("nas-a")).Result(); err != nil || n != 0 {
		t.Errorf("nas-a open index after CloseNAS: %d, %v; want 0", n, err)
	}
	for i, mac := range macs {
		h := hgetall(t, s, recordKey(mac, "nas-a", "c"+strconv.Itoa(i)))
		if h["state"] != "stopped" || h["closed_by"] != "accounting-on" {
			t.Errorf("record of %s: %v", mac, h)
		}
		if got := consumed(t, s, ids[mac]); got != (use{60, uint64(i) + 1000}) {
			t.Errorf("%s consumed %+v, want {60 %d}", mac, got, i+1000)
		}
		recs, err := s.OpenRecords(ctx, mac)
		if err != nil || len(recs) != 0 {
			t.Errorf("OpenRecords(%s) after CloseNAS = %v, %v", mac, recs, err)
		}
	}
}

// testKeySlotMatchesRedis checks the test's CRC16 slot function against
// the cluster's own CLUSTER KEYSLOT, on the store's keys and the hash tag
// edge cases.
func testKeySlotMatchesRedis(t *testing.T, c *redistest.Cluster) {
	k := keys{prefix: DefaultPrefix}
	mac := session.MAC("02:00:00:00:00:07")
	ks := []string{"foo", "somekey", "123456789", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "{bar",
		k.session(mac, "1"), k.index(mac), k.record(mac, "nas-a", "{evil}"), k.schedule(), k.nasOpen("nas-a")}
	for _, key := range ks[:4] { // redis-cli, as an operator would
		if got := c.CLI("CLUSTER", "KEYSLOT", key); got != strconv.Itoa(keySlot(key)) {
			t.Errorf("redis-cli CLUSTER KEYSLOT %q = %s, keySlot = %d", key, got, keySlot(key))
		}
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer rdb.Close()
	for _, mac := range slotTestMACs(50) {
		ks = append(ks, k.seq(mac), k.record(mac, "n", "x"))
	}
	for _, key := range ks {
		got, err := rdb.ClusterKeySlot(t.Context(), key).Result()
		if err != nil || int(got) != keySlot(key) {
			t.Errorf("CLUSTER KEYSLOT %q = %d, %v; keySlot = %d", key, got, err, keySlot(key))
		}
	}
}

// TestStoreSentinel runs part of the suite through Sentinel: one master,
// one sentinel monitoring it as "m", a client given the sentinel's address
// and the master name.
func TestStoreSentinel(t *testing.T) {
	master := redistest.Start(t)
	sen := redistest.StartSentinel(t, "m", master)
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s *Store)
	}{
		{"CreateGetList", testCreateGetList},
		{"SaveRoundTrip", testSaveRoundTrip},
		{"AcctLifecycle", testAcctLifecycle},
		{"AcctSpillTime", testAcctSpillTime},
		{"CloseNAS", testCloseNAS},
		{"NoScript", testNoScript},
		{"OpenRecords", testOpenRecords},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb, err := NewClient(ClientConfig{Addrs: []string{sen.Addr}, MasterName: "m"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rdb.Close() })
			s, err := New(rdb, Options{})
			if err != nil {
				t.Fatal(err)
			}
			flushAll(t, s)
			tc.fn(t, s)
		})
	}
	// The data is on the master the sentinel named.
	direct := newTestStore(t, master.Addr)
	if n, err := direct.rdb.Exists(context.Background(), DefaultPrefix+"{aabbccddeeff}:seq").Result(); err != nil || n != 1 {
		t.Errorf("the master has no data written through the sentinel: EXISTS %d, %v", n, err)
	}
}
