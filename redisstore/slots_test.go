package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/session"
)

// crc16 is CRC16-XMODEM (polynomial 0x1021, initial value 0), the checksum
// Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// keySlot is Redis Cluster's slot of key: when the key has a '{' followed
// later by a '}' with at least one byte between them, only those bytes (from
// the first '{' to the first '}' after it) are hashed.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) % 16384)
}

func TestKeySlot(t *testing.T) {
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3 (the Redis Cluster spec's check value)", got)
	}
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"foo", 12182}, // CLUSTER KEYSLOT examples of the Redis docs
		{"somekey", 11058},
		{"{user1000}.following", keySlot("user1000")},
		{"foo{}{bar}", int(crc16("foo{}{bar}") % 16384)}, // empty tag: the whole key
		{"foo{{bar}}zap", keySlot("{bar")},
		{"foo{bar}{zap}", keySlot("bar")},
		{"{bar", int(crc16("{bar") % 16384)},
	} {
		if got := keySlot(tc.key); got != tc.want {
			t.Errorf("keySlot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}

// slotTestMACs are random MACs (fixed seed) and a few edge cases.
func slotTestMACs(n int) []session.MAC {
	r := rand.New(rand.NewPCG(7, 11))
	out := []session.MAC{"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", testMAC}
	for len(out) < n {
		out = append(out, session.MAC(fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x",
			r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256))))
	}
	return out
}

// Acct-Session-Ids come from the NAS: braces in them must not move a key.
var slotTestAcctIDs = []string{"1", "80000001", "radclient-0001", "{evil}", "}{", "a}b{c}", "x:y|z", ""}

// TestKeyBuildersOneSlot: every key of a device that the key builders make,
// and the keys the scripts derive from the bases they are given, hash to the
// slot of the device's MAC, whatever the prefix, NAS or Acct-Session-Id.
func TestKeyBuildersOneSlot(t *testing.T) {
	macs := slotTestMACs(300)
	slots := map[int]bool{}
	for _, prefix := range []string{DefaultPrefix, "prod:hotspot:", "x"} {
		k := keys{prefix: prefix}
		for _, mac := range macs {
			want := keySlot(mac.Hex())
			slots[want] = true
			device := map[string]string{
				"tag":        k.tag(mac),
				"index":      k.index(mac),
				"seq":        k.seq(mac),
				"deviceOpen": k.deviceOpen(mac),
				"writer":     k.writer(mac, "ZX2WRITER7"),
			}
			for _, n := range []string{"1", "2", "17", "4294967296"} {
				device["session "+n] = k.session(mac, n)
				device["sessionBase+"+n] = k.sessionBase(mac) + n // create/sessions/account/record.lua
			}
			for _, nas := range []string{"nas-a", "MikroTik_1.lan", "n"} {
				for _, id := range slotTestAcctIDs {
					device["record "+nas+"/"+id] = k.record(mac, nas, id)
					device["records.lua "+nas+"/"+id] = k.tag(mac) + ":acct:" + nas + ":" + id
				}
			}
			for name, key := range device {
				if !strings.HasPrefix(key, prefix) {
					t.Errorf("%s key %q lacks the prefix %q", name, key, prefix)
				}
				if got := keySlot(key); got != want {
					t.Fatalf("prefix %q, mac %s: %s key %q is in slot %d, the device's tag in %d", prefix, mac, name, key, got, want)
				}
			}
		}
		if got, want := keySlot(k.schedule()), keySlot("sched"); got != want {
			t.Errorf("schedule key %q in slot %d, want %d", k.schedule(), got, want)
		}
		for _, nas := range []string{"nas-a", "MikroTik_1.lan"} {
			if got, want := keySlot(k.nasOpen(nas)), keySlot(nas); got != want {
				t.Errorf("nas open key %q in slot %d, want %d ({%s})", k.nasOpen(nas), got, want, nas)
			}
		}
	}
	// Devices spread over the slots (and so over the masters).
	if len(slots) < 250 {
		t.Errorf("%d MACs fall in only %d slots", len(macs), len(slots))
	}
}

// cmdRecorder is a go-redis hook that keeps the arguments of every command
// sent, alone or in a pipeline.
type cmdRecorder struct {
	mu   sync.Mutex
	cmds [][]any
}

func (r *cmdRecorder) add(cmds ...redis.Cmder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cmds {
		r.cmds = append(r.cmds, slices.Clone(c.Args()))
	}
}

func (r *cmdRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *cmdRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.add(cmd)
		return next(ctx, cmd)
	}
}

func (r *cmdRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.add(cmds...)
		return next(ctx, cmds)
	}
}

func (r *cmdRecorder) take() [][]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.cmds
	r.cmds = nil
	return out
}

// singleKeyCommands are the commands other than scripts the Store may send:
// each names one key (args[1]), so it cannot span slots.
var singleKeyCommands = map[string]bool{
	"hgetall": true, "zadd": true, "zrem": true, "zrangebyscore": true,
}

// scriptDerivations says which ARGV of a script is a key base the Lua
// completes into the keys it touches, and how. Every *redis.Script field of
// Store must be listed (nil: the script touches only its KEYS).
var scriptDerivations = map[string]func(argv []string) []string{
	"sessions": func(a []string) []string { return []string{a[0] + "1", a[0] + "42"} },
	"create":   func(a []string) []string { return []string{a[0] + "1", a[0] + "42"} },
	"account":  func(a []string) []string { return []string{a[0] + "1", a[0] + "42"} },
	"record":   func(a []string) []string { return []string{a[0] + "1", a[0] + "42"} },
	"records":  func(a []string) []string { return []string{a[0] + "nas-a:1", a[0] + "nas-b:{x}"} },
	"save":     nil,
	"del":      nil,
	"close":    nil,
	"claim":    nil,
}

// storeScripts returns the Store's scripts by field name, found by
// reflection so that a new script cannot escape TestScriptKeysOneSlot.
func storeScripts(t *testing.T, s *Store) map[string]*redis.Script {
	t.Helper()
	byName := map[string]*redis.Script{
		"sessions": s.sessions, "create": s.create, "save": s.save, "del": s.del, "account": s.account,
		"close": s.close, "records": s.records, "record": s.record, "claim": s.claim,
	}
	st := reflect.TypeFor[Store]()
	var fields []string
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Type == reflect.TypeFor[*redis.Script]() {
			fields = append(fields, f.Name)
			if _, ok := byName[f.Name]; !ok {
				t.Fatalf("Store.%s is a script this test does not know: add it to storeScripts and scriptDerivations", f.Name)
			}
			if _, ok := scriptDerivations[f.Name]; !ok {
				t.Fatalf("Store.%s: add its key derivations to scriptDerivations", f.Name)
			}
		}
	}
	if len(fields) != len(byName) {
		t.Fatalf("Store has scripts %v, the test knows %d", fields, len(byName))
	}
	return byName
}

// TestScriptKeysOneSlot runs every Store operation for many devices and NAS
// and checks, for each script call actually sent (EVAL or EVALSHA, alone or
// pipelined), that its KEYS and the keys its Lua derives from ARGV share one
// slot, and that every other command names a single key. Then it checks
// that every key the operations left in Redis, apart from the NAS open
// indexes and the schedule, lies in its device's slot.
func TestScriptKeysOneSlot(t *testing.T) {
	ctx := t.Context()
	seen := map[string]int{}
	for i, mac := range slotTestMACs(24) {
		mr := miniredis.RunT(t)
		rec := &cmdRecorder{}
		rdb, err := NewClient(ClientConfig{Addrs: []string{mr.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		rdb.AddHook(rec)
		s, err := New(rdb, Options{})
		if err != nil {
			t.Fatal(err)
		}
		byHash := map[string]string{}
		for name, sc := range storeScripts(t, s) {
			byHash[sc.Hash()] = name
		}
		nasA, nasB := "nas-a", fmt.Sprintf("ap-%d.site", i)
		acctIDs := []string{slotTestAcctIDs[i%len(slotTestAcctIDs)] + "x", "{" + strconv.Itoa(i) + "}"}
		storeWorkload(t, s, mac, nasA, nasB, acctIDs)
		if i == 0 {
			// NOSCRIPT recovery goes through EVAL: check that path too.
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			storeWorkload(t, s, mac, nasA, nasB, []string{"after-flush"})
		}
		for _, args := range rec.take() {
			name, keysAndDerived := scriptCall(t, byHash, args)
			if name == "" {
				continue
			}
			seen[name]++
			want := keySlot(keysAndDerived[0])
			for _, k := range keysAndDerived[1:] {
				if got := keySlot(k); got != want {
					t.Errorf("script %s: key %q in slot %d, %q in slot %d (KEYS and derived keys %q)", name, keysAndDerived[0], want, k, got, keysAndDerived)
				}
			}
			if name != "claim" && want != keySlot(mac.Hex()) {
				t.Errorf("script %s for %s: keys in slot %d, not the device's %d (%q)", name, mac, want, keySlot(mac.Hex()), keysAndDerived)
			}
		}
		// What the scripts wrote, KEYS or derived, is all the device's.
		own := map[string]bool{s.keys.schedule(): true, s.keys.nasOpen(nasA): true, s.keys.nasOpen(nasB): true}
		for _, k := range mr.Keys() {
			if !own[k] && keySlot(k) != keySlot(mac.Hex()) {
				t.Errorf("device %s left key %q in slot %d, not the device's %d", mac, k, keySlot(k), keySlot(mac.Hex()))
			}
		}
	}
	for name := range scriptDerivations {
		if seen[name] == 0 {
			t.Errorf("script %s never ran: extend storeWorkload", name)
		}
	}
}

// scriptCall returns the script name of an EVAL/EVALSHA and its KEYS plus
// derived keys; "" for other commands, which must name a single key.
func scriptCall(t *testing.T, byHash map[string]string, args []any) (string, []string) {
	t.Helper()
	str := func(v any) string { // as go-redis writes it
		switch p := v.(type) {
		case *string:
			return *p
		case *int64:
			return strconv.FormatInt(*p, 10)
		}
		return fmt.Sprint(v)
	}
	cmd := strings.ToLower(str(args[0]))
	switch cmd {
	case "eval", "evalsha":
	case "ping", "hello", "client", "script":
		return "", nil
	default:
		if !singleKeyCommands[cmd] {
			t.Errorf("the store sent %v: not a script nor a known single-key command (add it to singleKeyCommands only if it names one key)", args)
		}
		return "", nil
	}
	hash := str(args[1])
	if cmd == "eval" {
		sum := sha1.Sum([]byte(hash))
		hash = hex.EncodeToString(sum[:])
	}
	name, ok := byHash[hash]
	if !ok {
		t.Fatalf("%s of an unknown script: %.80v", cmd, args)
	}
	n, err := strconv.Atoi(str(args[2]))
	if err != nil || n < 1 || 3+n > len(args) {
		t.Fatalf("%s %s: numkeys %v", cmd, name, args[2])
	}
	var out, argv []string
	for _, k := range args[3 : 3+n] {
		out = append(out, str(k))
	}
	for _, a := range args[3+n:] {
		argv = append(argv, str(a))
	}
	if derive := scriptDerivations[name]; derive != nil {
		out = append(out, derive(argv)...)
	}
	return name, out
}

// storeWorkload calls every Store operation for one device on two NAS.
func storeWorkload(t *testing.T, s *Store, mac session.MAC, nasA, nasB string, acctIDs []string) {
	t.Helper()
	ctx := t.Context()
	mgr := mgrAt(s, t0)
	a, err := mgr.CreateSession(ctx, string(mac), timeSpec(100))
	if err != nil {
		t.Fatal(err)
	}
	b, err := mgr.CreateSession(ctx, string(mac), dataSpec(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, a.ID()); err != nil {
		t.Fatal(err)
	}
	a.IncTimeCons(1)
	if err := a.Save(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range acctIDs {
		for _, nas := range []string{nasA, nasB} {
			for _, ev := range []session.AcctEvent{
				pkt(session.AcctStart, mac, id, 0, 0, 0, t0),
				pkt(session.AcctInterim, mac, id, 200, 10, 10, t0.Add(200*time.Second)), // spills into b
			} {
				ev.NAS = nas
				if _, err := s.Account(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.ScheduleEnd(ctx, nas, mac, id, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.Record(ctx, nasA, mac, id); err != nil {
			t.Fatal(err)
		}
		stop := pkt(session.AcctStop, mac, id, 300, 20, 20, t0.Add(300*time.Second))
		stop.NAS = nasA
		if _, err := s.Account(ctx, stop); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.OpenRecords(ctx, mac); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeviceSessions(ctx, mac); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimDue(ctx, t0.Add(time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CloseNAS(ctx, nasB, t0.Add(time.Hour), "accounting-on"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, b.ID()); err != nil {
		t.Fatal(err)
	}
}
