package radiusd

import (
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// TestMovedDataLimit: a move changes the data limit a MikroTik holds when
// the session it moves onto limits data, or the one it leaves did (when
// that one is gone, it may have; when only the new one is known, any
// session no longer available that limits data may be it).
func TestMovedDataLimit(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mk := func(seq uint64, typ session.Type, usedUp bool) session.Data {
		d := session.Data{ID: session.NewID("02:00:00:00:00:01", seq), Type: typ, TimeSecs: 600, DataBytes: 1_000_000}
		if usedUp {
			d.TimeCons, d.DataConsBytes = d.TimeSecs, d.DataBytes
		}
		d.StartedAt = now.Add(-time.Minute)
		return d
	}
	timeLeft, timeGone := mk(1, session.TypeTime, false), mk(2, session.TypeTime, true)
	dataLeft, dataGone := mk(3, session.TypeData, false), mk(4, session.TypeData, true)
	bothLeft := mk(5, session.TypeTimeOrData, false)
	tests := []struct {
		name     string
		sessions []session.Data
		from     string
		cur      session.Data
		want     bool
	}{
		{"onto a data session", []session.Data{timeGone, dataLeft}, timeGone.ID, dataLeft, true},
		{"onto a time_or_data session", []session.Data{timeGone, bothLeft}, timeGone.ID, bothLeft, true},
		{"time to time", []session.Data{timeGone, timeLeft}, timeGone.ID, timeLeft, false},
		{"data to time", []session.Data{dataGone, timeLeft}, dataGone.ID, timeLeft, true},
		{"from a deleted session", []session.Data{timeLeft}, session.NewID("02:00:00:00:00:01", 9), timeLeft, true},
		{"only the new one known, a used-up time session", []session.Data{timeGone, timeLeft}, timeLeft.ID, timeLeft, false},
		{"only the new one known, a used-up data session", []session.Data{dataGone, timeGone, timeLeft}, timeLeft.ID, timeLeft, true},
		{"only the new one known, a data session still available", []session.Data{timeGone, timeLeft, dataLeft}, timeLeft.ID, timeLeft, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := movedDataLimit(tc.sessions, tc.from, tc.cur, now); got != tc.want {
				t.Errorf("movedDataLimit(from %s onto %s): got %v, want %v", tc.from, tc.cur.ID, got, tc.want)
			}
		})
	}
}
