package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/radiusd/dynauthtest"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
)

// The dashboard's browser tests drive a real headless Chromium (Debian's
// chromium package; .ci/run installs it) through the DevTools protocol
// (chromedp) against the real server: run() with a real redis-server,
// radclient for accounting, a fake NAS for Disconnect/CoA. They assert
// what the pages show. With HSRADIUS_SCREENSHOTS=1 they write the
// screenshots README shows to docs/screenshots/.

const browserWait = 20 * time.Second // a safety net for one step: steps wait for conditions

// chromiumPath finds Chromium: a skip without it, a failure when CI=true.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: apt-get install chromium")
	}
	t.Skip("chromium not found: apt-get install chromium (the dashboard's browser tests need it)")
	return ""
}

// browser is one headless Chromium tab, and the script errors it reported.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu   sync.Mutex
	errs []string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	bin := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, base: base}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = (&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error()
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				msg = "console.error: " + strings.Join(parts, " ")
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errs = append(b.errs, msg)
			b.mu.Unlock()
		}
	}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser (no timeout on it: a timeout would
	// stop the browser).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b.ctx = ctx
	return b
}

// do runs steps, each bounded by browserWait; on failure it shows the page.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for _, s := range steps {
		var err error
		// A step that started on a page a form submission replaced fails
		// with the old page's script context: it runs again on the new
		// page (bounded).
		for range 5 {
			ctx, cancel := context.WithTimeout(b.ctx, browserWait)
			_, err = chromedp.Run(ctx, s)
			cancel()
			if err == nil || !navigatedAway(err) {
				break
			}
		}
		if err != nil {
			b.t.Fatalf("%s: %v\npage:\n%s\nscript errors: %q", what, err, b.text("body"), b.scriptErrors())
		}
	}
}

// navigatedAway reports an error of a script context a navigation ended.
func navigatedAway(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context with specified id") || strings.Contains(msg, "Execution context was destroyed") ||
		strings.Contains(msg, "Inspected target navigated or closed")
}

// text returns an element's innerText ("" when absent).
func (b *browser) text(sel string) string {
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel)))
	return s
}

// eval evaluates an expression (awaiting a promise) and returns its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) scriptErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// waitText waits until the element's text contains every want: the live
// refresh brings new numbers without a reload.
func waitText(sel string, want ...string) chromedp.Action[chromedp.Void] {
	var conds []string
	for _, w := range want {
		conds = append(conds, fmt.Sprintf("e.innerText.includes(%q)", w))
	}
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && %s; })()`,
		sel, strings.Join(conds, " && ")), chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(browserWait))
}

// setField sets a form field's value as typing would.
func setField(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(sel), value)
}

// screenshot writes docs/screenshots/<name>.png when HSRADIUS_SCREENSHOTS
// is set: desktop (1280×800) and phone (390×844) widths.
func (b *browser) screenshot(name string, width, height int64) {
	b.t.Helper()
	if os.Getenv("HSRADIUS_SCREENSHOTS") == "" {
		return
	}
	b.do("viewport "+name, chromedp.EmulateViewport(width, height))
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.do("viewport back", chromedp.EmulateViewport(1280, 800))
}

// signIn signs in from the sign-in page.
func (b *browser) signIn(token string) {
	b.t.Helper()
	b.do("sign in", chromedp.Navigate(b.base+"/ui/signin"), chromedp.WaitVisible(chromedp.CSS("#token")),
		setField("#token", token), chromedp.Submit(chromedp.CSS("form")), waitText("#main", "Overview"))
}

// contrastJS lists the visible text whose colour has a contrast ratio under
// 4.5:1 (WCAG AA) against the background it is drawn on.
const contrastJS = `(() => {
  const rgb = c => c.match(/[\d.]+/g).map(Number);
  const lum = c => { const [r, g, b] = rgb(c).slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const opaque = c => { const m = rgb(c); return m.length < 4 || m[3] > 0; };
  const bg = el => { for (let e = el; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor; if (opaque(c)) return c; } return 'rgb(255, 255, 255)'; };
  const bad = [];
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (w.nextNode()) {
    const t = w.currentNode, el = t.parentElement;
    if (!t.textContent.trim() || !el.getClientRects().length || el.closest('.sr-only, button:disabled')) continue;
    const a = lum(getComputedStyle(el).color), b = lum(bg(el));
    const r = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (r < 4.5) bad.push(el.tagName + ' "' + t.textContent.trim().slice(0, 40) + '" ' + r.toFixed(2) + ':1');
  }
  return bad;
})()`

// checkContrast fails the test for text under 4.5:1 on the current page.
func (b *browser) checkContrast(page string) {
	b.t.Helper()
	if bad := eval[[]string](b, contrastJS); len(bad) > 0 {
		b.t.Errorf("%s: text under 4.5:1 contrast: %q", page, bad)
	}
}

// radclientSend sends one accounting packet with radclient and checks the
// answer.
func radclientSend(t *testing.T, bin, addr, attrs string) {
	t.Helper()
	cmd := exec.Command(bin, "-x", "-r", "1", "-t", "3", addr, "acct", goodSecret)
	cmd.Stdin = strings.NewReader(attrs + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Accounting-Response") {
		t.Fatalf("radclient %q: %v\n%s", attrs, err, out)
	}
}

// dashboardServer runs radiusd from a file on a real redis-server, with an
// admin token and a NAS whose Disconnect/CoA port is the fake NAS.
func dashboardServer(t *testing.T, token string) (*running, *dynauthtest.NAS) {
	t.Helper()
	srv := redistest.Start(t)
	nas := dynauthtest.Start(t, []byte(goodSecret))
	cfgPath := writeFile(t, "radiusd.yaml", fmt.Sprintf(`
listen: {auth: [%q], acct: [%q]}
redis: {addrs: [%q]}
admin: {listen: %q, token: %q}
enforcement: {dynauth_timeout: 1s, dynauth_tries: 2}
nas:
  - {name: lab, address: 127.0.0.1, secret: %q, coa_port: %d, profiles: [wispr, chillispot]}
`, freeUDP(t), freeUDP(t), srv.Addr, freeTCP(t), token, goodSecret, nas.Port()))
	return startRun(t, []string{"-config", cfgPath}, nil), nas
}

// TestDashboardBrowser is the operator's round in a real browser: sign in,
// create a session, see it in the device list, see consumption move with
// radclient's accounting, top up, disconnect (the fake NAS receives the
// Disconnect-Request), sign out.
func TestDashboardBrowser(t *testing.T) {
	rc := radclientPath(t)
	const token = "dashboard-test-token-0123456789"
	r, nas := dashboardServer(t, token)
	b := newBrowser(t, "http://"+r.Admin)
	base := b.base

	// Signed out, the dashboard sends the browser to the sign-in page; a
	// wrong token is refused there.
	b.do("sign-in page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.do("wrong token", setField("#token", "not-the-token"), chromedp.Submit(chromedp.CSS("form")),
		waitText("#signin-error", "Wrong token"))
	b.signIn(token)
	b.do("overview", waitText("#stat-devices-online", "Devices online", "0"), waitText("#stat-redis", "OK"))
	if got := eval[string](b, `document.cookie`); got != "" {
		t.Errorf("the session cookie is readable by scripts (not HttpOnly): %q", got)
	}
	// Without the CSRF token the API refuses a change the cookie alone
	// would authorize.
	if st := eval[int](b, `fetch('/v1/devices/aa:bb:cc:dd:ee:ff/sessions', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"type":"time","time_secs":60,"use_global_speed":true}'}).then(r => r.status)`); st != 403 {
		t.Errorf("POST with the cookie and no X-CSRF-Token: status %d, want 403", st)
	}

	// Create a 1-hour session at 10/2 Mbit/s from the device page.
	b.do("device page", chromedp.Navigate(base+"/ui/#/device/aa:bb:cc:dd:ee:ff"), waitText("#main", "No session yet"))
	b.do("create session",
		chromedp.SetValue(chromedp.CSS("#create select[name=type]"), "time"),
		setField("#create input[name=time]", "1"),
		chromedp.SetValue(chromedp.CSS("#create select[name=unit]"), "3600"),
		setField("#create input[name=down]", "10"),
		setField("#create input[name=up]", "2"),
		setField("#create input[name=provider]", "front desk"),
		chromedp.Click(chromedp.CSS("#create button[type=submit]")),
		waitText("#create-result", "Created", "1 h left"),
		waitText(`tr[data-session="aabbccddeeff-1"]`, "1 h of 1 h left", "front desk", "available", "not used yet"))

	// The device list shows it, offline.
	b.do("device list", chromedp.Navigate(base+"/ui/#/devices"),
		waitText(`tr[data-mac="aa:bb:cc:dd:ee:ff"]`, "aa:bb:cc:dd:ee:ff", "offline", "1 h of 1 h left"))
	b.screenshot("devices-desktop", 1280, 800)

	// Accounting with radclient: the list refreshes by itself.
	acct := r.Acct[0]
	radclientSend(t, rc, acct, "Acct-Status-Type=Start,Acct-Session-Id=s1,Calling-Station-Id=aa-bb-cc-dd-ee-ff,User-Name=aa:bb:cc:dd:ee:ff,Framed-IP-Address=10.5.50.7")
	b.do("online after Start", waitText(`tr[data-mac="aa:bb:cc:dd:ee:ff"]`, "online"))
	radclientSend(t, rc, acct, "Acct-Status-Type=Interim-Update,Acct-Session-Id=s1,Calling-Station-Id=aa-bb-cc-dd-ee-ff,User-Name=aa:bb:cc:dd:ee:ff,Acct-Session-Time=60,Acct-Input-Octets=1000000,Acct-Output-Octets=4000000")
	b.do("consumption moves", waitText(`tr[data-mac="aa:bb:cc:dd:ee:ff"]`, "59 min of 1 h left"))

	// The device page: consumption, the NAS session now.
	b.do("device page after accounting", chromedp.Navigate(base+"/ui/#/device/aa:bb:cc:dd:ee:ff"),
		waitText(`tr[data-session="aabbccddeeff-1"]`, "59 min of 1 h left", "1 min · 5 MB"),
		waitText("#main", "NAS sessions now", "s1", "10.5.50.7", "lab"))
	radclientSend(t, rc, acct, "Acct-Status-Type=Interim-Update,Acct-Session-Id=s1,Calling-Station-Id=aa-bb-cc-dd-ee-ff,User-Name=aa:bb:cc:dd:ee:ff,Acct-Session-Time=300,Acct-Input-Octets=3000000,Acct-Output-Octets=17000000")
	b.do("consumption moves on the device page", waitText(`tr[data-session="aabbccddeeff-1"]`, "55 min of 1 h left", "5 min · 20 MB"))
	b.screenshot("device-phone", 390, 844)
	b.do("overview while online", chromedp.Navigate(base+"/ui/#/"), waitText("#stat-devices-online", "1 NAS sessions open"),
		// The rates come from two samples: the second poll shows them.
		chromedp.Poll[chromedp.Void](`document.querySelector('#stat-accounting .value').innerText !== '—'`,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(browserWait)))
	b.screenshot("overview-desktop", 1280, 800)
	b.screenshot("overview-phone", 390, 844)
	b.do("back to the device", chromedp.Navigate(base+"/ui/#/device/aa:bb:cc:dd:ee:ff"), waitText("#main", "Top up", "lab"))

	// Top up 30 minutes: the NAS session is told the new limits (CoA).
	b.do("top up", setField("#topup input[name=amount]", "30"),
		chromedp.SetValue(chromedp.CSS("#topup select[name=unit]"), "60"),
		chromedp.Click(chromedp.CSS("#topup button[type=submit]")),
		waitText("#main", "Topped up", "lab ACK"),
		waitText(`tr[data-session="aabbccddeeff-1"]`, "1 h 25 min of 1 h 30 min left"))
	if req := nas.Next(t); req.Code != radius.CodeCoARequest || !req.AuthOK {
		t.Errorf("after the top-up the NAS got %v (authenticator ok %v), want a CoA-Request", req.Code, req.AuthOK)
	}
	b.screenshot("device-desktop", 1280, 800)

	// A refused change shows the API's own answer (the same rules as curl).
	b.do("refused edit", chromedp.Click(chromedp.CSS("#edit"), chromedp.NodeReady),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#edit').closest('details').open = true`),
		setField("#edit input[name=data]", "100"),
		chromedp.Click(chromedp.CSS("#edit button[type=submit]")),
		waitText("#main", "data_mb"))

	// Disconnect: the fake NAS receives the Disconnect-Request and ACKs.
	b.do("disconnect", chromedp.Click(chromedp.CSS("#disconnect")), waitText("#disconnect-result", "lab s1: ACK"),
		waitText("#recent-nas", "s1", "open", "5 min", "20 MB"))
	if req := nas.Next(t); req.Code != radius.CodeDisconnectRequest || !req.AuthOK {
		t.Errorf("the NAS got %v (authenticator ok %v), want a Disconnect-Request", req.Code, req.AuthOK)
	}

	// The NAS ends its session (as it does after a Disconnect): the day's
	// list shows it stopped, the session's consumption stays.
	radclientSend(t, rc, acct, "Acct-Status-Type=Stop,Acct-Session-Id=s1,Calling-Station-Id=aa-bb-cc-dd-ee-ff,User-Name=aa:bb:cc:dd:ee:ff,Acct-Session-Time=310,Acct-Input-Octets=3000000,Acct-Output-Octets=17000000,Acct-Terminate-Cause=Admin-Reset")
	b.do("stopped", waitText("#main", "Not online: no open NAS session"), chromedp.Click(chromedp.CSS("#recent-refresh")),
		waitText("#recent-nas", "s1", "stopped", "5 min", "20 MB", "aabbccddeeff-1"))

	// The overview and NAS pages count what happened.
	b.do("overview", chromedp.Navigate(base+"/ui/#/"), waitText("#stat-devices-online", "0 NAS sessions open"),
		waitText("#stat-accounting", "4 since start"), waitText("#main", "lab", "127.0.0.1/32"))
	b.do("nas page", chromedp.Navigate(base+"/ui/#/nas"), waitText("#nas-list", "lab", "127.0.0.1/32", "wispr, chillispot"),
		waitText("#main", "accounted"))

	// Keyboard: every control on the device page is reachable by Tab (none
	// has a negative tabindex) and every input has a label.
	b.do("device page for a11y", chromedp.Navigate(base+"/ui/#/device/aa:bb:cc:dd:ee:ff"), waitText("#main", "Top up"))
	if n := eval[int](b, `[...document.querySelectorAll('input, select')].filter(e => !(e.labels && e.labels.length)).length`); n != 0 {
		t.Errorf("%d inputs without a label", n)
	}
	if n := eval[int](b, `document.querySelectorAll('[tabindex^="-"]:not(main)').length`); n != 0 {
		t.Errorf("%d controls taken out of the keyboard order", n)
	}
	b.checkContrast("device page")
	// From the top, Tab reaches the skip link first, shown when focused,
	// then the navigation, with a visible focus outline.
	b.do("keyboard", chromedp.Reload(), waitText("#main", "Top up"), chromedp.KeyEvent(kb.Tab))
	if got := eval[string](b, `document.activeElement.textContent + ' ' + document.activeElement.getBoundingClientRect().width`); !strings.HasPrefix(got, "Skip to content ") || strings.HasSuffix(got, " 1") {
		t.Errorf("first Tab: focus on %q, want the visible skip link", got)
	}
	b.do("keyboard", chromedp.KeyEvent(kb.Tab))
	if got := eval[string](b, `document.activeElement.textContent + ' ' + getComputedStyle(document.activeElement).outlineStyle`); got != "hsradius solid" {
		t.Errorf("second Tab: %q, want the brand link with a solid focus outline", got)
	}
	b.do("overview for contrast", chromedp.Navigate(base+"/ui/#/"), waitText("#stat-redis", "OK"))
	b.checkContrast("overview")

	// A hidden tab stops polling; shown again, it refreshes at once.
	b.do("hidden", chromedp.Evaluate[chromedp.Void](`Object.defineProperty(document, 'hidden', {configurable: true, get: () => true}); document.dispatchEvent(new Event('visibilitychange'))`),
		waitText("#live", "Paused while hidden"))
	b.do("shown", chromedp.Evaluate[chromedp.Void](`Object.defineProperty(document, 'hidden', {configurable: true, get: () => false}); document.dispatchEvent(new Event('visibilitychange'))`),
		waitText("#live", "Live · updated"))

	// Sign out: back to the sign-in page, and the API refuses the old cookie.
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#token")))
	if st := eval[int](b, `fetch('/v1/overview').then(r => r.status)`); st != 401 {
		t.Errorf("GET /v1/overview after sign-out: %d, want 401", st)
	}
	if errs := b.scriptErrors(); len(errs) > 0 {
		t.Errorf("script errors in the pages: %q", errs)
	}
}

// TestDashboardVouchers creates a plan and a batch of vouchers in the
// browser, checks the print-ready sheet (print media: only the codes),
// the CSV export and revoking a code.
func TestDashboardVouchers(t *testing.T) {
	const token = "dashboard-test-token-0123456789"
	r, _ := dashboardServer(t, token)
	b := newBrowser(t, "http://"+r.Admin)
	b.signIn(token)

	b.do("plans page", chromedp.Navigate(b.base+"/ui/#/plans"), waitText("#main", "No plan yet"))
	b.do("create plan", setField("#plan-create input[name=name]", "day-pass"),
		chromedp.SetValue(chromedp.CSS("#plan-create select[name=type]"), "time_or_data"),
		setField("#plan-create input[name=time]", "1440"), setField("#plan-create input[name=data]", "2000"),
		setField("#plan-create input[name=exp]", "2"), setField("#plan-create input[name=down]", "20"),
		setField("#plan-create input[name=up]", "5"), setField("#plan-create input[name=price]", "2.5"),
		setField("#plan-create input[name=currency]", "EUR"),
		chromedp.Click(chromedp.CSS("#plan-create button[type=submit]")),
		waitText("#plan-list", "day-pass", "Time or data", "1 d", "2,000 MB", "20/5 Mbit/s", "€2.50"))
	// The API's validation answers in the page: the same rules as curl.
	b.do("refused plan", setField("#plan-create input[name=name]", "hour"),
		chromedp.SetValue(chromedp.CSS("#plan-create select[name=type]"), "time"),
		setField("#plan-create input[name=time]", "60"),
		chromedp.Click(chromedp.CSS("#plan-create button[type=submit]")),
		waitText("#main", "down_mbits: must be positive unless the session uses the global speed"))

	b.do("vouchers page", chromedp.Navigate(b.base+"/ui/#/vouchers"), waitText("#batch-create", "day-pass"))
	b.do("create batch", setField("#batch-create input[name=count]", "6"), setField("#batch-create input[name=prefix]", "ds"),
		setField("#batch-create input[name=note]", "front desk, December"),
		chromedp.Click(chromedp.CSS("#batch-create button[type=submit]")),
		waitText("#main", "Sheet: 6 unused codes", "front desk, December", "day-pass"))
	codes := eval[[]string](b, `[...document.querySelectorAll('.voucher .code')].map(e => e.dataset.code + ' ' + e.innerText)`)
	if len(codes) != 6 {
		t.Fatalf("the sheet shows %d codes, want 6: %q", len(codes), codes)
	}
	for i, c := range codes {
		code, shown, _ := strings.Cut(c, " ")
		if !strings.HasPrefix(code, "DS") || len(code) != 12 || shown != code[:4]+"-"+code[4:8]+"-"+code[8:] {
			t.Errorf("code %q shown as %q: want the prefix DS, 10 characters after it, in groups of four", code, shown)
		}
		codes[i] = code
	}
	id := eval[string](b, `location.hash.split('/')[2]`)

	// CSV export: the link downloads the batch with the session cookie.
	csv := eval[string](b, `fetch(document.querySelector('#csv').href).then(r => r.text())`)
	if !strings.HasPrefix(csv, "code,plan,batch,state") || strings.Count(csv, "\n") != 7 || !strings.Contains(csv, codes[0]+",day-pass,"+id+",unused") {
		t.Errorf("CSV export:\n%s", csv)
	}

	// Revoke one code (the confirmation dialog answered yes).
	b.do("revoke a code", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Revoke %s"]`, codes[0]))),
		waitText("#main", "Code "+codes[0]+" revoked", "Sheet: 5 unused codes", "revoked"))

	b.checkContrast("voucher batch")
	b.screenshot("vouchers-desktop", 1280, 800)
	b.screenshot("vouchers-phone", 390, 844)

	// Printed, the sheet is the codes alone: no navigation, no buttons.
	b.do("print media", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		func(ctx context.Context, tgt *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tgt, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
			return chromedp.Void{}, err
		})
	if hidden := eval[bool](b, `['.top', '#batch-codes', '#print', '#csv', '#batch-info', '[role=status]'].every(s => document.querySelector(s).getClientRects().length === 0) && document.querySelector('.voucher').getClientRects().length > 0`); !hidden {
		t.Errorf("in print media the navigation, buttons or code table still show")
	}
	b.screenshot("vouchers-print", 1280, 800)
	if errs := b.scriptErrors(); len(errs) > 0 {
		t.Errorf("script errors in the pages: %q", errs)
	}
}

// TestDashboardDemo: the demo serves the dashboard without a sign-in (no
// token, loopback), as README's first screen says.
func TestDashboardDemo(t *testing.T) {
	r := startRun(t, nil, map[string]string{
		envDemoRedisAddr: "127.0.0.1:0",
		envDemoAuthAddr:  "127.0.0.1:0",
		envDemoAcctAddr:  "127.0.0.1:0",
		envDemoAdminAddr: "127.0.0.1:0",
	})
	if code, body := get(t, "POST", "http://"+r.Admin+"/v1/devices/"+testMAC+"/sessions", "", `{"type":"data","data_mb":500,"use_global_speed":true}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	b := newBrowser(t, "http://"+r.Admin)
	b.do("demo overview", chromedp.Navigate(b.base+"/"), waitText("#main", "Overview", "demo", "127.0.0.1/32"), waitText("#stat-redis", "OK"))
	if visible := eval[bool](b, `!document.querySelector('#signout').hidden`); visible {
		t.Error("the demo shows a Sign out button: there is no sign-in without a token")
	}
	b.do("demo devices", chromedp.Navigate(b.base+"/ui/#/devices?q=ee:ff"),
		waitText(`tr[data-mac="aa:bb:cc:dd:ee:ff"]`, "500 MB of 500 MB left"))
	if errs := b.scriptErrors(); len(errs) > 0 {
		t.Errorf("script errors in the pages: %q", errs)
	}
}
