package voucher

import (
	"encoding/csv"
	"io"
	"strings"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// Stored states of a voucher. The states shown (State) add used_up and
// expired, derived from the sessions the voucher created.
const (
	StateUnused  = "unused"
	StateActive  = "active"
	StateUsedUp  = "used_up"
	StateExpired = "expired"
	StateRevoked = "revoked"
)

// States lists the shown states in their order.
var States = []string{StateUnused, StateActive, StateUsedUp, StateExpired, StateRevoked}

// Binding is one device a voucher serves. SessionID is empty while the
// binding is pending: claimed, its session not yet recorded (a login
// interrupted between the steps of Redeem; the device's next login
// completes it).
type Binding struct {
	MAC       session.MAC
	SessionID string
}

// Voucher is a code as stored.
type Voucher struct {
	Code       string
	Plan       string
	Batch      string
	State      string // StateUnused, StateActive or StateRevoked
	Devices    []Binding
	CreatedAt  time.Time
	RedeemedAt time.Time // first claim; zero while unused
	// Snapshot is the plan as it was at the first claim (nil before): the
	// sessions of every device of the voucher are made from it.
	Snapshot *Plan
}

// Batch is a set of codes generated together for a plan.
type Batch struct {
	ID        string
	Plan      string
	Count     int
	Length    int
	Prefix    string
	Note      string
	CreatedAt time.Time
	Codes     []string // in generation order
}

// Shown returns the state of v shown to operators at now, given the
// sessions it created (by ID; a deleted one absent): revoked and unused as
// stored; active while a binding is pending, one of its sessions is
// available or it can still serve another device; else expired when one of
// its sessions expired, used_up otherwise.
func Shown(v Voucher, sessions map[string]session.Data, now time.Time) string {
	if v.State == StateRevoked || v.State == StateUnused || len(v.Devices) == 0 {
		if v.State == StateRevoked {
			return StateRevoked
		}
		return StateUnused
	}
	max := uint(1)
	if v.Snapshot != nil {
		max = v.Snapshot.Devices
	}
	if uint(len(v.Devices)) < max {
		return StateActive
	}
	expired := false
	for _, b := range v.Devices {
		if b.SessionID == "" {
			return StateActive
		}
		d, ok := sessions[b.SessionID]
		if !ok {
			continue
		}
		switch d.Status(now) {
		case nil:
			return StateActive
		case session.ErrExpired:
			expired = true
		}
	}
	if expired {
		return StateExpired
	}
	return StateUsedUp
}

// JSON is a voucher as the admin API and `hsctl --json` show it.
type JSON struct {
	Code       string   `json:"code"`
	Plan       string   `json:"plan"`
	Batch      string   `json:"batch"`
	State      string   `json:"state"`
	Devices    []string `json:"devices"`
	SessionIDs []string `json:"session_ids"`
	// Pending lists devices whose session is not recorded yet (a login cut
	// between the steps; their next login completes it).
	Pending    []string `json:"pending,omitempty"`
	CreatedAt  string   `json:"created_at,omitempty"`
	RedeemedAt string   `json:"redeemed_at,omitempty"`
}

// NewJSON returns the view of v in state (see Shown).
func NewJSON(v Voucher, state string) JSON {
	j := JSON{Code: v.Code, Plan: v.Plan, Batch: v.Batch, State: state, Devices: []string{}, SessionIDs: []string{}}
	for _, b := range v.Devices {
		j.Devices = append(j.Devices, b.MAC.String())
		if b.SessionID == "" {
			j.Pending = append(j.Pending, b.MAC.String())
		} else {
			j.SessionIDs = append(j.SessionIDs, b.SessionID)
		}
	}
	if !v.CreatedAt.IsZero() {
		j.CreatedAt = session.RFC3339(v.CreatedAt)
	}
	if !v.RedeemedAt.IsZero() {
		j.RedeemedAt = session.RFC3339(v.RedeemedAt)
	}
	return j
}

// BatchJSON is a batch as the admin API and `hsctl --json` show it.
type BatchJSON struct {
	ID        string         `json:"id"`
	Plan      string         `json:"plan"`
	Count     int            `json:"count"`
	Length    int            `json:"length"`
	Prefix    string         `json:"prefix"`
	Note      string         `json:"note"`
	CreatedAt string         `json:"created_at,omitempty"`
	States    map[string]int `json:"states"`
	Vouchers  []JSON         `json:"vouchers,omitempty"`
}

// NewBatchJSON returns the view of b with its vouchers' shown states.
func NewBatchJSON(b Batch, vouchers []JSON) BatchJSON {
	j := BatchJSON{ID: b.ID, Plan: b.Plan, Count: b.Count, Length: b.Length, Prefix: b.Prefix, Note: b.Note,
		States: map[string]int{}}
	for _, s := range States {
		j.States[s] = 0
	}
	for _, v := range vouchers {
		j.States[v.State]++
	}
	if !b.CreatedAt.IsZero() {
		j.CreatedAt = session.RFC3339(b.CreatedAt)
	}
	return j
}

// CSVHeader is the header row of a batch export.
var CSVHeader = []string{"code", "plan", "batch", "state", "devices", "created_at", "redeemed_at"}

// WriteCSV writes vouchers as a batch export (GET /v1/batches/{id}/csv,
// hsctl voucher export): the header, then one row per code; devices are
// separated by spaces.
func WriteCSV(w io.Writer, vs []JSON) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, v := range vs {
		if err := cw.Write([]string{v.Code, v.Plan, v.Batch, v.State, strings.Join(v.Devices, " "), v.CreatedAt, v.RedeemedAt}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
