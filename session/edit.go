package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Edit is an operator's change to one session: the body of the admin API's
// PATCH /v1/sessions/{id} (its JSON keys) and what `hsctl update` builds
// from its flags, so that both accept and refuse the same edits. Every
// field is optional: nil (false, the zero ExpDays) leaves the value as it
// is.
//
// Validate checks an edit against the type of the session it is for; Apply
// makes it on a ClientSession, whose Save writes it.
type Edit struct {
	// AddTimeSecs and AddDataMB are top-ups: atomic increments of the
	// allocation, so that two payments credited at once both count. They
	// are added after TimeSecs and DataMB are set.
	AddTimeSecs *uint    `json:"add_time_secs"`
	AddDataMB   *float64 `json:"add_data_mb"`
	// TimeSecs and DataMB set the allocation.
	TimeSecs *uint    `json:"time_secs"`
	DataMB   *float64 `json:"data_mb"`
	// TimeConsSecs and DataConsMB set the consumption.
	TimeConsSecs *uint    `json:"time_cons_secs"`
	DataConsMB   *float64 `json:"data_cons_mb"`
	// DownMbits and UpMbits set the session's own speed. Given without
	// UseGlobalSpeed, they switch a session that used the NAS's global
	// speed to its own.
	DownMbits      *uint `json:"down_mbits"`
	UpMbits        *uint `json:"up_mbits"`
	UseGlobalSpeed *bool `json:"use_global_speed"`
	// ExpDays sets or removes the expiry.
	ExpDays  ExpiryEdit `json:"exp_days"`
	Provider *string    `json:"provider"`
	// ResetStart marks the session as not started: its expiry clock
	// restarts at the next first use.
	ResetStart bool `json:"reset_start"`
}

// ExpiryEdit is the exp_days of an Edit: unchanged (the zero value),
// removed (Set, Days nil; JSON null: the session never expires) or set to
// *Days days after first use.
type ExpiryEdit struct {
	Set  bool
	Days *uint
}

// UnmarshalJSON tells null (remove the expiry) from a number of days; an
// absent key leaves the zero value.
func (x *ExpiryEdit) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*x = ExpiryEdit{Set: true}
		return nil
	}
	var days uint
	if err := json.Unmarshal(b, &days); err != nil {
		return err
	}
	*x = ExpiryEdit{Set: true, Days: &days}
	return nil
}

// ErrNoChange is Validate's answer to an edit that changes nothing.
var ErrNoChange = fmt.Errorf("%w: nothing to change", ErrInvalid)

// Check reports the problems of e whatever the type of the session it is
// for (Validate reports them too), so that a front end can refuse such an
// edit before it reads the session: a top-up that adds nothing, the global
// speed together with the session's own, an edit that changes nothing
// (ErrNoChange). Every other problem is a *FieldError naming e's JSON key.
// The rules for the values themselves (ranges, lengths) are the
// ClientSession's: its Save reports them (see Key).
func (e Edit) Check() error {
	if !e.changes() {
		return ErrNoChange
	}
	var errs []error
	bad := func(key, problem string) { errs = append(errs, &FieldError{Field: key, Problem: problem}) }
	if e.AddTimeSecs != nil && *e.AddTimeSecs == 0 {
		bad("add_time_secs", "must be positive (a top-up adds time; set the allocation to lower it)")
	}
	if e.AddDataMB != nil && !(*e.AddDataMB > 0) {
		bad("add_data_mb", "must be positive (a top-up adds data; set the allocation to lower it)")
	}
	if e.UseGlobalSpeed != nil && *e.UseGlobalSpeed && (e.DownMbits != nil || e.UpMbits != nil) {
		bad("use_global_speed", "the global speed excludes the session's own down and up speeds: give one or the other")
	}
	return errors.Join(errs...)
}

// Validate reports every problem of e on a session of type t: those of
// Check, and fields of a kind the type does not limit. Time (add_time_secs,
// time_secs, time_cons_secs) applies only to a session limited by time, data
// (add_data_mb, data_mb, data_cons_mb) only to one limited by data: nothing
// about a data session depends on its time, so a time allocation would be
// ignored, and its time used is a record of what the NAS reported, not an
// allowance that setting it could give back.
//
// Save refuses what is wrong with the values (a zero allocation, a negative
// consumption, zero days) or with the result (a top-up that overflows, no
// speed on a session without the global speed); Key names the edit's key.
func (e Edit) Validate(t Type) error {
	err := e.Check()
	if errors.Is(err, ErrNoChange) {
		return err
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = append(errs, j.Unwrap()...)
	}
	if !t.Valid() {
		errs = append(errs, &FieldError{Field: "type", Problem: fmt.Sprintf("%d is not a session type", t)})
	}
	for _, f := range []struct {
		key     string
		given   bool
		limited bool
		kind    string
	}{
		{"add_time_secs", e.AddTimeSecs != nil, t.LimitsTime(), "time"},
		{"time_secs", e.TimeSecs != nil, t.LimitsTime(), "time"},
		{"time_cons_secs", e.TimeConsSecs != nil, t.LimitsTime(), "time"},
		{"add_data_mb", e.AddDataMB != nil, t.LimitsData(), "data"},
		{"data_mb", e.DataMB != nil, t.LimitsData(), "data"},
		{"data_cons_mb", e.DataConsMB != nil, t.LimitsData(), "data"},
	} {
		if f.given && !f.limited && t.Valid() {
			errs = append(errs, &FieldError{Field: f.key, Problem: fmt.Sprintf("a %s session is not limited by %s", t, f.kind)})
		}
	}
	return errors.Join(errs...)
}

// changes reports whether e changes anything.
func (e Edit) changes() bool {
	return e.AddTimeSecs != nil || e.AddDataMB != nil || e.TimeSecs != nil || e.DataMB != nil ||
		e.TimeConsSecs != nil || e.DataConsMB != nil || e.DownMbits != nil || e.UpMbits != nil ||
		e.UseGlobalSpeed != nil || e.ExpDays.Set || e.Provider != nil || e.ResetStart
}

// Apply makes e on s, for its next Save: the writes first, then the
// top-ups, which Save adds atomically after the writes. It does not
// validate e: call Validate with s's type first (a value a setter refuses
// makes Save fail).
func (e Edit) Apply(s *ClientSession) {
	if e.TimeSecs != nil {
		s.SetTimeSecs(*e.TimeSecs)
	}
	if e.DataMB != nil {
		s.SetDataMb(*e.DataMB)
	}
	if e.TimeConsSecs != nil {
		s.SetTimeCons(*e.TimeConsSecs)
	}
	if e.DataConsMB != nil {
		s.SetDataCons(*e.DataConsMB)
	}
	if e.DownMbits != nil {
		s.SetDownMbits(*e.DownMbits)
	}
	if e.UpMbits != nil {
		s.SetUpMbits(*e.UpMbits)
	}
	switch {
	case e.UseGlobalSpeed != nil:
		s.SetUseGlobalSpeed(*e.UseGlobalSpeed)
	case (e.DownMbits != nil || e.UpMbits != nil) && s.UseGlobalSpeed():
		// Giving a speed means the session's own speed from now on.
		s.SetUseGlobalSpeed(false)
	}
	switch {
	case e.ExpDays.Set && e.ExpDays.Days == nil:
		s.ClearExpDays()
	case e.ExpDays.Set:
		s.SetExpDays(*e.ExpDays.Days)
	}
	if e.Provider != nil {
		s.SetProvider(*e.Provider)
	}
	if e.ResetStart {
		s.SetStartedAt(time.Time{})
	}
	if e.AddTimeSecs != nil {
		s.TopUpTime(*e.AddTimeSecs)
	}
	if e.AddDataMB != nil {
		s.TopUpData(*e.AddDataMB)
	}
}

// Key returns the key of e that a *FieldError of Save after Apply is about.
// Save names stored fields: the consumption as time_cons and data_cons, and
// a top-up that overflows by the allocation it adds to.
func (e Edit) Key(field string) string {
	switch field {
	case "time_cons":
		return "time_cons_secs"
	case "data_cons":
		return "data_cons_mb"
	case "time_secs":
		if e.AddTimeSecs != nil && e.TimeSecs == nil {
			return "add_time_secs"
		}
	case "data_mb":
		if e.AddDataMB != nil && e.DataMB == nil {
			return "add_data_mb"
		}
	}
	return field
}
