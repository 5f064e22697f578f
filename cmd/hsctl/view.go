package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// sessionView is the JSON form of a session. Its keys are a stable
// interface for scripts: add keys, never rename or remove them. Times are
// RFC 3339 in UTC; started_at, exp_days and expires_at are null when absent.
type sessionView struct {
	ID                string  `json:"id"`
	MAC               string  `json:"mac"`
	Type              string  `json:"type"`
	Provider          string  `json:"provider"`
	TimeSecs          uint64  `json:"time_secs"`
	TimeConsSecs      uint64  `json:"time_cons_secs"`
	RemainingTimeSecs uint64  `json:"remaining_time_secs"`
	DataMB            float64 `json:"data_mb"`
	DataBytes         uint64  `json:"data_bytes"`
	DataConsMB        float64 `json:"data_cons_mb"`
	DataConsBytes     uint64  `json:"data_cons_bytes"`
	RemainingDataMB   float64 `json:"remaining_data_mb"`
	StartedAt         *string `json:"started_at"`
	CreatedAt         string  `json:"created_at"`
	ExpDays           *uint   `json:"exp_days"`
	ExpiresAt         *string `json:"expires_at"`
	DownMbits         uint    `json:"down_mbits"`
	UpMbits           uint    `json:"up_mbits"`
	UseGlobalSpeed    bool    `json:"use_global_speed"`
	Available         bool    `json:"available"`
	Status            string  `json:"status"` // available, expired, time_used_up, data_used_up
	Current           *bool   `json:"current,omitempty"`
	status            error   // Status as the session package's sentinel
	typ               session.Type
}

// newView reads a session through the SDK getters of ClientSession.
func newView(s *session.ClientSession, now time.Time) sessionView {
	d := s.Data()
	st := d.Status(now)
	v := sessionView{
		ID:                s.ID(),
		MAC:               s.MAC().String(),
		Type:              session.Type(s.Type()).String(),
		Provider:          s.Provider(),
		TimeSecs:          uint64(s.TimeSecs()),
		TimeConsSecs:      uint64(s.TimeConsumption()),
		RemainingTimeSecs: uint64(s.RemainingTime()),
		DataMB:            s.DataMb(),
		DataBytes:         d.DataBytes,
		DataConsMB:        s.DataConsumption(),
		DataConsBytes:     s.DataConsumptionBytes(),
		RemainingDataMB:   s.RemainingData(),
		StartedAt:         timePtr(s.StartedAt()),
		CreatedAt:         rfc3339(s.CreatedAt()),
		ExpDays:           s.ExpDays(),
		ExpiresAt:         timePtr(s.ExpiresAt()),
		DownMbits:         s.DownMbits(),
		UpMbits:           s.UpMbits(),
		UseGlobalSpeed:    s.UseGlobalSpeed(),
		Available:         st == nil,
		Status:            statusKey(st),
		status:            st,
		typ:               session.Type(s.Type()),
	}
	return v
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func timePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}

func statusKey(err error) string {
	switch {
	case err == nil:
		return "available"
	case errors.Is(err, session.ErrExpired):
		return "expired"
	case errors.Is(err, session.ErrTimeExhausted):
		return "time_used_up"
	case errors.Is(err, session.ErrDataExhausted):
		return "data_used_up"
	}
	return "unknown"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeSession prints one session: key-value text, or a JSON object.
func writeSession(w io.Writer, asJSON bool, v sessionView) error {
	if asJSON {
		return writeJSON(w, v)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, val string) { fmt.Fprintf(tw, "%s\t%s\n", k, val) }
	row("ID", v.ID)
	row("MAC", v.MAC)
	row("Type", v.Type)
	row("Provider", orDash(v.Provider))
	if v.typ.LimitsTime() {
		row("Time", secsLong(v.TimeSecs))
		row("Time used", secsLong(v.TimeConsSecs))
		row("Remaining time", secsLong(v.RemainingTimeSecs))
	} else {
		row("Time", "- (a data session is not limited by time)")
	}
	if v.typ.LimitsData() {
		row("Data", mb(v.DataMB)+" MB")
		row("Data used", fmt.Sprintf("%s MB (%d bytes)", mb(v.DataConsMB), v.DataConsBytes))
		row("Remaining data", mb(v.RemainingDataMB)+" MB")
	} else {
		row("Data", fmt.Sprintf("- (a time session is not limited by data; %s MB used)", mb(v.DataConsMB)))
	}
	row("Created", v.CreatedAt)
	if v.StartedAt != nil {
		row("Started", *v.StartedAt)
	} else {
		row("Started", "- (not used yet)")
	}
	if v.ExpDays != nil {
		row("Expiry", fmt.Sprintf("%d days after first use", *v.ExpDays))
	} else {
		row("Expiry", "never")
	}
	switch {
	case v.ExpiresAt != nil:
		row("Expires", *v.ExpiresAt)
	case v.ExpDays != nil:
		row("Expires", "- (the clock starts at first use)")
	default:
		row("Expires", "never")
	}
	row("Speed", speedLong(v))
	if v.status == nil {
		row("Status", "available")
	} else {
		row("Status", "not available: "+v.status.Error())
	}
	if v.Current != nil && *v.Current {
		row("Current", "yes")
	}
	return tw.Flush()
}

// writeList prints a device's sessions: a table with the current session
// marked, or a JSON array.
func writeList(w io.Writer, asJSON bool, mac session.MAC, views []sessionView, curErr error) error {
	if asJSON {
		if views == nil {
			views = []sessionView{}
		}
		return writeJSON(w, views)
	}
	if len(views) == 0 {
		_, err := fmt.Fprintf(w, "%s has no sessions (create one: hsctl create --mac %s --type time --time 1h --down 10 --up 2)\n", mac, mac)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tID\tTYPE\tTIME used/alloc\tDATA MB used/alloc\tREMAINING\tSTARTED\tEXPIRES\tSPEED Mbit/s\tSTATUS")
	for _, v := range views {
		mark := ""
		if v.Current != nil && *v.Current {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			mark, v.ID, v.Type, timeCol(v), dataCol(v), remainingCol(v),
			derefOr(v.StartedAt, "-"), expiresCol(v), speedShort(v), strings.ReplaceAll(v.Status, "_", " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if curErr != nil {
		_, err := fmt.Fprintf(w, "no available session: %v\n", curErr)
		return err
	}
	_, err := fmt.Fprintln(w, "* current session")
	return err
}

func timeCol(v sessionView) string {
	if !v.typ.LimitsTime() {
		return "-"
	}
	return secsShort(v.TimeConsSecs) + "/" + secsShort(v.TimeSecs)
}

func dataCol(v sessionView) string {
	if !v.typ.LimitsData() {
		return "-"
	}
	return mb(v.DataConsMB) + "/" + mb(v.DataMB)
}

func remainingCol(v sessionView) string {
	var parts []string
	if v.typ.LimitsTime() {
		parts = append(parts, secsShort(v.RemainingTimeSecs))
	}
	if v.typ.LimitsData() {
		parts = append(parts, mb(v.RemainingDataMB)+" MB")
	}
	return strings.Join(parts, " / ")
}

func expiresCol(v sessionView) string {
	switch {
	case v.ExpiresAt != nil:
		return *v.ExpiresAt
	case v.ExpDays != nil:
		return fmt.Sprintf("%dd after start", *v.ExpDays)
	}
	return "never"
}

func speedShort(v sessionView) string {
	if v.UseGlobalSpeed {
		return "global"
	}
	return fmt.Sprintf("%d/%d", v.DownMbits, v.UpMbits)
}

func speedLong(v sessionView) string {
	if v.UseGlobalSpeed {
		return "global (the NAS's configured speed)"
	}
	return fmt.Sprintf("%d Mbit/s down, %d Mbit/s up", v.DownMbits, v.UpMbits)
}

// mb prints megabytes exactly (a whole number of bytes has at most six
// decimals in MB) without trailing zeros.
func mb(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// secsShort prints seconds as 1d2h3m4s, leaving out zero units.
func secsShort(s uint64) string {
	if s == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		n    uint64
		unit string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}} {
		if q := s / u.n; q > 0 {
			b.WriteString(strconv.FormatUint(q, 10) + u.unit)
			s -= q * u.n
		}
	}
	return b.String()
}

func secsLong(s uint64) string {
	if s < 60 {
		return fmt.Sprintf("%d s", s)
	}
	return fmt.Sprintf("%d s (%s)", s, secsShort(s))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
