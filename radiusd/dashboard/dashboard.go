// Package dashboard is the operator's web dashboard, served by the admin
// listener (radiusd/adminapi mounts it under / and /ui/): the pages, their
// one stylesheet and plain JavaScript modules, embedded in the binary (no
// build step, nothing fetched from the network), and the sign-in that turns
// the admin token into a session cookie. The pages call the JSON admin API
// (/v1/...) itself, so a change made in the browser passes the same
// validation as one made with curl; the API accepts the cookie as its
// second credential through Session (adminapi.Browser), with the session's
// CSRF token on every change.
package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

//go:embed assets
var assets embed.FS

// CookieName is the session cookie's name.
const CookieName = "hsr_session"

// Defaults of Config.
const (
	DefaultSessionTTL  = 12 * time.Hour
	DefaultMaxSessions = 1000
)

// Config is what New needs; cmd/radiusd builds it.
type Config struct {
	// Token is the admin API's bearer token, which signs an operator in.
	// Empty: the API is open (loopback, README "Admin HTTP API") and so is
	// the dashboard: no sign-in.
	Token string
	// SessionTTL is how long a sign-in lasts (DefaultSessionTTL when 0).
	SessionTTL time.Duration
	// MaxSessions bounds the signed-in sessions held in memory; beyond it
	// the oldest is signed out (DefaultMaxSessions when 0).
	MaxSessions int
	Log         zerolog.Logger
	// Now is the clock of session expiry (time.Now when nil).
	Now func() time.Time
}

// Dashboard serves the pages and holds the signed-in sessions (in memory:
// a restart signs everyone out). It is an http.Handler and an
// adminapi.Browser.
type Dashboard struct {
	cfg       Config
	tokenHash [sha256.Size]byte
	static    http.Handler
	signin    *template.Template

	mu       sync.Mutex
	sessions map[string]*signedIn // by session id (the cookie value)
}

type signedIn struct {
	csrf    string
	expires time.Time
}

// New returns the dashboard.
func New(cfg Config) (*Dashboard, error) {
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.SessionTTL < 0 || cfg.MaxSessions < 0 {
		return nil, errors.New("dashboard: negative session TTL or maximum")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, fmt.Errorf("dashboard: assets: %w", err)
	}
	tpl, err := template.ParseFS(sub, "signin.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: sign-in page: %w", err)
	}
	return &Dashboard{
		cfg:       cfg,
		tokenHash: sha256.Sum256([]byte(cfg.Token)),
		static:    http.StripPrefix("/ui/", http.FileServerFS(sub)),
		signin:    tpl,
		sessions:  map[string]*signedIn{},
	}, nil
}

// ServeHTTP serves / (a redirect), /ui/ (the application), /ui/signin,
// /ui/signout, /ui/session (the CSRF token for the pages' scripts) and
// /ui/<asset>.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// The pages load nothing from elsewhere and run no inline script.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer: with it a browser sends "Origin: null" on a form
	// POST, which the admin API refuses as cross-origin.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	switch p := r.URL.Path; {
	case p == "/" || p == "/ui":
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	case p == "/ui/signin":
		d.serveSignin(w, r)
	case p == "/ui/signout":
		d.serveSignout(w, r)
	case p == "/ui/session":
		d.serveSession(w, r)
	case p == "/ui/" || p == "/ui/index.html":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if _, ok := d.Session(r); !ok && d.cfg.Token != "" {
			http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
			return
		}
		h.Set("Cache-Control", "no-store")
		http.ServeFileFS(w, r, assets, "assets/index.html")
	case p == "/ui/signin.html" || strings.HasSuffix(p, "/"):
		http.NotFound(w, r) // the template; directory listings
	default:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// Assets are the same for everyone and hold no secret; no-cache
		// makes a browser revalidate them after an upgrade.
		h.Set("Cache-Control", "no-cache")
		d.static.ServeHTTP(w, r)
	}
}

// Session returns the CSRF token of the request's valid session
// (adminapi.Browser).
func (d *Dashboard) Session(r *http.Request) (string, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return "", false
	}
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sessions[c.Value]
	if !ok {
		return "", false
	}
	if !now.Before(s.expires) {
		delete(d.sessions, c.Value)
		return "", false
	}
	return s.csrf, true
}

// signinPage is the sign-in template's data.
type signinPage struct {
	Error string
}

func (d *Dashboard) serveSignin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if d.cfg.Token == "" {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		d.renderSignin(w, http.StatusOK, "")
		return
	case http.MethodPost:
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		d.renderSignin(w, http.StatusBadRequest, "The form could not be read; try again.")
		return
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(r.PostForm.Get("token"))))
	if subtle.ConstantTimeCompare(got[:], d.tokenHash[:]) != 1 {
		d.cfg.Log.Warn().Str("remote", r.RemoteAddr).Msg("dashboard sign-in refused: wrong token")
		d.renderSignin(w, http.StatusUnauthorized, "Wrong token. It is the admin API's token (admin.token, token_env or token_file in radiusd's configuration).")
		return
	}
	id, _, expires := d.newSession()
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/", Expires: expires, MaxAge: int(d.cfg.SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: overTLS(r),
	})
	d.cfg.Log.Info().Str("remote", r.RemoteAddr).Msg("dashboard sign-in")
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

func (d *Dashboard) renderSignin(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = d.signin.Execute(w, signinPage{Error: msg})
}

// overTLS reports whether the browser reached us over HTTPS: directly, or
// through a reverse proxy that says so. A forged header only makes the
// cookie stricter (Secure), never weaker.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// newSession creates a session, signing out the oldest beyond MaxSessions.
func (d *Dashboard) newSession() (id, csrf string, expires time.Time) {
	id, csrf = randomToken(), randomToken()
	now := d.cfg.Now()
	expires = now.Add(d.cfg.SessionTTL)
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, s := range d.sessions {
		if !now.Before(s.expires) {
			delete(d.sessions, k)
		}
	}
	for len(d.sessions) >= d.cfg.MaxSessions {
		var oldest string
		for k, s := range d.sessions {
			if oldest == "" || s.expires.Before(d.sessions[oldest].expires) {
				oldest = k
			}
		}
		delete(d.sessions, oldest)
	}
	d.sessions[id] = &signedIn{csrf: csrf, expires: expires}
	return id, csrf, expires
}

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// serveSignout ends the session: POST with the session's CSRF token.
func (d *Dashboard) serveSignout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	csrf, ok := d.Session(r)
	if ok {
		got := r.Header.Get("X-CSRF-Token")
		if subtle.ConstantTimeCompare([]byte(got), []byte(csrf)) != 1 {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "missing or wrong X-CSRF-Token"})
			return
		}
		c, _ := r.Cookie(CookieName)
		d.mu.Lock()
		delete(d.sessions, c.Value)
		d.mu.Unlock()
		d.cfg.Log.Info().Str("remote", r.RemoteAddr).Msg("dashboard sign-out")
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: overTLS(r)})
	w.WriteHeader(http.StatusNoContent)
}

// sessionJSON is the body of GET /ui/session.
type sessionJSON struct {
	SignedIn      bool   `json:"signed_in"`
	TokenRequired bool   `json:"token_required"`
	CSRF          string `json:"csrf,omitempty"`
}

// serveSession tells the pages' scripts the CSRF token to send; 401 when
// a sign-in is needed.
func (d *Dashboard) serveSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	csrf, ok := d.Session(r)
	out := sessionJSON{SignedIn: ok, TokenRequired: d.cfg.Token != "", CSRF: csrf}
	status := http.StatusOK
	if !ok && out.TokenRequired {
		status = http.StatusUnauthorized
	}
	writeJSON(w, status, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
