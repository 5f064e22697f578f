package main

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/redisstore"
)

// FuzzConfig feeds arbitrary bytes as the configuration file, and an
// arbitrary environment ("NAME=value" lines), through loadConfig. It must
// never panic; it returns either a *configError with a non-empty message,
// or a Config that the store and the server accept as they are, so that a
// configuration the loader lets through cannot fail (or crash) at start-up.
// Crashers are kept under testdata/fuzz/FuzzConfig.
func FuzzConfig(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config", "radiusd.example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	// The example without its comment lines: every key, in a fifth of the
	// size, so that mutants are quicker to run and to minimize.
	var example []byte
	for line := range strings.Lines(string(full)) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			example = append(example, line...)
		}
	}
	exampleEnv := "HSRADIUS_LOBBY_SECRET=lobby-secret-0123456789\nHSRADIUS_LOBBY_MAC_PASSWORD=macpass\n"
	nas := "nas:\n  - name: office\n    address: 192.168.88.1\n    secret: \"" + goodSecret + "\"\n"
	for _, s := range []struct{ yaml, env string }{
		{string(example), exampleEnv},
		{string(example), ""},
		{string(example[:len(example)/2]), exampleEnv}, // cut in the middle of a key
		{minimal, ""},
		{minimal, envRedisAddrs + "=10.0.0.1:6379,10.0.0.2:6379\n" + envLogLevel + "=debug\n"},
		{minimal, envRedisAddrs + "=nope\n" + envRedisPrefix + "={x}\n"},
		{"", ""},
		{"nas: [\n", ""},
		{minimal + "---\nlog: {level: info}\n", ""},
		{minimal + "nass: []\n", ""},
		{nas + "    secret: again\n", ""},
		{nas + "    global_down_mbits: -1\n    coa_port: 70000\n", ""},
		{nas + "    password: fixed\n    fixed_password_env: PW\n", "PW=pw\n"},
		{"nas:\n  - {name: a, address: 10.0.0.1, secret_env: S}\n", "S=" + goodSecret + "\n"},
		{"nas:\n  - {name: a, address: '::ffff:10.0.0.0/104', secret: x}\n  - {name: a, address: 10.0.0.0/33}\n", ""},
		{"a: &a [*a, *a]\nnas: *a\n", ""},
		{"x: &x {name: a, address: 10.0.0.1, secret: " + goodSecret + "}\nnas: [*x, *x, *x]\n", ""},
		{minimal + "radius: {acct_interim_interval: 90.5s, response_cache_ttl: 1m, max_in_flight: 0, store_timeout: -1s}\n", ""},
		{minimal + "redis: {cluster: true, db: 2, master_name: m, tls_ca_file: /nonexistent, open_record_ttl: 5m}\n", ""},
		{minimal + "enforcement: {queue: 0, workers: -1, dynauth_tries: 11, reap_after: 1s}\n", ""},
		{minimal + "admin: {listen: '0.0.0.0:9812', token: 'a b'}\n", ""},
		{minimal + "listen: {auth: [], acct: []}\n", ""},
		{"\xff\xfe\x00n\x00a\x00s", ""},
		{"nas: !!binary aGVsbG8=\n", ""},
		{"? [a, b]\n: c\n", ""},
	} {
		f.Add([]byte(s.yaml), s.env)
	}
	path := filepath.Join(f.TempDir(), "radiusd.yaml")
	f.Fuzz(func(t *testing.T, b []byte, envLines string) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(envLines))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok && k != envConfig {
				env[k] = v
			}
		}
		cfg, err := loadConfig(options{configPath: path}, envFunc(env))
		if err != nil {
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *configError (exit status 2): %v", err, err)
			}
			if strings.TrimSpace(err.Error()) == "" || len(ce.problems) == 0 {
				t.Fatalf("empty error %#v", ce)
			}
			for _, p := range ce.problems {
				if strings.TrimSpace(p) == "" {
					t.Fatalf("an empty problem in %q", err)
				}
			}
			return
		}
		if cfg == nil {
			t.Fatal("no error and no Config")
		}
		// What run does with it, short of connecting and binding.
		rdb, err := redisstore.NewClient(cfg.Redis)
		if err != nil {
			t.Fatalf("accepted, but redisstore.NewClient fails: %v", err)
		}
		defer rdb.Close()
		store, err := redisstore.New(rdb, cfg.Store)
		if err != nil {
			t.Fatalf("accepted, but redisstore.New fails: %v", err)
		}
		scfg := cfg.Server
		scfg.Store = store
		if cfg.Enforce != nil {
			enf := *cfg.Enforce
			enf.Store = store
			scfg.Enforce = &enf
		}
		if _, err := radiusd.New(scfg); err != nil {
			t.Fatalf("accepted, but radiusd.New fails: %v", err)
		}
	})
}
