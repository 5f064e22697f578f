package session

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Field names one settable field of a session; a Changes set says which
// fields Save writes.
type Field uint16

// Settable fields. Their storage names are given by Name.
const (
	FieldTimeSecs Field = 1 << iota
	FieldDataBytes
	FieldTimeCons
	FieldDataConsBytes
	FieldStartedAt
	FieldExpDays
	FieldDownMbits
	FieldUpMbits
	FieldUseGlobalSpeed
	FieldProvider
)

// Changes is what a Save applies: the fields in Set take their value from
// Values (absolute writes), then the increments are added atomically. Stores
// must apply a Changes all-or-nothing and must not touch other fields, so
// that concurrent writers never lose each other's increments.
type Changes struct {
	Set              Field
	Values           Data
	IncTimeCons      uint64
	IncDataConsBytes uint64
	// Top-ups add to the allocation atomically (after the writes), so two
	// payments credited at once both count.
	IncTimeSecs  uint64
	IncDataBytes uint64
}

// Empty reports whether the Changes would write nothing.
func (c Changes) Empty() bool {
	return c.Set == 0 && c.IncTimeCons == 0 && c.IncDataConsBytes == 0 && c.IncTimeSecs == 0 && c.IncDataBytes == 0
}

// Store is the persistence SessionsMgr and ClientSession need. Every method
// returns an error wrapping ErrNotFound when the session does not exist.
type Store interface {
	// CreateSession stores a new session for d.MAC, assigns its ID (see
	// NewID) and returns it as stored. Not idempotent: each call creates one.
	CreateSession(ctx context.Context, d Data) (Data, error)
	// GetSession returns one session.
	GetSession(ctx context.Context, id string) (Data, error)
	// DeviceSessions returns the sessions of one device in creation order;
	// an empty slice (not an error) when it has none.
	DeviceSessions(ctx context.Context, mac MAC) ([]Data, error)
	// SaveSession applies c atomically and returns the session as stored
	// afterwards. Increments are additive: applying one twice counts twice.
	SaveSession(ctx context.Context, id string, c Changes) (Data, error)
	// DeleteSession removes a session and its entry in the device's index.
	DeleteSession(ctx context.Context, id string) error
}

// ClientSession is one session of a client device, the SDK's ClientSession.
// Getters read the local state, which includes changes not yet saved;
// setters and increments change only the local state until Save. A
// ClientSession is not safe for concurrent use; two ClientSessions (in one
// process or several) on the same session may Save concurrently without
// losing increments.
type ClientSession struct {
	store   Store
	data    Data
	changes Changes
	errs    []error // setter arguments rejected, reported by Save
}

func newClientSession(store Store, d Data) *ClientSession {
	return &ClientSession{store: store, data: d}
}

// ID returns the session's ID ("<mac hex>-<n>").
func (s *ClientSession) ID() string { return s.data.ID }

// MAC returns the owning device's MAC address.
func (s *ClientSession) MAC() MAC { return s.data.MAC }

// Data returns a copy of the local state.
func (s *ClientSession) Data() Data { return s.data }

// Provider returns the name of whoever sold the session.
func (s *ClientSession) Provider() string { return s.data.Provider }

// Type returns the session type (0 time, 1 data, 2 time_or_data).
func (s *ClientSession) Type() uint8 { return uint8(s.data.Type) }

// TimeSecs returns the allocated time in seconds.
func (s *ClientSession) TimeSecs() uint { return clampUint(s.data.TimeSecs) }

// DataMb returns the allocated data in megabytes (10⁶ bytes).
func (s *ClientSession) DataMb() float64 { return BytesToMB(s.data.DataBytes) }

// TimeConsumption returns the consumed time in seconds.
func (s *ClientSession) TimeConsumption() uint { return clampUint(s.data.TimeCons) }

// DataConsumption returns the consumed data in megabytes.
func (s *ClientSession) DataConsumption() float64 { return BytesToMB(s.data.DataConsBytes) }

// DataConsumptionBytes returns the consumed data in bytes, exactly.
func (s *ClientSession) DataConsumptionBytes() uint64 { return s.data.DataConsBytes }

// RemainingTime returns max(0, TimeSecs − TimeConsumption) in seconds.
func (s *ClientSession) RemainingTime() uint { return clampUint(s.data.RemainingTime()) }

// RemainingData returns max(0, DataMb − DataConsumption) in megabytes.
func (s *ClientSession) RemainingData() float64 { return BytesToMB(s.data.RemainingDataBytes()) }

// StartedAt returns when the session was first used, nil if never.
func (s *ClientSession) StartedAt() *time.Time {
	if !s.data.Started() {
		return nil
	}
	t := s.data.StartedAt
	return &t
}

// CreatedAt returns when the session was created.
func (s *ClientSession) CreatedAt() time.Time { return s.data.CreatedAt }

// ExpDays returns the number of days the session lasts after first use, nil
// when it does not expire.
func (s *ClientSession) ExpDays() *uint {
	if !s.data.HasExpiry {
		return nil
	}
	d := uint(s.data.ExpDays)
	return &d
}

// ExpiresAt returns StartedAt + ExpDays, nil when the session has no expiry
// or has not started.
func (s *ClientSession) ExpiresAt() *time.Time {
	t, ok := s.data.ExpiresAt()
	if !ok {
		return nil
	}
	return &t
}

// DownMbits returns the download speed in Mbit/s (0 with UseGlobalSpeed).
func (s *ClientSession) DownMbits() uint { return uint(s.data.DownMbits) }

// UpMbits returns the upload speed in Mbit/s (0 with UseGlobalSpeed).
func (s *ClientSession) UpMbits() uint { return uint(s.data.UpMbits) }

// UseGlobalSpeed reports whether the NAS's global speed applies instead of
// the session's own.
func (s *ClientSession) UseGlobalSpeed() bool { return s.data.UseGlobalSpeed }

// Available reports whether the session can be used at now.
func (s *ClientSession) Available(now time.Time) bool { return s.data.Available(now) }

// IncTimeCons adds secs to the consumed time; Save adds it atomically.
func (s *ClientSession) IncTimeCons(secs uint) {
	n := uint64(secs)
	if n > maxCounter-s.data.TimeCons || n > maxCounter-s.changes.IncTimeCons {
		s.reject("time_cons", "increment overflows")
		return
	}
	s.changes.IncTimeCons += n
	s.data.TimeCons += n
}

// IncDataCons adds mb megabytes to the consumed data; Save adds it atomically.
func (s *ClientSession) IncDataCons(mb float64) {
	b, err := MBToBytes(mb)
	if err != nil {
		s.reject("data_cons", err.Error())
		return
	}
	s.IncDataConsBytes(b)
}

// IncDataConsBytes adds n bytes to the consumed data; Save adds it atomically.
func (s *ClientSession) IncDataConsBytes(n uint64) {
	if n > maxCounter-s.data.DataConsBytes || n > maxCounter-s.changes.IncDataConsBytes {
		s.reject("data_cons", "increment overflows")
		return
	}
	s.changes.IncDataConsBytes += n
	s.data.DataConsBytes += n
}

// TopUpTime adds secs to the allocated time; Save adds it atomically, so
// concurrent top-ups (two payments at once) all count. A later SetTimeSecs
// replaces it.
func (s *ClientSession) TopUpTime(secs uint) {
	n := uint64(secs)
	if n > maxCounter-s.data.TimeSecs || n > maxCounter-s.changes.IncTimeSecs {
		s.reject("time_secs", "top-up overflows")
		return
	}
	s.changes.IncTimeSecs += n
	s.data.TimeSecs += n
}

// TopUpData adds mb megabytes to the allocated data; Save adds it
// atomically. A later SetDataMb replaces it.
func (s *ClientSession) TopUpData(mb float64) {
	b, err := MBToBytes(mb)
	if err != nil {
		s.reject("data_mb", err.Error())
		return
	}
	if b > maxCounter-s.data.DataBytes || b > maxCounter-s.changes.IncDataBytes {
		s.reject("data_mb", "top-up overflows")
		return
	}
	s.changes.IncDataBytes += b
	s.data.DataBytes += b
}

// SetTimeSecs sets the allocated time in seconds.
func (s *ClientSession) SetTimeSecs(secs uint) {
	s.data.TimeSecs = uint64(secs)
	s.changes.IncTimeSecs = 0
	s.set(FieldTimeSecs)
}

// SetDataMb sets the allocated data in megabytes.
func (s *ClientSession) SetDataMb(mb float64) {
	b, err := MBToBytes(mb)
	if err != nil {
		s.reject("data_mb", err.Error())
		return
	}
	s.data.DataBytes = b
	s.changes.IncDataBytes = 0
	s.set(FieldDataBytes)
}

// SetTimeCons sets the consumed time in seconds, replacing any increment not
// yet saved.
func (s *ClientSession) SetTimeCons(secs uint) {
	s.data.TimeCons = uint64(secs)
	s.changes.IncTimeCons = 0
	s.set(FieldTimeCons)
}

// SetDataCons sets the consumed data in megabytes, replacing any increment
// not yet saved.
func (s *ClientSession) SetDataCons(mb float64) {
	b, err := MBToBytes(mb)
	if err != nil {
		s.reject("data_cons", err.Error())
		return
	}
	s.data.DataConsBytes = b
	s.changes.IncDataConsBytes = 0
	s.set(FieldDataConsBytes)
}

// SetStartedAt sets when the session started; the zero time marks it as not
// started (its expiry clock stops until the next first use).
func (s *ClientSession) SetStartedAt(t time.Time) {
	s.data.StartedAt = t.Truncate(time.Second)
	s.set(FieldStartedAt)
}

// SetExpDays sets the number of days the session lasts after first use.
func (s *ClientSession) SetExpDays(days uint) {
	if days == 0 || days > math.MaxUint32 {
		s.reject("exp_days", fmt.Sprintf("%d: want 1 to %d (ClearExpDays removes the expiry)", days, uint32(math.MaxUint32)))
		return
	}
	s.data.ExpDays, s.data.HasExpiry = uint32(days), true
	s.set(FieldExpDays)
}

// ClearExpDays removes the expiry: the session never expires.
func (s *ClientSession) ClearExpDays() {
	s.data.ExpDays, s.data.HasExpiry = 0, false
	s.set(FieldExpDays)
}

// SetDownMbits sets the download speed in Mbit/s.
func (s *ClientSession) SetDownMbits(mbits uint) {
	if mbits > math.MaxUint32 {
		s.reject("down_mbits", "too large")
		return
	}
	s.data.DownMbits = uint32(mbits)
	s.set(FieldDownMbits)
}

// SetUpMbits sets the upload speed in Mbit/s.
func (s *ClientSession) SetUpMbits(mbits uint) {
	if mbits > math.MaxUint32 {
		s.reject("up_mbits", "too large")
		return
	}
	s.data.UpMbits = uint32(mbits)
	s.set(FieldUpMbits)
}

// SetUseGlobalSpeed sets whether the NAS's global speed applies.
func (s *ClientSession) SetUseGlobalSpeed(use bool) {
	s.data.UseGlobalSpeed = use
	s.set(FieldUseGlobalSpeed)
}

// SetProvider sets the provider name.
func (s *ClientSession) SetProvider(p string) {
	s.data.Provider = p
	s.set(FieldProvider)
}

func (s *ClientSession) set(f Field) { s.changes.Set |= f }

func (s *ClientSession) reject(field, problem string) {
	s.errs = append(s.errs, &FieldError{Field: field, Problem: problem})
}

// Save validates the local state and writes what changed: setters as field
// writes, increments as atomic increments. On success the local state is
// replaced by the stored one (which includes other writers' increments). On
// a validation error nothing is written and the pending changes are kept; a
// value a setter rejected makes every Save fail until Reload.
func (s *ClientSession) Save(ctx context.Context) error {
	if len(s.errs) > 0 {
		return errors.Join(s.errs...)
	}
	if err := s.data.Validate(); err != nil {
		return err
	}
	if s.changes.Empty() {
		return nil
	}
	c := s.changes
	c.Values = s.data
	// Values already include increments made after a setter of the same
	// field: send the absolute value alone, or the increment counts twice.
	if c.Set&FieldTimeCons != 0 {
		c.IncTimeCons = 0
	}
	if c.Set&FieldDataConsBytes != 0 {
		c.IncDataConsBytes = 0
	}
	if c.Set&FieldTimeSecs != 0 {
		c.IncTimeSecs = 0
	}
	if c.Set&FieldDataBytes != 0 {
		c.IncDataBytes = 0
	}
	d, err := s.store.SaveSession(ctx, s.data.ID, c)
	if err != nil {
		return fmt.Errorf("session: save %s: %w", s.data.ID, err)
	}
	s.data, s.changes = d, Changes{}
	return nil
}

// Reload replaces the local state, and drops unsaved changes, with what is
// stored.
func (s *ClientSession) Reload(ctx context.Context) error {
	d, err := s.store.GetSession(ctx, s.data.ID)
	if err != nil {
		return fmt.Errorf("session: reload %s: %w", s.data.ID, err)
	}
	s.data, s.changes, s.errs = d, Changes{}, nil
	return nil
}

func clampUint(v uint64) uint {
	if uint64(uint(v)) != v {
		return math.MaxUint
	}
	return uint(v)
}
