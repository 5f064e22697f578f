package radiusd

import (
	"strings"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/session"
)

// TestAccessReject checks that each reason a device is refused produces an
// Access-Reject whose Reply-Message says why, with a valid
// Message-Authenticator first.
func TestAccessReject(t *testing.T) {
	tests := []struct {
		name     string
		sessions []session.Data
		fns      []attrFn
		wantMsg  string
		outcome  string
		lookups  int
	}{
		{
			name:    "no session",
			fns:     []attrFn{callingStation("AA-BB-CC-DD-EE-FF")},
			wantMsg: msgNoSession, outcome: OutcomeRejected, lookups: 1,
		},
		{
			name: "time used up",
			sessions: []session.Data{sess(1, session.TypeTime, func(d *session.Data) {
				d.TimeCons = d.TimeSecs
				d.StartedAt = testNow.Add(-2 * time.Hour)
			})},
			fns:     []attrFn{callingStation("AA-BB-CC-DD-EE-FF")},
			wantMsg: msgTimeUsedUp, outcome: OutcomeRejected, lookups: 1,
		},
		{
			name: "time over-consumed (no wrap-around)",
			sessions: []session.Data{sess(1, session.TypeTime, func(d *session.Data) {
				d.TimeCons = d.TimeSecs + 100
				d.StartedAt = testNow.Add(-2 * time.Hour)
			})},
			fns:     []attrFn{callingStation("AA-BB-CC-DD-EE-FF")},
			wantMsg: msgTimeUsedUp, outcome: OutcomeRejected, lookups: 1,
		},
		{
			name: "data used up",
			sessions: []session.Data{sess(1, session.TypeData, func(d *session.Data) {
				d.DataConsBytes = d.DataBytes
				d.StartedAt = testNow.Add(-time.Hour)
			})},
			fns:     []attrFn{callingStation("AA-BB-CC-DD-EE-FF")},
			wantMsg: msgDataUsedUp, outcome: OutcomeRejected, lookups: 1,
		},
		{
			name: "expired",
			sessions: []session.Data{sess(1, session.TypeTime, func(d *session.Data) {
				d.HasExpiry, d.ExpDays = true, 1
				d.StartedAt = testNow.Add(-25 * time.Hour)
				d.TimeCons = 60
			})},
			fns:     []attrFn{callingStation("AA-BB-CC-DD-EE-FF")},
			wantMsg: msgExpired, outcome: OutcomeRejected, lookups: 1,
		},
		{
			name: "expired exactly now",
			sessions: []session.Data{sess(1, session.TypeTime, func(d *session.Data) {
				d.HasExpiry, d.ExpDays = true, 1
				d.StartedAt = testNow.Add(-24 * time.Hour)
			})},
			fns:     []attrFn{callingStation("AA-BB-CC-DD-EE-FF")},
			wantMsg: msgExpired, outcome: OutcomeRejected, lookups: 1,
		},
		{
			name:     "no MAC in request",
			sessions: []session.Data{sess(1, session.TypeTime, nil)},
			fns:      []attrFn{userName("alice")},
			wantMsg:  msgNoMAC, outcome: OutcomeRejected,
		},
		{
			name:     "no MAC: Calling-Station-Id not a MAC, no User-Name",
			sessions: []session.Data{sess(1, session.TypeTime, nil)},
			fns:      []attrFn{callingStation("+15551234567")},
			wantMsg:  msgNoMAC, outcome: OutcomeRejected,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.store.put(tc.sessions...)
			req := accessRequest(t, tc.fns...)
			p := checkReply(t, e.send(Auth, req), req, testSecret, radius.CodeAccessReject)
			got := attrMap(t, p)
			if want := `"` + tc.wantMsg + `"`; got["Reply-Message"] != want {
				t.Errorf("Reply-Message: got %s, want %s", got["Reply-Message"], want)
			}
			if n := len(decodeAttrs(t, p)); n != 2 {
				t.Errorf("reject carries %d attributes, want 2 (Message-Authenticator, Reply-Message): %q", n, decodeAttrs(t, p))
			}
			if got := len(e.store.lookups); got != tc.lookups {
				t.Errorf("store lookups: got %d, want %d", got, tc.lookups)
			}
			e.wantOutcomes(map[string]int{"auth Access-Request " + tc.outcome: 1})
		})
	}
}

// TestPasswordModes checks PAP and CHAP against the NAS's password mode.
func TestPasswordModes(t *testing.T) {
	const fixed = "hotspot-mac-pw"
	chal := []byte("0123456789abcdef")
	tests := []struct {
		name   string
		mode   PasswordMode
		fns    []attrFn
		accept bool
	}{
		{"any: PAP x (accessRequest's default)", PasswordAny, nil, true},
		{"any: wrong PAP", PasswordAny, []attrFn{papPassword("whatever")}, true},

		{"mac: PAP colon", PasswordMAC, []attrFn{papPassword("aa:bb:cc:dd:ee:ff")}, true},
		{"mac: PAP upper dash", PasswordMAC, []attrFn{papPassword("AA-BB-CC-DD-EE-FF")}, true},
		{"mac: PAP bare hex", PasswordMAC, []attrFn{papPassword("aabbccddeeff")}, true},
		{"mac: PAP cisco dotted", PasswordMAC, []attrFn{papPassword("aabb.ccdd.eeff")}, true},
		{"mac: PAP other MAC", PasswordMAC, []attrFn{papPassword("aa:bb:cc:dd:ee:00")}, false},
		{"mac: PAP wrong", PasswordMAC, []attrFn{papPassword("wrong")}, false},
		{"mac: PAP empty", PasswordMAC, []attrFn{papPassword("")}, false},
		{"mac: no password", PasswordMAC, nil, false},
		{"mac: CHAP bare hex, authenticator challenge", PasswordMAC, []attrFn{chapPassword(7, "aabbccddeeff", nil)}, true},
		{"mac: CHAP upper dash, CHAP-Challenge", PasswordMAC, []attrFn{chapPassword(9, "AA-BB-CC-DD-EE-FF", chal)}, true},
		{"mac: CHAP colon", PasswordMAC, []attrFn{chapPassword(1, "aa:bb:cc:dd:ee:ff", chal)}, true},
		// MikroTik radius-mac-format and pfSense formats a CHAP password may take.
		{"mac: CHAP halves with a dash (MikroTik, pfSense single dash)", PasswordMAC, []attrFn{chapPassword(2, "AABBCC-DDEEFF", chal)}, true},
		{"mac: CHAP halves with a colon", PasswordMAC, []attrFn{chapPassword(2, "aabbcc:ddeeff", chal)}, true},
		{"mac: CHAP quads with colons", PasswordMAC, []attrFn{chapPassword(2, "AABB:CCDD:EEFF", chal)}, true},
		{"mac: CHAP pairs with spaces", PasswordMAC, []attrFn{chapPassword(2, "AA BB CC DD EE FF", chal)}, true},
		{"mac: CHAP wrong", PasswordMAC, []attrFn{chapPassword(1, "wrong", chal)}, false},
		{"mac: CHAP right password, other challenge", PasswordMAC, []attrFn{
			chapPassword(1, "aabbccddeeff", nil), func(p *radius.Packet) { p.Authenticator[0] ^= 1 },
		}, false},

		{"fixed: PAP right", PasswordFixed, []attrFn{papPassword(fixed)}, true},
		{"fixed: PAP wrong", PasswordFixed, []attrFn{papPassword("nope")}, false},
		{"fixed: PAP the MAC", PasswordFixed, []attrFn{papPassword("aabbccddeeff")}, false},
		{"fixed: PAP prefix of the password", PasswordFixed, []attrFn{papPassword(fixed[:4])}, false},
		{"fixed: CHAP right, authenticator challenge", PasswordFixed, []attrFn{chapPassword(3, fixed, nil)}, true},
		{"fixed: CHAP right, CHAP-Challenge", PasswordFixed, []attrFn{chapPassword(3, fixed, chal)}, true},
		{"fixed: CHAP wrong", PasswordFixed, []attrFn{chapPassword(3, "nope", chal)}, false},
		{"fixed: no password", PasswordFixed, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nas := testNAS()
			nas.Password, nas.FixedPassword = tc.mode, fixed
			e := newEnv(t, withNAS(nas))
			e.store.put(sess(1, session.TypeTime, nil))
			fns := append([]attrFn{userName("aabbccddeeff"), callingStation("AA-BB-CC-DD-EE-FF")}, tc.fns...)
			req := accessRequest(t, fns...)
			want, outcome := radius.CodeAccessReject, OutcomeBadPassword
			if tc.accept {
				want, outcome = radius.CodeAccessAccept, OutcomeAccepted
			}
			p := checkReply(t, e.send(Auth, req), req, testSecret, want)
			if !tc.accept {
				if got := attrMap(t, p)["Reply-Message"]; got != `"`+msgBadPassword+`"` {
					t.Errorf("Reply-Message: got %s, want %q", got, msgBadPassword)
				}
				if n := e.store.calls(); n != 0 {
					t.Errorf("store called %d times for a wrong password, want 0", n)
				}
			}
			e.wantOutcomes(map[string]int{"auth Access-Request " + outcome: 1})
		})
	}
}

// TestMACSpellings checks every MAC spelling NAS vendors use, in
// Calling-Station-Id and in a MAC-shaped User-Name, finds the device.
func TestMACSpellings(t *testing.T) {
	spellings := []string{
		"AA-BB-CC-DD-EE-FF", "aa-bb-cc-dd-ee-ff", "aa:bb:cc:dd:ee:ff", "AA:BB:CC:DD:EE:FF",
		"aabb.ccdd.eeff", "AABB.CCDD.EEFF", "aabbccddeeff", "AABBCCDDEEFF", " aabbccddeeff ",
	}
	for _, where := range []string{"Calling-Station-Id", "User-Name"} {
		for _, sp := range spellings {
			t.Run(where+"="+strings.TrimSpace(sp), func(t *testing.T) {
				nas := testNAS()
				fn := callingStation(sp)
				if where == "User-Name" {
					// Only a mac_username NAS reads the device from User-Name.
					nas.Login = LoginMACUserName
					fn = userName(sp)
				}
				e := newEnv(t, withNAS(nas))
				e.store.put(sess(1, session.TypeTime, nil))
				req := accessRequest(t, fn)
				checkReply(t, e.send(Auth, req), req, testSecret, radius.CodeAccessAccept)
				if len(e.store.lookups) != 1 || e.store.lookups[0] != testMAC {
					t.Errorf("store looked up %v, want [%s]", e.store.lookups, testMAC)
				}
			})
		}
	}
}

// TestLoginStyles checks what each per-NAS login style accepts: where the
// device's MAC is read, what User-Name must be, and that a request with no
// credential at all is refused.
func TestLoginStyles(t *testing.T) {
	other := "02:00:00:00:00:09"
	tests := []struct {
		name   string
		login  LoginStyle
		suffix string
		fns    []attrFn
		bare   bool   // no User-Name or password added
		want   string // "" = accepted for testMAC, else the Reply-Message
	}{
		{"mac: User-Name is the Calling-Station-Id MAC", LoginMAC, "", []attrFn{callingStation("AA-BB-CC-DD-EE-FF"), userName("aabbccddeeff")}, false, ""},
		{"mac: another device's MAC typed as User-Name", LoginMAC, "", []attrFn{callingStation("AA-BB-CC-DD-EE-FF"), userName(other)}, false, msgNotThisMAC},
		{"mac: a name typed at a portal", LoginMAC, "", []attrFn{callingStation("AA-BB-CC-DD-EE-FF"), userName("bob")}, false, msgNotThisMAC},
		// The hole a review found: an IP in Calling-Station-Id and another
		// device's MAC as User-Name picked that device.
		{"mac: non-MAC Calling-Station-Id, MAC-shaped User-Name", LoginMAC, "", []attrFn{callingStation("10.0.0.5"), userName("AABBCCDDEEFF")}, false, msgNoMAC},
		{"mac: no Calling-Station-Id", LoginMAC, "", []attrFn{userName("AABBCCDDEEFF")}, false, msgNoMAC},
		{"mac: CoovaChilli macsuffix", LoginMAC, "@hotspot", []attrFn{callingStation("AA-BB-CC-DD-EE-FF"), userName("AA-BB-CC-DD-EE-FF@hotspot")}, false, ""},
		{"mac_username: MAC only in User-Name", LoginMACUserName, "", []attrFn{callingStation("10.0.0.5"), userName("AABBCCDDEEFF")}, false, ""},
		{"mac_username: User-Name and Calling-Station-Id disagree", LoginMACUserName, "", []attrFn{callingStation(other), userName("AABBCCDDEEFF")}, false, msgMACsDisagree},
		{"mac_username: User-Name not a MAC", LoginMACUserName, "", []attrFn{callingStation("AA-BB-CC-DD-EE-FF"), userName("bob")}, false, msgNoMACUserName},
		{"any_name: any User-Name, device from Calling-Station-Id", LoginAnyName, "", []attrFn{callingStation("AA-BB-CC-DD-EE-FF"), userName("user000001")}, false, ""},
		{"any_name: MAC-shaped User-Name does not pick the device", LoginAnyName, "", []attrFn{callingStation("10.0.0.5"), userName("AABBCCDDEEFF")}, false, msgNoMAC},
		{"no credential at all", LoginAnyName, "", []attrFn{callingStation("AA-BB-CC-DD-EE-FF"), userName("AABBCCDDEEFF")}, true, msgNoCredential},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nas := testNAS()
			nas.Login, nas.MACSuffix = tc.login, tc.suffix
			e := newEnv(t, withNAS(nas))
			e.store.put(sess(1, session.TypeTime, nil))
			var req []byte
			if tc.bare {
				req = accessRequestBare(t, tc.fns...)
			} else {
				req = accessRequest(t, tc.fns...)
			}
			if tc.want == "" {
				checkReply(t, e.send(Auth, req), req, testSecret, radius.CodeAccessAccept)
				if len(e.store.lookups) != 1 || e.store.lookups[0] != testMAC {
					t.Errorf("store looked up %v, want [%s]", e.store.lookups, testMAC)
				}
				return
			}
			p := checkReply(t, e.send(Auth, req), req, testSecret, radius.CodeAccessReject)
			if got := attrMap(t, p)["Reply-Message"]; got != `"`+tc.want+`"` {
				t.Errorf("Reply-Message: got %s, want %q", got, tc.want)
			}
			if len(e.store.lookups) != 0 {
				t.Errorf("store looked up %v for a refused login", e.store.lookups)
			}
		})
	}
}

// TestAccessAcceptCurrentSession checks the Accept describes the current
// session: the started one wins over an older, unstarted one.
func TestAccessAcceptCurrentSession(t *testing.T) {
	e := newEnv(t)
	e.store.put(
		sess(1, session.TypeTime, func(d *session.Data) { d.TimeSecs = 7200 }),
		sess(2, session.TypeTime, func(d *session.Data) {
			d.TimeSecs, d.TimeCons = 3600, 600
			d.StartedAt = testNow.Add(-time.Hour)
		}),
	)
	req := accessRequest(t, callingStation("aabbccddeeff"))
	got := attrMap(t, checkReply(t, e.send(Auth, req), req, testSecret, radius.CodeAccessAccept))
	if got["Session-Timeout"] != "3000" {
		t.Errorf("Session-Timeout: got %s, want 3000 (the started session)", got["Session-Timeout"])
	}
	e.wantOutcomes(map[string]int{"auth Access-Request accepted": 1})
}

// TestAccessRequestStoreError checks nothing is answered when the store
// fails, and that the retransmission is processed afresh.
func TestAccessRequestStoreError(t *testing.T) {
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))
	e.store.setErr(errStoreDown)
	req := accessRequest(t, callingStation("aabbccddeeff"))
	if reply := e.send(Auth, req); reply != nil {
		t.Fatalf("answered %s on a store error, want silence", radius.Code(reply[0]))
	}
	e.store.setErr(nil)
	checkReply(t, e.send(Auth, req), req, testSecret, radius.CodeAccessAccept)
	e.wantOutcomes(map[string]int{
		"auth Access-Request store_error": 1,
		"auth Access-Request accepted":    1,
	})
}
