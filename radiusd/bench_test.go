package radiusd

import (
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/session"
)

// benchProcess measures one request from its encoded bytes to its encoded
// reply: framing, authenticator checks, parsing, the handler with the fake
// store, reply building and signing (no goroutine, cache or socket).
func benchProcess(b *testing.B, l Listener, req []byte, want radius.Code) {
	e := newEnv(b, withNAS(func() NAS { n := testNAS(); n.Profiles, n.Password = Profiles, PasswordMAC; return n }()))
	e.store.put(sess(1, session.TypeTimeOrData, nil))
	nas := e.srv.nas.lookup(testSrc.Addr())
	pkt, maOff, err := checkFraming(req)
	if err != nil {
		b.Fatal(err)
	}
	if reply, outcome, err := e.srv.process(l, nas, pkt, maOff, testSrc); reply == nil || radius.Code(reply[0]) != want {
		b.Fatalf("no %s: %s %v", want, outcome, err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		pkt, maOff, err := checkFraming(req)
		if err != nil {
			b.Fatal(err)
		}
		reply, _, _ := e.srv.process(l, nas, pkt, maOff, testSrc)
		if reply == nil {
			b.Fatal("dropped")
		}
		// Keep the fake store from growing without bound.
		e.store.mu.Lock()
		e.store.lookups, e.store.events = e.store.lookups[:0], e.store.events[:0]
		e.store.mu.Unlock()
	}
}

// BenchmarkAuthPath: an Access-Request (PAP, MAC password) to an
// Access-Accept with every vendor family.
func BenchmarkAuthPath(b *testing.B) {
	req := accessRequest(b, userName("aabbccddeeff"), papPassword("aabbccddeeff"),
		callingStation("AA-BB-CC-DD-EE-FF"), intAttr(5, 1), intAttr(61, 19))
	benchProcess(b, Auth, req, radius.CodeAccessAccept)
}

// BenchmarkAcctPath: an Interim-Update with 64-bit counters to its
// Accounting-Response.
func BenchmarkAcctPath(b *testing.B) {
	req := acctRequest(b, acctStatus(rfc2866.AcctStatusType_Value_InterimUpdate), acctSessionID("80000001"),
		userName("aabbccddeeff"), callingStation("AA-BB-CC-DD-EE-FF"),
		intAttr(rfc2866.AcctSessionTime_Type, 600),
		intAttr(rfc2866.AcctInputOctets_Type, 123456), intAttr(rfc2869.AcctInputGigawords_Type, 1),
		intAttr(rfc2866.AcctOutputOctets_Type, 654321), intAttr(rfc2869.AcctOutputGigawords_Type, 2),
		intAttr(rfc2866.AcctDelayTime_Type, 0))
	benchProcess(b, Acct, req, radius.CodeAccountingResponse)
}
