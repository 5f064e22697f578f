// Package voucher owns plans and vouchers (README.md, "Vouchers"): a plan is
// a named template of a session, a voucher a printed code that creates a
// session from its plan for the device that first logs in with it. It holds
// the rules (plan validation, code alphabet and normalisation, the states a
// voucher shows) and the redemption protocol over a Store it declares
// (docs/ARCHITECTURE.md, "Vouchers"); redisstore implements the Store.
package voucher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// Sentinel errors callers branch on.
var (
	// ErrPlanExists: a plan of that name exists already.
	ErrPlanExists = errors.New("plan exists")
	// ErrPlanInUse: the plan still has unused vouchers.
	ErrPlanInUse = errors.New("plan has unused vouchers")
	// ErrPlanNotFound, ErrBatchNotFound, ErrUnknown wrap session.ErrNotFound.
	ErrPlanNotFound  = fmt.Errorf("plan %w", session.ErrNotFound)
	ErrBatchNotFound = fmt.Errorf("batch %w", session.ErrNotFound)
	ErrUnknown       = fmt.Errorf("voucher code %w", session.ErrNotFound)

	// Refusals of a login (Redeem).
	ErrRevoked     = errors.New("voucher revoked")
	ErrUsedUp      = errors.New("voucher used up")
	ErrExpired     = errors.New("voucher expired")
	ErrOtherDevice = errors.New("voucher already in use on another device")
	ErrNoPlan      = errors.New("voucher's plan no longer exists")
)

// Limits of a plan.
const (
	MaxDevices   = 100
	maxPrice     = 1e12
	MaxPlanName  = 64
	MaxNoteBytes = 256
)

var planName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// Plan is a named template of a session. Its session fields mean what they
// mean in POST /v1/devices/{mac}/sessions; Devices is how many devices one
// voucher of the plan may serve (each gets its own session from the plan).
type Plan struct {
	Name           string
	Type           session.Type
	TimeSecs       uint
	DataMB         float64
	ExpDays        *uint // nil: never expires; else days after first use
	DownMbits      uint
	UpMbits        uint
	UseGlobalSpeed bool
	Price          float64 // for reports only
	Currency       string  // ISO 4217, e.g. EUR; "" when no price
	Devices        uint    // ≥ 1
	CreatedAt      time.Time
}

// Spec is the session a voucher of the plan creates.
func (p Plan) Spec() session.Spec {
	return session.Spec{
		Provider:       "voucher",
		Type:           p.Type,
		TimeSecs:       p.TimeSecs,
		DataMb:         p.DataMB,
		ExpDays:        p.ExpDays,
		DownMbits:      p.DownMbits,
		UpMbits:        p.UpMbits,
		UseGlobalSpeed: p.UseGlobalSpeed,
	}
}

// probeMAC stands in for the device when a plan's session is validated.
const probeMAC = "02:00:00:00:00:00"

// Validate reports every problem of p at once, each a *session.FieldError
// (wrapping session.ErrInvalid) named by its API key. The session fields go
// through session.Spec's rules, the ones session creation uses.
func (p Plan) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &session.FieldError{Field: field, Problem: fmt.Sprintf(format, a...)})
	}
	if !planName.MatchString(p.Name) {
		bad("name", "%q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", p.Name)
	}
	if p.Type.Valid() {
		if p.TimeSecs != 0 && !p.Type.LimitsTime() {
			bad("time_secs", "a %s session has no time allocation (use type time_or_data for both)", p.Type)
		}
		if p.DataMB != 0 && !p.Type.LimitsData() {
			bad("data_mb", "a %s session has no data allocation (use type time_or_data for both)", p.Type)
		}
	}
	if p.UseGlobalSpeed && (p.DownMbits != 0 || p.UpMbits != 0) {
		bad("use_global_speed", "true excludes down_mbits and up_mbits: give one or the other")
	}
	if _, err := p.Spec().Data(probeMAC, time.Unix(0, 0)); err != nil {
		errs = append(errs, err)
	}
	if math.IsNaN(p.Price) || math.IsInf(p.Price, 0) || p.Price < 0 || p.Price > maxPrice {
		bad("price", "%v: want a non-negative number", p.Price)
	}
	switch {
	case p.Currency != "" && !currencyCode.MatchString(p.Currency):
		bad("currency", "%q: want a three-letter ISO 4217 code in capitals, e.g. EUR", p.Currency)
	case p.Currency != "" && p.Price == 0:
		bad("currency", "given without a price")
	}
	if p.Devices < 1 || p.Devices > MaxDevices {
		bad("devices", "%d: want 1 to %d (devices one voucher may serve)", p.Devices, MaxDevices)
	}
	return errors.Join(errs...)
}

// PlanJSON is a plan as the admin API and `hsctl --json` show it.
type PlanJSON struct {
	Name           string         `json:"name"`
	Type           string         `json:"type"`
	TimeSecs       uint           `json:"time_secs"`
	DataMB         float64        `json:"data_mb"`
	ExpDays        *uint          `json:"exp_days"`
	DownMbits      uint           `json:"down_mbits"`
	UpMbits        uint           `json:"up_mbits"`
	UseGlobalSpeed bool           `json:"use_global_speed"`
	Price          float64        `json:"price"`
	Currency       string         `json:"currency"`
	Devices        uint           `json:"devices"`
	CreatedAt      string         `json:"created_at,omitempty"`
	Vouchers       map[string]int `json:"vouchers,omitempty"` // counts by state (GET /v1/plans/{name})
}

// JSON returns the view of p.
func (p Plan) JSON() PlanJSON {
	v := PlanJSON{
		Name: p.Name, Type: p.Type.String(), TimeSecs: p.TimeSecs, DataMB: p.DataMB, ExpDays: p.ExpDays,
		DownMbits: p.DownMbits, UpMbits: p.UpMbits, UseGlobalSpeed: p.UseGlobalSpeed,
		Price: p.Price, Currency: p.Currency, Devices: p.Devices,
	}
	if !p.CreatedAt.IsZero() {
		v.CreatedAt = session.RFC3339(p.CreatedAt)
	}
	return v
}

// PlanInput is the body of POST /v1/plans (and hsctl plan create): type as
// a name or number, devices 0 meaning 1.
type PlanInput struct {
	Name           string          `json:"name"`
	Type           json.RawMessage `json:"type"`
	TimeSecs       uint            `json:"time_secs"`
	DataMB         float64         `json:"data_mb"`
	ExpDays        *uint           `json:"exp_days"`
	DownMbits      uint            `json:"down_mbits"`
	UpMbits        uint            `json:"up_mbits"`
	UseGlobalSpeed bool            `json:"use_global_speed"`
	Price          float64         `json:"price"`
	Currency       string          `json:"currency"`
	Devices        uint            `json:"devices"`
}

// Plan returns the plan the input describes, validated.
func (in PlanInput) Plan(now time.Time) (Plan, error) {
	p := Plan{
		Name: in.Name, TimeSecs: in.TimeSecs, DataMB: in.DataMB, ExpDays: in.ExpDays,
		DownMbits: in.DownMbits, UpMbits: in.UpMbits, UseGlobalSpeed: in.UseGlobalSpeed,
		Price: in.Price, Currency: in.Currency, Devices: in.Devices, CreatedAt: now.UTC().Truncate(time.Second),
	}
	if p.Devices == 0 {
		p.Devices = 1
	}
	t, terr := session.ParseTypeJSON(in.Type)
	if terr != nil {
		p.Type = session.TypeTimeOrData + 1 // reported below, once
	} else {
		p.Type = t
	}
	err := p.Validate()
	if terr != nil {
		err = errors.Join(append([]error{terr}, dropField(err, "type")...)...)
	}
	if err != nil {
		return Plan{}, err
	}
	return p, nil
}

// PlanPatch is the body of PATCH /v1/plans/{name} (and hsctl plan update):
// the keys given change. exp_days null removes the expiry. The name and
// creation time do not change.
type PlanPatch struct {
	Type           json.RawMessage `json:"type"`
	TimeSecs       *uint           `json:"time_secs"`
	DataMB         *float64        `json:"data_mb"`
	ExpDays        json.RawMessage `json:"exp_days"`
	DownMbits      *uint           `json:"down_mbits"`
	UpMbits        *uint           `json:"up_mbits"`
	UseGlobalSpeed *bool           `json:"use_global_speed"`
	Price          *float64        `json:"price"`
	Currency       *string         `json:"currency"`
	Devices        *uint           `json:"devices"`
}

// ErrNoChange: a patch with no key.
var ErrNoChange = fmt.Errorf("%w: nothing to change", session.ErrInvalid)

// Apply returns p changed by the patch, validated.
func (pt PlanPatch) Apply(p Plan) (Plan, error) {
	if len(pt.Type) == 0 && pt.TimeSecs == nil && pt.DataMB == nil && len(pt.ExpDays) == 0 && pt.DownMbits == nil &&
		pt.UpMbits == nil && pt.UseGlobalSpeed == nil && pt.Price == nil && pt.Currency == nil && pt.Devices == nil {
		return Plan{}, ErrNoChange
	}
	var pre []error
	if len(pt.Type) > 0 {
		t, err := session.ParseTypeJSON(pt.Type)
		if err != nil {
			pre = append(pre, err)
		} else {
			p.Type = t
		}
	}
	setU := func(dst *uint, v *uint) {
		if v != nil {
			*dst = *v
		}
	}
	setU(&p.TimeSecs, pt.TimeSecs)
	setU(&p.DownMbits, pt.DownMbits)
	setU(&p.UpMbits, pt.UpMbits)
	setU(&p.Devices, pt.Devices)
	if pt.DataMB != nil {
		p.DataMB = *pt.DataMB
	}
	if pt.UseGlobalSpeed != nil {
		p.UseGlobalSpeed = *pt.UseGlobalSpeed
	}
	if pt.Price != nil {
		p.Price = *pt.Price
	}
	if pt.Currency != nil {
		p.Currency = *pt.Currency
	}
	if raw := bytes.TrimSpace(pt.ExpDays); len(raw) > 0 {
		if string(raw) == "null" {
			p.ExpDays = nil
		} else {
			var d uint
			if err := json.Unmarshal(raw, &d); err != nil {
				pre = append(pre, &session.FieldError{Field: "exp_days", Problem: "want a positive number of days, or null for no expiry"})
			} else {
				p.ExpDays = &d
			}
		}
	}
	err := p.Validate()
	if len(pre) > 0 {
		skip := map[string]bool{}
		for _, e := range pre {
			skip[e.(*session.FieldError).Field] = true
		}
		rest := []error{}
		for _, e := range session.ErrorLeaves(err) {
			if fe, ok := e.(*session.FieldError); !ok || !skip[fe.Field] {
				rest = append(rest, e)
			}
		}
		err = errors.Join(append(pre, rest...)...)
	}
	if err != nil {
		return Plan{}, err
	}
	return p, nil
}

func dropField(err error, field string) []error {
	var out []error
	for _, e := range session.ErrorLeaves(err) {
		if fe, ok := e.(*session.FieldError); ok && fe.Field == field {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Plan returns the plan a PlanJSON shows (as stored in a voucher's
// snapshot).
func (v PlanJSON) Plan() (Plan, error) {
	t, err := session.ParseType(v.Type)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{
		Name: v.Name, Type: t, TimeSecs: v.TimeSecs, DataMB: v.DataMB, ExpDays: v.ExpDays,
		DownMbits: v.DownMbits, UpMbits: v.UpMbits, UseGlobalSpeed: v.UseGlobalSpeed,
		Price: v.Price, Currency: v.Currency, Devices: v.Devices,
	}
	if v.CreatedAt != "" {
		if p.CreatedAt, err = time.Parse(time.RFC3339, v.CreatedAt); err != nil {
			return Plan{}, fmt.Errorf("created_at: %w", err)
		}
	}
	if p.Devices == 0 {
		p.Devices = 1
	}
	return p, nil
}
