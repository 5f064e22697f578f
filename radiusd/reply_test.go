package radiusd

import (
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/vendors/mikrotik"
	"layeh.com/radius/vendors/wispr"

	"github.com/hotspot-radius/hsradius/dictionary/chillispot"
	"github.com/hotspot-radius/hsradius/dictionary/pfsense"
	"github.com/hotspot-radius/hsradius/session"
)

// TestVSANames checks the golden files' decoder against the generated
// dictionaries: each name it prints is the attribute the setter of that
// name writes.
func TestVSANames(t *testing.T) {
	tests := []struct {
		name string
		set  func(p *radius.Packet) error
	}{
		{"WISPr-Bandwidth-Max-Up", func(p *radius.Packet) error { return wispr.WISPrBandwidthMaxUp_Set(p, 1) }},
		{"WISPr-Bandwidth-Max-Down", func(p *radius.Packet) error { return wispr.WISPrBandwidthMaxDown_Set(p, 1) }},
		{"WISPr-Session-Terminate-Time", func(p *radius.Packet) error { return wispr.WISPrSessionTerminateTime_SetString(p, "x") }},
		{"ChilliSpot-Max-Total-Octets", func(p *radius.Packet) error { return chillispot.ChilliSpotMaxTotalOctets_Set(p, 1) }},
		{"ChilliSpot-Bandwidth-Max-Up", func(p *radius.Packet) error { return chillispot.ChilliSpotBandwidthMaxUp_Set(p, 1) }},
		{"ChilliSpot-Bandwidth-Max-Down", func(p *radius.Packet) error { return chillispot.ChilliSpotBandwidthMaxDown_Set(p, 1) }},
		{"ChilliSpot-Max-Total-Gigawords", func(p *radius.Packet) error { return chillispot.ChilliSpotMaxTotalGigawords_Set(p, 1) }},
		{"Mikrotik-Rate-Limit", func(p *radius.Packet) error { return mikrotik.MikrotikRateLimit_SetString(p, "x") }},
		{"Mikrotik-Total-Limit", func(p *radius.Packet) error { return mikrotik.MikrotikTotalLimit_Set(p, 1) }},
		{"Mikrotik-Total-Limit-Gigawords", func(p *radius.Packet) error { return mikrotik.MikrotikTotalLimitGigawords_Set(p, 1) }},
		{"pfSense-Bandwidth-Max-Up", func(p *radius.Packet) error { return pfsense.PfSenseBandwidthMaxUp_Set(p, 1) }},
		{"pfSense-Bandwidth-Max-Down", func(p *radius.Packet) error { return pfsense.PfSenseBandwidthMaxDown_Set(p, 1) }},
		{"pfSense-Max-Total-Octets", func(p *radius.Packet) error { return pfsense.PfSenseMaxTotalOctets_Set(p, 1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p radius.Packet
			if err := tc.set(&p); err != nil {
				t.Fatal(err)
			}
			lines := decodeAttrs(t, &p)
			if len(lines) != 1 {
				t.Fatalf("got %q, want one attribute", lines)
			}
			if _, ok := attrMap(t, &p)[tc.name]; !ok {
				t.Errorf("decoded as %q, want %s", lines[0], tc.name)
			}
		})
	}
}

// TestReplyUnits pins the units of README's "Attributes sent" independently of the golden
// files: a regenerated golden file cannot silently change them.
func TestReplyUnits(t *testing.T) {
	nas := testNAS()
	nas.Profiles = Profiles
	e := newEnv(t, withNAS(nas))
	e.store.put(sess(1, session.TypeData, func(d *session.Data) {
		d.DownMbits, d.UpMbits = 12, 3
		d.DataBytes = 6 << 30 // 6 GiB: high word 1, low word 2 GiB
		d.DataConsBytes = 0
	}))
	req := accessRequest(t, callingStation(string(testMAC)))
	got := attrMap(t, checkReply(t, e.send(Auth, req), req, testSecret, radius.CodeAccessAccept))
	want := map[string]string{
		"WISPr-Bandwidth-Max-Up":         "3000000",  // bit/s
		"WISPr-Bandwidth-Max-Down":       "12000000", // bit/s
		"ChilliSpot-Bandwidth-Max-Up":    "3000",     // kbit/s
		"ChilliSpot-Bandwidth-Max-Down":  "12000",    // kbit/s
		"ChilliSpot-Max-Total-Octets":    "2147483648",
		"ChilliSpot-Max-Total-Gigawords": "1",
		"Mikrotik-Rate-Limit":            `"3M/12M"`, // rx (client upload) first
		"Mikrotik-Total-Limit":           "2147483648",
		"Mikrotik-Total-Limit-Gigawords": "1",
		"pfSense-Bandwidth-Max-Up":       "3000000",    // bit/s
		"pfSense-Bandwidth-Max-Down":     "12000000",   // bit/s
		"pfSense-Max-Total-Octets":       "2147483647", // 32-bit, read as signed by older pfSense: capped
		"Acct-Interim-Interval":          "300",
		"Idle-Timeout":                   "600",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %s, want %s", k, got[k], v)
		}
	}
	if v, ok := got["Session-Timeout"]; ok {
		t.Errorf("Session-Timeout = %s on a data session without expiry, want none", v)
	}
}

// TestLimitAttrsEdges covers limits the golden sessions do not reach.
func TestLimitAttrsEdges(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		nasDown uint32
		nasUp   uint32
		l       session.Limits
		want    map[string]string // "" value: must be absent
	}{
		{
			name: "timeout within the second is sent as 1, not 0 (no limit)",
			l:    session.Limits{HasTimeout: true, SessionTimeout: 0, DownMbits: 1, UpMbits: 1},
			want: map[string]string{"Session-Timeout": "1"},
		},
		{
			name: "timeout beyond 32 bits is clamped",
			l:    session.Limits{HasTimeout: true, SessionTimeout: 1 << 40, DownMbits: 1, UpMbits: 1},
			want: map[string]string{"Session-Timeout": "4294967295"},
		},
		{
			name: "global speed 0 sends no speed attribute",
			l:    session.Limits{UseGlobalSpeed: true, DownMbits: 9, UpMbits: 9},
			want: map[string]string{
				"WISPr-Bandwidth-Max-Up": "", "WISPr-Bandwidth-Max-Down": "",
				"ChilliSpot-Bandwidth-Max-Up": "", "pfSense-Bandwidth-Max-Down": "",
				"Mikrotik-Rate-Limit": "",
			},
		},
		{
			name:    "global speed in one direction only",
			nasDown: 8,
			l:       session.Limits{UseGlobalSpeed: true},
			want: map[string]string{
				"Mikrotik-Rate-Limit": `"0/8M"`, "WISPr-Bandwidth-Max-Down": "8000000",
				"WISPr-Bandwidth-Max-Up": "",
			},
		},
		{
			name: "data exactly 2^32 bytes: low word 0, high word 1",
			l:    session.Limits{HasData: true, DataBytes: 1 << 32, DownMbits: 1, UpMbits: 1},
			want: map[string]string{
				"ChilliSpot-Max-Total-Octets": "0", "ChilliSpot-Max-Total-Gigawords": "1",
				"Mikrotik-Total-Limit": "0", "Mikrotik-Total-Limit-Gigawords": "1",
				"pfSense-Max-Total-Octets": "2147483647",
			},
		},
		{
			name: "data below 4 GiB: no gigawords",
			l:    session.Limits{HasData: true, DataBytes: 4294967295, DownMbits: 1, UpMbits: 1},
			want: map[string]string{
				"ChilliSpot-Max-Total-Octets": "4294967295", "ChilliSpot-Max-Total-Gigawords": "",
				"Mikrotik-Total-Limit-Gigawords": "", "pfSense-Max-Total-Octets": "2147483647",
			},
		},
		{
			name: "data at pfSense's signed 32-bit maximum is sent as is",
			l:    session.Limits{HasData: true, DataBytes: 2147483647, DownMbits: 1, UpMbits: 1},
			want: map[string]string{"pfSense-Max-Total-Octets": "2147483647", "Mikrotik-Total-Limit": "2147483647"},
		},
		{
			name: "data one byte over pfSense's signed 32-bit maximum is capped for pfSense only",
			l:    session.Limits{HasData: true, DataBytes: 2147483648, DownMbits: 1, UpMbits: 1},
			want: map[string]string{
				"pfSense-Max-Total-Octets": "2147483647",
				"Mikrotik-Total-Limit":     "2147483648", "ChilliSpot-Max-Total-Octets": "2147483648",
			},
		},
		{
			name: "expiry as WISPr ISO 8601 in UTC",
			l: session.Limits{
				HasTimeout: true, SessionTimeout: 60, DownMbits: 1, UpMbits: 1,
				ExpiresAt: time.Date(2025, 7, 4, 18, 5, 6, 0, time.FixedZone("X", 2*3600)),
			},
			want: map[string]string{"WISPr-Session-Terminate-Time": `"2025-07-04T16:05:06+00:00"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &nasEntry{NAS: testNAS()}
			n.Profiles = Profiles
			n.GlobalDownMbits, n.GlobalUpMbits = tc.nasDown, tc.nasUp
			p := &radius.Packet{Attributes: e.srv.limitAttrs(n, tc.l, testNow, true)}
			got := attrMap(t, p)
			for k, v := range tc.want {
				if g, ok := got[k]; v == "" && ok {
					t.Errorf("%s = %s, want absent", k, g)
				} else if v != "" && g != v {
					t.Errorf("%s: got %q, want %q", k, g, v)
				}
			}
		})
	}
}

// TestLimitAttrsCoA checks what a CoA-Request (accept false) carries per
// profile: CoovaChilli resets what a CoA omits, so a NAS with the chillispot
// profile gets the Access-Accept's Acct-Interim-Interval and Idle-Timeout
// again; a MikroTik cannot change Mikrotik-Total-Limit by CoA and is not sent
// one; the other limits are those of an Access-Accept.
func TestLimitAttrsCoA(t *testing.T) {
	e := newEnv(t)
	l := session.Limits{HasTimeout: true, SessionTimeout: 900, HasData: true, DataBytes: 5 << 30, DownMbits: 8, UpMbits: 2}
	tests := []struct {
		name     string
		profiles []Profile
		want     map[string]string // "" value: must be absent
	}{
		{
			name:     "chillispot",
			profiles: []Profile{ProfileChilli},
			want: map[string]string{
				"Session-Timeout": "900", "Acct-Interim-Interval": "300", "Idle-Timeout": "600",
				"ChilliSpot-Bandwidth-Max-Down": "8000", "ChilliSpot-Max-Total-Octets": "1073741824",
				"ChilliSpot-Max-Total-Gigawords": "1",
			},
		},
		{
			name:     "chillispot with wispr",
			profiles: []Profile{ProfileWISPr, ProfileChilli},
			want: map[string]string{
				"Acct-Interim-Interval": "300", "Idle-Timeout": "600", "WISPr-Bandwidth-Max-Down": "8000000",
			},
		},
		{
			name:     "mikrotik",
			profiles: []Profile{ProfileMikroTik},
			want: map[string]string{
				"Session-Timeout": "900", "Mikrotik-Rate-Limit": `"2M/8M"`,
				"Mikrotik-Total-Limit": "", "Mikrotik-Total-Limit-Gigawords": "",
				"Acct-Interim-Interval": "", "Idle-Timeout": "",
			},
		},
		{
			name:     "wispr",
			profiles: []Profile{ProfileWISPr},
			want: map[string]string{
				"Session-Timeout": "900", "WISPr-Bandwidth-Max-Up": "2000000",
				"Acct-Interim-Interval": "", "Idle-Timeout": "",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &nasEntry{NAS: testNAS()}
			n.Profiles = tc.profiles
			got := attrMap(t, &radius.Packet{Attributes: e.srv.limitAttrs(n, l, testNow, false)})
			for k, v := range tc.want {
				if g, ok := got[k]; v == "" && ok {
					t.Errorf("%s = %s, want absent", k, g)
				} else if v != "" && g != v {
					t.Errorf("%s: got %q, want %q", k, g, v)
				}
			}
		})
	}
}
