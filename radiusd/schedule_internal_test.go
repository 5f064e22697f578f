package radiusd

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hotspot-radius/hsradius/session"
)

// schedStore is the schedule as Redis keeps it (one entry per NAS session,
// a write replaces it, a claim takes the due ones), with a gate that holds
// every write until it is opened, and a report of each finished write.
type schedStore struct {
	open  chan struct{} // closed: writes go through
	wrote chan schedWrite

	mu          sync.Mutex
	due         map[string]time.Time // acct id → when
	inFlight    int
	maxInFlight int
	sessions    []session.Data // the device's sessions, for Record
}

type schedWrite struct {
	acctID string
	at     time.Time
}

func newSchedStore(open bool, sessions ...session.Data) *schedStore {
	st := &schedStore{open: make(chan struct{}), wrote: make(chan schedWrite, 1024), due: map[string]time.Time{}, sessions: sessions}
	if open {
		close(st.open)
	}
	return st
}

func (st *schedStore) ScheduleEnd(_ context.Context, _ string, _ session.MAC, acctID string, at time.Time) error {
	st.mu.Lock()
	st.inFlight++
	st.maxInFlight = max(st.maxInFlight, st.inFlight)
	st.mu.Unlock()
	<-st.open
	st.mu.Lock()
	st.inFlight--
	st.due[acctID] = at
	st.mu.Unlock()
	st.wrote <- schedWrite{acctID, at}
	return nil
}

func (st *schedStore) ClaimDue(_ context.Context, now time.Time, limit int) ([]session.RecordRef, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []session.RecordRef
	for id, at := range st.due {
		if !at.After(now) && len(out) < limit {
			out = append(out, session.RecordRef{NAS: "nas1", MAC: testMAC, SessionID: id})
			delete(st.due, id)
		}
	}
	return out, nil
}

func (st *schedStore) Record(_ context.Context, nas string, mac session.MAC, acctID string) (session.AcctRecord, []session.Data, error) {
	rec := session.AcctRecord{NAS: nas, SessionID: acctID, MAC: mac, Open: true, Feeds: st.sessions[0].ID, UpdatedAt: testNow}
	return rec, append([]session.Data(nil), st.sessions...), nil
}

func (st *schedStore) OpenRecords(context.Context, session.MAC) ([]session.AcctRecord, error) {
	return nil, nil
}

// next waits for the next finished write.
func (st *schedStore) next(t *testing.T) schedWrite {
	t.Helper()
	select {
	case w := <-st.wrote:
		return w
	case <-time.After(10 * time.Second): // a safety net: writes are signalled
		t.Fatal("no schedule write")
		return schedWrite{}
	}
}

// schedEnv is a server with enforcement on st; run starts RunEnforcement.
func schedEnv(t *testing.T, st *schedStore, queue int) (*testEnv, func()) {
	t.Helper()
	nas := testNAS()
	nas.CoAPort = 3799
	e := newEnv(t, withNAS(nas), func(c *Config) {
		c.AcctInterimInterval = 5 * time.Minute
		c.Enforce = &EnforceConfig{Store: st, Queue: queue, ScheduleEvery: 10 * time.Millisecond}
	})
	run := func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = e.srv.RunEnforcement(ctx); close(done) }()
		t.Cleanup(func() {
			select {
			case <-st.open:
			default:
				close(st.open)
			}
			cancel()
			<-done
		})
	}
	return e, run
}

// account hands afterAccounting an applied Start (a new record, with the
// device's sessions) or an ordinary Interim-Update (no sessions).
func account(e *testEnv, acctID string, start bool, sessions []session.Data) {
	ev := session.AcctEvent{Kind: session.AcctInterim, SessionID: acctID, MAC: testMAC, Now: e.clock.Now()}
	res := session.AcctResult{Outcome: session.AcctApplied, Feeds: sessions[0].ID, Left: true}
	if start {
		ev.Kind, res.NewRecord, res.Sessions = session.AcctStart, true, sessions
	}
	e.srv.afterAccounting(e.srv.nas.byName("nas1"), ev, res)
}

// TestScheduleBounded: a burst of new NAS sessions while Redis is slow
// costs a bounded number of goroutines and queued writes (it used to start
// one goroutine per NAS session); what does not fit is dropped and counted.
func TestScheduleBounded(t *testing.T) {
	const queue, burst = 4, 50
	sessions := []session.Data{sess(1, session.TypeTime, nil)}
	st := newSchedStore(false, sessions...)
	e, run := schedEnv(t, st, queue)
	run()
	for i := range burst {
		account(e, fmt.Sprintf("s%d", i), true, sessions)
	}
	dropped := int(testutil.ToFloat64(e.srv.cfg.Metrics.schedDropped.(prometheus.Collector)))
	accepted := burst - dropped
	if accepted < queue || accepted > queue+scheduleWriters {
		t.Errorf("%d writes accepted of %d, want %d to %d (the queue, and the writers' one each)", accepted, burst, queue, queue+scheduleWriters)
	}
	close(st.open)
	for range accepted {
		if w := st.next(t); !w.at.Equal(testNow.Add(time.Hour)) {
			t.Errorf("%s scheduled at %v, want the session's end %v", w.acctID, w.at, testNow.Add(time.Hour))
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.maxInFlight > scheduleWriters {
		t.Errorf("%d schedule writes at once, want at most %d", st.maxInFlight, scheduleWriters)
	}
}

// TestScheduleDropCaughtUp: a NAS session whose schedule write was dropped
// is put on the schedule by its next interim, and the periodic scheduler
// then schedules its end. Without a drop an interim writes nothing.
func TestScheduleDropCaughtUp(t *testing.T) {
	sessions := []session.Data{sess(1, session.TypeTime, nil)}
	st := newSchedStore(true, sessions...)
	e, run := schedEnv(t, st, 1)

	// No writer runs yet: the queue takes one, the next is dropped.
	account(e, "control", false, sessions)
	if n := len(e.srv.enf.sched); n != 0 {
		t.Fatalf("an interim before any drop queued %d writes, want 0", n)
	}
	account(e, "queued", true, sessions)
	account(e, "dropped", true, sessions)
	if got := testutil.ToFloat64(e.srv.cfg.Metrics.schedDropped.(prometheus.Collector)); got != 1 {
		t.Fatalf("radiusd_schedule_dropped_total = %v, want 1", got)
	}
	run()
	if w := st.next(t); w.acctID != "queued" || !w.at.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("first write %+v, want queued at its end", w)
	}

	// Its next interim puts the dropped one on the schedule, due now; the
	// scheduler claims it and schedules its end.
	account(e, "dropped", false, sessions)
	if w := st.next(t); w.acctID != "dropped" || !w.at.Equal(testNow) {
		t.Fatalf("write %+v, want dropped due now", w)
	}
	if w := st.next(t); w.acctID != "dropped" || !w.at.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("write %+v, want dropped at its end %v (by the scheduler)", w, testNow.Add(time.Hour))
	}

	// One interim interval and a minute later every NAS session has sent
	// an interim: the interims stop rescheduling.
	if !e.srv.enf.catchingUp(e.clock.Now().Add(6*time.Minute - time.Second)) {
		t.Error("not catching up within an interim interval and a minute of the drop")
	}
	if e.srv.enf.catchingUp(e.clock.Now().Add(6 * time.Minute)) {
		t.Error("still catching up an interim interval and a minute after the drop")
	}
}
