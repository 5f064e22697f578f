package radiusd_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// voucherBatch makes a plan and a batch of n codes in store.
func voucherBatch(t *testing.T, m *voucher.Manager, in voucher.PlanInput, n int) []string {
	t.Helper()
	ctx := context.Background()
	if _, err := m.CreatePlan(ctx, in); err != nil {
		t.Fatalf("CreatePlan: %v", err)
	}
	b, err := m.CreateBatch(ctx, in.Name, voucher.BatchInput{Count: n})
	if err != nil {
		t.Fatalf("CreateBatch: %v", err)
	}
	return b.Codes
}

// radclientText runs radclient with the request(s) given as text.
func radclientText(t *testing.T, addr, kind, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "req.txt")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(radclientBin(t), "-x", "-r", "1", "-t", "2", "-f", f, addr, kind, e2eSecret).CombinedOutput()
	return string(out)
}

func voucherCounts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "radiusd_voucher_logins_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v > 0 {
				out[m.GetLabel()[0].GetValue()] = v
			}
		}
	}
	return out
}

// TestRadclientVoucherLogin: voucher logins from radclient, PAP and CHAP,
// on a NAS with login mac_or_voucher: redemption, re-login, another device,
// unknown, revoked and expired codes with their Reply-Messages, a MAC login
// on the same NAS, and the metrics.
func TestRadclientVoucherLogin(t *testing.T) {
	radclientBin(t)
	e := startE2E(t, radiusd.MAOptional, func(n *radiusd.NAS) { n.Login = radiusd.LoginMACOrVoucher })
	vm := voucher.NewManager(e.store, time.Now)
	days := uint(1)
	codes := voucherBatch(t, vm, voucher.PlanInput{Name: "1h", Type: []byte(`"time"`), TimeSecs: 3600,
		ExpDays: &days, DownMbits: 5, UpMbits: 2}, 4)
	login := func(user, pw, csid string, chap bool) string {
		t.Helper()
		pwAttr := "User-Password"
		if chap {
			pwAttr = "CHAP-Password"
		}
		return radclientText(t, e.auth, "auth", fmt.Sprintf("User-Name = %q\n%s = %q\nCalling-Station-Id = %q\n", user, pwAttr, pw, csid))
	}
	accept := func(out string, what string) {
		t.Helper()
		if !strings.Contains(out, "Received Access-Accept") || !strings.Contains(out, "Session-Timeout = 3600") ||
			!strings.Contains(out, `Mikrotik-Rate-Limit = "2M/5M"`) {
			t.Errorf("%s: want Access-Accept with the plan's limits:\n%s", what, out)
		}
	}
	rejected := func(out, msg, what string) {
		t.Helper()
		if !strings.Contains(out, "Received Access-Reject") || !strings.Contains(out, fmt.Sprintf("Reply-Message = %q", msg)) {
			t.Errorf("%s: want Access-Reject %q:\n%s", what, msg, out)
		}
	}

	// PAP, typed in lower case with a dash, the password as typed.
	typed := strings.ToLower(codes[0][:5] + "-" + codes[0][5:])
	accept(login(typed, typed, "AA-BB-CC-DD-EE-41", false), "first login")
	if got := e.redisCli("HGET", "hs:{aabbccddee41}:s:1", "voucher"); got != codes[0] {
		t.Errorf("session's voucher = %q, want %s", got, codes[0])
	}
	accept(login(codes[0], codes[0], "AA-BB-CC-DD-EE-41", false), "re-login")
	if got := e.redisCli("ZCARD", "hs:{aabbccddee41}:sessions"); got != "1" {
		t.Errorf("the device has %s sessions after a re-login, want 1", got)
	}
	rejected(login(codes[0], codes[0], "AA-BB-CC-DD-EE-42", false), "voucher already in use on another device", "other device")
	rejected(login(codes[1], "wrong", "AA-BB-CC-DD-EE-42", false), "wrong password: type the voucher code as the password", "wrong password")

	// CHAP: the NAS sends the digest of what was typed.
	accept(login(codes[1], codes[1], "AA-BB-CC-DD-EE-43", true), "CHAP login")

	rejected(login("ZZZZ-ZZZZ-ZZ", "ZZZZ-ZZZZ-ZZ", "AA-BB-CC-DD-EE-44", false), "voucher code unknown", "unknown code")
	if _, err := vm.RevokeVoucher(context.Background(), codes[2]); err != nil {
		t.Fatal(err)
	}
	rejected(login(codes[2], codes[2], "AA-BB-CC-DD-EE-44", false), "voucher revoked", "revoked code")

	// Expired: the session of codes[3] started two days ago (1 day plan).
	accept(login(codes[3], codes[3], "AA-BB-CC-DD-EE-45", true), "login before expiry")
	e.redisCli("HSET", "hs:{aabbccddee45}:s:1", "started_at", fmt.Sprint(time.Now().Add(-48*time.Hour).Unix()))
	rejected(login(codes[3], codes[3], "AA-BB-CC-DD-EE-45", false), "voucher expired", "expired, same device")
	rejected(login(codes[3], codes[3], "AA-BB-CC-DD-EE-46", false), "voucher expired", "expired, other device")

	// A MAC login on the same NAS: User-Name is the device's MAC.
	if _, err := e.mgr.CreateSession(context.Background(), "aa:bb:cc:dd:ee:47", session.Spec{Type: session.TypeTime, TimeSecs: 3600, DownMbits: 5, UpMbits: 2}); err != nil {
		t.Fatal(err)
	}
	accept(login("AA:BB:CC:DD:EE:47", "AA:BB:CC:DD:EE:47", "AA-BB-CC-DD-EE-47", false), "MAC login")

	want := map[string]float64{"accepted": 4, "rejected_other_device": 1, "bad_password": 1, "rejected_unknown": 1,
		"rejected_revoked": 1, "rejected_expired": 2}
	if got := voucherCounts(t, e.reg); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("radiusd_voucher_logins_total = %v, want %v", got, want)
	}
}

// TestVoucherRateLimit: failed voucher logins of one device are refused
// past the limit without a lookup (a valid code too), while another device
// still gets in; the NAS-wide limit then stops every device.
func TestVoucherRateLimit(t *testing.T) {
	rs := redistest.Start(t)
	env := startVoucherServer(t, rs.Addr, radiusd.VoucherLimits{PerDevice: 3, PerNAS: 5})
	codes := voucherBatch(t, env.vouchers, voucher.PlanInput{Name: "1h", Type: []byte(`"time"`), TimeSecs: 3600, UseGlobalSpeed: true}, 2)
	for i := range 3 {
		if msg := env.login(t, "NOPE-NOPE-NO", "02:00:00:00:20:01"); msg != "voucher code unknown" {
			t.Fatalf("failure %d: %q", i+1, msg)
		}
	}
	if msg := env.login(t, codes[0], "02:00:00:00:20:01"); msg != "too many attempts, wait a minute" {
		t.Errorf("after 3 failures, a valid code: %q, want the rate limit", msg)
	}
	if msg := env.login(t, codes[0], "02:00:00:00:20:02"); msg != "" {
		t.Errorf("another device: %q, want accepted", msg)
	}
	for i := range 2 { // NAS: 3 + 2 = 5 failures
		if msg := env.login(t, "NOPE-NOPE-NO", fmt.Sprintf("02:00:00:00:21:%02x", i)); msg != "voucher code unknown" {
			t.Fatalf("NAS failure %d: %q", i+4, msg)
		}
	}
	if msg := env.login(t, codes[1], "02:00:00:00:22:01"); msg != "too many attempts, wait a minute" {
		t.Errorf("after the NAS's 5 failures: %q, want the rate limit", msg)
	}
	got := voucherCounts(t, env.reg)
	if got["rate_limited"] != 2 || got["rejected_unknown"] != 5 || got["accepted"] != 1 {
		t.Errorf("counts %v", got)
	}
}

type voucherServer struct {
	vouchers *voucher.Manager
	reg      *prometheus.Registry
	auth     string
}

func startVoucherServer(t *testing.T, redisAddr string, lim radiusd.VoucherLimits) *voucherServer {
	t.Helper()
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{redisAddr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	store, reg, auth, _ := serveLoopback(t, rdb, radiusd.NAS{Login: radiusd.LoginVoucher, VoucherPassword: radiusd.VoucherPasswordAny,
		MAPolicy: radiusd.MAOptional, Profiles: []radiusd.Profile{radiusd.ProfileWISPr}}, func(c *radiusd.Config) { c.VoucherLimits = lim })
	return &voucherServer{vouchers: voucher.NewManager(store, time.Now), reg: reg, auth: auth}
}

// login sends a PAP voucher login and returns the Reply-Message of a
// reject, "" for an accept.
func (v *voucherServer) login(t *testing.T, code, mac string) string {
	t.Helper()
	return papLogin(t, v.auth, code, mac)
}

func papLogin(t *testing.T, addr, code, mac string) string {
	t.Helper()
	return papLoginPW(t, addr, code, "x", mac)
}

// TestVoucherConcurrentLogins: one code, many devices logging in at once
// through the server, on real Redis: one Access-Accept, one session.
func TestVoucherConcurrentLogins(t *testing.T) {
	rs := redistest.Start(t)
	env := startVoucherServer(t, rs.Addr, radiusd.VoucherLimits{PerDevice: 100, PerNAS: 1000})
	codes := voucherBatch(t, env.vouchers, voucher.PlanInput{Name: "1h", Type: []byte(`"time"`), TimeSecs: 3600, UseGlobalSpeed: true}, 1)
	const n = 20
	msgs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs[i] = papLogin(t, env.auth, codes[0], fmt.Sprintf("02:00:00:00:30:%02x", i))
		}()
	}
	wg.Wait()
	accepted := 0
	for i, m := range msgs {
		switch m {
		case "":
			accepted++
		case "voucher already in use on another device":
		default:
			t.Errorf("device %d: %q", i, m)
		}
	}
	if accepted != 1 {
		t.Errorf("%d devices got in with one code, want 1", accepted)
	}
	v, err := env.vouchers.Voucher(context.Background(), codes[0])
	if err != nil || len(v.Devices) != 1 || len(v.SessionIDs) != 1 {
		t.Errorf("voucher %+v, %v: want one device, one session", v, err)
	}
}

// TestVoucherSessionEnforced: a voucher session is counted and enforced as
// any other: an interim past its data makes the server disconnect the
// device at the NAS, and the next login with the code is refused.
func TestVoucherSessionEnforced(t *testing.T) {
	rs := redistest.Start(t)
	nas := startCoANAS(t, coaACK, 0)
	e := startEnforced(t, rs.Addr, nas, enfOptions{nas: func(n *radiusd.NAS) { n.Login = radiusd.LoginVoucher }})
	codes := voucherBatch(t, e.vouchers, voucher.PlanInput{Name: "10mb", Type: []byte(`"data"`), DataMB: 10, DownMbits: 10, UpMbits: 2}, 1)
	s := enfSession(7)
	s.user = codes[0]
	p := radius.New(radius.CodeAccessRequest, []byte(e2eSecret))
	_ = rfc2865.UserName_SetString(p, codes[0])
	_ = rfc2865.UserPassword_SetString(p, codes[0])
	_ = rfc2865.CallingStationID_SetString(p, s.mac)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := (&radius.Client{Retry: time.Second}).Exchange(ctx, p, e.auth)
	if err != nil || reply.Code != radius.CodeAccessAccept {
		t.Fatalf("voucher login: %v, %v", reply, err)
	}
	e.account(t, rfc2866.AcctStatusType_Value_Start, s, 0, 0, 0)
	e.account(t, rfc2866.AcctStatusType_Value_InterimUpdate, s, 300, 2_000_000, 10_000_000)
	r := nas.next(t, enfArrive)
	wantCoACode(t, r, radius.CodeDisconnectRequest)
	wantCoAIdentifies(t, r, s)
	if got := e.result(t); got.Reason != "exhausted" {
		t.Errorf("logged %+v, want a disconnect (exhausted)", got)
	}
	if msg := papLoginPW(t, e.auth, codes[0], codes[0], s.mac); msg != "voucher used up" {
		t.Errorf("login after use: %q, want voucher used up", msg)
	}
	if msg := papLoginPW(t, e.auth, codes[0], codes[0], "02:00:00:00:40:01"); msg != "voucher used up" {
		t.Errorf("other device after use: %q, want voucher used up", msg)
	}
}

func papLoginPW(t *testing.T, addr, code, pw, mac string) string {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(e2eSecret))
	_ = rfc2865.UserName_SetString(p, code)
	_ = rfc2865.UserPassword_SetString(p, pw)
	_ = rfc2865.CallingStationID_SetString(p, mac)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := (&radius.Client{Retry: time.Second}).Exchange(ctx, p, addr)
	if err != nil {
		t.Fatalf("Access-Request: %v", err)
	}
	if reply.Code == radius.CodeAccessAccept {
		return ""
	}
	return rfc2865.ReplyMessage_GetString(reply)
}
