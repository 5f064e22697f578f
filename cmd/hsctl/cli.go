package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/session"
)

// Environment variables read by hsctl. The password has no flag, so it never
// shows in ps output or shell history.
const (
	envAddrs    = "HSRADIUS_REDIS_ADDRS"
	envMaster   = "HSRADIUS_REDIS_MASTER"
	envUsername = "HSRADIUS_REDIS_USERNAME"
	envPassword = "HSRADIUS_REDIS_PASSWORD"
	envTLS      = "HSRADIUS_REDIS_TLS"
	envPrefix   = "HSRADIUS_REDIS_PREFIX"

	defaultAddrs   = "127.0.0.1:6379"
	defaultTimeout = 5 * time.Second
)

// cli is one invocation: its streams, environment and clock.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	store          *redisstore.Store // once connected
}

// globals are the flags before the command (also accepted after it).
type globals struct {
	addrs    string
	master   string
	username string
	tls      bool
	prefix   string
	json     bool
	timeout  time.Duration

	envProblems []string // bad environment values, reported with the command
}

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis of its arguments and flags
	summary string
	details string // notes and examples for its help
	// setup registers the command's flags on fs and returns prepare, which
	// checks the parsed flags and positional arguments without any I/O and
	// returns the action to run.
	setup func(c *cli, fs *flag.FlagSet) (prepare func(pos []string) (action, error))
}

// action is a prepared command, run once Redis answers.
type action func(ctx context.Context, g *globals, mgr *session.SessionsMgr) error

// commands lists the subcommands in the order help shows them.
func commands() []*command {
	return []*command{createCmd(), listCmd(), currentCmd(), showCmd(), updateCmd(), deleteCmd(),
		planCreateCmd(), planListCmd(), planShowCmd(), planUpdateCmd(), planDeleteCmd(),
		voucherBatchCmd(), voucherBatchesCmd(), voucherShowCmd(), voucherExportCmd(), voucherRevokeCmd(), voucherCompleteCmd()}
}

// groupCommand joins a command group and its subcommand ("plan create").
func groupCommand(name string, rest []string) (string, []string) {
	if (name == "plan" || name == "voucher") && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		return name + " " + rest[0], rest[1:]
	}
	return name, rest
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commandNames() string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ") + ", help"
}

// main parses the global flags and runs the command.
func (c *cli) main(ctx context.Context, args []string) error {
	g := &globals{}
	fs := c.globalFlags(g)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.globalUsage(c.stdout)
			return nil
		}
		return flagError("", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usageErr("missing command: want one of %s (hsctl help shows usage)", commandNames())
	}
	name, rest := rest[0], rest[1:]
	name, rest = groupCommand(name, rest)
	if name == "help" {
		return c.help(rest)
	}
	cmd := findCommand(name)
	if cmd == nil {
		return usageErr("unknown command %q: want one of %s (hsctl help shows usage)", name, commandNames())
	}
	return c.runCommand(ctx, g, cmd, rest)
}

// runCommand parses and validates the command's arguments, then, and only
// then, connects to Redis: usage errors never wait for a network.
func (c *cli) runCommand(ctx context.Context, g *globals, cmd *command, args []string) error {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	prepare := cmd.setup(c, fs)
	own := flagNames(fs)
	c.addGlobalFlags(fs, g)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.commandUsage(c.stdout, cmd, fs, own)
			return nil
		}
		return flagError(cmd.name, err)
	}
	act, err := prepare(pos)
	if err != nil {
		return err
	}
	if len(g.envProblems) > 0 {
		return usageErr("%s", strings.Join(g.envProblems, "; "))
	}
	if g.timeout <= 0 {
		return usageErr("--timeout %v: must be positive, e.g. --timeout 5s", g.timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	store, closeStore, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeStore()
	c.store = store
	return act(ctx, g, session.NewSessionsMgr(store, c.now))
}

// parseInterleaved lets positional arguments and flags come in any order
// ("show ID --json" and "show --json ID"); "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (c *cli) globalFlags(g *globals) *flag.FlagSet {
	env := func(name, def string) string {
		if v := strings.TrimSpace(c.getenv(name)); v != "" {
			return v
		}
		return def
	}
	g.addrs = env(envAddrs, defaultAddrs)
	g.master = env(envMaster, "")
	g.username = env(envUsername, "")
	g.prefix = env(envPrefix, redisstore.DefaultPrefix)
	g.timeout = defaultTimeout
	if v := env(envTLS, ""); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			g.envProblems = append(g.envProblems, fmt.Sprintf("%s=%q: want true or false", envTLS, v))
		}
		g.tls = b
	}
	fs := flag.NewFlagSet("hsctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	c.addGlobalFlags(fs, g)
	return fs
}

// addGlobalFlags registers the global flags on fs, bound to g. Their
// defaults are g's current values, so registering them again on a
// command's flag set changes nothing until they are given.
func (c *cli) addGlobalFlags(fs *flag.FlagSet, g *globals) {
	fs.StringVar(&g.addrs, "redis", g.addrs, "Redis address(es) as `host:port[,host:port...]`: one is a standalone Redis, several a Cluster, or the sentinels with --redis-master (env "+envAddrs+", default "+defaultAddrs+")")
	fs.StringVar(&g.master, "redis-master", g.master, "Sentinel master `name` (env "+envMaster+")")
	fs.StringVar(&g.username, "redis-user", g.username, "Redis ACL `user` (env "+envUsername+"); the password comes only from env "+envPassword)
	fs.BoolVar(&g.tls, "redis-tls", g.tls, "connect with TLS, verifying the server's certificate (env "+envTLS+"=true)")
	fs.StringVar(&g.prefix, "prefix", g.prefix, "key `prefix` (env "+envPrefix+", default "+redisstore.DefaultPrefix+")")
	fs.BoolVar(&g.json, "json", g.json, "print JSON instead of a table")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "`duration` allowed for the whole command, Redis included (default 5s)")
}

func flagNames(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

// connect builds the go-redis client and the store, and checks that Redis
// answers, so that a wrong address fails with a hint rather than a timeout
// deep inside a command.
func (c *cli) connect(ctx context.Context, g *globals) (*redisstore.Store, func(), error) {
	var addrs []string
	for a := range strings.SplitSeq(g.addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	cfg := redisstore.ClientConfig{
		Addrs:        addrs,
		MasterName:   g.master,
		Username:     g.username,
		Password:     c.getenv(envPassword),
		DialTimeout:  g.timeout,
		ReadTimeout:  g.timeout,
		WriteTimeout: g.timeout,
		PoolSize:     2, // one command at a time
	}
	if g.master != "" {
		// Sentinels usually share the data nodes' password.
		cfg.SentinelPassword = cfg.Password
	}
	if g.tls {
		// ServerName is left empty: the dialer takes it from each address.
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	rdb, err := redisstore.NewClient(cfg)
	if err != nil {
		return nil, nil, usageErr("%s (check --redis / %s and --redis-master / %s)",
			strings.TrimPrefix(err.Error(), "redisstore: "), envAddrs, envMaster)
	}
	store, err := redisstore.New(rdb, redisstore.Options{Prefix: g.prefix})
	if err != nil {
		_ = rdb.Close()
		return nil, nil, usageErr("--prefix: %s", strings.TrimPrefix(err.Error(), "redisstore: "))
	}
	if err := store.Ping(ctx); err != nil {
		_ = rdb.Close()
		return nil, nil, pingError(g, addrs, err)
	}
	return store, func() { _ = rdb.Close() }, nil
}

func pingError(g *globals, addrs []string, err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		err = inner // drop "redisstore: ping: "
	}
	where := "Redis at " + strings.Join(addrs, ",")
	if g.master != "" {
		where = fmt.Sprintf("Redis master %q via the sentinels at %s", g.master, strings.Join(addrs, ","))
	}
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg = fmt.Sprintf("no answer within --timeout %v", g.timeout)
	}
	hint := "start redis-server or the demo server, or set --redis / " + envAddrs
	switch {
	case strings.Contains(msg, "NOAUTH"), strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "AUTH"), strings.Contains(msg, "NOPERM"):
		hint = "set the ACL user with --redis-user / " + envUsername + " and the password in " + envPassword
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		hint = "check --redis-tls / " + envTLS + " and the server's certificate"
	}
	return failure("cannot reach %s: %s (%s)", where, msg, hint)
}

// help prints the usage of hsctl or of one command.
func (c *cli) help(args []string) error {
	if len(args) == 0 {
		c.globalUsage(c.stdout)
		return nil
	}
	name, _ := groupCommand(args[0], args[1:])
	cmd := findCommand(name)
	if cmd == nil {
		return usageErr("help: unknown command %q: want one of %s", name, commandNames())
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	cmd.setup(c, fs)
	c.commandUsage(c.stdout, cmd, fs, flagNames(fs))
	return nil
}

func (c *cli) globalUsage(w io.Writer) {
	fmt.Fprint(w, `hsctl creates, inspects, tops up and deletes hotspot sessions stored in Redis
(the SessionsMgr of the hsradius RADIUS server, from the shell), and the plans
and voucher codes customers redeem for sessions.

Usage:
  hsctl [global flags] <command> [arguments] [flags]

Commands:
`)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-17s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "  %-17s %s\n", "help", "show the flags and examples of a command")
	fmt.Fprint(w, "\nGlobal flags (before or after the command):\n")
	g := &globals{}
	fs := c.globalFlags(g)
	printFlags(w, fs, nil)
	fmt.Fprintf(w, `
Environment:
  %s  Redis password (AUTH / ACL); there is deliberately no flag for it

Exit codes: 0 ok, 1 runtime or storage error, 2 usage error, 3 not found or no
available session.

Run "hsctl help <command>" for the flags and examples of a command.
`, envPassword)
}

func (c *cli) commandUsage(w io.Writer, cmd *command, fs *flag.FlagSet, own map[string]bool) {
	fmt.Fprintf(w, "hsctl %s: %s\n\nUsage:\n  hsctl [global flags] %s %s\n", cmd.name, cmd.summary, cmd.name, cmd.args)
	if len(own) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, fs, own)
	}
	fmt.Fprint(w, cmd.details)
	fmt.Fprint(w, "\nGlobal flags (--redis, --json, ...) may come before or after the command: see hsctl help.\n")
}

// printFlags prints the flags of fs (only those in only, when non-nil) with
// two dashes, the way this tool's messages spell them.
func printFlags(w io.Writer, fs *flag.FlagSet, only map[string]bool) {
	var lines [][2]string
	fs.VisitAll(func(f *flag.Flag) {
		if only != nil && !only[f.Name] {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		head := "--" + f.Name
		if name != "" {
			head += " " + name
		}
		lines = append(lines, [2]string{head, usage})
	})
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n      %s\n", l[0], l[1])
	}
}
