package radiusd_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// clusterDevices is how many devices each scenario runs, spread over the
// slots (and so the masters) of the cluster.
const clusterDevices = 30

// clusterServer is one radiusd on UDP loopback with its own Cluster client.
type clusterServer struct {
	store      *redisstore.Store
	auth, acct string
}

func startClusterServer(t *testing.T, addrs []string) *clusterServer {
	t.Helper()
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: addrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("client for %v is %T, want *redis.ClusterClient", addrs, rdb)
	}
	cs := &clusterServer{}
	cs.store, _, cs.auth, cs.acct = serveLoopback(t, rdb, radiusd.NAS{
		Profiles: []radiusd.Profile{radiusd.ProfileWISPr}, MAPolicy: radiusd.MAOptional,
	})
	return cs
}

// exchange sends p (retransmitting every second, as a NAS does) and returns
// the verified reply.
func exchange(ctx context.Context, p *radius.Packet, addr string) (*radius.Packet, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c := radius.Client{Retry: time.Second, MaxPacketErrors: 10}
	return c.Exchange(ctx, p, addr)
}

// accessAccept sends an Access-Request for mac and returns its
// Session-Timeout, or an error unless the reply is an Access-Accept.
func accessAccept(ctx context.Context, mac session.MAC, addr string) (uint32, error) {
	p := radius.New(radius.CodeAccessRequest, []byte(e2eSecret))
	_ = rfc2865.UserName_SetString(p, string(mac))
	_ = rfc2865.CallingStationID_SetString(p, string(mac))
	_ = rfc2865.UserPassword_SetString(p, "x")
	r, err := exchange(ctx, p, addr)
	if err != nil {
		return 0, fmt.Errorf("Access-Request %s: %w", mac, err)
	}
	if r.Code != radius.CodeAccessAccept {
		return 0, fmt.Errorf("Access-Request %s: got %v (%s)", mac, r.Code, rfc2865.ReplyMessage_GetString(r))
	}
	return uint32(rfc2865.SessionTimeout_Get(r)), nil
}

// acctStep is one Accounting-Request of a NAS session.
type acctStep struct {
	status   rfc2866.AcctStatusType
	secs     uint32
	in, out  uint64
	dupLater bool
}

// cycle is Start, three Interim-Updates and Stop with 64-bit counters:
// 240 s and in+out bytes in all.
func cycle(in, out uint64) []acctStep {
	steps := []acctStep{{status: rfc2866.AcctStatusType_Value_Start}}
	for k := uint64(1); k <= 4; k++ {
		st := rfc2866.AcctStatusType_Value_InterimUpdate
		if k == 4 {
			st = rfc2866.AcctStatusType_Value_Stop
		}
		steps = append(steps, acctStep{status: st, secs: uint32(60 * k), in: in * k / 4, out: out * k / 4})
	}
	return steps
}

func acctPacket(mac session.MAC, acctID string, s acctStep) *radius.Packet {
	p := radius.New(radius.CodeAccountingRequest, []byte(e2eSecret))
	_ = rfc2865.UserName_SetString(p, string(mac))
	_ = rfc2865.CallingStationID_SetString(p, string(mac))
	_ = rfc2866.AcctStatusType_Set(p, s.status)
	_ = rfc2866.AcctSessionID_SetString(p, acctID)
	_ = rfc2866.AcctSessionTime_Set(p, rfc2866.AcctSessionTime(s.secs))
	_ = rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(uint32(s.in)))
	_ = rfc2866.AcctOutputOctets_Set(p, rfc2866.AcctOutputOctets(uint32(s.out)))
	_ = rfc2869.AcctInputGigawords_Set(p, rfc2869.AcctInputGigawords(s.in>>32))
	_ = rfc2869.AcctOutputGigawords_Set(p, rfc2869.AcctOutputGigawords(s.out>>32))
	return p
}

func account(ctx context.Context, mac session.MAC, acctID string, s acctStep, addr string) error {
	r, err := exchange(ctx, acctPacket(mac, acctID, s), addr)
	if err != nil {
		return fmt.Errorf("Accounting-Request %s %s %v: %w", mac, acctID, s.status, err)
	}
	if r.Code != radius.CodeAccountingResponse {
		return fmt.Errorf("Accounting-Request %s %s %v: got %v", mac, acctID, s.status, r.Code)
	}
	return nil
}

// clusterDeviceMACs returns the scenario's devices and checks that they
// lie on every master.
func clusterDeviceMACs(t *testing.T, addrs []string, first byte) []session.MAC {
	t.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer rdb.Close()
	ctx := t.Context()
	ranges, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	masters := map[string]int{}
	var macs []session.MAC
	for i := range clusterDevices {
		mac := session.MAC(fmt.Sprintf("02:%02x:00:00:00:%02x", first, i))
		macs = append(macs, mac)
		slot, err := rdb.ClusterKeySlot(ctx, "hs:{"+mac.Hex()+"}:seq").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ranges {
			if int64(r.Start) <= slot && slot <= int64(r.End) {
				masters[r.Nodes[0].Addr]++
			}
		}
	}
	if len(masters) != len(ranges) {
		t.Fatalf("the devices lie on %d of %d masters: %v", len(masters), len(ranges), masters)
	}
	t.Logf("%d devices per master: %v", clusterDevices, masters)
	return macs
}

// forEachDevice runs f for every device at once and reports the errors.
func forEachDevice(t *testing.T, macs []session.MAC, f func(i int, mac session.MAC) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(macs))
	for i, mac := range macs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(i, mac) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestClusterE2E: the real server over UDP on a store on a 3-master Redis
// Cluster, 30 devices on every master: Access-Accepts, a Start → Interims →
// Stop cycle per device, consumption exact; then two servers sharing the
// cluster and the devices, packets alternating between them with late
// duplicates sent to the other one: consumption still exact.
func TestClusterE2E(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	t.Run("OneServer", func(t *testing.T) { testClusterOneServer(t, c.Addrs()) })
	t.Run("TwoServers", func(t *testing.T) { testClusterTwoServers(t, c.Addrs()) })
	t.Run("Vouchers", func(t *testing.T) { testClusterVouchers(t, c.Addrs()) })
}

// testClusterVouchers: two servers on the cluster, a code per device (codes
// and devices on every master). Each code is tried at once by its device on
// one server and by a rival device on the other: one wins. The winner logs
// in again on the other server, its NAS session is accounted, and the
// voucher names its one session.
func testClusterVouchers(t *testing.T, addrs []string) {
	ctx := t.Context()
	var servers []*clusterServer
	for range 2 {
		rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: addrs})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		cs := &clusterServer{}
		cs.store, _, cs.auth, cs.acct = serveLoopback(t, rdb, radiusd.NAS{
			Profiles: []radiusd.Profile{radiusd.ProfileWISPr}, MAPolicy: radiusd.MAOptional,
			Login: radiusd.LoginMACOrVoucher, VoucherPassword: radiusd.VoucherPasswordAny,
		}, func(c *radiusd.Config) { c.VoucherLimits = radiusd.VoucherLimits{PerDevice: 100, PerNAS: 10000} })
		servers = append(servers, cs)
	}
	vm := voucher.NewManager(servers[0].store, time.Now)
	if _, err := vm.CreatePlan(ctx, voucher.PlanInput{Name: "1h", Type: []byte(`"time"`), TimeSecs: 3600, DownMbits: 10, UpMbits: 2}); err != nil {
		t.Fatal(err)
	}
	b, err := vm.CreateBatch(ctx, "1h", voucher.BatchInput{Count: clusterDevices})
	if err != nil {
		t.Fatal(err)
	}
	macs := clusterDeviceMACs(t, addrs, 3)
	rivals := clusterDeviceMACs(t, addrs, 4)
	var mu sync.Mutex
	winners := map[session.MAC]string{} // device → code
	forEachDevice(t, macs, func(i int, mac session.MAC) error {
		code := b.Codes[i]
		var wg sync.WaitGroup
		msgs := make([]string, 2)
		for k, dev := range []session.MAC{mac, rivals[i]} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msgs[k] = voucherAccess(ctx, code, dev, servers[k].auth)
			}()
		}
		wg.Wait()
		won := -1
		for k, m := range msgs {
			switch m {
			case "":
				if won >= 0 {
					return fmt.Errorf("code %s: both devices got in", code)
				}
				won = k
			case "voucher already in use on another device":
			default:
				return fmt.Errorf("code %s: %q", code, m)
			}
		}
		if won < 0 {
			return fmt.Errorf("code %s: nobody got in: %q", code, msgs)
		}
		dev := []session.MAC{mac, rivals[i]}[won]
		if m := voucherAccess(ctx, code, dev, servers[1-won].auth); m != "" {
			return fmt.Errorf("code %s: re-login on the other server: %q", code, m)
		}
		in, out := deviceCounters(i)
		for _, s := range cycle(in, out) {
			if err := account(ctx, dev, fmt.Sprintf("v-%d", i), s, servers[i%2].acct); err != nil {
				return err
			}
		}
		mu.Lock()
		winners[dev] = code
		mu.Unlock()
		return nil
	})
	ids := map[session.MAC]string{}
	for dev, code := range winners {
		v, err := vm.Voucher(ctx, code)
		if err != nil || len(v.Devices) != 1 || v.Devices[0] != dev.String() || len(v.SessionIDs) != 1 {
			t.Fatalf("voucher %s: %+v, %v", code, v, err)
		}
		all, err := servers[1].store.DeviceSessions(ctx, dev)
		if err != nil || len(all) != 1 || all[0].ID != v.SessionIDs[0] {
			t.Fatalf("%s: sessions %+v, %v; want the voucher's one", dev, all, err)
		}
		ids[dev] = all[0].ID
	}
	checkTotals(t, servers[0].store, ids, func(mac session.MAC) (uint64, uint64) {
		i := indexOf(macs, mac)
		if i < 0 {
			i = indexOf(rivals, mac)
		}
		in, out := deviceCounters(i)
		return 240, in + out
	})
}

// voucherAccess sends a voucher login and returns the Reply-Message of a
// reject, "" for an accept.
func voucherAccess(ctx context.Context, code string, mac session.MAC, addr string) string {
	p := radius.New(radius.CodeAccessRequest, []byte(e2eSecret))
	_ = rfc2865.UserName_SetString(p, code)
	_ = rfc2865.UserPassword_SetString(p, "x")
	_ = rfc2865.CallingStationID_SetString(p, mac.String())
	r, err := exchange(ctx, p, addr)
	if err != nil {
		return err.Error()
	}
	if r.Code == radius.CodeAccessAccept {
		return ""
	}
	return rfc2865.ReplyMessage_GetString(r)
}

func deviceCounters(i int) (in, out uint64) {
	return 1_000_000*uint64(i+1) + 7, 1<<32 + 12_345*uint64(i) // out needs Gigawords
}

func createSessions(t *testing.T, store *redisstore.Store, macs []session.MAC) map[session.MAC]string {
	t.Helper()
	mgr := session.NewSessionsMgr(store, time.Now)
	ids := map[session.MAC]string{}
	for _, mac := range macs {
		cs, err := mgr.CreateSession(t.Context(), string(mac), session.Spec{Type: session.TypeTime, TimeSecs: 3600, DownMbits: 10, UpMbits: 2})
		if err != nil {
			t.Fatal(err)
		}
		ids[mac] = cs.ID()
	}
	return ids
}

// checkTotals compares every device's session with the want consumption
// and the totals over all devices.
func checkTotals(t *testing.T, store *redisstore.Store, ids map[session.MAC]string, want func(mac session.MAC) (secs, bytes uint64)) {
	t.Helper()
	var gotSecs, gotBytes, wantSecs, wantBytes uint64
	for mac, id := range ids {
		d, err := store.GetSession(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		ws, wb := want(mac)
		if uint64(d.TimeCons) != ws || d.DataConsBytes != wb {
			t.Errorf("%s: consumed %d s, %d bytes; want %d s, %d bytes", id, d.TimeCons, d.DataConsBytes, ws, wb)
		}
		gotSecs, gotBytes = gotSecs+uint64(d.TimeCons), gotBytes+d.DataConsBytes
		wantSecs, wantBytes = wantSecs+ws, wantBytes+wb
	}
	if gotSecs != wantSecs || gotBytes != wantBytes {
		t.Errorf("totals: %d s, %d bytes; want %d s, %d bytes", gotSecs, gotBytes, wantSecs, wantBytes)
	}
	t.Logf("totals over %d devices: %d s, %d bytes", len(ids), gotSecs, gotBytes)
}

func testClusterOneServer(t *testing.T, addrs []string) {
	ctx := t.Context()
	srv := startClusterServer(t, addrs)
	macs := clusterDeviceMACs(t, addrs, 1)
	ids := createSessions(t, srv.store, macs)
	forEachDevice(t, macs, func(i int, mac session.MAC) error {
		if to, err := accessAccept(ctx, mac, srv.auth); err != nil {
			return err
		} else if to != 3600 {
			return fmt.Errorf("%s: Session-Timeout %d, want 3600", mac, to)
		}
		in, out := deviceCounters(i)
		for _, s := range cycle(in, out) {
			if err := account(ctx, mac, fmt.Sprintf("one-%d", i), s, srv.acct); err != nil {
				return err
			}
		}
		// The next Access-Request sees what is left.
		if to, err := accessAccept(ctx, mac, srv.auth); err != nil {
			return err
		} else if to != 3600-240 {
			return fmt.Errorf("%s: Session-Timeout after the cycle %d, want %d", mac, to, 3600-240)
		}
		return nil
	})
	checkTotals(t, srv.store, ids, func(mac session.MAC) (uint64, uint64) {
		i := indexOf(macs, mac)
		in, out := deviceCounters(i)
		return 240, in + out
	})
	checkClosed(t, srv.store, macs)
}

func testClusterTwoServers(t *testing.T, addrs []string) {
	ctx := t.Context()
	servers := []*clusterServer{startClusterServer(t, addrs), startClusterServer(t, addrs)}
	macs := clusterDeviceMACs(t, addrs, 2)
	ids := createSessions(t, servers[0].store, macs)
	forEachDevice(t, macs, func(i int, mac session.MAC) error {
		for _, s := range servers {
			if _, err := accessAccept(ctx, mac, s.auth); err != nil {
				return err
			}
		}
		// Two NAS sessions of the device at once, one starting on each
		// server. Each packet goes to one server, alternately; the previous
		// packet is then repeated to the other server (a NAS that failed
		// over, late): it must add nothing.
		in, out := deviceCounters(i)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for n := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				acctID := fmt.Sprintf("two-%d-%d", i, n)
				steps := cycle(in, out)
				for k, s := range steps {
					to := servers[(n+k)%2]
					if errs[n] = account(ctx, mac, acctID, s, to.acct); errs[n] != nil {
						return
					}
					if k > 0 {
						other := servers[(n+k+1)%2]
						if errs[n] = account(ctx, mac, acctID, steps[k-1], other.acct); errs[n] != nil {
							return
						}
					}
				}
				// And the Stop once more, to both.
				for _, s := range servers {
					if errs[n] = account(ctx, mac, acctID, steps[len(steps)-1], s.acct); errs[n] != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		for _, s := range servers {
			if to, err := accessAccept(ctx, mac, s.auth); err != nil {
				return err
			} else if to != 3600-480 {
				return fmt.Errorf("%s: Session-Timeout after two cycles %d, want %d", mac, to, 3600-480)
			}
		}
		return nil
	})
	checkTotals(t, servers[1].store, ids, func(mac session.MAC) (uint64, uint64) {
		in, out := deviceCounters(indexOf(macs, mac))
		return 480, 2 * (in + out)
	})
	checkClosed(t, servers[0].store, macs)
}

// checkClosed: no device keeps an open record after its Stops.
func checkClosed(t *testing.T, store *redisstore.Store, macs []session.MAC) {
	t.Helper()
	for _, mac := range macs {
		recs, err := store.OpenRecords(t.Context(), mac)
		if err != nil || len(recs) != 0 {
			t.Errorf("%s: open records after Stop: %v, %v", mac, recs, err)
		}
	}
}

func indexOf(macs []session.MAC, mac session.MAC) int {
	for i, m := range macs {
		if m == mac {
			return i
		}
	}
	return -1
}
