// Package adminapi is the admin HTTP API of radiusd: sessions and devices
// (create, list, change, delete, disconnect), /metrics, /healthz, /readyz
// and pprof, and the protections that keep a web page from using it. It
// reaches the RADIUS server only through the DynAuth interface, so that the
// packet server and the web API change independently.
package adminapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"layeh.com/radius/rfc3576"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// DynAuth is what the API needs from the RADIUS server: telling a device's
// open NAS sessions about a change, by Disconnect and CoA requests (RFC 5176
// dynamic authorization), and waiting for their answers. *radiusd.Server
// satisfies it.
type DynAuth interface {
	// DisconnectDevice sends a Disconnect-Request to each open NAS session
	// of the device and returns their answers (radiusd.ErrDynAuthDisabled
	// when enforcement is off).
	DisconnectDevice(ctx context.Context, mac session.MAC) ([]radiusd.DynAuthResult, error)
	// UpdateDevice tells each open NAS session of the device its current
	// limits (CoA), or disconnects it, and returns their answers
	// (radiusd.ErrDynAuthDisabled when enforcement is off).
	UpdateDevice(ctx context.Context, mac session.MAC, change radiusd.DeviceChange) ([]radiusd.DynAuthResult, error)
	// DynAuthWait is how long the answers to one request may take: every
	// attempt of it.
	DynAuthWait() time.Duration
}

// Config is what New needs; main builds it.
type Config struct {
	// Sessions is the session API the endpoints call. Required.
	Sessions *session.SessionsMgr
	// Vouchers is the plan and voucher API of the /v1/plans, /v1/batches
	// and /v1/vouchers endpoints. Nil: they answer 503.
	Vouchers *voucher.Manager
	// DynAuth sends Disconnect/CoA requests for the device endpoints. Nil:
	// POST /v1/devices/{mac}/disconnect answers 503, and PATCH/DELETE of a
	// session change the store only (their response says so).
	DynAuth DynAuth
	// Ready reports whether the store answers (Redis PING); /readyz calls
	// it with a 2 s deadline. Required.
	Ready func(ctx context.Context) error
	// Gatherer is the registry /metrics serves: the one main builds, not
	// the global one. Required.
	Gatherer prometheus.Gatherer
	// Token, when not empty, is the bearer token every endpoint except
	// /healthz and /readyz requires (Authorization: Bearer <token>).
	Token string
	// Pprof mounts net/http/pprof under /debug/pprof/ on this handler
	// (never on http.DefaultServeMux).
	Pprof bool
	Log   zerolog.Logger
	// Now is the clock for availability and expiry in responses (time.Now
	// when nil).
	Now func() time.Time
	// AllowedHosts are the names, besides localhost and IP addresses, that
	// the Host header of a request may carry when Token is empty: the name a
	// reverse proxy forwards. Other names are refused (DNS rebinding).
	AllowedHosts []string
	// Directory serves the read-only endpoints the dashboard polls (GET
	// /v1/overview, /v1/devices, /v1/nas, /v1/devices/{mac}/nas-sessions).
	// Nil: they answer 503 (the overview shows metrics only).
	Directory Directory
	// NAS is the NAS table as configured (GET /v1/nas, the overview).
	NAS []NASEntry
	// Browser is the API's second credential: a dashboard session cookie
	// (radiusd/dashboard). Nil: bearer token only.
	Browser Browser
	// UI, when not nil, is served for / and /ui/... behind the same Host
	// and origin checks but without the API's credential: it signs its
	// users in itself (radiusd/dashboard).
	UI http.Handler
}

// Browser checks the dashboard's session cookie. A request it accepts is
// served like one with the bearer token, except that every method but GET
// and HEAD must also carry the session's CSRF token in X-CSRF-Token.
type Browser interface {
	// Session returns the CSRF token of the valid dashboard session the
	// request's cookie names; ok is false when there is none.
	Session(r *http.Request) (csrf string, ok bool)
}

// Limits of the admin interface.
const (
	maxBody       = 64 << 10        // bytes of a request body
	storeTimeout  = 5 * time.Second // one store call of an endpoint
	readyTimeout  = 2 * time.Second // /readyz
	dynAuthMargin = 5 * time.Second // beyond the NAS retries, for queueing
	probeTimeout  = 1 * time.Second // readiness probe that classifies an error
)

// api holds the handlers' dependencies.
type api struct {
	cfg       Config
	tokenHash [sha256.Size]byte
	hosts     map[string]bool // AllowedHosts, normalized
	csrf      *http.CrossOriginProtection
}

// New validates cfg and returns the admin HTTP handler, with its own
// ServeMux, for main to serve on a separate listener (loopback by default):
//
//	POST   /v1/devices/{mac}/sessions    create a session (201, Location)
//	GET    /v1/devices/{mac}/sessions    the device's sessions; current: true marks the current one
//	GET    /v1/devices/{mac}/current     the current session; 409 when none is available
//	POST   /v1/devices/{mac}/disconnect  Disconnect-Request to each open NAS session
//	GET    /v1/sessions/{id}             one session
//	PATCH  /v1/sessions/{id}             top up (add_time_secs, add_data_mb: atomic) or change
//	                                     it, then CoA (new limits) or Disconnect (nothing left)
//	                                     to the device's open NAS sessions
//	DELETE /v1/sessions/{id}             204; the NAS sessions are told what is left
//	GET    /v1/overview                  packet totals, Redis health, NAS entries, who is online (read.go)
//	GET    /v1/devices?q=&online=&limit= devices by MAC fragment: online, current session
//	GET    /v1/devices/{mac}/nas-sessions the device's open NAS sessions
//	GET    /v1/nas                       the NAS table with open sessions and last update
//	/ and /ui/...                        cfg.UI (the dashboard), when set
//	POST|GET /v1/plans, GET|PATCH|DELETE /v1/plans/{name}, POST /v1/plans/{name}/batches,
//	GET /v1/batches, GET /v1/batches/{id}[/csv], POST /v1/batches/{id}/revoke,
//	GET /v1/vouchers/{code}, POST /v1/vouchers/{code}/revoke
//	                                     plans and vouchers (vouchers.go; README "Vouchers")
//	GET    /metrics                      Prometheus, from cfg.Gatherer
//	GET    /healthz                      200 while the process serves (liveness)
//	GET    /readyz                       200 when the store answers within 2 s (readiness)
//	GET    /debug/pprof/...              net/http/pprof, when cfg.Pprof
//
// JSON in and out, with the snake_case keys of `hsctl --json`. Every error is
// {"error": "...", "field": "..."}: 400 for a validation failure (field
// names the request key, or mac/id for the path), 401 for a missing or wrong
// bearer token, 404 for an unknown session (or a device with none), 409 when
// a device has no available session, 413 for a body over 64 KiB, 415 for a
// body that is not application/json, 503 when the store does not answer, 500
// otherwise. With cfg.Token set, everything but /healthz, /readyz and the
// dashboard's own pages needs "Authorization: Bearer <token>", or a
// dashboard session cookie that cfg.Browser accepts (then every method but
// GET and HEAD also needs its CSRF token in X-CSRF-Token, else 403).
//
// No request from a web page may act for the operator: everything but
// /healthz and /readyz is refused (403) when it comes from another origin
// (an Origin header that is not this listener's, or Sec-Fetch-Site
// cross-site or same-site on a method other than GET and HEAD), and,
// without a token, when its Host header is neither localhost, an IP
// address nor one of cfg.AllowedHosts: a page that rebinds its own name to
// 127.0.0.1 (DNS rebinding) sends its own name. With a token the Host is
// not checked: a page cannot send the token.
func New(cfg Config) (http.Handler, error) {
	var errs []error
	if cfg.Sessions == nil {
		errs = append(errs, errors.New("no session manager"))
	}
	if cfg.Ready == nil {
		errs = append(errs, errors.New("no readiness check"))
	}
	if cfg.Gatherer == nil {
		errs = append(errs, errors.New("no metrics gatherer"))
	}
	if err := CheckToken(cfg.Token); err != nil {
		errs = append(errs, fmt.Errorf("token: %w", err))
	}
	hosts := map[string]bool{}
	for i, h := range cfg.AllowedHosts {
		if err := CheckAllowedHost(h); err != nil {
			errs = append(errs, fmt.Errorf("allowed_hosts[%d]: %w", i, err))
			continue
		}
		hosts[normalizeHost(h)] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("adminapi: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &api{cfg: cfg, tokenHash: sha256.Sum256([]byte(cfg.Token)), hosts: hosts, csrf: http.NewCrossOriginProtection()}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/devices/{mac}/sessions", a.createSession)
	mux.HandleFunc("GET /v1/devices/{mac}/sessions", a.listSessions)
	mux.HandleFunc("GET /v1/devices/{mac}/current", a.currentSession)
	mux.HandleFunc("POST /v1/devices/{mac}/disconnect", a.disconnectDevice)
	mux.HandleFunc("GET /v1/sessions/{id}", a.getSession)
	mux.HandleFunc("PATCH /v1/sessions/{id}", a.patchSession)
	mux.HandleFunc("DELETE /v1/sessions/{id}", a.deleteSession)
	mux.HandleFunc("GET /v1/overview", a.overview)
	mux.HandleFunc("GET /v1/devices", a.listDevices)
	mux.HandleFunc("GET /v1/devices/{mac}/nas-sessions", a.deviceNASSessions)
	mux.HandleFunc("GET /v1/nas", a.listNAS)
	a.routeVouchers(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      promLogger{cfg.Log},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	if cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return a.wrap(mux), nil
}

// wrap adds, outside the mux: panic recovery, the request log, the checks
// of Host and origin, the bearer token check and JSON bodies for the mux's
// own 404 and 405 answers.
func (a *api) wrap(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.cfg.Log.Error().Str("method", r.Method).Str("path", r.URL.Path).
					Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("admin handler panicked")
				if !rec.wrote {
					writeJSON(rec, http.StatusInternalServerError, errorBody{Error: "internal error"})
				}
			}
			a.logRequest(r, rec, start)
		}()
		open := r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
		if msg := a.foreign(r); !open && msg != "" {
			writeJSON(rec, http.StatusForbidden, errorBody{Error: msg})
			return
		}
		if a.cfg.UI != nil && (r.URL.Path == "/" || r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/")) {
			a.cfg.UI.ServeHTTP(rec, r)
			return
		}
		if !open {
			switch ok, csrfMissing := a.credential(r); {
			case csrfMissing:
				writeJSON(rec, http.StatusForbidden, errorBody{Error: "missing or wrong X-CSRF-Token: a request signed in by the dashboard's cookie must carry its session's CSRF token"})
				return
			case !ok:
				rec.Header().Set("WWW-Authenticate", `Bearer realm="hsradius admin"`)
				msg := "missing bearer token: send Authorization: Bearer <token>"
				if r.Header.Get("Authorization") != "" {
					msg = "wrong bearer token"
				}
				writeJSON(rec, http.StatusUnauthorized, errorBody{Error: msg})
				return
			}
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			// Unknown path (404) or method (405, with Allow): the mux
			// answers in plain text; say the same in JSON.
			mux.ServeHTTP(&muxError{ResponseWriter: rec, r: r}, r)
			return
		}
		mux.ServeHTTP(rec, r)
	})
}

// credential checks the request's credential: the bearer token, or a
// dashboard session cookie with, on a change, its CSRF token. csrfMissing
// reports a valid cookie on a change without the right X-CSRF-Token.
func (a *api) credential(r *http.Request) (ok, csrfMissing bool) {
	if a.authorized(r) {
		return true, false
	}
	if a.cfg.Browser == nil || r.Header.Get("Authorization") != "" {
		return false, false
	}
	want, ok := a.cfg.Browser.Session(r)
	if !ok {
		return false, false
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true, false
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return false, true
	}
	return true, false
}

// authorized checks the bearer token in constant time (both sides hashed,
// so neither the content nor the length leaks through timing).
func (a *api) authorized(r *http.Request) bool {
	if a.cfg.Token == "" {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], a.tokenHash[:]) == 1
}

// foreign says why a request may come from a web page rather than from the
// operator, or "" when it may not. A browser request always carries the
// Host of its URL; a page's own requests carry its Origin and (browsers
// since 2023) Sec-Fetch-Site; curl, hsctl and Prometheus send neither.
func (a *api) foreign(r *http.Request) string {
	if a.cfg.Token == "" && !a.hostAllowed(r.Host) {
		return fmt.Sprintf("Host %s is not a name of this listener (DNS rebinding protection): use localhost or an IP address, or add the name to admin.allowed_hosts", strconv.Quote(r.Host))
	}
	if o := r.Header.Get("Origin"); o != "" {
		// The same comparison as http.CrossOriginProtection, for every
		// method: a cross-origin GET can still run a profile.
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			return fmt.Sprintf("cross-origin request refused: Origin %s is not this listener", strconv.Quote(o))
		}
	}
	if err := a.csrf.Check(r); err != nil {
		return "cross-origin request refused: " + err.Error()
	}
	return ""
}

// hostName is a DNS name as allowed_hosts takes it.
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9.])?$`)

// CheckToken is the rule a bearer token follows (the configuration checks
// it with this, New too).
func CheckToken(token string) error {
	if strings.ContainsAny(token, " \t\r\n") {
		return errors.New("the token contains spaces or line breaks: clients send it in an HTTP header")
	}
	return nil
}

// CheckAllowedHost is the rule a name of allowed_hosts follows.
func CheckAllowedHost(h string) error {
	if !hostName.MatchString(h) {
		return fmt.Errorf("%q: want a host name, without scheme or port (e.g. radius-admin.example.net)", h)
	}
	return nil
}

// hostAllowed reports whether a Host header names this listener. An IP
// address cannot be rebound to another host, and localhost always resolves
// here; any other name must be configured. An empty Host (HTTP/1.0) comes
// from no browser.
func (a *api) hostAllowed(hostport string) bool {
	h := normalizeHost(hostport)
	if h == "" || h == "localhost" || a.hosts[h] {
		return true
	}
	_, err := netip.ParseAddr(h)
	return err == nil
}

// normalizeHost returns the host of a Host header or name, lower case,
// without port, brackets or the root's trailing dot.
func normalizeHost(hostport string) string {
	h := strings.TrimSpace(hostport)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// logRequest logs one request: changes at info (an audit trail of what
// integrators did), reads at debug, failures of ours at error. Never the
// body or the token.
func (a *api) logRequest(r *http.Request, rec *recorder, start time.Time) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	var ev *zerolog.Event
	switch {
	case status >= 500:
		ev = a.cfg.Log.Error()
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		ev = a.cfg.Log.Warn() // someone without the token, or a web page, is knocking
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		ev = a.cfg.Log.Debug()
	default:
		ev = a.cfg.Log.Info()
	}
	ev = ev.Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).
		Dur("duration", time.Since(start)).Str("remote", r.RemoteAddr)
	if status == http.StatusForbidden {
		ev = ev.Str("host", r.Host).Str("origin", r.Header.Get("Origin")).Str("sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	}
	if rec.err != "" {
		ev = ev.Str("error", rec.err)
	}
	ev.Msg("admin request")
}

// recorder remembers the status (and error text) for the log.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	err    string
}

func (w *recorder) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (pprof's
// profile and trace extend the write deadline through it).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// muxError turns the mux's plain-text 404/405 into JSON errors.
type muxError struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (w *muxError) WriteHeader(code int) {
	var msg string
	switch code {
	case http.StatusNotFound:
		msg = "no such endpoint: " + w.r.Method + " " + w.r.URL.Path
	case http.StatusMethodNotAllowed:
		msg = fmt.Sprintf("method %s not allowed on %s (allowed: %s)", w.r.Method, w.r.URL.Path, w.Header().Get("Allow"))
	default:
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.swallow = true
	w.Header().Del("X-Content-Type-Options")
	writeJSON(w.ResponseWriter, code, errorBody{Error: msg})
}

func (w *muxError) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// promLogger routes promhttp's errors to our logger.
type promLogger struct{ log zerolog.Logger }

func (l promLogger) Println(v ...any) { l.log.Error().Msg(strings.TrimSpace(fmt.Sprintln(v...))) }

// ---- JSON shapes ----

// errorBody is every error body. Field names the request field at fault
// (JSON key, or "mac"/"id" for the path); Problems lists every invalid
// field when there are several; Reason is the machine-readable cause of a
// 409 (expired, time_used_up, data_used_up).
type errorBody struct {
	Error    string          `json:"error"`
	Field    string          `json:"field,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Problems []fieldProblem  `json:"problems,omitempty"`
	Results  []dynAuthAnswer `json:"results,omitempty"` // answers received before a timeout
}

type fieldProblem struct {
	Field string `json:"field"`
	Error string `json:"error"`
}

// sessionJSON is a session as the API (and hsctl --json) shows it.
type sessionJSON = session.View

func newSessionJSON(d session.Data, now time.Time) sessionJSON { return session.NewView(d, now) }

// dynAuthAnswer is a NAS's answer to one Disconnect/CoA request.
type dynAuthAnswer struct {
	NAS            string `json:"nas"`
	AcctSessionID  string `json:"acct_session_id"`
	Result         string `json:"result"`      // ack, nak, timeout or error
	ErrorCause     uint32 `json:"error_cause"` // RFC 5176 Error-Cause of a NAK, 0 if none
	ErrorCauseName string `json:"error_cause_name,omitempty"`
	Attempts       int    `json:"attempts"`
}

func dynAuthAnswers(list []radiusd.DynAuthResult) []dynAuthAnswer {
	out := make([]dynAuthAnswer, len(list))
	for i, r := range list {
		out[i] = dynAuthAnswer{NAS: r.NAS, AcctSessionID: r.AcctSessionID, Result: r.Outcome, ErrorCause: r.ErrorCause, Attempts: r.Attempts}
		if r.ErrorCause != 0 {
			out[i].ErrorCauseName = rfc3576.ErrorCause(r.ErrorCause).String()
		}
	}
	return out
}

// ---- handlers ----

// createRequest is the body of POST /v1/devices/{mac}/sessions.
type createRequest struct {
	Type           json.RawMessage `json:"type"` // "time", "data", "time_or_data", or 0, 1, 2
	TimeSecs       uint            `json:"time_secs"`
	DataMB         float64         `json:"data_mb"`
	ExpDays        *uint           `json:"exp_days"` // null or absent: never expires
	DownMbits      uint            `json:"down_mbits"`
	UpMbits        uint            `json:"up_mbits"`
	UseGlobalSpeed bool            `json:"use_global_speed"`
	Provider       string          `json:"provider"`
}

func (a *api) createSession(w http.ResponseWriter, r *http.Request) {
	mac, ok := a.pathMAC(w, r)
	if !ok {
		return
	}
	var req createRequest
	if !a.decode(w, r, &req) {
		return
	}
	var problems []fieldProblem
	typ, err := parseTypeJSON(req.Type)
	if err != nil {
		problems = append(problems, fieldProblem{"type", err.Error()})
	} else {
		// A value for a kind the type does not limit would be stored and
		// ignored: say so rather than keep it silently (as hsctl does).
		if req.TimeSecs != 0 && !typ.LimitsTime() {
			problems = append(problems, fieldProblem{"time_secs", "a " + typ.String() + " session has no time allocation (use type time_or_data for both)"})
		}
		if req.DataMB != 0 && !typ.LimitsData() {
			problems = append(problems, fieldProblem{"data_mb", "a " + typ.String() + " session has no data allocation (use type time_or_data for both)"})
		}
	}
	if req.UseGlobalSpeed && (req.DownMbits != 0 || req.UpMbits != 0) {
		problems = append(problems, fieldProblem{"use_global_speed", "true excludes down_mbits and up_mbits: give one or the other"})
	}
	if len(problems) > 0 {
		writeProblems(w, problems)
		return
	}
	spec := session.Spec{
		Provider:       req.Provider,
		Type:           typ,
		TimeSecs:       req.TimeSecs,
		DataMb:         req.DataMB,
		ExpDays:        req.ExpDays,
		DownMbits:      req.DownMbits,
		UpMbits:        req.UpMbits,
		UseGlobalSpeed: req.UseGlobalSpeed,
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	cs, err := a.cfg.Sessions.CreateSession(ctx, mac.String(), spec)
	if err != nil {
		a.fail(w, r, err, nil)
		return
	}
	w.Header().Set("Location", "/v1/sessions/"+cs.ID())
	writeJSON(w, http.StatusCreated, newSessionJSON(cs.Data(), a.cfg.Now()))
}

// parseTypeJSON accepts a type's name or number (session.ParseTypeJSON);
// the error is the problem alone, the caller names the field.
func parseTypeJSON(raw json.RawMessage) (session.Type, error) {
	t, err := session.ParseTypeJSON(raw)
	var fe *session.FieldError
	if errors.As(err, &fe) {
		return 0, errors.New(fe.Problem)
	}
	return t, err
}

// sessionsList is the body of GET /v1/devices/{mac}/sessions.
type sessionsList struct {
	MAC      string        `json:"mac"`
	Sessions []sessionJSON `json:"sessions"` // creation order; current: true marks the current one
	// CurrentID is the session the RADIUS server uses now (null: none);
	// Reason says why there is none (no_session, expired, time_used_up,
	// data_used_up).
	CurrentID *string `json:"current_id"`
	Reason    string  `json:"reason,omitempty"`
}

func (a *api) listSessions(w http.ResponseWriter, r *http.Request) {
	mac, ok := a.pathMAC(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	all, err := a.cfg.Sessions.Sessions(ctx, mac.String())
	if err != nil {
		a.fail(w, r, err, nil)
		return
	}
	now := a.cfg.Now()
	data := make([]session.Data, len(all))
	for i, s := range all {
		data[i] = s.Data()
	}
	cur, curErr := session.Current(data, now)
	out := sessionsList{MAC: mac.String(), Sessions: make([]sessionJSON, len(data))}
	for i, d := range data {
		out.Sessions[i] = newSessionJSON(d, now)
		isCur := curErr == nil && d.ID == cur.ID
		out.Sessions[i].Current = &isCur
	}
	if curErr == nil {
		id := cur.ID
		out.CurrentID = &id
	} else {
		out.Reason = session.StatusKey(curErr)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) currentSession(w http.ResponseWriter, r *http.Request) {
	mac, ok := a.pathMAC(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	cs, err := a.cfg.Sessions.CurrSession(ctx, mac.String())
	if err != nil {
		a.fail(w, r, err, nil)
		return
	}
	v := newSessionJSON(cs.Data(), a.cfg.Now())
	yes := true
	v.Current = &yes
	writeJSON(w, http.StatusOK, v)
}

func (a *api) getSession(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	cs, err := a.cfg.Sessions.GetSession(ctx, id)
	if err != nil {
		a.fail(w, r, err, nil)
		return
	}
	writeJSON(w, http.StatusOK, newSessionJSON(cs.Data(), a.cfg.Now()))
}

func (a *api) deleteSession(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	if err := a.cfg.Sessions.DeleteSession(ctx, id); err != nil {
		a.fail(w, r, err, nil)
		return
	}
	// The device's NAS sessions may have been using it: tell them what is
	// left (or disconnect them). The delete stands whatever they answer.
	mac, _, _ := session.ParseID(id)
	if res, err := a.updateDevice(r.Context(), mac, radiusd.DeviceChange{SessionID: id, Data: true}); err != nil {
		a.cfg.Log.Warn().Str("session_id", id).Str("mac", mac.String()).Str("error", err.Error()).
			Msg("session deleted; its device's NAS sessions were not told")
	} else if len(res) > 0 {
		a.cfg.Log.Info().Str("session_id", id).Str("mac", mac.String()).Int("nas_sessions", len(res)).
			Msg("session deleted; its device's NAS sessions were told")
	}
	w.WriteHeader(http.StatusNoContent)
}

// patchResponse is the body of a successful PATCH.
type patchResponse struct {
	Session sessionJSON `json:"session"`
	// Dynauth lists the answers of the device's NAS sessions to the CoA (new
	// limits) or Disconnect (nothing left) sent after the change; empty when
	// the device has no open NAS session. DynauthError says why none was
	// sent or why waiting for them failed.
	Dynauth      []dynAuthAnswer `json:"dynauth"`
	DynauthError string          `json:"dynauth_error,omitempty"`
}

// patchSession changes a session by a session.Edit, the body: the rules
// for which key applies to which session type are the Edit's, shared with
// hsctl update.
func (a *api) patchSession(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r)
	if !ok {
		return
	}
	var edit session.Edit
	if !a.decode(w, r, &edit) {
		return
	}
	// What is wrong whatever the session is answered before reading it.
	if err := edit.Check(); err != nil {
		a.refuseEdit(w, r, err)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	s, err := a.cfg.Sessions.GetSession(ctx, id)
	if err != nil {
		a.fail(w, r, err, nil)
		return
	}
	if err := edit.Validate(session.Type(s.Type())); err != nil {
		a.refuseEdit(w, r, err)
		return
	}
	edit.Apply(s)
	if err := s.Save(ctx); err != nil {
		a.fail(w, r, err, edit.Key)
		return
	}

	resp := patchResponse{Session: newSessionJSON(s.Data(), a.cfg.Now()), Dynauth: []dynAuthAnswer{}}
	res, err := a.updateDevice(r.Context(), s.MAC(), radiusd.DeviceChange{
		SessionID: id, Data: edit.AddDataMB != nil || edit.DataMB != nil || edit.DataConsMB != nil,
	})
	resp.Dynauth = append(resp.Dynauth, dynAuthAnswers(res)...)
	if err != nil {
		resp.DynauthError = err.Error()
	}
	writeJSON(w, http.StatusOK, resp)
}

// refuseEdit answers 400 for an edit that Check or Validate refused.
func (a *api) refuseEdit(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, session.ErrNoChange) {
		writeProblems(w, []fieldProblem{{"", "nothing to change: give at least one of add_time_secs, add_data_mb, time_secs, data_mb, time_cons_secs, data_cons_mb, down_mbits, up_mbits, use_global_speed, exp_days, provider, reset_start"}})
		return
	}
	a.fail(w, r, err, nil)
}

// errNoServer: no Disconnect/CoA can be sent from this process.
var errNoServer = errors.New("no RADIUS server in this process: Disconnect/CoA unavailable")

// dynAuthCtx bounds the wait for a device's NAS answers: every attempt of
// one request, plus time to wait for a worker.
func (a *api) dynAuthCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.cfg.DynAuth.DynAuthWait()+dynAuthMargin)
}

// updateDevice tells the device's open NAS sessions its current limits.
func (a *api) updateDevice(ctx context.Context, mac session.MAC, change radiusd.DeviceChange) ([]radiusd.DynAuthResult, error) {
	if a.cfg.DynAuth == nil {
		return nil, errNoServer
	}
	ctx, cancel := a.dynAuthCtx(ctx)
	defer cancel()
	return a.cfg.DynAuth.UpdateDevice(ctx, mac, change)
}

// disconnectResponse is the body of POST /v1/devices/{mac}/disconnect.
type disconnectResponse struct {
	Results []dynAuthAnswer `json:"results"` // one per open NAS session; empty when none
}

func (a *api) disconnectDevice(w http.ResponseWriter, r *http.Request) {
	mac, ok := a.pathMAC(w, r)
	if !ok {
		return
	}
	if a.cfg.DynAuth == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: errNoServer.Error()})
		return
	}
	ctx, cancel := a.dynAuthCtx(r.Context())
	defer cancel()
	res, err := a.cfg.DynAuth.DisconnectDevice(ctx, mac)
	switch {
	case errors.Is(err, radiusd.ErrDynAuthDisabled):
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
		return
	case err != nil && ctx.Err() != nil && r.Context().Err() == nil:
		writeJSON(w, http.StatusGatewayTimeout, errorBody{
			Error:   "timed out waiting for the NAS answers (is enforcement running?)",
			Results: dynAuthAnswers(res),
		})
		return
	case err != nil:
		a.fail(w, r, err, nil)
		return
	}
	writeJSON(w, http.StatusOK, disconnectResponse{Results: dynAuthAnswers(res)})
}

// readyz answers "ok" or "not ready". Only a caller the API itself would
// serve (the token when one is set, this listener's Host, not from a web
// page) learns why: the store's error names its addresses. The log always
// has it.
func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := a.cfg.Ready(ctx); err != nil {
		if rec, ok := w.(*recorder); ok {
			rec.err = err.Error()
		}
		msg := "not ready"
		if ok, _ := a.credential(r); ok && a.foreign(r) == "" {
			msg += ": " + err.Error()
		}
		writeText(w, http.StatusServiceUnavailable, msg)
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// ---- request parsing and error answers ----

// pathMAC parses the {mac} path value, or answers 400.
func (a *api) pathMAC(w http.ResponseWriter, r *http.Request) (session.MAC, bool) {
	raw := r.PathValue("mac")
	mac, err := session.ParseMAC(raw)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{
			Error: strings.TrimPrefix(err.Error(), session.ErrInvalid.Error()+": "),
			Field: "mac",
		})
		return "", false
	}
	return mac, true
}

// pathID checks the {id} path value, or answers 400.
func (a *api) pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if _, _, err := session.ParseID(id); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{
			Error: strings.TrimPrefix(err.Error(), session.ErrInvalid.Error()+": "),
			Field: "id",
		})
		return "", false
	}
	return id, true
}

// decode reads a JSON object body strictly: application/json, at most 64
// KiB, no unknown keys, nothing after the object. It answers the error
// itself and reports whether dst was filled.
func (a *api) decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		got := ct
		if got == "" {
			got = "none"
		}
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: "Content-Type " + got + ": want application/json"})
		return false
	}
	body := http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		// One object, nothing after it.
		if tok, terr := dec.Token(); terr != io.EOF {
			if terr == nil {
				err = fmt.Errorf("unexpected %v after the JSON object", tok)
			} else {
				err = terr
			}
		}
	}
	if err == nil {
		return true
	}
	var (
		maxErr  *http.MaxBytesError
		typeErr *json.UnmarshalTypeError
		synErr  *json.SyntaxError
	)
	switch {
	case errors.As(err, &maxErr):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("request body larger than %d bytes", maxBody)})
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "the body must be a JSON object"})
			return false
		}
		writeJSON(w, http.StatusBadRequest, errorBody{
			Error: fmt.Sprintf("invalid %s: got %s, want %s", field, typeErr.Value, describeJSONType(typeErr.Type.String())),
			Field: field,
		})
	case errors.Is(err, io.EOF):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "empty body: want a JSON object"})
	case errors.As(err, &synErr):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("malformed JSON at byte %d: %v", synErr.Offset, err)})
	case errors.Is(err, io.ErrUnexpectedEOF):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "malformed JSON: the body ends early"})
	default:
		// The decoder's only other error is an unknown key:
		// `json: unknown field "x"`.
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, `json: unknown field "`); ok {
			name = strings.TrimSuffix(name, `"`)
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "unknown field " + strconv.Quote(name), Field: name})
			return false
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "malformed JSON: " + strings.TrimPrefix(msg, "json: ")})
	}
	return false
}

// describeJSONType says in JSON terms what a Go field type accepts.
func describeJSONType(goType string) string {
	switch goType {
	case "uint", "uint32", "uint64":
		return "a whole number, 0 or more"
	case "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	}
	return "another type (" + goType + ")"
}

// writeProblems answers 400 naming every invalid field.
func writeProblems(w http.ResponseWriter, problems []fieldProblem) {
	e := errorBody{Field: problems[0].Field}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Error
		if p.Field != "" {
			msgs[i] = "invalid " + p.Field + ": " + p.Error
		}
	}
	e.Error = strings.Join(msgs, "; ")
	if len(problems) > 1 {
		e.Problems = problems
	}
	writeJSON(w, http.StatusBadRequest, e)
}

// fail answers a store or validation error with its status. key, when not
// nil, names the request's key of a session field (session.Edit.Key).
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error, key func(field string) string) {
	if fields := fieldErrors(err); len(fields) > 0 {
		problems := make([]fieldProblem, len(fields))
		for i, fe := range fields {
			name := fe.Field
			if key != nil {
				name = key(name)
			}
			problems[i] = fieldProblem{name, fe.Problem}
		}
		writeProblems(w, problems)
		return
	}
	for _, reason := range []error{session.ErrExpired, session.ErrTimeExhausted, session.ErrDataExhausted} {
		if errors.Is(err, reason) {
			writeJSON(w, http.StatusConflict, errorBody{Error: reason.Error(), Reason: session.StatusKey(reason)})
			return
		}
	}
	switch {
	case errors.Is(err, session.ErrNoSession):
		writeJSON(w, http.StatusNotFound, errorBody{Error: session.ErrNoSession.Error(), Reason: session.StatusKey(err)})
		return
	case errors.Is(err, session.ErrNotFound):
		msg := session.ErrNotFound.Error()
		if id := r.PathValue("id"); id != "" {
			msg = "session " + id + " not found"
		}
		writeJSON(w, http.StatusNotFound, errorBody{Error: msg})
		return
	case errors.Is(err, session.ErrInvalid):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: strings.TrimPrefix(err.Error(), session.ErrInvalid.Error()+": ")})
		return
	}
	if rec, ok := w.(*recorder); ok {
		rec.err = err.Error()
	}
	if a.storeDown(r.Context(), err) {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "the session store does not answer: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error()})
}

// fieldErrors returns the *session.FieldError leaves of err, none unless
// every leaf is one.
func fieldErrors(err error) []*session.FieldError {
	var out []*session.FieldError
	for _, e := range session.ErrorLeaves(err) {
		var fe *session.FieldError
		if !errors.As(e, &fe) {
			return nil
		}
		out = append(out, fe)
	}
	return out
}

// storeDown classifies an unexpected store error: a timeout, a network
// error, or a store that fails its readiness check means the store is
// down (503, retry later); anything else is a 500.
func (a *api) storeDown(ctx context.Context, err error) bool {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()
	return a.cfg.Ready(pctx) != nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encoding the response failed"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeText(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s+"\n")
}
