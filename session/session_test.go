package session

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is the fixed reference time of the package's tests.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const testMAC = MAC("aa:bb:cc:dd:ee:ff")

// validData returns a valid, unstarted session of type typ without expiry.
func validData(typ Type) Data {
	return Data{
		ID:        NewID(testMAC, 1),
		MAC:       testMAC,
		Provider:  "shop",
		Type:      typ,
		TimeSecs:  3600,
		DataBytes: 100 * BytesPerMB,
		CreatedAt: t0,
		DownMbits: 10,
		UpMbits:   2,
	}
}

// fieldsOf returns the Field of every *FieldError inside err, in order,
// looking through errors.Join and %w wrapping.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case nil:
		case *FieldError:
			out = append(out, x.Field)
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

// sameFields reports whether got and want hold the same field names,
// ignoring order.
func sameFields(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func TestTypeMethods(t *testing.T) {
	tests := []struct {
		name      string
		typ       Type
		str       string
		valid     bool
		limitTime bool
		limitData bool
	}{
		{"time", TypeTime, "time", true, true, false},
		{"data", TypeData, "data", true, false, true},
		{"time_or_data", TypeTimeOrData, "time_or_data", true, true, true},
		{"unknown 3", Type(3), "type(3)", false, false, false},
		{"unknown 255", Type(255), "type(255)", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.typ.String(); got != tc.str {
				t.Errorf("String(): got %q, want %q", got, tc.str)
			}
			if got := tc.typ.Valid(); got != tc.valid {
				t.Errorf("Valid(): got %v, want %v", got, tc.valid)
			}
			if got := tc.typ.LimitsTime(); got != tc.limitTime {
				t.Errorf("LimitsTime(): got %v, want %v", got, tc.limitTime)
			}
			if got := tc.typ.LimitsData(); got != tc.limitData {
				t.Errorf("LimitsData(): got %v, want %v", got, tc.limitData)
			}
		})
	}
}

func TestTypeNumbersMatchSDK(t *testing.T) {
	tests := []struct {
		name string
		typ  Type
		want uint8
	}{
		{"time", TypeTime, 0},
		{"data", TypeData, 1},
		{"time_or_data", TypeTimeOrData, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := uint8(tc.typ); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestParseType(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Type
	}{
		{"time name", "time", TypeTime},
		{"data name", "data", TypeData},
		{"time_or_data name", "time_or_data", TypeTimeOrData},
		{"dashed name", "time-or-data", TypeTimeOrData},
		{"joined name", "timeordata", TypeTimeOrData},
		{"upper case", "TIME", TypeTime},
		{"mixed case", "Time_Or_Data", TypeTimeOrData},
		{"surrounding space", "  data\t", TypeData},
		{"number 0", "0", TypeTime},
		{"number 1", "1", TypeData},
		{"number 2", "2", TypeTimeOrData},
		{"number with space", " 2 ", TypeTimeOrData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseType(tc.in)
			if err != nil {
				t.Fatalf("ParseType(%q): unexpected error %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseType(%q): got %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseTypeRejects(t *testing.T) {
	for _, in := range []string{"", " ", "3", "-1", "02", "0x1", "255", "hours", "time or data", "megabytes", "type(0)"} {
		t.Run(in, func(t *testing.T) {
			_, err := ParseType(in)
			if err == nil {
				t.Fatalf("ParseType(%q): got no error", in)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseType(%q): error %v (%T) is not a *FieldError", in, err, err)
			}
			if fe.Field != "type" {
				t.Errorf("ParseType(%q): Field got %q, want %q", in, fe.Field, "type")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseType(%q): error does not wrap ErrInvalid", in)
			}
			if !strings.Contains(err.Error(), "type") {
				t.Errorf("ParseType(%q): message %q does not name the field", in, err)
			}
		})
	}
}

func TestFieldError(t *testing.T) {
	err := error(&FieldError{Field: "time_secs", Problem: "must be positive"})
	if got, want := err.Error(), "invalid time_secs: must be positive"; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(ErrInvalid): got false, want true")
	}
}

func TestRemaining(t *testing.T) {
	tests := []struct {
		name                    string
		timeSecs, timeCons      uint64
		dataBytes, dataCons     uint64
		wantTime, wantDataBytes uint64
	}{
		{"nothing used", 3600, 0, 5 * BytesPerMB, 0, 3600, 5 * BytesPerMB},
		{"partly used", 3600, 600, 5 * BytesPerMB, 1, 3000, 5*BytesPerMB - 1},
		{"exactly used", 3600, 3600, 5 * BytesPerMB, 5 * BytesPerMB, 0, 0},
		{"one over", 3600, 3601, 5 * BytesPerMB, 5*BytesPerMB + 1, 0, 0},
		{"far over, no wrap", 1, math.MaxUint64, 1, math.MaxUint64, 0, 0},
		{"zero allocation", 0, 0, 0, 0, 0, 0},
		{"zero allocation, consumption", 0, 10, 0, 10, 0, 0},
		{"one left", 10, 9, 10, 9, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Data{TimeSecs: tc.timeSecs, TimeCons: tc.timeCons, DataBytes: tc.dataBytes, DataConsBytes: tc.dataCons}
			if got := d.RemainingTime(); got != tc.wantTime {
				t.Errorf("RemainingTime(): got %d, want %d", got, tc.wantTime)
			}
			if got := d.RemainingDataBytes(); got != tc.wantDataBytes {
				t.Errorf("RemainingDataBytes(): got %d, want %d", got, tc.wantDataBytes)
			}
		})
	}
}

func TestExpiresAt(t *testing.T) {
	tests := []struct {
		name      string
		started   time.Time
		hasExpiry bool
		expDays   uint32
		want      time.Time
		wantOK    bool
	}{
		{"not started, no expiry", time.Time{}, false, 0, time.Time{}, false},
		{"not started, with expiry", time.Time{}, true, 3, time.Time{}, false},
		{"started, no expiry", t0, false, 0, time.Time{}, false},
		{"started, ExpDays set without HasExpiry", t0, false, 5, time.Time{}, false},
		{"started, 1 day", t0, true, 1, t0.Add(24 * time.Hour), true},
		{"started, 30 days", t0, true, 30, t0.Add(30 * 24 * time.Hour), true},
		{"started, 365 days", t0, true, 365, t0.Add(365 * 24 * time.Hour), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := validData(TypeTime)
			d.StartedAt, d.HasExpiry, d.ExpDays = tc.started, tc.hasExpiry, tc.expDays
			got, ok := d.ExpiresAt()
			if ok != tc.wantOK {
				t.Fatalf("ExpiresAt(): ok got %v, want %v", ok, tc.wantOK)
			}
			if !got.Equal(tc.want) {
				t.Errorf("ExpiresAt(): got %v, want %v", got, tc.want)
			}
			if got := d.Started(); got != !tc.started.IsZero() {
				t.Errorf("Started(): got %v, want %v", got, !tc.started.IsZero())
			}
		})
	}
}

func TestExpiredBoundaries(t *testing.T) {
	exp := t0.Add(24 * time.Hour)
	tests := []struct {
		name    string
		started time.Time
		expiry  bool
		now     time.Time
		want    bool
	}{
		{"long before", t0, true, t0, false},
		{"1 second before", t0, true, exp.Add(-time.Second), false},
		{"1 nanosecond before", t0, true, exp.Add(-time.Nanosecond), false},
		{"exactly at", t0, true, exp, true},
		{"exactly at, other zone", t0, true, exp.In(time.FixedZone("UTC+5", 5*3600)), true},
		{"1 second after", t0, true, exp.Add(time.Second), true},
		{"years after", t0, true, exp.AddDate(5, 0, 0), true},
		{"not started never expires", time.Time{}, true, exp.AddDate(5, 0, 0), false},
		{"no expiry never expires", t0, false, exp.AddDate(5, 0, 0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := validData(TypeTime)
			d.StartedAt, d.HasExpiry, d.ExpDays = tc.started, tc.expiry, 1
			if got := d.Expired(tc.now); got != tc.want {
				t.Errorf("Expired(%v): got %v, want %v", tc.now, got, tc.want)
			}
			wantStatus := error(nil)
			if tc.want {
				wantStatus = ErrExpired
			}
			if got := d.Status(tc.now); got != wantStatus {
				t.Errorf("Status(%v): got %v, want %v", tc.now, got, wantStatus)
			}
		})
	}
}

// TestExpiresAtLargeExpDays: Validate and SetExpDays accept ExpDays up to
// MaxUint32, but ExpDays × 24h overflows time.Duration (int64 ns, ≈106751
// days) above 106751 days, which puts the expiry before the start: the
// session is expired at once and Limits tells the NAS a timeout of 0.
func TestExpiresAtLargeExpDays(t *testing.T) {
	tests := []struct {
		name    string
		expDays uint32
	}{
		{"largest day count a Duration holds", 106751},
		{"first day count that overflows a Duration", 106752},
		{"200000 days", 200000},
		{"max uint32", math.MaxUint32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := validData(TypeTime)
			d.StartedAt, d.HasExpiry, d.ExpDays = t0, true, tc.expDays
			if err := d.Validate(); err != nil {
				t.Fatalf("Validate(): %v (the rule accepts this value, so the model must handle it)", err)
			}
			now := t0.Add(time.Hour)
			exp, ok := d.ExpiresAt()
			if !ok || !exp.After(now) {
				t.Errorf("ExpiresAt(): got %v, %v; want a time after %v", exp, ok, now)
			}
			if d.Expired(now) {
				t.Errorf("Expired(start + 1h): got true, want false")
			}
			if err := d.Status(now); err != nil {
				t.Errorf("Status(start + 1h): got %v, want nil", err)
			}
			l := d.Limits(now)
			if l.SessionTimeout != 3600 || !l.HasTimeout {
				t.Errorf("Limits(start + 1h).SessionTimeout: got %d (%v), want 3600 (true)", l.SessionTimeout, l.HasTimeout)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	now := t0.Add(time.Hour)
	type mod func(*Data)
	withTime := func(secs, cons uint64) mod { return func(d *Data) { d.TimeSecs, d.TimeCons = secs, cons } }
	withData := func(b, cons uint64) mod { return func(d *Data) { d.DataBytes, d.DataConsBytes = b, cons } }
	expired := func(d *Data) { d.StartedAt, d.HasExpiry, d.ExpDays = t0.Add(-48*time.Hour), true, 1 }
	started := func(d *Data) { d.StartedAt, d.HasExpiry, d.ExpDays = t0, true, 1 }
	tests := []struct {
		name string
		typ  Type
		mods []mod
		want error
	}{
		// time
		{"time: fresh", TypeTime, nil, nil},
		{"time: started, before expiry", TypeTime, []mod{started}, nil},
		{"time: one second left", TypeTime, []mod{withTime(3600, 3599)}, nil},
		{"time: used up", TypeTime, []mod{withTime(3600, 3600)}, ErrTimeExhausted},
		{"time: overused", TypeTime, []mod{withTime(3600, 4000)}, ErrTimeExhausted},
		{"time: zero allocation is exhausted, not unlimited", TypeTime, []mod{withTime(0, 0)}, ErrTimeExhausted},
		{"time: data does not limit", TypeTime, []mod{withData(0, 0)}, nil},
		{"time: data overuse does not limit", TypeTime, []mod{withData(1, 5)}, nil},
		// data
		{"data: fresh", TypeData, nil, nil},
		{"data: one byte left", TypeData, []mod{withData(100, 99)}, nil},
		{"data: used up", TypeData, []mod{withData(100, 100)}, ErrDataExhausted},
		{"data: overused", TypeData, []mod{withData(100, 1000)}, ErrDataExhausted},
		{"data: zero allocation is exhausted, not unlimited", TypeData, []mod{withData(0, 0)}, ErrDataExhausted},
		{"data: time does not limit", TypeData, []mod{withTime(0, 0)}, nil},
		{"data: time overuse does not limit", TypeData, []mod{withTime(10, 50)}, nil},
		// time_or_data
		{"time_or_data: both remain", TypeTimeOrData, nil, nil},
		{"time_or_data: data ends while time remains", TypeTimeOrData, []mod{withData(100, 100)}, ErrDataExhausted},
		{"time_or_data: time ends while data remains", TypeTimeOrData, []mod{withTime(3600, 3600)}, ErrTimeExhausted},
		{"time_or_data: zero time allocation", TypeTimeOrData, []mod{withTime(0, 0)}, ErrTimeExhausted},
		{"time_or_data: zero data allocation", TypeTimeOrData, []mod{withData(0, 0)}, ErrDataExhausted},
		{"time_or_data: both end, time reported", TypeTimeOrData, []mod{withTime(1, 1), withData(1, 1)}, ErrTimeExhausted},
		// expiry
		{"time: expired", TypeTime, []mod{expired}, ErrExpired},
		{"data: expired", TypeData, []mod{expired}, ErrExpired},
		{"time_or_data: expired", TypeTimeOrData, []mod{expired}, ErrExpired},
		{"expired beats time exhausted", TypeTime, []mod{expired, withTime(10, 10)}, ErrExpired},
		{"expired beats data exhausted", TypeData, []mod{expired, withData(10, 10)}, ErrExpired},
		{"expired beats both exhausted", TypeTimeOrData, []mod{expired, withTime(0, 0), withData(0, 0)}, ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := validData(tc.typ)
			for _, m := range tc.mods {
				m(&d)
			}
			if got := d.Status(now); got != tc.want {
				t.Errorf("Status(): got %v, want %v", got, tc.want)
			}
			if got := d.Available(now); got != (tc.want == nil) {
				t.Errorf("Available(): got %v, want %v", got, tc.want == nil)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	type mod func(*Data)
	tests := []struct {
		name string
		typ  Type
		mod  mod
		want []string // fields reported; nil: valid
	}{
		{"valid time", TypeTime, nil, nil},
		{"valid data", TypeData, nil, nil},
		{"valid time_or_data", TypeTimeOrData, nil, nil},
		{"valid with expiry", TypeTime, func(d *Data) { d.HasExpiry, d.ExpDays = true, 30 }, nil},
		{"valid global speed with zero speeds", TypeTime, func(d *Data) { d.UseGlobalSpeed, d.DownMbits, d.UpMbits = true, 0, 0 }, nil},
		{"valid data session with zero time", TypeData, func(d *Data) { d.TimeSecs = 0 }, nil},
		{"valid time session with zero data", TypeTime, func(d *Data) { d.DataBytes = 0 }, nil},
		{"valid consumption above allocation", TypeTimeOrData, func(d *Data) { d.TimeCons, d.DataConsBytes = 1e6, 1e12 }, nil},
		{"valid ExpDays ignored without HasExpiry", TypeTime, func(d *Data) { d.ExpDays = 0 }, nil},
		{"valid provider of 128 bytes", TypeTime, func(d *Data) { d.Provider = strings.Repeat("p", 128) }, nil},
		{"valid empty provider", TypeTime, func(d *Data) { d.Provider = "" }, nil},
		{"valid counters at max", TypeTimeOrData, func(d *Data) {
			d.TimeSecs, d.DataBytes, d.TimeCons, d.DataConsBytes = maxCounter, maxCounter, maxCounter, maxCounter
		}, nil},

		{"empty mac", TypeTime, func(d *Data) { d.MAC = "" }, []string{"mac"}},
		{"upper-case mac", TypeTime, func(d *Data) { d.MAC = "AA:BB:CC:DD:EE:FF" }, []string{"mac"}},
		{"dashed mac", TypeTime, func(d *Data) { d.MAC = "aa-bb-cc-dd-ee-ff" }, []string{"mac"}},
		{"bare mac", TypeTime, func(d *Data) { d.MAC = "aabbccddeeff" }, []string{"mac"}},
		{"garbage mac", TypeTime, func(d *Data) { d.MAC = "zz:zz:zz:zz:zz:zz" }, []string{"mac"}},
		{"unknown type", Type(3), nil, []string{"type"}},
		{"time session without time", TypeTime, func(d *Data) { d.TimeSecs = 0 }, []string{"time_secs"}},
		{"data session without data", TypeData, func(d *Data) { d.DataBytes = 0 }, []string{"data_mb"}},
		{"time_or_data without time", TypeTimeOrData, func(d *Data) { d.TimeSecs = 0 }, []string{"time_secs"}},
		{"time_or_data without data", TypeTimeOrData, func(d *Data) { d.DataBytes = 0 }, []string{"data_mb"}},
		{"time_or_data without either", TypeTimeOrData, func(d *Data) { d.TimeSecs, d.DataBytes = 0, 0 }, []string{"time_secs", "data_mb"}},
		{"time_secs too large", TypeTime, func(d *Data) { d.TimeSecs = maxCounter + 1 }, []string{"time_secs"}},
		{"data too large", TypeData, func(d *Data) { d.DataBytes = math.MaxUint64 }, []string{"data_mb"}},
		{"time_cons too large", TypeTime, func(d *Data) { d.TimeCons = maxCounter + 1 }, []string{"time_cons"}},
		{"data_cons too large", TypeData, func(d *Data) { d.DataConsBytes = math.MaxUint64 }, []string{"data_cons"}},
		{"exp_days zero with expiry", TypeTime, func(d *Data) { d.HasExpiry, d.ExpDays = true, 0 }, []string{"exp_days"}},
		{"down speed zero", TypeTime, func(d *Data) { d.DownMbits = 0 }, []string{"down_mbits"}},
		{"up speed zero", TypeTime, func(d *Data) { d.UpMbits = 0 }, []string{"up_mbits"}},
		{"both speeds zero", TypeTime, func(d *Data) { d.DownMbits, d.UpMbits = 0, 0 }, []string{"down_mbits", "up_mbits"}},
		{"provider too long", TypeTime, func(d *Data) { d.Provider = strings.Repeat("p", 129) }, []string{"provider"}},
		{"several problems at once", TypeTimeOrData, func(d *Data) {
			d.MAC = "bad"
			d.TimeSecs, d.DataBytes = 0, 0
			d.HasExpiry, d.ExpDays = true, 0
			d.DownMbits, d.UpMbits = 0, 0
			d.Provider = strings.Repeat("p", 200)
		}, []string{"mac", "time_secs", "data_mb", "exp_days", "down_mbits", "up_mbits", "provider"}},
		{"bad type and mac", Type(9), func(d *Data) { d.MAC = "" }, []string{"mac", "type"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := validData(tc.typ)
			if tc.mod != nil {
				tc.mod(&d)
			}
			err := d.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate(): got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(): got nil, want errors for %v", tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate(): %v does not wrap ErrInvalid", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate(): %v holds no *FieldError", err)
			}
			if fe.Field != tc.want[0] {
				t.Errorf("Validate(): first field got %q, want %q", fe.Field, tc.want[0])
			}
			if got := fieldsOf(t, err); !sameFields(got, tc.want) {
				t.Errorf("Validate(): fields got %v, want %v", got, tc.want)
			}
			for _, f := range tc.want {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("Validate(): message %q does not name %q", err, f)
				}
			}
		})
	}
}

func TestLimits(t *testing.T) {
	now := t0.Add(time.Hour)
	type in struct {
		typ                 Type
		timeSecs, timeCons  uint64
		dataBytes, dataCons uint64
		started             time.Time
		expDays             uint32 // 0: no expiry
		down, up            uint32
		global              bool
	}
	tests := []struct {
		name string
		in   in
		now  time.Time
		want Limits
	}{
		{
			name: "time, no expiry",
			in:   in{typ: TypeTime, timeSecs: 3600, timeCons: 600, down: 10, up: 2},
			now:  now,
			want: Limits{SessionTimeout: 3000, HasTimeout: true, DownMbits: 10, UpMbits: 2},
		},
		{
			name: "data, no expiry: no timeout",
			in:   in{typ: TypeData, dataBytes: 5 * BytesPerMB, dataCons: BytesPerMB, down: 10, up: 2},
			now:  now,
			want: Limits{DataBytes: 4 * BytesPerMB, HasData: true, DownMbits: 10, UpMbits: 2},
		},
		{
			name: "time_or_data, no expiry",
			in:   in{typ: TypeTimeOrData, timeSecs: 3600, timeCons: 100, dataBytes: 5, dataCons: 2, down: 1, up: 1},
			now:  now,
			want: Limits{SessionTimeout: 3500, HasTimeout: true, DataBytes: 3, HasData: true, DownMbits: 1, UpMbits: 1},
		},
		{
			name: "global speed",
			in:   in{typ: TypeTime, timeSecs: 60, global: true},
			now:  now,
			want: Limits{SessionTimeout: 60, HasTimeout: true, UseGlobalSpeed: true},
		},
		{
			name: "time: remaining time below time to expiry",
			in:   in{typ: TypeTime, timeSecs: 3600, started: t0, expDays: 30},
			now:  now,
			want: Limits{SessionTimeout: 3600, HasTimeout: true, ExpiresAt: t0.Add(30 * 24 * time.Hour)},
		},
		{
			name: "time: expiry sooner than remaining time",
			in:   in{typ: TypeTime, timeSecs: 3600, started: t0, expDays: 1},
			now:  t0.Add(24*time.Hour - 100*time.Second),
			want: Limits{SessionTimeout: 100, HasTimeout: true, ExpiresAt: t0.Add(24 * time.Hour)},
		},
		{
			name: "time: fractional seconds to expiry round down",
			in:   in{typ: TypeTime, timeSecs: 3600, started: t0, expDays: 1},
			now:  t0.Add(24*time.Hour - 100*time.Second - 900*time.Millisecond),
			want: Limits{SessionTimeout: 100, HasTimeout: true, ExpiresAt: t0.Add(24 * time.Hour)},
		},
		{
			name: "data with expiry: timeout is time to expiry",
			in:   in{typ: TypeData, dataBytes: 7, started: t0, expDays: 1},
			now:  now,
			want: Limits{SessionTimeout: 23 * 3600, HasTimeout: true, DataBytes: 7, HasData: true, ExpiresAt: t0.Add(24 * time.Hour)},
		},
		{
			name: "data not started with expiry: counted from now",
			in:   in{typ: TypeData, dataBytes: 7, expDays: 2},
			now:  now,
			want: Limits{SessionTimeout: 2 * 24 * 3600, HasTimeout: true, DataBytes: 7, HasData: true, ExpiresAt: now.Add(48 * time.Hour)},
		},
		{
			name: "time not started with expiry: remaining time is smaller",
			in:   in{typ: TypeTime, timeSecs: 3600, expDays: 1},
			now:  now,
			want: Limits{SessionTimeout: 3600, HasTimeout: true, ExpiresAt: now.Add(24 * time.Hour)},
		},
		{
			name: "expired: timeout 0",
			in:   in{typ: TypeTime, timeSecs: 3600, started: t0, expDays: 1},
			now:  t0.Add(25 * time.Hour),
			want: Limits{SessionTimeout: 0, HasTimeout: true, ExpiresAt: t0.Add(24 * time.Hour)},
		},
		{
			name: "exactly at expiry: timeout 0",
			in:   in{typ: TypeTime, timeSecs: 3600, started: t0, expDays: 1},
			now:  t0.Add(24 * time.Hour),
			want: Limits{SessionTimeout: 0, HasTimeout: true, ExpiresAt: t0.Add(24 * time.Hour)},
		},
		{
			name: "data expired: timeout 0",
			in:   in{typ: TypeData, dataBytes: 7, started: t0, expDays: 1},
			now:  t0.Add(48 * time.Hour),
			want: Limits{SessionTimeout: 0, HasTimeout: true, DataBytes: 7, HasData: true, ExpiresAt: t0.Add(24 * time.Hour)},
		},
		{
			name: "time exhausted: timeout 0",
			in:   in{typ: TypeTime, timeSecs: 3600, timeCons: 5000, started: t0, expDays: 1},
			now:  now,
			want: Limits{SessionTimeout: 0, HasTimeout: true, ExpiresAt: t0.Add(24 * time.Hour)},
		},
		{
			name: "data exhausted: data 0",
			in:   in{typ: TypeData, dataBytes: 7, dataCons: 70},
			now:  now,
			want: Limits{DataBytes: 0, HasData: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := validData(tc.in.typ)
			d.TimeSecs, d.TimeCons = tc.in.timeSecs, tc.in.timeCons
			d.DataBytes, d.DataConsBytes = tc.in.dataBytes, tc.in.dataCons
			d.StartedAt = tc.in.started
			d.ExpDays, d.HasExpiry = tc.in.expDays, tc.in.expDays > 0
			d.DownMbits, d.UpMbits, d.UseGlobalSpeed = tc.in.down, tc.in.up, tc.in.global
			got := d.Limits(tc.now)
			if got.SessionTimeout != tc.want.SessionTimeout || got.HasTimeout != tc.want.HasTimeout {
				t.Errorf("SessionTimeout: got %d (%v), want %d (%v)", got.SessionTimeout, got.HasTimeout, tc.want.SessionTimeout, tc.want.HasTimeout)
			}
			if got.DataBytes != tc.want.DataBytes || got.HasData != tc.want.HasData {
				t.Errorf("DataBytes: got %d (%v), want %d (%v)", got.DataBytes, got.HasData, tc.want.DataBytes, tc.want.HasData)
			}
			if !got.ExpiresAt.Equal(tc.want.ExpiresAt) {
				t.Errorf("ExpiresAt: got %v, want %v", got.ExpiresAt, tc.want.ExpiresAt)
			}
			if got.DownMbits != tc.want.DownMbits || got.UpMbits != tc.want.UpMbits || got.UseGlobalSpeed != tc.want.UseGlobalSpeed {
				t.Errorf("speeds: got %d/%d/%v, want %d/%d/%v", got.DownMbits, got.UpMbits, got.UseGlobalSpeed, tc.want.DownMbits, tc.want.UpMbits, tc.want.UseGlobalSpeed)
			}
		})
	}
}

// cur builds a session for the Current tests: seq is the ID's sequence
// number, created its CreatedAt, started its StartedAt (zero: not started).
func cur(seq uint64, created, started time.Time, mods ...func(*Data)) Data {
	d := validData(TypeTime)
	d.ID, d.CreatedAt, d.StartedAt = NewID(testMAC, seq), created, started
	for _, m := range mods {
		m(&d)
	}
	return d
}

func TestCurrent(t *testing.T) {
	now := t0.Add(10 * time.Hour)
	noTime := func(d *Data) { d.TimeCons = d.TimeSecs }
	noData := func(d *Data) { d.Type, d.DataConsBytes = TypeData, d.DataBytes }
	expired := func(d *Data) { d.HasExpiry, d.ExpDays = true, 1; d.StartedAt = now.Add(-48 * time.Hour) }
	id := func(seq uint64) string { return NewID(testMAC, seq) }
	tests := []struct {
		name     string
		sessions []Data
		wantID   string
		wantErr  error
	}{
		{"no sessions (nil)", nil, "", ErrNoSession},
		{"no sessions (empty)", []Data{}, "", ErrNoSession},
		{"one available", []Data{cur(1, t0, time.Time{})}, id(1), nil},
		{"one started", []Data{cur(1, t0, t0.Add(time.Hour))}, id(1), nil},
		{
			"started available beats older unstarted",
			[]Data{cur(1, t0, time.Time{}), cur(2, t0.Add(time.Hour), t0.Add(2*time.Hour))},
			id(2), nil,
		},
		{
			"started but used up loses to unstarted",
			[]Data{cur(1, t0, t0.Add(time.Hour), noTime), cur(2, t0.Add(time.Hour), time.Time{})},
			id(2), nil,
		},
		{
			"started but expired loses to unstarted",
			[]Data{cur(1, t0, time.Time{}, expired), cur(2, t0.Add(time.Hour), time.Time{})},
			id(2), nil,
		},
		{
			"earliest started among several started",
			[]Data{
				cur(1, t0, t0.Add(5*time.Hour)),
				cur(2, t0.Add(time.Hour), t0.Add(2*time.Hour)),
				cur(3, t0.Add(2*time.Hour), t0.Add(3*time.Hour)),
			},
			id(2), nil,
		},
		{
			"equal start times: creation order",
			[]Data{cur(2, t0.Add(time.Hour), t0.Add(5*time.Hour)), cur(1, t0, t0.Add(5*time.Hour))},
			id(1), nil,
		},
		{
			"equal start and creation: ID sequence",
			[]Data{cur(10, t0, t0.Add(5*time.Hour)), cur(2, t0, t0.Add(5*time.Hour))},
			id(2), nil,
		},
		{
			"oldest created among unstarted, unsorted input",
			[]Data{cur(3, t0.Add(2*time.Hour), time.Time{}), cur(1, t0, time.Time{}), cur(2, t0.Add(time.Hour), time.Time{})},
			id(1), nil,
		},
		{
			"lower sequence wins over earlier CreatedAt (server clocks differ)",
			[]Data{cur(2, t0, time.Time{}), cur(1, t0.Add(time.Hour), time.Time{})},
			id(1), nil,
		},
		{
			"creation ties broken by ID sequence, 2 before 10",
			[]Data{cur(10, t0, time.Time{}), cur(2, t0, time.Time{})},
			id(2), nil,
		},
		{
			"creation ties broken by ID sequence, input order reversed",
			[]Data{cur(2, t0, time.Time{}), cur(10, t0, time.Time{})},
			id(2), nil,
		},
		{
			"unavailable older sessions skipped",
			[]Data{cur(1, t0, time.Time{}, noTime), cur(2, t0.Add(time.Hour), time.Time{}, noData), cur(3, t0.Add(2*time.Hour), time.Time{})},
			id(3), nil,
		},
		{
			"all unavailable: reason of the most recently created (data)",
			[]Data{cur(1, t0, time.Time{}, noTime), cur(2, t0.Add(time.Hour), time.Time{}, noData)},
			"", ErrDataExhausted,
		},
		{
			"all unavailable: reason of the most recently created (time), unsorted",
			[]Data{cur(2, t0.Add(time.Hour), time.Time{}, noTime), cur(1, t0, time.Time{}, noData)},
			"", ErrTimeExhausted,
		},
		{
			"all unavailable: reason of the most recently created (expired)",
			[]Data{cur(1, t0, time.Time{}, noTime), cur(2, t0.Add(time.Hour), time.Time{}, expired, noTime)},
			"", ErrExpired,
		},
		{
			"all unavailable, equal creation: highest sequence is the newest",
			[]Data{cur(10, t0, time.Time{}, noData), cur(2, t0, time.Time{}, noTime)},
			"", ErrDataExhausted,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Current(tc.sessions, now)
			if err != tc.wantErr {
				t.Fatalf("Current(): error got %v, want %v", err, tc.wantErr)
			}
			if got.ID != tc.wantID {
				t.Errorf("Current(): ID got %q, want %q", got.ID, tc.wantID)
			}
		})
	}
}

func TestSortByCreation(t *testing.T) {
	id := func(seq uint64) string { return NewID(testMAC, seq) }
	s := []Data{
		cur(10, t0, time.Time{}),
		cur(3, t0.Add(time.Hour), time.Time{}),
		cur(2, t0, time.Time{}),
		cur(1, t0.Add(-time.Hour), time.Time{}),
	}
	SortByCreation(s)
	var got []string
	for _, d := range s {
		got = append(got, d.ID)
	}
	want := []string{id(1), id(2), id(3), id(10)}
	if !slices.Equal(got, want) {
		t.Errorf("SortByCreation: got %v, want %v", got, want)
	}
}

func TestLess(t *testing.T) {
	other := MAC("00:11:22:33:44:55")
	mk := func(mac MAC, seq uint64, created time.Time) Data {
		return Data{ID: NewID(mac, seq), MAC: mac, CreatedAt: created}
	}
	tests := []struct {
		name string
		a, b Data
		want bool
	}{
		{"lower sequence first", mk(testMAC, 1, t0), mk(testMAC, 2, t0), true},
		{"higher sequence after", mk(testMAC, 2, t0), mk(testMAC, 1, t0), false},
		{"2 before 10, numerically", mk(testMAC, 2, t0), mk(testMAC, 10, t0), true},
		{"10 after 2, numerically", mk(testMAC, 10, t0), mk(testMAC, 2, t0), false},
		{"sequence beats CreatedAt", mk(testMAC, 1, t0.Add(time.Hour)), mk(testMAC, 2, t0), true},
		{"same sequence: earlier CreatedAt first", mk(other, 1, t0), mk(testMAC, 1, t0.Add(time.Second)), true},
		{"same sequence: later CreatedAt after", mk(testMAC, 1, t0.Add(time.Second)), mk(other, 1, t0), false},
		{"same sequence and CreatedAt: ID", mk(other, 1, t0), mk(testMAC, 1, t0), true},
		{"same sequence and CreatedAt: ID reversed", mk(testMAC, 1, t0), mk(other, 1, t0), false},
		{"equal is not less", mk(testMAC, 1, t0), mk(testMAC, 1, t0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Less(tc.a, tc.b); got != tc.want {
				t.Errorf("Less(%s@%v, %s@%v): got %v, want %v", tc.a.ID, tc.a.CreatedAt, tc.b.ID, tc.b.CreatedAt, got, tc.want)
			}
		})
	}
}

func TestNewIDParseIDRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		mac    MAC
		seq    uint64
		wantID string
	}{
		{"first", testMAC, 1, "aabbccddeeff-1"},
		{"second", testMAC, 2, "aabbccddeeff-2"},
		{"tenth", testMAC, 10, "aabbccddeeff-10"},
		{"digits mac", "00:11:22:33:44:55", 7, "001122334455-7"},
		{"max seq", testMAC, math.MaxUint64, "aabbccddeeff-18446744073709551615"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := NewID(tc.mac, tc.seq)
			if id != tc.wantID {
				t.Errorf("NewID: got %q, want %q", id, tc.wantID)
			}
			mac, seq, err := ParseID(id)
			if err != nil {
				t.Fatalf("ParseID(%q): %v", id, err)
			}
			if mac != tc.mac || seq != tc.seq {
				t.Errorf("ParseID(%q): got %q, %d, want %q, %d", id, mac, seq, tc.mac, tc.seq)
			}
		})
	}
}

func TestParseIDRejects(t *testing.T) {
	for _, id := range []string{
		"",
		"-",
		"aabbccddeeff",
		"aabbccddeeff1",
		"aabbccddeeff-",
		"-1",
		"AABBCCDDEEFF-1",
		"aabbccDDeeff-1",
		"aabbccddeefg-1",
		"aabbccddee-1",
		"aabbccddeeff00-1",
		"aa:bb:cc:dd:ee:ff-1",
		"aabb.ccdd.ee-1",
		"aabbccddeeff-0",
		"aabbccddeeff-00",
		"aabbccddeeff-01",
		"aabbccddeeff-+1",
		"aabbccddeeff--1",
		"aabbccddeeff-1-2",
		"aabbccddeeff-1 ",
		"aabbccddeeff- 1",
		"aabbccddeeff-1.0",
		"aabbccddeeff-0x1",
		"aabbccddeeff-1_0",
		"aabbccddeeff-18446744073709551616",
	} {
		t.Run(id, func(t *testing.T) {
			mac, seq, err := ParseID(id)
			if err == nil {
				t.Fatalf("ParseID(%q): got %q, %d, want an error", id, mac, seq)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseID(%q): %v does not wrap ErrInvalid", id, err)
			}
		})
	}
}

func TestMBToBytes(t *testing.T) {
	tests := []struct {
		name string
		mb   float64
		want uint64
	}{
		{"zero", 0, 0},
		{"negative zero", math.Copysign(0, -1), 0},
		{"one byte", 0.000001, 1},
		{"half a byte rounds up", 0.0000005, 1},
		{"1.5 bytes rounds up", 0.0000015, 2},
		{"0.4 byte rounds down", 0.0000004, 0},
		{"0.6 byte rounds up", 0.0000006, 1},
		{"one MB is 10^6 bytes", 1, 1_000_000},
		{"1.5 MB", 1.5, 1_500_000},
		{"0.1 MB", 0.1, 100_000},
		{"1024 MB", 1024, 1_024_000_000},
		{"one TB", 1e6, 1e12},
		{"large but storable", 9.2e12, 9.2e18},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MBToBytes(tc.mb)
			if err != nil {
				t.Fatalf("MBToBytes(%v): %v", tc.mb, err)
			}
			if got != tc.want {
				t.Errorf("MBToBytes(%v): got %d, want %d", tc.mb, got, tc.want)
			}
		})
	}
}

func TestMBToBytesRejects(t *testing.T) {
	tests := []struct {
		name string
		mb   float64
	}{
		{"negative", -1},
		{"tiny negative", -1e-9},
		{"NaN", math.NaN()},
		{"+Inf", math.Inf(1)},
		{"-Inf", math.Inf(-1)},
		{"2^63 bytes", float64(math.MaxInt64) / BytesPerMB},
		{"above int64", 9.3e12},
		{"1e13", 1e13},
		{"max float", math.MaxFloat64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MBToBytes(tc.mb)
			if err == nil {
				t.Errorf("MBToBytes(%v): got %d, want an error", tc.mb, got)
			}
		})
	}
}

func TestBytesToMB(t *testing.T) {
	tests := []struct {
		name  string
		bytes uint64
		want  float64
	}{
		{"zero", 0, 0},
		{"one byte", 1, 0.000001},
		{"one MB", 1_000_000, 1},
		{"1.5 MB", 1_500_000, 1.5},
		{"just under one MB", 999_999, 0.999999},
		{"1024 MB", 1_024_000_000, 1024},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := BytesToMB(tc.bytes); got != tc.want {
				t.Errorf("BytesToMB(%d): got %v, want %v", tc.bytes, got, tc.want)
			}
		})
	}
}

func TestBytesMBRoundTrip(t *testing.T) {
	for _, b := range []uint64{0, 1, 2, 999_999, 1_000_001, 123_456_789, 1e12 + 1, 1 << 40, 1<<50 - 1} {
		got, err := MBToBytes(BytesToMB(b))
		if err != nil {
			t.Errorf("MBToBytes(BytesToMB(%d)): %v", b, err)
			continue
		}
		if got != b {
			t.Errorf("MBToBytes(BytesToMB(%d)): got %d", b, got)
		}
	}
}

// ErrorLeaves flattens nested joins in order and keeps a lone error whole.
func TestErrorLeaves(t *testing.T) {
	a, b, c := errors.New("a"), &FieldError{Field: "b", Problem: "x"}, errors.New("c")
	got := ErrorLeaves(errors.Join(a, errors.Join(b, nil, c)))
	if len(got) != 3 || got[0] != a || got[1] != error(b) || got[2] != c {
		t.Errorf("leaves %v, want [a b c]", got)
	}
	if got := ErrorLeaves(a); len(got) != 1 || got[0] != a {
		t.Errorf("a lone error: %v", got)
	}
	if got := ErrorLeaves(nil); got != nil {
		t.Errorf("nil: %v", got)
	}
}
