package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Spec describes a session to create. Zero speeds are allowed only with
// UseGlobalSpeed; allocations of the kinds the type limits must be positive.
type Spec struct {
	Provider       string
	Type           Type
	TimeSecs       uint
	DataMb         float64
	ExpDays        *uint // nil: never expires
	DownMbits      uint
	UpMbits        uint
	UseGlobalSpeed bool
}

// SessionsMgr creates and finds sessions: the counterpart of the hotspot
// SDK's SessionsMgr (README.md, section "Porting from the hotspot SDK", lists
// the differences). It is safe for concurrent use.
type SessionsMgr struct {
	store Store
	now   func() time.Time
}

// NewSessionsMgr returns a SessionsMgr on store; now is its clock (time.Now
// in production, a fixed clock in tests).
func NewSessionsMgr(store Store, now func() time.Time) *SessionsMgr {
	return &SessionsMgr{store: store, now: now}
}

// Data validates spec for mac and returns the session it describes, not yet
// stored (CreatedAt is now).
func (spec Spec) Data(mac string, now time.Time) (Data, error) {
	var errs []error
	m, err := ParseMAC(mac)
	if err != nil {
		errs = append(errs, &FieldError{Field: "mac", Problem: fmt.Sprintf("%q is not a MAC address (want e.g. aa:bb:cc:dd:ee:ff)", mac)})
	}
	d := Data{
		MAC:            m,
		Provider:       spec.Provider,
		Type:           spec.Type,
		TimeSecs:       uint64(spec.TimeSecs),
		CreatedAt:      now.Truncate(time.Second),
		UseGlobalSpeed: spec.UseGlobalSpeed,
	}
	if b, err := MBToBytes(spec.DataMb); err != nil {
		errs = append(errs, &FieldError{Field: "data_mb", Problem: err.Error()})
	} else {
		d.DataBytes = b
	}
	if spec.ExpDays != nil {
		if *spec.ExpDays == 0 || uint64(*spec.ExpDays) > 1<<32-1 {
			errs = append(errs, &FieldError{Field: "exp_days", Problem: fmt.Sprintf("%d: want 1 to 4294967295, or no expiry", *spec.ExpDays)})
		} else {
			d.ExpDays, d.HasExpiry = uint32(*spec.ExpDays), true
		}
	}
	for _, sp := range []struct {
		name string
		v    uint
		dst  *uint32
	}{{"down_mbits", spec.DownMbits, &d.DownMbits}, {"up_mbits", spec.UpMbits, &d.UpMbits}} {
		if uint64(sp.v) > 1<<32-1 {
			errs = append(errs, &FieldError{Field: sp.name, Problem: "too large"})
			continue
		}
		*sp.dst = uint32(sp.v)
	}
	// Validate reports every rule at once; skip fields already reported.
	seen := map[string]bool{}
	for _, e := range errs {
		seen[e.(*FieldError).Field] = true
	}
	if err := d.Validate(); err != nil {
		list := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			list = j.Unwrap()
		}
		for _, e := range list {
			if fe, ok := e.(*FieldError); !ok || !seen[fe.Field] {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		return Data{}, errors.Join(errs...)
	}
	return d, nil
}

// CreateSession validates spec and stores a new session for the device mac.
// Unlike the SDK's, it refuses a zero allocation of a kind the type limits
// and zero speeds without UseGlobalSpeed, and returns the new session.
func (m *SessionsMgr) CreateSession(ctx context.Context, mac string, spec Spec) (*ClientSession, error) {
	d, err := spec.Data(mac, m.now())
	if err != nil {
		return nil, err
	}
	d, err = m.store.CreateSession(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("session: create for %s: %w", mac, err)
	}
	return newClientSession(m.store, d), nil
}

// GetSession returns the session with that ID. (The SDK's GetSession, which
// returns an available session of a device, is CurrSession here.)
func (m *SessionsMgr) GetSession(ctx context.Context, id string) (*ClientSession, error) {
	if _, _, err := ParseID(id); err != nil {
		return nil, err
	}
	d, err := m.store.GetSession(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("session: get %s: %w", id, err)
	}
	return newClientSession(m.store, d), nil
}

// CurrSession returns the device's current session (see Current), read from
// the store. When none is available the error wraps ErrNoSession,
// ErrExpired, ErrTimeExhausted or ErrDataExhausted, where the SDK's returns
// ok == false.
func (m *SessionsMgr) CurrSession(ctx context.Context, mac string) (*ClientSession, error) {
	all, err := m.deviceSessions(ctx, mac)
	if err != nil {
		return nil, err
	}
	d, err := Current(all, m.now())
	if err != nil {
		return nil, fmt.Errorf("session: current for %s: %w", mac, err)
	}
	return newClientSession(m.store, d), nil
}

// Sessions returns every session of the device, in creation order.
func (m *SessionsMgr) Sessions(ctx context.Context, mac string) ([]*ClientSession, error) {
	all, err := m.deviceSessions(ctx, mac)
	if err != nil {
		return nil, err
	}
	out := make([]*ClientSession, len(all))
	for i, d := range all {
		out[i] = newClientSession(m.store, d)
	}
	return out, nil
}

// DeleteSession removes the session with that ID.
func (m *SessionsMgr) DeleteSession(ctx context.Context, id string) error {
	if _, _, err := ParseID(id); err != nil {
		return err
	}
	if err := m.store.DeleteSession(ctx, id); err != nil {
		return fmt.Errorf("session: delete %s: %w", id, err)
	}
	return nil
}

func (m *SessionsMgr) deviceSessions(ctx context.Context, mac string) ([]Data, error) {
	dev, err := ParseMAC(mac)
	if err != nil {
		return nil, &FieldError{Field: "mac", Problem: fmt.Sprintf("%q is not a MAC address (want e.g. aa:bb:cc:dd:ee:ff)", mac)}
	}
	all, err := m.store.DeviceSessions(ctx, dev)
	if err != nil {
		return nil, fmt.Errorf("session: sessions of %s: %w", dev, err)
	}
	SortByCreation(all)
	return all, nil
}
