package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/session"
)

// maxDuration bounds every run, also one given by -count alone.
const maxDuration = 10 * time.Minute

// maxDevices: the device number fills the MAC's three low octets.
const maxDevices = 1 << 24

const envSecret = "HSLOAD_SECRET"

const usage = `Usage: hsload -mode MODE (-duration D | -count N) [flags]

hsload simulates hotspot NAS traffic against a RADIUS server: -devices Wi-Fi
clients, -concurrency requests in flight (closed loop), every response
verified. Device k has the MAC 02:00:00:KK:KK:KK (k's three low bytes) as
User-Name, PAP password and Calling-Station-Id (02-00-00-KK-KK-KK).

Modes:
  auth     Access-Request (Message-Authenticator first unless disabled)
  status   Status-Server to the auth port
  start    Accounting Start, each a new accounting session
  interim  Interim-Update, one accounting session per device, growing counters
  stop     Accounting Stop of a whole session (K+1 intervals of counters)
  mix      per device: Access-Request, Start, -interims Interim-Updates, Stop,
           then again with a new Acct-Session-Id; the population starts
           spread over the cycle

The run stops after -count requests or -duration (at most 10m), whichever
comes first, then waits for the requests in flight. Only loopback servers
unless -allow-remote.

Flags:
`

const usageEnv = `
Environment:
  HSLOAD_SECRET  the shared secret, when -secret is not given

Output: counts by outcome and response code, answered req/s, latency
percentiles, and the accounting totals the server acknowledged (the counters
of the last answered request of each accounting session, summed). Exit
status: 0 after a run, 1 for a runtime error, 2 for a usage error.
`

// config is the validated command line.
type config struct {
	help           bool
	server         string
	authPort       int
	acctPort       int
	secret         string
	mode           mode
	devices        int
	concurrency    int
	duration       time.Duration
	count          int64
	sockets        int
	timeout        time.Duration
	retries        int
	withMA         bool
	interims       int
	interval       time.Duration
	json           bool
	progress       bool
	createSessions bool
	redis          string
	prefix         string
	sessionType    session.Type
	seed           uint64
	allowRemote    bool
	// notes are adjustments worth telling the user (printed to stderr).
	notes []string
}

// usageError lists every problem of a command line; exit status 2.
type usageError struct{ problems []string }

func (e *usageError) Error() string {
	if len(e.problems) == 1 {
		return e.problems[0] + " (see hsload -h)"
	}
	return "usage:\n  " + strings.Join(e.problems, "\n  ") + "\n(see hsload -h)"
}

// parseFlags parses and validates args, reporting every problem at once.
func parseFlags(args []string, getenv func(string) string, stdout io.Writer) (config, error) {
	var (
		c       config
		modeStr string
		typeStr string
		count   int64
	)
	fs := flag.NewFlagSet("hsload", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.server, "server", "127.0.0.1", "RADIUS server `host` (IP address or name)")
	fs.IntVar(&c.authPort, "auth-port", 1812, "authentication `port` (Access-Request, Status-Server)")
	fs.IntVar(&c.acctPort, "acct-port", 1813, "accounting `port`")
	fs.StringVar(&c.secret, "secret", "testing123", "shared `secret` (default $"+envSecret+", else testing123)")
	fs.StringVar(&modeStr, "mode", "auth", "`mode`: auth, status, start, interim, stop or mix")
	fs.IntVar(&c.devices, "devices", 10000, "simulated devices (`N`, at most 16777216)")
	fs.IntVar(&c.concurrency, "concurrency", 64, "requests in flight (`C`, closed loop); at most the devices")
	fs.DurationVar(&c.duration, "duration", 0, "stop sending after `D` (at most 10m)")
	fs.Int64Var(&count, "count", 0, "stop after `N` requests (retransmissions not counted)")
	fs.IntVar(&c.sockets, "sockets", 0, "UDP sockets, each with up to 256 Identifiers in flight (default ceil(C/256)+1)")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Second, "wait this `long` for a response before it counts as a timeout")
	fs.IntVar(&c.retries, "retries", 0, "retransmit the same bytes this many `times` after a timeout")
	fs.BoolVar(&c.withMA, "message-authenticator", true, "send Message-Authenticator, first, in Access-Request and Status-Server")
	fs.IntVar(&c.interims, "interims", 3, "Interim-Updates per accounting session (`K`, modes mix and stop)")
	fs.DurationVar(&c.interval, "interval", 300*time.Second, "simulated Acct-Interim-Interval: the session time each interim adds (whole seconds)")
	fs.BoolVar(&c.json, "json", false, "print the summary as one JSON object")
	fs.BoolVar(&c.progress, "progress", false, "print a progress line to stderr every second")
	fs.BoolVar(&c.createSessions, "create-sessions", false, "before the run, create one session per device in Redis")
	fs.StringVar(&c.redis, "redis", "127.0.0.1:6379", "Redis `host:port` for -create-sessions")
	fs.StringVar(&c.prefix, "prefix", redisstore.DefaultPrefix, "Redis key `prefix` for -create-sessions (the server's redis.prefix)")
	fs.StringVar(&typeStr, "session-type", "time", "`type` of the sessions created: time (1 day) or data (10^9 MB)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the simulated traffic (rates, counters, authenticators)")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a server that is not a loopback address")

	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, usage)
		fs.PrintDefaults()
		fmt.Fprint(stdout, usageEnv)
		c.help = true
		return c, nil
	case err != nil:
		return c, &usageError{problems: []string{err.Error()}}
	case fs.NArg() > 0:
		return c, &usageError{problems: []string{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["secret"] {
		if s := getenv(envSecret); s != "" {
			c.secret = s
		}
	}

	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	m, ok := modeNames[modeStr]
	if !ok {
		bad("-mode %q: want auth, status, start, interim, stop or mix", modeStr)
	}
	c.mode = m
	if c.server == "" {
		bad("-server: empty")
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"auth-port", c.authPort}, {"acct-port", c.acctPort}} {
		if p.v < 1 || p.v > 65535 {
			bad("-%s %d: want 1 to 65535", p.name, p.v)
		}
	}
	if c.secret == "" {
		bad("-secret: empty")
	}
	if c.devices < 1 || c.devices > maxDevices {
		bad("-devices %d: want 1 to %d", c.devices, maxDevices)
	}
	if c.concurrency < 1 || c.concurrency > 65536 {
		bad("-concurrency %d: want 1 to 65536", c.concurrency)
	}
	// Bounded runs only: a load generator left running by mistake loads a
	// shared box for nothing.
	switch {
	case !set["duration"] && !set["count"]:
		bad("give -duration or -count (or both): a run must be bounded")
	case set["duration"] && (c.duration <= 0 || c.duration > maxDuration):
		bad("-duration %v: want more than 0 and at most %v", c.duration, maxDuration)
	case set["count"] && count <= 0:
		bad("-count %d: want at least 1", count)
	}
	if !set["duration"] {
		c.duration = maxDuration
	}
	c.count = count
	if c.timeout <= 0 || c.timeout > time.Minute {
		bad("-timeout %v: want more than 0 and at most 1m", c.timeout)
	}
	if c.retries < 0 || c.retries > 10 {
		bad("-retries %d: want 0 to 10", c.retries)
	}
	if c.interims < 0 || c.interims > 1000 {
		bad("-interims %d: want 0 to 1000", c.interims)
	}
	if c.interval < time.Second || c.interval > 24*time.Hour || c.interval%time.Second != 0 {
		bad("-interval %v: want whole seconds from 1s to 24h", c.interval)
	}
	st, err := session.ParseType(typeStr)
	if err != nil || st == session.TypeTimeOrData {
		bad("-session-type %q: want time or data", typeStr)
	}
	c.sessionType = st
	if c.createSessions {
		if c.redis == "" {
			bad("-redis: empty")
		}
	}
	if c.concurrency > c.devices && c.devices >= 1 {
		c.notes = append(c.notes, fmt.Sprintf("concurrency %d capped at the %d devices: a device never has two requests in flight", c.concurrency, c.devices))
		c.concurrency = c.devices
	}
	if !set["sockets"] {
		c.sockets = (c.concurrency+255)/256 + 1
	}
	if c.sockets < 1 || c.sockets > 1024 {
		bad("-sockets %d: want 1 to 1024", c.sockets)
	} else if c.concurrency > 256*c.sockets {
		bad("-concurrency %d needs at least %d sockets (256 Identifiers each); -sockets is %d", c.concurrency, (c.concurrency+255)/256, c.sockets)
	}
	if len(problems) > 0 {
		return c, &usageError{problems: problems}
	}
	return c, nil
}
