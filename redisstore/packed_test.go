package redisstore

import (
	"maps"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/session"
)

// rawSession is one session of sessions.lua's reply, as read by
// sessionReader: its ID and its hash.
type rawSession struct {
	id   string
	hash map[string]string
}

// readPacked reads a whole sessions.lua reply, failing the test on a
// malformed one or a field that appears twice.
func readPacked(t *testing.T, reply string) []rawSession {
	t.Helper()
	var r sessionReader
	n, err := r.start(reply)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	var out []rawSession
	for range n {
		id, kv, err := r.next()
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		h := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			if _, dup := h[kv[i]]; dup {
				t.Fatalf("session %s: field %q twice", id, kv[i])
			}
			h[kv[i]] = kv[i+1]
		}
		out = append(out, rawSession{id, h})
	}
	if err := r.end(); err != nil {
		t.Fatal(err)
	}
	return out
}

// testSessionsEncoding: sessions.lua's one-string reply carries every
// session of the device in creation order with its hash exactly as HGETALL
// reads it, whatever octets its field names and values hold and whatever
// their lengths (every MessagePack header size); a device without sessions
// is an empty list; the Lua encoder (the one miniredis runs) gives the same
// bytes as Redis's cmsgpack.
func testSessionsEncoding(t *testing.T, s *Store) {
	ctx := t.Context()
	keys, base := []string{s.keys.index(testMAC)}, s.keys.sessionBase(testMAC)
	run := func(sc *redis.Script) string {
		t.Helper()
		v, err := sc.Run(ctx, s.rdb, keys, base).Text()
		if err != nil {
			t.Fatalf("sessions.lua: %v", err)
		}
		return v
	}
	fallbackSrc := strings.Replace(luaSessions, "rawget(_G, 'cmsgpack')", "nil", 1)
	if fallbackSrc == luaSessions {
		t.Fatal("sessions.lua no longer looks up cmsgpack with rawget(_G, 'cmsgpack')")
	}
	fallback := redis.NewScript(fallbackSrc)

	if list, err := s.DeviceSessions(ctx, testMAC); err != nil || len(list) != 0 {
		t.Fatalf("no sessions: got %v, %v", list, err)
	}
	if got := readPacked(t, run(s.sessions)); len(got) != 0 {
		t.Fatalf("no sessions: reply holds %v", got)
	}

	ids := []string{create(t, s, testMAC, timeSpec(60)), create(t, s, testMAC, dataSpec(5)), create(t, s, testMAC, todSpec(60, 5))}
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	odd := map[string]any{
		fProvider:      string(every), // decoded into Data too
		fVoucher:       "",            // an empty value
		string(every):  string(every), // every octet in a name and in a value
		"\x00":         "\x90\xa0\xc4\xd9\xdc\xdd",
		"\xa0\x90\xdc": "\x00",
	}
	for _, n := range []int{1, 15, 16, 31, 32, 255, 256, 65535, 65536} {
		odd[strings.Repeat("n", n)] = strings.Repeat("\xda", n)
	}
	if err := s.rdb.HSet(ctx, keyOf(t, ids[1]), odd).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.HSet(ctx, keyOf(t, ids[2]), fProvider, "").Err(); err != nil {
		t.Fatal(err)
	}

	reply := run(s.sessions)
	if fb := run(fallback); fb != reply {
		t.Errorf("the Lua encoder's reply differs from cmsgpack's (%d and %d bytes)", len(fb), len(reply))
	}
	got := readPacked(t, reply)
	if len(got) != len(ids) {
		t.Fatalf("%d sessions in the reply, want %d", len(got), len(ids))
	}
	for i, id := range ids {
		want, err := s.rdb.HGetAll(ctx, keyOf(t, id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got[i].id != id || !maps.Equal(got[i].hash, want) {
			t.Errorf("session %d: got %s with %d fields, want %s with HGETALL's %d fields", i, got[i].id, len(got[i].hash), id, len(want))
			for k, v := range want {
				if g, ok := got[i].hash[k]; !ok || g != v {
					t.Errorf("  field %q: got %q (%v), want %q", k, g, ok, v)
				}
			}
		}
	}

	list, err := s.DeviceSessions(ctx, testMAC)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(ids) {
		t.Fatalf("DeviceSessions: %d sessions, want %d", len(list), len(ids))
	}
	for i, id := range ids {
		want, err := s.GetSession(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if normalize(list[i]) != normalize(want) {
			t.Errorf("DeviceSessions[%d] = %+v, GetSession = %+v", i, list[i], want)
		}
	}
	if list[1].Provider != string(every) || list[2].Provider != "" || list[0].Provider != "shop" {
		t.Errorf("providers %q, %q, %q", list[0].Provider, list[1].Provider, list[2].Provider)
	}
}

// TestDecodePackedMalformed: a reply that is not a well-formed session list
// is an error, never a panic or a partial list.
func TestDecodePackedMalformed(t *testing.T) {
	// one session "a" with the single field "f" = "v"
	const good = "\x92\xa1a\x92\xa1f\xa1v"
	if _, err := (&sessionReader{}).start(good); err != nil {
		t.Fatalf("the well-formed reply: %v", err)
	}
	for _, reply := range []string{
		"",                                       // nothing
		"\xa0",                                   // a string, not a list
		"\x91\xa1a",                              // an ID without its hash
		"\x92\xa1a",                              // truncated before the hash
		"\x92\xa1a\x91\xa1f",                     // a field without its value
		"\x92\xa1a\x92\xa1f\xa2v",                // a value shorter than its length
		"\x92\xa1a\x92\xa1f\xa1v\x00",            // a byte after the list
		"\x94\xa1a\x92\xa1f\xa1v",                // a second session missing
		"\x92\xa1a\x92\xa1f\x01",                 // a number, not a string
		"\x92\x01\x92\xa1f\xa1v",                 // a number as the ID
		"\xdd\xff\xff\xff\xfe",                   // a count beyond the reply
		"\x92\xa1a\x92\xa1f\xdb\xff\xff\xff\xff", // a length beyond the reply
		"\x92\xa1a\xdc\x00",                      // a truncated count
		"\x92\xa1a\x92\xa1f\xda\x00",             // a truncated length
	} {
		list, err := decodePacked(reply)
		if err == nil {
			t.Errorf("%q: decoded %v, want an error", reply, list)
		}
	}
	if list, err := decodePacked("\x90"); err != nil || len(list) != 0 {
		t.Errorf("an empty list: got %v, %v", list, err)
	}
	// a well-formed reply whose hash is not a session's: decodeFields's
	// error, with the session's ID
	if _, err := decodePacked(good); err == nil || !strings.Contains(err.Error(), "session a") {
		t.Errorf("a hash without mac and type: got %v, want an error naming session a", err)
	}
}

// TestDecodePackedAllocations: decoding a device's sessions allocates the
// result only, nothing per session or field.
func TestDecodePackedAllocations(t *testing.T) {
	h := encode(session.Data{MAC: testMAC, Type: session.TypeTimeOrData, TimeSecs: 3600, DataBytes: 1e9, CreatedAt: t0, StartedAt: t0, Provider: "shop", DownMbits: 10, UpMbits: 2})
	one := "\xa7" + "test-id"
	n := 0
	var fields string
	for _, k := range fieldOrder {
		if v := h[k]; v != "" {
			fields += mpStr(k) + mpStr(v)
			n += 2
		}
	}
	one += string([]byte{0xdc, 0, byte(n)}) + fields // array 16: more than 15 items
	reply := "\x96" + one + one + one
	allocs := testing.AllocsPerRun(100, func() {
		list, err := decodePacked(reply)
		if err != nil || len(list) != 3 || list[2].Provider != "shop" {
			t.Fatalf("decodePacked: %v, %v", list, err)
		}
	})
	if allocs != 1 {
		t.Errorf("%v allocations for 3 sessions, want 1 (the result)", allocs)
	}
}

// mpStr is s as a MessagePack fixstr (s shorter than 32 bytes).
func mpStr(s string) string { return string([]byte{byte(0xa0 + len(s))}) + s }
