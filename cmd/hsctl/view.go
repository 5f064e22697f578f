package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// sessionView is the JSON form of a session (session.View, shared with the
// admin API), plus what the table rendering needs.
type sessionView struct {
	session.View
	status error // Status as the session package's sentinel
	typ    session.Type
}

// newView returns the view of a session at now.
func newView(s *session.ClientSession, now time.Time) sessionView {
	d := s.Data()
	return sessionView{View: session.NewView(d, now), status: d.Status(now), typ: d.Type}
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
