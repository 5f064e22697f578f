package packet

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
)

var testSecret = []byte("testing123")

// The reference digests, written from the RFC text with crypto/hmac and
// md5.New on a copy of the packet, independently of the pooled code.

// refMA is RFC 3579 §3.2: HMAC-MD5 under secret of the packet with auth in
// the authenticator field and the Message-Authenticator's value zeroed.
func refMA(pkt []byte, maOff int, auth [16]byte, secret []byte) []byte {
	m := bytes.Clone(pkt)
	copy(m[4:20], auth[:])
	clear(m[maOff : maOff+16])
	h := hmac.New(md5.New, secret)
	h.Write(m)
	return h.Sum(nil)
}

// refAuth is MD5(Code+ID+Length+auth+Attributes+Secret).
func refAuth(pkt []byte, auth [16]byte, secret []byte) []byte {
	h := md5.New()
	h.Write(pkt[:4])
	h.Write(auth[:])
	h.Write(pkt[20:])
	h.Write(secret)
	return h.Sum(nil)
}

func testAttrs(t *testing.T) radius.Attributes {
	t.Helper()
	p := radius.New(radius.CodeAccessAccept, testSecret)
	_ = rfc2865.ReplyMessage_SetString(p, "hello")
	_ = rfc2865.SessionTimeout_Set(p, 3600)
	_ = rfc2865.ProxyState_Add(p, []byte{1, 2, 3})
	return p.Attributes
}

// checkAttrs wants attrs, in order, after the header and (with ma) the
// Message-Authenticator.
func checkAttrs(t *testing.T, b []byte, ma bool, want radius.Attributes) {
	t.Helper()
	start := HeaderLen
	if ma {
		if b[HeaderLen] != MAType || b[HeaderLen+1] != MALen {
			t.Fatalf("first attribute %d/%d, want the Message-Authenticator", b[HeaderLen], b[HeaderLen+1])
		}
		start += MALen
	}
	got, err := radius.ParseAttributes(b[start:])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d attributes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Type != want[i].Type || !bytes.Equal(got[i].Attribute, want[i].Attribute) {
			t.Errorf("attribute %d: %d=% x, want %d=% x", i, got[i].Type, got[i].Attribute, want[i].Type, want[i].Attribute)
		}
	}
}

func TestEncodeReply(t *testing.T) {
	reqAuth := [16]byte{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xbb}
	req := append([]byte{byte(radius.CodeAccessRequest), 9, 0, 20}, reqAuth[:]...)
	for _, tc := range []struct {
		name  string
		code  radius.Code
		attrs radius.Attributes
		ma    bool
	}{
		{"accept", radius.CodeAccessAccept, testAttrs(t), true},
		{"reject without attributes", radius.CodeAccessReject, nil, true},
		{"accounting response", radius.CodeAccountingResponse, nil, false},
		{"accounting response with Proxy-State", radius.CodeAccountingResponse, testAttrs(t)[2:], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeReply(tc.code, 9, reqAuth, tc.attrs, testSecret, tc.ma)
			if err != nil {
				t.Fatal(err)
			}
			if radius.Code(b[0]) != tc.code || b[1] != 9 || int(binary.BigEndian.Uint16(b[2:4])) != len(b) {
				t.Fatalf("header % x", b[:4])
			}
			checkAttrs(t, b, tc.ma, tc.attrs)
			if !radius.IsAuthenticResponse(b, req, testSecret) {
				t.Error("layeh refuses the Response Authenticator")
			}
			if !VerifyReply(b, reqAuth, testSecret) {
				t.Error("VerifyReply refuses it")
			}
			pkt, maOff, err := Check(b)
			if err != nil || len(pkt) != len(b) || (maOff != 0) != tc.ma {
				t.Fatalf("Check: %v, Message-Authenticator at %d", err, maOff)
			}
			if tc.ma {
				if want := refMA(b, maOff, reqAuth, testSecret); !bytes.Equal(b[maOff:maOff+16], want) {
					t.Errorf("Message-Authenticator %x, want %x", b[maOff:maOff+16], want)
				}
				if !VerifyReplyMA(b, maOff, reqAuth, testSecret) {
					t.Error("VerifyReplyMA refuses it")
				}
				if VerifyReplyMA(b, maOff, reqAuth, []byte("other")) || VerifyReplyMA(b, maOff, [16]byte{}, testSecret) {
					t.Error("VerifyReplyMA accepts another secret or request")
				}
			}
			if VerifyReply(b, reqAuth, []byte("other")) || VerifyReply(b, [16]byte{1}, testSecret) {
				t.Error("VerifyReply accepts another secret or request")
			}
			for i := range b {
				c := bytes.Clone(b)
				c[i] ^= 0x40
				if VerifyReply(c, reqAuth, testSecret) {
					t.Fatalf("VerifyReply accepts octet %d changed", i)
				}
			}
		})
	}
}

func TestEncodeRequest(t *testing.T) {
	for _, tc := range []struct {
		code  radius.Code
		attrs radius.Attributes
	}{
		{radius.CodeDisconnectRequest, testAttrs(t)},
		{radius.CodeDisconnectRequest, nil},
		{radius.CodeCoARequest, testAttrs(t)},
		{radius.CodeAccountingRequest, testAttrs(t)},
	} {
		code, attrs := tc.code, tc.attrs
		t.Run(fmt.Sprintf("%s with %d attributes", code, len(attrs)), func(t *testing.T) {
			b, err := EncodeRequest(code, 0x9c, attrs, testSecret)
			if err != nil {
				t.Fatal(err)
			}
			if radius.Code(b[0]) != code || b[1] != 0x9c || int(binary.BigEndian.Uint16(b[2:4])) != len(b) {
				t.Fatalf("header % x", b[:4])
			}
			checkAttrs(t, b, true, attrs)
			if !radius.IsAuthenticRequest(b, testSecret) {
				t.Error("layeh refuses the Request Authenticator")
			}
			if want := refAuth(b, [16]byte{}, testSecret); !bytes.Equal(b[4:20], want) {
				t.Errorf("Request Authenticator %x, want %x", b[4:20], want)
			}
			if want := refMA(b, HeaderLen+2, [16]byte{}, testSecret); !bytes.Equal(b[22:38], want) {
				t.Errorf("Message-Authenticator %x, want %x (authenticator field zeroed)", b[22:38], want)
			}
			if !VerifyRequest(b, testSecret) || !VerifyRequestMA(b, HeaderLen+2, testSecret) {
				t.Error("VerifyRequest or VerifyRequestMA refuses it")
			}
			if VerifyRequest(b, []byte("other")) || VerifyRequestMA(b, HeaderLen+2, []byte("other")) {
				t.Error("verifies with another secret")
			}
		})
	}
	if _, err := EncodeRequest(radius.CodeAccessRequest, 1, nil, testSecret); err == nil {
		t.Error("an Access-Request encoded with a computed authenticator")
	}
	long := radius.Attributes{{Type: 1, Attribute: make([]byte, 254)}}
	if _, err := EncodeRequest(radius.CodeCoARequest, 1, long, testSecret); err == nil {
		t.Error("an attribute of 254 octets encoded")
	}
}

// TestSignMA signs packets built with layeh as a NAS and a server do, and
// checks the bytes Encode sends against the reference.
func TestSignMA(t *testing.T) {
	access := func(maLast bool) *radius.Packet {
		p := radius.New(radius.CodeAccessRequest, testSecret)
		_ = rfc2865.UserName_SetString(p, "aa-bb-cc-dd-ee-ff")
		_ = rfc2865.UserPassword_SetString(p, "x")
		if maLast {
			_ = rfc2869.MessageAuthenticator_Add(p, []byte("not yet signed.."))
		}
		return p
	}
	acct := radius.New(radius.CodeAccountingRequest, testSecret)
	_ = rfc2866.AcctStatusType_Set(acct, rfc2866.AcctStatusType_Value_Start)
	_ = rfc2866.AcctSessionID_SetString(acct, "s1")
	reply := access(false).Response(radius.CodeAccessAccept)
	_ = rfc2865.ReplyMessage_SetString(reply, "welcome")

	for _, tc := range []struct {
		name  string
		p     *radius.Packet
		maOff int
		auth  func(p *radius.Packet) [16]byte // under the Message-Authenticator
	}{
		{"access-request, added first", access(false), HeaderLen + 2, func(p *radius.Packet) [16]byte { return p.Authenticator }},
		{"access-request, kept last", access(true), -1, func(p *radius.Packet) [16]byte { return p.Authenticator }},
		{"accounting-request", acct, HeaderLen + 2, func(*radius.Packet) [16]byte { return [16]byte{} }},
		{"access-accept", reply, HeaderLen + 2, func(p *radius.Packet) [16]byte { return p.Authenticator }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := SignMA(tc.p); err != nil {
				t.Fatal(err)
			}
			b, err := tc.p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			_, maOff, err := Check(b)
			if err != nil || maOff == 0 {
				t.Fatalf("Check: %v, Message-Authenticator at %d", err, maOff)
			}
			if tc.maOff > 0 && maOff != tc.maOff {
				t.Errorf("Message-Authenticator at %d, want %d", maOff, tc.maOff)
			}
			if tc.maOff < 0 && maOff != len(b)-16 {
				t.Errorf("Message-Authenticator at %d, want last (%d)", maOff, len(b)-16)
			}
			if want := refMA(b, maOff, tc.auth(tc.p), testSecret); !bytes.Equal(b[maOff:maOff+16], want) {
				t.Errorf("Message-Authenticator %x, want %x", b[maOff:maOff+16], want)
			}
			if tc.p.Code == radius.CodeAccessAccept {
				if !VerifyReplyMA(b, maOff, tc.p.Authenticator, testSecret) {
					t.Error("VerifyReplyMA refuses it")
				}
			} else if !VerifyRequestMA(b, maOff, testSecret) {
				t.Error("VerifyRequestMA refuses it")
			}
			if tc.p.Code == radius.CodeAccountingRequest && !radius.IsAuthenticRequest(b, testSecret) {
				t.Error("layeh refuses the Request Authenticator")
			}
		})
	}
}

// TestSignRequest signs requests laid out by hand and checks them against
// the reference: an Access-Request keeps its authenticator, an
// Accounting-Request gets its Request Authenticator over the signed
// Message-Authenticator.
func TestSignRequest(t *testing.T) {
	auth := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	layout := func(code radius.Code) []byte {
		b := append([]byte{byte(code), 3, 0, 0}, auth[:]...)
		b = append(b, byte(rfc2865.UserName_Type), 5, 'a', 'b', 'c')
		b = append(b, MAType, MALen)
		b = append(b, make([]byte, 16)...)
		b = append(b, byte(rfc2865.NASIdentifier_Type), 4, 'n', 'a')
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
		return b
	}
	const maOff = HeaderLen + 5 + 2

	access := layout(radius.CodeAccessRequest)
	SignRequest(access, maOff, testSecret)
	if !bytes.Equal(access[4:20], auth[:]) {
		t.Errorf("Access-Request authenticator changed to %x", access[4:20])
	}
	if want := refMA(access, maOff, auth, testSecret); !bytes.Equal(access[maOff:maOff+16], want) {
		t.Errorf("Access-Request Message-Authenticator %x, want %x", access[maOff:maOff+16], want)
	}
	if !VerifyRequestMA(access, maOff, testSecret) || VerifyRequestMA(access, maOff, []byte("other")) {
		t.Error("VerifyRequestMA disagrees")
	}

	acct := layout(radius.CodeAccountingRequest)
	SignRequest(acct, maOff, testSecret)
	if want := refMA(acct, maOff, [16]byte{}, testSecret); !bytes.Equal(acct[maOff:maOff+16], want) {
		t.Errorf("Accounting-Request Message-Authenticator %x, want %x", acct[maOff:maOff+16], want)
	}
	if !radius.IsAuthenticRequest(acct, testSecret) || !VerifyRequest(acct, testSecret) {
		t.Error("Request Authenticator refused")
	}
	if !VerifyRequestMA(acct, maOff, testSecret) {
		t.Error("VerifyRequestMA refuses it")
	}
	for i := range acct {
		c := bytes.Clone(acct)
		c[i] ^= 0x40
		if VerifyRequest(c, testSecret) {
			t.Fatalf("VerifyRequest accepts octet %d changed", i)
		}
		if i >= 4 && i < 20 {
			continue // the authenticator field is hashed as zeros
		}
		if VerifyRequestMA(c, maOff, testSecret) && (i < maOff-2 || i >= maOff+16) {
			t.Fatalf("VerifyRequestMA accepts octet %d changed", i)
		}
	}
}

func TestCHAP(t *testing.T) {
	pw, challenge := []byte("AA:BB:CC:DD:EE:FF"), []byte("0123456789abcdef")
	h := md5.New()
	h.Write([]byte{7})
	h.Write(pw)
	h.Write(challenge)
	want := h.Sum(nil)
	if got := CHAPResponse(7, pw, challenge); !bytes.Equal(got[:], want) {
		t.Errorf("CHAPResponse %x, want %x", got, want)
	}
	chap := append([]byte{7}, want...)
	if !VerifyCHAP(chap, pw, challenge) {
		t.Error("VerifyCHAP refuses the right password")
	}
	if VerifyCHAP(chap, []byte("aa:bb:cc:dd:ee:ff"), challenge) || VerifyCHAP(chap, pw, challenge[1:]) {
		t.Error("VerifyCHAP accepts another password or challenge")
	}
	if VerifyCHAP(chap[:16], pw, challenge) || VerifyCHAP(append(chap, 0), pw, challenge) {
		t.Error("VerifyCHAP accepts a CHAP-Password not of 17 octets")
	}
}

// TestAppendUserPassword holds the PAP hiding to layeh's, and layeh reads
// it back.
func TestAppendUserPassword(t *testing.T) {
	auth := [16]byte{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6}
	for _, n := range []int{0, 1, 15, 16, 17, 33, 128} {
		pw := bytes.Repeat([]byte{'p'}, n)
		b, err := AppendUserPassword([]byte{0xee}, pw, auth, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		want, err := radius.NewUserPassword(pw, testSecret, auth[:])
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != 0xee || b[1] != byte(rfc2865.UserPassword_Type) || int(b[2]) != len(b)-1 || !bytes.Equal(b[3:], want) {
			t.Errorf("%d octets: % x, want ee 02 %02x % x", n, b, 2+len(want), want)
		}
		p := &radius.Packet{Code: radius.CodeAccessRequest, Authenticator: auth, Secret: testSecret}
		p.Add(rfc2865.UserPassword_Type, b[3:])
		if got, err := rfc2865.UserPassword_Lookup(p); err != nil || !bytes.Equal(bytes.TrimRight(got, "\x00"), pw) {
			t.Errorf("%d octets: layeh reads %q, %v", n, got, err)
		}
	}
	if b, err := AppendUserPassword(nil, make([]byte, 129), auth, testSecret); err == nil || len(b) != 0 {
		t.Errorf("129 octets: % x, %v; want an error", b, err)
	}
}

func TestCheck(t *testing.T) {
	hdr := func(n int, attrs ...byte) []byte {
		b := append([]byte{1, 1, byte(n >> 8), byte(n)}, make([]byte, 16)...)
		return append(b, attrs...)
	}
	ma := append([]byte{MAType, MALen}, make([]byte, 16)...)
	for _, tc := range []struct {
		name  string
		b     []byte
		err   error
		n     int // packet length returned
		maOff int
	}{
		{"header only", hdr(20), nil, 20, 0},
		{"padding after the length", append(hdr(23, 1, 3, 'x'), 0, 0, 0), nil, 23, 0},
		{"Message-Authenticator second", hdr(23+18, append([]byte{1, 3, 'x'}, ma...)...), nil, 41, 25},
		{"short", make([]byte, 19), errShort, 0, 0},
		{"oversized", append(hdr(20), make([]byte, MaxLen-19)...), errOversized, 0, 0},
		{"length beyond the datagram", hdr(21), errLength, 0, 0},
		{"length below the header", hdr(19), errLength, 0, 0},
		{"attribute header cut", hdr(21, 1), errAttrs, 0, 0},
		{"attribute of length 1", hdr(22, 1, 1), errAttrs, 0, 0},
		{"attribute past the end", hdr(22, 1, 3), errAttrs, 0, 0},
		{"short Vendor-Specific", hdr(26, 26, 6, 0, 0, 0, 9), errVSALength, 0, 0},
		{"Message-Authenticator of 17", hdr(37, append([]byte{MAType, 17}, make([]byte, 15)...)...), errMALength, 0, 0},
		{"two Message-Authenticators", hdr(56, append(bytes.Clone(ma), ma...)...), errMAMultiple, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt, maOff, err := Check(tc.b)
			if err != tc.err || len(pkt) != tc.n || maOff != tc.maOff {
				t.Errorf("got %d octets, maOff %d, %v; want %d, %d, %v", len(pkt), maOff, err, tc.n, tc.maOff, tc.err)
			}
		})
	}
}

// TestAttrs: Attrs yields what layeh's ParseAttributes finds in a packet
// Check accepted, in order, and stops at framing Check would refuse.
func TestAttrs(t *testing.T) {
	p := radius.New(radius.CodeAccessRequest, testSecret)
	for i := range 40 {
		p.Add(radius.Type(i%7+1), bytes.Repeat([]byte{byte(i)}, i%9)) // values of 0 to 8 octets
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	pkt, _, err := Check(b)
	if err != nil {
		t.Fatal(err)
	}
	want, err := radius.ParseAttributes(pkt[HeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for typ, v := range Attrs(pkt) {
		if i >= len(want) || typ != want[i].Type || !bytes.Equal(v, want[i].Attribute) {
			t.Fatalf("attribute %d: %d %x, want %v", i, typ, v, want[i:min(i+1, len(want))])
		}
		if cap(v) != len(v) {
			t.Errorf("attribute %d: capacity %d beyond its %d octets: an append would overwrite the next", i, cap(v), len(v))
		}
		i++
	}
	if i != len(want) {
		t.Errorf("%d attributes, want %d", i, len(want))
	}
	// Framing cut short: no read beyond it, no panic.
	short := append(bytes.Clone(pkt[:HeaderLen]), 1, 9, 'a')
	for range Attrs(short) {
		t.Error("an attribute from a cut packet")
	}
	// Stopping early.
	for range Attrs(pkt) {
		break
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, v := range Attrs(pkt) {
			_ = v
		}
	}); n != 0 {
		t.Errorf("%v allocations per scan, want 0", n)
	}
}

// TestRevealUserPassword: what AppendUserPassword hides, and what layeh
// hides, comes back as layeh's radius.UserPassword reads it.
func TestRevealUserPassword(t *testing.T) {
	auth := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, pw := range []string{"", "a", "aabbccddeeff", "exactly16octets!", "seventeen octets!", string(bytes.Repeat([]byte{'x'}, 128)), "nul\x00inside"} {
		hidden, err := AppendUserPassword(nil, []byte(pw), auth, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		hidden = hidden[2:]
		var buf [128]byte
		got, err := RevealUserPassword(&buf, hidden, auth, testSecret)
		if err != nil {
			t.Fatalf("%q: %v", pw, err)
		}
		want, err := radius.UserPassword(hidden, testSecret, auth[:])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%q: revealed %q, layeh %q", pw, got, want)
		}
	}
	for _, n := range []int{0, 15, 17, 144} {
		var buf [128]byte
		if _, err := RevealUserPassword(&buf, make([]byte, n), auth, testSecret); err == nil {
			t.Errorf("a hidden password of %d octets accepted", n)
		}
	}
	var buf [128]byte
	if _, err := RevealUserPassword(&buf, make([]byte, 16), auth, nil); err == nil {
		t.Error("an empty secret accepted")
	}
}
