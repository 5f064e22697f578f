package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClientConfig says how to reach Redis. One address is a standalone Redis,
// several (or Cluster set) a Redis Cluster, a MasterName a Sentinel set
// whose addresses are the sentinels'.
type ClientConfig struct {
	Addrs      []string
	Cluster    bool   // force Cluster mode with a single seed address
	MasterName string // Sentinel master name
	Username   string // Redis 6 ACL user
	Password   string
	// SentinelPassword authenticates to the sentinels, when they need it.
	SentinelPassword string
	DB               int         // standalone and Sentinel only
	TLS              *tls.Config // nil: plain TCP
	// Timeouts for one command; keep them below the NAS's retry interval.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	PoolSize                               int // 0: go-redis default (10 per CPU)
	// MaxRetries of one command on network errors: 0 is go-redis's default
	// (3), -1 disables retries (fail fast, e.g. in a CLI).
	MaxRetries int
}

// ConfigError is one problem of a ClientConfig or Options: Key names the
// setting at fault like the configuration file's keys (addrs[1], db,
// prefix), Problem says what is wrong and how to fix it. A Problem never
// repeats a password.
type ConfigError struct {
	Key     string
	Problem string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Problem }

// problems collects ConfigErrors.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &ConfigError{Key: key, Problem: fmt.Sprintf(format, args...)})
}

// Redis deployments, as Mode names them.
const (
	ModeStandalone = "standalone"
	ModeCluster    = "cluster"
	ModeSentinel   = "sentinel"
)

// Mode says which deployment cfg reaches, as NewClient (go-redis's
// UniversalClient) chooses it: a MasterName means Sentinel, Cluster or
// several addresses a Redis Cluster, else a standalone Redis.
func (cfg *ClientConfig) Mode() string {
	switch {
	case cfg.MasterName != "":
		return ModeSentinel
	case cfg.Cluster || len(cfg.Addrs) > 1:
		return ModeCluster
	}
	return ModeStandalone
}

// Validate reports every problem of cfg at once, each a *ConfigError
// (joined with errors.Join); nil when there is none.
func (cfg *ClientConfig) Validate() error {
	var p problems
	if len(cfg.Addrs) == 0 {
		p.add("addrs", "empty: want at least one host:port")
	}
	for i, a := range cfg.Addrs {
		key := fmt.Sprintf("addrs[%d]", i)
		_, port, err := net.SplitHostPort(strings.TrimSpace(a))
		if err != nil {
			p.add(key, "%q: want host:port (IPv6 as [::1]:6379)", a)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			p.add(key, "%q: port %q: want a number from 1 to 65535", a, port)
		}
	}
	if cfg.Cluster && cfg.MasterName != "" {
		p.add("master_name", "%q: a Sentinel master name and cluster: true exclude each other", cfg.MasterName)
	}
	switch {
	case cfg.DB < 0:
		p.add("db", "%d: must be 0 or more", cfg.DB)
	case cfg.DB != 0 && (cfg.Cluster || cfg.Mode() == ModeCluster):
		p.add("db", "%d: Redis Cluster has only db 0 (several addrs without master_name mean Cluster)", cfg.DB)
	}
	if cfg.SentinelPassword != "" && cfg.MasterName == "" {
		p.add("sentinel_password", "set, but master_name is empty: only Sentinel uses it")
	}
	if cfg.PoolSize < 0 {
		p.add("pool_size", "%d: must be 0 (go-redis's default) or more", cfg.PoolSize)
	}
	if cfg.MaxRetries < -1 {
		p.add("max_retries", "%d: want -1 (no retries), 0 (go-redis's default) or more", cfg.MaxRetries)
	}
	return errors.Join(p...)
}

// NewClient validates cfg (ClientConfig.Validate) and returns the matching
// go-redis client. It does not connect; use Store.Ping.
func NewClient(cfg ClientConfig) (redis.UniversalClient, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:            cfg.Addrs,
		IsClusterMode:    cfg.Cluster,
		MasterName:       cfg.MasterName,
		Username:         cfg.Username,
		Password:         cfg.Password,
		SentinelPassword: cfg.SentinelPassword,
		DB:               cfg.DB,
		TLSConfig:        cfg.TLS,
		DialTimeout:      cfg.DialTimeout,
		ReadTimeout:      cfg.ReadTimeout,
		WriteTimeout:     cfg.WriteTimeout,
		PoolSize:         cfg.PoolSize,
		MaxRetries:       cfg.MaxRetries,
	}), nil
}
