package radiusd

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/session"
)

// rawPacket assembles a datagram by hand: header (length field as given,
// or the real length when length < 0) and raw attribute bytes.
func rawPacket(code radius.Code, id byte, length int, auth [16]byte, attrs ...[]byte) []byte {
	b := []byte{byte(code), id, 0, 0}
	b = append(b, auth[:]...)
	for _, a := range attrs {
		b = append(b, a...)
	}
	if length < 0 {
		length = len(b)
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(length))
	return b
}

func rawAttr(typ byte, v string) []byte { return append([]byte{typ, byte(2 + len(v))}, v...) }

// fuzzSeeds are the named seeds of both fuzz targets: edge cases of the
// framing and valid packets of every kind (signed with testSecret, with
// fixed authenticators so the corpus files are reproducible).
func fuzzSeeds(t testing.TB) map[string][]byte {
	t.Helper()
	auth := [16]byte{0x5e, 0xed, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	fixed := []attrFn{withID(7), withAuthenticator(auth)}
	mac := rawAttr(byte(rfc2865.CallingStationID_Type), "AA-BB-CC-DD-EE-FF")
	ma := append([]byte{packet.MAType, packet.MALen}, make([]byte, 16)...)

	tiny := make([][]byte, 300)
	for i := range tiny {
		tiny[i] = []byte{byte(1 + i%60), 2} // 300 empty attributes
	}
	oversized := rawPacket(radius.CodeAccessRequest, 1, 4097, auth, mac)
	oversized = append(oversized, make([]byte, 4097-len(oversized))...)

	acct := func(fns ...attrFn) []byte {
		return buildRequest(t, radius.CodeAccountingRequest, testSecret, false, append(fixed, fns...)...)
	}
	return map[string][]byte{
		"truncated_attribute":        rawPacket(radius.CodeAccessRequest, 1, -1, auth, mac, []byte{byte(rfc2865.UserName_Type), 14, 'a', 'b'}),
		"attribute_length_0":         rawPacket(radius.CodeAccessRequest, 1, -1, auth, mac, []byte{1, 0, 'x', 'y'}),
		"attribute_length_1":         rawPacket(radius.CodeAccessRequest, 1, -1, auth, []byte{1, 1}, mac),
		"length_field_gt_datagram":   rawPacket(radius.CodeAccessRequest, 1, 200, auth, mac),
		"length_field_lt_header":     rawPacket(radius.CodeAccessRequest, 1, 19, auth, mac),
		"oversized_4097":             oversized,
		"zero_authenticator_acct":    rawPacket(radius.CodeAccountingRequest, 2, -1, [16]byte{}, rawAttr(40, "\x00\x00\x00\x01"), rawAttr(44, "s1"), mac),
		"unknown_code_99":            rawPacket(99, 3, -1, auth, mac, ma),
		"tiny_attributes_300":        rawPacket(radius.CodeAccessRequest, 4, -1, auth, tiny...),
		"two_message_authenticators": rawPacket(radius.CodeAccessRequest, 5, -1, auth, mac, ma, ma),
		"message_authenticator_17":   rawPacket(radius.CodeAccessRequest, 6, -1, auth, mac, append([]byte{packet.MAType, 17}, make([]byte, 15)...)),
		"header_only":                rawPacket(radius.CodeStatusServer, 8, -1, auth),
		"valid_access_pap": buildRequest(t, radius.CodeAccessRequest, testSecret, true,
			append(fixed, userName("aabbccddeeff"), papPassword("aabbccddeeff"), callingStation("AA-BB-CC-DD-EE-FF"))...),
		"valid_access_chap": buildRequest(t, radius.CodeAccessRequest, testSecret, true,
			append(fixed, userName("aa:bb:cc:dd:ee:ff"), chapPassword(1, "aabbccddeeff", []byte("challenge-16-oct")))...),
		"valid_access_no_mac": buildRequest(t, radius.CodeAccessRequest, testSecret, true, append(fixed, userName("bob"))...),
		"valid_status_server": buildRequest(t, radius.CodeStatusServer, testSecret, true, fixed...),
		"valid_accounting_on": acct(acctStatus(rfc2866.AcctStatusType_Value_AccountingOn)),
		"valid_accounting_start": acct(acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("80000001"), callingStation("aabbccddeeff"),
			eventTimestamp(time.Unix(1748779200, 0))),
		"valid_accounting_interim": acct(acctStatus(rfc2866.AcctStatusType_Value_InterimUpdate), acctSessionID("80000001"),
			callingStation("aabbccddeeff"), intAttr(rfc2866.AcctSessionTime_Type, 600),
			intAttr(rfc2866.AcctInputOctets_Type, 123456), intAttr(rfc2869.AcctInputGigawords_Type, 1),
			intAttr(rfc2866.AcctOutputOctets_Type, 654321), intAttr(rfc2869.AcctOutputGigawords_Type, 2),
			intAttr(rfc2866.AcctDelayTime_Type, 12)),
	}
}

// TestFuzzCorpus keeps testdata/fuzz/FuzzPacket in step with fuzzSeeds
// (rewrite with -update). Files not named by fuzzSeeds (crashers found by
// fuzzing) are left alone.
func TestFuzzCorpus(t *testing.T) {
	seeds := fuzzSeeds(t)
	names := make([]string, 0, len(seeds))
	for n := range seeds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join("testdata", "fuzz", "FuzzPacket", name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seeds[name])
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run with -update)", err)
			continue
		}
		if string(got) != want {
			t.Errorf("%s is stale (run with -update)", path)
		}
	}
}

// resign returns a copy of a well-framed packet with a correct
// Message-Authenticator (when it has one) and, for an Accounting-Request, a
// correct Request Authenticator: random bytes rarely pass the checks, and
// the handlers behind them deserve fuzzing too. nil when not well-framed.
func resign(b []byte) []byte {
	pkt, maOff, err := packet.Check(b)
	if err != nil {
		return nil
	}
	pkt = append([]byte(nil), pkt...)
	packet.SignRequest(pkt, maOff, testSecret)
	return pkt
}

// fuzzEnv is a server whose NAS exercises the most code: policy auto,
// MAC passwords, every vendor profile; the device has a session.
func fuzzEnv(t *testing.T) *testEnv {
	nas := testNAS()
	nas.MAPolicy = MAAuto
	nas.Password = PasswordMAC
	nas.Profiles = Profiles
	e := newEnv(t, withNAS(nas))
	e.store.put(sess(1, session.TypeTimeOrData, func(d *session.Data) {
		d.HasExpiry, d.ExpDays = true, 3
		d.StartedAt = testNow.Add(-time.Hour)
		d.DataBytes = 6 << 30
	}))
	return e
}

// FuzzPacket feeds arbitrary datagrams through the whole receive path on
// both listeners, as sent and re-signed. Nothing may panic, every packet
// ends in exactly one outcome, and every reply is authentic.
func FuzzPacket(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e := fuzzEnv(t)
		sent := 0
		try := func(req []byte) {
			for _, l := range []Listener{Auth, Acct} {
				sent++
				reply := e.send(l, req)
				if reply == nil {
					continue
				}
				checkFuzzReply(t, l, reply, req)
			}
		}
		try(b)
		if r := resign(b); r != nil {
			try(r)
			try(r) // a retransmission: cached or (after a drop) processed again
		}
		total := 0
		for _, n := range e.outcomes() {
			total += n
		}
		if total != sent {
			t.Errorf("%d outcomes counted for %d packets: %v", total, sent, e.outcomes())
		}
	})
}

func checkFuzzReply(t *testing.T, l Listener, reply, req []byte) {
	t.Helper()
	if !radius.IsAuthenticResponse(reply, req, testSecret) {
		t.Fatalf("reply %x to %x: Response Authenticator does not verify", reply, req)
	}
	if _, _, err := packet.Check(reply); err != nil {
		t.Fatalf("reply %x is malformed: %v", reply, err)
	}
	reqCode, code := radius.Code(req[0]), radius.Code(reply[0])
	ok := false
	switch {
	case reqCode == radius.CodeAccessRequest && l == Auth:
		ok = code == radius.CodeAccessAccept || code == radius.CodeAccessReject
	case reqCode == radius.CodeAccountingRequest && l == Acct:
		ok = code == radius.CodeAccountingResponse
	case reqCode == radius.CodeStatusServer && l == Auth:
		ok = code == radius.CodeAccessAccept
	case reqCode == radius.CodeStatusServer && l == Acct:
		ok = code == radius.CodeAccountingResponse
	}
	if !ok {
		t.Fatalf("%s on %s answered with %s", reqCode, l, code)
	}
	if code != radius.CodeAccountingResponse || reqCode == radius.CodeStatusServer {
		checkReplyMA(t, reply, req, testSecret)
	}
}

// FuzzCheckFraming checks packet.Check never panics and, when it accepts,
// returns exactly the header's length of the datagram, whose attributes
// walk exactly to the end, with at most one Message-Authenticator of 18
// octets at the offset it reports — and layeh parses what it accepts.
func FuzzCheckFraming(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkt, maOff, err := packet.Check(b)
		if err != nil {
			if pkt != nil || maOff != 0 {
				t.Fatalf("error %v with pkt %x, maOff %d", err, pkt, maOff)
			}
			return
		}
		if len(b) < packet.HeaderLen {
			t.Fatalf("accepted %d octets", len(b))
		}
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if len(pkt) != n || n > packet.MaxLen || n < packet.HeaderLen {
			t.Fatalf("pkt of %d octets, header says %d", len(pkt), n)
		}
		if !bytes.Equal(pkt, b[:n]) || &pkt[0] != &b[0] {
			t.Fatal("pkt is not the datagram's prefix")
		}
		i, mas, at := packet.HeaderLen, 0, 0
		for i < n {
			if n-i < 2 {
				t.Fatalf("attribute header cut at %d of %d", i, n)
			}
			l := int(pkt[i+1])
			if l < 2 {
				t.Fatalf("attribute of length %d at %d accepted", l, i)
			}
			if pkt[i] == packet.MAType {
				mas++
				at = i + 2
				if l != packet.MALen {
					t.Fatalf("Message-Authenticator of length %d accepted", l)
				}
			}
			i += l
		}
		if i != n {
			t.Fatalf("attributes end at %d, packet at %d", i, n)
		}
		if mas > 1 || maOff != at {
			t.Fatalf("%d Message-Authenticators, maOff %d, want %d", mas, maOff, at)
		}
		p, err := radius.Parse(pkt, testSecret)
		if err != nil {
			t.Fatalf("accepted, but layeh cannot parse it: %v", err)
		}
		// The handlers' one-pass scan sees what layeh's parse sees.
		k := 0
		for typ, v := range packet.Attrs(pkt) {
			if k >= len(p.Attributes) || typ != p.Attributes[k].Type || !bytes.Equal(v, p.Attributes[k].Attribute) {
				t.Fatalf("packet.Attrs' attribute %d (%d %x) differs from layeh's %v", k, typ, v, p.Attributes)
			}
			k++
		}
		if k != len(p.Attributes) {
			t.Fatalf("packet.Attrs yields %d attributes, layeh parses %d", k, len(p.Attributes))
		}
	})
}
