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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "radiusd: %v\n", err)
		os.Exit(exitCode(err))
	}
}
