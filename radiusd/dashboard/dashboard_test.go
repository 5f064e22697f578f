package dashboard

import (
	"crypto/tls"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const testToken = "dashboard-unit-token-0123456789"

// clock is a settable time for session expiry.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTest(t *testing.T, token string, c *clock, max int) *Dashboard {
	t.Helper()
	d, err := New(Config{Token: token, Log: zerolog.Nop(), Now: c.now, MaxSessions: max, SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func serve(d *Dashboard, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	d.ServeHTTP(w, r)
	return w
}

func signinRequest(token string) *http.Request {
	r := httptest.NewRequest("POST", "/ui/signin", strings.NewReader(url.Values{"token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// signIn signs in and returns the session cookie.
func signIn(t *testing.T, d *Dashboard, r *http.Request) *http.Cookie {
	t.Helper()
	w := serve(d, r)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/" {
		t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != CookieName {
		t.Fatalf("sign-in cookies: %v", cs)
	}
	return cs[0]
}

func withCookie(r *http.Request, c *http.Cookie) *http.Request {
	r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	return r
}

// TestSignIn checks the sign-in: the token in constant time, the cookie's
// attributes, the session and its CSRF token, sign-out with that token.
func TestSignIn(t *testing.T) {
	c := &clock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	d := newTest(t, testToken, c, 0)

	if w := serve(d, httptest.NewRequest("GET", "/ui/", nil)); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/signin" {
		t.Errorf("GET /ui/ signed out: %d %q, want a redirect to the sign-in", w.Code, w.Header().Get("Location"))
	}
	if w := serve(d, httptest.NewRequest("GET", "/ui/session", nil)); w.Code != http.StatusUnauthorized {
		t.Errorf("GET /ui/session signed out: %d", w.Code)
	}
	w := serve(d, signinRequest("wrong"))
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "Wrong token") || len(w.Result().Cookies()) != 0 {
		t.Errorf("wrong token: %d, cookies %v\n%s", w.Code, w.Result().Cookies(), w.Body)
	}

	cookie := signIn(t, d, signinRequest(" "+testToken+"\n"))
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Secure || cookie.MaxAge != 3600 {
		t.Errorf("cookie over HTTP: %+v; want HttpOnly, SameSite=Strict, Path=/, not Secure, an hour", cookie)
	}
	csrf, ok := d.Session(withCookie(httptest.NewRequest("GET", "/v1/overview", nil), cookie))
	if !ok || len(csrf) < 40 {
		t.Fatalf("Session: %q %v", csrf, ok)
	}
	w = serve(d, withCookie(httptest.NewRequest("GET", "/ui/session", nil), cookie))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"csrf":"`+csrf+`"`) {
		t.Errorf("GET /ui/session: %d %s", w.Code, w.Body)
	}
	if w := serve(d, withCookie(httptest.NewRequest("GET", "/ui/", nil), cookie)); w.Code != 200 || !strings.Contains(w.Body.String(), "/ui/js/app.js") {
		t.Errorf("GET /ui/ signed in: %d", w.Code)
	}

	// Sign-out needs the CSRF token; then the session is gone.
	w = serve(d, withCookie(httptest.NewRequest("POST", "/ui/signout", nil), cookie))
	if w.Code != http.StatusForbidden {
		t.Errorf("sign-out without CSRF: %d", w.Code)
	}
	r := withCookie(httptest.NewRequest("POST", "/ui/signout", nil), cookie)
	r.Header.Set("X-CSRF-Token", csrf)
	if w := serve(d, r); w.Code != http.StatusNoContent || w.Result().Cookies()[0].MaxAge != -1 {
		t.Errorf("sign-out: %d %v", w.Code, w.Result().Cookies())
	}
	if _, ok := d.Session(withCookie(httptest.NewRequest("GET", "/", nil), cookie)); ok {
		t.Error("the session outlived the sign-out")
	}
}

// TestSecureCookie: behind TLS, directly or through a proxy that says so,
// the cookie is Secure.
func TestSecureCookie(t *testing.T) {
	d := newTest(t, testToken, &clock{time.Now()}, 0)
	direct := signinRequest(testToken)
	direct.TLS = &tls.ConnectionState{}
	proxied := signinRequest(testToken)
	proxied.Header.Set("X-Forwarded-Proto", "https")
	for name, r := range map[string]*http.Request{"TLS": direct, "proxy": proxied} {
		if c := signIn(t, d, r); !c.Secure {
			t.Errorf("%s: cookie not Secure: %+v", name, c)
		}
	}
}

// TestSessionLimits: a session ends after its TTL; beyond MaxSessions the
// oldest is signed out.
func TestSessionLimits(t *testing.T) {
	c := &clock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	d := newTest(t, testToken, c, 2)
	first := signIn(t, d, signinRequest(testToken))
	c.t = c.t.Add(time.Minute)
	second := signIn(t, d, signinRequest(testToken))
	c.t = c.t.Add(time.Minute)
	third := signIn(t, d, signinRequest(testToken))
	ok := func(ck *http.Cookie) bool {
		_, ok := d.Session(withCookie(httptest.NewRequest("GET", "/", nil), ck))
		return ok
	}
	if ok(first) || !ok(second) || !ok(third) {
		t.Errorf("after a third sign-in with room for 2: first %v second %v third %v; want the first signed out", ok(first), ok(second), ok(third))
	}
	c.t = c.t.Add(time.Hour - time.Minute)
	if ok(second) || !ok(third) {
		t.Errorf("an hour after the second sign-in: second %v third %v; want the second expired", ok(second), ok(third))
	}
}

// TestNoToken: without a token (the demo on loopback) there is no sign-in.
func TestNoToken(t *testing.T) {
	d := newTest(t, "", &clock{time.Now()}, 0)
	if w := serve(d, httptest.NewRequest("GET", "/ui/", nil)); w.Code != 200 {
		t.Errorf("GET /ui/: %d", w.Code)
	}
	if w := serve(d, httptest.NewRequest("GET", "/ui/signin", nil)); w.Code != http.StatusSeeOther {
		t.Errorf("GET /ui/signin: %d, want a redirect to /ui/", w.Code)
	}
	if w := serve(d, httptest.NewRequest("GET", "/ui/session", nil)); w.Code != 200 || !strings.Contains(w.Body.String(), `"token_required":false`) {
		t.Errorf("GET /ui/session: %d %s", w.Code, w.Body)
	}
}

// TestAssets: the pages' files are served with their types and the
// security headers; every module a script imports is embedded; nothing
// is loaded from another host.
func TestAssets(t *testing.T) {
	d := newTest(t, "", &clock{time.Now()}, 0)
	for path, ctype := range map[string]string{"/ui/app.css": "text/css", "/ui/js/app.js": "text/javascript", "/ui/": "text/html"} {
		w := serve(d, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %q", path, w.Code, w.Header().Get("Content-Type"))
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	for _, path := range []string{"/ui/signin.html", "/ui/nothing.js", "/ui/js/"} {
		if w := serve(d, httptest.NewRequest("GET", path, nil)); w.Code != 404 {
			t.Errorf("%s: %d, want 404", path, w.Code)
		}
	}
	if w := serve(d, httptest.NewRequest("POST", "/ui/app.css", nil)); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST an asset: %d", w.Code)
	}

	importRE := regexp.MustCompile(`(?m)^import .* from '\./([a-z]+\.js)';$`)
	err := fs.WalkDir(assets, "assets", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
			t.Errorf("%s refers to another host", path)
		}
		for _, m := range importRE.FindAllStringSubmatch(string(b), -1) {
			if _, err := fs.Stat(assets, "assets/js/"+m[1]); err != nil {
				t.Errorf("%s imports %s, which is not embedded", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
