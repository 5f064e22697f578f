package adminapi_test

import (
	"net/http"
	"testing"
)

// TestAdminDashboardReads checks the read-only endpoints the dashboard
// polls: who is online, the device list and search, the NAS list.
func TestAdminDashboardReads(t *testing.T) {
	e := newAdminEnv(t, adminOpts{})
	e.create(t, adminMAC, adminTimeSession)
	e.create(t, "11:22:33:44:55:66", `{"type":"data","data_mb":100,"use_global_speed":true}`)
	e.openRecord(t, adminMAC, "81000001")

	ov := e.do(t, "GET", "/v1/overview", "").want(t, http.StatusOK).json(t)
	if ov["devices_online"] != 1.0 || ov["nas_sessions_open"] != 1.0 || ov["redis"].(map[string]any)["ok"] != true {
		t.Errorf("overview: %v", ov)
	}
	nas := ov["nas"].([]any)[0].(map[string]any)
	if nas["name"] != adminNASName || nas["open_sessions"] != 1.0 || nas["last_update"] == nil {
		t.Errorf("overview nas: %v", nas)
	}
	if _, ok := ov["packets"].(map[string]any)["by_outcome"]; !ok {
		t.Errorf("overview packets: %v", ov["packets"])
	}

	devs := e.do(t, "GET", "/v1/devices", "").want(t, http.StatusOK).json(t)["devices"].([]any)
	if len(devs) != 2 {
		t.Fatalf("devices: %v", devs)
	}
	first, second := devs[0].(map[string]any), devs[1].(map[string]any)
	if first["mac"] != "11:22:33:44:55:66" || first["online"] != false || first["current"].(map[string]any)["type"] != "data" {
		t.Errorf("first device: %v", first)
	}
	if second["mac"] != adminMAC || second["online"] != true || second["current"].(map[string]any)["remaining_time_secs"] != 3600.0 ||
		second["nas_sessions"].([]any)[0].(map[string]any)["acct_session_id"] != "81000001" {
		t.Errorf("second device: %v", second)
	}
	for _, q := range []string{"AA-BB-CC", "ccddee01", "aa:bb:cc:dd:ee:01"} {
		got := e.do(t, "GET", "/v1/devices?q="+q, "").want(t, http.StatusOK).json(t)["devices"].([]any)
		if len(got) != 1 || got[0].(map[string]any)["mac"] != adminMAC {
			t.Errorf("search %q: %v", q, got)
		}
	}
	online := e.do(t, "GET", "/v1/devices?online=true", "").want(t, http.StatusOK).json(t)["devices"].([]any)
	if len(online) != 1 || online[0].(map[string]any)["mac"] != adminMAC {
		t.Errorf("online: %v", online)
	}
	limited := e.do(t, "GET", "/v1/devices?limit=1", "").want(t, http.StatusOK).json(t)
	if len(limited["devices"].([]any)) != 1 || limited["more"] != true {
		t.Errorf("limit 1: %v", limited)
	}
	for _, tc := range []struct{ query, field string }{
		{"q=zz", "q"}, {"q=aabbccddeeff00", "q"}, {"limit=0", "limit"}, {"limit=1000", "limit"}, {"online=maybe", "online"},
	} {
		if m := e.do(t, "GET", "/v1/devices?"+tc.query, "").want(t, http.StatusBadRequest).json(t); m["field"] != tc.field {
			t.Errorf("%s: %v, want field %s", tc.query, m, tc.field)
		}
	}

	recs := e.do(t, "GET", "/v1/devices/"+adminMAC+"/nas-sessions", "").want(t, http.StatusOK).json(t)["nas_sessions"].([]any)
	if len(recs) != 1 || recs[0].(map[string]any)["framed_ip"] != "10.5.50.7" || recs[0].(map[string]any)["nas"] != adminNASName {
		t.Errorf("nas-sessions: %v", recs)
	}
	withRecent := e.do(t, "GET", "/v1/devices/"+adminMAC+"/nas-sessions?recent=true", "").want(t, http.StatusOK).json(t)
	if rec := withRecent["recent"].([]any); len(rec) != 1 || rec[0].(map[string]any)["open"] != true || rec[0].(map[string]any)["acct_session_id"] != "81000001" {
		t.Errorf("nas-sessions?recent=true: %v", withRecent)
	}
	e.do(t, "GET", "/v1/devices/"+adminMAC+"/nas-sessions?recent=maybe", "").want(t, http.StatusBadRequest)
	list := e.do(t, "GET", "/v1/nas", "").want(t, http.StatusOK).json(t)
	if n := list["nas"].([]any)[0].(map[string]any); n["address"] != "127.0.0.1/32" || n["open_sessions"] != 1.0 {
		t.Errorf("nas: %v", list)
	}
}

// fakeBrowser accepts the cookie "hsr_session=good" with CSRF token "c1".
type fakeBrowser struct{}

func (fakeBrowser) Session(r *http.Request) (string, bool) {
	c, err := r.Cookie("hsr_session")
	if err != nil || c.Value != "good" {
		return "", false
	}
	return "c1", true
}

// TestAdminBrowserCredential checks the second credential: a dashboard
// session cookie serves reads, and changes only with its CSRF token.
func TestAdminBrowserCredential(t *testing.T) {
	e := newAdminEnv(t, adminOpts{token: "browser-test-token-0123456789", browser: fakeBrowser{}})
	e.token = "" // requests below carry the cookie, not the bearer token
	create := "/v1/devices/" + adminMAC + "/sessions"
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
		want                     int
	}{
		{"no credential", "GET", create, "", nil, 401},
		{"wrong cookie", "GET", create, "", []string{"Cookie", "hsr_session=bad"}, 401},
		{"cookie read", "GET", "/v1/overview", "", []string{"Cookie", "hsr_session=good"}, 200},
		{"cookie change without CSRF", "POST", create, adminTimeSession, []string{"Cookie", "hsr_session=good"}, 403},
		{"cookie change with wrong CSRF", "POST", create, adminTimeSession, []string{"Cookie", "hsr_session=good", "X-CSRF-Token", "c2"}, 403},
		{"CSRF without cookie", "POST", create, adminTimeSession, []string{"X-CSRF-Token", "c1"}, 401},
		{"cookie with a wrong bearer token", "GET", create, "", []string{"Cookie", "hsr_session=good", "Authorization", "Bearer nope"}, 401},
		{"cookie change with CSRF", "POST", create, adminTimeSession, []string{"Cookie", "hsr_session=good", "X-CSRF-Token", "c1"}, 201},
		{"cookie change from another origin", "POST", create, adminTimeSession, []string{"Cookie", "hsr_session=good", "X-CSRF-Token", "c1", "Origin", "http://evil.example"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, tc.method, tc.path, tc.body, tc.hdr...).want(t, tc.want)
		})
	}
	if n := len(e.do(t, "GET", create, "", "Cookie", "hsr_session=good").want(t, http.StatusOK).json(t)["sessions"].([]any)); n != 1 {
		t.Errorf("%d sessions, want 1: only the request with the CSRF token created one", n)
	}
}
