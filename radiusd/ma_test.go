package radiusd

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/session"
)

// step is one request of a Message-Authenticator scenario: with or without
// the attribute (or with a wrong one), and what must happen.
type step struct {
	ma      string // "ok", "none", "bad"
	outcome string
}

func maRequest(t *testing.T, code radius.Code, ma string) []byte {
	t.Helper()
	var fns []attrFn
	if code == radius.CodeAccessRequest {
		fns = append(fns, callingStation("aabbccddeeff"), macLogin)
	}
	b := buildRequest(t, code, testSecret, ma != "none", fns...)
	if ma == "bad" {
		_, off, err := packet.Check(b)
		if err != nil || off == 0 {
			t.Fatalf("no Message-Authenticator to spoil: %v", err)
		}
		b[off+3] ^= 0x40
	}
	return b
}

// TestMessageAuthenticatorPolicy drives each per-NAS policy through a
// sequence of Access-Requests.
func TestMessageAuthenticatorPolicy(t *testing.T) {
	tests := []struct {
		name   string
		policy MAPolicy
		steps  []step
	}{
		{"yes", MARequire, []step{
			{"none", OutcomeMissingMA},
			{"ok", OutcomeAccepted},
			{"bad", OutcomeBadMA},
			{"none", OutcomeMissingMA},
		}},
		{"auto", MAAuto, []step{
			{"none", OutcomeAccepted},
			{"none", OutcomeAccepted},
			{"bad", OutcomeBadMA}, // a wrong one is not "seen"
			{"none", OutcomeAccepted},
			{"ok", OutcomeAccepted}, // from now on required
			{"none", OutcomeMissingMA},
			{"ok", OutcomeAccepted},
		}},
		{"no", MAOptional, []step{
			{"none", OutcomeAccepted},
			{"ok", OutcomeAccepted},
			{"none", OutcomeAccepted},
			{"bad", OutcomeBadMA}, // verified whenever present
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nas := testNAS()
			nas.MAPolicy = tc.policy
			e := newEnv(t, withNAS(nas))
			e.store.put(sess(1, session.TypeTime, nil))
			want := map[string]int{}
			for i, st := range tc.steps {
				req := maRequest(t, radius.CodeAccessRequest, st.ma)
				reply := e.send(Auth, req)
				if st.outcome == OutcomeAccepted {
					checkReply(t, reply, req, testSecret, radius.CodeAccessAccept)
				} else if reply != nil {
					t.Errorf("step %d (%s): answered %s, want drop (%s)", i, st.ma, radius.Code(reply[0]), st.outcome)
				}
				want["auth Access-Request "+st.outcome]++
				e.wantOutcomes(want)
			}
		})
	}
}

// TestMessageAuthenticatorAutoPerNAS checks that policy auto remembers
// per NAS: one NAS sending the attribute does not bind another.
func TestMessageAuthenticatorAutoPerNAS(t *testing.T) {
	a, b := testNAS(), testNAS()
	a.MAPolicy, b.MAPolicy = MAAuto, MAAuto
	b.Name, b.Prefix = "nas2", netip.MustParsePrefix("10.0.1.0/24")
	e := newEnv(t, withNAS(a, b))
	e.store.put(sess(1, session.TypeTime, nil))
	if reply := e.send(Auth, maRequest(t, radius.CodeAccessRequest, "ok")); reply == nil {
		t.Fatal("no answer to a request with a Message-Authenticator")
	}
	req := maRequest(t, radius.CodeAccessRequest, "none")
	checkReply(t, e.sendFrom(Auth, req, netip.MustParseAddrPort("10.0.1.9:1645")), req, testSecret, radius.CodeAccessAccept)
	if reply := e.send(Auth, req); reply != nil {
		t.Errorf("nas1 saw a Message-Authenticator, then one without was answered")
	}
}

// TestStatusServer checks RFC 5997 on both ports: a Message-Authenticator
// is required, the answer is Access-Accept (auth) or Accounting-Response
// (acct), and the reply carries a correct Message-Authenticator first.
func TestStatusServer(t *testing.T) {
	for _, policy := range []MAPolicy{MARequire, MAAuto, MAOptional} {
		for _, l := range []Listener{Auth, Acct} {
			t.Run(policy.String()+"/"+l.String(), func(t *testing.T) {
				nas := testNAS()
				nas.MAPolicy = policy
				e := newEnv(t, withNAS(nas))
				want := radius.CodeAccessAccept
				if l == Acct {
					want = radius.CodeAccountingResponse
				}

				req := maRequest(t, radius.CodeStatusServer, "ok")
				p := checkReply(t, e.send(l, req), req, testSecret, want)
				if lines := decodeAttrs(t, p); len(lines) != 1 {
					t.Errorf("reply attributes %q, want only the Message-Authenticator", lines)
				}
				if reply := e.send(l, maRequest(t, radius.CodeStatusServer, "none")); reply != nil {
					t.Errorf("Status-Server without Message-Authenticator answered")
				}
				if reply := e.send(l, maRequest(t, radius.CodeStatusServer, "bad")); reply != nil {
					t.Errorf("Status-Server with a wrong Message-Authenticator answered")
				}
				wrong := buildRequest(t, radius.CodeStatusServer, []byte("other-secret"), true)
				if reply := e.send(l, wrong); reply != nil {
					t.Errorf("Status-Server signed with another secret answered")
				}
				if e.store.calls() != 0 {
					t.Errorf("Status-Server reached the store")
				}
				e.wantOutcomes(map[string]int{
					l.String() + " Status-Server status":                        1,
					l.String() + " Status-Server missing_message_authenticator": 1,
					l.String() + " Status-Server bad_message_authenticator":     2,
				})
			})
		}
	}
}

// TestMessageAuthenticatorFraming checks framing rules of the attribute.
func TestMessageAuthenticatorFraming(t *testing.T) {
	e := newEnv(t)
	e.store.put(sess(1, session.TypeTime, nil))

	// Two Message-Authenticators: malformed, whatever their values.
	p := radius.New(radius.CodeAccessRequest, testSecret)
	_ = rfc2869.MessageAuthenticator_Add(p, make([]byte, 16))
	_ = rfc2869.MessageAuthenticator_Add(p, make([]byte, 16))
	two, _ := p.Encode()
	if reply := e.send(Auth, two); reply != nil {
		t.Errorf("request with two Message-Authenticators answered")
	}

	// A Message-Authenticator of 15 octets.
	p = radius.New(radius.CodeAccessRequest, testSecret)
	_ = rfc2869.MessageAuthenticator_Add(p, make([]byte, 15))
	short, _ := p.Encode()
	if reply := e.send(Auth, short); reply != nil {
		t.Errorf("request with a short Message-Authenticator answered")
	}

	// First or last position makes no difference to the request check.
	first := radius.New(radius.CodeAccessRequest, testSecret)
	_ = rfc2869.MessageAuthenticator_Add(first, make([]byte, 16))
	first.Add(31, []byte("aabbccddeeff")) // Calling-Station-Id after it
	first.Add(1, []byte("aabbccddeeff"))  // User-Name
	_ = rfc2865.UserPassword_AddString(first, "x")
	b, _ := first.Encode()
	signMA(t, b, testSecret)
	checkReply(t, e.send(Auth, b), b, testSecret, radius.CodeAccessAccept)

	e.wantOutcomes(map[string]int{
		"auth Access-Request malformed": 2,
		"auth Access-Request accepted":  1,
	})
}

// TestAccountingRequestMessageAuthenticator checks that an accounting
// request may carry a Message-Authenticator (computed with a zero
// authenticator) and that a wrong one drops it.
func TestAccountingRequestMessageAuthenticator(t *testing.T) {
	e := newEnv(t)
	fns := []attrFn{
		acctStatus(1), acctSessionID("s1"), callingStation("aabbccddeeff"),
	}
	ok := buildRequest(t, radius.CodeAccountingRequest, testSecret, true, fns...)
	checkReply(t, e.send(Acct, ok), ok, testSecret, radius.CodeAccountingResponse)

	bad := buildRequest(t, radius.CodeAccountingRequest, testSecret, true, fns...)
	_, off, _ := packet.Check(bad)
	bad[off] ^= 1
	signAcct(bad, testSecret) // the request authenticator still verifies
	if reply := e.send(Acct, bad); reply != nil {
		t.Errorf("accounting request with a wrong Message-Authenticator answered")
	}
	e.wantOutcomes(map[string]int{
		"acct Accounting-Request accounted":                 1,
		"acct Accounting-Request bad_message_authenticator": 1,
	})
}

// TestStatusServerBothPortsSameSource: the same Status-Server datagram
// (same source, Identifier and authenticator) sent to both ports is two
// requests; the accounting port must not answer with the authentication
// port's cached Access-Accept.
func TestStatusServerBothPortsSameSource(t *testing.T) {
	e := newEnv(t)
	req := maRequest(t, radius.CodeStatusServer, "ok")
	checkReply(t, e.send(Auth, req), req, testSecret, radius.CodeAccessAccept)
	checkReply(t, e.send(Acct, req), req, testSecret, radius.CodeAccountingResponse)
	e.wantOutcomes(map[string]int{
		"auth Status-Server status": 1,
		"acct Status-Server status": 1,
	})
}

// TestMissingMALogNamesTheSetting: the one drop an operator causes by
// configuration (pfSense before 2.9 sends no Message-Authenticator) is
// logged with the NAS and the setting that dropped it.
func TestMissingMALogNamesTheSetting(t *testing.T) {
	var buf bytes.Buffer
	e := newEnv(t, func(c *Config) { c.Log = zerolog.New(&buf) })
	e.store.put(sess(1, session.TypeTime, nil))
	req := maRequest(t, radius.CodeAccessRequest, "none")
	if reply := e.send(Auth, req); reply != nil {
		t.Fatalf("answered an Access-Request without Message-Authenticator under policy yes")
	}
	log := buf.String()
	for _, want := range []string{`"nas":"nas1"`, `"setting":"require_message_authenticator: yes"`, "set it to no for a NAS that cannot send one"} {
		if !strings.Contains(log, want) {
			t.Errorf("drop log lacks %s:\n%s", want, log)
		}
	}
}
