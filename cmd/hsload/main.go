// Command hsload is the load generator of the hotspot RADIUS backend: it
// simulates the NAS of many Wi-Fi devices (MAC authentication, accounting
// cycles with growing counters) against a RADIUS server, closed loop, and
// reports throughput, latency percentiles and the accounting totals the
// server acknowledged, which a test can compare with what Redis holds.
//
//	hsload -mode auth -duration 10s
//	hsload -mode mix -count 200000 -devices 10000 -create-sessions -redis 127.0.0.1:6379 -json
//
// Every response is verified (Response Authenticator, Message-Authenticator
// when present) before it counts as answered. Only loopback servers are
// loaded unless -allow-remote. "hsload -h" lists the flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis logs pool trouble itself; hsload reports errors once.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hsload: %v\n", err)
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// run is the whole program: one bounded load run. It returns a *usageError
// for a bad command line.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, getenv, stdout)
	if err != nil || cfg.help {
		return err
	}
	host, err := resolve(ctx, cfg.server)
	if err != nil {
		return err
	}
	if !host.IsLoopback() && !cfg.allowRemote {
		return &usageError{problems: []string{fmt.Sprintf(
			"-server %s (%s) is not a loopback address: this project loads loopback only; pass -allow-remote to load another host", cfg.server, host)}}
	}
	for _, n := range cfg.notes {
		fmt.Fprintln(stderr, "hsload: "+n)
	}

	w := newWorkload(cfg.mode, cfg.devices, uint32(cfg.interims), uint64(cfg.interval/time.Second), cfg.seed, uint32(time.Now().UnixNano()>>20))
	var cr *created
	if cfg.createSessions {
		c, err := createSessions(ctx, cfg.redis, cfg.prefix, cfg.sessionType, w.devices)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "hsload: created %d %s sessions in %.3f s (%.0f/s)\n", c.Sessions, c.Type, c.Secs, float64(c.Sessions)/c.Secs)
		cr = &c
	}
	if ctx.Err() != nil {
		return nil // interrupted before the run
	}

	eng, err := newEngine(engineConfig{
		authAddr:    netip.AddrPortFrom(host, uint16(cfg.authPort)),
		acctAddr:    netip.AddrPortFrom(host, uint16(cfg.acctPort)),
		secret:      []byte(cfg.secret),
		concurrency: cfg.concurrency,
		sockets:     cfg.sockets,
		timeout:     cfg.timeout,
		retries:     cfg.retries,
		withMA:      cfg.withMA,
		count:       cfg.count,
		seed:        cfg.seed,
	}, w)
	if err != nil {
		return err
	}
	var progress progressFunc
	if cfg.progress {
		var lastAnswered uint64
		var lastElapsed time.Duration
		progress = func(elapsed time.Duration, sent, answered, timeouts uint64) {
			rate := float64(answered-lastAnswered) / (elapsed - lastElapsed).Seconds()
			lastAnswered, lastElapsed = answered, elapsed
			fmt.Fprintf(stderr, "hsload: %5.1fs sent %d answered %d %.0f req/s timeouts %d\n",
				elapsed.Seconds(), sent, answered, rate, timeouts)
		}
	}
	st, elapsed := eng.run(ctx, cfg.duration, progress)
	s := summarize(cfg, &st, elapsed, w.totals(), cr)
	if cfg.json {
		return s.writeJSON(stdout)
	}
	return s.writeText(stdout)
}

// resolve returns the server's address, an IPv4 one when a name has both.
func resolve(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("-server %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("-server %s: no address", host)
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return addrs[0], nil
}

// quietLogger discards go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
