package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

const testPrefix = "t:"

type result struct {
	code           int
	stdout, stderr string
}

// hsctl runs the CLI in-process, as main would, with env as its
// environment.
func hsctl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// ok fails the test unless r is a success with nothing on stderr.
func ok(t *testing.T, r result, args ...string) result {
	t.Helper()
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("hsctl %s: exit %d, stderr %q, stdout %q; want exit 0", strings.Join(args, " "), r.code, r.stderr, r.stdout)
	}
	return r
}

// fails checks an error result: its exit code, one line on stderr starting
// "hsctl: " and containing want, nothing on stdout.
func fails(t *testing.T, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code: got %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "hsctl: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr: got %q, want one line starting \"hsctl: \"", r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr: got %q, want it to contain %q", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("stdout: got %q, want nothing", r.stdout)
	}
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode JSON: %v\n%s", err, r.stdout)
	}
	return v
}

// jsonSession mirrors the documented JSON keys independently of
// sessionView, so that renaming a key breaks this test.
type jsonSession struct {
	ID                string  `json:"id"`
	MAC               string  `json:"mac"`
	Type              string  `json:"type"`
	Provider          string  `json:"provider"`
	TimeSecs          uint64  `json:"time_secs"`
	TimeConsSecs      uint64  `json:"time_cons_secs"`
	RemainingTimeSecs uint64  `json:"remaining_time_secs"`
	DataMB            float64 `json:"data_mb"`
	DataBytes         uint64  `json:"data_bytes"`
	DataConsMB        float64 `json:"data_cons_mb"`
	DataConsBytes     uint64  `json:"data_cons_bytes"`
	RemainingDataMB   float64 `json:"remaining_data_mb"`
	RemainingDataB    uint64  `json:"remaining_data_bytes"`
	StartedAt         *string `json:"started_at"`
	CreatedAt         string  `json:"created_at"`
	ExpDays           *uint   `json:"exp_days"`
	ExpiresAt         *string `json:"expires_at"`
	DownMbits         uint    `json:"down_mbits"`
	UpMbits           uint    `json:"up_mbits"`
	UseGlobalSpeed    bool    `json:"use_global_speed"`
	Available         bool    `json:"available"`
	Status            string  `json:"status"`
	Current           *bool   `json:"current"`
}

// TestRealRedis drives every command end to end against a redis-server the
// test starts (skipped when the binary is missing, failed under CI=true).
func TestRealRedis(t *testing.T) {
	srv := redistest.Start(t)
	testEndToEnd(t, srv.Addr)
}

// TestMiniredis runs the same suite on miniredis: quick, and no binary needed.
func TestMiniredis(t *testing.T) {
	testEndToEnd(t, miniredis.RunT(t).Addr())
}

func testEndToEnd(t *testing.T, addr string) {
	env := map[string]string{envAddrs: addr, envPrefix: testPrefix}
	h := func(args ...string) result {
		t.Helper()
		return ok(t, hsctl(t, env, args...), args...)
	}
	hJSON := func(args ...string) jsonSession {
		t.Helper()
		return decode[jsonSession](t, h(append([]string{"--json"}, args...)...))
	}
	show := func(id string) jsonSession {
		t.Helper()
		return hJSON("show", id)
	}
	ctx := context.Background()
	before := time.Now().Add(-time.Second)

	t.Run("create time", func(t *testing.T) {
		// --redis given as a flag here; the environment elsewhere.
		r := ok(t, hsctl(t, map[string]string{envPrefix: testPrefix}, "--redis", addr,
			"create", "--mac", "AA-BB-CC-DD-EE-FF", "--type", "time", "--time", "1h30m", "--down", "10", "--up", "2", "--provider", "shop"))
		for _, want := range []string{"aabbccddeeff-1", "aa:bb:cc:dd:ee:ff", "5400 s (1h30m)", "10 Mbit/s down, 2 Mbit/s up", "available"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("create output lacks %q:\n%s", want, r.stdout)
			}
		}
		s := show("aabbccddeeff-1")
		if s.Type != "time" || s.TimeSecs != 5400 || s.RemainingTimeSecs != 5400 || s.Provider != "shop" || s.DownMbits != 10 || s.UpMbits != 2 || s.UseGlobalSpeed {
			t.Errorf("time session: got %+v", s)
		}
		if s.StartedAt != nil || s.ExpDays != nil || s.ExpiresAt != nil {
			t.Errorf("started_at, exp_days, expires_at: got %v %v %v, want null", s.StartedAt, s.ExpDays, s.ExpiresAt)
		}
		created, err := time.Parse(time.RFC3339, s.CreatedAt)
		if err != nil || !strings.HasSuffix(s.CreatedAt, "Z") || created.Before(before) || created.After(time.Now().Add(time.Second)) {
			t.Errorf("created_at: got %q (%v), want RFC 3339 UTC around now", s.CreatedAt, err)
		}
	})

	t.Run("create data", func(t *testing.T) {
		s := hJSON("create", "--mac", "aa:bb:cc:dd:ee:ff", "--type", "data", "--data-mb", "500", "--global-speed", "--exp-days", "30")
		if s.ID != "aabbccddeeff-2" || s.Type != "data" || s.DataMB != 500 || s.DataBytes != 500_000_000 || s.RemainingDataMB != 500 || !s.UseGlobalSpeed {
			t.Errorf("data session: got %+v", s)
		}
		if s.ExpDays == nil || *s.ExpDays != 30 || s.ExpiresAt != nil || s.StartedAt != nil {
			t.Errorf("expiry: got exp_days %v, expires_at %v, started_at %v; want 30, null (not started), null", s.ExpDays, s.ExpiresAt, s.StartedAt)
		}
		if s.Current != nil {
			t.Errorf("current: got %v, want the key only in list", *s.Current)
		}
	})

	t.Run("create time_or_data", func(t *testing.T) {
		// Global flags are accepted after the command too.
		s := decode[jsonSession](t, h("create", "--mac", "aabb.ccdd.eeff", "--type", "time_or_data", "--time", "2d", "--data-mb", "0.5", "--down", "5", "--up", "1", "--json"))
		if s.ID != "aabbccddeeff-3" || s.Type != "time_or_data" || s.TimeSecs != 2*86400 || s.DataMB != 0.5 || s.DataBytes != 500_000 {
			t.Errorf("time_or_data session: got %+v", s)
		}
	})

	t.Run("list", func(t *testing.T) {
		list := decode[[]jsonSession](t, h("--json", "list", "aabbccddeeff"))
		if len(list) != 3 {
			t.Fatalf("list: got %d sessions, want 3", len(list))
		}
		for i, want := range []bool{true, false, false} {
			if list[i].ID != fmt.Sprintf("aabbccddeeff-%d", i+1) || list[i].Current == nil || *list[i].Current != want {
				t.Errorf("list[%d]: id %s current %v, want aabbccddeeff-%d current %v", i, list[i].ID, list[i].Current, i+1, want)
			}
		}
		if list[1].DataMB != 500 || list[2].TimeSecs != 172800 {
			t.Errorf("list values: got %+v", list)
		}
		table := h("list", "aa:bb:cc:dd:ee:ff").stdout
		for _, want := range []string{"ID", "TYPE", "REMAINING", "SPEED", "*  aabbccddeeff-1", "0s/1h30m", "0/500", "global", "30d after start", "5/1", "2d / 0.5 MB", "* current session"} {
			if !strings.Contains(table, want) {
				t.Errorf("list table lacks %q:\n%s", want, table)
			}
		}
	})

	t.Run("current and show", func(t *testing.T) {
		if r := h("current", "aa:bb:cc:dd:ee:ff"); !strings.Contains(r.stdout, "aabbccddeeff-1") {
			t.Errorf("current: got\n%s", r.stdout)
		}
		if s := hJSON("current", "AABBCCDDEEFF"); s.ID != "aabbccddeeff-1" || s.Current == nil || !*s.Current {
			t.Errorf("current --json: got %+v", s)
		}
		r := h("show", "aabbccddeeff-2")
		for _, want := range []string{"aabbccddeeff-2", "500 MB", "30 days after first use", "global"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("show lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("concurrent top-ups all count", func(t *testing.T) {
		var wg sync.WaitGroup
		results := make([]result, 4)
		for i, d := range []string{"1h", "3600", "60m", "0d1h"} {
			wg.Go(func() { results[i] = hsctl(t, env, "update", "aabbccddeeff-1", "--add-time", d) })
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 {
				t.Errorf("update %d: exit %d: %s", i, r.code, r.stderr)
			}
		}
		if s := show("aabbccddeeff-1"); s.TimeSecs != 5400+4*3600 {
			t.Errorf("time_secs after 4 concurrent 1h top-ups: got %d, want %d", s.TimeSecs, 5400+4*3600)
		}
		s := hJSON("update", "aabbccddeeff-2", "--add-data-mb", "100.5")
		if s.DataMB != 600.5 || s.DataBytes != 600_500_000 {
			t.Errorf("data after top-up: got %v MB, %d bytes; want 600.5 MB", s.DataMB, s.DataBytes)
		}
	})

	t.Run("consumption moves the current session", func(t *testing.T) {
		s := hJSON("update", "aabbccddeeff-1", "--time-used", "5h30m")
		if s.TimeConsSecs != 19800 || s.RemainingTimeSecs != 0 || s.Available || s.Status != "time_used_up" {
			t.Errorf("exhausted session: got %+v", s)
		}
		list := decode[[]jsonSession](t, h("--json", "list", "aa:bb:cc:dd:ee:ff"))
		for i, want := range []bool{false, true, false} {
			if *list[i].Current != want {
				t.Errorf("list[%d].current: got %v, want %v", i, *list[i].Current, want)
			}
		}
		if s := hJSON("update", "aabbccddeeff-3", "--data-used-mb", "0.25"); s.DataConsBytes != 250_000 || s.DataConsMB != 0.25 || s.RemainingDataMB != 0.25 {
			t.Errorf("data used: got %+v", s)
		}
	})

	t.Run("speeds", func(t *testing.T) {
		s := hJSON("update", "aabbccddeeff-2", "--down", "20", "--up", "4")
		if s.UseGlobalSpeed || s.DownMbits != 20 || s.UpMbits != 4 {
			t.Errorf("own speed: got global %v, %d/%d; want false, 20/4", s.UseGlobalSpeed, s.DownMbits, s.UpMbits)
		}
		if s := hJSON("update", "aabbccddeeff-2", "--global-speed=true"); !s.UseGlobalSpeed {
			t.Errorf("--global-speed=true: got use_global_speed false")
		}
		if s := hJSON("update", "aabbccddeeff-2", "--global-speed=false"); s.UseGlobalSpeed || s.DownMbits != 20 {
			t.Errorf("--global-speed=false: got %+v", s)
		}
		fails(t, hsctl(t, env, "update", "aabbccddeeff-3", "--down", "0"), exitUsage, "--down: must be positive unless the session uses the global speed")
	})

	t.Run("expiry", func(t *testing.T) {
		if s := hJSON("update", "aabbccddeeff-2", "--exp-days", "none"); s.ExpDays != nil || s.ExpiresAt != nil {
			t.Errorf("--exp-days none: got exp_days %v expires_at %v, want null", s.ExpDays, s.ExpiresAt)
		}
		if s := hJSON("update", "aabbccddeeff-2", "--exp-days", "7"); s.ExpDays == nil || *s.ExpDays != 7 {
			t.Errorf("--exp-days 7: got %v", s.ExpDays)
		}
		// First use 8 days ago, as an accounting Start would record it.
		started := time.Now().Add(-8 * 24 * time.Hour).Truncate(time.Second)
		mgr := session.NewSessionsMgr(testStore(t, addr), time.Now)
		cs, err := mgr.GetSession(ctx, "aabbccddeeff-2")
		if err != nil {
			t.Fatal(err)
		}
		cs.SetStartedAt(started)
		if err := cs.Save(ctx); err != nil {
			t.Fatal(err)
		}
		s := show("aabbccddeeff-2")
		wantStart, wantExp := started.UTC().Format(time.RFC3339), started.Add(7*24*time.Hour).UTC().Format(time.RFC3339)
		if s.StartedAt == nil || *s.StartedAt != wantStart || s.ExpiresAt == nil || *s.ExpiresAt != wantExp || s.Available || s.Status != "expired" {
			t.Errorf("expired session: got started %v expires %v status %s; want %s, %s, expired", s.StartedAt, s.ExpiresAt, s.Status, wantStart, wantExp)
		}
		if s := hJSON("current", "aa:bb:cc:dd:ee:ff"); s.ID != "aabbccddeeff-3" {
			t.Errorf("current after -1 used up and -2 expired: got %s, want aabbccddeeff-3", s.ID)
		}
		s = hJSON("update", "aabbccddeeff-2", "--reset-start")
		if s.StartedAt != nil || s.ExpiresAt != nil || !s.Available {
			t.Errorf("--reset-start: got started %v expires %v available %v", s.StartedAt, s.ExpiresAt, s.Available)
		}
	})

	t.Run("redis hash is readable", func(t *testing.T) {
		rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{addr}})
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		got, err := rdb.HGetAll(ctx, testPrefix+"{aabbccddeeff}:s:1").Result()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"mac": "aa:bb:cc:dd:ee:ff", "type": "time", "provider": "shop", "time_secs": "19800", "time_cons": "19800", "down_mbits": "10", "up_mbits": "2", "use_global_speed": "0"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("HGETALL %s: got %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
		if _, ok := got["exp_days"]; ok {
			t.Errorf("HGETALL: exp_days present without expiry: %v", got)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if r := h("delete", "aabbccddeeff-3"); !strings.Contains(r.stdout, "deleted session aabbccddeeff-3") {
			t.Errorf("delete: got %q", r.stdout)
		}
		fails(t, hsctl(t, env, "show", "aabbccddeeff-3"), exitNotFound, "session aabbccddeeff-3 not found")
		fails(t, hsctl(t, env, "delete", "aabbccddeeff-3"), exitNotFound, "not found")
		if list := decode[[]jsonSession](t, h("--json", "list", "aa:bb:cc:dd:ee:ff")); len(list) != 2 {
			t.Errorf("list after delete: got %d sessions, want 2", len(list))
		}
	})

	t.Run("no available session", func(t *testing.T) {
		h("create", "--mac", "02:00:00:00:00:01", "--type", "time", "--time", "60", "--global-speed")
		h("update", "020000000001-1", "--time-used", "1m")
		fails(t, hsctl(t, env, "current", "02:00:00:00:00:01"), exitNotFound, "no available session: session time used up")
		if r := h("list", "02:00:00:00:00:01"); !strings.Contains(r.stdout, "no available session: session time used up") {
			t.Errorf("list of a used-up device: got\n%s", r.stdout)
		}
		fails(t, hsctl(t, env, "current", "02:00:00:00:00:02"), exitNotFound, "no available session: device has no session")
		if r := h("list", "02:00:00:00:00:02"); !strings.Contains(r.stdout, "has no sessions") {
			t.Errorf("list of an unknown device: got %q", r.stdout)
		}
		if r := h("--json", "list", "02:00:00:00:00:02"); strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("list --json of an unknown device: got %q, want []", r.stdout)
		}
	})

	t.Run("errors", func(t *testing.T) {
		testErrors(t, env)
	})
}

func testErrors(t *testing.T, env map[string]string) {
	speeds := []string{"--down", "10", "--up", "2"}
	create := func(args ...string) []string {
		return append([]string{"create", "--mac", "aa:bb:cc:dd:ee:ff"}, args...)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad MAC", []string{"create", "--mac", "aa:bb:cc:dd:ee", "--type", "time", "--time", "1h", "--global-speed"}, exitUsage, `--mac: "aa:bb:cc:dd:ee" is not a MAC address`},
		{"bad MAC in list", []string{"list", "aa:bb:cc:dd:ee:zz"}, exitUsage, "list: bad MAC address"},
		{"missing MAC", []string{"create", "--type", "time", "--time", "1h", "--global-speed"}, exitUsage, "--mac is required"},
		{"type missing", create("--time", "1h", "--global-speed"), exitUsage, "--type is required"},
		{"type bogus", create("--type", "bogus", "--time", "1h", "--global-speed"), exitUsage, `--type "bogus": want time, data or time_or_data`},
		{"time session without --time", create(append([]string{"--type", "time"}, speeds...)...), exitUsage, "--time is required for a time session"},
		{"data session without --data-mb", create(append([]string{"--type", "data"}, speeds...)...), exitUsage, "--data-mb is required for a data session"},
		{"time_or_data needs both", create(append([]string{"--type", "time_or_data", "--time", "1h"}, speeds...)...), exitUsage, "--data-mb is required for a time_or_data session"},
		{"time zero", create(append([]string{"--type", "time", "--time", "0"}, speeds...)...), exitUsage, "--time: must be positive for a time session"},
		{"data negative", create(append([]string{"--type", "data", "--data-mb", "-5"}, speeds...)...), exitUsage, `--data-mb "-5": must not be negative`},
		{"time negative", create(append([]string{"--type", "time", "--time", "-1h"}, speeds...)...), exitUsage, `--time "-1h": must not be negative`},
		{"time garbage", create(append([]string{"--type", "time", "--time", "soon"}, speeds...)...), exitUsage, `--time "soon": want seconds (3600), a duration (1h30m) or days (2d)`},
		{"time fraction of a second", create(append([]string{"--type", "time", "--time", "1.5s"}, speeds...)...), exitUsage, `--time "1.5s": want whole seconds`},
		{"time flag on a data session", create(append([]string{"--type", "data", "--data-mb", "5", "--time", "1h"}, speeds...)...), exitUsage, "--time: a data session has no time allocation"},
		{"down 0 without global speed", create("--type", "time", "--time", "1h", "--down", "0", "--up", "2"), exitUsage, "--down: must be positive unless the session uses the global speed"},
		{"no speeds", create("--type", "time", "--time", "1h"), exitUsage, "--down is required unless the session uses the global speed"},
		{"speeds and global speed", create("--type", "time", "--time", "1h", "--down", "1", "--up", "1", "--global-speed"), exitUsage, "exclude each other"},
		{"down negative", create("--type", "time", "--time", "1h", "--down", "-1", "--up", "1"), exitUsage, `--down "-1": must not be negative`},
		{"exp-days zero", create("--type", "time", "--time", "1h", "--global-speed", "--exp-days", "0"), exitUsage, `--exp-days "0": want a whole number of days`},
		{"several problems at once", []string{"create", "--type", "time"}, exitUsage, "--mac is required (e.g. --mac aa:bb:cc:dd:ee:ff); --time is required"},
		{"unknown session ID", []string{"show", "aabbccddeeff-99"}, exitNotFound, "show: session aabbccddeeff-99 not found (hsctl list aa:bb:cc:dd:ee:ff"},
		{"update unknown session ID", []string{"update", "aabbccddeeff-99", "--add-time", "1h"}, exitNotFound, "update: session aabbccddeeff-99 not found"},
		{"malformed ID", []string{"show", "aabbccddeeff"}, exitUsage, "show: malformed session ID"},
		{"malformed ID in delete", []string{"delete", "AABBCCDDEEFF-1"}, exitUsage, "delete: malformed session ID"},
		{"update nothing", []string{"update", "aabbccddeeff-1"}, exitUsage, "nothing to change"},
		{"update zero top-up", []string{"update", "aabbccddeeff-1", "--add-time", "0"}, exitUsage, "--add-time: must be positive"},
		{"update data on a time session", []string{"update", "aabbccddeeff-1", "--add-data-mb", "5"}, exitUsage, "update: --add-data-mb: a time session is not limited by data"},
		{"update bad bool", []string{"update", "aabbccddeeff-1", "--global-speed=maybe"}, exitUsage, `--global-speed "maybe": want true or false`},
		{"update exp-days garbage", []string{"update", "aabbccddeeff-1", "--exp-days", "soon"}, exitUsage, "--exp-days"},
		{"show without ID", []string{"show"}, exitUsage, "show: want exactly one argument, the session ID"},
		{"list two MACs", []string{"list", "aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:01"}, exitUsage, "want exactly one argument"},
		{"unknown subcommand", []string{"frob"}, exitUsage, `unknown command "frob"`},
		{"no subcommand", nil, exitUsage, "missing command"},
		{"help for unknown command", []string{"help", "frob"}, exitUsage, `unknown command "frob"`},
		{"unknown flag", []string{"create", "--colour", "red"}, exitUsage, "create: unknown flag --colour"},
		{"password is no flag", []string{"--redis-password", "x", "list", "aa:bb:cc:dd:ee:ff"}, exitUsage, "read only from the environment: HSRADIUS_REDIS_PASSWORD"},
		{"flag needs a value", []string{"create", "--mac"}, exitUsage, "create: --mac needs a value"},
		{"bad redis address", []string{"--redis", "localhost", "list", "aa:bb:cc:dd:ee:ff"}, exitUsage, `addrs[0]: "localhost": want host:port`},
		{"bad prefix", []string{"--prefix", "a{b}", "list", "aa:bb:cc:dd:ee:ff"}, exitUsage, "--prefix: prefix"},
		{"bad timeout", []string{"--timeout", "0s", "list", "aa:bb:cc:dd:ee:ff"}, exitUsage, "--timeout 0s: must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fails(t, hsctl(t, env, tc.args...), tc.code, tc.want)
		})
	}
	t.Run("bad TLS env", func(t *testing.T) {
		e := map[string]string{envTLS: "maybe"}
		for k, v := range env {
			e[k] = v
		}
		fails(t, hsctl(t, e, "list", "aa:bb:cc:dd:ee:ff"), exitUsage, `HSRADIUS_REDIS_TLS="maybe": want true or false`)
	})
}

func testStore(t *testing.T, addr string) *redisstore.Store {
	t.Helper()
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.Options{Prefix: testPrefix})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func TestUnreachableRedis(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	r := hsctl(t, nil, "--redis", addr, "--timeout", "1s", "list", "aa:bb:cc:dd:ee:ff")
	fails(t, r, exitFailure, "cannot reach Redis at "+addr+": ")
	fails(t, r, exitFailure, "(start redis-server or the demo server, or set --redis / HSRADIUS_REDIS_ADDRS)")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with --timeout 1s", d)
	}
}

func TestRedisPassword(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "s3cret")
	env := map[string]string{envAddrs: srv.Addr}
	fails(t, hsctl(t, env, "list", "aa:bb:cc:dd:ee:ff"), exitFailure, "HSRADIUS_REDIS_PASSWORD")
	env[envPassword] = "s3cret"
	ok(t, hsctl(t, env, "list", "aa:bb:cc:dd:ee:ff"))
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"Commands:", "create", "update", "--redis host:port", "HSRADIUS_REDIS_PASSWORD", "Exit codes"}},
		{[]string{"-h"}, []string{"Commands:"}},
		{[]string{"help", "create"}, []string{"--mac MAC", "--global-speed", "Examples:", "hsctl create --mac"}},
		{[]string{"update", "-h"}, []string{"--add-time duration", "--exp-days days", "--reset-start", "Examples:"}},
		{[]string{"list", "--help"}, []string{"hsctl list", "Examples:"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := ok(t, hsctl(t, nil, tc.args...), tc.args...)
			for _, want := range tc.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("help lacks %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

func TestMain(m *testing.M) {
	// As in main: go-redis would log dial failures of the unreachable-Redis
	// tests on its own.
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}
