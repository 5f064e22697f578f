package radiusd

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

func TestVoucherLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newVoucherLimiter(VoucherLimits{PerDevice: 2, PerNAS: 3, MaxDevices: 8})
	for i := range 2 {
		if !l.take("nas", "a", t0) {
			t.Fatalf("failure %d refused before the limit", i)
		}
	}
	if l.take("nas", "a", t0) {
		t.Error("device a allowed after 2 failures (limit 2)")
	}
	if !l.take("nas", "b", t0) {
		t.Error("device b refused: only a failed")
	}
	if l.take("nas", "c", t0) {
		t.Error("the NAS allowed after 3 failures (limit 3)")
	}
	// A login that did not fail gives its tokens back.
	l.refund("nas", "b", t0)
	if !l.take("nas", "b", t0) {
		t.Error("device b refused after a refund")
	}
	// Half a minute later the NAS has 1.5 tokens, device a 1.
	if !l.take("nas", "a", t0.Add(30*time.Second)) {
		t.Error("device a still refused after the refill")
	}
	// A clock stepped back refills nothing.
	if l.take("nas", "c", t0.Add(-time.Hour)) {
		t.Error("a clock stepped back refilled the NAS")
	}
	// The devices remembered stay bounded.
	l = newVoucherLimiter(VoucherLimits{PerDevice: 2, PerNAS: 1000, MaxDevices: 8})
	for i := range 100 {
		if !l.take("nas", fmt.Sprint(i), t0) {
			t.Fatalf("device %d refused", i)
		}
	}
	if n := l.size(); n > 8 {
		t.Errorf("%d devices remembered, want at most 8", n)
	}
}

func TestVoucherLimitsConfig(t *testing.T) {
	var l VoucherLimits
	l.SetDefaults()
	if l.PerDevice != DefaultVoucherFailuresPerDevice || l.PerNAS != DefaultVoucherFailuresPerNAS || l.MaxDevices != DefaultVoucherLimitDevices {
		t.Errorf("defaults %+v", l)
	}
	var k checker
	bad := VoucherLimits{PerDevice: -1, PerNAS: 0, MaxDevices: 1 << 30}
	bad.check(&k, "")
	err := k.err()
	for _, key := range []string{"voucher_failures_per_device", "voucher_failures_per_nas", "voucher_limit_devices"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("no problem named %s: %v", key, err)
		}
	}
}

// TestVoucherPasswordValidate: voucher_password only with the voucher login
// styles; password only with MAC logins.
func TestVoucherPasswordValidate(t *testing.T) {
	base := NAS{Name: "n", Prefix: netip.MustParsePrefix("192.0.2.1/32"), Secret: []byte("s"), Acct: session.AcctPolicy{RetransmitWindow: time.Minute}}
	for _, tc := range []struct {
		name string
		mod  func(*NAS)
		want string // "" : valid
	}{
		{"voucher", func(n *NAS) { n.Login = LoginVoucher }, ""},
		{"voucher, any", func(n *NAS) { n.Login, n.VoucherPassword = LoginVoucher, VoucherPasswordAny }, ""},
		{"mac_or_voucher, password mac", func(n *NAS) { n.Login, n.Password = LoginMACOrVoucher, PasswordMAC }, ""},
		{"mac with voucher_password", func(n *NAS) { n.VoucherPassword = VoucherPasswordCode }, "voucher_password: code: applies only to voucher logins"},
		{"voucher with password mac", func(n *NAS) { n.Login, n.Password = LoginVoucher, PasswordMAC }, "password: mac: with login: voucher"},
		{"unknown style", func(n *NAS) { n.Login = 9 }, "login: unknown style 9"},
	} {
		n := base
		tc.mod(&n)
		err := n.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	for _, s := range []string{"voucher", "mac_or_voucher"} {
		if l, err := ParseLoginStyle(s); err != nil || l.String() != s || !l.TakesVouchers() {
			t.Errorf("ParseLoginStyle(%q) = %v, %v", s, l, err)
		}
	}
	if _, err := ParseVoucherPassword("mac"); err == nil {
		t.Error("voucher_password mac accepted")
	}
}
