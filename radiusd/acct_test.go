package radiusd

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/session"
)

// TestAccountingEvents checks that Start, Interim-Update and Stop become the
// right session.AcctEvent and are acknowledged only after the store call.
func TestAccountingEvents(t *testing.T) {
	tests := []struct {
		name string
		fns  []attrFn
		want session.AcctEvent
	}{
		{
			name: "start with a plausible Event-Timestamp",
			fns: []attrFn{
				acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("80000001"),
				callingStation("AA-BB-CC-DD-EE-FF"), userName("AA-BB-CC-DD-EE-FF"),
				eventTimestamp(testNow.Add(-10 * time.Second)), intAttr(rfc2866.AcctDelayTime_Type, 3),
			},
			want: session.AcctEvent{
				Kind: session.AcctStart, NAS: "nas1@10.0.0.5", SessionID: "80000001", MAC: testMAC,
				EventTime: testNow.Add(-10 * time.Second), Now: testNow,
			},
		},
		{
			name: "interim with gigawords, no Event-Timestamp: now − Acct-Delay-Time",
			fns: []attrFn{
				acctStatus(rfc2866.AcctStatusType_Value_InterimUpdate), acctSessionID("80000001"),
				callingStation("aabb.ccdd.eeff"),
				intAttr(rfc2866.AcctSessionTime_Type, 600),
				intAttr(rfc2866.AcctInputOctets_Type, 100), intAttr(rfc2869.AcctInputGigawords_Type, 2),
				intAttr(rfc2866.AcctOutputOctets_Type, 4294967295), intAttr(rfc2869.AcctOutputGigawords_Type, 1),
				intAttr(rfc2866.AcctDelayTime_Type, 30),
			},
			want: session.AcctEvent{
				Kind: session.AcctInterim, NAS: "nas1@10.0.0.5", SessionID: "80000001", MAC: testMAC,
				SessionTime: 600, InputOctets: 2<<32 | 100, OutputOctets: 1<<32 | 4294967295,
				EventTime: testNow.Add(-30 * time.Second), Now: testNow,
			},
		},
		{
			name: "stop with a 1970 Event-Timestamp (NAS without NTP): now − delay",
			fns: []attrFn{
				acctStatus(rfc2866.AcctStatusType_Value_Stop), acctSessionID("80000001"),
				callingStation("aabbccddeeff"),
				intAttr(rfc2866.AcctSessionTime_Type, 3599),
				intAttr(rfc2866.AcctInputOctets_Type, 7), intAttr(rfc2866.AcctOutputOctets_Type, 9),
				eventTimestamp(time.Unix(86400, 0)), intAttr(rfc2866.AcctDelayTime_Type, 5),
			},
			want: session.AcctEvent{
				Kind: session.AcctStop, NAS: "nas1@10.0.0.5", SessionID: "80000001", MAC: testMAC,
				SessionTime: 3599, InputOctets: 7, OutputOctets: 9,
				EventTime: testNow.Add(-5 * time.Second), Now: testNow,
			},
		},
		{
			name: "Event-Timestamp in the future beyond a minute is distrusted",
			fns: []attrFn{
				acctStatus(rfc2866.AcctStatusType_Value_InterimUpdate), acctSessionID("x"),
				callingStation("aabbccddeeff"), eventTimestamp(testNow.Add(2 * time.Minute)),
			},
			want: session.AcctEvent{
				Kind: session.AcctInterim, NAS: "nas1@10.0.0.5", SessionID: "x", MAC: testMAC,
				EventTime: testNow, Now: testNow,
			},
		},
		{
			name: "Event-Timestamp a little ahead (clock skew) is kept",
			fns: []attrFn{
				acctStatus(rfc2866.AcctStatusType_Value_InterimUpdate), acctSessionID("x"),
				callingStation("aabbccddeeff"), eventTimestamp(testNow.Add(30 * time.Second)),
			},
			want: session.AcctEvent{
				Kind: session.AcctInterim, NAS: "nas1@10.0.0.5", SessionID: "x", MAC: testMAC,
				EventTime: testNow.Add(30 * time.Second), Now: testNow,
			},
		},
		{
			name: "absurd Acct-Delay-Time is bounded to a day",
			fns: []attrFn{
				acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("x"),
				callingStation("aabbccddeeff"), intAttr(rfc2866.AcctDelayTime_Type, 4000000000),
			},
			want: session.AcctEvent{
				Kind: session.AcctStart, NAS: "nas1@10.0.0.5", SessionID: "x", MAC: testMAC,
				EventTime: testNow.Add(-maxClockSkew), Now: testNow,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := acctRequest(t, tc.fns...)
			p := checkReply(t, e.send(Acct, req), req, testSecret, radius.CodeAccountingResponse)
			if len(p.Attributes) != 0 {
				t.Errorf("Accounting-Response carries %d attributes, want none", len(p.Attributes))
			}
			evs := e.store.acctEvents()
			if len(evs) != 1 {
				t.Fatalf("store got %d events, want 1", len(evs))
			}
			checkEvent(t, evs[0], tc.want)
			e.wantOutcomes(map[string]int{"acct Accounting-Request accounted": 1})
		})
	}
}

// checkEvent compares the counter fields of an event (other fields, such
// as the NAS attributes kept for Disconnect/CoA, are tested elsewhere).
func checkEvent(t *testing.T, got, want session.AcctEvent) {
	t.Helper()
	type counters struct {
		Kind                                   session.AcctKind
		NAS, SessionID                         string
		MAC                                    session.MAC
		SessionTime, InputOctets, OutputOctets uint64
		EventTime, Now                         time.Time
	}
	pick := func(e session.AcctEvent) counters {
		// UTC: layeh decodes Event-Timestamp in time.Local.
		return counters{e.Kind, e.NAS, e.SessionID, e.MAC, e.SessionTime, e.InputOctets, e.OutputOctets, e.EventTime.UTC(), e.Now.UTC()}
	}
	if g, w := pick(got), pick(want); g != w {
		t.Errorf("event:\n got %+v\nwant %+v", g, w)
	}
}

// TestAccountingOnOff checks that Accounting-On/Off close the NAS's records.
func TestAccountingOnOff(t *testing.T) {
	for _, tc := range []struct {
		status rfc2866.AcctStatusType
		reason string
	}{
		{rfc2866.AcctStatusType_Value_AccountingOn, "accounting-on"},
		{rfc2866.AcctStatusType_Value_AccountingOff, "accounting-off"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			e := newEnv(t)
			// Records close at the reboot moment on the server's clock (now −
			// Acct-Delay-Time), whatever the NAS's Event-Timestamp says.
			req := acctRequest(t, acctStatus(tc.status), intAttr(rfc2866.AcctDelayTime_Type, 2),
				eventTimestamp(testNow.Add(-time.Hour)))
			checkReply(t, e.send(Acct, req), req, testSecret, radius.CodeAccountingResponse)
			// The test NAS is a network: one access point's reboot closes
			// only its own records.
			want := []closeCall{{NAS: "nas1@10.0.0.5", At: testNow.Add(-2 * time.Second), Reason: tc.reason}}
			if got := e.store.closeCalls(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("CloseNAS calls: got %v, want %v", got, want)
			}
			if n := len(e.store.acctEvents()); n != 0 {
				t.Errorf("%d Account calls, want 0", n)
			}
			e.wantOutcomes(map[string]int{"acct Accounting-Request accounted": 1})

			// A failing store: no answer, so the NAS retries.
			e.store.setErr(errStoreDown)
			req = acctRequest(t, acctStatus(tc.status))
			if reply := e.send(Acct, req); reply != nil {
				t.Errorf("%s answered though CloseNAS failed", tc.reason)
			}
		})
	}
}

// TestAccountingDropped checks the requests that must not be answered and
// those acknowledged without being stored.
func TestAccountingDropped(t *testing.T) {
	start := []attrFn{acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("s1"), callingStation("aabbccddeeff")}
	tests := []struct {
		name    string
		req     func(t *testing.T) []byte
		answer  bool
		outcome string
	}{
		{
			name: "forged: signed with another secret",
			req: func(t *testing.T) []byte {
				return buildRequest(t, radius.CodeAccountingRequest, []byte("wrong"), false, start...)
			},
			outcome: OutcomeBadAuth,
		},
		{
			name: "forged: attribute changed after signing",
			req: func(t *testing.T) []byte {
				b := acctRequest(t, start...)
				b[len(b)-1] ^= 1
				return b
			},
			outcome: OutcomeBadAuth,
		},
		{
			name: "forged: random authenticator (signed like an Access-Request)",
			req: func(t *testing.T) []byte {
				p := radius.New(radius.CodeAccountingRequest, testSecret)
				for _, fn := range start {
					fn(p)
				}
				b, _ := p.MarshalBinary()
				return b
			},
			outcome: OutcomeBadAuth,
		},
		{
			name: "no Acct-Session-Id",
			req: func(t *testing.T) []byte {
				return acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_Start), callingStation("aabbccddeeff"))
			},
			outcome: OutcomeMalformed,
		},
		{
			name: "no Acct-Status-Type",
			req: func(t *testing.T) []byte {
				return acctRequest(t, acctSessionID("s1"), callingStation("aabbccddeeff"))
			},
			outcome: OutcomeMalformed,
		},
		{
			name: "Acct-Status-Type of 3 octets",
			req: func(t *testing.T) []byte {
				return acctRequest(t, func(p *radius.Packet) { p.Add(rfc2866.AcctStatusType_Type, []byte{0, 0, 1}) },
					acctSessionID("s1"), callingStation("aabbccddeeff"))
			},
			outcome: OutcomeMalformed,
		},
		{
			name: "no MAC: acknowledged, not stored",
			req: func(t *testing.T) []byte {
				return acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_Start), acctSessionID("s1"), userName("admin"))
			},
			answer: true, outcome: OutcomeIgnored,
		},
		{
			name: "Failed (15): acknowledged, not stored",
			req: func(t *testing.T) []byte {
				return acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_Failed), acctSessionID("s1"), callingStation("aabbccddeeff"))
			},
			answer: true, outcome: OutcomeIgnored,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := tc.req(t)
			reply := e.send(Acct, req)
			if tc.answer {
				checkReply(t, reply, req, testSecret, radius.CodeAccountingResponse)
			} else if reply != nil {
				t.Errorf("answered %s, want drop", radius.Code(reply[0]))
			}
			if n := e.store.calls(); n != 0 {
				t.Errorf("store called %d times, want 0", n)
			}
			e.wantOutcomes(map[string]int{"acct Accounting-Request " + tc.outcome: 1})
		})
	}
}

// TestAccountingStoreError checks RFC 2866 §4.1: on a store error nothing is
// written, and the NAS's retransmission is processed again, not dropped as
// an in-flight duplicate nor answered from the cache.
func TestAccountingStoreError(t *testing.T) {
	e := newEnv(t)
	e.store.setErr(errStoreDown)
	req := acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_InterimUpdate), acctSessionID("s1"),
		callingStation("aabbccddeeff"), intAttr(rfc2866.AcctSessionTime_Type, 60))
	if reply := e.send(Acct, req); reply != nil {
		t.Fatalf("answered %s on a store error", radius.Code(reply[0]))
	}
	if n := e.conn.count(); n != 0 {
		t.Fatalf("%d writes on a store error, want 0", n)
	}
	e.wantOutcomes(map[string]int{"acct Accounting-Request store_error": 1})

	// The same retransmission while the store is still down: still silent.
	if reply := e.send(Acct, req); reply != nil {
		t.Fatalf("answered a retransmission while the store is down")
	}

	e.store.setErr(nil)
	checkReply(t, e.send(Acct, req), req, testSecret, radius.CodeAccountingResponse)
	if n := len(e.store.acctEvents()); n != 3 {
		t.Errorf("Account called %d times, want 3 (every retransmission processed)", n)
	}
	e.wantOutcomes(map[string]int{
		"acct Accounting-Request store_error": 2,
		"acct Accounting-Request accounted":   1,
	})
}

// TestAccountingInvalidFromStore checks that a store refusing absurd
// values (session.ErrInvalid) is not acknowledged and counts as malformed.
func TestAccountingInvalidFromStore(t *testing.T) {
	e := newEnv(t)
	e.store.setErr(fmt.Errorf("counter too large: %w", session.ErrInvalid))
	req := acctRequest(t, acctStatus(rfc2866.AcctStatusType_Value_Stop), acctSessionID("s1"), callingStation("aabbccddeeff"))
	if reply := e.send(Acct, req); reply != nil {
		t.Fatalf("answered %s", radius.Code(reply[0]))
	}
	e.wantOutcomes(map[string]int{"acct Accounting-Request malformed": 1})
}

// TestScanAcct holds the one-pass attribute scan to the Lookup-based reading
// it replaced (each value from the type's first attribute, the first number
// of a wrong length, the first Class of ours) on random attribute lists with
// repeated types, wrong lengths and absent attributes.
func TestScanAcct(t *testing.T) {
	numbers := []radius.Type{
		rfc2866.AcctStatusType_Type, rfc2866.AcctDelayTime_Type, rfc2866.AcctSessionTime_Type,
		rfc2866.AcctInputOctets_Type, rfc2866.AcctOutputOctets_Type,
		rfc2869.AcctInputGigawords_Type, rfc2869.AcctOutputGigawords_Type, rfc2869.EventTimestamp_Type,
	}
	others := []radius.Type{
		rfc2866.AcctSessionID_Type, rfc2865.UserName_Type, rfc2865.CallingStationID_Type,
		rfc2865.NASIdentifier_Type, rfc2865.FramedIPAddress_Type, rfc2865.NASIPAddress_Type,
		rfc2865.Class_Type, rfc2865.ReplyMessage_Type, rfc2865.ProxyState_Type,
	}
	rng := rand.New(rand.NewPCG(11, 5))
	value := func(t radius.Type) []byte {
		n := 4
		switch rng.IntN(8) {
		case 0:
			n = rng.IntN(7) // 0 to 6 octets: mostly a wrong length
		case 1, 2:
			if t == rfc2865.Class_Type {
				return []byte(classPrefix + strconv.Itoa(rng.IntN(100)))
			}
			n = rng.IntN(20)
		}
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		return v
	}
	for i := range 5000 {
		var p radius.Packet
		for range rng.IntN(12) {
			typ := others[rng.IntN(len(others))]
			if rng.IntN(2) == 0 {
				typ = numbers[rng.IntN(len(numbers))]
			}
			p.Add(typ, value(typ))
		}
		p.Code, p.Secret = radius.CodeAccountingRequest, testSecret
		pkt, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, want := scanAcct(pkt), lookupAcct(&p, numbers)
		if got.bad {
			got = acctAttrs{bad: true, badType: got.badType, badLen: got.badLen} // dropped: nothing else is read
		}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Fatalf("packet %d %v:\nscan   %+v\nlookup %+v", i, p.Attributes, got, want)
		}
	}
}

// lookupAcct reads what scanAcct does the way account did before: a Lookup
// per attribute.
func lookupAcct(p *radius.Packet, numbers []radius.Type) acctAttrs {
	var a acctAttrs
	for _, avp := range p.Attributes {
		if len(avp.Attribute) != 4 && slices.Contains(numbers, avp.Type) {
			a.bad, a.badType, a.badLen = true, avp.Type, len(avp.Attribute)
			break
		}
	}
	u32 := func(t radius.Type) (uint32, bool) {
		v, ok := p.Attributes.Lookup(t)
		if !ok || len(v) != 4 {
			return 0, ok
		}
		return binary.BigEndian.Uint32(v), true
	}
	var inGW, outGW bool
	a.status, a.hasStatus = u32(rfc2866.AcctStatusType_Type)
	a.delay, _ = u32(rfc2866.AcctDelayTime_Type)
	a.sessionTime, _ = u32(rfc2866.AcctSessionTime_Type)
	a.inOctets, _ = u32(rfc2866.AcctInputOctets_Type)
	a.outOctets, _ = u32(rfc2866.AcctOutputOctets_Type)
	a.inGiga, inGW = u32(rfc2869.AcctInputGigawords_Type)
	a.outGiga, outGW = u32(rfc2869.AcctOutputGigawords_Type)
	a.eventTimestamp, a.hasEventTimestamp = u32(rfc2869.EventTimestamp_Type)
	a.gigawords = inGW || outGW
	if a.bad {
		// The packet is dropped: only the bad attribute matters.
		return acctAttrs{bad: true, badType: a.badType, badLen: a.badLen}
	}
	a.sessionID, _ = p.Attributes.Lookup(rfc2866.AcctSessionID_Type)
	a.userName, _ = p.Attributes.Lookup(rfc2865.UserName_Type)
	a.callingStation, _ = p.Attributes.Lookup(rfc2865.CallingStationID_Type)
	a.nasIdentifier, _ = p.Attributes.Lookup(rfc2865.NASIdentifier_Type)
	a.framedIP, _ = p.Attributes.Lookup(rfc2865.FramedIPAddress_Type)
	a.nasIP, _ = p.Attributes.Lookup(rfc2865.NASIPAddress_Type)
	for _, avp := range p.Attributes {
		if avp.Type == rfc2865.Class_Type && bytes.HasPrefix(avp.Attribute, []byte(classPrefix)) {
			a.class = avp.Attribute
			break
		}
	}
	return a
}

// TestSrcStrings: the strings kept for the last source address are that
// address's, whichever sources alternate.
func TestSrcStrings(t *testing.T) {
	n := &nasEntry{NAS: testNAS()} // 10.0.0.0/24: the identity names the address
	for _, src := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.1", "::ffff:10.0.0.1", "10.0.0.1"} {
		a := netip.MustParseAddr(src)
		got := n.srcStrings(a)
		if got.acctNAS != n.acctNAS(a) || got.ip != a.Unmap().String() {
			t.Errorf("%s: %q %q, want %q %q", src, got.acctNAS, got.ip, n.acctNAS(a), a.Unmap().String())
		}
	}
}
