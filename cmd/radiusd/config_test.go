package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/radiusd/radsec/radsectest"
)

// goodSecret is long enough not to draw the BlastRADIUS warning.
const goodSecret = "0123456789abcdef-secret"

// minimal is the smallest valid configuration.
const minimal = `
nas:
  - name: office
    address: 192.168.88.1
    secret: "` + goodSecret + `"
`

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadYAML(t *testing.T, yaml string, env map[string]string) (*Config, error) {
	t.Helper()
	return loadConfig(options{configPath: writeFile(t, "radiusd.yaml", yaml)}, envFunc(env))
}

// TestConfigInvalid checks that every invalid configuration is a
// *configError whose message names the key at fault.
func TestConfigInvalid(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-secret")
	nas := func(extra string) string {
		return "nas:\n  - name: office\n    address: 192.168.88.1\n    secret: \"" + goodSecret + "\"\n" + extra
	}
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"bad YAML", "nas: [\n", nil, []string{"yaml:", "line"}},
		{"empty file", "", nil, []string{"the file is empty"}},
		{"two documents", minimal + "---\nlog: {level: info}\n", nil, []string{"more than one YAML document"}},
		{"unknown top-level key", minimal + "nass: []\n", nil, []string{"nass: unknown key (line", "did you mean nas?"}},
		{"unknown nested key", nas("    secrett: x\n"), nil, []string{"nas[0].secrett: unknown key", "did you mean secret?"}},
		{"unknown key lists known ones", minimal + "redis: {sentinels: [a]}\n", nil, []string{"redis.sentinels: unknown key", "known keys under redis: addrs,"}},
		{"wrong type", nas("    global_down_mbits: -1\n"), nil, []string{`nas[0].global_down_mbits: got "-1", want a whole number`}},
		{"wrong kind", minimal + "listen: {auth: 127.0.0.1:1812}\n", nil, []string{"listen.auth: got", "want a list"}},
		{"duplicate key", nas("    secret: again\n"), nil, []string{"nas[0].secret: set twice, on lines 4 and 5"}},
		{"duplicate top-level key", minimal + "log: {level: info}\nlog: {level: debug}\n", nil, []string{"log: set twice, on lines 6 and 7"}},
		{"flow style picks the key by value", "nas:\n  - {name: a, address: 10.0.0.1, secret: " + goodSecret + ", global_up_mbits: -1, profiles: wispr}\n", nil,
			[]string{`nas[0].global_up_mbits: got "-1", want a whole number`, `nas[0].profiles: got a string, want a list`}},
		{"no nas key", "log: {level: info}\n", nil, []string{"nas: empty: configure at least one NAS"}},
		{"empty nas list", "nas: []\n", nil, []string{"nas: empty"}},
		{"duplicate nas name", nas("  - name: office\n    address: 10.0.0.1\n    secret: \"" + goodSecret + "\"\n"), nil,
			[]string{`nas[1].name: "office": already used by nas[0]`}},
		{"identical address", nas("  - name: other\n    address: 192.168.88.1/32\n    secret: \"" + goodSecret + "\"\n"), nil,
			[]string{"nas[1].address: 192.168.88.1/32: already the address of nas[0] (office)"}},
		{"identical IPv6 address", "nas:\n  - {name: a, address: '2001:db8::/64', secret: " + goodSecret + "}\n  - {name: b, address: '2001:db8:0:0::/64', secret: " + goodSecret + "}\n", nil,
			[]string{"nas[1].address: 2001:db8::/64: already the address of nas[0]"}},
		{"bad CIDR", "nas:\n  - {name: a, address: 10.0.0.0/33, secret: " + goodSecret + "}\n", nil, []string{`nas[0].address: "10.0.0.0/33": want an IP address or CIDR prefix`}},
		{"bad IP", "nas:\n  - {name: a, address: router.lan, secret: " + goodSecret + "}\n", nil, []string{`nas[0].address: "router.lan"`}},
		{"no address", "nas:\n  - {name: a, secret: " + goodSecret + "}\n", nil, []string{"nas[0].address: empty"}},
		{"IPv4-mapped prefix", "nas:\n  - {name: a, address: '::ffff:10.0.0.0/104', secret: " + goodSecret + "}\n", nil, []string{"nas[0].address", "IPv4-mapped"}},
		{"bad name", "nas:\n  - {name: 'a b', address: 10.0.0.1, secret: " + goodSecret + "}\n", nil, []string{`nas[0].name: "a b"`}},
		{"no name", "nas:\n  - {address: 10.0.0.1, secret: " + goodSecret + "}\n", nil, []string{"nas[0].name: empty"}},
		{"bad profile", nas("    profiles: [mikrotik, cisco]\n"), nil, []string{`nas[0].profiles[1]: unknown vendor profile "cisco"`}},
		{"profile twice", nas("    profiles: [wispr, WISPr]\n"), nil, []string{"nas[0].profiles[1]: wispr: listed twice"}},
		{"empty profiles", nas("    profiles: []\n"), nil, []string{"nas[0].profiles: empty list"}},
		{"missing secret", "nas:\n  - {name: a, address: 10.0.0.1}\n", nil, []string{"nas[0].secret: empty (set secret, secret_env or secret_file)"}},
		{"secret and secret_env", nas("    secret_env: NAS_SECRET\n"), map[string]string{"NAS_SECRET": goodSecret},
			[]string{"nas[0].secret_env: secret is also set: use exactly one of secret, secret_env or secret_file"}},
		{"secret_env and secret_file", "nas:\n  - {name: a, address: 10.0.0.1, secret_env: X, secret_file: /etc/x}\n", map[string]string{"X": goodSecret},
			[]string{"nas[0].secret_file: secret_env is also set"}},
		{"secret_env unset", "nas:\n  - {name: a, address: 10.0.0.1, secret_env: NO_SUCH_SECRET}\n", nil, []string{"nas[0].secret_env: environment variable NO_SUCH_SECRET is not set or empty"}},
		{"secret_file missing", "nas:\n  - {name: a, address: 10.0.0.1, secret_file: " + missing + "}\n", nil, []string{"nas[0].secret_file: " + missing + ": no such file or directory"}},
		{"coa secret twice", nas("    coa_secret: " + goodSecret + "\n    coa_secret_env: X\n"), map[string]string{"X": "y"}, []string{"nas[0].coa_secret_env: coa_secret is also set"}},
		{"bad coa port", nas("    coa_port: 70000\n"), nil, []string{"nas[0].coa_port: 70000"}},
		{"bad MA policy", nas("    require_message_authenticator: maybe\n"), nil, []string{`nas[0].require_message_authenticator: "maybe": want yes, auto or no`}},
		{"bad password mode", nas("    password: secret\n"), nil, []string{`nas[0].password: want any, mac or fixed (the value is not shown`}},
		{"fixed without fixed_password", nas("    password: fixed\n"), nil, []string{"nas[0].fixed_password: empty, but password is fixed (set fixed_password, fixed_password_env or fixed_password_file)"}},
		{"fixed_password without fixed", nas("    fixed_password: pw\n"), nil, []string{`nas[0].fixed_password: set, but password is "any"`}},
		{"fixed_password_env unset", nas("    password: fixed\n    fixed_password_env: MAC_PW\n"), nil, []string{"nas[0].fixed_password_env: environment variable MAC_PW"}},
		{"bad duration", minimal + "radius: {store_timeout: 2}\n", nil, []string{`radius.store_timeout: "2": want a duration with a unit`}},
		{"bad duration word", minimal + "redis: {timeout: soon}\n", nil, []string{`redis.timeout: "soon"`}},
		{"zero store timeout", minimal + "radius: {store_timeout: 0s}\n", nil, []string{"radius.store_timeout: 0s: must be above zero"}},
		{"negative duration", minimal + "radius: {idle_timeout: -5s}\n", nil, []string{"radius.idle_timeout: -5s: must not be negative"}},
		{"interim below 60s", minimal + "radius: {acct_interim_interval: 30s}\n", nil, []string{"radius.acct_interim_interval: 30s: must be at least 60s"}},
		{"interim fraction", minimal + "radius: {acct_interim_interval: 90.5s}\n", nil, []string{"radius.acct_interim_interval: 1m30.5s: want whole seconds"}},
		{"cache ttl too short", minimal + "radius: {response_cache_ttl: 2s}\n", nil, []string{"radius.response_cache_ttl: 2s: want 5s to 30s"}},
		{"cache ttl too long", minimal + "radius: {response_cache_ttl: 1m}\n", nil, []string{"radius.response_cache_ttl: 1m0s: want 5s to 30s"}},
		{"max in flight", minimal + "radius: {max_in_flight: 0}\n", nil, []string{"radius.max_in_flight: 0: want at least 1"}},
		{"io batch", minimal + "radius: {io_batch: 0}\n", nil, []string{"radius.io_batch: 0: want 1 to 1024"}},
		{"listen without port", minimal + "listen: {auth: [\"1812\"]}\n", nil, []string{`listen.auth[0]: "1812": want host:port`}},
		{"listen bad port", minimal + "listen: {acct: [\"127.0.0.1:radius\"]}\n", nil, []string{`listen.acct[0]: "127.0.0.1:radius": port "radius"`}},
		{"listen port 0", minimal + "listen: {acct: [\"127.0.0.1:0\"]}\n", nil, []string{`listen.acct[0]: "127.0.0.1:0"`}},
		{"listen twice", minimal + "listen: {auth: [\"127.0.0.1:1812\"], acct: [\"127.0.0.1:1812\"]}\n", nil,
			[]string{`listen.acct[0]: "127.0.0.1:1812": already listed as listen.auth[0]`}},
		{"listen nothing", minimal + "listen: {auth: [], acct: []}\n", nil, []string{"listen: no address in auth or acct"}},
		{"bad log level", minimal + "log: {level: verbose}\n", nil, []string{`log.level: "verbose": want trace, debug, info, warn or error`}},
		{"bad log format", minimal + "log: {format: xml}\n", nil, []string{`log.format: "xml": want json or console`}},
		{"redis db with cluster", minimal + "redis: {cluster: true, db: 2}\n", nil, []string{"redis.db: 2: Redis Cluster has only db 0"}},
		{"redis db with several addrs", minimal + "redis: {addrs: [\"10.0.0.1:6379\", \"10.0.0.2:6379\"], db: 1}\n", nil, []string{"redis.db: 1: Redis Cluster has only db 0"}},
		{"redis negative db", minimal + "redis: {db: -1}\n", nil, []string{"redis.db: -1"}},
		{"redis no addrs", minimal + "redis: {addrs: []}\n", nil, []string{"redis.addrs: empty"}},
		{"redis bad addr", minimal + "redis: {addrs: [localhost]}\n", nil, []string{`redis.addrs[0]: "localhost": want host:port`}},
		{"redis cluster and sentinel", minimal + "redis: {cluster: true, master_name: mymaster}\n", nil, []string{"redis.master_name"}},
		{"redis prefix with braces", minimal + "redis: {prefix: \"{hs}:\"}\n", nil, []string{`redis.prefix: "{hs}:"`}},
		{"redis empty prefix", minimal + "redis: {prefix: \"\"}\n", nil, []string{"redis.prefix: empty"}},
		{"redis password twice", minimal + "redis: {password_env: A, password_file: /x}\n", map[string]string{"A": "pw"}, []string{"redis.password_file: password_env is also set"}},
		{"redis password_env unset", minimal + "redis: {password_env: REDIS_PW}\n", nil, []string{"redis.password_env: environment variable REDIS_PW"}},
		{"redis ca without tls", minimal + "redis: {tls_ca_file: /etc/ca.pem}\n", nil, []string{"redis.tls_ca_file: set but tls is false"}},
		{"redis ca missing", minimal + "redis: {tls: true, tls_ca_file: " + missing + "}\n", nil, []string{"redis.tls_ca_file: open"}},
		{"redis ca not PEM", minimal + "redis: {tls: true, tls_ca_file: " + writeFile(t, "ca.pem", "nope") + "}\n", nil, []string{"redis.tls_ca_file:", "no PEM certificate"}},
		{"record ttl below interims", minimal + "redis: {open_record_ttl: 5m}\n", nil, []string{"redis.open_record_ttl: 5m0s: must be at least twice radius.acct_interim_interval"}},
		{"sentinel password without sentinel", minimal + "redis: {sentinel_password_env: SP}\n", map[string]string{"SP": "x"}, []string{"redis.sentinel_password_env: set, but master_name is empty: only Sentinel uses it"}},
		{"env override invalid", minimal, map[string]string{envRedisAddrs: "nope"}, []string{`redis.addrs[0] (from HSRADIUS_REDIS_ADDRS): "nope"`}},
		{"interim 0s", minimal + "radius: {acct_interim_interval: 0s}\n", nil, []string{"radius.acct_interim_interval: 0s: must be at least 60s"}},
		{"cache ttl 0s", minimal + "radius: {response_cache_ttl: 0s}\n", nil, []string{"radius.response_cache_ttl: 0s: want 5s to 30s"}},
		{"idle fraction", minimal + "radius: {idle_timeout: 1500ms}\n", nil, []string{"radius.idle_timeout: 1.5s: want whole seconds"}},
		{"redis timeout 0s", minimal + "redis: {timeout: 0s}\n", nil, []string{`redis.timeout: "0s": must be above zero`}},
		{"redis named port", minimal + "redis: {addrs: [\"localhost:redis\"]}\n", nil, []string{`redis.addrs[0]: "localhost:redis": port "redis": want a number`}},
		{"redis prefix with a space", minimal + "redis: {prefix: \"h s:\"}\n", nil, []string{`redis.prefix: "h s:": must not contain braces (they delimit hash tags) or spaces`}},
		{"record ttl below 1s", minimal + "redis: {stopped_record_ttl: 500ms}\n", nil, []string{"redis.stopped_record_ttl: 500ms: must be at least 1s"}},
		{"sentinel password file without sentinel", minimal + "redis: {sentinel_password_file: " + writeFile(t, "sp", "pw\n") + "}\n", nil,
			[]string{"redis.sentinel_password_file: set, but master_name is empty"}},
		{"name with @", "nas:\n  - {name: 'a@b', address: 10.0.0.1, secret: " + goodSecret + "}\n", nil, []string{`nas[0].name: "a@b": want at most 64 letters`}},
		{"retransmit window short", nas("    retransmit_window: 1s\n"), nil, []string{"nas[0].retransmit_window: 1s: want 5s to 1h"}},
		{"retransmit window of stop_start_reset", nas("    accounting_updates: stop_start_reset\n    retransmit_window: 2m\n"), nil,
			[]string{"nas[0].retransmit_window: 2m0s: accounting_updates: stop_start_reset tells its one-minute segments apart by time alone"}},
		{"retransmit window unitless", nas("    retransmit_window: 30\n"), nil, []string{`nas[0].retransmit_window: "30": want a duration with a unit`}},
		{"bad login", nas("    login: user\n"), nil, []string{`nas[0].login: "user": want mac`}},
		{"voucher_password with login mac", nas("    voucher_password: code\n"), nil, []string{"nas[0].voucher_password: code: applies only to voucher logins"}},
		{"bad voucher_password", nas("    login: voucher\n    voucher_password: mac\n"), nil, []string{`nas[0].voucher_password: "mac": want code`}},
		{"voucher failures negative", minimal + "radius: {voucher_failures_per_nas: -1}\n", nil, []string{"radius.voucher_failures_per_nas: -1: want 1 to"}},
		{"bad accounting updates", nas("    accounting_updates: never\n"), nil, []string{`nas[0].accounting_updates: "never": want interim`}},
		{"bad counter wrap", nas("    counter_wrap: maybe\n"), nil, []string{`nas[0].counter_wrap: "maybe": want wrap`}},
		{"env log level invalid", minimal, map[string]string{envLogLevel: "loud"}, []string{`log.level (from HSRADIUS_LOG_LEVEL): "loud"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadYAML(t, tc.yaml, tc.env)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var ce *configError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *configError (exit 2): %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}

		})
	}
}

// TestConfigProblemOnce: a value this command could not read (a duration,
// a secret's variable, an address, a name) is one problem, not also the
// library's about the zero value left in its place, nor a rule comparing
// another key with it.
func TestConfigProblemOnce(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"duration", minimal + "radius: {acct_interim_interval: soon}\nenforcement: {reap_after: 1m}\nredis: {open_record_ttl: 1m}\n", `radius.acct_interim_interval: "soon"`},
		{"store timeout", minimal + "radius: {store_timeout: 2}\n", `radius.store_timeout: "2"`},
		{"retransmit window", minimal + "    retransmit_window: soon\n", `nas[0].retransmit_window: "soon"`},
		{"secret variable", "nas:\n  - {name: a, address: 10.0.0.1, secret_env: NO_SUCH_VAR}\n", "nas[0].secret_env: environment variable NO_SUCH_VAR"},
		{"secret twice", "nas:\n  - {name: a, address: 10.0.0.1, secret: " + goodSecret + ", secret_file: /x}\n", "nas[0].secret_file: secret is also set"},
		{"fixed password variable", minimal + "    password: fixed\n    fixed_password_env: NO_SUCH_VAR\n", "nas[0].fixed_password_env: environment variable NO_SUCH_VAR"},
		{"address", "nas:\n  - {name: a, address: router, secret: " + goodSecret + "}\n", `nas[0].address: "router"`},
		{"profile", minimal + "    profiles: [cisco]\n", `nas[0].profiles[0]: unknown vendor profile "cisco"`},
		{"password mode", minimal + "    password: hunter2\n    fixed_password: x\n", "nas[0].password: want any, mac or fixed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadYAML(t, tc.yaml, nil)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *configError", err)
			}
			if len(ce.problems) != 1 || !strings.HasPrefix(ce.problems[0], tc.want) {
				t.Errorf("got %q, want the one problem %q", ce.problems, tc.want)
			}
		})
	}
}

// TestConfigProblemsInFileOrder: the problems are listed by section in the
// file's order and by NAS entry, whoever found them.
func TestConfigProblemsInFileOrder(t *testing.T) {
	yaml := "nas:\n  - {name: a, address: 10.0.0.1, secret: " + goodSecret + ", coa_port: -1, profiles: [x]}\n" +
		"  - {name: a, address: 10.0.0.2}\nlog: {level: loud}\nradius: {max_in_flight: 0}\nlisten: {auth: [x]}\n"
	_, err := loadYAML(t, yaml, nil)
	var ce *configError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *configError", err)
	}
	var keys []string
	for _, p := range ce.problems {
		k, _, _ := strings.Cut(p, ": ")
		keys = append(keys, k)
	}
	want := []string{"listen.auth[0]", "radius.max_in_flight", "log.level", "nas[0].profiles[0]", "nas[0].coa_port", "nas[1].secret", "nas[1].name"}
	if !slices.Equal(keys, want) {
		t.Errorf("got the keys %q,\nwant %q", keys, want)
	}
}

// TestConfigDroppedElement checks that when the YAML decoder drops a list
// element, the rest of that section is not checked: its indices would be
// shifted and the errors would name the wrong entries.
func TestConfigDroppedElement(t *testing.T) {
	_, err := loadYAML(t, "nas:\n  - 5\n  - {name: a, address: 10.0.0.1/33}\nlog: {level: loud}\n", nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`nas[0]: got "5", want a mapping of keys`, `log.level: "loud"`, "(the values under nas were not checked further"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "10.0.0.1/33") {
		t.Errorf("error reports the shifted entry:\n%v", err)
	}
}

// TestConfigEveryProblemAtOnce checks that one run reports every problem.
func TestConfigEveryProblemAtOnce(t *testing.T) {
	yaml := `
listen:
  auth: ["1812"]
redis:
  adress: 127.0.0.1:6379
radius:
  acct_interim_interval: 10s
  response_cache_ttl: 1h
log: {level: loud}
nas:
  - name: office
    address: 192.168.88.0/33
  - name: office
    address: 10.0.0.1
    secret: x
    secret_env: NAS_SECRET
    profiles: [cisco]
    password: fixed
`
	_, err := loadYAML(t, yaml, map[string]string{"NAS_SECRET": "y"})
	var ce *configError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *configError", err)
	}
	want := []string{
		`listen.auth[0]: "1812"`,
		"redis.adress: unknown key",
		"radius.acct_interim_interval: 10s",
		"radius.response_cache_ttl: 1h0m0s",
		`log.level: "loud"`,
		`nas[0].address: "192.168.88.0/33"`,
		"nas[0].secret: empty",
		`nas[1].name: "office": already used by nas[0]`,
		"nas[1].secret_env: secret is also set",
		`nas[1].profiles[0]: unknown vendor profile "cisco"`,
		"nas[1].fixed_password: empty",
	}
	for _, w := range want {
		if !slices.ContainsFunc(ce.problems, func(p string) bool { return strings.HasPrefix(p, w) }) {
			t.Errorf("no problem starting with %q in:\n%v", w, err)
		}
	}
	if len(ce.problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ce.problems), len(want), err)
	}
	if !strings.Contains(err.Error(), "11 problems:\n  ") {
		t.Errorf("the message should count the problems and list one per line:\n%v", err)
	}
}

// TestConfigDefaults checks the defaults the example file documents.
func TestConfigDefaults(t *testing.T) {
	cfg, err := loadYAML(t, minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, l := range cfg.Listen {
		addrs = append(addrs, l.Kind.String()+" "+l.Addr)
	}
	if want := []string{"auth 127.0.0.1:1812", "auth [::1]:1812", "acct 127.0.0.1:1813", "acct [::1]:1813"}; !slices.Equal(addrs, want) {
		t.Errorf("listen: got %v, want %v", addrs, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"redis addrs", cfg.Redis.Addrs, []string{"127.0.0.1:6379"}},
		{"redis mode", cfg.RedisMode, "standalone"},
		{"redis db", cfg.Redis.DB, 0},
		{"redis tls", cfg.Redis.TLS == nil, true},
		{"redis password", cfg.Redis.Password, ""},
		{"redis timeout", cfg.Redis.ReadTimeout, 2 * time.Second},
		{"redis prefix", cfg.Store.Prefix, "hs:"},
		{"open record ttl", cfg.Store.OpenRecordTTL, 168 * time.Hour},
		{"stopped record ttl", cfg.Store.StoppedRecordTTL, 24 * time.Hour},
		{"interim", cfg.Server.AcctInterimInterval, 300 * time.Second},
		{"idle", cfg.Server.IdleTimeout, time.Duration(0)},
		{"cache ttl", cfg.Server.CacheTTL, 10 * time.Second},
		{"max in flight", cfg.Server.MaxInFlight, 4096},
		{"store timeout", cfg.Server.StoreTimeout, 2 * time.Second},
		{"log level", cfg.LogLevel, zerolog.InfoLevel},
		{"log format", cfg.LogFormat, "json"},
		{"demo", cfg.Demo, false},
		{"warnings", len(cfg.Warnings), 0},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(cfg.Server.NAS) != 1 {
		t.Fatalf("got %d NAS, want 1", len(cfg.Server.NAS))
	}
	n := cfg.Server.NAS[0]
	nasChecks := []struct {
		name      string
		got, want any
	}{
		{"name", n.Name, "office"},
		{"prefix", n.Prefix, netip.MustParsePrefix("192.168.88.1/32")},
		{"secret", string(n.Secret), goodSecret},
		{"profiles", n.Profiles, []radiusd.Profile{radiusd.ProfileWISPr}},
		{"coa port", n.CoAPort, 3799},
		{"coa secret", string(n.CoASecret), goodSecret},
		{"MA policy", n.MAPolicy, radiusd.MARequire},
		{"password", n.Password, radiusd.PasswordAny},
		{"global speed", [2]uint32{n.GlobalDownMbits, n.GlobalUpMbits}, [2]uint32{0, 0}},
	}
	for _, c := range nasChecks {
		if !equal(c.got, c.want) {
			t.Errorf("nas %s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []string:
		return slices.Equal(a, b.([]string))
	case []radiusd.Profile:
		return slices.Equal(a, b.([]radiusd.Profile))
	}
	return a == b
}

// TestConfigExample checks that the documented example parses, and that it
// says what it claims.
func TestConfigExample(t *testing.T) {
	env := map[string]string{
		"HSRADIUS_NAS_OFFICE_SECRET":      "office-secret-0123456789",
		"HSRADIUS_NAS_LOBBY_SECRET":       "lobby-secret-0123456789",
		"HSRADIUS_NAS_LOBBY_MAC_PASSWORD": "macpass",
	}
	cfg, err := loadConfig(options{configPath: "../../testdata/config/radiusd.example.yaml"}, envFunc(env))
	if err != nil {
		t.Fatal(err)
	}
	def, err := loadYAML(t, minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The example spells out every default: the global keys must equal them.
	if cfg.Server.AcctInterimInterval != def.Server.AcctInterimInterval || cfg.Server.CacheTTL != def.Server.CacheTTL ||
		cfg.Server.IdleTimeout != def.Server.IdleTimeout || cfg.Server.MaxInFlight != def.Server.MaxInFlight ||
		cfg.Server.StoreTimeout != def.Server.StoreTimeout || cfg.Store != def.Store ||
		cfg.RedisTimeout != def.RedisTimeout || !slices.Equal(cfg.Redis.Addrs, def.Redis.Addrs) ||
		cfg.LogLevel != def.LogLevel || cfg.LogFormat != def.LogFormat || !slices.Equal(cfg.Listen, def.Listen) {
		t.Errorf("the example's values differ from the defaults:\nexample %+v\ndefault %+v", cfg, def)
	}
	if !reflect.DeepEqual(cfg.Admin, def.Admin) || cfg.Enforce == nil || def.Enforce == nil || *cfg.Enforce != *def.Enforce {
		t.Errorf("the example's admin or enforcement values differ from the defaults:\nexample %+v %+v\ndefault %+v %+v", cfg.Admin, cfg.Enforce, def.Admin, def.Enforce)
	}
	if len(cfg.Server.NAS) != 2 {
		t.Fatalf("got %d NAS, want 2", len(cfg.Server.NAS))
	}
	office, lobby := cfg.Server.NAS[0], cfg.Server.NAS[1]
	if office.Name != "office-mikrotik" || office.Prefix != netip.MustParsePrefix("192.168.88.1/32") ||
		!slices.Equal(office.Profiles, []radiusd.Profile{radiusd.ProfileMikroTik}) ||
		office.GlobalDownMbits != 10 || office.GlobalUpMbits != 2 || office.CoAPort != 3799 || office.OnSpill != radiusd.SpillCoA ||
		office.MAPolicy != radiusd.MARequire || office.Password != radiusd.PasswordAny {
		t.Errorf("office: got %+v", office)
	}
	if lobby.Name != "lobby-coovachilli" || lobby.Prefix != netip.MustParsePrefix("2001:db8:10::/64") ||
		string(lobby.Secret) != env["HSRADIUS_NAS_LOBBY_SECRET"] || lobby.MAPolicy != radiusd.MARequire ||
		lobby.Password != radiusd.PasswordFixed || lobby.FixedPassword != "macpass" ||
		!slices.Equal(lobby.Profiles, []radiusd.Profile{radiusd.ProfileChilli, radiusd.ProfileWISPr}) {
		t.Errorf("lobby: got %+v", lobby)
	}
	// And it is accepted by the server as is.
	scfg := cfg.Server
	scfg.Store = nopStore{}
	if _, err := radiusd.New(scfg); err != nil {
		t.Errorf("radiusd.New: %v", err)
	}
}

// TestShippedConfigs loads every configuration file the project ships, with
// the variables env.example defines (and no other): each loads as is, and
// every NAS requires Message-Authenticator (BlastRADIUS; a NAS that does not
// send it yet is the operator's exception to make, not a default to copy).
func TestShippedConfigs(t *testing.T) {
	b, err := os.ReadFile("packaging/env.example")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if name, _, ok := strings.Cut(line, "="); ok && strings.HasPrefix(name, "HSRADIUS_") {
			env[name] = "value-of-" + strings.ToLower(name)
		}
	}
	files, err := filepath.Glob("../../testdata/config/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no configuration in testdata/config: %v", err)
	}
	files = append(files, "packaging/radiusd.container.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := loadConfig(options{configPath: f}, envFunc(env))
			if err != nil {
				t.Fatalf("with the variables of env.example: %v", err)
			}
			for _, n := range cfg.Server.NAS {
				if n.MAPolicy != radiusd.MARequire {
					t.Errorf("nas %s: require_message_authenticator %v, want yes", n.Name, n.MAPolicy)
				}
			}
			// Installed as they are (mode 0644), they warn about nothing:
			// no secret is written in them.
			if len(cfg.Warnings) > 0 {
				t.Errorf("warnings: %q", cfg.Warnings)
			}
		})
	}
}

// TestConfigEnvOverrides checks that the environment overrides the file and
// flags override the environment.
func TestConfigEnvOverrides(t *testing.T) {
	file := minimal + `
redis:
  addrs: ["10.0.0.1:6379"]
  password_env: FILE_PW
  prefix: "file:"
log: {level: warn, format: json}
`
	tests := []struct {
		name  string
		env   map[string]string
		flags options
		check func(t *testing.T, c *Config)
	}{
		{"file only", map[string]string{"FILE_PW": "filepw"}, options{}, func(t *testing.T, c *Config) {
			if c.Redis.Password != "filepw" || c.Store.Prefix != "file:" || c.LogLevel != zerolog.WarnLevel || c.RedisMode != "standalone" {
				t.Errorf("got password %q prefix %q level %v mode %s", c.Redis.Password, c.Store.Prefix, c.LogLevel, c.RedisMode)
			}
		}},
		{"cluster addrs", map[string]string{"FILE_PW": "x", envRedisAddrs: " 10.0.0.1:7000, 10.0.0.2:7000 ,,[2001:db8::3]:7000"}, options{}, func(t *testing.T, c *Config) {
			if want := []string{"10.0.0.1:7000", "10.0.0.2:7000", "[2001:db8::3]:7000"}; !slices.Equal(c.Redis.Addrs, want) || c.RedisMode != "cluster" {
				t.Errorf("got addrs %q mode %s, want %q cluster", c.Redis.Addrs, c.RedisMode, want)
			}
		}},
		{"sentinel", map[string]string{"FILE_PW": "x", envRedisAddrs: "10.0.0.1:26379,10.0.0.2:26379", envRedisMaster: "mymaster"}, options{}, func(t *testing.T, c *Config) {
			if c.Redis.MasterName != "mymaster" || c.RedisMode != "sentinel" {
				t.Errorf("got master %q mode %s", c.Redis.MasterName, c.RedisMode)
			}
		}},
		{"password, user, prefix", map[string]string{envRedisPassword: "envpw", envRedisUsername: "radiusd", envRedisPrefix: "env:"}, options{}, func(t *testing.T, c *Config) {
			// FILE_PW is unset: the env password wins, password_env is not read.
			if c.Redis.Password != "envpw" || c.Redis.Username != "radiusd" || c.Store.Prefix != "env:" {
				t.Errorf("got password %q user %q prefix %q", c.Redis.Password, c.Redis.Username, c.Store.Prefix)
			}
		}},
		{"log from env", map[string]string{"FILE_PW": "x", envLogLevel: "debug", envLogFormat: "console"}, options{}, func(t *testing.T, c *Config) {
			if c.LogLevel != zerolog.DebugLevel || c.LogFormat != "console" {
				t.Errorf("got %v %s", c.LogLevel, c.LogFormat)
			}
		}},
		{"flags beat env", map[string]string{"FILE_PW": "x", envLogLevel: "debug", envLogFormat: "console"}, options{logLevel: "error", logFormat: "json"}, func(t *testing.T, c *Config) {
			if c.LogLevel != zerolog.ErrorLevel || c.LogFormat != "json" {
				t.Errorf("got %v %s", c.LogLevel, c.LogFormat)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.flags
			o.configPath = writeFile(t, "radiusd.yaml", file)
			c, err := loadConfig(o, envFunc(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestConfigSecrets covers the three ways to give a secret and the warnings.
func TestConfigSecrets(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "office.secret")
	if err := os.WriteFile(secretFile, []byte(goodSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openFile := filepath.Join(dir, "open.secret")
	if err := os.WriteFile(openFile, []byte(goodSecret+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := `
redis: {password_file: ` + secretFile + `}
nas:
  - {name: a, address: 10.0.0.1, secret_file: ` + secretFile + `, coa_secret_env: COA}
  - {name: b, address: 10.0.0.2, secret_env: B_SECRET, password: fixed, fixed_password_file: ` + openFile + `}
  - {name: c, address: 10.0.0.0/8, secret: tiny-pw, require_message_authenticator: "no"}
  - {name: d, address: 10.1.2.3/16, secret: ` + goodSecret + `, require_message_authenticator: auto}
`
	cfg, err := loadYAML(t, yaml, map[string]string{"B_SECRET": "b-secret-0123456789", "COA": "coa-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c, d := cfg.Server.NAS[0], cfg.Server.NAS[1], cfg.Server.NAS[2], cfg.Server.NAS[3]
	if string(a.Secret) != goodSecret || string(a.CoASecret) != "coa-secret-0123456789" {
		t.Errorf("a: secret from file %q (trailing newline trimmed?), coa secret %q", a.Secret, a.CoASecret)
	}
	if cfg.Redis.Password != goodSecret {
		t.Errorf("redis password from file: got %q", cfg.Redis.Password)
	}
	if string(b.Secret) != "b-secret-0123456789" || b.FixedPassword != goodSecret {
		t.Errorf("b: secret %q fixed password %q", b.Secret, b.FixedPassword)
	}
	if c.MAPolicy != radiusd.MAOptional || d.MAPolicy != radiusd.MAAuto || d.Prefix != netip.MustParsePrefix("10.1.0.0/16") {
		t.Errorf("c policy %v, d policy %v prefix %v", c.MAPolicy, d.MAPolicy, d.Prefix)
	}
	warnings := strings.Join(cfg.Warnings, "\n")
	for _, w := range []string{
		"nas c: the shared secret is shorter than 16 characters",
		"nas c: require_message_authenticator: no",
		"nas[1].fixed_password_file: " + openFile + " is readable by every user",
		"nas[3].address: 10.1.2.3/16 has host bits set: it means 10.1.0.0/16",
		"admin: no token, but Redis has a password",
	} {
		if !strings.Contains(warnings, w) {
			t.Errorf("no warning %q in:\n%s", w, warnings)
		}
	}
	if strings.Contains(warnings, "tiny-pw") || strings.Contains(warnings, goodSecret) {
		t.Errorf("a warning leaks a secret:\n%s", warnings)
	}
	if len(cfg.Warnings) != 5 {
		t.Errorf("got %d warnings, want 5:\n%s", len(cfg.Warnings), warnings)
	}
}

// TestConfigNeverEchoesSecrets: a secret typed into the wrong key, or
// written so that YAML reads it as something else, is never repeated in an
// error or a warning, in whole or in part. Each secret has the shape of
// what operators generate: openssl rand -hex, base32, base64, a password.
func TestConfigNeverEchoesSecrets(t *testing.T) {
	secrets := []string{"a3f9c2e1b4d5f6a7e8d9", "JBSWY3DPEHPK3PXP", "Xk9+qZ/3vRw8Lm2N==", "S3cret-pa55word"}
	nasLine := func(extra string) string {
		return "nas:\n  - {name: a, address: 10.0.0.1, secret_env: NAS_SECRET, " + extra + "}\n"
	}
	cases := []struct {
		name string
		yaml func(secret string) string
	}{
		{"secret: without a space, in a flow mapping", func(x string) string {
			return "nas:\n  - {name: a, address: 10.0.0.1, secret:" + x + "}\n"
		}},
		{"secret_env", func(x string) string { return "nas:\n  - {name: a, address: 10.0.0.1, secret_env: '" + x + "'}\n" }},
		{"secret_file", func(x string) string { return "nas:\n  - {name: a, address: 10.0.0.1, secret_file: '" + x + "'}\n" }},
		{"coa_secret_env", func(x string) string { return nasLine("coa_secret_env: '" + x + "'") }},
		{"coa_secret_file", func(x string) string { return nasLine("coa_secret_file: '" + x + "'") }},
		{"fixed_password_env", func(x string) string { return nasLine("password: fixed, fixed_password_env: '" + x + "'") }},
		{"fixed_password_file", func(x string) string { return nasLine("password: fixed, fixed_password_file: '" + x + "'") }},
		{"password", func(x string) string { return nasLine("password: '" + x + "'") }},
		{"token_env", func(x string) string { return nasLine("") + "admin: {token_env: '" + x + "'}\n" }},
		{"token_file", func(x string) string { return nasLine("") + "admin: {token_file: '" + x + "'}\n" }},
		{"redis password_env", func(x string) string { return nasLine("") + "redis: {password_env: '" + x + "'}\n" }},
		{"redis sentinel_password_file", func(x string) string {
			return nasLine("") + "redis: {master_name: m, sentinel_password_file: '" + x + "'}\n"
		}},
		{"a number key", func(x string) string { return nasLine("coa_port: '" + x + "'") }},
		{"a list key", func(x string) string { return nasLine("profiles: '" + x + "'") }},
		{"a key of its own", func(x string) string { return nasLine("'" + x + "': 1") }},
		{"a whole file", func(x string) string { return "'" + x + "'\n" }},
		{"a tag", func(x string) string { return nasLine("coa_port: !!int '" + x + "'") }},
		{"an alias", func(x string) string {
			return "nas:\n  - name: a\n    address: 10.0.0.1\n    secret: *" + strings.NewReplacer("+", "", "/", "", "=", "").Replace(x) + "\n"
		}},
		{"a merged key", func(x string) string { return nasLine("<<: {'" + x + "': 1}") }},
	}
	for _, tc := range cases {
		for _, secret := range secrets {
			t.Run(tc.name+"/"+secret[:4], func(t *testing.T) {
				cfg, err := loadYAML(t, tc.yaml(secret), map[string]string{"NAS_SECRET": goodSecret})
				if err == nil {
					t.Fatalf("accepted:\n%s\nwarnings %q", tc.yaml(secret), cfg.Warnings)
				}
				if strings.Contains(err.Error(), secret[:6]) {
					t.Errorf("the error repeats the secret %q:\n%v", secret, err)
				}
			})
		}
	}
}

// TestConfigInlineSecretReadable: a file that holds a secret itself must
// not be readable by every user; radiusd warns and names the keys, never
// the values. The mode of a file without inline secrets does not matter.
func TestConfigInlineSecretReadable(t *testing.T) {
	const token = "inline-admin-token-0123456789"
	inline := minimal + "admin: {token: " + token + "}\n"
	byEnv := "nas:\n  - {name: a, address: 10.0.0.1, secret_env: NAS_SECRET}\n"
	env := map[string]string{"NAS_SECRET": goodSecret}
	for _, tc := range []struct {
		name string
		yaml string
		mode os.FileMode
		want string // "" : no warning
	}{
		{"inline, world-readable", inline, 0o644, "is readable by every user of this host (mode -rw-r--r--) and holds secrets (nas[0].secret, admin.token): chmod o-r it"},
		{"inline, group-readable", inline, 0o640, ""},
		{"inline, private", inline, 0o600, ""},
		{"by environment, world-readable", byEnv, 0o644, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "radiusd.yaml", tc.yaml)
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig(options{configPath: path}, envFunc(env))
			if err != nil {
				t.Fatal(err)
			}
			warnings := strings.Join(cfg.Warnings, "\n")
			switch {
			case tc.want == "" && warnings != "":
				t.Errorf("warnings: %s", warnings)
			case tc.want != "" && !strings.Contains(warnings, path+" "+tc.want):
				t.Errorf("warnings: %q, want %q", warnings, tc.want)
			}
			if strings.Contains(warnings, token) || strings.Contains(warnings, goodSecret) {
				t.Errorf("a warning repeats a secret: %s", warnings)
			}
		})
	}
}

// TestConfigSource checks how the file, HSRADIUS_CONFIG and -demo select
// the configuration.
func TestConfigSource(t *testing.T) {
	path := writeFile(t, "radiusd.yaml", minimal)
	tests := []struct {
		name     string
		o        options
		env      map[string]string
		wantDemo bool
		wantErr  string
	}{
		{"nothing: demo", options{}, nil, true, ""},
		{"flag", options{configPath: path}, nil, false, ""},
		{"environment", options{}, map[string]string{envConfig: path}, false, ""},
		{"flag beats environment", options{configPath: path}, map[string]string{envConfig: "/nonexistent"}, false, ""},
		{"-demo beats environment", options{demo: true}, map[string]string{envConfig: path}, true, ""},
		{"-demo with -config", options{demo: true, configPath: path}, nil, false, "-demo and -config exclude each other"},
		{"missing file", options{configPath: "/nonexistent/radiusd.yaml"}, nil, false, "/nonexistent/radiusd.yaml: cannot read the configuration file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(tc.o, envFunc(tc.env))
			if tc.wantErr != "" {
				var ce *configError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want a *configError with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Demo != tc.wantDemo {
				t.Errorf("demo: got %v, want %v", cfg.Demo, tc.wantDemo)
			}
		})
	}
}

// TestDemoConfig checks the demo's fixed setup and its environment knobs.
func TestDemoConfig(t *testing.T) {
	cfg, err := loadConfig(options{}, envFunc(map[string]string{envRedisAddrs: "10.9.9.9:6379"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source != demoSource || !slices.Equal(cfg.Redis.Addrs, []string{"127.0.0.1:6380"}) {
		t.Errorf("source %q redis %v", cfg.Source, cfg.Redis.Addrs)
	}
	want := []listenAddr{{"127.0.0.1:1812", radiusd.Auth, "listen.auth[0]"}, {"127.0.0.1:1813", radiusd.Acct, "listen.acct[0]"}}
	if !slices.Equal(cfg.Listen, want) {
		t.Errorf("listen: got %v, want %v", cfg.Listen, want)
	}
	// It listens on 127.0.0.1 only: one NAS, 127.0.0.1. Message-Authenticator
	// is verified when present, never required: the README's radclient
	// lines are answered with and without it, in any order.
	if len(cfg.Server.NAS) != 1 {
		t.Fatalf("got %d NAS, want 1: %+v", len(cfg.Server.NAS), cfg.Server.NAS)
	}
	if n := cfg.Server.NAS[0]; n.Name != "demo" || n.Prefix != netip.MustParsePrefix("127.0.0.1/32") || string(n.Secret) != "testing123" ||
		n.MAPolicy != radiusd.MAOptional || n.Password != radiusd.PasswordAny || n.GlobalDownMbits != 10 || n.GlobalUpMbits != 2 ||
		!slices.Equal(n.Profiles, []radiusd.Profile{radiusd.ProfileWISPr, radiusd.ProfileChilli, radiusd.ProfileMikroTik}) {
		t.Errorf("nas: got %+v", n)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "demo mode ignores HSRADIUS_REDIS_ADDRS") {
		t.Errorf("warnings: got %q, want the ignored HSRADIUS_REDIS_ADDRS", cfg.Warnings)
	}

	// A NAS for each loopback the demo listens on, and none for the other.
	for _, tc := range []struct {
		auth, acct string
		want       []string
	}{
		{"[::1]:1812", "", []string{"demo 127.0.0.1/32", "demo6 ::1/128"}},
		{"[::1]:1812", "[::1]:1813", []string{"demo6 ::1/128"}},
		{"localhost:1812", "", []string{"demo 127.0.0.1/32"}},
		{":1812", "", []string{"demo 127.0.0.1/32", "demo6 ::1/128"}},
		{"[::]:1812", "[::]:1813", []string{"demo 127.0.0.1/32", "demo6 ::1/128"}},
	} {
		c, err := loadConfig(options{}, envFunc(map[string]string{envDemoAuthAddr: tc.auth, envDemoAcctAddr: tc.acct}))
		if err != nil {
			t.Fatalf("auth %s acct %s: %v", tc.auth, tc.acct, err)
		}
		var got []string
		for _, n := range c.Server.NAS {
			got = append(got, n.Name+" "+n.Prefix.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("auth %s acct %s: NAS %q, want %q", tc.auth, tc.acct, got, tc.want)
		}
	}

	_, err = loadConfig(options{}, envFunc(map[string]string{envDemoAuthAddr: "1812"}))
	if err == nil || !strings.Contains(err.Error(), `listen.auth[0] (from HSRADIUS_DEMO_AUTH_ADDR): "1812": want host:port`) {
		t.Errorf("bad demo address: got %v", err)
	}
}

// TestDemoRedisLoopbackOnly: the embedded Redis has no password, so the
// demo refuses to open it to the network.
func TestDemoRedisLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6380", ":6380", "[::]:6380", "10.1.2.3:6380", "radius.lan:6380"} {
		_, err := loadConfig(options{}, envFunc(map[string]string{envDemoRedisAddr: addr}))
		var ce *configError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "redis.addrs (from HSRADIUS_DEMO_REDIS_ADDR): "+strconv.Quote(addr)+": the demo's embedded Redis has no password, so it listens on loopback only") {
			t.Errorf("%s: got %v, want a configuration error", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:6380", "127.0.0.1:0", "[::1]:6380", "localhost:6380"} {
		if _, err := loadConfig(options{}, envFunc(map[string]string{envDemoRedisAddr: addr})); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr string
	}{
		{"none", nil, options{}, ""},
		{"all", []string{"-config", "x.yaml", "-log-level", "debug", "-log-format=console"}, options{configPath: "x.yaml", logLevel: "debug", logFormat: "console"}, ""},
		{"double dash", []string{"--demo"}, options{demo: true}, ""},
		{"help", []string{"-h"}, options{help: true}, ""},
		{"unknown flag", []string{"-secret", "x"}, options{}, "flag provided but not defined: -secret"},
		{"argument", []string{"radiusd.yaml"}, options{}, `unexpected argument "radiusd.yaml"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			got, err := parseFlags(tc.args, &out)
			if tc.wantErr != "" {
				var ce *configError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want a *configError with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if tc.want.help && !strings.Contains(out.String(), "HSRADIUS_REDIS_ADDRS") {
				t.Errorf("help does not document the environment:\n%s", out.String())
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{&configError{source: "x", problems: []string{"y"}}, 2},
		{errors.New("redis down"), 1},
	}
	for _, tc := range tests {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v): got %d, want %d", tc.err, got, tc.want)
		}
	}
}

// radsecFiles writes a server certificate, key and client CA for the
// RadSec configuration tests.
func radsecFiles(t *testing.T) (ca *radsectest.CA, cert, key string) {
	t.Helper()
	ca = radsectest.NewCA(t, "test-ca")
	srv := ca.Server(t, "radius.example")
	return ca, srv.CertFile, srv.KeyFile
}

func TestConfigRadSec(t *testing.T) {
	ca, cert, key := radsecFiles(t)
	nasCert := ca.Client(t, "site-7")
	yaml := fmt.Sprintf(`
radsec:
  enabled: true
  listen: ["127.0.0.1:2083"]
  cert: %s
  key: %s
  client_ca: %s
  max_conns_per_nas: 2
nas:
  - name: site-7
    radsec:
      names: [site-7]
      fingerprints: ["sha256 Fingerprint=%X"]
  - name: office
    address: 192.168.88.1
    secret: %q
    radsec: {secret: "office-radsec-secret"}
`, cert, key, ca.File, nasCert.Fingerprint[:], goodSecret)
	cfg, err := loadYAML(t, yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := cfg.Server.RadSec
	if rs == nil || rs.Files.Cert != cert || rs.Files.ClientCA != ca.File || rs.MaxConnsPerNAS != 2 ||
		rs.MaxConns != radiusd.DefaultRadSecMaxConns || rs.HandshakeTimeout != radiusd.DefaultRadSecHandshakeTimeout {
		t.Errorf("radsec: %+v", rs)
	}
	if len(cfg.RadSecListen) != 1 || cfg.RadSecListen[0].Addr != "127.0.0.1:2083" || cfg.RadSecListen[0].Kind != radiusd.RadSec {
		t.Errorf("radsec listen: %+v", cfg.RadSecListen)
	}
	site := cfg.Server.NAS[0]
	if site.Prefix.IsValid() || !slices.Equal(site.RadSec.Names, []string{"site-7"}) ||
		len(site.RadSec.Fingerprints) != 1 || site.RadSec.Fingerprints[0] != nasCert.Fingerprint {
		t.Errorf("site-7: %+v", site.RadSec)
	}
	if got := string(cfg.Server.NAS[1].RadSec.Secret); got != "office-radsec-secret" {
		t.Errorf("office radsec secret %q", got)
	}
	scfg := cfg.Server
	scfg.Store = nopStore{}
	if _, err := radiusd.New(scfg); err != nil {
		t.Errorf("radiusd.New: %v", err)
	}

	// Disabled (the default): nothing to listen on.
	cfg, err = loadYAML(t, minimal, nil)
	if err != nil || cfg.Server.RadSec != nil || len(cfg.RadSecListen) != 0 {
		t.Errorf("default: radsec %+v %v, %v", cfg.Server.RadSec, cfg.RadSecListen, err)
	}
}

func TestConfigRadSecInvalid(t *testing.T) {
	ca, cert, key := radsecFiles(t)
	notPEM := writeFile(t, "not.pem", "hello\n")
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"no files", `
radsec: {enabled: true}
nas: [{name: a, address: 192.0.2.1, secret: "` + goodSecret + `"}]
`, []string{"radsec.cert: empty", "radsec.key: empty", "radsec.client_ca: empty"}},
		{"bad files", fmt.Sprintf(`
radsec: {enabled: true, cert: %s, key: %s, client_ca: %s, handshake_timeout: soon, max_conns: 2, max_conns_per_nas: 3, listen: ["2083"]}
nas: [{name: a, address: 192.0.2.1, secret: "`+goodSecret+`"}]
`, notPEM, key, notPEM), []string{"radsec.cert:", "radsec.client_ca:", "radsec.handshake_timeout:", "radsec.max_conns_per_nas: 3: above max_conns", "radsec.listen[0]:"}},
		{"certificate identity without radsec", `
nas: [{name: a, radsec: {names: [a]}}]
`, []string{"nas[0].radsec: a certificate identity, but RadSec is not enabled"}},
		{"bad identities", fmt.Sprintf(`
radsec: {enabled: true, cert: %s, key: %s, client_ca: %s}
nas:
  - {name: a, address: 10.0.0.0/24, secret: "`+goodSecret+`", radsec: {names: [a]}}
  - {name: b, radsec: {names: [" b"], fingerprints: ["AB:CD"]}}
  - {name: c, radsec: {names: [A]}}
  - {name: d}
`, cert, key, ca.File), []string{
			"nas[0].address: 10.0.0.0/24: a NAS identified by its certificate is one NAS",
			`nas[1].radsec.names[0]: " b"`,
			`nas[1].radsec.fingerprints[0]: "AB:CD": want a SHA-256 fingerprint`,
			`nas[2].radsec.names[0]: "a": already a certificate name of nas[0]`,
			"nas[3].address: empty: want an IP address or CIDR prefix",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadYAML(t, c.yaml, nil)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *configError", err)
			}
			for _, w := range c.want {
				if !slices.ContainsFunc(ce.problems, func(p string) bool { return strings.HasPrefix(p, w) }) {
					t.Errorf("no problem starting with %q in:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseFingerprint(t *testing.T) {
	want := [32]byte{0x31, 0x75, 0xac, 0xc2}
	for i := 4; i < 32; i++ {
		want[i] = byte(i)
	}
	hexs := fmt.Sprintf("%X", want[:])
	var colons []string
	for i := 0; i < len(hexs); i += 2 {
		colons = append(colons, hexs[i:i+2])
	}
	for _, in := range []string{
		"sha256 Fingerprint=" + strings.Join(colons, ":"), // openssl x509 -fingerprint -sha256
		"SHA256 Fingerprint=" + strings.Join(colons, ":"), // older openssl
		strings.ToLower(hexs),
		"sha256:" + strings.Join(colons, ":"),
		"  " + hexs + " ",
	} {
		if got, err := parseFingerprint(in); err != nil || got != want {
			t.Errorf("%q: %x, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "AB:CD", hexs + "00", "zz" + hexs[2:]} {
		if _, err := parseFingerprint(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
