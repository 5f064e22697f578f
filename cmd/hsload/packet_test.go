package main

import (
	"bytes"
	"encoding/binary"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
)

const testSecret = "testing123"

// serverCheck applies radiusd's checks to a request (radiusd/packet, whose
// own tests hold them to crypto/hmac and layeh): framing, at most one
// Message-Authenticator of 18 octets, first when present, its HMAC-MD5 over
// the packet with the value zeroed (the authenticator field as zeros for
// Accounting-Request), and for Accounting-Request the Request
// Authenticator, which layeh checks too.
func serverCheck(t *testing.T, pkt []byte, secret string, wantMA bool) {
	t.Helper()
	got, maOff, err := packet.Check(pkt)
	if err != nil || len(got) != len(pkt) {
		t.Fatalf("framing: %v (length field %d, datagram %d)", err, binary.BigEndian.Uint16(pkt[2:4]), len(pkt))
	}
	if wantMA != (maOff != 0) {
		t.Fatalf("Message-Authenticator present %v, want %v", maOff != 0, wantMA)
	}
	if maOff != 0 {
		if maOff != 22 {
			t.Errorf("Message-Authenticator at offset %d, want the first attribute (22)", maOff)
		}
		if !packet.VerifyRequestMA(pkt, maOff, []byte(secret)) {
			t.Error("Message-Authenticator does not verify")
		}
	}
	if pkt[0] == byte(radius.CodeAccountingRequest) {
		if !radius.IsAuthenticRequest(pkt, []byte(secret)) || !packet.VerifyRequest(pkt, []byte(secret)) {
			t.Error("Request Authenticator does not verify")
		}
	}
}

func TestDeviceIdentity(t *testing.T) {
	d := newDevice(0x0a0b0c, 1)
	if got, want := string(d.mac[:]), "02:00:00:0a:0b:0c"; got != want {
		t.Errorf("MAC: got %s, want %s", got, want)
	}
	if got, want := string(d.callingID[:]), "02-00-00-0A-0B-0C"; got != want {
		t.Errorf("Calling-Station-Id: got %s, want %s", got, want)
	}
	if d.down < 1000 || d.down > 4_200_000 || d.up == 0 || d.up > d.down/2 {
		t.Errorf("rates down %d up %d out of range", d.down, d.up)
	}
	// The MAC's three low bytes are k's: 2^24 devices, all distinct.
	if a, b := newDevice(1, 1), newDevice(1<<24-1, 1); string(a.mac[:]) != "02:00:00:00:00:01" || string(b.mac[:]) != "02:00:00:ff:ff:ff" {
		t.Errorf("MACs %s, %s", a.mac, b.mac)
	}
}

func TestAccessRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		withMA bool
	}{{"with Message-Authenticator", true}, {"without", false}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCodec([]byte(testSecret))
			d := newDevice(42, 1)
			auth := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
			var buf [maxRequest]byte
			pkt := c.accessRequest(buf[:0], 7, &auth, &d, tc.withMA)
			serverCheck(t, pkt, testSecret, tc.withMA)

			p, err := radius.Parse(pkt, []byte(testSecret))
			if err != nil {
				t.Fatal(err)
			}
			if p.Code != radius.CodeAccessRequest || p.Identifier != 7 || p.Authenticator != auth {
				t.Errorf("header: code %v id %d auth %x", p.Code, p.Identifier, p.Authenticator)
			}
			for _, a := range []struct {
				name      string
				got, want string
			}{
				{"User-Name", rfc2865.UserName_GetString(p), "02:00:00:00:00:2a"},
				{"Calling-Station-Id", rfc2865.CallingStationID_GetString(p), "02-00-00-00-00-2A"},
				{"NAS-Identifier", rfc2865.NASIdentifier_GetString(p), "hsload"},
			} {
				if a.got != a.want {
					t.Errorf("%s: got %q, want %q", a.name, a.got, a.want)
				}
			}
			// layeh decrypts User-Password (RFC 2865 §5.2) independently.
			pw, err := rfc2865.UserPassword_LookupString(p)
			if err != nil || pw != "02:00:00:00:00:2a" {
				t.Errorf("User-Password: got %q (%v), want the MAC", pw, err)
			}
		})
	}
}

func TestStatusServer(t *testing.T) {
	c := newCodec([]byte(testSecret))
	auth := [16]byte{9}
	var buf [maxRequest]byte
	pkt := c.statusServer(buf[:0], 200, &auth, true)
	serverCheck(t, pkt, testSecret, true)
	if pkt[0] != byte(radius.CodeStatusServer) {
		t.Errorf("code %d", pkt[0])
	}
}

func TestAccountingRequest(t *testing.T) {
	d := newDevice(3, 1)
	big := counters{secs: 3600, in: 5<<32 + 17, out: 1<<40 + 3}
	for _, tc := range []struct {
		name   string
		status uint32
		c      counters
	}{
		{"start", statusStart, counters{}},
		{"interim 32-bit", statusInterim, counters{secs: 300, in: 1234, out: 56789}},
		{"interim gigawords", statusInterim, big},
		{"stop gigawords", statusStop, big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCodec([]byte(testSecret))
			var buf [maxRequest]byte
			pkt, auth := c.accountingRequest(buf[:0], 9, &d, acct{
				status: tc.status, sessionID: []byte("0000ABCD-000003-00000001"), counters: tc.c, eventTime: 1_700_000_000,
			})
			serverCheck(t, pkt, testSecret, false)
			if !bytes.Equal(auth[:], pkt[4:20]) {
				t.Error("returned authenticator differs from the packet's")
			}
			p, err := radius.Parse(pkt, []byte(testSecret))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := rfc2866.AcctStatusType_Lookup(p); uint32(got) != tc.status {
				t.Errorf("Acct-Status-Type: got %d, want %d", got, tc.status)
			}
			if got := rfc2866.AcctSessionID_GetString(p); got != "0000ABCD-000003-00000001" {
				t.Errorf("Acct-Session-Id %q", got)
			}
			in := uint64(rfc2869.AcctInputGigawords_Get(p))<<32 | uint64(rfc2866.AcctInputOctets_Get(p))
			out := uint64(rfc2869.AcctOutputGigawords_Get(p))<<32 | uint64(rfc2866.AcctOutputOctets_Get(p))
			st := uint64(rfc2866.AcctSessionTime_Get(p))
			if (counters{st, in, out}) != tc.c {
				t.Errorf("counters: got %d s %d in %d out, want %+v", st, in, out, tc.c)
			}
			_, hasGiga := p.Attributes.Lookup(rfc2869.AcctInputGigawords_Type)
			if hasGiga != (tc.c.in>>32 != 0) {
				t.Errorf("Acct-Input-Gigawords present %v with %d input octets", hasGiga, tc.c.in)
			}
			if ts, err := rfc2869.EventTimestamp_Lookup(p); err != nil || ts.Unix() != 1_700_000_000 {
				t.Errorf("Event-Timestamp %v %v", ts, err)
			}
		})
	}
}

// response builds a reply to req with layeh, with a Message-Authenticator
// first when withMA (signed as radiusd signs: RFC 3579 §3.2 over the reply
// with the Request Authenticator in place), using maSecret for it.
func response(t *testing.T, req []byte, code radius.Code, secret, maSecret string, withMA bool) []byte {
	t.Helper()
	rp, err := radius.Parse(req, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	p := rp.Response(code)
	_ = rfc2865.ReplyMessage_AddString(p, "hello")
	if withMA {
		p.Secret = []byte(maSecret)
		if err := packet.SignMA(p); err != nil { // first
			t.Fatal(err)
		}
		p.Secret = []byte(secret)
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerify(t *testing.T) {
	c := newCodec([]byte(testSecret))
	d := newDevice(1, 1)
	auth := [16]byte{0xaa, 0xbb}
	var abuf, cbuf [maxRequest]byte
	access := c.accessRequest(abuf[:0], 1, &auth, &d, true)
	accessReq := request{code: codeAccessRequest, auth: auth, ma: true}
	acctPkt, acctAuth := c.accountingRequest(cbuf[:0], 2, &d, acct{status: statusStart, sessionID: []byte("x"), eventTime: 1})
	acctReq := request{code: codeAcctRequest, auth: acctAuth}

	good := response(t, access, radius.CodeAccessAccept, testSecret, testSecret, true)
	twoMA := bytes.Clone(good)
	twoMA = append(twoMA, 80, 18)
	twoMA = append(twoMA, make([]byte, 16)...)
	binary.BigEndian.PutUint16(twoMA[2:4], uint16(len(twoMA)))

	for _, tc := range []struct {
		name   string
		resp   []byte
		req    request
		reason string
		hasMA  bool
	}{
		{"accept with MA", good, accessReq, "", true},
		{"reject without MA", response(t, access, radius.CodeAccessReject, testSecret, "", false), accessReq, "", false},
		{"accounting response", response(t, acctPkt, radius.CodeAccountingResponse, testSecret, "", false), acctReq, "", false},
		{"wrong secret", response(t, access, radius.CodeAccessAccept, "other", "other", true), accessReq, badAuth, true},
		{"MA with another secret", response(t, access, radius.CodeAccessAccept, testSecret, "other", true), accessReq, badMA, true},
		{"answer to another request", good, request{code: codeAccessRequest, auth: [16]byte{1}}, badAuth, true},
		{"wrong code", response(t, access, radius.CodeAccountingResponse, testSecret, "", false), accessReq, badCode, false},
		{"short", good[:19], accessReq, badMalformed, false},
		{"length beyond datagram", good[:len(good)-1], accessReq, badMalformed, false},
		{"two MAs", twoMA, accessReq, badMalformed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, hasMA := c.verify(tc.resp, &tc.req)
			if reason != tc.reason || hasMA != tc.hasMA {
				t.Errorf("got (%q, MA %v), want (%q, MA %v)", reason, hasMA, tc.reason, tc.hasMA)
			}
		})
	}
	// Octets past the length field are padding (RFC 2865 §3).
	padded := append(bytes.Clone(good), 0, 0, 0)
	if reason, _ := c.verify(padded, &accessReq); reason != "" {
		t.Errorf("padded datagram: %q", reason)
	}
}

func TestNoAllocations(t *testing.T) {
	c := newCodec([]byte(testSecret))
	d := newDevice(1, 1)
	auth := [16]byte{1}
	var buf [maxRequest]byte
	access := c.accessRequest(buf[:0], 1, &auth, &d, true)
	resp := response(t, bytes.Clone(access), radius.CodeAccessAccept, testSecret, testSecret, true)
	req := request{code: codeAccessRequest, auth: auth}
	w := newWorkload(modeMix, 1, 3, 300, 1, 1)
	var sid [24]byte
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"access", func() { c.accessRequest(buf[:0], 1, &auth, &d, true) }},
		{"accounting", func() {
			c.accountingRequest(buf[:0], 1, &d, acct{status: statusInterim, sessionID: w.sessionID(&sid, &d), counters: counters{1, 2, 3}})
		}},
		{"verify", func() { c.verify(resp, &req) }},
	} {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.name, n)
		}
	}
}

func BenchmarkAccessRequest(b *testing.B) {
	c := newCodec([]byte(testSecret))
	d := newDevice(1, 1)
	auth := [16]byte{1}
	var buf [maxRequest]byte
	b.ReportAllocs()
	for b.Loop() {
		c.accessRequest(buf[:0], 1, &auth, &d, true)
	}
}
