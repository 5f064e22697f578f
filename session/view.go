package session

import (
	"errors"
	"time"
)

// View is a session as the admin API and `hsctl --json` show it. Its keys
// are a stable interface for scripts: add keys, never rename or remove them.
// Times are RFC 3339 in UTC; started_at, exp_days and expires_at are null
// when absent.
type View struct {
	ID                 string  `json:"id"`
	MAC                string  `json:"mac"`
	Type               string  `json:"type"`
	Provider           string  `json:"provider"`
	TimeSecs           uint64  `json:"time_secs"`
	TimeConsSecs       uint64  `json:"time_cons_secs"`
	RemainingTimeSecs  uint64  `json:"remaining_time_secs"`
	DataMB             float64 `json:"data_mb"`
	DataBytes          uint64  `json:"data_bytes"`
	DataConsMB         float64 `json:"data_cons_mb"`
	DataConsBytes      uint64  `json:"data_cons_bytes"`
	RemainingDataMB    float64 `json:"remaining_data_mb"`
	RemainingDataBytes uint64  `json:"remaining_data_bytes"`
	StartedAt          *string `json:"started_at"`
	CreatedAt          string  `json:"created_at"`
	ExpDays            *uint32 `json:"exp_days"`
	ExpiresAt          *string `json:"expires_at"`
	DownMbits          uint32  `json:"down_mbits"`
	UpMbits            uint32  `json:"up_mbits"`
	UseGlobalSpeed     bool    `json:"use_global_speed"`
	Available          bool    `json:"available"`
	Status             string  `json:"status"` // see StatusKey
	Current            *bool   `json:"current,omitempty"`
	Voucher            string  `json:"voucher,omitempty"` // the code that created it
}

// NewView returns the view of d at now.
func NewView(d Data, now time.Time) View {
	st := d.Status(now)
	v := View{
		ID:                 d.ID,
		MAC:                d.MAC.String(),
		Type:               d.Type.String(),
		Provider:           d.Provider,
		TimeSecs:           d.TimeSecs,
		TimeConsSecs:       d.TimeCons,
		RemainingTimeSecs:  d.RemainingTime(),
		DataMB:             BytesToMB(d.DataBytes),
		DataBytes:          d.DataBytes,
		DataConsMB:         BytesToMB(d.DataConsBytes),
		DataConsBytes:      d.DataConsBytes,
		RemainingDataMB:    BytesToMB(d.RemainingDataBytes()),
		RemainingDataBytes: d.RemainingDataBytes(),
		CreatedAt:          RFC3339(d.CreatedAt),
		DownMbits:          d.DownMbits,
		UpMbits:            d.UpMbits,
		UseGlobalSpeed:     d.UseGlobalSpeed,
		Available:          st == nil,
		Status:             StatusKey(st),
		Voucher:            d.Voucher,
	}
	if d.Started() {
		s := RFC3339(d.StartedAt)
		v.StartedAt = &s
	}
	if d.HasExpiry {
		days := d.ExpDays
		v.ExpDays = &days
	}
	if t, ok := d.ExpiresAt(); ok {
		s := RFC3339(t)
		v.ExpiresAt = &s
	}
	return v
}

// RFC3339 formats t as the views do: RFC 3339, UTC.
func RFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// StatusKey is the machine-readable form of a status error from Status or
// Current: available, expired, time_used_up, data_used_up, no_session.
func StatusKey(err error) string {
	switch {
	case err == nil:
		return "available"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrTimeExhausted):
		return "time_used_up"
	case errors.Is(err, ErrDataExhausted):
		return "data_used_up"
	case errors.Is(err, ErrNoSession):
		return "no_session"
	}
	return "unknown"
}
