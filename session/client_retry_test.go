package session

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestClientSessionRetriedSave: whatever mix of lost replies (the store
// applied the Save, the caller got an error), failures (the store applied
// nothing), new usage between attempts and retries, each increment and
// top-up is stored once.
func TestClientSessionRetriedSave(t *testing.T) {
	type step struct {
		ops     func(*ClientSession)
		outcome string // "ok", "lost" (applied, error returned), "fail" (not applied), "reload" (Reload, no Save)
	}
	inc := func(secs uint) func(*ClientSession) { return func(s *ClientSession) { s.IncTimeCons(secs) } }
	usage := func(s *ClientSession) { s.IncTimeCons(60); s.IncDataCons(1); s.TopUpTime(600); s.TopUpData(2) }
	nothing := func(*ClientSession) {}
	tests := []struct {
		name  string
		steps []step
		// stored increase over the base session
		wantTimeCons, wantDataCons, wantTimeSecs, wantDataBytes uint64
	}{
		{"reply lost, retried", []step{{usage, "lost"}, {nothing, "ok"}}, 60, BytesPerMB, 600, 2 * BytesPerMB},
		{"failed, retried", []step{{usage, "fail"}, {nothing, "ok"}}, 60, BytesPerMB, 600, 2 * BytesPerMB},
		{"reply lost, retried three times", []step{{usage, "lost"}, {nothing, "lost"}, {nothing, "lost"}, {nothing, "ok"}}, 60, BytesPerMB, 600, 2 * BytesPerMB},
		{"reply lost, more usage, retried", []step{{usage, "lost"}, {inc(30), "ok"}}, 90, BytesPerMB, 600, 2 * BytesPerMB},
		{"failed, more usage, retried", []step{{usage, "fail"}, {inc(30), "ok"}}, 90, BytesPerMB, 600, 2 * BytesPerMB},
		{"lost, failed, lost, with usage between", []step{{usage, "lost"}, {inc(10), "fail"}, {inc(5), "lost"}, {inc(1), "ok"}}, 76, BytesPerMB, 600, 2 * BytesPerMB},
		{"saved, then lost and retried", []step{{usage, "ok"}, {usage, "lost"}, {nothing, "ok"}}, 120, 2 * BytesPerMB, 1200, 4 * BytesPerMB},
		// SetTimeCons replaces the consumption, whatever became of the
		// increment before it; the increment after it counts.
		{"reply lost, SetTimeCons, increment", []step{{usage, "lost"}, {func(s *ClientSession) { s.SetTimeCons(500); s.IncTimeCons(5) }, "ok"}}, 505 - 100, BytesPerMB, 600, 2 * BytesPerMB},
		// Reload drops what no Save confirmed: stored if the reply was lost,
		// gone if the Save failed; never sent again.
		{"reply lost, Reload, more usage", []step{{usage, "lost"}, {nothing, "reload"}, {inc(5), "ok"}}, 65, BytesPerMB, 600, 2 * BytesPerMB},
		{"failed, Reload, more usage", []step{{usage, "fail"}, {nothing, "reload"}, {inc(5), "ok"}}, 5, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			base := baseClientData() // TimeCons 100
			st, s := newTestClient(t, base)
			boom := errors.New("boom")
			for i, step := range tc.steps {
				step.ops(s)
				st.lostReply, st.failErr = nil, nil
				switch step.outcome {
				case "lost":
					st.lostReply = boom
				case "fail":
					st.failErr = boom
				case "reload":
					if err := s.Reload(ctx); err != nil {
						t.Fatalf("step %d: Reload(): %v", i, err)
					}
					continue
				}
				err := s.Save(ctx)
				if step.outcome == "ok" && err != nil {
					t.Fatalf("step %d: Save(): %v", i, err)
				}
				if step.outcome != "ok" && !errors.Is(err, boom) {
					t.Fatalf("step %d: Save(): got %v, want the store's error", i, err)
				}
			}
			stored, _ := st.get(base.ID)
			if got := stored.TimeCons - base.TimeCons; got != tc.wantTimeCons {
				t.Errorf("time_cons: stored %d more, want %d more", got, tc.wantTimeCons)
			}
			if got := stored.DataConsBytes - base.DataConsBytes; got != tc.wantDataCons {
				t.Errorf("data_cons_bytes: stored %d more, want %d more", got, tc.wantDataCons)
			}
			if got := stored.TimeSecs - base.TimeSecs; got != tc.wantTimeSecs {
				t.Errorf("time_secs: stored %d more, want %d more", got, tc.wantTimeSecs)
			}
			if got := stored.DataBytes - base.DataBytes; got != tc.wantDataBytes {
				t.Errorf("data_bytes: stored %d more, want %d more", got, tc.wantDataBytes)
			}
			if got := s.Data(); got != stored {
				t.Errorf("local state after the last Save:\n got %+v\nwant %+v", got, stored)
			}
		})
	}
}

// TestClientSessionConcurrentUse: one ClientSession, a ticker goroutine
// counting 100 seconds while another counts traffic and saves. Every second
// and every byte is stored, once, whether the ticks land while a Save waits
// for the store or anywhere else.
func TestClientSessionConcurrentUse(t *testing.T) {
	for _, tc := range []struct {
		name string
		// duringSave: the ticker ticks 10 times inside each of the first
		// 10 Saves, after Save has taken what it sends.
		duringSave bool
	}{
		{"ticks while each Save waits for the store", true},
		{"free-running", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			base := validData(TypeTimeOrData)
			st, s := newTestClient(t, base)
			ticker := make(chan chan struct{}) // a Save asks for 10 ticks
			tickerDone := make(chan struct{})
			if tc.duringSave {
				st.duringSave = func() {
					ticked := make(chan struct{})
					select {
					case ticker <- ticked:
						<-ticked
					case <-tickerDone:
					}
				}
			}
			var wg sync.WaitGroup
			wg.Go(func() { // the ticker
				defer close(tickerDone)
				for range 10 {
					var ticked chan struct{}
					if tc.duringSave {
						ticked = <-ticker
					}
					for range 10 {
						s.IncTimeCons(1)
					}
					if ticked != nil {
						close(ticked)
					}
				}
			})
			saves := 0
			wg.Go(func() { // the traffic counter
				for {
					s.IncDataCons(1)
					saves++
					if err := s.Save(ctx); err != nil {
						t.Errorf("Save(): %v", err)
						return
					}
					select {
					case <-tickerDone:
						return
					default:
					}
				}
			})
			wg.Wait()
			if err := s.Save(ctx); err != nil {
				t.Fatalf("last Save(): %v", err)
			}
			stored, _ := st.get(base.ID)
			if stored.TimeCons != 100 {
				t.Errorf("stored time_cons: got %d, want 100", stored.TimeCons)
			}
			if want := uint64(saves) * BytesPerMB; stored.DataConsBytes != want {
				t.Errorf("stored data_cons_bytes: got %d, want %d", stored.DataConsBytes, want)
			}
			if got := s.Data(); got != stored {
				t.Errorf("local state:\n got %+v\nwant %+v", got, stored)
			}
		})
	}
}

// TestClientSessionChangesDuringSave: what is set while a Save waits for the
// store shows in the local state after it and is written by the next Save;
// what the Save sent is not sent again.
func TestClientSessionChangesDuringSave(t *testing.T) {
	ctx := context.Background()
	base := baseClientData() // TimeCons 100, DownMbits 10
	st, s := newTestClient(t, base)
	s.SetUpMbits(3)
	s.SetTimeCons(200)
	s.IncTimeCons(1)
	st.duringSave = func() {
		st.duringSave = nil // this Save only
		s.SetDownMbits(42)
		s.IncTimeCons(5)
		s.SetProvider("late")
	}
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ := st.get(base.ID)
	if stored.UpMbits != 3 || stored.TimeCons != 201 || stored.DownMbits != 10 || stored.Provider != base.Provider {
		t.Errorf("stored after the first Save: up %d, time_cons %d, down %d, provider %q; want 3, 201, 10, %q",
			stored.UpMbits, stored.TimeCons, stored.DownMbits, stored.Provider, base.Provider)
	}
	local := s.Data()
	if local.UpMbits != 3 || local.TimeCons != 206 || local.DownMbits != 42 || local.Provider != "late" {
		t.Errorf("local after the first Save: up %d, time_cons %d, down %d, provider %q; want 3, 206, 42, late",
			local.UpMbits, local.TimeCons, local.DownMbits, local.Provider)
	}
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	last := st.saves[len(st.saves)-1]
	if want := FieldDownMbits | FieldProvider; last.Set != want {
		t.Errorf("second Save sets %b, want %b", last.Set, want)
	}
	if last.IncTimeCons != 5 {
		t.Errorf("second Save sends a time increment of %d, want 5", last.IncTimeCons)
	}
	stored, _ = st.get(base.ID)
	if stored != s.Data() || stored.TimeCons != 206 || stored.DownMbits != 42 {
		t.Errorf("stored after the second Save:\n got %+v\nwant %+v", stored, s.Data())
	}
}

// TestClientSessionSaveWaitsForTurn: Saves of one ClientSession run one at a
// time; one waiting for its turn obeys its context, and the getters and
// increments do not wait at all.
func TestClientSessionSaveWaitsForTurn(t *testing.T) {
	base := baseClientData()
	st, s := newTestClient(t, base)
	entered, release := make(chan struct{}), make(chan struct{})
	st.duringSave = func() {
		st.duringSave = nil
		close(entered)
		<-release
	}
	s.IncTimeCons(1)
	first := make(chan error, 1)
	go func() { first <- s.Save(context.Background()) }()
	<-entered

	s.IncTimeCons(2) // does not wait for the Save
	if got := s.TimeConsumption(); got != uint(base.TimeCons)+3 {
		t.Errorf("TimeConsumption() during a Save: got %d, want %d", got, base.TimeCons+3)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Save(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Save() while another runs, context canceled: got %v, want context.Canceled", err)
	}
	if err := s.Reload(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Reload() while a Save runs, context canceled: got %v, want context.Canceled", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Save(): %v", err)
	}
	if err := s.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	if stored, _ := st.get(base.ID); stored.TimeCons != base.TimeCons+3 {
		t.Errorf("stored time_cons: got %d, want %d", stored.TimeCons, base.TimeCons+3)
	}
}
