package session

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixedClock returns a clock that always reads t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestCreateSession(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(750 * time.Millisecond) // CreatedAt is truncated to the second
	tests := []struct {
		name string
		mac  string
		spec Spec
		want Data // ID and CreatedAt are checked separately
	}{
		{
			name: "time",
			mac:  "aa:bb:cc:dd:ee:ff",
			spec: Spec{Provider: "shop", Type: TypeTime, TimeSecs: 3600, DownMbits: 10, UpMbits: 2},
			want: Data{MAC: testMAC, Provider: "shop", Type: TypeTime, TimeSecs: 3600, DownMbits: 10, UpMbits: 2},
		},
		{
			name: "data",
			mac:  "AA-BB-CC-DD-EE-FF",
			spec: Spec{Type: TypeData, DataMb: 500, DownMbits: 5, UpMbits: 1},
			want: Data{MAC: testMAC, Type: TypeData, DataBytes: 500 * BytesPerMB, DownMbits: 5, UpMbits: 1},
		},
		{
			name: "data, fractional MB",
			mac:  "aabbccddeeff",
			spec: Spec{Type: TypeData, DataMb: 0.25, DownMbits: 5, UpMbits: 1},
			want: Data{MAC: testMAC, Type: TypeData, DataBytes: 250_000, DownMbits: 5, UpMbits: 1},
		},
		{
			name: "time_or_data with expiry",
			mac:  "aabb.ccdd.eeff",
			spec: Spec{Provider: "voucher", Type: TypeTimeOrData, TimeSecs: 7200, DataMb: 1024, ExpDays: ptr(uint(30)), DownMbits: 20, UpMbits: 5},
			want: Data{MAC: testMAC, Provider: "voucher", Type: TypeTimeOrData, TimeSecs: 7200, DataBytes: 1024 * BytesPerMB, ExpDays: 30, HasExpiry: true, DownMbits: 20, UpMbits: 5},
		},
		{
			name: "global speed with zero speeds",
			mac:  "aa:bb:cc:dd:ee:ff",
			spec: Spec{Type: TypeTime, TimeSecs: 60, UseGlobalSpeed: true},
			want: Data{MAC: testMAC, Type: TypeTime, TimeSecs: 60, UseGlobalSpeed: true},
		},
		{
			name: "time session ignores zero data",
			mac:  "aa:bb:cc:dd:ee:ff",
			spec: Spec{Type: TypeTime, TimeSecs: 1, DataMb: 0, DownMbits: 1, UpMbits: 1},
			want: Data{MAC: testMAC, Type: TypeTime, TimeSecs: 1, DownMbits: 1, UpMbits: 1},
		},
		{
			name: "data session ignores zero time",
			mac:  "aa:bb:cc:dd:ee:ff",
			spec: Spec{Type: TypeData, TimeSecs: 0, DataMb: 1, DownMbits: 1, UpMbits: 1},
			want: Data{MAC: testMAC, Type: TypeData, DataBytes: BytesPerMB, DownMbits: 1, UpMbits: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore()
			m := NewSessionsMgr(st, fixedClock(now))
			s, err := m.CreateSession(ctx, tc.mac, tc.spec)
			if err != nil {
				t.Fatalf("CreateSession(): %v", err)
			}
			want := tc.want
			want.ID = "aabbccddeeff-1"
			want.CreatedAt = t0
			if got := s.Data(); got != want {
				t.Errorf("ClientSession state:\n got %+v\nwant %+v", got, want)
			}
			if stored, ok := st.get(want.ID); !ok || stored != want {
				t.Errorf("stored:\n got %+v (%v)\nwant %+v", stored, ok, want)
			}
			if s.StartedAt() != nil {
				t.Errorf("StartedAt(): got %v, want nil (a new session has not started)", s.StartedAt())
			}
			if s.ExpiresAt() != nil {
				t.Errorf("ExpiresAt(): got %v, want nil (a new session has not started)", s.ExpiresAt())
			}
			// A second session of the same device gets the next sequence number.
			s2, err := m.CreateSession(ctx, tc.mac, tc.spec)
			if err != nil {
				t.Fatalf("second CreateSession(): %v", err)
			}
			if got := s2.ID(); got != "aabbccddeeff-2" {
				t.Errorf("second ID: got %q, want %q", got, "aabbccddeeff-2")
			}
		})
	}
}

func TestCreateSessionInvalid(t *testing.T) {
	ctx := context.Background()
	ok := Spec{Type: TypeTimeOrData, TimeSecs: 3600, DataMb: 100, DownMbits: 10, UpMbits: 2}
	tests := []struct {
		name   string
		mac    string
		spec   func(*Spec)
		fields []string
	}{
		{"bad MAC", "aa:bb:cc:dd:ee", nil, []string{"mac"}},
		{"empty MAC", "", nil, []string{"mac"}},
		{"mixed separators MAC", "aa:bb-cc:dd:ee:ff", nil, []string{"mac"}},
		{"unknown type", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.Type = 5 }, []string{"type"}},
		{"time session with TimeSecs 0", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.Type, s.TimeSecs = TypeTime, 0 }, []string{"time_secs"}},
		{"data session with DataMb 0", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.Type, s.DataMb = TypeData, 0 }, []string{"data_mb"}},
		{"data session with DataMb below one byte", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.Type, s.DataMb = TypeData, 0.0000004 }, []string{"data_mb"}},
		{"data session with negative DataMb", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.Type, s.DataMb = TypeData, -1 }, []string{"data_mb"}},
		{"data session with NaN DataMb", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.Type, s.DataMb = TypeData, math.NaN() }, []string{"data_mb"}},
		{"time session with negative DataMb", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.Type, s.DataMb = TypeTime, -1 }, []string{"data_mb"}},
		{"time_or_data missing time", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.TimeSecs = 0 }, []string{"time_secs"}},
		{"time_or_data missing data", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.DataMb = 0 }, []string{"data_mb"}},
		{"time_or_data missing both", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.TimeSecs, s.DataMb = 0, 0 }, []string{"time_secs", "data_mb"}},
		{"speeds 0 without UseGlobalSpeed", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.DownMbits, s.UpMbits = 0, 0 }, []string{"down_mbits", "up_mbits"}},
		{"down speed 0", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.DownMbits = 0 }, []string{"down_mbits"}},
		{"up speed 0", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.UpMbits = 0 }, []string{"up_mbits"}},
		{"down speed too large", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.DownMbits = math.MaxUint32 + 1 }, []string{"down_mbits"}},
		{"ExpDays pointing to 0", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.ExpDays = ptr(uint(0)) }, []string{"exp_days"}},
		{"ExpDays too large", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.ExpDays = ptr(uint(math.MaxUint32 + 1)) }, []string{"exp_days"}},
		{"provider too long", "aa:bb:cc:dd:ee:ff", func(s *Spec) { s.Provider = strings.Repeat("p", 129) }, []string{"provider"}},
		{
			"several bad fields at once, each reported once",
			"not-a-mac",
			func(s *Spec) {
				s.TimeSecs, s.DataMb = 0, -1
				s.ExpDays = ptr(uint(0))
				s.DownMbits, s.UpMbits = 0, 0
			},
			[]string{"mac", "time_secs", "data_mb", "exp_days", "down_mbits", "up_mbits"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore()
			m := NewSessionsMgr(st, fixedClock(t0))
			spec := ok
			if tc.spec != nil {
				tc.spec(&spec)
			}
			s, err := m.CreateSession(ctx, tc.mac, spec)
			if err == nil {
				t.Fatalf("CreateSession(): got %+v, want errors for %v", s.Data(), tc.fields)
			}
			if s != nil {
				t.Errorf("CreateSession(): got a session with the error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateSession(): %v does not wrap ErrInvalid", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("CreateSession(): %v holds no *FieldError", err)
			}
			if got := fieldsOf(t, err); !sameFields(got, tc.fields) {
				t.Errorf("CreateSession(): fields got %v, want %v", got, tc.fields)
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("CreateSession(): message %q does not name %q", err, f)
				}
			}
			if got := st.callsOf("CreateSession"); got != 0 {
				t.Errorf("store CreateSession calls: got %d, want 0", got)
			}
		})
	}
}

func TestCreateSessionStoreError(t *testing.T) {
	st := newFakeStore()
	boom := errors.New("boom")
	st.failErr = boom
	m := NewSessionsMgr(st, fixedClock(t0))
	_, err := m.CreateSession(context.Background(), "aa:bb:cc:dd:ee:ff", Spec{Type: TypeTime, TimeSecs: 1, UseGlobalSpeed: true})
	if !errors.Is(err, boom) {
		t.Errorf("CreateSession(): got %v, want it to wrap the store's error", err)
	}
}

func TestCurrSession(t *testing.T) {
	ctx := context.Background()
	noTime := func(d *Data) { d.TimeCons = d.TimeSecs }
	noData := func(d *Data) { d.Type, d.DataConsBytes = TypeData, d.DataBytes }
	expiring := func(d *Data) { d.HasExpiry, d.ExpDays = true, 1 } // with StartedAt t0: expires t0+24h
	id := func(seq uint64) string { return NewID(testMAC, seq) }
	tests := []struct {
		name     string
		sessions []Data // stored in this order
		mac      string
		now      time.Time
		wantID   string
		wantErr  error
	}{
		{"no sessions", nil, "aa:bb:cc:dd:ee:ff", t0, "", ErrNoSession},
		{"one session", []Data{cur(1, t0, time.Time{})}, "aa:bb:cc:dd:ee:ff", t0, id(1), nil},
		{"any MAC spelling", []Data{cur(1, t0, time.Time{})}, "AABB.CCDD.EEFF", t0, id(1), nil},
		{
			"started beats older unstarted",
			[]Data{cur(1, t0, time.Time{}), cur(2, t0.Add(time.Hour), t0.Add(2*time.Hour))},
			"aa:bb:cc:dd:ee:ff", t0.Add(3 * time.Hour), id(2), nil,
		},
		{
			"oldest created among unstarted, stored out of order",
			[]Data{cur(3, t0.Add(2*time.Hour), time.Time{}), cur(2, t0, time.Time{}), cur(10, t0, time.Time{})},
			"aa:bb:cc:dd:ee:ff", t0.Add(3 * time.Hour), id(2), nil,
		},
		{
			"used-up session skipped",
			[]Data{cur(1, t0, t0, noTime), cur(2, t0.Add(time.Hour), time.Time{})},
			"aa:bb:cc:dd:ee:ff", t0.Add(3 * time.Hour), id(2), nil,
		},
		{
			"1 second before expiry: still current",
			[]Data{cur(1, t0, t0, expiring), cur(2, t0.Add(time.Hour), time.Time{})},
			"aa:bb:cc:dd:ee:ff", t0.Add(24*time.Hour - time.Second), id(1), nil,
		},
		{
			"at expiry: the next one",
			[]Data{cur(1, t0, t0, expiring), cur(2, t0.Add(time.Hour), time.Time{})},
			"aa:bb:cc:dd:ee:ff", t0.Add(24 * time.Hour), id(2), nil,
		},
		{
			"at expiry, nothing else",
			[]Data{cur(1, t0, t0, expiring)},
			"aa:bb:cc:dd:ee:ff", t0.Add(24 * time.Hour), "", ErrExpired,
		},
		{
			"all used up: reason of the newest",
			[]Data{cur(2, t0.Add(time.Hour), time.Time{}, noData), cur(1, t0, time.Time{}, noTime)},
			"aa:bb:cc:dd:ee:ff", t0.Add(3 * time.Hour), "", ErrDataExhausted,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore()
			for _, d := range tc.sessions {
				st.put(d)
			}
			m := NewSessionsMgr(st, fixedClock(tc.now))
			s, err := m.CurrSession(ctx, tc.mac)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("CurrSession(): error got %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if s != nil {
					t.Errorf("CurrSession(): got a session with the error")
				}
				return
			}
			if got := s.ID(); got != tc.wantID {
				t.Errorf("CurrSession(): ID got %q, want %q", got, tc.wantID)
			}
			if stored, _ := st.get(tc.wantID); s.Data() != stored {
				t.Errorf("CurrSession(): state got %+v, want the stored %+v", s.Data(), stored)
			}
		})
	}
}

func TestCurrSessionBadMAC(t *testing.T) {
	for _, mac := range []string{"", "zz:zz:zz:zz:zz:zz", "aa:bb:cc"} {
		t.Run(mac, func(t *testing.T) {
			st := newFakeStore()
			m := NewSessionsMgr(st, fixedClock(t0))
			_, err := m.CurrSession(context.Background(), mac)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "mac" {
				t.Errorf("CurrSession(%q): got %v, want a *FieldError for mac", mac, err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("CurrSession(%q): %v does not wrap ErrInvalid", mac, err)
			}
			if got := len(st.calls); got != 0 {
				t.Errorf("store calls: got %v, want none", st.calls)
			}
		})
	}
}

func TestGetSession(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	d := baseClientData()
	st.put(d)
	m := NewSessionsMgr(st, fixedClock(t0))
	s, err := m.GetSession(ctx, d.ID)
	if err != nil {
		t.Fatalf("GetSession(%q): %v", d.ID, err)
	}
	if got := s.Data(); got != d {
		t.Errorf("GetSession(%q):\n got %+v\nwant %+v", d.ID, got, d)
	}
}

func TestGetSessionMalformedID(t *testing.T) {
	ctx := context.Background()
	for _, id := range []string{"", "x", "aabbccddeeff", "AABBCCDDEEFF-1", "aabbccddeeff-0", "aabbccddeeff-01", "aa:bb:cc:dd:ee:ff-1"} {
		t.Run(id, func(t *testing.T) {
			st := newFakeStore()
			m := NewSessionsMgr(st, fixedClock(t0))
			s, err := m.GetSession(ctx, id)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("GetSession(%q): got %v, want an error wrapping ErrInvalid", id, err)
			}
			if s != nil {
				t.Errorf("GetSession(%q): got a session with the error", id)
			}
			if got := len(st.calls); got != 0 {
				t.Errorf("store calls: got %v, want none", st.calls)
			}
			if err := m.DeleteSession(ctx, id); !errors.Is(err, ErrInvalid) {
				t.Errorf("DeleteSession(%q): got %v, want an error wrapping ErrInvalid", id, err)
			}
			if got := len(st.calls); got != 0 {
				t.Errorf("store calls: got %v, want none", st.calls)
			}
		})
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	other := func(d *Data) { d.MAC, d.ID = "00:11:22:33:44:55", NewID("00:11:22:33:44:55", 1) }
	id := func(seq uint64) string { return NewID(testMAC, seq) }
	tests := []struct {
		name     string
		sessions []Data // stored in this order
		mac      string
		want     []string
	}{
		{"none", nil, "aa:bb:cc:dd:ee:ff", []string{}},
		{"only another device's", []Data{cur(1, t0, time.Time{}, other)}, "aa:bb:cc:dd:ee:ff", []string{}},
		{"one", []Data{cur(1, t0, time.Time{}), cur(1, t0, time.Time{}, other)}, "aa-bb-cc-dd-ee-ff", []string{id(1)}},
		{
			"creation order, whatever the store's order",
			[]Data{
				cur(3, t0.Add(2*time.Hour), time.Time{}),
				cur(10, t0, time.Time{}),
				cur(1, t0.Add(-time.Hour), time.Time{}),
				cur(2, t0, time.Time{}),
			},
			"aa:bb:cc:dd:ee:ff",
			[]string{id(1), id(2), id(3), id(10)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore()
			for _, d := range tc.sessions {
				st.put(d)
			}
			m := NewSessionsMgr(st, fixedClock(t0))
			got, err := m.Sessions(ctx, tc.mac)
			if err != nil {
				t.Fatalf("Sessions(): %v", err)
			}
			ids := []string{}
			for _, s := range got {
				ids = append(ids, s.ID())
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Sessions(): got %v, want %v", ids, tc.want)
			}
		})
	}
}

func TestSessionsCreatedInOrder(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	clock := t0
	m := NewSessionsMgr(st, func() time.Time { return clock })
	var want []string
	for i := range 12 {
		// Every session created within the same second: order comes from the ID.
		clock = t0.Add(time.Duration(i) * time.Millisecond)
		s, err := m.CreateSession(ctx, "aa:bb:cc:dd:ee:ff", Spec{Type: TypeTime, TimeSecs: 60, UseGlobalSpeed: true})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, s.ID())
	}
	got, err := m.Sessions(ctx, "aa:bb:cc:dd:ee:ff")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID())
	}
	if !slices.Equal(ids, want) {
		t.Errorf("Sessions(): got %v, want %v", ids, want)
	}
	// The first-created one is current.
	cs, err := m.CurrSession(ctx, "aa:bb:cc:dd:ee:ff")
	if err != nil {
		t.Fatal(err)
	}
	if cs.ID() != want[0] {
		t.Errorf("CurrSession(): got %q, want %q", cs.ID(), want[0])
	}
}

func TestSessionsBadMAC(t *testing.T) {
	st := newFakeStore()
	m := NewSessionsMgr(st, fixedClock(t0))
	_, err := m.Sessions(context.Background(), "nope")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "mac" {
		t.Errorf("Sessions(): got %v, want a *FieldError for mac", err)
	}
}

func TestDeleteSession(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	m := NewSessionsMgr(st, fixedClock(t0))
	spec := Spec{Type: TypeTime, TimeSecs: 60, UseGlobalSpeed: true}
	a, err := m.CreateSession(ctx, "aa:bb:cc:dd:ee:ff", spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.CreateSession(ctx, "aa:bb:cc:dd:ee:ff", spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteSession(ctx, a.ID()); err != nil {
		t.Fatalf("DeleteSession(%q): %v", a.ID(), err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"GetSession of the deleted", func() error { _, err := m.GetSession(ctx, a.ID()); return err }(), ErrNotFound},
		{"GetSession of the other", func() error { _, err := m.GetSession(ctx, b.ID()); return err }(), nil},
		{"DeleteSession again", m.DeleteSession(ctx, a.ID()), ErrNotFound},
		{"Reload of the deleted", a.Reload(ctx), ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) || (tc.err == nil) != (tc.want == nil) {
				t.Errorf("got %v, want %v", tc.err, tc.want)
			}
		})
	}
	all, err := m.Sessions(ctx, "aa:bb:cc:dd:ee:ff")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID() != b.ID() {
		t.Errorf("Sessions() after delete: got %d sessions, want only %q", len(all), b.ID())
	}
	cs, err := m.CurrSession(ctx, "aa:bb:cc:dd:ee:ff")
	if err != nil || cs.ID() != b.ID() {
		t.Errorf("CurrSession() after delete: got %v, %v; want %q", cs, err, b.ID())
	}
}
