package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/vendors/mikrotik"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/radiusd/adminapi"
	"github.com/hotspot-radius/hsradius/radiusd/dynauthtest"
	"github.com/hotspot-radius/hsradius/radiusd/metric/prom"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/sessiontest"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

const (
	adminSecret  = "admin-test-secret-0123456789"
	adminMAC     = "aa:bb:cc:dd:ee:01"
	adminMACHex  = "aabbccddee01"
	adminNASName = "lab"
	adminWait    = 10 * time.Second // a safety net: tests proceed on signals
)

// adminEnv is the admin handler over httptest, on miniredis (or a real
// redis-server), with a RADIUS server whose NAS is a dynauthtest.NAS.
type adminEnv struct {
	mr     *miniredis.Miniredis // nil on a real Redis
	store  *redisstore.Store
	mgr    *session.SessionsMgr
	reg    *prometheus.Registry
	srv    *radiusd.Server
	nas    *dynauthtest.NAS
	http   *httptest.Server
	token  string
	auth   string // the RADIUS auth listener
	logBuf *adminLogBuf
}

type adminOpts struct {
	token     string
	noServer  bool
	noEnforce bool
	pprof     bool
	redisAddr string            // "" : miniredis
	profiles  []radiusd.Profile // the NAS's; nil: wispr
	hosts     []string
	browser   adminapi.Browser
}

type adminLogBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *adminLogBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *adminLogBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newAdminEnv(t *testing.T, o adminOpts) *adminEnv {
	t.Helper()
	e := &adminEnv{token: o.token, logBuf: &adminLogBuf{}}
	addr := o.redisAddr
	if addr == "" {
		e.mr = miniredis.RunT(t)
		addr = e.mr.Addr()
	}
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{
		Addrs: []string{addr}, MaxRetries: -1,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	e.store, err = redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.mgr = session.NewSessionsMgr(e.store, time.Now)
	e.reg = prometheus.NewRegistry()
	e.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := radiusd.NewMetrics(prom.Registry(e.reg))
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(e.logBuf)

	if !o.noServer {
		e.nas = dynauthtest.Start(t, []byte(adminSecret))
		profiles := o.profiles
		if profiles == nil {
			profiles = []radiusd.Profile{radiusd.ProfileWISPr}
		}
		cfg := radiusd.Config{
			NAS: []radiusd.NAS{{
				Name: adminNASName, Prefix: netip.MustParsePrefix("127.0.0.1/32"), Secret: []byte(adminSecret),
				Profiles: profiles, MAPolicy: radiusd.MAOptional,
				CoAPort: e.nas.Port(), OnSpill: radiusd.SpillCoA,
			}},
			Store:   e.store,
			Log:     log,
			Metrics: metrics,
		}
		if !o.noEnforce {
			cfg.Enforce = &radiusd.EnforceConfig{Store: e.store, DynAuthTimeout: time.Second, DynAuthTries: 2, Workers: 2}
		}
		e.srv, err = radiusd.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		enforced := make(chan struct{})
		go func() { _ = e.srv.RunEnforcement(ctx); close(enforced) }()
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.auth = conn.LocalAddr().String()
		served := make(chan struct{})
		go func() { _ = e.srv.Serve(conn, radiusd.Auth); close(served) }()
		t.Cleanup(func() {
			cancel()
			<-enforced
			sctx, scancel := context.WithTimeout(context.Background(), adminWait)
			defer scancel()
			_ = e.srv.Shutdown(sctx)
			<-served
		})
	}

	cfg := adminapi.Config{
		Sessions:     e.mgr,
		Vouchers:     voucher.NewManager(e.store, time.Now),
		Ready:        e.store.Ping,
		Gatherer:     e.reg,
		Token:        o.token,
		Pprof:        o.pprof,
		Log:          log,
		AllowedHosts: o.hosts,
		Directory:    e.store,
		NAS:          []adminapi.NASEntry{{Name: adminNASName, Address: "127.0.0.1/32", Profiles: []string{"wispr"}}},
		Browser:      o.browser,
	}
	if e.srv != nil {
		cfg.DynAuth = e.srv
	}
	h, err := adminapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(h)
	t.Cleanup(e.http.Close)
	return e
}

type adminResp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r adminResp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends one request; a non-empty body is sent as application/json
// unless a Content-Type header is given in hdr (name, value pairs; "Host"
// sets the Host header).
func (e *adminEnv) do(t *testing.T, method, path, body string, hdr ...string) adminResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return adminResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// want checks the status and, for errors, the JSON error's field.
func (r adminResp) want(t *testing.T, status int) adminResp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// create makes a session through the API and returns its JSON.
func (e *adminEnv) create(t *testing.T, mac, body string) map[string]any {
	t.Helper()
	return e.do(t, "POST", "/v1/devices/"+mac+"/sessions", body).want(t, http.StatusCreated).json(t)
}

// openRecord starts a NAS session of the device on the lab NAS, as an
// Accounting-Start would, so that Disconnect/CoA have something to target.
func (e *adminEnv) openRecord(t *testing.T, mac, acctID string) {
	t.Helper()
	m, err := session.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	_, err = e.store.Account(t.Context(), session.AcctEvent{
		Kind: session.AcctStart, NAS: adminNASName, SessionID: acctID, MAC: m, EventTime: now, Now: now,
		NASAttrs: session.NASAttrs{
			UserName: mac, CallingStationID: strings.ToUpper(strings.ReplaceAll(mac, ":", "-")),
			FramedIP: "10.5.50.7", NASIP: "127.0.0.1", SourceIP: "127.0.0.1",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

const adminTimeSession = `{"type":"time","time_secs":3600,"down_mbits":10,"up_mbits":2,"provider":"voucher"}`

func TestAdminCreateGetDelete(t *testing.T) {
	e := newAdminEnv(t, adminOpts{})
	r := e.do(t, "POST", "/v1/devices/AA-BB-CC-DD-EE-01/sessions",
		`{"type":"time_or_data","time_secs":3600,"data_mb":500,"exp_days":30,"down_mbits":10,"up_mbits":2,"use_global_speed":false,"provider":"coin"}`).
		want(t, http.StatusCreated)
	s := r.json(t)
	id := adminMACHex + "-1"
	if loc := r.header.Get("Location"); loc != "/v1/sessions/"+id {
		t.Errorf("Location: got %q", loc)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q", ct)
	}
	for k, want := range map[string]any{
		"id": id, "mac": adminMAC, "type": "time_or_data", "provider": "coin", "time_secs": 3600.0,
		"data_mb": 500.0, "data_bytes": 5e8, "remaining_data_mb": 500.0, "remaining_time_secs": 3600.0,
		"exp_days": 30.0, "expires_at": nil, "started_at": nil, "down_mbits": 10.0, "up_mbits": 2.0,
		"use_global_speed": false, "available": true, "status": "available",
	} {
		if s[k] != want {
			t.Errorf("%s: got %v, want %v", k, s[k], want)
		}
	}

	got := e.do(t, "GET", "/v1/sessions/"+id, "").want(t, http.StatusOK).json(t)
	if got["id"] != id || got["time_secs"] != 3600.0 {
		t.Errorf("GET: %v", got)
	}
	// A session with the global speed and no expiry; numeric type.
	s2 := e.create(t, adminMAC, `{"type":1,"data_mb":100.5,"exp_days":null,"use_global_speed":true}`)
	if s2["type"] != "data" || s2["data_bytes"] != 100_500_000.0 || s2["exp_days"] != nil || s2["use_global_speed"] != true {
		t.Errorf("second session: %v", s2)
	}

	e.do(t, "DELETE", "/v1/sessions/"+id, "").want(t, http.StatusNoContent)
	r = e.do(t, "GET", "/v1/sessions/"+id, "").want(t, http.StatusNotFound)
	if m := r.json(t); m["error"] != "session "+id+" not found" {
		t.Errorf("404 body: %v", m)
	}
	e.do(t, "DELETE", "/v1/sessions/"+id, "").want(t, http.StatusNotFound)
}

func TestAdminListAndCurrent(t *testing.T) {
	e := newAdminEnv(t, adminOpts{})
	// No session at all: an empty list, and /current says 404.
	m := e.do(t, "GET", "/v1/devices/"+adminMAC+"/sessions", "").want(t, http.StatusOK).json(t)
	if list, _ := m["sessions"].([]any); list == nil || len(list) != 0 || m["current_id"] != nil || m["reason"] != "no_session" {
		t.Errorf("empty list: %v", m)
	}
	r := e.do(t, "GET", "/v1/devices/"+adminMAC+"/current", "").want(t, http.StatusNotFound).json(t)
	if r["error"] != "device has no session" {
		t.Errorf("no session: %v", r)
	}

	first := e.create(t, adminMAC, adminTimeSession)
	second := e.create(t, adminMAC, `{"type":"data","data_mb":200,"down_mbits":5,"up_mbits":1}`)
	m = e.do(t, "GET", "/v1/devices/aabb.ccdd.ee01/sessions", "").want(t, http.StatusOK).json(t)
	list := m["sessions"].([]any)
	if len(list) != 2 || m["current_id"] != first["id"] || m["mac"] != adminMAC {
		t.Fatalf("list: %v", m)
	}
	if s := list[0].(map[string]any); s["current"] != true || s["id"] != first["id"] || s["remaining_time_secs"] != 3600.0 || s["available"] != true {
		t.Errorf("first: %v", s)
	}
	if s := list[1].(map[string]any); s["current"] != false || s["id"] != second["id"] || s["remaining_data_mb"] != 200.0 {
		t.Errorf("second: %v", s)
	}
	cur := e.do(t, "GET", "/v1/devices/"+adminMAC+"/current", "").want(t, http.StatusOK).json(t)
	if cur["id"] != first["id"] || cur["current"] != true {
		t.Errorf("current: %v", cur)
	}

	// Use both up: 409 with the reason of the newest.
	for _, p := range []struct{ id, body string }{
		{first["id"].(string), `{"time_cons_secs":3600}`},
		{second["id"].(string), `{"data_cons_mb":200}`},
	} {
		e.do(t, "PATCH", "/v1/sessions/"+p.id, p.body).want(t, http.StatusOK)
	}
	r = e.do(t, "GET", "/v1/devices/"+adminMAC+"/current", "").want(t, http.StatusConflict).json(t)
	if r["error"] != "session data used up" || r["reason"] != "data_used_up" {
		t.Errorf("409 body: %v", r)
	}
	e.do(t, "DELETE", "/v1/sessions/"+second["id"].(string), "").want(t, http.StatusNoContent)
	r = e.do(t, "GET", "/v1/devices/"+adminMAC+"/current", "").want(t, http.StatusConflict).json(t)
	if r["error"] != "session time used up" || r["reason"] != "time_used_up" {
		t.Errorf("409 body: %v", r)
	}
	m = e.do(t, "GET", "/v1/devices/"+adminMAC+"/sessions", "").want(t, http.StatusOK).json(t)
	if m["current_id"] != nil || m["reason"] != "time_used_up" {
		t.Errorf("list without current: %v", m)
	}
}

// TestAdminRequestErrors checks every way a request can be refused, and
// that validation errors name the field.
func TestAdminRequestErrors(t *testing.T) {
	e := newAdminEnv(t, adminOpts{})
	sess := e.create(t, adminMAC, adminTimeSession)
	id := sess["id"].(string)
	sessions := "/v1/devices/" + adminMAC + "/sessions"
	big := `{"provider":"` + strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		field                    string // "" : no field expected
		errPart                  string
	}{
		{"bad MAC", "POST", "/v1/devices/aa:bb:cc/sessions", adminTimeSession, nil, 400, "mac", "hex digits"},
		{"bad MAC on list", "GET", "/v1/devices/not-a-mac/sessions", "", nil, 400, "mac", ""},
		{"bad MAC on current", "GET", "/v1/devices/zz:bb:cc:dd:ee:ff/current", "", nil, 400, "mac", ""},
		{"bad MAC on disconnect", "POST", "/v1/devices/x/disconnect", "", nil, 400, "mac", ""},
		{"bad JSON", "POST", sessions, `{"type":"time",`, nil, 400, "", "malformed JSON"},
		{"JSON syntax", "POST", sessions, `{"type" "time"}`, nil, 400, "", "malformed JSON at byte"},
		{"not an object", "POST", sessions, `[1,2]`, nil, 400, "", "JSON object"},
		{"trailing data", "POST", sessions, adminTimeSession + `{}`, nil, 400, "", ""},
		{"empty body", "POST", sessions, "", []string{"Content-Type", "application/json"}, 400, "", "empty body"},
		{"unknown field", "POST", sessions, `{"type":"time","time_secs":60,"down_mbits":1,"up_mbits":1,"speed":5}`, nil, 400, "speed", `unknown field "speed"`},
		{"missing type", "POST", sessions, `{"time_secs":60,"down_mbits":1,"up_mbits":1}`, nil, 400, "type", "required"},
		{"bad type", "POST", sessions, `{"type":"minutes","time_secs":60,"down_mbits":1,"up_mbits":1}`, nil, 400, "type", "not a session type"},
		{"missing allocation", "POST", sessions, `{"type":"time","down_mbits":1,"up_mbits":1}`, nil, 400, "time_secs", "must be positive"},
		{"missing speed", "POST", sessions, `{"type":"time","time_secs":60,"up_mbits":1}`, nil, 400, "down_mbits", "global speed"},
		{"negative time", "POST", sessions, `{"type":"time","time_secs":-60,"down_mbits":1,"up_mbits":1}`, nil, 400, "time_secs", "want a whole number"},
		{"string number", "POST", sessions, `{"type":"time","time_secs":"60","down_mbits":1,"up_mbits":1}`, nil, 400, "time_secs", ""},
		{"negative data", "POST", sessions, `{"type":"data","data_mb":-1,"down_mbits":1,"up_mbits":1}`, nil, 400, "data_mb", ""},
		{"zero exp_days", "POST", sessions, `{"type":"time","time_secs":60,"exp_days":0,"down_mbits":1,"up_mbits":1}`, nil, 400, "exp_days", ""},
		{"time on a data session", "POST", sessions, `{"type":"data","data_mb":5,"time_secs":60,"down_mbits":1,"up_mbits":1}`, nil, 400, "time_secs", "no time allocation"},
		{"global with speeds", "POST", sessions, `{"type":"time","time_secs":60,"use_global_speed":true,"down_mbits":1}`, nil, 400, "use_global_speed", ""},
		{"wrong content type", "POST", sessions, adminTimeSession, []string{"Content-Type", "text/plain"}, 415, "", "want application/json"},
		{"no content type", "POST", sessions, adminTimeSession, []string{"Content-Type", ""}, 415, "", ""},
		{"body too large", "POST", sessions, big, nil, 413, "", "larger than 65536"},
		{"malformed id", "GET", "/v1/sessions/nope", "", nil, 400, "id", "want <12 hex digits>-<number>"},
		{"malformed id on patch", "PATCH", "/v1/sessions/aabbccddee01-0", `{"add_time_secs":60}`, nil, 400, "id", ""},
		{"malformed id on delete", "DELETE", "/v1/sessions/AABBCCDDEE01-1", "", nil, 400, "id", ""},
		{"unknown id", "GET", "/v1/sessions/" + adminMACHex + "-99", "", nil, 404, "", "not found"},
		{"unknown id on patch", "PATCH", "/v1/sessions/" + adminMACHex + "-99", `{"add_time_secs":60}`, nil, 404, "", "not found"},
		{"negative top-up", "PATCH", "/v1/sessions/" + id, `{"add_time_secs":-60}`, nil, 400, "add_time_secs", "want a whole number"},
		{"zero top-up", "PATCH", "/v1/sessions/" + id, `{"add_time_secs":0}`, nil, 400, "add_time_secs", "must be positive"},
		{"negative data top-up", "PATCH", "/v1/sessions/" + id, `{"add_data_mb":-5}`, nil, 400, "add_data_mb", "must be positive"},
		{"data top-up on a time session", "PATCH", "/v1/sessions/" + id, `{"add_data_mb":5}`, nil, 400, "add_data_mb", "not limited by data"},
		{"top-up overflows", "PATCH", "/v1/sessions/" + id, `{"add_time_secs":18446744073709551615}`, nil, 400, "add_time_secs", "overflows"},
		{"zero allocation", "PATCH", "/v1/sessions/" + id, `{"time_secs":0}`, nil, 400, "time_secs", "must be positive"},
		{"zero exp_days on patch", "PATCH", "/v1/sessions/" + id, `{"exp_days":0}`, nil, 400, "exp_days", ""},
		{"bad exp_days type", "PATCH", "/v1/sessions/" + id, `{"exp_days":"soon"}`, nil, 400, "exp_days", ""},
		{"negative consumption", "PATCH", "/v1/sessions/" + id, `{"data_cons_mb":-1}`, nil, 400, "data_cons_mb", ""},
		{"unknown field on patch", "PATCH", "/v1/sessions/" + id, `{"add_time":60}`, nil, 400, "add_time", ""},
		{"nothing to change", "PATCH", "/v1/sessions/" + id, `{}`, nil, 400, "", "nothing to change"},
		{"unknown endpoint", "GET", "/v1/nope", "", nil, 404, "", "no such endpoint"},
		{"wrong method", "PUT", "/v1/sessions/" + id, "", nil, 405, "", "not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, tc.body, tc.hdr...).want(t, tc.status)
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", ct)
			}
			m := r.json(t)
			msg, _ := m["error"].(string)
			if msg == "" {
				t.Errorf("no error text: %s", r.body)
			}
			if f, _ := m["field"].(string); f != tc.field {
				t.Errorf("field: got %q, want %q (%s)", f, tc.field, r.body)
			}
			if !strings.Contains(msg, tc.errPart) {
				t.Errorf("error %q lacks %q", msg, tc.errPart)
			}
		})
	}
	// Nothing above changed the session.
	got := e.do(t, "GET", "/v1/sessions/"+id, "").want(t, http.StatusOK).json(t)
	if got["time_secs"] != 3600.0 || got["exp_days"] != nil {
		t.Errorf("after refused requests: %v", got)
	}
	if r := e.do(t, "PUT", "/v1/sessions/"+id, ""); !strings.Contains(r.header.Get("Allow"), "PATCH") {
		t.Errorf("405 Allow: %q", r.header.Get("Allow"))
	}
}

func TestAdminPatch(t *testing.T) {
	e := newAdminEnv(t, adminOpts{})
	id := e.create(t, adminMAC, adminTimeSession)["id"].(string)
	data := e.create(t, adminMAC, `{"type":"data","data_mb":100,"use_global_speed":true,"exp_days":7}`)["id"].(string)

	r := e.do(t, "PATCH", "/v1/sessions/"+id, `{"add_time_secs":1800,"time_cons_secs":600,"provider":"portal","exp_days":10}`).
		want(t, http.StatusOK).json(t)
	s := r["session"].(map[string]any)
	if s["time_secs"] != 5400.0 || s["time_cons_secs"] != 600.0 || s["remaining_time_secs"] != 4800.0 || s["provider"] != "portal" || s["exp_days"] != 10.0 {
		t.Errorf("patched: %v", s)
	}
	// No open NAS session: nothing to tell, no error.
	if d, ok := r["dynauth"].([]any); !ok || len(d) != 0 || r["dynauth_error"] != nil {
		t.Errorf("dynauth: %v", r)
	}
	// time_secs then the top-up: the top-up is added after the write.
	s = e.do(t, "PATCH", "/v1/sessions/"+id, `{"time_secs":100,"add_time_secs":50}`).want(t, http.StatusOK).json(t)["session"].(map[string]any)
	if s["time_secs"] != 150.0 {
		t.Errorf("set then top up: %v", s["time_secs"])
	}
	// exp_days null removes the expiry; a speed switches off the global speed.
	s = e.do(t, "PATCH", "/v1/sessions/"+data, `{"exp_days":null,"add_data_mb":0.5,"down_mbits":20,"up_mbits":4}`).want(t, http.StatusOK).json(t)["session"].(map[string]any)
	if s["exp_days"] != nil || s["data_bytes"] != 100_500_000.0 || s["use_global_speed"] != false || s["down_mbits"] != 20.0 {
		t.Errorf("data session: %v", s)
	}
	s = e.do(t, "PATCH", "/v1/sessions/"+data, `{"use_global_speed":true,"data_cons_mb":1.25,"reset_start":true}`).want(t, http.StatusOK).json(t)["session"].(map[string]any)
	if s["use_global_speed"] != true || s["data_cons_bytes"] != 1_250_000.0 {
		t.Errorf("data session: %v", s)
	}
	// Two top-ups at once both count (atomic increments).
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.do(t, "PATCH", "/v1/sessions/"+id, `{"add_time_secs":10}`).want(t, http.StatusOK)
		}()
	}
	wg.Wait()
	if got := e.do(t, "GET", "/v1/sessions/"+id, "").json(t)["time_secs"]; got != 230.0 {
		t.Errorf("after 8 concurrent top-ups of 10 s: time_secs %v, want 230", got)
	}
}

// TestAdminMikroTikDataChange: on a MikroTik, which does not change
// Mikrotik-Total-Limit by CoA, a PATCH that changes only speed or time sends
// a CoA, and one that changes the data allocation or consumption a
// Disconnect, so that the device re-authenticates with the new data limit.
func TestAdminMikroTikDataChange(t *testing.T) {
	e := newAdminEnv(t, adminOpts{profiles: []radiusd.Profile{radiusd.ProfileMikroTik}})
	id := e.create(t, adminMAC, `{"type":"time_or_data","time_secs":3600,"data_mb":500,"down_mbits":10,"up_mbits":2}`)["id"].(string)
	e.openRecord(t, adminMAC, "82000001")
	for _, tc := range []struct {
		body string
		want radius.Code
	}{
		{`{"up_mbits":3}`, radius.CodeCoARequest},
		{`{"add_time_secs":600}`, radius.CodeCoARequest},
		{`{"add_data_mb":100}`, radius.CodeDisconnectRequest},
		{`{"data_mb":800}`, radius.CodeDisconnectRequest},
		{`{"data_cons_mb":10}`, radius.CodeDisconnectRequest},
	} {
		e.do(t, "PATCH", "/v1/sessions/"+id, tc.body).want(t, http.StatusOK)
		req := e.nas.Next(t)
		if req.Code != tc.want {
			t.Errorf("PATCH %s: NAS got %v, want %v", tc.body, req.Code, tc.want)
		}
		if _, err := mikrotik.MikrotikTotalLimit_Lookup(req.Packet); err == nil {
			t.Errorf("PATCH %s: %v carries Mikrotik-Total-Limit", tc.body, req.Code)
		}
	}
}

// TestAdminDynAuth checks that a change reaches the device's NAS sessions:
// PATCH sends a CoA with the new limits (a Disconnect when nothing is left),
// POST disconnect a Disconnect-Request.
func TestAdminDynAuth(t *testing.T) {
	e := newAdminEnv(t, adminOpts{})
	id := e.create(t, adminMAC, adminTimeSession)["id"].(string)
	e.openRecord(t, adminMAC, "81000001")

	r := e.do(t, "PATCH", "/v1/sessions/"+id, `{"add_time_secs":1800}`).want(t, http.StatusOK).json(t)
	req := e.nas.Next(t)
	if req.Code != radius.CodeCoARequest || !req.AuthOK {
		t.Fatalf("NAS got %v (authenticator ok %v), want a CoA-Request", req.Code, req.AuthOK)
	}
	if got := rfc2866.AcctSessionID_GetString(req.Packet); got != "81000001" {
		t.Errorf("Acct-Session-Id: %q", got)
	}
	if got := rfc2865.UserName_GetString(req.Packet); got != adminMAC {
		t.Errorf("User-Name: %q", got)
	}
	if st := rfc2865.SessionTimeout_Get(req.Packet); st < 5390 || st > 5410 {
		t.Errorf("Session-Timeout: %d, want about 5400 (the new limit)", st)
	}
	d := r["dynauth"].([]any)
	if len(d) != 1 || d[0].(map[string]any)["result"] != "ack" || d[0].(map[string]any)["error_cause"] != 0.0 {
		t.Errorf("dynauth: %v", r)
	}

	// A NAK is reported with its Error-Cause.
	e.nas.NAK.Store(503)
	r = e.do(t, "PATCH", "/v1/sessions/"+id, `{"up_mbits":3}`).want(t, http.StatusOK).json(t)
	e.nas.Next(t)
	d = r["dynauth"].([]any)
	if a := d[0].(map[string]any); a["result"] != "nak" || a["error_cause"] != 503.0 || a["error_cause_name"] != "Session-Context-Not-Found" {
		t.Errorf("NAK: %v", a)
	}
	e.nas.NAK.Store(0)

	// Nothing left: the NAS session is disconnected.
	r = e.do(t, "PATCH", "/v1/sessions/"+id, `{"time_cons_secs":5400}`).want(t, http.StatusOK).json(t)
	if req := e.nas.Next(t); req.Code != radius.CodeDisconnectRequest {
		t.Errorf("nothing left: NAS got %v, want a Disconnect-Request", req.Code)
	}

	r = e.do(t, "POST", "/v1/devices/"+adminMAC+"/disconnect", "").want(t, http.StatusOK).json(t)
	req = e.nas.Next(t)
	if req.Code != radius.CodeDisconnectRequest || !req.AuthOK || rfc2866.AcctSessionID_GetString(req.Packet) != "81000001" {
		t.Errorf("NAS got %v (authenticator ok %v), want a Disconnect-Request", req.Code, req.AuthOK)
	}
	if res := r["results"].([]any); len(res) != 1 || res[0].(map[string]any)["result"] != "ack" {
		t.Errorf("disconnect results: %v", r)
	}

	// A device without an open NAS session: an empty list.
	r = e.do(t, "POST", "/v1/devices/aa:bb:cc:dd:ee:99/disconnect", "").want(t, http.StatusOK).json(t)
	if res, ok := r["results"].([]any); !ok || len(res) != 0 {
		t.Errorf("no NAS session: %v", r)
	}

	// /metrics shows the requests sent.
	body := string(e.do(t, "GET", "/metrics", "").want(t, http.StatusOK).body)
	for _, want := range []string{`radiusd_dynauth_requests_total{kind="coa",result="ack"} 1`, `radiusd_dynauth_requests_total{kind="disconnect",result="ack"} 2`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestAdminWithoutDynAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    adminOpts
		want string
	}{
		{"no server", adminOpts{noServer: true}, "no RADIUS server"},
		{"enforcement off", adminOpts{noEnforce: true}, "dynamic authorization is disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAdminEnv(t, tc.o)
			id := e.create(t, adminMAC, adminTimeSession)["id"].(string)
			r := e.do(t, "POST", "/v1/devices/"+adminMAC+"/disconnect", "").want(t, http.StatusServiceUnavailable).json(t)
			if !strings.Contains(r["error"].(string), tc.want) {
				t.Errorf("disconnect: %v", r)
			}
			// The change is saved; the response says the NAS was not told.
			r = e.do(t, "PATCH", "/v1/sessions/"+id, `{"add_time_secs":60}`).want(t, http.StatusOK).json(t)
			if s := r["session"].(map[string]any); s["time_secs"] != 3660.0 || !strings.Contains(r["dynauth_error"].(string), tc.want) {
				t.Errorf("patch: %v", r)
			}
			e.do(t, "DELETE", "/v1/sessions/"+id, "").want(t, http.StatusNoContent)
		})
	}
}

func TestAdminToken(t *testing.T) {
	const token = "s3cret-admin-token"
	e := newAdminEnv(t, adminOpts{token: token, pprof: true})
	for _, tc := range []struct {
		name, path, auth string
		status           int
	}{
		{"no token", "/v1/devices/" + adminMAC + "/sessions", "", 401},
		{"wrong token", "/v1/devices/" + adminMAC + "/sessions", "Bearer nope", 401},
		{"token prefix", "/v1/devices/" + adminMAC + "/sessions", "Bearer " + token[:5], 401},
		{"wrong scheme", "/v1/devices/" + adminMAC + "/sessions", "Basic " + token, 401},
		{"right token", "/v1/devices/" + adminMAC + "/sessions", "Bearer " + token, 200},
		{"scheme case", "/v1/devices/" + adminMAC + "/sessions", "bearer " + token, 200},
		{"metrics without token", "/metrics", "", 401},
		{"metrics with token", "/metrics", "Bearer " + token, 200},
		{"pprof without token", "/debug/pprof/", "", 401},
		{"pprof with token", "/debug/pprof/", "Bearer " + token, 200},
		{"unknown path without token", "/nope", "", 401},
		{"healthz stays open", "/healthz", "", 200},
		{"readyz stays open", "/readyz", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "GET", tc.path, "", "Authorization", tc.auth).want(t, tc.status)
			if tc.status == 401 {
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if m := r.json(t); m["error"] == "" {
					t.Errorf("401 body: %s", r.body)
				}
			}
		})
	}
	if strings.Contains(e.logBuf.String(), token) {
		t.Error("the log contains the token")
	}
}

// TestAdminRefusesWebPages: without a token on loopback, a page in the
// operator's browser must not act through the API: not by a cross-origin
// request (Origin, Sec-Fetch-Site), and not by rebinding its own name to
// 127.0.0.1 (its name in Host). Nothing it asked for happens: no session,
// no Disconnect. curl, hsctl and Prometheus (no Origin, an IP address or
// localhost as Host) and the probes are served.
func TestAdminRefusesWebPages(t *testing.T) {
	e := newAdminEnv(t, adminOpts{pprof: true, hosts: []string{"Admin.Example.NET."}})
	e.openRecord(t, adminMAC, "web-1")
	port := e.http.URL[strings.LastIndex(e.http.URL, ":")+1:]
	self := "127.0.0.1:" + port
	create := "/v1/devices/" + adminMAC + "/sessions"
	disconnect := "/v1/devices/" + adminMAC + "/disconnect"
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
		want                     int
	}{
		{"create from another origin", "POST", create, adminTimeSession, []string{"Origin", "http://evil.example"}, 403},
		{"create with a rebound name", "POST", create, adminTimeSession, []string{"Host", "evil.example:" + port}, 403},
		{"disconnect from another origin", "POST", disconnect, "", []string{"Origin", "https://evil.example"}, 403},
		{"disconnect from a sandboxed page", "POST", disconnect, "", []string{"Origin", "null"}, 403},
		{"disconnect cross-site", "POST", disconnect, "", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"disconnect same-site", "POST", disconnect, "", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"disconnect with a rebound name", "POST", disconnect, "", []string{"Host", "evil.example"}, 403},
		{"delete with a rebound name", "DELETE", "/v1/sessions/" + adminMACHex + "-1", "", []string{"Host", "localhost.evil.example"}, 403},
		{"read sessions with a rebound name", "GET", create, "", []string{"Host", "evil.example:" + port}, 403},
		{"metrics with a rebound name", "GET", "/metrics", "", []string{"Host", "evil.example"}, 403},
		{"pprof with a rebound name", "GET", "/debug/pprof/", "", []string{"Host", "evil.example:" + port}, 403},
		{"pprof from another origin", "GET", "/debug/pprof/cmdline", "", []string{"Origin", "http://evil.example"}, 403},
		{"healthz with any name", "GET", "/healthz", "", []string{"Host", "evil.example"}, 200},
		{"readyz with any name", "GET", "/readyz", "", []string{"Host", "evil.example", "Origin", "http://evil.example"}, 200},

		{"curl on the address", "GET", create, "", []string{"Host", self}, 200},
		{"curl on localhost", "GET", "/metrics", "", []string{"Host", "localhost:" + port}, 200},
		{"curl on LOCALHOST.", "GET", "/metrics", "", []string{"Host", "LOCALHOST."}, 200},
		{"IPv6 address", "GET", "/metrics", "", []string{"Host", "[::1]:" + port}, 200},
		{"an allowed name", "GET", "/metrics", "", []string{"Host", "admin.example.net"}, 200},
		{"an allowed name with a port", "GET", "/metrics", "", []string{"Host", "ADMIN.example.net.:8443"}, 200},
		{"same origin", "GET", "/metrics", "", []string{"Origin", "http://" + self, "Sec-Fetch-Site", "same-origin"}, 200},
		{"typed into the address bar", "GET", "/metrics", "", []string{"Sec-Fetch-Site", "none"}, 200},
		{"cross-site GET without Origin", "GET", "/metrics", "", []string{"Sec-Fetch-Site", "cross-site"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, tc.body, tc.hdr...).want(t, tc.want)
			if tc.want == 403 {
				if m := r.json(t); m["error"] == "" {
					t.Errorf("403 body: %s", r.body)
				}
			}
		})
	}
	// Nothing the pages asked for happened.
	if m := e.do(t, "GET", create, "").want(t, http.StatusOK).json(t); len(m["sessions"].([]any)) != 0 {
		t.Errorf("sessions were created: %v", m)
	}
	if req, ok := e.nas.Received(); ok {
		t.Errorf("the NAS got a %v", req.Code)
	}
	// The operator is still served: the same requests from curl.
	e.do(t, "POST", create, adminTimeSession).want(t, http.StatusCreated)
	e.do(t, "POST", create, adminTimeSession, "Origin", "http://"+self).want(t, http.StatusCreated)
	e.do(t, "POST", disconnect, "", "Host", "localhost:"+port).want(t, http.StatusOK)
	if req := e.nas.Next(t); req.Code != radius.CodeDisconnectRequest {
		t.Errorf("the NAS got a %v, want a Disconnect-Request", req.Code)
	}
	if !strings.Contains(e.logBuf.String(), `"host":"evil.example"`) {
		t.Error("the refusals are not logged with the Host they named")
	}
}

// TestAdminTokenAndWebPages: with a token the Host is not checked (a page
// cannot send the token, and Prometheus may scrape by any name); the
// origin still is.
func TestAdminTokenAndWebPages(t *testing.T) {
	const token = "web-admin-token-0123456789"
	e := newAdminEnv(t, adminOpts{token: token})
	e.do(t, "GET", "/metrics", "", "Host", "radius1.example.net:9812").want(t, http.StatusOK)
	e.do(t, "GET", "/metrics", "", "Host", "radius1.example.net:9812", "Authorization", "").want(t, http.StatusUnauthorized)
	e.do(t, "POST", "/v1/devices/"+adminMAC+"/sessions", adminTimeSession, "Origin", "http://evil.example").want(t, http.StatusForbidden)
	e.do(t, "POST", "/v1/devices/"+adminMAC+"/sessions", adminTimeSession, "Sec-Fetch-Site", "cross-site").want(t, http.StatusForbidden)
	e.do(t, "POST", "/v1/devices/"+adminMAC+"/sessions", adminTimeSession).want(t, http.StatusCreated)

	// /readyz needs no token; without it, it says no more than the state.
	addr := e.mr.Addr()
	e.mr.Close()
	r := e.do(t, "GET", "/readyz", "", "Authorization", "").want(t, http.StatusServiceUnavailable)
	if got := strings.TrimSpace(string(r.body)); got != "not ready" {
		t.Errorf("/readyz without the token: %q, want \"not ready\"", got)
	}
	r = e.do(t, "GET", "/readyz", "").want(t, http.StatusServiceUnavailable)
	if got := string(r.body); !strings.Contains(got, "not ready: ") || !strings.Contains(got, addr) {
		t.Errorf("/readyz with the token: %q, want the reason", got)
	}
}

func TestAdminAllowedHostsInvalid(t *testing.T) {
	for _, h := range []string{"", "http://admin.example.net", "admin.example.net:443", "a b"} {
		_, err := adminapi.New(adminapi.Config{
			Sessions: session.NewSessionsMgr(nil, time.Now), Ready: func(context.Context) error { return nil },
			Gatherer: prometheus.NewRegistry(), AllowedHosts: []string{h},
		})
		if err == nil || !strings.Contains(err.Error(), "allowed_hosts[0]") || !strings.Contains(err.Error(), "want a host name") {
			t.Errorf("AllowedHosts %q: %v, want an error", h, err)
		}
	}
}

func TestAdminPprofOff(t *testing.T) {
	e := newAdminEnv(t, adminOpts{noServer: true})
	e.do(t, "GET", "/debug/pprof/", "").want(t, http.StatusNotFound)
}

func TestAdminHealthAndReadiness(t *testing.T) {
	e := newAdminEnv(t, adminOpts{noServer: true})
	if r := e.do(t, "GET", "/healthz", "").want(t, http.StatusOK); strings.TrimSpace(string(r.body)) != "ok" {
		t.Errorf("/healthz: %q", r.body)
	}
	e.do(t, "GET", "/readyz", "").want(t, http.StatusOK)

	addr := e.mr.Addr()
	e.mr.Close() // Redis goes away
	r := e.do(t, "GET", "/readyz", "").want(t, http.StatusServiceUnavailable)
	if !strings.Contains(string(r.body), "not ready") {
		t.Errorf("/readyz body: %q", r.body)
	}
	// A page that rebinds its name learns no more than the state.
	r = e.do(t, "GET", "/readyz", "", "Host", "evil.example").want(t, http.StatusServiceUnavailable)
	if got := strings.TrimSpace(string(r.body)); got != "not ready" {
		t.Errorf("/readyz for a foreign Host: %q, want \"not ready\"", got)
	}
	if !strings.Contains(e.logBuf.String(), addr) {
		t.Errorf("the log does not say why /readyz failed:\n%s", e.logBuf.String())
	}
	e.do(t, "GET", "/healthz", "").want(t, http.StatusOK) // still alive
	// The API says the store is down: 503, not 500 or 404.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/sessions/" + adminMACHex + "-1", ""},
		{"GET", "/v1/devices/" + adminMAC + "/current", ""},
		{"POST", "/v1/devices/" + adminMAC + "/sessions", adminTimeSession},
	} {
		m := e.do(t, c.method, c.path, c.body).want(t, http.StatusServiceUnavailable).json(t)
		if !strings.Contains(m["error"].(string), "store does not answer") {
			t.Errorf("%s %s: %v", c.method, c.path, m)
		}
	}
}

// TestAdminMetrics checks /metrics after RADIUS traffic, and that every
// metric on the registry passes promlint.
func TestAdminMetrics(t *testing.T) {
	e := newAdminEnv(t, adminOpts{})
	p := radius.New(radius.CodeAccessRequest, []byte(adminSecret))
	_ = rfc2865.UserName_SetString(p, adminMAC)
	_ = rfc2865.UserPassword_SetString(p, "x")
	_ = rfc2865.CallingStationID_SetString(p, "AA-BB-CC-DD-EE-01")
	ctx, cancel := context.WithTimeout(t.Context(), adminWait)
	defer cancel()
	resp, err := radius.Exchange(ctx, p, e.auth)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != radius.CodeAccessReject {
		t.Fatalf("got %v, want Access-Reject (no session)", resp.Code)
	}
	r := e.do(t, "GET", "/metrics", "").want(t, http.StatusOK)
	body := string(r.body)
	for _, want := range []string{
		`radiusd_packets_total{code="Access-Request",listener="auth",outcome="rejected"} 1`,
		"go_goroutines", "process_",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	problems, err := testutil.GatherAndLint(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestNewAdminConfig(t *testing.T) {
	_, err := adminapi.New(adminapi.Config{Token: "two words"})
	if err == nil {
		t.Fatal("NewAdmin accepted an empty config")
	}
	for _, want := range []string{"no session manager", "no readiness check", "no metrics gatherer", "spaces"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestAdminRealRedis runs the main flow on a real redis-server.
func TestAdminRealRedis(t *testing.T) {
	rs := redistest.Start(t)
	e := newAdminEnv(t, adminOpts{redisAddr: rs.Addr, token: "tok"})
	e.do(t, "GET", "/readyz", "", "Authorization", "").want(t, http.StatusOK)
	id := e.create(t, adminMAC, adminTimeSession)["id"].(string)
	e.openRecord(t, adminMAC, "real-1")
	r := e.do(t, "PATCH", "/v1/sessions/"+id, `{"add_time_secs":600}`).want(t, http.StatusOK).json(t)
	if s := r["session"].(map[string]any); s["time_secs"] != 4200.0 {
		t.Errorf("patched: %v", s)
	}
	if req := e.nas.Next(t); req.Code != radius.CodeCoARequest || rfc2866.AcctSessionID_GetString(req.Packet) != "real-1" {
		t.Errorf("NAS got %v", req.Code)
	}
	cur := e.do(t, "GET", "/v1/devices/"+adminMAC+"/current", "").want(t, http.StatusOK).json(t)
	if cur["id"] != id || cur["remaining_time_secs"] != 4200.0 {
		t.Errorf("current: %v", cur)
	}
	e.do(t, "POST", "/v1/devices/"+adminMAC+"/disconnect", "").want(t, http.StatusOK)
	if req := e.nas.Next(t); req.Code != radius.CodeDisconnectRequest {
		t.Errorf("NAS got %v", req.Code)
	}
	e.do(t, "DELETE", "/v1/sessions/"+id, "").want(t, http.StatusNoContent)
	// Deleting the last session disconnects the device's NAS session.
	if req := e.nas.Next(t); req.Code != radius.CodeDisconnectRequest {
		t.Errorf("after delete, NAS got %v", req.Code)
	}
	rs.Stop()
	e.do(t, "GET", "/readyz", "", "Authorization", "").want(t, http.StatusServiceUnavailable)
}

// TestAdminEditTable runs testdata/edits.json through PATCH: each edit on
// a fresh session of each type must be accepted (200) or refused (400
// naming the key) exactly as session.Edit and hsctl update decide.
func TestAdminEditTable(t *testing.T) {
	tab := sessiontest.LoadEdits(t)
	e := newAdminEnv(t, adminOpts{noServer: true})
	for _, c := range tab.Edits {
		for _, typ := range sessiontest.Types {
			t.Run(c.Name+"/"+typ, func(t *testing.T) {
				id := e.create(t, adminMAC, string(tab.Sessions[typ]))["id"].(string)
				before := e.do(t, "GET", "/v1/sessions/"+id, "").want(t, http.StatusOK).body
				r := e.do(t, "PATCH", "/v1/sessions/"+id, string(c.Patch))
				var got string
				switch r.status {
				case http.StatusOK:
					got = sessiontest.WantOK
				case http.StatusBadRequest:
					m := r.json(t)
					got, _ = m["field"].(string)
					if msg, _ := m["error"].(string); got == "" && strings.HasPrefix(msg, "nothing to change") {
						got = sessiontest.WantEmpty
					}
				default:
					t.Fatalf("PATCH %s: status %d: %s", c.Patch, r.status, r.body)
				}
				if want := c.Want[typ]; got != want {
					t.Fatalf("PATCH %s on a %s session: got %s, want %s (%s)", c.Patch, typ, got, want, r.body)
				}
				if got != sessiontest.WantOK {
					if after := e.do(t, "GET", "/v1/sessions/"+id, "").want(t, http.StatusOK).body; string(after) != string(before) {
						t.Errorf("a refused edit changed the session:\n got %s\nwant %s", after, before)
					}
					return
				}
				var resp struct {
					Session json.RawMessage `json:"session"`
				}
				if err := json.Unmarshal(r.body, &resp); err != nil {
					t.Fatal(err)
				}
				c.CheckView(t, resp.Session)
			})
		}
	}
}
