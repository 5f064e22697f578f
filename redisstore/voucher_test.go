package redisstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

var _ voucher.Store = (*Store)(nil)

// voucherTests run in the store suite (miniredis, real Redis, Cluster).
var voucherTests = []struct {
	name string
	fn   func(t *testing.T, s *Store)
}{
	{"PlanCRUD", testPlanCRUD},
	{"VoucherRedeem", testVoucherRedeem},
	{"VoucherConcurrentRedeem", testVoucherConcurrentRedeem},
	{"VoucherInterrupted", testVoucherInterrupted},
	{"VoucherUsedUpExpired", testVoucherUsedUpExpired},
	{"VoucherPlanSnapshot", testVoucherPlanSnapshot},
	{"VoucherDevices", testVoucherDevices},
	{"VoucherBatches", testVoucherBatches},
}

// clock is a settable clock for a Manager.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newVoucherMgr(s *Store) (*voucher.Manager, *clock) {
	c := &clock{t: t0}
	return voucher.NewManager(s, c.now), c
}

func uptr(v uint) *uint { return &v }

func hourPlan(name string) voucher.PlanInput {
	return voucher.PlanInput{Name: name, Type: []byte(`"time"`), TimeSecs: 3600, DownMbits: 5, UpMbits: 2,
		Price: 2.5, Currency: "EUR"}
}

// batchOf creates a plan and a batch of n codes for it.
func batchOf(t *testing.T, m *voucher.Manager, in voucher.PlanInput, n int) []string {
	t.Helper()
	ctx := t.Context()
	if _, err := m.CreatePlan(ctx, in); err != nil {
		t.Fatalf("CreatePlan: %v", err)
	}
	b, err := m.CreateBatch(ctx, in.Name, voucher.BatchInput{Count: n})
	if err != nil {
		t.Fatalf("CreateBatch: %v", err)
	}
	if len(b.Codes) != n {
		t.Fatalf("batch has %d codes, want %d", len(b.Codes), n)
	}
	return b.Codes
}

func deviceSessions(t *testing.T, s *Store, mac session.MAC) []session.Data {
	t.Helper()
	all, err := s.DeviceSessions(t.Context(), mac)
	if err != nil {
		t.Fatalf("DeviceSessions: %v", err)
	}
	return all
}

func testPlanCRUD(t *testing.T, s *Store) {
	ctx := t.Context()
	m, _ := newVoucherMgr(s)
	in := hourPlan("1h")
	in.ExpDays = uptr(7)
	p, err := m.CreatePlan(ctx, in)
	if err != nil {
		t.Fatalf("CreatePlan: %v", err)
	}
	if _, err := m.CreatePlan(ctx, in); !errors.Is(err, voucher.ErrPlanExists) {
		t.Fatalf("second CreatePlan: %v, want ErrPlanExists", err)
	}
	h := hgetall(t, s, "hs:{plans}:plan:1h")
	for k, want := range map[string]string{"name": "1h", "type": "time", "time_secs": "3600", "exp_days": "7",
		"down_mbits": "5", "up_mbits": "2", "price": "2.5", "currency": "EUR", "devices": "1", "use_global_speed": "0",
		"created_at": unixStr(t0)} {
		if h[k] != want {
			t.Errorf("plan hash %s = %q, want %q", k, h[k], want)
		}
	}
	got, counts, err := m.Plan(ctx, "1h")
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if g, w := jsonOf(t, got.JSON()), jsonOf(t, p.JSON()); g != w {
		t.Errorf("Plan = %s, want %s", g, w)
	}
	if counts[voucher.StateUnused] != 0 {
		t.Errorf("counts %v, want none", counts)
	}
	up, err := m.UpdatePlan(ctx, "1h", voucher.PlanPatch{TimeSecs: uptr(7200), ExpDays: []byte("null")})
	if err != nil {
		t.Fatalf("UpdatePlan: %v", err)
	}
	if up.TimeSecs != 7200 || up.ExpDays != nil || !up.CreatedAt.Equal(t0) {
		t.Errorf("updated plan %+v", up.JSON())
	}
	if _, ok := hgetall(t, s, "hs:{plans}:plan:1h")["exp_days"]; ok {
		t.Error("exp_days still in the hash after exp_days: null")
	}
	if _, err := m.UpdatePlan(ctx, "1h", voucher.PlanPatch{DataMB: new(float64)}); err != nil {
		t.Errorf("data_mb 0 on a time plan: %v", err)
	}
	one := 1.0
	if _, err := m.UpdatePlan(ctx, "1h", voucher.PlanPatch{DataMB: &one}); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("data_mb on a time plan: %v, want invalid", err)
	}
	if _, err := m.UpdatePlan(ctx, "nope", voucher.PlanPatch{TimeSecs: uptr(1)}); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("UpdatePlan unknown: %v, want not found", err)
	}
	ps, err := m.Plans(ctx)
	if err != nil || len(ps) != 1 || ps[0].Name != "1h" {
		t.Fatalf("Plans = %v, %v", ps, err)
	}
	if _, err := m.CreateBatch(ctx, "1h", voucher.BatchInput{Count: 2}); err != nil {
		t.Fatal(err)
	}
	if err := m.DeletePlan(ctx, "1h"); !errors.Is(err, voucher.ErrPlanInUse) {
		t.Fatalf("DeletePlan with unused codes: %v, want ErrPlanInUse", err)
	}
	bs, _ := m.Batches(ctx)
	if _, _, err := m.RevokeBatch(ctx, bs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := m.DeletePlan(ctx, "1h"); err != nil {
		t.Fatalf("DeletePlan: %v", err)
	}
	if _, _, err := m.Plan(ctx, "1h"); !errors.Is(err, voucher.ErrPlanNotFound) {
		t.Errorf("Plan after delete: %v", err)
	}
}

func testVoucherRedeem(t *testing.T, s *Store) {
	ctx := t.Context()
	m, _ := newVoucherMgr(s)
	codes := batchOf(t, m, hourPlan("1h"), 3)
	mac, other := session.MAC("aa:bb:cc:dd:ee:01"), session.MAC("aa:bb:cc:dd:ee:02")

	typed := " " + voucher.Group(codes[0]) + " " // as a customer types it, lower case
	id, err := m.Redeem(ctx, lower(typed), mac)
	if err != nil {
		t.Fatalf("Redeem: %v", err)
	}
	all := deviceSessions(t, s, mac)
	if len(all) != 1 || all[0].ID != id || all[0].Voucher != codes[0] || all[0].TimeSecs != 3600 || all[0].DownMbits != 5 {
		t.Fatalf("device sessions after redeem: %+v (id %s)", all, id)
	}
	h := hgetall(t, s, "hs:voucher:{"+codes[0]+"}")
	if h["state"] != "active" || h["devices"] != string(mac) || h["dev:"+string(mac)] != id || h["redeemed_at"] != unixStr(t0) {
		t.Errorf("voucher hash after redeem: %v", h)
	}
	if again, err := m.Redeem(ctx, codes[0], mac); err != nil || again != id {
		t.Errorf("re-login: %q, %v; want %q", again, err, id)
	}
	if n := len(deviceSessions(t, s, mac)); n != 1 {
		t.Errorf("re-login made %d sessions, want 1", n)
	}
	if _, err := m.Redeem(ctx, codes[0], other); !errors.Is(err, voucher.ErrOtherDevice) {
		t.Errorf("other device: %v, want ErrOtherDevice", err)
	}
	if n := len(deviceSessions(t, s, other)); n != 0 {
		t.Errorf("other device got %d sessions", n)
	}
	for _, bad := range []string{"", "x", "AAAAAAAAAA", codes[1] + "3", "O0O0O0O0O0!"} {
		if _, err := m.Redeem(ctx, bad, other); !errors.Is(err, voucher.ErrUnknown) {
			t.Errorf("Redeem(%q): %v, want ErrUnknown", bad, err)
		}
	}
	if _, err := m.RevokeVoucher(ctx, codes[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Redeem(ctx, codes[1], other); !errors.Is(err, voucher.ErrRevoked) {
		t.Errorf("revoked: %v, want ErrRevoked", err)
	}
	v, err := m.Voucher(ctx, codes[0])
	if err != nil || v.State != voucher.StateActive || len(v.SessionIDs) != 1 || v.SessionIDs[0] != id || v.Devices[0] != string(mac) {
		t.Errorf("Voucher = %+v, %v", v, err)
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// testVoucherConcurrentRedeem: many devices log in with one code at once:
// one wins; many copies of one device's login: one session.
func testVoucherConcurrentRedeem(t *testing.T, s *Store) {
	ctx := t.Context()
	m, _ := newVoucherMgr(s)
	codes := batchOf(t, m, hourPlan("1h"), 2)
	const n = 16
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// each goroutine its own store: another server process, as far as Redis can tell
			ids[i], errs[i] = voucher.NewManager(twin(t, s), func() time.Time { return t0 }).
				Redeem(ctx, codes[0], session.MAC(fmt.Sprintf("02:00:00:00:01:%02x", i)))
		}()
	}
	wg.Wait()
	winners := 0
	for i := range n {
		switch {
		case errs[i] == nil:
			winners++
			if all := deviceSessions(t, s, session.MAC(fmt.Sprintf("02:00:00:00:01:%02x", i))); len(all) != 1 || all[0].ID != ids[i] {
				t.Errorf("winner's sessions: %+v", all)
			}
		case !errors.Is(errs[i], voucher.ErrOtherDevice):
			t.Errorf("loser %d: %v, want ErrOtherDevice", i, errs[i])
		default:
			if all := deviceSessions(t, s, session.MAC(fmt.Sprintf("02:00:00:00:01:%02x", i))); len(all) != 0 {
				t.Errorf("loser %d has sessions %+v", i, all)
			}
		}
	}
	if winners != 1 {
		t.Fatalf("%d devices redeemed one code, want 1", winners)
	}

	mac := session.MAC("02:00:00:00:02:01")
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = m.Redeem(ctx, codes[1], mac)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("copy %d: %q, %v; want %q", i, ids[i], errs[i], ids[0])
		}
	}
	if all := deviceSessions(t, s, mac); len(all) != 1 {
		t.Errorf("%d copies of one login made %d sessions, want 1", n, len(all))
	}
}

// testVoucherInterrupted: a login cut after step 1, or after step 2, is
// completed by the next one, with one session.
func testVoucherInterrupted(t *testing.T, s *Store) {
	ctx := t.Context()
	m, _ := newVoucherMgr(s)
	codes := batchOf(t, m, hourPlan("1h"), 2)
	plan, err := s.GetPlan(ctx, "1h")
	if err != nil {
		t.Fatal(err)
	}
	mac := session.MAC("02:00:00:00:03:01")

	// Cut after step 1.
	if _, err := s.Claim(ctx, codes[0], mac, &plan, t0); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	v, err := m.Voucher(ctx, codes[0])
	if err != nil || v.State != voucher.StateActive || len(v.Pending) != 1 {
		t.Errorf("after step 1: %+v, %v; want active, pending", v, err)
	}
	if _, err := m.Redeem(ctx, codes[0], "02:00:00:00:03:02"); !errors.Is(err, voucher.ErrOtherDevice) {
		t.Errorf("other device while pending: %v", err)
	}
	v, err = m.Complete(ctx, codes[0]) // the operator's repair
	if err != nil || len(v.Pending) != 0 || len(v.SessionIDs) != 1 {
		t.Fatalf("Complete after step 1: %+v, %v", v, err)
	}
	id, err := m.Redeem(ctx, codes[0], mac)
	if err != nil || id != v.SessionIDs[0] {
		t.Fatalf("Redeem after the repair: %q, %v; want %s", id, err, v.SessionIDs[0])
	}
	if all := deviceSessions(t, s, mac); len(all) != 1 || all[0].ID != id {
		t.Fatalf("after completion: %+v", all)
	}

	// Cut after step 2.
	if _, err := s.Claim(ctx, codes[1], mac, &plan, t0); err != nil {
		t.Fatal(err)
	}
	d, _ := plan.Spec().Data(string(mac), t0)
	d.Voucher = codes[1]
	id2, err := s.CreateVoucherSession(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Redeem(ctx, codes[1], mac)
	if err != nil || again != id2 {
		t.Fatalf("Redeem after step 2: %q, %v; want %q", again, err, id2)
	}
	if all := deviceSessions(t, s, mac); len(all) != 2 {
		t.Errorf("device has %d sessions, want 2 (one per code)", len(all))
	}
	v, _ = m.Voucher(ctx, codes[1])
	if len(v.Pending) != 0 || len(v.SessionIDs) != 1 || v.SessionIDs[0] != id2 {
		t.Errorf("voucher after completion: %+v", v)
	}
}

func testVoucherUsedUpExpired(t *testing.T, s *Store) {
	ctx := t.Context()
	m, clk := newVoucherMgr(s)
	in := hourPlan("1h")
	in.ExpDays = uptr(1)
	codes := batchOf(t, m, in, 2)
	a, b := session.MAC("02:00:00:00:04:01"), session.MAC("02:00:00:00:04:02")

	id, err := m.Redeem(ctx, codes[0], a)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mgrAt(s, t0).GetSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cs.IncTimeCons(3600)
	if err := cs.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Voucher(ctx, codes[0]); v.State != voucher.StateUsedUp {
		t.Errorf("state %q, want used_up", v.State)
	}
	if _, err := m.Redeem(ctx, codes[0], b); !errors.Is(err, voucher.ErrUsedUp) {
		t.Errorf("other device, used up: %v, want ErrUsedUp", err)
	}
	// The same device's re-login finds its (used up) session: the caller
	// tells the customer (session.Current).
	if again, err := m.Redeem(ctx, codes[0], a); err != nil || again != id {
		t.Errorf("re-login of used-up voucher: %q, %v", again, err)
	}

	id2, err := m.Redeem(ctx, codes[1], b)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ = mgrAt(s, t0).GetSession(ctx, id2)
	cs.SetStartedAt(t0)
	if err := cs.Save(ctx); err != nil {
		t.Fatal(err)
	}
	clk.add(25 * time.Hour)
	if v, _ := m.Voucher(ctx, codes[1]); v.State != voucher.StateExpired {
		t.Errorf("state %q, want expired", v.State)
	}
	if _, err := m.Redeem(ctx, codes[1], a); !errors.Is(err, voucher.ErrExpired) {
		t.Errorf("other device, expired: %v, want ErrExpired", err)
	}
}

// testVoucherPlanSnapshot: a plan changed after a code's first claim does
// not change what the code creates; a code claimed after the change uses it.
func testVoucherPlanSnapshot(t *testing.T, s *Store) {
	ctx := t.Context()
	m, _ := newVoucherMgr(s)
	codes := batchOf(t, m, hourPlan("1h"), 2)
	plan, _ := s.GetPlan(ctx, "1h")
	mac := session.MAC("02:00:00:00:05:01")
	if _, err := s.Claim(ctx, codes[0], mac, &plan, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.UpdatePlan(ctx, "1h", voucher.PlanPatch{TimeSecs: uptr(60)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Redeem(ctx, codes[0], mac); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Redeem(ctx, codes[1], mac); err != nil {
		t.Fatal(err)
	}
	all := deviceSessions(t, s, mac)
	if len(all) != 2 || all[0].TimeSecs != 3600 || all[1].TimeSecs != 60 {
		t.Errorf("sessions %+v: want 3600 s (claimed before the change) then 60 s", all)
	}
}

func testVoucherDevices(t *testing.T, s *Store) {
	ctx := t.Context()
	m, _ := newVoucherMgr(s)
	in := hourPlan("family")
	in.Devices = 2
	codes := batchOf(t, m, in, 1)
	for i, want := range []error{nil, nil, voucher.ErrOtherDevice} {
		mac := session.MAC(fmt.Sprintf("02:00:00:00:06:%02x", i))
		if _, err := m.Redeem(ctx, codes[0], mac); !errors.Is(err, want) && err != want {
			t.Errorf("device %d: %v, want %v", i, err, want)
		}
	}
	v, _ := m.Voucher(ctx, codes[0])
	if len(v.Devices) != 2 || len(v.SessionIDs) != 2 {
		t.Errorf("voucher %+v: want two devices with a session each", v)
	}
}

func testVoucherBatches(t *testing.T, s *Store) {
	ctx := t.Context()
	m, _ := newVoucherMgr(s)
	if _, err := m.CreatePlan(ctx, hourPlan("1h")); err != nil {
		t.Fatal(err)
	}
	b, err := m.CreateBatch(ctx, "1h", voucher.BatchInput{Count: 5, Length: 12, Prefix: "hs", Note: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range b.Codes {
		if len(c) != 14 || c[:2] != "HS" || seen[c] {
			t.Errorf("code %q: want HS + 12 characters, unique", c)
		}
		seen[c] = true
	}
	if _, err := m.CreateBatch(ctx, "nope", voucher.BatchInput{Count: 1}); !errors.Is(err, voucher.ErrPlanNotFound) {
		t.Errorf("batch of unknown plan: %v", err)
	}
	if _, err := m.CreateBatch(ctx, "1h", voucher.BatchInput{Count: 0, Length: 3}); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("bad batch: %v", err)
	}
	if _, err := m.Redeem(ctx, b.Codes[0], "02:00:00:00:07:01"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RevokeVoucher(ctx, b.Codes[1]); err != nil {
		t.Fatal(err)
	}
	bs, err := m.Batches(ctx)
	if err != nil || len(bs) != 1 {
		t.Fatalf("Batches = %v, %v", bs, err)
	}
	want := map[string]int{"unused": 3, "active": 1, "used_up": 0, "expired": 0, "revoked": 1}
	if fmt.Sprint(bs[0].States) != fmt.Sprint(want) || bs[0].Note != "lobby" || bs[0].Prefix != "HS" {
		t.Errorf("batch %+v, want states %v", bs[0], want)
	}
	_, vs, err := m.RevokeBatch(ctx, b.ID)
	if err != nil || len(vs) != 5 {
		t.Fatalf("RevokeBatch: %d, %v", len(vs), err)
	}
	for _, v := range vs {
		if v.State != voucher.StateRevoked {
			t.Errorf("%s is %s after the batch was revoked", v.Code, v.State)
		}
	}
	if _, _, err := m.Batch(ctx, "nope"); !errors.Is(err, voucher.ErrBatchNotFound) {
		t.Errorf("unknown batch: %v", err)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
