package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors callers branch on. Errors returned by this package and by
// Store implementations wrap one of them where one applies.
var (
	// ErrNotFound: no session (or device) with that identity exists.
	ErrNotFound = errors.New("session not found")
	// ErrInvalid: a value breaks a validation rule; the message names the field.
	ErrInvalid = errors.New("invalid session value")
	// ErrNoSession: the device owns no session at all.
	ErrNoSession = errors.New("device has no session")
	// ErrTimeExhausted: the device's sessions have no time left.
	ErrTimeExhausted = errors.New("session time used up")
	// ErrDataExhausted: the device's sessions have no data left.
	ErrDataExhausted = errors.New("session data used up")
	// ErrExpired: the device's session expired.
	ErrExpired = errors.New("session expired")
)

// BytesPerMB is the size of the megabyte of the API: 10⁶ bytes (SI).
const BytesPerMB = 1_000_000

// maxCounter bounds every stored counter: Redis integers are signed 64-bit.
const maxCounter = math.MaxInt64

// Type is the kind of allocation a session sells.
type Type uint8

// Session types, numbered as in the hotspot SDK.
const (
	TypeTime       Type = 0 // limited by seconds
	TypeData       Type = 1 // limited by megabytes
	TypeTimeOrData Type = 2 // limited by whichever runs out first
)

// String returns the SDK name of the type: time, data or time_or_data.
func (t Type) String() string {
	switch t {
	case TypeTime:
		return "time"
	case TypeData:
		return "data"
	case TypeTimeOrData:
		return "time_or_data"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is one of the three session types.
func (t Type) Valid() bool { return t <= TypeTimeOrData }

// LimitsTime reports whether running out of time ends a session of this type.
func (t Type) LimitsTime() bool { return t == TypeTime || t == TypeTimeOrData }

// LimitsData reports whether running out of data ends a session of this type.
func (t Type) LimitsData() bool { return t == TypeData || t == TypeTimeOrData }

// ParseType accepts a type's name (time, data, time_or_data; also
// "time-or-data") or its number (0, 1, 2).
func ParseType(s string) (Type, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "0", "time":
		return TypeTime, nil
	case "1", "data":
		return TypeData, nil
	case "2", "time_or_data", "time-or-data", "timeordata":
		return TypeTimeOrData, nil
	}
	return 0, &FieldError{Field: "type", Problem: fmt.Sprintf("%q is not a session type (want time, data or time_or_data)", s)}
}

// ParseTypeJSON reads a session type given in JSON as a string ("time",
// "data", "time_or_data") or a number (0, 1, 2): the admin API's session
// and plan bodies.
func ParseTypeJSON(raw json.RawMessage) (Type, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, &FieldError{Field: "type", Problem: "required: time, data or time_or_data"}
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, &FieldError{Field: "type", Problem: "want time, data or time_or_data"}
		}
	}
	return ParseType(s)
}

// FieldError is a validation failure of one field. It wraps ErrInvalid.
type FieldError struct {
	Field   string // API/JSON name of the field, e.g. "time_secs", "data_mb"
	Problem string
}

func (e *FieldError) Error() string { return "invalid " + e.Field + ": " + e.Problem }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// ErrorLeaves flattens err's errors.Join trees (validation reports every
// field at once that way) into their leaves; nil for nil.
func ErrorLeaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, ErrorLeaves(e)...)
		}
		return out
	}
	return []error{err}
}

// Data is the persisted state of one session, as a Store reads and writes it.
// Consumption and allocation are exact integers (seconds, bytes).
type Data struct {
	ID             string
	MAC            MAC
	Provider       string
	Type           Type
	TimeSecs       uint64 // allocated seconds
	DataBytes      uint64 // allocated bytes
	TimeCons       uint64 // consumed seconds
	DataConsBytes  uint64 // consumed bytes
	StartedAt      time.Time
	CreatedAt      time.Time
	ExpDays        uint32 // meaningful only when HasExpiry
	HasExpiry      bool
	DownMbits      uint32
	UpMbits        uint32
	UseGlobalSpeed bool
	// Voucher is the code whose redemption created the session ("" for
	// others): README.md, "Vouchers".
	Voucher string
}

// Started reports whether the session has been used (its expiry clock runs).
func (d Data) Started() bool { return !d.StartedAt.IsZero() }

// RemainingTime returns max(0, TimeSecs − TimeCons).
func (d Data) RemainingTime() uint64 {
	if d.TimeCons >= d.TimeSecs {
		return 0
	}
	return d.TimeSecs - d.TimeCons
}

// RemainingDataBytes returns max(0, DataBytes − DataConsBytes).
func (d Data) RemainingDataBytes() uint64 {
	if d.DataConsBytes >= d.DataBytes {
		return 0
	}
	return d.DataBytes - d.DataConsBytes
}

// ExpiresAt returns StartedAt + ExpDays days, and false when the session has
// no expiry or has not started.
func (d Data) ExpiresAt() (time.Time, bool) {
	if !d.HasExpiry || !d.Started() {
		return time.Time{}, false
	}
	return addDays(d.StartedAt, d.ExpDays), true
}

// addDays returns t + days×24h. time.Duration overflows past ≈106751 days,
// so the days are added as Unix seconds.
func addDays(t time.Time, days uint32) time.Time {
	return time.Unix(t.Unix()+int64(days)*86400, int64(t.Nanosecond())).In(t.Location())
}

// Expired reports whether the session's expiry has been reached at now.
func (d Data) Expired(now time.Time) bool {
	exp, ok := d.ExpiresAt()
	return ok && !now.Before(exp)
}

// Status returns nil when the session is available at now, else the reason
// it is not: ErrExpired, ErrTimeExhausted or ErrDataExhausted.
func (d Data) Status(now time.Time) error {
	if d.Expired(now) {
		return ErrExpired
	}
	if d.Type.LimitsTime() && d.RemainingTime() == 0 {
		return ErrTimeExhausted
	}
	if d.Type.LimitsData() && d.RemainingDataBytes() == 0 {
		return ErrDataExhausted
	}
	return nil
}

// Available reports whether the session can be used at now.
func (d Data) Available(now time.Time) bool { return d.Status(now) == nil }

// Validate checks the rules every stored session obeys and returns every
// problem at once, each a *FieldError naming its field.
func (d Data) Validate() error {
	var errs []error
	bad := func(field, problem string) { errs = append(errs, &FieldError{Field: field, Problem: problem}) }
	if n, err := ParseMAC(string(d.MAC)); err != nil || n != d.MAC {
		bad("mac", fmt.Sprintf("%q is not a normalized MAC address", d.MAC))
	}
	if !d.Type.Valid() {
		bad("type", fmt.Sprintf("%d is not a session type (0 time, 1 data, 2 time_or_data)", d.Type))
	}
	if d.Type.LimitsTime() && d.TimeSecs == 0 {
		bad("time_secs", "must be positive for a "+d.Type.String()+" session")
	}
	if d.Type.LimitsData() && d.DataBytes == 0 {
		bad("data_mb", "must be positive for a "+d.Type.String()+" session")
	}
	for _, f := range []struct {
		name string
		v    uint64
	}{{"time_secs", d.TimeSecs}, {"data_mb", d.DataBytes}, {"time_cons", d.TimeCons}, {"data_cons", d.DataConsBytes}} {
		if f.v > maxCounter {
			bad(f.name, "too large")
		}
	}
	if d.HasExpiry && d.ExpDays == 0 {
		bad("exp_days", "must be positive when set (omit it for no expiry)")
	}
	if !d.UseGlobalSpeed {
		if d.DownMbits == 0 {
			bad("down_mbits", "must be positive unless the session uses the global speed")
		}
		if d.UpMbits == 0 {
			bad("up_mbits", "must be positive unless the session uses the global speed")
		}
	}
	if len(d.Provider) > 128 {
		bad("provider", "longer than 128 bytes")
	}
	return errors.Join(errs...)
}

// Limits is what a NAS must be told about a session at a given moment.
type Limits struct {
	// SessionTimeout is min(remaining time, seconds until expiry); valid when
	// HasTimeout (false for a data session without expiry).
	SessionTimeout uint64
	HasTimeout     bool
	// DataBytes is the remaining data; valid when HasData.
	DataBytes uint64
	HasData   bool
	// ExpiresAt is when the session expires (zero: no expiry). A session not
	// yet started is treated as starting at the moment the limits are taken.
	ExpiresAt      time.Time
	DownMbits      uint32
	UpMbits        uint32
	UseGlobalSpeed bool
}

// Limits returns the limits of the session at now.
func (d Data) Limits(now time.Time) Limits {
	l := Limits{DownMbits: d.DownMbits, UpMbits: d.UpMbits, UseGlobalSpeed: d.UseGlobalSpeed}
	if d.Type.LimitsTime() {
		l.SessionTimeout, l.HasTimeout = d.RemainingTime(), true
	}
	if d.Type.LimitsData() {
		l.DataBytes, l.HasData = d.RemainingDataBytes(), true
	}
	if d.HasExpiry {
		start := d.StartedAt
		if start.IsZero() {
			start = now
		}
		l.ExpiresAt = addDays(start, d.ExpDays)
		left := uint64(0)
		if l.ExpiresAt.After(now) {
			left = uint64(l.ExpiresAt.Sub(now) / time.Second)
		}
		if !l.HasTimeout || left < l.SessionTimeout {
			l.SessionTimeout, l.HasTimeout = left, true
		}
	}
	return l
}

// Less orders sessions by creation: the sequence number of the ID (a
// device's sessions are numbered as they are created, whatever the clocks of
// the servers that created them say), then CreatedAt, then the ID.
func Less(a, b Data) bool {
	_, sa, _ := ParseID(a.ID)
	_, sb, _ := ParseID(b.ID)
	if sa != sb {
		return sa < sb
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

// SortByCreation sorts sessions in creation order (see Less).
func SortByCreation(s []Data) {
	sort.SliceStable(s, func(i, j int) bool { return Less(s[i], s[j]) })
}

// Current picks the device's current session at now: the started, available
// session (the earliest started if several); otherwise the oldest-created
// available one. When none is available it returns the reason: ErrNoSession
// when there are no sessions, else the status of the most recently created
// session (ErrExpired, ErrTimeExhausted or ErrDataExhausted).
func Current(sessions []Data, now time.Time) (Data, error) {
	if best := current(sessions, now); best >= 0 {
		return sessions[best], nil
	}
	if len(sessions) == 0 {
		return Data{}, ErrNoSession
	}
	last := sessions[0]
	for _, s := range sessions[1:] {
		if Less(last, s) {
			last = s
		}
	}
	return Data{}, last.Status(now)
}

// current returns the index of the current session at now, -1 if none is
// available.
func current(sessions []Data, now time.Time) int {
	best := -1
	for i, s := range sessions {
		if s.Available(now) && (best < 0 || better(s, sessions[best])) {
			best = i
		}
	}
	return best
}

// better reports whether available session a should be current rather than
// available session b.
func better(a, b Data) bool {
	if a.Started() != b.Started() {
		return a.Started()
	}
	if a.Started() && !a.StartedAt.Equal(b.StartedAt) {
		return a.StartedAt.Before(b.StartedAt)
	}
	return Less(a, b)
}

// NewID returns the ID of a device's seq-th session: the MAC's 12 hex digits,
// a dash, and the sequence number ("aabbccddeeff-3"). The MAC inside the ID
// lets a store find a session's device (and its Redis hash slot) from the ID.
func NewID(mac MAC, seq uint64) string {
	return mac.Hex() + "-" + strconv.FormatUint(seq, 10)
}

// ParseID splits a session ID into its device and sequence number.
func ParseID(id string) (MAC, uint64, error) {
	hex, num, ok := strings.Cut(id, "-")
	if !ok || len(hex) != 12 {
		return "", 0, fmt.Errorf("%w: session id %q: want <12 hex digits>-<number>, e.g. aabbccddeeff-1", ErrInvalid, id)
	}
	mac, err := ParseMAC(hex)
	if err != nil || mac.Hex() != hex {
		return "", 0, fmt.Errorf("%w: session id %q: %q is not 12 lower-case hex digits", ErrInvalid, id, hex)
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	if err != nil || seq == 0 || strconv.FormatUint(seq, 10) != num {
		return "", 0, fmt.Errorf("%w: session id %q: %q is not a positive number", ErrInvalid, id, num)
	}
	return mac, seq, nil
}

// MBToBytes converts megabytes to bytes, rounding to the nearest byte. It
// rejects negative, non-finite and too large values.
func MBToBytes(mb float64) (uint64, error) {
	if math.IsNaN(mb) || math.IsInf(mb, 0) || mb < 0 {
		return 0, fmt.Errorf("%v MB: want a finite, non-negative number", mb)
	}
	b := math.Round(mb * BytesPerMB)
	if b >= maxCounter {
		return 0, fmt.Errorf("%v MB: too large", mb)
	}
	return uint64(b), nil
}

// BytesToMB converts bytes to megabytes.
func BytesToMB(b uint64) float64 { return float64(b) / BytesPerMB }
