package radiusd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/session"
)

// The malformed corpus: testdata/malformed/*.bin, one datagram per file as
// sent on the wire, indexed in README.txt. malformedCorpus generates it;
// TestMalformedCorpusFiles keeps the files in step (rewrite with -update)
// and TestMalformedCorpus sends every file to a live server.
const malDir = "testdata/malformed"

// malMAC is the device the corpus's packets name. It has no session, so a
// packet the server wrongly accepted would be visible as an Access-Reject
// or an accounting record of its own.
const malMAC = "02-00-00-00-0B-AD"

// malEntry is one corpus datagram and the outcome it must end in on each
// listener.
type malEntry struct {
	name       string
	what       string
	auth, acct string // radiusd.Outcome* on the auth and on the acct listener
	b          []byte
}

func malAttr(typ byte, v []byte) []byte { return append([]byte{typ, byte(2 + len(v))}, v...) }

func malStr(typ byte, s string) []byte { return malAttr(typ, []byte(s)) }

func malInt(typ byte, v uint32) []byte { return malAttr(typ, binary.BigEndian.AppendUint32(nil, v)) }

// malPacket lays out a datagram whose Length field is its real length.
func malPacket(code radius.Code, id byte, auth [16]byte, attrs ...[]byte) []byte {
	b := append([]byte{byte(code), id, 0, 0}, auth[:]...)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return malSetLen(b, len(b))
}

func malSetLen(b []byte, n int) []byte {
	binary.BigEndian.PutUint16(b[2:4], uint16(n))
	return b
}

// malSign fills the first Message-Authenticator (HMAC-MD5 over the packet
// with its value zeroed; an Accounting-Request hashes its authenticator as
// zeros) and then an Accounting-Request's Request Authenticator, with the
// live server's secret: a well-framed entry must fail for the one reason it
// names, not for a missing signature.
func malSign(b []byte) []byte {
	maOff := 0
	for i := 20; i+1 < len(b) && b[i+1] >= 2; i += int(b[i+1]) {
		if b[i] == packet.MAType && b[i+1] == packet.MALen && i+packet.MALen <= len(b) {
			maOff = i + 2
			break
		}
	}
	packet.SignRequest(b, maOff, []byte(e2eSecret))
	return b
}

// malFill returns attributes (Proxy-State, at most 255 octets each) that
// take exactly n octets, n ≥ 2.
func malFill(n int) [][]byte {
	var out [][]byte
	for n > 0 {
		l := min(n, 255)
		if n-l == 1 {
			l-- // never leave a single octet
		}
		out = append(out, malAttr(byte(rfc2865.ProxyState_Type), make([]byte, l-2)))
		n -= l
	}
	return out
}

// malformedCorpus builds the corpus: every entry deterministic (fixed
// authenticators), each well-framed one signed so that it is refused for
// the fault it names.
func malformedCorpus() []malEntry {
	const (
		malformed   = radiusd.OutcomeMalformed
		unsupported = radiusd.OutcomeUnsupported
		badAuth     = radiusd.OutcomeBadAuth
		badMA       = radiusd.OutcomeBadMA
		missingMA   = radiusd.OutcomeMissingMA
	)
	auth := func(id byte) [16]byte {
		var a [16]byte
		copy(a[:], "malformed-corpus")
		a[15] = id
		return a
	}
	ma := malAttr(byte(rfc2869.MessageAuthenticator_Type), make([]byte, 16))
	user := malStr(byte(rfc2865.UserName_Type), "020000000bad")
	mac := malStr(byte(rfc2865.CallingStationID_Type), malMAC)
	access := func(id byte, extra ...[]byte) []byte {
		return malSign(malPacket(radius.CodeAccessRequest, id, auth(id), append([][]byte{ma, user, mac}, extra...)...))
	}
	acct := func(id byte, attrs ...[]byte) []byte {
		return malSign(malPacket(radius.CodeAccountingRequest, id, [16]byte{}, attrs...))
	}
	status := malInt(byte(rfc2866.AcctStatusType_Type), uint32(rfc2866.AcctStatusType_Value_InterimUpdate))
	acctID := malStr(byte(rfc2866.AcctSessionID_Type), "malformed-0001")
	counters := [][]byte{
		malInt(byte(rfc2866.AcctSessionTime_Type), 60),
		malInt(byte(rfc2866.AcctInputOctets_Type), 1000),
		malInt(byte(rfc2866.AcctOutputOctets_Type), 2000),
	}
	interim := func(id byte, attrs ...[]byte) []byte {
		return acct(id, append(append([][]byte{status, mac, acctID}, counters...), attrs...)...)
	}

	var list []malEntry
	add := func(name, what, a, c string, b []byte) {
		list = append(list, malEntry{name: name, what: what, auth: a, acct: c, b: b})
	}

	b := access(1)
	b = append(b, byte(rfc2865.ReplyMessage_Type))
	add("truncated_attribute", "Access-Request whose last attribute is cut after its type octet", malformed, malformed, malSetLen(b, len(b)))

	add("attribute_length_0", "Access-Request with an attribute of length 0", malformed, malformed,
		malPacket(radius.CodeAccessRequest, 2, auth(2), ma, user, []byte{byte(rfc2865.CallingStationID_Type), 0, 'x', 'y'}, mac))

	add("attribute_length_1", "Access-Request with an attribute of length 1", malformed, malformed,
		malPacket(radius.CodeAccessRequest, 3, auth(3), ma, user, []byte{byte(rfc2865.CallingStationID_Type), 1}, mac))

	b = access(4)
	b = append(b, byte(rfc2865.ReplyMessage_Type), 40, 'a', 'b', 'c')
	add("attribute_length_past_end", "Access-Request whose last attribute's length (40) runs past the packet's end", malformed, malformed, malSetLen(b, len(b)))

	b = access(5)
	add("length_field_gt_datagram", "signed Access-Request whose Length field is 100 octets more than the datagram", malformed, malformed, malSetLen(b, len(b)+100))

	add("length_field_lt_20", "signed Access-Request whose Length field is 19", malformed, malformed, malSetLen(access(6), 19))

	add("datagram_19_bytes", "the first 19 octets of a signed Access-Request", malformed, malformed, access(7)[:19])

	b = malPacket(radius.CodeAccessRequest, 8, auth(8), append([][]byte{ma, user, mac}, malFill(4097-20-len(ma)-len(user)-len(mac))...)...)
	add("oversized_length_4097", "signed Access-Request of 4097 octets, Length field 4097 (the maximum is 4096)", malformed, malformed, malSign(b))

	b = access(9)
	add("oversized_datagram_4200", "a valid signed Access-Request followed by zeros up to a 4200-octet datagram (beyond the 4096 maximum)", malformed, malformed,
		append(b, make([]byte, 4200-len(b))...))

	add("acct_zero_authenticator", "Accounting-Request (Interim-Update) with an all-zero Request Authenticator", unsupported, badAuth,
		malPacket(radius.CodeAccountingRequest, 10, [16]byte{}, append([][]byte{status, mac, acctID}, counters...)...))

	b = access(11)
	b[22] ^= 0x01 // the Message-Authenticator is the first attribute
	add("access_bad_message_authenticator", "Access-Request with one bit of its Message-Authenticator flipped", badMA, unsupported, b)

	add("message_authenticator_length_17", "Access-Request with a Message-Authenticator of length 17", malformed, malformed,
		malPacket(radius.CodeAccessRequest, 12, auth(12), malAttr(byte(rfc2869.MessageAuthenticator_Type), make([]byte, 15)), user, mac))

	add("two_message_authenticators", "signed Access-Request with a second Message-Authenticator", malformed, malformed,
		malSign(malPacket(radius.CodeAccessRequest, 13, auth(13), ma, user, mac, ma)))

	for i, c := range []radius.Code{0, 6, 99, 255} { // 6: Accounting-Status (RFC 2882), never implemented
		id := byte(14 + i)
		add(fmt.Sprintf("code_%d", c), fmt.Sprintf("signed packet of code %d (%s) with a Message-Authenticator", c, c), unsupported, unsupported,
			malSign(malPacket(c, id, auth(id), ma, user, mac)))
	}

	add("access_accept_to_server", "an Access-Accept, with a Message-Authenticator, sent to the server", unsupported, unsupported,
		malSign(malPacket(radius.CodeAccessAccept, 18, auth(18), ma, malStr(byte(rfc2865.ReplyMessage_Type), "welcome"))))

	tiny := [][]byte{ma}
	for i := range 1000 {
		tiny = append(tiny, []byte{byte(1 + i%255), 2})
	}
	add("tiny_attributes_1000", "signed Access-Request with 1000 empty attributes of types 1-255 in turn, a 2-octet Vendor-Specific and Message-Authenticator among them", malformed, malformed,
		malSign(malPacket(radius.CodeAccessRequest, 19, auth(19), tiny...)))

	add("acct_status_type_3_octets", "signed Accounting-Request whose Acct-Status-Type is 3 octets", unsupported, malformed,
		acct(20, malAttr(byte(rfc2866.AcctStatusType_Type), []byte{0, 0, 3}), mac, acctID))

	add("acct_event_timestamp_2_octets", "signed Interim-Update whose Event-Timestamp is 2 octets", unsupported, malformed,
		interim(21, malAttr(byte(rfc2869.EventTimestamp_Type), []byte{0x68, 0x3c})))

	add("acct_input_octets_3_octets", "signed Interim-Update whose Acct-Input-Octets is 3 octets (read as 0, it would look like a counter reset)", unsupported, malformed,
		acct(22, status, mac, acctID, malInt(byte(rfc2866.AcctSessionTime_Type), 60), malAttr(byte(rfc2866.AcctInputOctets_Type), []byte{1, 0, 0})))

	add("vendor_specific_length_3", "signed Access-Request with a Vendor-Specific of length 3 (the minimum is 7)", malformed, malformed,
		access(23, malAttr(byte(rfc2865.VendorSpecific_Type), []byte{0})))

	add("acct_no_session_id", "signed Interim-Update of a device without Acct-Session-Id", unsupported, malformed,
		acct(24, append([][]byte{status, mac}, counters...)...))

	add("acct_gigawords_max", "signed Interim-Update whose Acct-Input/Output-Gigawords are 2^32-1 (counters above 2^53)", unsupported, malformed,
		interim(25, malInt(byte(rfc2869.AcctInputGigawords_Type), 1<<32-1), malInt(byte(rfc2869.AcctOutputGigawords_Type), 1<<32-1)))

	add("access_no_message_authenticator", "Access-Request without a Message-Authenticator (the NAS requires one)", missingMA, unsupported,
		malPacket(radius.CodeAccessRequest, 26, auth(26), user, mac))

	add("status_server_no_message_authenticator", "Status-Server without a Message-Authenticator (RFC 5997 requires one)", missingMA, missingMA,
		malPacket(radius.CodeStatusServer, 27, auth(27), malStr(byte(rfc2865.NASIdentifier_Type), "corpus")))

	return list
}

// malReadme is the index of the corpus.
func malReadme(list []malEntry) string {
	var w strings.Builder
	w.WriteString(`Malformed RADIUS datagrams, one per file, as sent on the wire.

Generated by malformedCorpus in radiusd/badinput_test.go; regenerate with
  go test ./radiusd -run MalformedCorpusFiles -update
Well-framed entries are signed (Message-Authenticator, Request Authenticator)
with the shared secret "testing123" of NAS 127.0.0.1, so that each is refused
for the one fault it names. Accounting entries name device 02-00-00-00-0B-AD.
TestMalformedCorpus sends every file to the auth and to the acct listener of a
live server (real Redis) between good requests: none may be answered, and each
must end in the radiusd_packets_total outcome listed here.

`)
	fmt.Fprintf(&w, "%-42s %6s  %-30s %-30s %s\n", "file", "octets", "auth listener", "acct listener", "what")
	for _, e := range list {
		fmt.Fprintf(&w, "%-42s %6d  %-30s %-30s %s\n", e.name+".bin", len(e.b), e.auth, e.acct, e.what)
	}
	return w.String()
}

func malUpdate() bool {
	f := flag.Lookup("update") // defined by the package's golden tests
	return f != nil && f.Value.String() == "true"
}

// TestMalformedCorpusFiles keeps testdata/malformed in step with
// malformedCorpus (rewrite with -update).
func TestMalformedCorpusFiles(t *testing.T) {
	list := malformedCorpus()
	files := map[string][]byte{"README.txt": []byte(malReadme(list))}
	for _, e := range list {
		files[e.name+".bin"] = e.b
	}
	if malUpdate() {
		if err := os.MkdirAll(malDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range files {
		path := filepath.Join(malDir, name)
		if malUpdate() {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run with -update)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale (run with -update)", path)
		}
	}
	entries, err := os.ReadDir(malDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		if _, ok := files[de.Name()]; !ok {
			t.Errorf("%s: not generated by malformedCorpus, so not sent by TestMalformedCorpus", filepath.Join(malDir, de.Name()))
		}
	}
}

// badWithMA gives an Access-Request or Status-Server a correct
// Message-Authenticator as its first attribute, as a BlastRADIUS-safe NAS
// does. layeh encodes these codes with the authenticator as is, so the
// bytes Exchange sends are the ones signed here.
func badWithMA(p *radius.Packet) error { return packet.SignMA(p) }

// badReplyMA checks a reply's Message-Authenticator: the first attribute,
// HMAC-MD5 over the reply with the request's authenticator and its own
// value zeroed.
func badReplyMA(req, reply *radius.Packet) error {
	b, err := reply.MarshalBinary() // the bytes received: layeh keeps the order and the authenticator
	if err != nil {
		return err
	}
	if len(b) < 38 || b[20] != byte(rfc2869.MessageAuthenticator_Type) || b[21] != 18 {
		return errors.New("Message-Authenticator is not the first attribute")
	}
	if !packet.VerifyReplyMA(b, packet.HeaderLen+2, req.Authenticator, req.Secret) {
		return errors.New("Message-Authenticator does not verify")
	}
	return nil
}

// badExchange sends p once (no retransmission: on loopback nothing may be
// lost) and returns the verified reply; layeh checks the Response
// Authenticator.
func badExchange(ctx context.Context, p *radius.Packet, addr string) (*radius.Packet, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if p.Code == radius.CodeAccessRequest || p.Code == radius.CodeStatusServer {
		if err := badWithMA(p); err != nil {
			return nil, err
		}
	}
	c := radius.Client{MaxPacketErrors: 1}
	r, err := c.Exchange(ctx, p, addr)
	if err != nil {
		return nil, fmt.Errorf("%s to %s: %w", p.Code, addr, err)
	}
	if r.Code != radius.CodeAccountingResponse || p.Code == radius.CodeStatusServer {
		if err := badReplyMA(p, r); err != nil {
			return nil, fmt.Errorf("%s to %s: %s: %w", p.Code, addr, r.Code, err)
		}
	}
	return r, nil
}

// badAuthorize sends an Access-Request for mac, which has a session of
// 3600 s: it must be accepted with a Session-Timeout.
func badAuthorize(ctx context.Context, mac, addr string) error {
	p := radius.New(radius.CodeAccessRequest, []byte(e2eSecret))
	_ = rfc2865.UserName_SetString(p, mac)
	_ = rfc2865.CallingStationID_SetString(p, mac)
	_ = rfc2865.UserPassword_SetString(p, "x")
	r, err := badExchange(ctx, p, addr)
	if err != nil {
		return err
	}
	if r.Code != radius.CodeAccessAccept {
		return fmt.Errorf("Access-Request %s: got %s (%s), want Access-Accept", mac, r.Code, rfc2865.ReplyMessage_GetString(r))
	}
	if st := rfc2865.SessionTimeout_Get(r); st == 0 || st > 3600 {
		return fmt.Errorf("Access-Accept %s: Session-Timeout %d, want 1 to 3600", mac, st)
	}
	return nil
}

// badAccount sends one Accounting-Request; it must be acknowledged.
func badAccount(ctx context.Context, addr, mac, acctID string, status rfc2866.AcctStatusType, secs, in, out uint32) error {
	p := radius.New(radius.CodeAccountingRequest, []byte(e2eSecret))
	_ = rfc2866.AcctStatusType_Set(p, status)
	_ = rfc2865.CallingStationID_SetString(p, mac)
	_ = rfc2866.AcctSessionID_SetString(p, acctID)
	_ = rfc2866.AcctSessionTime_Set(p, rfc2866.AcctSessionTime(secs))
	_ = rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(in))
	_ = rfc2866.AcctOutputOctets_Set(p, rfc2866.AcctOutputOctets(out))
	r, err := badExchange(ctx, p, addr)
	if err != nil {
		return err
	}
	if r.Code != radius.CodeAccountingResponse {
		return fmt.Errorf("Accounting-Request: got %s", r.Code)
	}
	return nil
}

// badStatus sends a Status-Server (with a Message-Authenticator): it must
// be answered on either port.
func badStatus(ctx context.Context, addr string, want radius.Code) error {
	p := radius.New(radius.CodeStatusServer, []byte(e2eSecret))
	_ = rfc2865.NASIdentifier_SetString(p, "probe")
	r, err := badExchange(ctx, p, addr)
	if err != nil {
		return err
	}
	if r.Code != want {
		return fmt.Errorf("Status-Server to %s: got %s, want %s", addr, r.Code, want)
	}
	return nil
}

// Outcomes by kind, for checking that every datagram was counted once.
var (
	badDropOutcomes = []string{radiusd.OutcomeMalformed, radiusd.OutcomeBadAuth, radiusd.OutcomeBadMA,
		radiusd.OutcomeMissingMA, radiusd.OutcomeUnsupported}
	badAnswerOutcomes = []string{radiusd.OutcomeAccepted, radiusd.OutcomeAccounted, radiusd.OutcomeStatus}
)

// badSum adds the counts whose outcome is one of outcomes.
func badSum(counts map[string]int, outcomes ...string) int {
	n := 0
	for k, v := range counts {
		if slices.Contains(outcomes, k[strings.LastIndexByte(k, ' ')+1:]) {
			n += v
		}
	}
	return n
}

// badWaitCounts polls the counters until those of outcomes add up to want
// (handlers count after the reply is written, on their own goroutine), or
// until deadline.
func badWaitCounts(t *testing.T, reg *prometheus.Registry, deadline time.Time, want int, outcomes ...string) map[string]int {
	t.Helper()
	for {
		c := radiusd.PacketCounts(t, reg)
		if n := badSum(c, outcomes...); n >= want || time.Now().After(deadline) {
			return c
		}
		time.Sleep(time.Millisecond)
	}
}

// badNoReplies checks that nothing is waiting on conn: it sends itself a
// marker and reads; the marker must be the first datagram. Call it when
// every outcome has been counted: replies are written before the count.
func badNoReplies(t *testing.T, conn *net.UDPConn) {
	t.Helper()
	marker := []byte("end of replies")
	if _, err := conn.WriteToUDPAddrPort(marker, conn.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("reading the marker back: %v", err)
		}
		if bytes.Equal(buf[:n], marker) {
			return
		}
		t.Errorf("malformed datagram answered: %d octets from %s: %x", n, from, buf[:n])
	}
}

// TestMalformedCorpus sends every file of testdata/malformed to both
// listeners of the live server, each followed by a good request (an
// Access-Request of a device with a session, or an accounting interim).
// Every good request is answered correctly; no malformed datagram is
// answered, each ends in the drop outcome the corpus lists, the drops add up
// to the datagrams sent, nothing reached the device's consumption, and the
// server still answers Status-Server at the end.
func TestMalformedCorpus(t *testing.T) {
	list := malformedCorpus()
	s := startE2E(t, radiusd.MARequire)
	ctx := context.Background()
	const good = "02:00:00:00:00:42"
	if _, err := s.mgr.CreateSession(ctx, good, session.Spec{Type: session.TypeTimeOrData, TimeSecs: 3600, DataMb: 1000, DownMbits: 10, UpMbits: 2}); err != nil {
		t.Fatal(err)
	}
	if err := badAccount(ctx, s.acct, good, "good-0001", rfc2866.AcctStatusType_Value_Start, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	answered := 1

	mal, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer mal.Close()
	addrs := map[string]netip.AddrPort{
		"auth": netip.MustParseAddrPort(s.auth),
		"acct": netip.MustParseAddrPort(s.acct),
	}

	var secs, in, out uint32
	sent := 0
	// One budget for all the waits below, so that a server that answers
	// instead of dropping fails the test in bounded time.
	budget := time.Now().Add(15 * time.Second)
	for _, e := range list {
		b, err := os.ReadFile(filepath.Join(malDir, e.name+".bin"))
		if err != nil {
			t.Fatalf("%v (go test ./radiusd -run MalformedCorpusFiles -update)", err)
		}
		for _, l := range []struct{ name, want string }{{"auth", e.auth}, {"acct", e.acct}} {
			before := radiusd.PacketCounts(t, s.reg)
			if _, err := mal.WriteToUDPAddrPort(b, addrs[l.name]); err != nil {
				t.Fatal(err)
			}
			sent++
			// Good traffic right behind it, on the same listener.
			if l.name == "auth" {
				err = badAuthorize(ctx, good, s.auth)
			} else {
				secs, in, out = secs+60, in+100_000, out+400_000
				err = badAccount(ctx, s.acct, good, "good-0001", rfc2866.AcctStatusType_Value_InterimUpdate, secs, in, out)
			}
			if err != nil {
				t.Errorf("good request after %s on %s: %v", e.name, l.name, err)
			} else {
				answered++
			}
			after := badWaitCounts(t, s.reg, budget, badSum(before, badDropOutcomes...)+1, badDropOutcomes...)
			var diff []string
			for k, v := range after {
				if d := v - before[k]; d != 0 && slices.Contains(badDropOutcomes, k[strings.LastIndexByte(k, ' ')+1:]) {
					diff = append(diff, fmt.Sprintf("%s +%d", k, d))
				}
			}
			code := "invalid"
			if len(b) > 0 {
				code = radius.Code(b[0]).String()
			}
			if want := fmt.Sprintf("%s %s %s +1", l.name, code, l.want); len(diff) != 1 || diff[0] != want {
				t.Errorf("%s on %s: counted %v, want [%s]", e.name, l.name, diff, want)
			}
		}
	}

	for _, st := range []struct {
		addr string
		want radius.Code
	}{{s.auth, radius.CodeAccessAccept}, {s.acct, radius.CodeAccountingResponse}} {
		if err := badStatus(ctx, st.addr, st.want); err != nil {
			t.Errorf("after the corpus: %v", err)
		} else {
			answered++
		}
	}

	counts := badWaitCounts(t, s.reg, time.Now().Add(5*time.Second), sent+answered, append(badDropOutcomes, badAnswerOutcomes...)...)
	if got := badSum(counts, badDropOutcomes...); got != sent {
		t.Errorf("drop outcomes add up to %d, want %d (one per malformed datagram)", got, sent)
	}
	if got := badSum(counts, badAnswerOutcomes...); got != answered {
		t.Errorf("answered outcomes add up to %d, want %d", got, answered)
	}
	total := 0
	for _, v := range counts {
		total += v
	}
	if total != sent+answered {
		t.Errorf("%d outcomes counted for %d datagrams: %v", total, sent+answered, counts)
	}
	badNoReplies(t, mal)

	// The device's consumption is exactly what the good interims reported,
	// and the corpus's device has no accounting record.
	ds, err := s.store.DeviceSessions(ctx, session.MAC(good))
	if err != nil || len(ds) != 1 {
		t.Fatalf("sessions of %s: %v, %v", good, ds, err)
	}
	if ds[0].TimeCons != uint64(secs) || ds[0].DataConsBytes != uint64(in)+uint64(out) {
		t.Errorf("consumption: %d s, %d octets; want %d s, %d octets", ds[0].TimeCons, ds[0].DataConsBytes, secs, uint64(in)+uint64(out))
	}
	bad, _ := session.ParseMAC(malMAC)
	if recs, err := s.store.OpenRecords(ctx, bad); err != nil || len(recs) != 0 {
		t.Errorf("open records of the corpus's device %s: %v, %v; want none", bad, recs, err)
	}
	t.Logf("%d corpus files, %d malformed datagrams dropped and counted, %d good requests answered", len(list), sent, answered)
}

// TestUnknownNASFloodDoesNotSlowKnownNAS floods the auth port from
// 127.0.0.2, an address outside the NAS table (Linux routes all of 127/8 to
// lo), while the known NAS 127.0.0.1 sends Access-Requests one after the
// other: every one is answered, and the flood is counted as unknown_nas. The
// known NAS's latency with and without the flood is logged, not asserted.
func TestUnknownNASFloodDoesNotSlowKnownNAS(t *testing.T) {
	flood, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2 for the unknown source (not Linux loopback?): %v", err)
	}
	defer flood.Close()
	s := startE2E(t, radiusd.MARequire)
	ctx := context.Background()
	const mac = "02:00:00:00:00:43"
	if _, err := s.mgr.CreateSession(ctx, mac, session.Spec{Type: session.TypeTime, TimeSecs: 3600, DownMbits: 10, UpMbits: 2}); err != nil {
		t.Fatal(err)
	}
	const (
		requests  = 300                  // per phase, one every `pace`
		pace      = 5 * time.Millisecond // spreads them over the flood
		burst     = 10                   // flood datagrams per tick of 1 ms: 10,000/s
		maxFlood  = 40_000               // bound on the flood whatever the timing
		floodTick = time.Millisecond
	)
	// What the unknown source sends: a well-formed, signed Access-Request
	// (another secret): only its source address is wrong.
	fp := radius.New(radius.CodeAccessRequest, []byte("not-a-configured-secret"))
	_ = rfc2865.CallingStationID_SetString(fp, mac)
	if err := badWithMA(fp); err != nil {
		t.Fatal(err)
	}
	floodPkt, err := fp.Encode()
	if err != nil {
		t.Fatal(err)
	}
	authAddr := netip.MustParseAddrPort(s.auth)

	phase := func(name string) []time.Duration {
		lat := make([]time.Duration, 0, requests)
		tick := time.NewTicker(pace)
		defer tick.Stop()
		for i := range requests {
			start := time.Now()
			if err := badAuthorize(ctx, mac, s.auth); err != nil {
				t.Fatalf("%s: request %d of the known NAS: %v", name, i, err)
			}
			lat = append(lat, time.Since(start))
			<-tick.C
		}
		return lat
	}

	quiet := phase("without flood")

	var (
		wg        sync.WaitGroup
		floodSent int
		floodErr  error
	)
	stop := make(chan struct{})
	floodStart := time.Now()
	wg.Go(func() {
		tick := time.NewTicker(floodTick)
		defer tick.Stop()
		for floodSent < maxFlood {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for range burst {
				if _, err := flood.WriteToUDPAddrPort(floodPkt, authAddr); err != nil {
					floodErr = err
					return
				}
				floodSent++
			}
		}
	})
	flooded := phase("during the flood")
	close(stop)
	wg.Wait()
	floodFor := time.Since(floodStart)
	if floodErr != nil {
		t.Fatalf("flood: %v", floodErr)
	}
	// One more request: answered, it was read after every flood datagram
	// before it (one socket, read in order), so the count is final.
	if err := badAuthorize(ctx, mac, s.auth); err != nil {
		t.Fatal(err)
	}
	counts := badWaitCounts(t, s.reg, time.Now().Add(5*time.Second), 2*requests+1, radiusd.OutcomeAccepted)
	unknown := counts["auth Access-Request "+radiusd.OutcomeUnknownNAS]
	if unknown <= 0 || unknown > floodSent {
		t.Errorf("unknown_nas = %d, want 1 to %d (the flood datagrams sent)", unknown, floodSent)
	}
	if got := counts["auth Access-Request "+radiusd.OutcomeAccepted]; got != 2*requests+1 {
		t.Errorf("accepted = %d, want %d", got, 2*requests+1)
	}
	if n := len(counts); n != 2 {
		t.Errorf("outcomes other than accepted and unknown_nas: %v", counts)
	}
	p := func(lat []time.Duration, q float64) time.Duration {
		s := slices.Clone(lat)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Microsecond)
	}
	t.Logf("flood from 127.0.0.2: %d datagrams in %v (%.0f/s), %d read and counted unknown_nas (%.1f%%)",
		floodSent, floodFor.Round(time.Millisecond), float64(floodSent)/floodFor.Seconds(), unknown, 100*float64(unknown)/float64(floodSent))
	t.Logf("known NAS, %d sequential Access-Requests each: without flood p50 %v p99 %v max %v; during flood p50 %v p99 %v max %v",
		requests, p(quiet, .5), p(quiet, .99), p(quiet, 1), p(flooded, .5), p(flooded, .99), p(flooded, 1))
}
