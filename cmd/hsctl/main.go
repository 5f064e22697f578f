// Command hsctl is the admin CLI of the hotspot RADIUS backend: the
// SessionsMgr from the shell. It creates, lists, shows, tops up, changes and
// deletes the sessions the RADIUS server reads from Redis, and manages plans
// and voucher codes (hsctl plan ..., hsctl voucher ...; README.md, "Vouchers").
//
//	hsctl [--redis host:port] [--json] create --mac aa:bb:cc:dd:ee:ff --type time --time 1h --down 10 --up 2
//	hsctl list aa:bb:cc:dd:ee:ff
//	hsctl update aabbccddeeff-1 --add-time 30m
//
// Exit codes: 0 ok, 1 runtime or storage error, 2 usage error, 3 not found
// or no available session. Errors are one line on stderr starting "hsctl: ".
// "hsctl help" lists the commands, flags and environment variables.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis logs dial failures itself; hsctl reports every error once,
	// as one line, so its own log would only repeat it.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one hsctl invocation (args without the program name) and
// returns its exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now}
	err := c.main(ctx, args)
	if err != nil {
		fmt.Fprintln(stderr, "hsctl: "+oneLine(err.Error()))
	}
	return exitCode(err)
}

// quietLogger discards go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
