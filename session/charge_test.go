package session

import (
	"slices"
	"testing"
	"time"
)

// chs returns a session of testMAC numbered seq, created at t0 in creation
// order, of type typ with secs seconds and bytes bytes of which none are
// used, not started; mods adjust it.
func chs(seq uint64, typ Type, secs, bytes uint64, mods ...func(*Data)) Data {
	d := Data{ID: NewID(testMAC, seq), MAC: testMAC, Type: typ, TimeSecs: secs, DataBytes: bytes,
		CreatedAt: t0.Add(time.Duration(seq) * time.Second), DownMbits: 1, UpMbits: 1}
	for _, m := range mods {
		m(&d)
	}
	return d
}

func used(secs, bytes uint64) func(*Data) {
	return func(d *Data) { d.TimeCons, d.DataConsBytes = secs, bytes }
}

func startedAt(t time.Time) func(*Data) { return func(d *Data) { d.StartedAt = t } }

func expiresIn(days uint32) func(*Data) { return func(d *Data) { d.ExpDays, d.HasExpiry = days, true } }

// after is one session's state after a charge.
type after struct {
	secs, bytes uint64
	started     time.Time
}

func TestUsageCharge(t *testing.T) {
	now := t0.Add(time.Hour)
	ev := now.Add(-2 * time.Second) // the NAS produced the packet a little before it arrived
	id := func(seq uint64) string { return NewID(testMAC, seq) }
	c := func(seq, secs, bytes uint64) Charge { return Charge{SessionID: id(seq), Secs: secs, Bytes: bytes} }
	earlier := t0.Add(-time.Hour)
	tests := []struct {
		name     string
		sessions []Data
		u        Usage
		charges  []Charge
		unbilled [2]uint64
		feeds    string
		moved    bool
		left     bool
		after    map[string]after // sessions whose state changed
	}{
		{
			name:     "room for all: the fed session takes it",
			sessions: []Data{chs(1, TypeTime, 100, 0, used(10, 0), startedAt(earlier)), chs(2, TypeTime, 100, 0)},
			u:        Usage{Feeds: id(1), Secs: 50, Bytes: 7, EventTime: ev},
			charges:  []Charge{c(1, 50, 7)},
			feeds:    id(1), left: true,
			after: map[string]after{id(1): {60, 7, earlier}},
		},
		{
			name:     "exactly the room left: the session is used up and the record moves",
			sessions: []Data{chs(1, TypeTime, 100, 0, used(10, 0), startedAt(earlier)), chs(2, TypeTime, 100, 0)},
			u:        Usage{Feeds: id(1), Secs: 90, EventTime: ev},
			charges:  []Charge{c(1, 90, 0)},
			feeds:    id(2), moved: true, left: true,
			after: map[string]after{id(1): {100, 0, earlier}},
		},
		{
			name:     "spill-over starts the next session's clock at the event",
			sessions: []Data{chs(1, TypeTime, 100, 0, used(10, 0), startedAt(earlier)), chs(2, TypeTime, 100, 0)},
			u:        Usage{Feeds: id(1), Secs: 120, EventTime: ev},
			charges:  []Charge{c(1, 90, 0), c(2, 30, 0)},
			feeds:    id(2), moved: true, left: true,
			after: map[string]after{id(1): {100, 0, earlier}, id(2): {30, 0, ev}},
		},
		{
			name: "the chain follows Current's order: started sessions first, then creation",
			sessions: []Data{chs(1, TypeTime, 10, 0, startedAt(earlier)), chs(2, TypeTime, 10, 0),
				chs(3, TypeTime, 10, 0, startedAt(earlier.Add(time.Minute))), chs(4, TypeTime, 10, 0, startedAt(earlier.Add(-time.Minute)))},
			u:       Usage{Feeds: id(1), Secs: 35, EventTime: ev},
			charges: []Charge{c(1, 10, 0), c(4, 10, 0), c(3, 10, 0), c(2, 5, 0)},
			feeds:   id(2), moved: true, left: true,
			after: map[string]after{id(1): {10, 0, earlier}, id(4): {10, 0, earlier.Add(-time.Minute)},
				id(3): {10, 0, earlier.Add(time.Minute)}, id(2): {5, 0, ev}},
		},
		{
			name:     "the last session takes the overage and stays fed",
			sessions: []Data{chs(1, TypeTimeOrData, 10, 1000, startedAt(earlier)), chs(2, TypeTimeOrData, 10, 1000, startedAt(now))},
			u:        Usage{Feeds: id(1), Secs: 30, Bytes: 1500, EventTime: ev},
			charges:  []Charge{c(1, 10, 1000), c(2, 20, 500)},
			feeds:    id(2), moved: true,
			after: map[string]after{id(1): {10, 1000, earlier}, id(2): {20, 500, now}},
		},
		{
			name:     "a kind that does not limit a session goes all to it",
			sessions: []Data{chs(1, TypeData, 0, 1000, startedAt(earlier)), chs(2, TypeTime, 100, 0)},
			u:        Usage{Feeds: id(1), Secs: 500, Bytes: 10, EventTime: ev},
			charges:  []Charge{c(1, 500, 10)},
			feeds:    id(1), left: true,
			after: map[string]after{id(1): {500, 10, earlier}},
		},
		{
			name:     "time_or_data: each kind spills on its own",
			sessions: []Data{chs(1, TypeTimeOrData, 100, 1000, startedAt(earlier)), chs(2, TypeTimeOrData, 100, 1000)},
			u:        Usage{Feeds: id(1), Secs: 40, Bytes: 1200, EventTime: ev},
			charges:  []Charge{c(1, 40, 1000), c(2, 0, 200)},
			feeds:    id(2), moved: true, left: true,
			after: map[string]after{id(1): {40, 1000, earlier}, id(2): {0, 200, ev}},
		},
		{
			name:     "an expired fed session takes nothing but stays first",
			sessions: []Data{chs(1, TypeTime, 100, 0, startedAt(now.Add(-24*time.Hour)), expiresIn(1)), chs(2, TypeTime, 100, 0)},
			u:        Usage{Feeds: id(1), Secs: 20, EventTime: ev},
			charges:  []Charge{c(2, 20, 0)},
			feeds:    id(2), moved: true, left: true,
			after: map[string]after{id(2): {20, 0, ev}},
		},
		{
			name:     "an expired fed session alone takes everything",
			sessions: []Data{chs(1, TypeTime, 100, 0, startedAt(now.Add(-24*time.Hour)), expiresIn(1))},
			u:        Usage{Feeds: id(1), Secs: 20, EventTime: ev},
			charges:  []Charge{c(1, 20, 0)},
			feeds:    id(1),
			after:    map[string]after{id(1): {20, 0, now.Add(-24 * time.Hour)}},
		},
		{
			name:     "a gone fed session: the current one heads the chain, not a move",
			sessions: []Data{chs(2, TypeTime, 100, 0, startedAt(earlier))},
			u:        Usage{Feeds: id(1), Secs: 20, EventTime: ev},
			charges:  []Charge{c(2, 20, 0)},
			feeds:    id(2), left: true,
			after: map[string]after{id(2): {20, 0, earlier}},
		},
		{
			name:     "a new record starts its first session at the NAS session's start",
			sessions: []Data{chs(1, TypeTime, 100, 0), chs(2, TypeTime, 100, 0)},
			u:        Usage{NewRecord: true, Secs: 150, EventTime: ev, SessionTime: 150},
			charges:  []Charge{c(1, 100, 0), c(2, 50, 0)},
			feeds:    id(2), moved: true, left: true,
			after: map[string]after{id(1): {100, 0, ev.Add(-150 * time.Second)}, id(2): {50, 0, ev}},
		},
		{
			name:     "a new record ignores Feeds",
			sessions: []Data{chs(1, TypeTime, 100, 0, used(100, 0), startedAt(earlier)), chs(2, TypeTime, 100, 0)},
			u:        Usage{NewRecord: true, Feeds: id(1), Secs: 5, EventTime: ev, SessionTime: 5},
			charges:  []Charge{c(2, 5, 0)},
			feeds:    id(2), left: true,
			after: map[string]after{id(2): {5, 0, ev.Add(-5 * time.Second)}},
		},
		{
			name:     "a Start starts the first session charged nothing",
			sessions: []Data{chs(1, TypeTime, 100, 0), chs(2, TypeTime, 100, 0)},
			u:        Usage{NewRecord: true, Start: true, EventTime: ev},
			feeds:    id(1), left: true,
			after: map[string]after{id(1): {0, 0, ev}},
		},
		{
			name:     "a Start of a reopened record starts the fed session at the event",
			sessions: []Data{chs(1, TypeTime, 100, 0)},
			u:        Usage{Feeds: id(1), Start: true, EventTime: ev, SessionTime: 60},
			feeds:    id(1), left: true,
			after: map[string]after{id(1): {0, 0, ev}},
		},
		{
			name:     "an interim charged nothing starts nothing",
			sessions: []Data{chs(1, TypeTime, 100, 0)},
			u:        Usage{Feeds: id(1), EventTime: ev},
			feeds:    id(1), left: true,
		},
		{
			name:     "nothing left: the used-up fed session takes it all",
			sessions: []Data{chs(1, TypeTime, 100, 0, used(100, 0), startedAt(earlier))},
			u:        Usage{Feeds: id(1), Secs: 7, EventTime: ev},
			charges:  []Charge{c(1, 7, 0)},
			feeds:    id(1),
			after:    map[string]after{id(1): {107, 0, earlier}},
		},
		{
			name:     "no session: everything unbilled",
			u:        Usage{NewRecord: true, Secs: 7, Bytes: 9, EventTime: ev, SessionTime: 7},
			unbilled: [2]uint64{7, 9},
		},
		{
			name:     "only used-up sessions and none fed: unbilled",
			sessions: []Data{chs(1, TypeTime, 100, 0, used(100, 0), startedAt(earlier))},
			u:        Usage{NewRecord: true, Secs: 7, EventTime: ev, SessionTime: 7},
			unbilled: [2]uint64{7, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.sessions)
			b := tc.u.Charge(tc.sessions, now)
			if !slices.Equal(b.Charges, tc.charges) {
				t.Errorf("charges: got %+v, want %+v", b.Charges, tc.charges)
			}
			if got := [2]uint64{b.UnbilledSecs, b.UnbilledBytes}; got != tc.unbilled {
				t.Errorf("unbilled: got %v, want %v", got, tc.unbilled)
			}
			if b.Feeds != tc.feeds || b.Moved != tc.moved || b.Left != tc.left {
				t.Errorf("feeds %q moved %v left %v, want %q %v %v", b.Feeds, b.Moved, b.Left, tc.feeds, tc.moved, tc.left)
			}
			if !slices.EqualFunc(tc.sessions, before, func(a, b Data) bool { return a == b }) {
				t.Errorf("Charge modified its argument")
			}
			if len(b.Sessions) != len(before) {
				t.Fatalf("%d sessions after, want %d", len(b.Sessions), len(before))
			}
			for i, d := range b.Sessions {
				want := before[i]
				if a, ok := tc.after[d.ID]; ok {
					want.TimeCons, want.DataConsBytes, want.StartedAt = a.secs, a.bytes, a.started
				}
				if d != want {
					t.Errorf("session %s after: got %+v, want %+v", d.ID, d, want)
				}
			}
			// In these cases the record feeds the current session, if any.
			cur, err := Current(b.Sessions, now)
			if b.Left != (err == nil) || (b.Left && cur.ID != b.Feeds) {
				t.Errorf("left %v feeds %q, but Current gives %q, %v", b.Left, b.Feeds, cur.ID, err)
			}
		})
	}
}

// TestNASSessionStart: the NAS session began Acct-Session-Time before the
// event, in whole seconds, never before the Unix epoch.
func TestNASSessionStart(t *testing.T) {
	tests := []struct {
		event time.Time
		st    uint64
		want  time.Time
	}{
		{t0.Add(300 * time.Millisecond), 60, t0.Add(-time.Minute)},
		{time.Unix(100, 0), 100, time.Unix(0, 0)},
		{time.Unix(100, 0), 101, time.Unix(0, 0)},
		{time.Unix(100, 0), 1 << 62, time.Unix(0, 0)},
	}
	for _, tc := range tests {
		if got := nasSessionStart(tc.event, tc.st); !got.Equal(tc.want) {
			t.Errorf("nasSessionStart(%v, %d): got %v, want %v", tc.event, tc.st, got, tc.want)
		}
	}
}
