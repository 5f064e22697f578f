package radiusd

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// validConfig is a valid Config with its defaults set, enforcement on.
func validConfig() Config {
	c := Config{NAS: []NAS{testNAS()}, Enforce: &EnforceConfig{}}
	c.SetDefaults()
	return c
}

// configErrors returns "key: problem" of every *ConfigError in err, and
// fails on any other error.
func configErrors(t *testing.T, err error) []string {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	var out []string
	for _, e := range errs {
		var ce *ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("%v (%T) is not a *ConfigError", e, e)
		}
		out = append(out, ce.Key+": "+ce.Problem)
	}
	return out
}

// TestConfigValidate checks each rule of Config, NAS and EnforceConfig: the
// problem names the key at fault, and it is the only problem.
func TestConfigValidate(t *testing.T) {
	nas2 := func(name, prefix string) NAS {
		n := testNAS()
		n.Name, n.Prefix = name, netip.MustParsePrefix(prefix)
		n.SetDefaults()
		return n
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // "" : valid; else the prefix of the one problem
	}{
		{"valid", func(c *Config) {}, ""},
		{"interim below 60s", func(c *Config) { c.AcctInterimInterval = 30 * time.Second }, "acct_interim_interval: 30s: must be at least 60s"},
		{"interim zero", func(c *Config) { c.AcctInterimInterval = 0 }, "acct_interim_interval: 0s: must be at least 60s"},
		{"interim fraction", func(c *Config) { c.AcctInterimInterval = 90500 * time.Millisecond }, "acct_interim_interval: 1m30.5s: want whole seconds"},
		{"idle negative", func(c *Config) { c.IdleTimeout = -time.Second }, "idle_timeout: -1s: must not be negative"},
		{"idle fraction", func(c *Config) { c.IdleTimeout = 1500 * time.Millisecond }, "idle_timeout: 1.5s: want whole seconds"},
		{"cache ttl short", func(c *Config) { c.CacheTTL = 2 * time.Second }, "response_cache_ttl: 2s: want 5s to 30s"},
		{"cache ttl long", func(c *Config) { c.CacheTTL = time.Minute }, "response_cache_ttl: 1m0s: want 5s to 30s"},
		{"cache max", func(c *Config) { c.CacheMax = 0 }, "cache_max: 0: want at least 1"},
		{"max in flight", func(c *Config) { c.MaxInFlight = -1 }, "max_in_flight: -1: want at least 1"},
		{"store timeout", func(c *Config) { c.StoreTimeout = 0 }, "store_timeout: 0s: must be above zero"},
		{"no NAS", func(c *Config) { c.NAS = nil }, "nas: empty: configure at least one NAS"},
		{"NAS name empty", func(c *Config) { c.NAS[0].Name = "" }, "nas[0].name: empty"},
		{"NAS name with @", func(c *Config) { c.NAS[0].Name = "a@b" }, `nas[0].name: "a@b": want at most 64 letters`},
		{"NAS name long", func(c *Config) { c.NAS[0].Name = strings.Repeat("a", 65) }, "nas[0].name: "},
		{"NAS names twice", func(c *Config) { c.NAS = append(c.NAS, nas2("nas1", "10.9.0.0/16")) }, `nas[1].name: "nas1": already used by nas[0]`},
		{"NAS address empty", func(c *Config) { c.NAS[0].Prefix = netip.Prefix{} }, "nas[0].address: empty: want an IP address or CIDR prefix"},
		{"NAS address IPv4-mapped", func(c *Config) { c.NAS[0].Prefix = netip.MustParsePrefix("::ffff:10.0.0.0/104") }, "nas[0].address: ::ffff:10.0.0.0/104: an IPv4-mapped IPv6 prefix never matches"},
		{"NAS address twice after masking", func(c *Config) { c.NAS = append(c.NAS, nas2("b", "10.0.0.7/24")) }, "nas[1].address: 10.0.0.0/24: already the address of nas[0] (nas1)"},
		{"NAS address nested is fine", func(c *Config) { c.NAS = append(c.NAS, nas2("b", "10.0.0.7/32")) }, ""},
		{"NAS secret empty", func(c *Config) { c.NAS[0].Secret = nil }, "nas[0].secret: empty"},
		{"NAS profile unknown", func(c *Config) { c.NAS[0].Profiles = []Profile{ProfileWISPr, "cisco"} }, `nas[0].profiles[1]: unknown vendor profile "cisco"`},
		{"NAS profile spelt otherwise", func(c *Config) { c.NAS[0].Profiles = []Profile{"WISPr"} }, `nas[0].profiles[0]: unknown vendor profile "WISPr"`},
		{"NAS profile twice", func(c *Config) { c.NAS[0].Profiles = []Profile{ProfileWISPr, ProfileChilli, ProfileWISPr} }, "nas[0].profiles[2]: wispr: listed twice"},
		{"NAS no profiles", func(c *Config) { c.NAS[0].Profiles = nil }, ""},
		{"NAS coa port off", func(c *Config) { c.NAS[0].CoAPort = 0 }, ""},
		{"NAS coa port", func(c *Config) { c.NAS[0].CoAPort = 70000 }, "nas[0].coa_port: 70000: want a port from 1 to 65535, or 0"},
		{"NAS on spill", func(c *Config) { c.NAS[0].OnSpill = 7 }, "nas[0].on_spill: unknown action 7"},
		{"NAS MA policy", func(c *Config) { c.NAS[0].MAPolicy = 7 }, "nas[0].require_message_authenticator: unknown policy 7"},
		{"NAS password mode", func(c *Config) { c.NAS[0].Password = 7 }, "nas[0].password: unknown mode 7"},
		{"NAS fixed without password", func(c *Config) { c.NAS[0].Password = PasswordFixed }, "nas[0].fixed_password: empty, but password is fixed"},
		{"NAS password without fixed: unused", func(c *Config) { c.NAS[0].FixedPassword = "pw" }, ""},
		{"NAS login", func(c *Config) { c.NAS[0].Login = 7 }, "nas[0].login: unknown style 7"},
		{"NAS accounting updates", func(c *Config) { c.NAS[0].Acct.Updates = 7 }, "nas[0].accounting_updates: unknown value 7"},
		{"NAS window short", func(c *Config) { c.NAS[0].Acct.RetransmitWindow = time.Second }, "nas[0].retransmit_window: 1s: want 5s to 1h"},
		{"NAS window long", func(c *Config) { c.NAS[0].Acct.RetransmitWindow = 2 * time.Hour }, "nas[0].retransmit_window: 2h0m0s: want 5s to 1h"},
		{"NAS window of reset segments", func(c *Config) {
			c.NAS[0].Acct = session.AcctPolicy{Updates: session.AcctUpdatesStopStartReset, RetransmitWindow: time.Minute}
		}, "nas[0].retransmit_window: 1m0s: accounting_updates: stop_start_reset"},
		{"dynauth timeout", func(c *Config) { c.Enforce.DynAuthTimeout = 0 }, "enforcement.dynauth_timeout: 0s: must be above zero"},
		{"dynauth tries", func(c *Config) { c.Enforce.DynAuthTries = 11 }, "enforcement.dynauth_tries: 11: want 1 to 10 (default 3)"},
		{"workers none", func(c *Config) { c.Enforce.Workers = 0 }, "enforcement.workers: 0: want at least 1 (default 16)"},
		{"workers many", func(c *Config) { c.Enforce.Workers = 1025 }, "enforcement.workers: 1025: want at most 1024"},
		{"queue none", func(c *Config) { c.Enforce.Queue = -5 }, "enforcement.queue: -5: want at least 1 (default 4096)"},
		{"queue huge", func(c *Config) { c.Enforce.Queue = 1<<20 + 1 }, "enforcement.queue: 1048577: want at most 1048576"},
		{"schedule every", func(c *Config) { c.Enforce.ScheduleEvery = 0 }, "enforcement.schedule_every: 0s: must be above zero"},
		{"reap every", func(c *Config) { c.Enforce.ReapEvery = -time.Second }, "enforcement.reap_every: -1s: must be above zero"},
		{"reap after negative", func(c *Config) { c.Enforce.ReapAfter = -time.Second }, "enforcement.reap_after: -1s: must not be negative"},
		{"reap after 0: 3 intervals + 1m", func(c *Config) { c.Enforce.ReapAfter = 0 }, ""},
		{"reap after short", func(c *Config) { c.Enforce.ReapAfter = 9 * time.Minute }, "enforcement.reap_after: 9m0s: must be at least twice acct_interim_interval (5m0s)"},
		{"reap after against a bad interim", func(c *Config) {
			c.Enforce.ReapAfter = time.Minute
			c.AcctInterimInterval = time.Second
		}, "acct_interim_interval: 1s"},
		{"enforcement off", func(c *Config) { c.Enforce = nil }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c)
			got := configErrors(t, c.Validate())
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("got %q, want no problem", got)
			case tc.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tc.want)):
				t.Errorf("got %q, want one problem starting with %q", got, tc.want)
			}
		})
	}
}

// TestConfigValidateEveryProblem: one call reports every problem, the NAS
// entries' and enforcement's among the server's.
func TestConfigValidateEveryProblem(t *testing.T) {
	c := validConfig()
	c.AcctInterimInterval = time.Second
	c.CacheTTL = time.Hour
	c.NAS = append(c.NAS, NAS{Name: "nas1", Prefix: c.NAS[0].Prefix, CoAPort: -1})
	c.Enforce.Workers = 0
	got := configErrors(t, c.Validate())
	want := []string{"acct_interim_interval", "response_cache_ttl", "nas[1].secret", "nas[1].coa_port", "nas[1].name", "nas[1].address", "nas[1].retransmit_window", "enforcement.workers"}
	var keys []string
	for _, g := range got {
		k, _, _ := strings.Cut(g, ": ")
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("got %q,\nwant the keys %q", got, want)
	}

	n := c.NAS[1]
	if got := configErrors(t, n.Validate()); len(got) != 3 || !strings.HasPrefix(got[0], "secret: empty") {
		t.Errorf("NAS.Validate: got %q, want secret, coa_port and retransmit_window, keyed from the entry", got)
	}
	if got := configErrors(t, c.Enforce.Validate()); len(got) != 1 || !strings.HasPrefix(got[0], "workers: 0") {
		t.Errorf("EnforceConfig.Validate: got %q", got)
	}
}

// TestConfigValidateNeverEchoesSecrets: no problem repeats a secret, even
// of a NAS whose every field is wrong.
func TestConfigValidateNeverEchoesSecrets(t *testing.T) {
	const secret, coa, fixed = "nas-secret-value", "coa-secret-value", "fixed-password-value"
	c := validConfig()
	c.NAS[0] = NAS{Name: "bad name", Secret: []byte(secret), CoASecret: []byte(coa), FixedPassword: fixed, Password: 9, CoAPort: -3, MAPolicy: 9}
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, s := range []string{secret, coa, fixed} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error repeats %q:\n%v", s, err)
		}
	}
}

// TestConfigSetDefaults checks what a zero Config becomes, and that
// SetDefaults keeps what is set.
func TestConfigSetDefaults(t *testing.T) {
	c := Config{
		NAS: []NAS{
			{Name: "a", Secret: []byte("s")},
			{Name: "b", Secret: []byte("s"), CoASecret: []byte("c"), Acct: session.AcctPolicy{Updates: session.AcctUpdatesStopStartReset}},
			{Name: "c", Acct: session.AcctPolicy{RetransmitWindow: time.Minute}},
		},
		Enforce:             &EnforceConfig{Workers: 3},
		AcctInterimInterval: 10 * time.Minute,
	}
	c.SetDefaults()
	if c.AcctInterimInterval != 10*time.Minute || c.CacheTTL != DefaultCacheTTL || c.CacheMax != DefaultCacheMax ||
		c.MaxInFlight != DefaultMaxInFlight || c.StoreTimeout != DefaultStoreTimeout || c.Now == nil || c.IdleTimeout != 0 {
		t.Errorf("server: got %+v", c)
	}
	want := EnforceConfig{DynAuthTimeout: 2 * time.Second, DynAuthTries: 3, Workers: 3, Queue: 4096, ScheduleEvery: time.Second,
		ReapAfter: 31 * time.Minute, ReapEvery: time.Minute}
	if *c.Enforce != want {
		t.Errorf("enforce: got %+v, want %+v", *c.Enforce, want)
	}
	a, b, cc := c.NAS[0], c.NAS[1], c.NAS[2]
	if string(a.CoASecret) != "s" || a.Acct.RetransmitWindow != 2*time.Minute || a.CoAPort != 0 || a.Profiles != nil {
		t.Errorf("a: got %+v", a)
	}
	if string(b.CoASecret) != "c" || b.Acct.RetransmitWindow != 20*time.Second {
		t.Errorf("b: got %+v", b)
	}
	if cc.Acct.RetransmitWindow != time.Minute {
		t.Errorf("c: got %+v", cc)
	}
}

// nopEnforceStore satisfies EnforceStore for a server that is never run.
type nopEnforceStore struct{ EnforceStore }

// TestNewValidatesWithTheSameRules: New applies Validate's rules (a library
// user gets the configuration file's), after the defaults, and leaves the
// caller's Config as it was.
func TestNewValidatesWithTheSameRules(t *testing.T) {
	nas := []NAS{testNAS()}
	enf := &EnforceConfig{Store: nopEnforceStore{}}
	cfg := Config{NAS: nas, Store: newFakeStore(), Enforce: enf}
	if _, err := New(cfg); err != nil {
		t.Fatalf("New: %v", err)
	}
	if nas[0].CoASecret != nil || nas[0].Acct.RetransmitWindow != 0 || enf.Workers != 0 || enf.ReapAfter != 0 {
		t.Errorf("New changed the caller's NAS %+v or enforcement %+v", nas[0], *enf)
	}

	cfg.Enforce = &EnforceConfig{Store: nopEnforceStore{}, Queue: maxEnforceQueue + 1}
	cfg.NAS = []NAS{testNAS(), testNAS()}
	_, err := New(cfg)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *ConfigError in it", err)
	}
	for _, want := range []string{"radiusd: ", `nas[1].name: "nas1": already used by nas[0]`, "nas[1].address", "enforcement.queue: 1048577"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
