package main

import (
	"testing"
)

// drive plays n requests of device 0 through the workload, answering each
// with answer(kind), and returns the kinds sent and, per accounting session
// (Acct-Session-Id), the counters of its last answered request: what a
// server that stores before it answers holds.
func drive(t *testing.T, w *workload, n int, answer func(kind) byte) ([]kind, map[string]counters) {
	t.Helper()
	d := &w.devices[0]
	var kinds []kind
	last := map[string]counters{}
	prevSecs := map[string]uint64{}
	var sid [24]byte
	for range n {
		k := w.kind(d)
		c := w.counters(d, k)
		id := string(w.sessionID(&sid, d))
		if k == kindInterim || k == kindStop {
			if c.secs <= prevSecs[id] && w.mode != modeStop {
				t.Fatalf("session %s: Acct-Session-Time %d after %d: counters must grow", id, c.secs, prevSecs[id])
			}
			prevSecs[id] = c.secs
		}
		code := answer(k)
		if code == codeAcctResponse {
			last[id] = c
		}
		kinds = append(kinds, k)
		w.settle(d, k, c, code)
	}
	return kinds, last
}

func sum(m map[string]counters) totals {
	var t totals
	for _, c := range m {
		t.addSession(c)
	}
	return t
}

func answerAll(k kind) byte {
	if k == kindAuth {
		return codeAccessAccept
	}
	return codeAcctResponse
}

func TestWorkloadCycles(t *testing.T) {
	t.Run("mix", func(t *testing.T) {
		w := newWorkload(modeMix, 1, 2, 300, 1, 7)
		kinds, last := drive(t, w, 11, answerAll)
		want := []kind{kindAuth, kindStart, kindInterim, kindInterim, kindStop, kindAuth, kindStart, kindInterim, kindInterim, kindStop, kindAuth}
		for i := range want {
			if kinds[i] != want[i] {
				t.Fatalf("request %d: kind %d, want %d (all: %v)", i, kinds[i], want[i], kinds)
			}
		}
		if got, want := w.totals(), sum(last); got != want || got.Sessions != 2 || got.TimeSecs != 2*3*300 {
			t.Errorf("totals: got %+v, want %+v (2 sessions of 900 s)", got, want)
		}
	})
	t.Run("mix staggered start", func(t *testing.T) {
		// With K=2 the cycle has 5 steps: device 3 starts at its second
		// interim carrying the first's counters, device 4 at the Stop
		// carrying both interims'.
		w := newWorkload(modeMix, 5, 2, 300, 1, 7)
		if w.devices[3].step != 3 || w.devices[3].sent.secs != 300 || w.devices[4].step != 4 || w.devices[4].sent.secs != 600 {
			t.Errorf("device 3 step %d sent %+v; device 4 step %d sent %+v",
				w.devices[3].step, w.devices[3].sent, w.devices[4].step, w.devices[4].sent)
		}
	})
	t.Run("reject ends the cycle", func(t *testing.T) {
		w := newWorkload(modeMix, 1, 1, 60, 1, 7)
		kinds, _ := drive(t, w, 3, func(kind) byte { return codeAccessReject })
		if kinds[0] != kindAuth || kinds[1] != kindAuth || w.devices[0].cycle != 3 || w.totals() != (totals{}) {
			t.Errorf("kinds %v cycle %d totals %+v", kinds, w.devices[0].cycle, w.totals())
		}
	})
	t.Run("unanswered requests do not count", func(t *testing.T) {
		w := newWorkload(modeMix, 1, 3, 300, 1, 7)
		// Answer everything but the Stop: the session's total is its last
		// answered interim.
		_, last := drive(t, w, 6, func(k kind) byte {
			if k == kindStop {
				return 0
			}
			return answerAll(k)
		})
		if got, want := w.totals(), sum(last); got != want || got.TimeSecs != 900 {
			t.Errorf("totals: got %+v, want %+v", got, want)
		}
	})
	t.Run("interim grows past 32 bits", func(t *testing.T) {
		w := newWorkload(modeInterim, 1, 3, 86400, 3, 7)
		w.devices[0].down, w.devices[0].up = 4_000_000, 1_000_000
		_, last := drive(t, w, 20, answerAll)
		got := w.totals()
		if got != sum(last) || got.Sessions != 1 || got.TimeSecs != 20*86400 || got.OutputOctets < 1<<32 {
			t.Errorf("totals %+v, want one session of 20 days beyond 2^32 octets", got)
		}
	})
	t.Run("start and stop: one session per request", func(t *testing.T) {
		for _, m := range []mode{modeStart, modeStop} {
			w := newWorkload(m, 1, 3, 300, 1, 7)
			_, last := drive(t, w, 4, answerAll)
			got := w.totals()
			if got != sum(last) || got.Sessions != 4 || len(last) != 4 {
				t.Errorf("%v: totals %+v, %d distinct Acct-Session-Ids", m, got, len(last))
			}
			if m == modeStop && got.TimeSecs != 4*4*300 {
				t.Errorf("stop: %d s, want 4 sessions of 4 intervals", got.TimeSecs)
			}
		}
	})
}

func TestCountersDeterministic(t *testing.T) {
	a := newWorkload(modeInterim, 10, 3, 300, 42, 1)
	b := newWorkload(modeInterim, 10, 3, 300, 42, 2)
	c := newWorkload(modeInterim, 10, 3, 300, 43, 1)
	ca, cb, cc := a.counters(&a.devices[5], kindInterim), b.counters(&b.devices[5], kindInterim), c.counters(&c.devices[5], kindInterim)
	if ca != cb {
		t.Errorf("same seed: %+v and %+v", ca, cb)
	}
	if ca == cc {
		t.Errorf("another seed gave the same counters %+v", ca)
	}
}
