package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"sync"
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

// Counters are a session's four additive quantities: consumed time and data
// (increments) and allocated time and data (top-ups).
type Counters struct {
	TimeCons      uint64
	DataConsBytes uint64
	TimeSecs      uint64
	DataBytes     uint64
}

// IsZero reports whether every counter is zero.
func (c Counters) IsZero() bool { return c == Counters{} }

// Changes is what a Save applies: the fields in Set take their value from
// Values (absolute writes), then the increments are added atomically. Stores
// must apply a Changes all-or-nothing and must not touch other fields, so
// that concurrent writers never lose each other's increments.
//
// A counter named in Set takes its value from Values and its increment adds
// nothing: the value already includes it.
type Changes struct {
	Set              Field
	Values           Data
	IncTimeCons      uint64
	IncDataConsBytes uint64
	// Top-ups add to the allocation atomically (after the writes), so two
	// payments credited at once both count.
	IncTimeSecs  uint64
	IncDataBytes uint64

	// Writer, when not empty, makes the increments idempotent. It names one
	// stream of increments (a ClientSession: random, never reused), of which
	// Acked is the running total that an earlier SaveSession of the same
	// writer returned success for, and Acked + increments the running total
	// including this one. The store remembers per writer the highest running
	// total it has applied, and adds only what exceeds max(remembered,
	// Acked). So a SaveSession sent again (a retry after a lost reply, a
	// client library's own retry, a late duplicate), or a later one whose
	// increments include those of an earlier failed one, counts every
	// increment once. Without a Writer, increments are plain additions:
	// applying one twice counts twice.
	Writer string
	Acked  Counters
}

// Inc returns the increments of c.
func (c Changes) Inc() Counters {
	return Counters{TimeCons: c.IncTimeCons, DataConsBytes: c.IncDataConsBytes, TimeSecs: c.IncTimeSecs, DataBytes: c.IncDataBytes}
}

// Empty reports whether the Changes would write nothing.
func (c Changes) Empty() bool { return c.Set == 0 && c.Inc().IsZero() }

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
	// afterwards. Increments are counted once per writer (see
	// Changes.Writer).
	SaveSession(ctx context.Context, id string, c Changes) (Data, error)
	// DeleteSession removes a session and its entry in the device's index.
	DeleteSession(ctx context.Context, id string) error
}

// ClientSession is one session of a client device: the counterpart of the
// hotspot SDK's ClientSession (README.md, section "Porting from the hotspot
// SDK", lists the differences). Getters read the local state, which includes
// changes not yet saved; setters, increments and top-ups change only the
// local state until Save.
//
// A ClientSession is safe for concurrent use, as the SDK's is: a ticker
// goroutine may count time while another counts traffic and saves. Save does
// not block the other methods while it waits for the store; what they change
// meanwhile is kept for the next Save. Saves and Reloads of one
// ClientSession run one at a time.
//
// Two ClientSessions on the same session (in one process or several) may
// Save concurrently without losing increments; of two writes of the same
// field, the last one stored wins. How a failed Save is retried safely is
// the package's rule "Saving: nothing lost, nothing counted twice".
type ClientSession struct {
	store Store
	id    string
	mac   MAC

	// turn is held by Save and Reload: one store round trip at a time. A
	// channel, not a mutex, so that a caller waiting for its turn still
	// obeys its context.
	turn chan struct{}

	mu     sync.Mutex // guards what follows
	data   Data       // the local state: stored state and the unsaved changes
	set    Field      // fields set and not yet saved
	writer string     // names total to the store (Changes.Writer); new at Reload
	// While a Save waits for the store, fields set meanwhile are also noted
	// in setLate: they stay unsaved after it.
	saving  bool
	setLate Field
	total   Counters // every increment and top-up made by this writer
	acked   Counters // the part of total a Save has stored
	errs    []error  // setter arguments rejected, reported by Save
}

func newClientSession(store Store, d Data) *ClientSession {
	return &ClientSession{store: store, id: d.ID, mac: d.MAC, turn: make(chan struct{}, 1), writer: rand.Text(), data: d}
}

// wait takes the turn of one Save or Reload; release gives it back.
func (s *ClientSession) wait(ctx context.Context) error {
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("session: %s: waiting for another Save or Reload: %w", s.id, context.Cause(ctx))
	}
}

func (s *ClientSession) release() { <-s.turn }

// ID returns the session's ID ("<mac hex>-<n>").
func (s *ClientSession) ID() string { return s.id }

// MAC returns the owning device's MAC address.
func (s *ClientSession) MAC() MAC { return s.mac }

// Data returns a copy of the local state.
func (s *ClientSession) Data() Data {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// Provider returns the name of whoever sold the session.
func (s *ClientSession) Provider() string { return s.Data().Provider }

// Type returns the session type (0 time, 1 data, 2 time_or_data).
func (s *ClientSession) Type() uint8 { return uint8(s.Data().Type) }

// TimeSecs returns the allocated time in seconds.
func (s *ClientSession) TimeSecs() uint { return clampUint(s.Data().TimeSecs) }

// DataMb returns the allocated data in megabytes (10⁶ bytes).
func (s *ClientSession) DataMb() float64 { return BytesToMB(s.Data().DataBytes) }

// TimeConsumption returns the consumed time in seconds.
func (s *ClientSession) TimeConsumption() uint { return clampUint(s.Data().TimeCons) }

// DataConsumption returns the consumed data in megabytes.
func (s *ClientSession) DataConsumption() float64 { return BytesToMB(s.Data().DataConsBytes) }

// DataConsumptionBytes returns the consumed data in bytes, exactly.
func (s *ClientSession) DataConsumptionBytes() uint64 { return s.Data().DataConsBytes }

// RemainingTime returns max(0, TimeSecs − TimeConsumption) in seconds.
func (s *ClientSession) RemainingTime() uint { return clampUint(s.Data().RemainingTime()) }

// RemainingData returns max(0, DataMb − DataConsumption) in megabytes.
func (s *ClientSession) RemainingData() float64 { return BytesToMB(s.Data().RemainingDataBytes()) }

// StartedAt returns when the session was first used, nil if never.
func (s *ClientSession) StartedAt() *time.Time {
	d := s.Data()
	if !d.Started() {
		return nil
	}
	return &d.StartedAt
}

// CreatedAt returns when the session was created.
func (s *ClientSession) CreatedAt() time.Time { return s.Data().CreatedAt }

// ExpDays returns the number of days the session lasts after first use, nil
// when it does not expire.
func (s *ClientSession) ExpDays() *uint {
	d := s.Data()
	if !d.HasExpiry {
		return nil
	}
	days := uint(d.ExpDays)
	return &days
}

// ExpiresAt returns StartedAt + ExpDays, nil when the session has no expiry
// or has not started.
func (s *ClientSession) ExpiresAt() *time.Time {
	t, ok := s.Data().ExpiresAt()
	if !ok {
		return nil
	}
	return &t
}

// DownMbits returns the download speed in Mbit/s (0 with UseGlobalSpeed).
func (s *ClientSession) DownMbits() uint { return uint(s.Data().DownMbits) }

// UpMbits returns the upload speed in Mbit/s (0 with UseGlobalSpeed).
func (s *ClientSession) UpMbits() uint { return uint(s.Data().UpMbits) }

// UseGlobalSpeed reports whether the NAS's global speed applies instead of
// the session's own.
func (s *ClientSession) UseGlobalSpeed() bool { return s.Data().UseGlobalSpeed }

// Available reports whether the session can be used at now.
func (s *ClientSession) Available(now time.Time) bool { return s.Data().Available(now) }

// IncTimeCons adds secs to the consumed time; Save adds it atomically, once.
func (s *ClientSession) IncTimeCons(secs uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(uint64(secs), &s.data.TimeCons, &s.total.TimeCons, "time_cons", "increment overflows")
}

// IncDataCons adds mb megabytes, rounded to the nearest byte, to the
// consumed data; Save adds it atomically, once.
func (s *ClientSession) IncDataCons(mb float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := MBToBytes(mb)
	if err != nil {
		s.reject("data_cons", err.Error())
		return
	}
	s.add(b, &s.data.DataConsBytes, &s.total.DataConsBytes, "data_cons", "increment overflows")
}

// IncDataConsBytes adds n bytes to the consumed data; Save adds it
// atomically, once.
func (s *ClientSession) IncDataConsBytes(n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(n, &s.data.DataConsBytes, &s.total.DataConsBytes, "data_cons", "increment overflows")
}

// TopUpTime adds secs to the allocated time; Save adds it atomically and
// once, so concurrent top-ups (two payments at once) both count and a
// retried Save does not count one twice. A later SetTimeSecs replaces it.
func (s *ClientSession) TopUpTime(secs uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(uint64(secs), &s.data.TimeSecs, &s.total.TimeSecs, "time_secs", "top-up overflows")
}

// TopUpData adds mb megabytes, rounded to the nearest byte, to the allocated
// data; Save adds it atomically, once. A later SetDataMb replaces it.
func (s *ClientSession) TopUpData(mb float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := MBToBytes(mb)
	if err != nil {
		s.reject("data_mb", err.Error())
		return
	}
	s.add(b, &s.data.DataBytes, &s.total.DataBytes, "data_mb", "top-up overflows")
}

// add adds n to a counter of the local state and to its running total.
func (s *ClientSession) add(n uint64, local, total *uint64, field, problem string) {
	if n > maxCounter-*local || n > maxCounter-*total {
		s.reject(field, problem)
		return
	}
	*local += n
	*total += n
}

// SetTimeSecs sets the allocated time in seconds, replacing any top-up not
// yet saved.
func (s *ClientSession) SetTimeSecs(secs uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.TimeSecs = uint64(secs)
	s.markSet(FieldTimeSecs)
}

// SetDataMb sets the allocated data in megabytes, replacing any top-up not
// yet saved.
func (s *ClientSession) SetDataMb(mb float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := MBToBytes(mb)
	if err != nil {
		s.reject("data_mb", err.Error())
		return
	}
	s.data.DataBytes = b
	s.markSet(FieldDataBytes)
}

// SetTimeCons sets the consumed time in seconds, replacing any increment not
// yet saved.
func (s *ClientSession) SetTimeCons(secs uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.TimeCons = uint64(secs)
	s.markSet(FieldTimeCons)
}

// SetDataCons sets the consumed data in megabytes, replacing any increment
// not yet saved.
func (s *ClientSession) SetDataCons(mb float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := MBToBytes(mb)
	if err != nil {
		s.reject("data_cons", err.Error())
		return
	}
	s.data.DataConsBytes = b
	s.markSet(FieldDataConsBytes)
}

// SetStartedAt sets when the session started, to the second; the zero time
// marks it as not started (its expiry clock stops until the next first use).
func (s *ClientSession) SetStartedAt(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.StartedAt = t.Truncate(time.Second)
	s.markSet(FieldStartedAt)
}

// SetExpDays sets the number of days the session lasts after first use.
// Zero is refused (Save reports it): ClearExpDays removes the expiry.
func (s *ClientSession) SetExpDays(days uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if days == 0 || days > math.MaxUint32 {
		s.reject("exp_days", fmt.Sprintf("%d: want 1 to %d (ClearExpDays removes the expiry)", days, uint32(math.MaxUint32)))
		return
	}
	s.data.ExpDays, s.data.HasExpiry = uint32(days), true
	s.markSet(FieldExpDays)
}

// ClearExpDays removes the expiry: the session never expires.
func (s *ClientSession) ClearExpDays() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.ExpDays, s.data.HasExpiry = 0, false
	s.markSet(FieldExpDays)
}

// SetDownMbits sets the download speed in Mbit/s. Zero is valid only with
// the global speed (Save checks).
func (s *ClientSession) SetDownMbits(mbits uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mbits > math.MaxUint32 {
		s.reject("down_mbits", "too large")
		return
	}
	s.data.DownMbits = uint32(mbits)
	s.markSet(FieldDownMbits)
}

// SetUpMbits sets the upload speed in Mbit/s. Zero is valid only with the
// global speed (Save checks).
func (s *ClientSession) SetUpMbits(mbits uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mbits > math.MaxUint32 {
		s.reject("up_mbits", "too large")
		return
	}
	s.data.UpMbits = uint32(mbits)
	s.markSet(FieldUpMbits)
}

// SetUseGlobalSpeed sets whether the NAS's global speed applies.
func (s *ClientSession) SetUseGlobalSpeed(use bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.UseGlobalSpeed = use
	s.markSet(FieldUseGlobalSpeed)
}

// SetProvider sets the provider name.
func (s *ClientSession) SetProvider(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.Provider = p
	s.markSet(FieldProvider)
}

func (s *ClientSession) markSet(f Field) {
	s.set |= f
	if s.saving {
		s.setLate |= f
	}
}

func (s *ClientSession) reject(field, problem string) {
	s.errs = append(s.errs, &FieldError{Field: field, Problem: problem})
}

// Save validates the local state and writes what changed: setters as field
// writes, increments and top-ups as atomic increments, each counted once
// however often Save is retried. On success the local state becomes the
// stored one (which includes other writers' increments) plus what was
// changed while Save ran. On an error the unsaved changes are kept, and
// calling Save again is the way to retry (see the package's rule "Saving:
// nothing lost, nothing counted twice"). A value a setter rejected makes
// every Save fail until Reload.
func (s *ClientSession) Save(ctx context.Context) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	defer s.release()

	s.mu.Lock()
	if len(s.errs) > 0 {
		err := errors.Join(s.errs...)
		s.mu.Unlock()
		return err
	}
	if err := s.data.Validate(); err != nil {
		s.mu.Unlock()
		return err
	}
	inc := sub(s.total, s.acked)
	c := Changes{
		Set: s.set, Values: s.data,
		IncTimeCons: inc.TimeCons, IncDataConsBytes: inc.DataConsBytes,
		IncTimeSecs: inc.TimeSecs, IncDataBytes: inc.DataBytes,
		Writer: s.writer, Acked: s.acked,
	}
	if c.Empty() {
		s.mu.Unlock()
		return nil
	}
	sent := s.total
	s.saving, s.setLate = true, 0
	s.mu.Unlock()

	d, err := s.store.SaveSession(ctx, s.id, c)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.saving = false
	if err != nil {
		return fmt.Errorf("session: save %s: %w", s.id, err)
	}
	// What was sent is stored; what changed while Save ran stays unsaved.
	late := sub(s.total, sent)
	for _, f := range []struct {
		field      Field
		dst, local *uint64
		late       uint64
	}{
		{FieldTimeCons, &d.TimeCons, &s.data.TimeCons, late.TimeCons},
		{FieldDataConsBytes, &d.DataConsBytes, &s.data.DataConsBytes, late.DataConsBytes},
		{FieldTimeSecs, &d.TimeSecs, &s.data.TimeSecs, late.TimeSecs},
		{FieldDataBytes, &d.DataBytes, &s.data.DataBytes, late.DataBytes},
	} {
		if s.setLate&f.field != 0 {
			*f.dst = *f.local // set while Save ran: the value includes later increments
		} else {
			*f.dst = min(*f.dst+f.late, maxCounter) // stored values stay below 2⁶³
		}
	}
	copyFields(&d, s.data, s.setLate&^(FieldTimeCons|FieldDataConsBytes|FieldTimeSecs|FieldDataBytes))
	s.data, s.acked, s.set = d, sent, s.setLate
	return nil
}

// copyFields copies the non-counter fields in set from src to dst.
func copyFields(dst *Data, src Data, set Field) {
	if set&FieldStartedAt != 0 {
		dst.StartedAt = src.StartedAt
	}
	if set&FieldExpDays != 0 {
		dst.ExpDays, dst.HasExpiry = src.ExpDays, src.HasExpiry
	}
	if set&FieldDownMbits != 0 {
		dst.DownMbits = src.DownMbits
	}
	if set&FieldUpMbits != 0 {
		dst.UpMbits = src.UpMbits
	}
	if set&FieldUseGlobalSpeed != 0 {
		dst.UseGlobalSpeed = src.UseGlobalSpeed
	}
	if set&FieldProvider != 0 {
		dst.Provider = src.Provider
	}
}

// Reload replaces the local state with what is stored and drops every
// change no Save has stored: setters, rejected setters, and the increments
// and top-ups of a Save that failed (stored or not, they are not sent
// again). To keep usage, retry Save instead.
func (s *ClientSession) Reload(ctx context.Context) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	defer s.release()
	d, err := s.store.GetSession(ctx, s.id)
	if err != nil {
		return fmt.Errorf("session: reload %s: %w", s.id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data, s.set, s.errs = d, 0, nil
	// A new writer: what the old one did not get stored is never sent.
	s.writer, s.total, s.acked = rand.Text(), Counters{}, Counters{}
	return nil
}

// sub returns a − b; a ≥ b counter by counter.
func sub(a, b Counters) Counters {
	return Counters{a.TimeCons - b.TimeCons, a.DataConsBytes - b.DataConsBytes, a.TimeSecs - b.TimeSecs, a.DataBytes - b.DataBytes}
}

func clampUint(v uint64) uint {
	if uint64(uint(v)) != v {
		return math.MaxUint
	}
	return uint(v)
}
