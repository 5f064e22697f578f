package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hotspot-radius/hsradius/session"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1 // runtime or storage error
	exitUsage    = 2 // bad flag, argument or value
	exitNotFound = 3 // unknown session, or no available session
)

// exitError is an error with its exit code and a message written for the
// operator: what is wrong and how to fix it.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, a...)}
}

func notFoundErr(format string, a ...any) error {
	return &exitError{code: exitNotFound, msg: fmt.Sprintf(format, a...)}
}

func failure(format string, a ...any) error {
	return &exitError{code: exitFailure, msg: fmt.Sprintf(format, a...)}
}

// exitCode classifies err: exitError carries its own code; otherwise the
// session sentinels decide.
func exitCode(err error) int {
	var e *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &e):
		return e.code
	case errors.Is(err, session.ErrInvalid):
		return exitUsage
	case errors.Is(err, session.ErrNotFound):
		return exitNotFound
	}
	return exitFailure
}

// oneLine keeps the "one line on stderr" promise for messages that join
// several errors.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// trimInvalid drops the "invalid session value: " prefix of the session
// package's validation errors: the CLI says which flag is wrong instead.
func trimInvalid(err error) string {
	return strings.TrimPrefix(err.Error(), session.ErrInvalid.Error()+": ")
}

var (
	reBadValue = regexp.MustCompile(`^invalid (?:boolean )?value ("[^"]*") for (?:flag )?-(\S+): (.*)$`)
	reUnknown  = regexp.MustCompile(`^flag provided but not defined: -(\S+)$`)
	reNeedsArg = regexp.MustCompile(`^flag needs an argument: -(\S+)$`)
)

// flagError rewrites the flag package's messages into this tool's style
// (--flag, a hint) and marks them as usage errors.
func flagError(cmd string, err error) error {
	msg := err.Error()
	help := "hsctl help"
	if cmd != "" {
		help = "hsctl " + cmd + " -h"
	}
	if m := reBadValue.FindStringSubmatch(msg); m != nil {
		problem := m[3]
		if problem == "parse error" { // strconv.ParseBool's error, for bool flags
			problem = "want true or false"
		}
		msg = fmt.Sprintf("--%s %s: %s", m[2], m[1], problem)
	} else if m := reUnknown.FindStringSubmatch(msg); m != nil {
		msg = "unknown flag --" + m[1]
		if strings.Contains(m[1], "password") {
			msg += " (the Redis password is read only from the environment: HSRADIUS_REDIS_PASSWORD)"
		}
	} else if m := reNeedsArg.FindStringSubmatch(msg); m != nil {
		msg = "--" + m[1] + " needs a value"
	}
	if cmd != "" {
		msg = cmd + ": " + msg
	}
	return usageErr("%s (see %s)", msg, help)
}

// flagHints are appended to problems with a flag's value.
var flagHints = map[string]string{
	"--mac":          "e.g. --mac aa:bb:cc:dd:ee:ff",
	"--type":         "time, data or time_or_data",
	"--time":         "e.g. --time 1h30m, 5400 or 2d",
	"--data-mb":      "e.g. --data-mb 500",
	"--exp-days":     "e.g. --exp-days 30, or none",
	"--down":         "e.g. --down 10 --up 2, or --global-speed",
	"--up":           "e.g. --down 10 --up 2, or --global-speed",
	"--provider":     "at most 128 bytes",
	"--time-used":    "e.g. --time-used 30m",
	"--data-used-mb": "e.g. --data-used-mb 100",
}

// fieldProblems turns the validation errors of package session (each a
// *session.FieldError naming a field) into problems naming the flags that
// set those fields (flagOf; "" or nil: the field's name). given reports
// whether the user passed a flag, so a missing allocation reads "--time is
// required ...".
func fieldProblems(err error, flagOf func(field string) string, given func(flag string) bool) []string {
	var out []string
	for _, e := range session.ErrorLeaves(err) {
		var fe *session.FieldError
		if !errors.As(e, &fe) {
			out = append(out, trimInvalid(e))
			continue
		}
		name := fe.Field
		if flagOf != nil && flagOf(fe.Field) != "" {
			name = flagOf(fe.Field)
		}
		hint := ""
		if h := flagHints[name]; h != "" && !strings.Contains(fe.Problem, "e.g.") {
			hint = " (" + h + ")"
		}
		if rest, ok := strings.CutPrefix(fe.Problem, "must be positive"); ok && !given(name) {
			out = append(out, name+" is required"+rest+hint)
			continue
		}
		out = append(out, name+": "+fe.Problem+hint)
	}
	return out
}

// isValidation reports whether err is made only of validation failures.
func isValidation(err error) bool {
	for _, e := range session.ErrorLeaves(err) {
		if !errors.Is(e, session.ErrInvalid) {
			return false
		}
	}
	return true
}
