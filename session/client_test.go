package session

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

// baseClientData is a valid, started time_or_data session with an expiry and
// some consumption, the starting point of the setter tests.
func baseClientData() Data {
	d := validData(TypeTimeOrData)
	d.TimeCons = 100
	d.DataConsBytes = 2 * BytesPerMB
	d.StartedAt = t0.Add(time.Hour)
	d.HasExpiry, d.ExpDays = true, 30
	return d
}

// newTestClient stores d in a fresh fake store and returns a ClientSession
// on it.
func newTestClient(t *testing.T, d Data) (*fakeStore, *ClientSession) {
	t.Helper()
	st := newFakeStore()
	st.put(d)
	return st, newClientSession(st, d)
}

func TestClientSessionGetters(t *testing.T) {
	type want struct {
		provider       string
		typ            uint8
		timeSecs       uint
		dataMb         float64
		timeCons       uint
		dataCons       float64
		remTime        uint
		remData        float64
		startedAt      *time.Time
		createdAt      time.Time
		expDays        *uint
		expiresAt      *time.Time
		down, up       uint
		useGlobalSpeed bool
	}
	tests := []struct {
		name string
		data func() Data
		want want
	}{
		{
			name: "time, not started, no expiry",
			data: func() Data { return validData(TypeTime) },
			want: want{
				provider: "shop", typ: 0, timeSecs: 3600, dataMb: 100, remTime: 3600, remData: 100,
				createdAt: t0, down: 10, up: 2,
			},
		},
		{
			name: "time_or_data, started, expiry, consumption",
			data: func() Data {
				d := validData(TypeTimeOrData)
				d.TimeCons, d.DataConsBytes = 600, 25_500_000
				d.StartedAt, d.HasExpiry, d.ExpDays = t0.Add(time.Hour), true, 30
				return d
			},
			want: want{
				provider: "shop", typ: 2, timeSecs: 3600, dataMb: 100, timeCons: 600, dataCons: 25.5,
				remTime: 3000, remData: 74.5, startedAt: ptr(t0.Add(time.Hour)), createdAt: t0,
				expDays: ptr(uint(30)), expiresAt: ptr(t0.Add(time.Hour + 30*24*time.Hour)), down: 10, up: 2,
			},
		},
		{
			name: "data, consumption above allocation, global speed",
			data: func() Data {
				d := validData(TypeData)
				d.Provider = "voucher"
				d.DataBytes, d.DataConsBytes = BytesPerMB, 3*BytesPerMB
				d.TimeSecs, d.TimeCons = 10, 20
				d.UseGlobalSpeed, d.DownMbits, d.UpMbits = true, 0, 0
				return d
			},
			want: want{
				provider: "voucher", typ: 1, timeSecs: 10, dataMb: 1, timeCons: 20, dataCons: 3,
				createdAt: t0, useGlobalSpeed: true,
			},
		},
		{
			name: "not started with expiry: ExpDays set, ExpiresAt nil",
			data: func() Data {
				d := validData(TypeData)
				d.HasExpiry, d.ExpDays = true, 7
				return d
			},
			want: want{
				provider: "shop", typ: 1, timeSecs: 3600, dataMb: 100, remTime: 3600, remData: 100,
				createdAt: t0, expDays: ptr(uint(7)), down: 10, up: 2,
			},
		},
	}
	eqTime := func(got, want *time.Time) bool {
		if got == nil || want == nil {
			return got == nil && want == nil
		}
		return got.Equal(*want)
	}
	show := func(p any) string {
		switch v := p.(type) {
		case *time.Time:
			if v != nil {
				return v.String()
			}
		case *uint:
			if v != nil {
				return fmt.Sprint(*v)
			}
		}
		return "nil"
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, s := newTestClient(t, tc.data())
			w := tc.want
			if got := s.Provider(); got != w.provider {
				t.Errorf("Provider(): got %q, want %q", got, w.provider)
			}
			if got := s.Type(); got != w.typ {
				t.Errorf("Type(): got %d, want %d", got, w.typ)
			}
			if got := s.TimeSecs(); got != w.timeSecs {
				t.Errorf("TimeSecs(): got %d, want %d", got, w.timeSecs)
			}
			if got := s.DataMb(); got != w.dataMb {
				t.Errorf("DataMb(): got %v, want %v", got, w.dataMb)
			}
			if got := s.TimeConsumption(); got != w.timeCons {
				t.Errorf("TimeConsumption(): got %d, want %d", got, w.timeCons)
			}
			if got := s.DataConsumption(); got != w.dataCons {
				t.Errorf("DataConsumption(): got %v, want %v", got, w.dataCons)
			}
			if got := s.RemainingTime(); got != w.remTime {
				t.Errorf("RemainingTime(): got %d, want %d", got, w.remTime)
			}
			if got := s.RemainingData(); got != w.remData {
				t.Errorf("RemainingData(): got %v, want %v", got, w.remData)
			}
			if got := s.StartedAt(); !eqTime(got, w.startedAt) {
				t.Errorf("StartedAt(): got %s, want %s", show(got), show(w.startedAt))
			}
			if got := s.CreatedAt(); !got.Equal(w.createdAt) {
				t.Errorf("CreatedAt(): got %v, want %v", got, w.createdAt)
			}
			if got := s.ExpDays(); (got == nil) != (w.expDays == nil) || (got != nil && *got != *w.expDays) {
				t.Errorf("ExpDays(): got %s, want %s", show(got), show(w.expDays))
			}
			if got := s.ExpiresAt(); !eqTime(got, w.expiresAt) {
				t.Errorf("ExpiresAt(): got %s, want %s", show(got), show(w.expiresAt))
			}
			if got := s.DownMbits(); got != w.down {
				t.Errorf("DownMbits(): got %d, want %d", got, w.down)
			}
			if got := s.UpMbits(); got != w.up {
				t.Errorf("UpMbits(): got %d, want %d", got, w.up)
			}
			if got := s.UseGlobalSpeed(); got != w.useGlobalSpeed {
				t.Errorf("UseGlobalSpeed(): got %v, want %v", got, w.useGlobalSpeed)
			}
			d := tc.data()
			if got := s.ID(); got != d.ID {
				t.Errorf("ID(): got %q, want %q", got, d.ID)
			}
			if got := s.MAC(); got != d.MAC {
				t.Errorf("MAC(): got %q, want %q", got, d.MAC)
			}
		})
	}
}

func TestClientSessionPointerGettersReturnCopies(t *testing.T) {
	_, s := newTestClient(t, baseClientData())
	*s.StartedAt() = time.Time{}
	*s.ExpDays() = 999
	*s.ExpiresAt() = time.Time{}
	if got := s.StartedAt(); got == nil || !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("StartedAt() after writing through the returned pointer: got %v, want %v", got, t0.Add(time.Hour))
	}
	if got := s.ExpDays(); got == nil || *got != 30 {
		t.Errorf("ExpDays() after writing through the returned pointer: got %v, want 30", got)
	}
	if got := s.ExpiresAt(); got == nil || got.IsZero() {
		t.Errorf("ExpiresAt() after writing through the returned pointer: got %v", got)
	}
}

func TestClientSessionAvailable(t *testing.T) {
	d := baseClientData() // started t0+1h, 30 days
	_, s := newTestClient(t, d)
	exp := t0.Add(time.Hour + 30*24*time.Hour)
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"before expiry", exp.Add(-time.Second), true},
		{"at expiry", exp, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Available(tc.now); got != tc.want {
				t.Errorf("Available(%v): got %v, want %v", tc.now, got, tc.want)
			}
		})
	}
}

// TestClientSessionSetters: each setter changes the local state at once, and
// Save writes exactly its field (no increments), after which the local state
// is the stored one.
func TestClientSessionSetters(t *testing.T) {
	tests := []struct {
		name    string
		set     func(*ClientSession)
		wantSet Field
		want    func(*Data) // applied to baseClientData: the expected state
	}{
		{"SetTimeSecs", func(s *ClientSession) { s.SetTimeSecs(7200) }, FieldTimeSecs, func(d *Data) { d.TimeSecs = 7200 }},
		{"SetDataMb", func(s *ClientSession) { s.SetDataMb(1024) }, FieldDataBytes, func(d *Data) { d.DataBytes = 1024 * BytesPerMB }},
		{"SetDataMb fraction", func(s *ClientSession) { s.SetDataMb(0.5) }, FieldDataBytes, func(d *Data) { d.DataBytes = 500_000 }},
		{"SetDataMb rounds to the byte", func(s *ClientSession) { s.SetDataMb(0.0000015) }, FieldDataBytes, func(d *Data) { d.DataBytes = 2 }},
		{"SetTimeCons", func(s *ClientSession) { s.SetTimeCons(1800) }, FieldTimeCons, func(d *Data) { d.TimeCons = 1800 }},
		{"SetTimeCons to zero", func(s *ClientSession) { s.SetTimeCons(0) }, FieldTimeCons, func(d *Data) { d.TimeCons = 0 }},
		{"SetDataCons", func(s *ClientSession) { s.SetDataCons(512) }, FieldDataConsBytes, func(d *Data) { d.DataConsBytes = 512 * BytesPerMB }},
		{"SetDataCons half a byte", func(s *ClientSession) { s.SetDataCons(0.0000005) }, FieldDataConsBytes, func(d *Data) { d.DataConsBytes = 1 }},
		{"SetStartedAt truncates to the second", func(s *ClientSession) { s.SetStartedAt(t0.Add(2*time.Hour + 700*time.Millisecond)) }, FieldStartedAt, func(d *Data) { d.StartedAt = t0.Add(2 * time.Hour) }},
		{"SetStartedAt zero un-starts", func(s *ClientSession) { s.SetStartedAt(time.Time{}) }, FieldStartedAt, func(d *Data) { d.StartedAt = time.Time{} }},
		{"SetExpDays", func(s *ClientSession) { s.SetExpDays(7) }, FieldExpDays, func(d *Data) { d.ExpDays = 7 }},
		{"SetExpDays max", func(s *ClientSession) { s.SetExpDays(math.MaxUint32) }, FieldExpDays, func(d *Data) { d.ExpDays = math.MaxUint32 }},
		{"ClearExpDays", func(s *ClientSession) { s.ClearExpDays() }, FieldExpDays, func(d *Data) { d.ExpDays, d.HasExpiry = 0, false }},
		{"SetDownMbits", func(s *ClientSession) { s.SetDownMbits(20) }, FieldDownMbits, func(d *Data) { d.DownMbits = 20 }},
		{"SetUpMbits", func(s *ClientSession) { s.SetUpMbits(5) }, FieldUpMbits, func(d *Data) { d.UpMbits = 5 }},
		{"SetUseGlobalSpeed", func(s *ClientSession) { s.SetUseGlobalSpeed(true) }, FieldUseGlobalSpeed, func(d *Data) { d.UseGlobalSpeed = true }},
		{"SetProvider", func(s *ClientSession) { s.SetProvider("other") }, FieldProvider, func(d *Data) { d.Provider = "other" }},
		{"setting the same value still writes it", func(s *ClientSession) { s.SetDownMbits(10) }, FieldDownMbits, func(d *Data) {}},
		{
			"several setters",
			func(s *ClientSession) { s.SetTimeSecs(60); s.SetUpMbits(1); s.ClearExpDays() },
			FieldTimeSecs | FieldUpMbits | FieldExpDays,
			func(d *Data) { d.TimeSecs, d.UpMbits, d.ExpDays, d.HasExpiry = 60, 1, 0, false },
		},
		{
			"global speed with zero speeds",
			func(s *ClientSession) { s.SetUseGlobalSpeed(true); s.SetDownMbits(0); s.SetUpMbits(0) },
			FieldUseGlobalSpeed | FieldDownMbits | FieldUpMbits,
			func(d *Data) { d.UseGlobalSpeed, d.DownMbits, d.UpMbits = true, 0, 0 },
		},
		{
			"last write of a field wins",
			func(s *ClientSession) { s.SetTimeSecs(60); s.SetTimeSecs(90) },
			FieldTimeSecs,
			func(d *Data) { d.TimeSecs = 90 },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, s := newTestClient(t, baseClientData())
			want := baseClientData()
			tc.want(&want)

			tc.set(s)
			if got := s.Data(); got != want {
				t.Errorf("local state before Save:\n got %+v\nwant %+v", got, want)
			}
			if got, _ := st.get(want.ID); got != baseClientData() {
				t.Errorf("store changed before Save: %+v", got)
			}
			if err := s.Save(context.Background()); err != nil {
				t.Fatalf("Save(): %v", err)
			}
			if len(st.saves) != 1 {
				t.Fatalf("SaveSession calls: got %d, want 1", len(st.saves))
			}
			c := st.saves[0]
			if c.Set != tc.wantSet {
				t.Errorf("Changes.Set: got %b, want %b", c.Set, tc.wantSet)
			}
			if c.IncTimeCons != 0 || c.IncDataConsBytes != 0 {
				t.Errorf("Changes increments: got %d/%d, want 0/0", c.IncTimeCons, c.IncDataConsBytes)
			}
			stored, _ := st.get(want.ID)
			if stored != want {
				t.Errorf("stored state:\n got %+v\nwant %+v", stored, want)
			}
			if got := s.Data(); got != stored {
				t.Errorf("local state after Save:\n got %+v\nwant %+v", got, stored)
			}
		})
	}
}

func TestClientSessionIncrements(t *testing.T) {
	base := baseClientData() // TimeCons 100, DataConsBytes 2 MB
	tests := []struct {
		name string
		ops  func(*ClientSession)
		// exact Changes sent; checked when checkChanges
		checkChanges bool
		wantSet      Field
		wantIncTime  uint64
		wantIncData  uint64
		// stored and local results
		wantTimeCons uint64
		wantDataCons uint64
	}{
		{"IncTimeCons", func(s *ClientSession) { s.IncTimeCons(60) }, true, 0, 60, 0, 160, 2 * BytesPerMB},
		{"IncTimeCons twice", func(s *ClientSession) { s.IncTimeCons(60); s.IncTimeCons(40) }, true, 0, 100, 0, 200, 2 * BytesPerMB},
		{"IncDataCons", func(s *ClientSession) { s.IncDataCons(10) }, true, 0, 0, 10 * BytesPerMB, 100, 12 * BytesPerMB},
		{"IncDataCons half a byte", func(s *ClientSession) { s.IncDataCons(0.0000005) }, true, 0, 0, 1, 100, 2*BytesPerMB + 1},
		{"IncDataConsBytes", func(s *ClientSession) { s.IncDataConsBytes(7) }, true, 0, 0, 7, 100, 2*BytesPerMB + 7},
		{"both increments", func(s *ClientSession) { s.IncTimeCons(5); s.IncDataCons(1) }, true, 0, 5, BytesPerMB, 105, 3 * BytesPerMB},
		{"increment beside a setter", func(s *ClientSession) { s.SetDownMbits(20); s.IncTimeCons(5) }, true, FieldDownMbits, 5, 0, 105, 2 * BytesPerMB},
		// A set counter takes its value: the increment is still sent (it is
		// part of the writer's running total) but adds nothing.
		{"SetTimeCons after IncTimeCons drops the increment", func(s *ClientSession) { s.IncTimeCons(60); s.SetTimeCons(1800) }, true, FieldTimeCons, 60, 0, 1800, 2 * BytesPerMB},
		{"SetDataCons after IncDataCons drops the increment", func(s *ClientSession) { s.IncDataCons(1); s.SetDataCons(5) }, true, FieldDataConsBytes, 0, BytesPerMB, 100, 5 * BytesPerMB},
		{"SetTimeCons does not drop the data increment", func(s *ClientSession) { s.IncDataCons(1); s.SetTimeCons(0) }, true, FieldTimeCons, 0, BytesPerMB, 0, 3 * BytesPerMB},
		// Set then increment: the result is the set value plus the increment,
		// counted once. How Save encodes it is up to Save.
		{"IncTimeCons after SetTimeCons keeps both", func(s *ClientSession) { s.SetTimeCons(1800); s.IncTimeCons(60) }, false, 0, 0, 0, 1860, 2 * BytesPerMB},
		{"IncDataCons after SetDataCons keeps both", func(s *ClientSession) { s.SetDataCons(5); s.IncDataCons(1) }, false, 0, 0, 0, 100, 6 * BytesPerMB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, s := newTestClient(t, base)
			tc.ops(s)
			if got := uint64(s.TimeConsumption()); got != tc.wantTimeCons {
				t.Errorf("TimeConsumption() before Save: got %d, want %d", got, tc.wantTimeCons)
			}
			if got := s.Data().DataConsBytes; got != tc.wantDataCons {
				t.Errorf("data consumption before Save: got %d bytes, want %d", got, tc.wantDataCons)
			}
			if err := s.Save(context.Background()); err != nil {
				t.Fatalf("Save(): %v", err)
			}
			if len(st.saves) != 1 {
				t.Fatalf("SaveSession calls: got %d, want 1", len(st.saves))
			}
			if c := st.saves[0]; tc.checkChanges {
				if c.Set != tc.wantSet {
					t.Errorf("Changes.Set: got %b, want %b", c.Set, tc.wantSet)
				}
				if c.IncTimeCons != tc.wantIncTime || c.IncDataConsBytes != tc.wantIncData {
					t.Errorf("Changes increments: got %d/%d, want %d/%d", c.IncTimeCons, c.IncDataConsBytes, tc.wantIncTime, tc.wantIncData)
				}
			}
			stored, _ := st.get(base.ID)
			if stored.TimeCons != tc.wantTimeCons || stored.DataConsBytes != tc.wantDataCons {
				t.Errorf("stored consumption: got %d s, %d B; want %d s, %d B", stored.TimeCons, stored.DataConsBytes, tc.wantTimeCons, tc.wantDataCons)
			}
			if got := s.Data(); got != stored {
				t.Errorf("local state after Save:\n got %+v\nwant %+v", got, stored)
			}
		})
	}
}

// TestClientSessionTopUps: TopUpTime and TopUpData add to the allocation as
// atomic increments; a later setter of the allocation replaces them.
func TestClientSessionTopUps(t *testing.T) {
	base := baseClientData() // TimeSecs 3600, DataBytes 100 MB
	tests := []struct {
		name         string
		ops          func(*ClientSession)
		checkChanges bool
		wantSet      Field
		wantIncSecs  uint64
		wantIncBytes uint64
		wantTimeSecs uint64
		wantBytes    uint64
	}{
		{"TopUpTime", func(s *ClientSession) { s.TopUpTime(600) }, true, 0, 600, 0, 4200, 100 * BytesPerMB},
		{"TopUpTime twice", func(s *ClientSession) { s.TopUpTime(600); s.TopUpTime(400) }, true, 0, 1000, 0, 4600, 100 * BytesPerMB},
		{"TopUpData", func(s *ClientSession) { s.TopUpData(1.5) }, true, 0, 0, 1_500_000, 3600, 101_500_000},
		{"TopUpData half a byte", func(s *ClientSession) { s.TopUpData(0.0000005) }, true, 0, 0, 1, 3600, 100*BytesPerMB + 1},
		{"TopUpTime beside IncTimeCons", func(s *ClientSession) { s.TopUpTime(10); s.IncTimeCons(5) }, true, 0, 10, 0, 3610, 100 * BytesPerMB},
		// A set allocation takes its value; the top-up is sent but adds nothing.
		{"SetTimeSecs after TopUpTime drops the top-up", func(s *ClientSession) { s.TopUpTime(600); s.SetTimeSecs(60) }, true, FieldTimeSecs, 600, 0, 60, 100 * BytesPerMB},
		{"SetDataMb after TopUpData drops the top-up", func(s *ClientSession) { s.TopUpData(5); s.SetDataMb(1) }, true, FieldDataBytes, 0, 5 * BytesPerMB, 3600, BytesPerMB},
		// Set then top up: the set value plus the top-up, counted once.
		{"TopUpTime after SetTimeSecs keeps both", func(s *ClientSession) { s.SetTimeSecs(60); s.TopUpTime(600) }, false, 0, 0, 0, 660, 100 * BytesPerMB},
		{"TopUpData after SetDataMb keeps both", func(s *ClientSession) { s.SetDataMb(1); s.TopUpData(5) }, false, 0, 0, 0, 3600, 6 * BytesPerMB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, s := newTestClient(t, base)
			tc.ops(s)
			if got := uint64(s.TimeSecs()); got != tc.wantTimeSecs {
				t.Errorf("TimeSecs() before Save: got %d, want %d", got, tc.wantTimeSecs)
			}
			if got := s.Data().DataBytes; got != tc.wantBytes {
				t.Errorf("allocated data before Save: got %d bytes, want %d", got, tc.wantBytes)
			}
			if err := s.Save(context.Background()); err != nil {
				t.Fatalf("Save(): %v", err)
			}
			if len(st.saves) != 1 {
				t.Fatalf("SaveSession calls: got %d, want 1", len(st.saves))
			}
			if c := st.saves[0]; tc.checkChanges {
				if c.Set != tc.wantSet {
					t.Errorf("Changes.Set: got %b, want %b", c.Set, tc.wantSet)
				}
				if c.IncTimeSecs != tc.wantIncSecs || c.IncDataBytes != tc.wantIncBytes {
					t.Errorf("Changes top-ups: got %d/%d, want %d/%d", c.IncTimeSecs, c.IncDataBytes, tc.wantIncSecs, tc.wantIncBytes)
				}
			}
			stored, _ := st.get(base.ID)
			if stored.TimeSecs != tc.wantTimeSecs || stored.DataBytes != tc.wantBytes {
				t.Errorf("stored allocation: got %d s, %d B; want %d s, %d B", stored.TimeSecs, stored.DataBytes, tc.wantTimeSecs, tc.wantBytes)
			}
			if got := s.Data(); got != stored {
				t.Errorf("local state after Save:\n got %+v\nwant %+v", got, stored)
			}
		})
	}
}

func TestClientSessionSaveNothingChanged(t *testing.T) {
	tests := []struct {
		name string
		ops  func(*ClientSession)
	}{
		{"fresh", func(*ClientSession) {}},
		{"zero increments", func(s *ClientSession) { s.IncTimeCons(0); s.IncDataCons(0); s.IncDataConsBytes(0) }},
		{"after a successful Save", func(s *ClientSession) {
			s.SetDownMbits(20)
			if err := s.Save(context.Background()); err != nil {
				panic(err)
			}
		}},
		{"after Reload", func(s *ClientSession) {
			s.SetDownMbits(20)
			if err := s.Reload(context.Background()); err != nil {
				panic(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, s := newTestClient(t, baseClientData())
			tc.ops(s)
			before := st.callsOf("SaveSession")
			if err := s.Save(context.Background()); err != nil {
				t.Fatalf("Save(): %v", err)
			}
			if got := st.callsOf("SaveSession") - before; got != 0 {
				t.Errorf("SaveSession calls: got %d, want 0", got)
			}
		})
	}
}

// TestClientSessionRejectedSetters: a setter given an invalid argument leaves
// the field alone and makes Save fail, naming the field, without writing
// anything (not even the valid changes made beside it).
func TestClientSessionRejectedSetters(t *testing.T) {
	tests := []struct {
		name  string
		ops   func(*ClientSession)
		field string
	}{
		{"SetDataMb(-1)", func(s *ClientSession) { s.SetDataMb(-1) }, "data_mb"},
		{"SetDataMb(NaN)", func(s *ClientSession) { s.SetDataMb(math.NaN()) }, "data_mb"},
		{"SetDataMb(+Inf)", func(s *ClientSession) { s.SetDataMb(math.Inf(1)) }, "data_mb"},
		{"SetDataMb(huge)", func(s *ClientSession) { s.SetDataMb(1e300) }, "data_mb"},
		{"SetDataCons(-1)", func(s *ClientSession) { s.SetDataCons(-1) }, "data_cons"},
		{"IncDataCons(-1)", func(s *ClientSession) { s.IncDataCons(-1) }, "data_cons"},
		{"IncDataCons(NaN)", func(s *ClientSession) { s.IncDataCons(math.NaN()) }, "data_cons"},
		{"IncDataConsBytes overflow", func(s *ClientSession) { s.IncDataConsBytes(math.MaxUint64) }, "data_cons"},
		{"IncTimeCons overflow", func(s *ClientSession) { s.IncTimeCons(math.MaxUint) }, "time_cons"},
		{"SetExpDays(0)", func(s *ClientSession) { s.SetExpDays(0) }, "exp_days"},
		{"SetExpDays too large", func(s *ClientSession) { s.SetExpDays(math.MaxUint32 + 1) }, "exp_days"},
		{"SetDownMbits too large", func(s *ClientSession) { s.SetDownMbits(math.MaxUint32 + 1) }, "down_mbits"},
		{"SetUpMbits too large", func(s *ClientSession) { s.SetUpMbits(math.MaxUint32 + 1) }, "up_mbits"},
		{"valid setter beside an invalid one", func(s *ClientSession) { s.SetTimeSecs(7200); s.SetDataMb(-1) }, "data_mb"},
		{"increment beside an invalid setter", func(s *ClientSession) { s.IncTimeCons(10); s.SetExpDays(0) }, "exp_days"},
		{"TopUpData(-1)", func(s *ClientSession) { s.TopUpData(-1) }, "data_mb"},
		{"TopUpData(NaN)", func(s *ClientSession) { s.TopUpData(math.NaN()) }, "data_mb"},
		{"TopUpData overflow", func(s *ClientSession) { s.TopUpData(9_223_372_036_800) }, "data_mb"},
		{"TopUpTime overflow", func(s *ClientSession) { s.TopUpTime(math.MaxInt64) }, "time_secs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := baseClientData()
			st, s := newTestClient(t, base)
			tc.ops(s)
			err := s.Save(context.Background())
			if err == nil {
				t.Fatalf("Save(): got nil, want an error naming %q", tc.field)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("Save(): got %v, want a *FieldError for %q", err, tc.field)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Save(): %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Save(): message %q does not name %q", err, tc.field)
			}
			if got := st.callsOf("SaveSession"); got != 0 {
				t.Errorf("SaveSession calls: got %d, want 0", got)
			}
			if got, _ := st.get(base.ID); got != base {
				t.Errorf("store changed:\n got %+v\nwant %+v", got, base)
			}
			// The rejected value was not applied locally.
			got := s.Data()
			if got.DataBytes != base.DataBytes || got.ExpDays != base.ExpDays || got.DownMbits != base.DownMbits ||
				got.UpMbits != base.UpMbits || got.DataConsBytes != base.DataConsBytes && tc.field == "data_cons" ||
				got.TimeSecs != base.TimeSecs && tc.field == "time_secs" ||
				got.TimeCons != base.TimeCons && tc.field == "time_cons" {
				t.Errorf("rejected value applied locally:\n got %+v\nbase %+v", got, base)
			}
			// Reload forgets the rejection.
			if err := s.Reload(context.Background()); err != nil {
				t.Fatalf("Reload(): %v", err)
			}
			s.SetDownMbits(20)
			if err := s.Save(context.Background()); err != nil {
				t.Errorf("Save() after Reload: %v", err)
			}
		})
	}
}

// TestClientSessionSaveValidation: Save validates the whole local state, names
// the fields at fault, writes nothing, and keeps the pending changes so that
// a correction followed by Save writes them all.
func TestClientSessionSaveValidation(t *testing.T) {
	tests := []struct {
		name   string
		typ    Type
		global bool
		bad    func(*ClientSession)
		fields []string
		fix    func(*ClientSession)
		// fixSetsTimeCons: the fix is SetTimeCons, which replaces the pending
		// increment.
		fixSetsTimeCons bool
	}{
		{"SetTimeSecs(0) on a time session", TypeTime, false,
			func(s *ClientSession) { s.SetTimeSecs(0) }, []string{"time_secs"},
			func(s *ClientSession) { s.SetTimeSecs(60) }, false},
		{"SetTimeSecs(0) on a time_or_data session", TypeTimeOrData, false,
			func(s *ClientSession) { s.SetTimeSecs(0) }, []string{"time_secs"},
			func(s *ClientSession) { s.SetTimeSecs(60) }, false},
		{"SetDataMb(0) on a data session", TypeData, false,
			func(s *ClientSession) { s.SetDataMb(0) }, []string{"data_mb"},
			func(s *ClientSession) { s.SetDataMb(1) }, false},
		{"SetDataMb below half a byte on a data session", TypeData, false,
			func(s *ClientSession) { s.SetDataMb(0.0000004) }, []string{"data_mb"},
			func(s *ClientSession) { s.SetDataMb(1) }, false},
		{"SetDownMbits(0) without global speed", TypeTime, false,
			func(s *ClientSession) { s.SetDownMbits(0) }, []string{"down_mbits"},
			func(s *ClientSession) { s.SetDownMbits(1) }, false},
		{"SetUseGlobalSpeed(false) with zero speeds", TypeTime, true,
			func(s *ClientSession) { s.SetUseGlobalSpeed(false) }, []string{"down_mbits", "up_mbits"},
			func(s *ClientSession) { s.SetDownMbits(1); s.SetUpMbits(1) }, false},
		{"SetProvider too long", TypeTime, false,
			func(s *ClientSession) { s.SetProvider(strings.Repeat("x", 129)) }, []string{"provider"},
			func(s *ClientSession) { s.SetProvider("x") }, false},
		{"SetTimeCons too large", TypeTime, false,
			func(s *ClientSession) { s.SetTimeCons(math.MaxUint) }, []string{"time_cons"},
			func(s *ClientSession) { s.SetTimeCons(5) }, true},
		{"SetTimeSecs too large", TypeTime, false,
			func(s *ClientSession) { s.SetTimeSecs(math.MaxUint) }, []string{"time_secs"},
			func(s *ClientSession) { s.SetTimeSecs(5) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := validData(tc.typ)
			if tc.global {
				base.UseGlobalSpeed, base.DownMbits, base.UpMbits = true, 0, 0
			}
			st, s := newTestClient(t, base)
			s.IncTimeCons(7) // a pending change that must survive the failed Save
			tc.bad(s)
			err := s.Save(context.Background())
			if err == nil {
				t.Fatalf("Save(): got nil, want errors for %v", tc.fields)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Save(): %v holds no *FieldError", err)
			}
			if got := fieldsOf(t, err); !sameFields(got, tc.fields) {
				t.Errorf("Save(): fields got %v, want %v", got, tc.fields)
			}
			if got := st.callsOf("SaveSession"); got != 0 {
				t.Errorf("SaveSession calls: got %d, want 0", got)
			}
			if got, _ := st.get(base.ID); got != base {
				t.Errorf("store changed:\n got %+v\nwant %+v", got, base)
			}
			tc.fix(s)
			want := s.Data()
			if err := s.Save(context.Background()); err != nil {
				t.Fatalf("Save() after the fix: %v", err)
			}
			stored, _ := st.get(base.ID)
			if stored != want {
				t.Errorf("stored after the fix:\n got %+v\nwant %+v", stored, want)
			}
			if !tc.fixSetsTimeCons && stored.TimeCons != base.TimeCons+7 {
				t.Errorf("pending increment: stored TimeCons got %d, want %d", stored.TimeCons, base.TimeCons+7)
			}
		})
	}
}

// TestClientSessionConcurrentWriters: two ClientSessions on one session never
// lose each other's increments, and Save brings in the other's writes.
func TestClientSessionConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	base := validData(TypeTimeOrData)
	st := newFakeStore()
	st.put(base)
	mgr := NewSessionsMgr(st, func() time.Time { return t0 })
	a, err := mgr.GetSession(ctx, base.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := mgr.GetSession(ctx, base.ID)
	if err != nil {
		t.Fatal(err)
	}

	a.IncTimeCons(10)
	a.IncDataCons(1)
	a.TopUpTime(600)
	b.IncTimeCons(10)
	b.SetDownMbits(50)
	b.TopUpTime(600)
	if err := a.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ := st.get(base.ID)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"stored TimeCons", stored.TimeCons, uint64(20)},
		{"stored DataConsBytes", stored.DataConsBytes, uint64(BytesPerMB)},
		{"stored DownMbits", stored.DownMbits, uint32(50)},
		{"stored TimeSecs (both top-ups count)", stored.TimeSecs, uint64(3600 + 1200)},
		{"b TimeConsumption (includes a's increment)", b.TimeConsumption(), uint(20)},
		{"b DataConsumption (includes a's increment)", b.DataConsumption(), 1.0},
		{"b local state is the stored one", b.Data() == stored, true},
		{"a TimeConsumption before Reload", a.TimeConsumption(), uint(10)},
		{"a DownMbits before Reload", a.DownMbits(), uint(10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.Data(); got != stored {
		t.Errorf("a after Reload:\n got %+v\nwant %+v", got, stored)
	}
}

func TestClientSessionParallelIncrements(t *testing.T) {
	ctx := context.Background()
	base := validData(TypeTime)
	st := newFakeStore()
	st.put(base)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		s := newClientSession(st, base)
		wg.Go(func() {
			s.IncTimeCons(1)
			errs <- s.Save(ctx)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Save(): %v", err)
		}
	}
	if got, _ := st.get(base.ID); got.TimeCons != n {
		t.Errorf("stored TimeCons: got %d, want %d", got.TimeCons, n)
	}
}

func TestClientSessionReload(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		ops  func(*ClientSession)
	}{
		{"drops unsaved setters", func(s *ClientSession) { s.SetTimeSecs(1); s.SetProvider("x"); s.ClearExpDays() }},
		{"drops unsaved increments", func(s *ClientSession) { s.IncTimeCons(50); s.IncDataCons(3) }},
		{"drops unsaved top-ups", func(s *ClientSession) { s.TopUpTime(50); s.TopUpData(3) }},
		{"drops rejected setters", func(s *ClientSession) { s.SetDataMb(-1) }},
		{"drops an invalid local state", func(s *ClientSession) { s.SetTimeSecs(0) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := baseClientData()
			st, s := newTestClient(t, base)
			// Another writer changes the stored session meanwhile.
			other := base
			other.TimeCons, other.UpMbits = 999, 9
			st.put(other)

			tc.ops(s)
			if err := s.Reload(ctx); err != nil {
				t.Fatalf("Reload(): %v", err)
			}
			if got := s.Data(); got != other {
				t.Errorf("after Reload:\n got %+v\nwant %+v", got, other)
			}
			if err := s.Save(ctx); err != nil {
				t.Errorf("Save() after Reload: %v", err)
			}
			if got := st.callsOf("SaveSession"); got != 0 {
				t.Errorf("SaveSession calls after Reload: got %d, want 0", got)
			}
		})
	}
}

func TestErrNotFoundPropagates(t *testing.T) {
	ctx := context.Background()
	missing := NewID(testMAC, 42)
	cases := []struct {
		name string
		call func(*SessionsMgr, *ClientSession) error
	}{
		{"Save", func(_ *SessionsMgr, s *ClientSession) error { s.IncTimeCons(1); return s.Save(ctx) }},
		{"Save of a setter", func(_ *SessionsMgr, s *ClientSession) error { s.SetDownMbits(3); return s.Save(ctx) }},
		{"Reload", func(_ *SessionsMgr, s *ClientSession) error { return s.Reload(ctx) }},
		{"SessionsMgr.GetSession", func(m *SessionsMgr, _ *ClientSession) error { _, err := m.GetSession(ctx, missing); return err }},
		{"SessionsMgr.DeleteSession", func(m *SessionsMgr, _ *ClientSession) error { return m.DeleteSession(ctx, missing) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore()
			d := validData(TypeTime)
			d.ID = missing // never stored
			s := newClientSession(st, d)
			m := NewSessionsMgr(st, func() time.Time { return t0 })
			err := tc.call(m, s)
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("got %v, want an error wrapping ErrNotFound", err)
			}
		})
	}
}

func TestClientSessionStoreErrorKeepsChanges(t *testing.T) {
	ctx := context.Background()
	base := baseClientData()
	st, s := newTestClient(t, base)
	boom := errors.New("boom")
	st.failErr = boom
	s.IncTimeCons(5)
	s.SetUpMbits(7)
	err := s.Save(ctx)
	if !errors.Is(err, boom) {
		t.Fatalf("Save(): got %v, want it to wrap the store's error", err)
	}
	if !strings.Contains(err.Error(), base.ID) {
		t.Errorf("Save(): message %q does not name the session", err)
	}
	st.failErr = nil
	if err := s.Save(ctx); err != nil {
		t.Fatalf("retried Save(): %v", err)
	}
	stored, _ := st.get(base.ID)
	if stored.TimeCons != base.TimeCons+5 || stored.UpMbits != 7 {
		t.Errorf("stored after retry: TimeCons %d, UpMbits %d; want %d, 7", stored.TimeCons, stored.UpMbits, base.TimeCons+5)
	}
}
