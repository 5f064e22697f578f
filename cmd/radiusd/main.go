// Command radiusd is the hotspot RADIUS server: it answers the NAS's
// Access-Requests and Accounting-Requests from the sessions kept in Redis.
//
// With -config (or HSRADIUS_CONFIG) it reads a YAML file; every key is
// documented in testdata/config/radiusd.example.yaml. Without one it starts
// a demo on loopback with an embedded in-memory Redis.
//
// Exit status: 0 after a clean shutdown (SIGINT, SIGTERM), 2 for a
// configuration or usage error, 1 for a runtime error (Redis unreachable, a
// port that cannot be bound).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// gcPercent is the collector's target unless GOGC is set.
const gcPercent = 400

func main() {
	// Every packet allocates a few KB while the live heap (mostly the
	// response cache: 10 s of replies) stays tens of MB, so with Go's
	// default (GOGC=100) the collector runs many times a second under load,
	// scanning every worker's stack each time. Collecting four times less
	// often measured +15 % Access-Requests/s and p99 10 -> 7 ms, for about
	// twice the memory (RSS 155 instead of 74 MiB at 10k requests/s, peak
	// 450 instead of 200 MiB under overload; BENCHMARKS.md). GOGC in the
	// environment still wins (GOGC=100 for the smaller footprint).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "radiusd: %v\n", err)
		os.Exit(exitCode(err))
	}
}
