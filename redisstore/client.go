package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
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

// NewClient validates cfg and returns the matching go-redis client. It does
// not connect; use Store.Ping.
func NewClient(cfg ClientConfig) (redis.UniversalClient, error) {
	var errs []error
	if len(cfg.Addrs) == 0 {
		errs = append(errs, errors.New("redis addrs: at least one host:port is needed"))
	}
	for _, a := range cfg.Addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("redis addr %q: want host:port (IPv6 as [::1]:6379)", a))
		}
	}
	cluster := cfg.Cluster || (len(cfg.Addrs) > 1 && cfg.MasterName == "")
	if cluster && cfg.DB != 0 {
		errs = append(errs, fmt.Errorf("redis db %d: Redis Cluster has only db 0", cfg.DB))
	}
	if cfg.Cluster && cfg.MasterName != "" {
		errs = append(errs, errors.New("redis: cluster and sentinel master name are exclusive"))
	}
	if cfg.DB < 0 {
		errs = append(errs, fmt.Errorf("redis db %d: must be 0 or more", cfg.DB))
	}
	if err := errors.Join(errs...); err != nil {
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
