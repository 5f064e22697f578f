package voucher_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
	"github.com/hotspot-radius/hsradius/session/voucher/vouchertest"
)

// TestPlanTable: PlanInput.Plan decides testdata/plans.json as the API and
// hsctl must.
func TestPlanTable(t *testing.T) {
	for _, c := range vouchertest.LoadPlans(t).Cases {
		t.Run(c.Name, func(t *testing.T) {
			_, err := c.Input(t).Plan(time.Now())
			got := vouchertest.WantOK
			if err != nil {
				var fe *session.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a field error", err)
				}
				got = fe.Field
			}
			if got != c.Want {
				t.Errorf("got %s (%v), want %s", got, err, c.Want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"ACEF-GHJK-MN", "ACEFGHJKMN", true},
		{" acef ghjk mn ", "ACEFGHJKMN", true},
		{"acef-ghjk-mn", "ACEFGHJKMN", true},
		{"short", "", false},
		{"ACEF:GHJK:MN", "", false},
		{"ÄCEFGHJKMN", "", false},
		{strings.Repeat("A", 29), "", false},
		{strings.Repeat("A", 100), "", false},
	} {
		got, ok := voucher.Normalize(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c, err := voucher.NewCode("HS", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 12 || !strings.HasPrefix(c, "HS") || seen[c] {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
		for _, r := range c[2:] {
			if !strings.ContainsRune(voucher.Alphabet, r) {
				t.Fatalf("code %q has %q, not in the alphabet", c, r)
			}
		}
		if n, ok := voucher.Normalize(voucher.Group(c)); !ok || n != c {
			t.Fatalf("Group(%q) reads back as %q", c, n)
		}
	}
	for _, r := range "0O1IL5S2Z8BDQUV" {
		if strings.ContainsRune(voucher.Alphabet, r) {
			t.Errorf("the alphabet has the look-alike %q", r)
		}
	}
	// README's figure: 10 characters hold about 43.9 bits.
	if bits := 10 * voucher.BitsPerChar; math.Abs(bits-43.9) > 0.05 {
		t.Errorf("10 characters hold %.2f bits", bits)
	}
}

func TestBatchInputCheck(t *testing.T) {
	in, err := voucher.BatchInput{Count: 3, Prefix: "ab1"}.Check()
	if err != nil || in.Length != voucher.DefaultLength || in.Prefix != "AB1" {
		t.Errorf("Check = %+v, %v", in, err)
	}
	_, err = voucher.BatchInput{Count: 0, Length: 3, Prefix: "a-b", Note: strings.Repeat("x", 300)}.Check()
	var fields []string
	for _, e := range []string{"count", "length", "prefix", "note"} {
		if !strings.Contains(err.Error(), "invalid "+e) {
			fields = append(fields, e)
		}
	}
	if len(fields) > 0 {
		t.Errorf("Check does not name %v: %v", fields, err)
	}
}

func TestShown(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	one := &voucher.Plan{Devices: 1}
	live := session.Data{Type: session.TypeTime, TimeSecs: 60}
	used := session.Data{Type: session.TypeTime, TimeSecs: 60, TimeCons: 60}
	days := session.Data{Type: session.TypeTime, TimeSecs: 60, HasExpiry: true, ExpDays: 1, StartedAt: now.Add(-48 * time.Hour)}
	for _, tc := range []struct {
		name string
		v    voucher.Voucher
		ss   map[string]session.Data
		want string
	}{
		{"unused", voucher.Voucher{State: voucher.StateUnused}, nil, voucher.StateUnused},
		{"revoked", voucher.Voucher{State: voucher.StateRevoked, Devices: []voucher.Binding{{MAC: "02:00:00:00:00:01", SessionID: "s"}}}, nil, voucher.StateRevoked},
		{"pending", voucher.Voucher{State: voucher.StateActive, Snapshot: one, Devices: []voucher.Binding{{MAC: "02:00:00:00:00:01"}}}, nil, voucher.StateActive},
		{"live", voucher.Voucher{State: voucher.StateActive, Snapshot: one, Devices: []voucher.Binding{{MAC: "02:00:00:00:00:01", SessionID: "s"}}}, map[string]session.Data{"s": live}, voucher.StateActive},
		{"used up", voucher.Voucher{State: voucher.StateActive, Snapshot: one, Devices: []voucher.Binding{{MAC: "02:00:00:00:00:01", SessionID: "s"}}}, map[string]session.Data{"s": used}, voucher.StateUsedUp},
		{"deleted", voucher.Voucher{State: voucher.StateActive, Snapshot: one, Devices: []voucher.Binding{{MAC: "02:00:00:00:00:01", SessionID: "s"}}}, nil, voucher.StateUsedUp},
		{"expired", voucher.Voucher{State: voucher.StateActive, Snapshot: one, Devices: []voucher.Binding{{MAC: "02:00:00:00:00:01", SessionID: "s"}}}, map[string]session.Data{"s": days}, voucher.StateExpired},
		{"room for another device", voucher.Voucher{State: voucher.StateActive, Snapshot: &voucher.Plan{Devices: 2}, Devices: []voucher.Binding{{MAC: "02:00:00:00:00:01", SessionID: "s"}}}, map[string]session.Data{"s": used}, voucher.StateActive},
	} {
		if got := voucher.Shown(tc.v, tc.ss, now); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// FuzzNormalize: what Normalize accepts is canonical (capitals and digits,
// within the lengths) and reads back as itself.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"ACEF-GHJK-MN", " acef ghjk mn ", "", "x", "ÄÖÜ", strings.Repeat("-", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := voucher.Normalize(s)
		if !ok {
			return
		}
		if len(code) < voucher.MinLength || len(code) > voucher.MaxLength+voucher.MaxPrefix {
			t.Fatalf("Normalize(%q) = %q: length %d", s, code, len(code))
		}
		for _, r := range code {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Fatalf("Normalize(%q) = %q holds %q", s, code, r)
			}
		}
		if again, ok := voucher.Normalize(code); !ok || again != code {
			t.Fatalf("Normalize(%q) = %q, but that normalises to %q, %v", s, code, again, ok)
		}
	})
}
