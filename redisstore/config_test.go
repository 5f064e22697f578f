package redisstore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// problemsOf returns "key: problem" of every *ConfigError in err, and fails
// on any other error.
func problemsOf(t *testing.T, err error) []string {
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

// wantProblems checks that got holds exactly one problem per want, each
// starting with it, in order.
func wantProblems(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("got %q,\nwant %q", got, want)
	}
}

func TestClientConfigValidate(t *testing.T) {
	one := []string{"127.0.0.1:6379"}
	two := []string{"10.0.0.1:6379", "10.0.0.2:6379"}
	tests := []struct {
		name string
		cfg  ClientConfig
		want []string // prefixes of the problems, in order
	}{
		{"standalone", ClientConfig{Addrs: one, DB: 3}, nil},
		{"IPv6 and names", ClientConfig{Addrs: []string{"[2001:db8::1]:6379", "redis.lan:7000"}}, nil},
		{"sentinel with db", ClientConfig{Addrs: two, MasterName: "m", DB: 2, SentinelPassword: "pw"}, nil},
		{"no retries", ClientConfig{Addrs: one, MaxRetries: -1}, nil},
		{"no addrs", ClientConfig{}, []string{"addrs: empty: want at least one host:port"}},
		{"no port", ClientConfig{Addrs: []string{"127.0.0.1:6379", "localhost"}}, []string{`addrs[1]: "localhost": want host:port (IPv6 as [::1]:6379)`}},
		{"named port", ClientConfig{Addrs: []string{"localhost:redis"}}, []string{`addrs[0]: "localhost:redis": port "redis": want a number from 1 to 65535`}},
		{"port 0", ClientConfig{Addrs: []string{"localhost:0"}}, []string{`addrs[0]: "localhost:0": port "0"`}},
		{"cluster and sentinel", ClientConfig{Addrs: one, Cluster: true, MasterName: "m"}, []string{`master_name: "m": a Sentinel master name and cluster: true exclude each other`}},
		{"negative db", ClientConfig{Addrs: one, DB: -1}, []string{"db: -1: must be 0 or more"}},
		{"db on cluster", ClientConfig{Addrs: one, Cluster: true, DB: 1}, []string{"db: 1: Redis Cluster has only db 0"}},
		{"db on several addrs", ClientConfig{Addrs: two, DB: 1}, []string{"db: 1: Redis Cluster has only db 0"}},
		{"sentinel password without sentinel", ClientConfig{Addrs: one, SentinelPassword: "sentinel-secret"}, []string{"sentinel_password: set, but master_name is empty"}},
		{"pool size", ClientConfig{Addrs: one, PoolSize: -1}, []string{"pool_size: -1"}},
		{"max retries", ClientConfig{Addrs: one, MaxRetries: -2}, []string{"max_retries: -2"}},
		{"every problem at once", ClientConfig{Addrs: []string{"a", "b:1"}, Cluster: true, MasterName: "m", DB: -1, SentinelPassword: "x", PoolSize: -1},
			[]string{"addrs[0]", "master_name", "db", "pool_size"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, tc.cfg.Validate())
			wantProblems(t, got, tc.want)
			if strings.Contains(strings.Join(got, "\n"), "sentinel-secret") {
				t.Errorf("a problem repeats the password: %q", got)
			}
			// NewClient applies the same rules.
			rdb, err := NewClient(tc.cfg)
			if rdb != nil {
				defer rdb.Close()
			}
			if (err == nil) != (tc.want == nil) {
				t.Errorf("NewClient: got %v, want an error: %v", err, tc.want != nil)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "redisstore: "+tc.want[0]) {
				t.Errorf("NewClient: got %v, want %q first", err, tc.want[0])
			}
		})
	}
}

func TestClientConfigMode(t *testing.T) {
	tests := []struct {
		cfg  ClientConfig
		want string
	}{
		{ClientConfig{Addrs: []string{"a:1"}}, ModeStandalone},
		{ClientConfig{Addrs: []string{"a:1"}, Cluster: true}, ModeCluster},
		{ClientConfig{Addrs: []string{"a:1", "b:1"}}, ModeCluster},
		{ClientConfig{Addrs: []string{"a:1", "b:1"}, MasterName: "m"}, ModeSentinel},
	}
	for _, tc := range tests {
		if got := tc.cfg.Mode(); got != tc.want {
			t.Errorf("%+v: got %s, want %s", tc.cfg, got, tc.want)
		}
		// The client go-redis makes is of that kind.
		rdb, err := NewClient(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		switch rdb.(type) {
		case *redis.Client:
			got = ModeStandalone
			if tc.cfg.MasterName != "" {
				got = ModeSentinel // a failover client is a *redis.Client too
			}
		case *redis.ClusterClient:
			got = ModeCluster
		}
		if got != tc.want {
			t.Errorf("%+v: NewClient made a %T", tc.cfg, rdb)
		}
		_ = rdb.Close()
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{"zero", Options{}, []string{"prefix: empty", "open_record_ttl: 0s: must be at least 1s", "stopped_record_ttl: 0s", "writer_ttl: 0s", "max_pipelines: 0: want at least 1"}},
		{"braces", Options{Prefix: "{hs}:"}, []string{`prefix: "{hs}:": must not contain braces (they delimit hash tags) or spaces`}},
		{"space", Options{Prefix: "h s:"}, []string{`prefix: "h s:"`}},
		{"short TTL", Options{OpenRecordTTL: 500 * time.Millisecond}, []string{"open_record_ttl: 500ms: must be at least 1s"}},
		{"negative TTL", Options{StoppedRecordTTL: -time.Hour}, []string{"stopped_record_ttl: -1h0m0s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			if tc.name != "zero" {
				o.SetDefaults()
			}
			wantProblems(t, problemsOf(t, o.Validate()), tc.want)
			// New sets the defaults, then applies the same rules.
			_, err := New(nil, tc.o)
			if tc.name == "zero" {
				if err != nil {
					t.Errorf("New with the zero Options: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "redisstore: "+tc.want[0]) {
				t.Errorf("New: got %v, want %q", err, tc.want[0])
			}
		})
	}
}

func TestOptionsSetDefaults(t *testing.T) {
	var o Options
	o.SetDefaults()
	want := Options{Prefix: "hs:", OpenRecordTTL: 168 * time.Hour, StoppedRecordTTL: 24 * time.Hour, WriterTTL: 24 * time.Hour, MaxPipelines: 4}
	if o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
	set := Options{Prefix: "x:", OpenRecordTTL: time.Hour, StoppedRecordTTL: time.Minute, WriterTTL: time.Second, MaxPipelines: 9}
	o = set
	o.SetDefaults()
	if o != set {
		t.Errorf("changed what was set: got %+v, want %+v", o, set)
	}
}
