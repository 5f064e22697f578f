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
	// The live heap is a few MB while every packet allocates a few KB, so
	// with Go's default (GOGC=100) the collector runs dozens of times a
	// second under load, scanning every worker's stack each time. Four
	// times less often costs a few tens of MB; GOGC in the environment
	// still wins.
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
