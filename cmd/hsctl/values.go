package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// Flag values. Each records whether it was given, so that "not given" and
// "given as zero" stay distinct, and rejects bad input with a message that
// says what is wanted; the flag package adds the flag's name.

// secondsValue is a duration in whole seconds: "3600", "1h30m", "2d", "1d12h".
type secondsValue struct {
	secs uint64
	set  bool
}

func (v *secondsValue) String() string {
	if v == nil || !v.set {
		return ""
	}
	return strconv.FormatUint(v.secs, 10)
}

func (v *secondsValue) Set(s string) error {
	n, err := parseSeconds(s)
	if err != nil {
		return err
	}
	v.secs, v.set = n, true
	return nil
}

const maxSeconds = math.MaxInt64 // Redis integers are signed 64-bit

// parseSeconds accepts plain seconds ("3600"), a Go duration ("1h30m"), days
// ("2d") or days followed by a Go duration ("1d12h"). It rejects negative,
// fractional-second and malformed values.
func parseSeconds(s string) (uint64, error) {
	const want = "want seconds (3600), a duration (1h30m) or days (2d)"
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty: " + want)
	}
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("must not be negative")
	}
	if n, err := strconv.ParseUint(s, 10, 63); err == nil {
		return n, nil
	} else if isDigits(s) {
		return 0, errors.New("too large")
	}
	var days uint64
	rest := s
	if d, r, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 63)
		if err != nil || !isDigits(d) {
			return 0, errors.New(want)
		}
		if n > maxSeconds/86400 {
			return 0, errors.New("too large")
		}
		days, rest = n, r
	}
	var secs uint64
	if rest != "" {
		if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, errors.New(want)
		}
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, errors.New(want)
		}
		if d%time.Second != 0 {
			return 0, errors.New("want whole seconds")
		}
		secs = uint64(d / time.Second)
	}
	if secs > maxSeconds-days*86400 {
		return 0, errors.New("too large")
	}
	return days*86400 + secs, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// mbValue is a non-negative number of megabytes (10⁶ bytes).
type mbValue struct {
	mb  float64
	set bool
}

func (v *mbValue) String() string {
	if v == nil || !v.set {
		return ""
	}
	return strconv.FormatFloat(v.mb, 'f', -1, 64)
}

func (v *mbValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("want a number of megabytes, e.g. 500 or 0.5 (1 MB = 1,000,000 bytes)")
	}
	if f < 0 {
		return errors.New("must not be negative")
	}
	if _, err := session.MBToBytes(f); err != nil {
		return errors.New("too large")
	}
	v.mb, v.set = f, true
	return nil
}

// mbitsValue is a speed in whole Mbit/s.
type mbitsValue struct {
	mbits uint
	set   bool
}

func (v *mbitsValue) String() string {
	if v == nil || !v.set {
		return ""
	}
	return strconv.FormatUint(uint64(v.mbits), 10)
}

func (v *mbitsValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return errors.New("must not be negative")
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		if isDigits(s) {
			return fmt.Errorf("too large (at most %d)", uint32(math.MaxUint32))
		}
		return errors.New("want a whole number of Mbit/s, e.g. 10")
	}
	v.mbits, v.set = uint(n), true
	return nil
}

// expDaysValue is a number of days (≥ 1) or "none" for no expiry.
type expDaysValue struct {
	days uint
	none bool
	set  bool
}

func (v *expDaysValue) String() string {
	switch {
	case v == nil || !v.set:
		return ""
	case v.none:
		return "none"
	}
	return strconv.FormatUint(uint64(v.days), 10)
}

func (v *expDaysValue) Set(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "none" || s == "never" {
		*v = expDaysValue{none: true, set: true}
		return nil
	}
	if strings.HasPrefix(s, "-") {
		return errors.New("must not be negative (none removes the expiry)")
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return errors.New("want a whole number of days ≥ 1, or none for no expiry")
	}
	*v = expDaysValue{days: uint(n), set: true}
	return nil
}

// toUint converts a parsed count to the uint the session API takes.
func toUint(v uint64) (uint, bool) {
	u := uint(v)
	return u, uint64(u) == v
}
