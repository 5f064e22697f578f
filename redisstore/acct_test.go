package redisstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// pkt is an accounting packet of NAS "nas-a" whose event time is also the
// server's arrival time.
func pkt(kind session.AcctKind, mac session.MAC, acctID string, st, in, out uint64, at time.Time) session.AcctEvent {
	return session.AcctEvent{
		Kind: kind, NAS: "nas-a", SessionID: acctID, MAC: mac,
		SessionTime: st, InputOctets: in, OutputOctets: out,
		EventTime: at, Now: at,
	}
}

func account(t *testing.T, s *Store, ev session.AcctEvent) session.AcctResult {
	t.Helper()
	res, err := s.Account(t.Context(), ev)
	if err != nil {
		t.Fatalf("Account(%s %s st=%d in=%d out=%d): %v", ev.Kind, ev.SessionID, ev.SessionTime, ev.InputOctets, ev.OutputOctets, err)
	}
	return res
}

// use is a session's total consumption.
type use struct{ secs, bytes uint64 }

// want is what one accounting event must return and leave behind.
type want struct {
	outcome        session.AcctOutcome
	charges        []session.Charge
	feeds          string
	moved          bool
	unbilledSecs   uint64
	unbilledBytes  uint64
	cons           map[string]use // every session of the device after the event
	skipConsInHash bool
}

func ch(id string, secs, bytes uint64) session.Charge {
	return session.Charge{SessionID: id, Secs: secs, Bytes: bytes}
}

// check compares res with w, and w.cons with the session hashes in Redis.
func check(t *testing.T, s *Store, step string, res session.AcctResult, w want) {
	t.Helper()
	if res.Outcome != w.outcome {
		t.Errorf("%s: outcome %v, want %v", step, res.Outcome, w.outcome)
	}
	if !slices.Equal(res.Charges, w.charges) {
		t.Errorf("%s: charges %v, want %v", step, res.Charges, w.charges)
	}
	if res.Feeds != w.feeds {
		t.Errorf("%s: feeds %q, want %q", step, res.Feeds, w.feeds)
	}
	if res.Moved != w.moved {
		t.Errorf("%s: moved %v, want %v", step, res.Moved, w.moved)
	}
	if res.UnbilledSecs != w.unbilledSecs || res.UnbilledBytes != w.unbilledBytes {
		t.Errorf("%s: unbilled %d s %d B, want %d s %d B", step, res.UnbilledSecs, res.UnbilledBytes, w.unbilledSecs, w.unbilledBytes)
	}
	if w.cons == nil {
		return
	}
	// The sessions come back when the server needs the current one's limits
	// (a new or moved record); the hashes below are checked every time.
	if res.Outcome == session.AcctApplied && (res.NewRecord || res.Moved) && len(res.Sessions) != len(w.cons) {
		t.Errorf("%s: %d sessions in the result, want %d", step, len(res.Sessions), len(w.cons))
	}
	if res.Outcome != session.AcctApplied || !res.NewRecord && !res.Moved {
		if res.Sessions != nil {
			t.Errorf("%s: %d sessions in the result of an update that neither began nor moved the record", step, len(res.Sessions))
		}
	}
	for i, d := range res.Sessions {
		if i > 0 && !session.Less(res.Sessions[i-1], d) {
			t.Errorf("%s: sessions not in creation order: %s before %s", step, res.Sessions[i-1].ID, d.ID)
		}
		wu, ok := w.cons[d.ID]
		if !ok {
			t.Errorf("%s: unexpected session %s in the result", step, d.ID)
			continue
		}
		if got := (use{d.TimeCons, d.DataConsBytes}); got != wu {
			t.Errorf("%s: result session %s consumed %+v, want %+v", step, d.ID, got, wu)
		}
	}
	for id, wu := range w.cons {
		if got := consumed(t, s, id); got != wu {
			t.Errorf("%s: hash of %s holds %+v, want %+v", step, id, got, wu)
		}
	}
}

// consumed reads a session's consumption from its hash.
func consumed(t *testing.T, s *Store, id string) use {
	t.Helper()
	h := hgetall(t, s, keyOf(t, id))
	secs, err1 := strconv.ParseUint(h["time_cons"], 10, 64)
	bytes, err2 := strconv.ParseUint(h["data_cons_bytes"], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("hash of %s: time_cons %q, data_cons_bytes %q", id, h["time_cons"], h["data_cons_bytes"])
	}
	return use{secs, bytes}
}

// step is one packet of a scenario and what it must do.
type step struct {
	name string
	ev   session.AcctEvent
	want want
}

func run(t *testing.T, s *Store, steps []step) {
	t.Helper()
	for _, st := range steps {
		check(t, s, st.name, account(t, s, st.ev), st.want)
	}
}

func ttl(t *testing.T, s *Store, key string) time.Duration {
	t.Helper()
	d, err := s.rdb.TTL(t.Context(), key).Result()
	if err != nil {
		t.Fatalf("TTL %s: %v", key, err)
	}
	return d
}

// checkTTL accepts a TTL up to 2 s below want: a real Redis counts down.
func checkTTL(t *testing.T, s *Store, key string, want time.Duration) {
	t.Helper()
	if got := ttl(t, s, key); got > want || got < want-2*time.Second {
		t.Errorf("TTL of %s: got %v, want %v", key, got, want)
	}
}

func testAcctLifecycle(t *testing.T, s *Store) {
	a := create(t, s, testMAC, todSpec(3600, 1000))
	rec := recordKey(testMAC, "nas-a", "acct-1")
	ev := func(k session.AcctKind, st, in, out uint64) session.AcctEvent {
		return pkt(k, testMAC, "acct-1", st, in, out, t0.Add(time.Duration(st)*time.Second))
	}
	run(t, s, []step{
		{"start", ev(session.AcctStart, 0, 0, 0), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {0, 0}}}},
	})
	if got := hgetall(t, s, keyOf(t, a))["started_at"]; got != unixStr(t0) {
		t.Errorf("started_at after Start: got %q, want %q", got, unixStr(t0))
	}
	h := hgetall(t, s, rec)
	for f, w := range map[string]string{"state": "open", "session": a, "mac": string(testMAC), "nas": "nas-a", "acct_session_id": "acct-1", "started_at": unixStr(t0)} {
		if h[f] != w {
			t.Errorf("record %s after Start: got %q, want %q", f, h[f], w)
		}
	}
	checkTTL(t, s, rec, DefaultOpenRecordTTL)
	run(t, s, []step{
		{"interim 60", ev(session.AcctInterim, 60, 1000, 5000), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 6000)}, feeds: a, cons: map[string]use{a: {60, 6000}}}},
		{"interim 120", ev(session.AcctInterim, 120, 3000, 9000), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 6000)}, feeds: a, cons: map[string]use{a: {120, 12000}}}},
		{"interim 180", ev(session.AcctInterim, 180, 4000, 20000), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 12000)}, feeds: a, cons: map[string]use{a: {180, 24000}}}},
	})
	checkTTL(t, s, rec, DefaultOpenRecordTTL)
	run(t, s, []step{
		{"stop", ev(session.AcctStop, 200, 4500, 21000), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 20, 1500)}, feeds: a, cons: map[string]use{a: {200, 25500}}}},
	})
	h = hgetall(t, s, rec)
	for f, w := range map[string]string{
		"state": "stopped", "session_time": "200", "in_octets": "4500", "out_octets": "21000",
		"stopped_at": unixStr(t0.Add(200 * time.Second)), "charged_secs": "200", "charged_bytes": "25500",
	} {
		if h[f] != w {
			t.Errorf("record %s after Stop: got %q, want %q", f, h[f], w)
		}
	}
	checkTTL(t, s, rec, DefaultStoppedRecordTTL)
	if got := hgetall(t, s, keyOf(t, a))["started_at"]; got != unixStr(t0) {
		t.Errorf("started_at after Stop: got %q, want %q", got, unixStr(t0))
	}
	// The NAS's open index lost the record with its Stop.
	if n, err := s.rdb.ZCard(t.Context(), DefaultPrefix+"nas:{nas-a}:open").Result(); err != nil || n != 0 {
		t.Errorf("open index after Stop: %d members, %v", n, err)
	}
}

func testAcctDuplicate(t *testing.T, s *Store) {
	a := create(t, s, testMAC, timeSpec(3600))
	i60 := pkt(session.AcctInterim, testMAC, "x", 60, 100, 200, t0.Add(time.Minute))
	applied := want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 300)}, feeds: a, cons: map[string]use{a: {60, 300}}}
	stale := want{outcome: session.AcctStale, feeds: a, cons: map[string]use{a: {60, 300}}}
	retried := i60
	retried.Now = retried.Now.Add(3 * time.Second) // a NAS retransmission arrives later
	run(t, s, []step{
		{"interim", i60, applied},
		{"duplicate", i60, stale},
		{"retransmission", retried, stale},
	})
	// Same Acct-Session-Id on another NAS is another record.
	other := i60
	other.NAS = "nas-b"
	run(t, s, []step{{"other nas", other, want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 300)}, feeds: a, cons: map[string]use{a: {120, 600}}}}})
}

// testAcctShuffled delivers one accounting session's packets duplicated and
// in random orders: whatever the order, the session is charged the highest
// counters exactly once, and each delivery's outcome is what the rules say.
func testAcctShuffled(t *testing.T, s *Store) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			mac := session.MAC(fmt.Sprintf("02:00:00:00:01:%02x", seed))
			a := create(t, s, mac, todSpec(1<<20, 1000))
			at := func(st uint64) time.Time { return t0.Add(time.Duration(st) * time.Second) }
			pkts := []session.AcctEvent{pkt(session.AcctStart, mac, "r", 0, 0, 0, at(0))}
			for k := uint64(1); k <= 8; k++ {
				pkts = append(pkts, pkt(session.AcctInterim, mac, "r", 60*k, 1000*k+k*k, 5000*k, at(60*k)))
			}
			pkts = append(pkts, pkt(session.AcctStop, mac, "r", 500, 9000, 45000, at(500)))
			r := rand.New(rand.NewPCG(seed, 0x5eed))
			for range 6 {
				pkts = append(pkts, pkts[r.IntN(len(pkts))])
			}
			r.Shuffle(len(pkts), func(i, j int) { pkts[i], pkts[j] = pkts[j], pkts[i] })

			// The model: the record holds the highest counters seen.
			var exists, stopped bool
			var lastT, lastB uint64
			var sumT, sumB uint64
			for i, ev := range pkts {
				res := account(t, s, ev)
				b := ev.InputOctets + ev.OutputOctets
				w := want{outcome: session.AcctApplied, feeds: a}
				switch {
				case ev.Kind == session.AcctStart && exists:
					w.outcome = session.AcctStale
				case ev.Kind == session.AcctStart:
				case stopped:
					w.outcome = session.AcctAfterStop
				case exists && ev.SessionTime <= lastT:
					w.outcome = session.AcctStale
				}
				if w.outcome == session.AcctApplied {
					if dt, db := ev.SessionTime-lastT, b-lastB; dt+db > 0 {
						w.charges = []session.Charge{ch(a, dt, db)}
					}
					exists, stopped = true, ev.Kind == session.AcctStop
					lastT, lastB = ev.SessionTime, b
				}
				check(t, s, fmt.Sprintf("delivery %d (%s st=%d)", i, ev.Kind, ev.SessionTime), res, w)
				for _, c := range res.Charges {
					sumT, sumB = sumT+c.Secs, sumB+c.Bytes
				}
			}
			if got, w := consumed(t, s, a), (use{500, 54000}); got != w || sumT != w.secs || sumB != w.bytes {
				t.Errorf("total: hash %+v, sum of charges %d s %d B; want %+v", got, sumT, sumB, w)
			}
			if got := hgetall(t, s, keyOf(t, a))["started_at"]; got != unixStr(t0) {
				t.Errorf("started_at: got %q, want %q", got, unixStr(t0))
			}
			if got := hgetall(t, s, recordKey(mac, "nas-a", "r"))["state"]; got != "stopped" {
				t.Errorf("record state: got %q, want stopped", got)
			}
		})
	}
}

func testAcctAfterStop(t *testing.T, s *Store) {
	a := create(t, s, testMAC, timeSpec(3600))
	done := map[string]use{a: {100, 700}}
	after := want{outcome: session.AcctAfterStop, feeds: a, cons: done}
	run(t, s, []step{
		{"start", pkt(session.AcctStart, testMAC, "x", 0, 0, 0, t0), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {0, 0}}}},
		{"stop", pkt(session.AcctStop, testMAC, "x", 100, 300, 400, t0.Add(100*time.Second)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 100, 700)}, feeds: a, cons: done}},
		{"late interim", pkt(session.AcctInterim, testMAC, "x", 160, 900, 900, t0.Add(160*time.Second)), after},
		{"repeated stop", pkt(session.AcctStop, testMAC, "x", 100, 300, 400, t0.Add(100*time.Second)), after},
		{"bigger stop", pkt(session.AcctStop, testMAC, "x", 200, 600, 800, t0.Add(200*time.Second)), after},
	})
	rec := recordKey(testMAC, "nas-a", "x")
	if h := hgetall(t, s, rec); h["state"] != "stopped" || h["session_time"] != "100" {
		t.Errorf("record after late packets: %v", h)
	}
	checkTTL(t, s, rec, DefaultStoppedRecordTTL)
}

func testAcctGigawords(t *testing.T, s *Store) {
	a := create(t, s, testMAC, dataSpec(1_000_000)) // 10¹² bytes
	in1, out1 := uint64(5<<32+123), uint64(3<<32+7)
	in2, out2 := uint64(7<<32+1), uint64(3<<32+9)
	run(t, s, []step{
		{"above 4 GiB", pkt(session.AcctInterim, testMAC, "g", 600, in1, out1, t0), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 600, in1+out1)}, feeds: a, cons: map[string]use{a: {600, in1 + out1}}}},
		{"more gigawords", pkt(session.AcctInterim, testMAC, "g", 1200, in2, out2, t0.Add(600*time.Second)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 600, in2+out2-in1-out1)}, feeds: a, cons: map[string]use{a: {1200, in2 + out2}}}},
	})
	if h := hgetall(t, s, recordKey(testMAC, "nas-a", "g")); h["in_octets"] != strconv.FormatUint(in2, 10) || h["out_octets"] != strconv.FormatUint(out2, 10) {
		t.Errorf("record counters: in %s out %s, want %d %d", h["in_octets"], h["out_octets"], in2, out2)
	}
	// Just below the exact range of the script's numbers.
	const top = 1<<53 - 1
	big := create(t, s, "02:00:00:00:00:53", dataSpec(9e9)) // 9·10¹⁵ bytes
	run(t, s, []step{
		{"2^53-1", pkt(session.AcctInterim, "02:00:00:00:00:53", "g", 1, top, 0, t0), want{outcome: session.AcctApplied, charges: []session.Charge{ch(big, 1, top)}, feeds: big, cons: map[string]use{big: {1, top}}}},
	})
	for _, tc := range []struct {
		name        string
		st, in, out uint64
	}{
		{"input above 2^53", 1200, 1<<53 + 1, out2},
		{"output above 2^53", 1200, in2, 1 << 60},
		{"session time above 2^53", 1 << 53, in2, out2},
		{"sum above 2^53", 1200, 1<<52 + 1, 1 << 52},
	} {
		_, err := s.Account(t.Context(), pkt(session.AcctInterim, testMAC, "g", tc.st, tc.in, tc.out, t0.Add(time.Hour)))
		if !errors.Is(err, session.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tc.name, err)
		}
		// On a new record the whole sum is the delta: it would be rounded.
		_, err = s.Account(t.Context(), pkt(session.AcctInterim, testMAC, "g-new", tc.st, tc.in, tc.out, t0.Add(time.Hour)))
		if !errors.Is(err, session.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tc.name, err)
		}
	}
	if got := consumed(t, s, a); got != (use{1200, in2 + out2}) {
		t.Errorf("after rejected counters: %+v", got)
	}
}

func testAcctCounterReset(t *testing.T, s *Store) {
	a := create(t, s, testMAC, todSpec(3600, 1000))
	run(t, s, []step{
		{"interim 60", pkt(session.AcctInterim, testMAC, "c", 60, 1000, 2000, t0), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 3000)}, feeds: a, cons: map[string]use{a: {60, 3000}}}},
		// Time advanced, input octets dropped: a reset (or a 32-bit wrap
		// without Gigawords); the new input counts from zero, output as usual.
		{"octets reset", pkt(session.AcctInterim, testMAC, "c", 120, 300, 2500, t0.Add(time.Minute)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 800)}, feeds: a, cons: map[string]use{a: {120, 3800}}}},
		{"after reset", pkt(session.AcctInterim, testMAC, "c", 180, 400, 2600, t0.Add(2*time.Minute)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 200)}, feeds: a, cons: map[string]use{a: {180, 4000}}}},
		// Session time went back: older than the record, not a reset.
		{"time lower", pkt(session.AcctInterim, testMAC, "c", 100, 9000, 9000, t0.Add(3*time.Minute)), want{outcome: session.AcctStale, feeds: a, cons: map[string]use{a: {180, 4000}}}},
		// Same session time: only growth counts.
		{"same time, more octets", pkt(session.AcctInterim, testMAC, "c", 180, 450, 2600, t0.Add(2*time.Minute)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 0, 50)}, feeds: a, cons: map[string]use{a: {180, 4050}}}},
		{"same time, fewer octets", pkt(session.AcctInterim, testMAC, "c", 180, 10, 10, t0.Add(2*time.Minute)), want{outcome: session.AcctStale, feeds: a, cons: map[string]use{a: {180, 4050}}}},
	})
	if h := hgetall(t, s, recordKey(testMAC, "nas-a", "c")); h["in_octets"] != "450" || h["out_octets"] != "2600" || h["session_time"] != "180" {
		t.Errorf("record after resets: %v", h)
	}
}

func testAcctNoStart(t *testing.T, s *Store) {
	a := create(t, s, testMAC, timeSpec(3600))
	at := t0.Add(time.Hour)
	run(t, s, []step{
		{"first interim", pkt(session.AcctInterim, testMAC, "n", 90, 10, 20, at), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 90, 30)}, feeds: a, cons: map[string]use{a: {90, 30}}}},
	})
	start := unixStr(at.Add(-90 * time.Second))
	if got := hgetall(t, s, keyOf(t, a))["started_at"]; got != start {
		t.Errorf("session started_at: got %q, want %q (EventTime − SessionTime)", got, start)
	}
	if got := hgetall(t, s, recordKey(testMAC, "nas-a", "n"))["started_at"]; got != start {
		t.Errorf("record started_at: got %q, want %q", got, start)
	}
	// A Stop with no Start nor interim seen counts too.
	b := create(t, s, "02:00:00:00:00:02", timeSpec(3600))
	run(t, s, []step{
		{"lone stop", pkt(session.AcctStop, "02:00:00:00:00:02", "n", 30, 5, 5, at), want{outcome: session.AcctApplied, charges: []session.Charge{ch(b, 30, 10)}, feeds: b, cons: map[string]use{b: {30, 10}}}},
	})
}

func testAcctSpillTime(t *testing.T, s *Store) {
	a := create(t, s, testMAC, timeSpec(100))
	b := create(t, s, testMAC, timeSpec(100))
	at := func(st int) time.Time { return t0.Add(time.Duration(st) * time.Second) }
	run(t, s, []step{
		{"start", pkt(session.AcctStart, testMAC, "sp", 0, 0, 0, at(0)), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {0, 0}, b: {0, 0}}}},
		{"interim 150", pkt(session.AcctInterim, testMAC, "sp", 150, 400, 600, at(150)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 100, 1000), ch(b, 50, 0)}, feeds: b, moved: true, cons: map[string]use{a: {100, 1000}, b: {50, 0}}}},
		{"interim 180", pkt(session.AcctInterim, testMAC, "sp", 180, 500, 600, at(180)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(b, 30, 100)}, feeds: b, cons: map[string]use{a: {100, 1000}, b: {80, 100}}}},
	})
	// The session reached by spill-over started when the event happened.
	if got := hgetall(t, s, keyOf(t, b))["started_at"]; got != unixStr(at(150)) {
		t.Errorf("started_at of %s: got %q, want %q", b, got, unixStr(at(150)))
	}
	if got := hgetall(t, s, recordKey(testMAC, "nas-a", "sp"))["session"]; got != b {
		t.Errorf("record feeds %q, want %q", got, b)
	}
}

func testAcctSpillData(t *testing.T, s *Store) {
	a := create(t, s, testMAC, dataSpec(1))
	b := create(t, s, testMAC, dataSpec(1))
	run(t, s, []step{
		{"start", pkt(session.AcctStart, testMAC, "d", 0, 0, 0, t0), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {0, 0}, b: {0, 0}}}},
		{"1.4 MB", pkt(session.AcctInterim, testMAC, "d", 60, 400_000, 1_000_000, t0.Add(time.Minute)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 1_000_000), ch(b, 0, 400_000)}, feeds: b, moved: true, cons: map[string]use{a: {60, 1_000_000}, b: {0, 400_000}}}},
		{"1.5 MB", pkt(session.AcctInterim, testMAC, "d", 120, 500_000, 1_000_000, t0.Add(2*time.Minute)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(b, 60, 100_000)}, feeds: b, cons: map[string]use{a: {60, 1_000_000}, b: {60, 500_000}}}},
	})
}

// testAcctSpillTimeOrData: a time_or_data session that runs out of data while
// time remains hands the data over; the time stays on it.
func testAcctSpillTimeOrData(t *testing.T, s *Store) {
	a := create(t, s, testMAC, todSpec(3600, 1))
	b := create(t, s, testMAC, todSpec(3600, 10))
	run(t, s, []step{
		{"start", pkt(session.AcctStart, testMAC, "td", 0, 0, 0, t0), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {0, 0}, b: {0, 0}}}},
		{"data runs out", pkt(session.AcctInterim, testMAC, "td", 100, 500_000, 1_000_000, t0.Add(100*time.Second)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 100, 1_000_000), ch(b, 0, 500_000)}, feeds: b, moved: true, cons: map[string]use{a: {100, 1_000_000}, b: {0, 500_000}}}},
		{"on the next", pkt(session.AcctInterim, testMAC, "td", 160, 600_000, 1_000_000, t0.Add(160*time.Second)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(b, 60, 100_000)}, feeds: b, cons: map[string]use{a: {100, 1_000_000}, b: {60, 600_000}}}},
	})
}

// testAcctOverage: when no session is left the last one charged absorbs what
// the NAS reports: the sessions' consumption always sums to the counters.
func testAcctOverage(t *testing.T, s *Store) {
	t.Run("one session", func(t *testing.T) {
		mac := session.MAC("02:00:00:00:00:0a")
		a := create(t, s, mac, timeSpec(100))
		run(t, s, []step{
			{"start", pkt(session.AcctStart, mac, "o", 0, 0, 0, t0), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {0, 0}}}},
			{"interim 250", pkt(session.AcctInterim, mac, "o", 250, 10, 10, t0.Add(250*time.Second)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 250, 20)}, feeds: a, cons: map[string]use{a: {250, 20}}}},
			{"stop 300", pkt(session.AcctStop, mac, "o", 300, 10, 30, t0.Add(300*time.Second)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 50, 20)}, feeds: a, cons: map[string]use{a: {300, 40}}}},
		})
	})
	t.Run("two sessions", func(t *testing.T) {
		mac := session.MAC("02:00:00:00:00:0b")
		a := create(t, s, mac, timeSpec(100))
		b := create(t, s, mac, timeSpec(100))
		var total uint64
		for i, ev := range []session.AcctEvent{
			pkt(session.AcctStart, mac, "o", 0, 0, 0, t0),
			pkt(session.AcctInterim, mac, "o", 350, 0, 0, t0.Add(350*time.Second)),
			pkt(session.AcctInterim, mac, "o", 400, 0, 0, t0.Add(400*time.Second)),
			pkt(session.AcctStop, mac, "o", 420, 0, 0, t0.Add(420*time.Second)),
		} {
			res := account(t, s, ev)
			if res.Outcome != session.AcctApplied || res.UnbilledSecs != 0 {
				t.Errorf("packet %d: %+v", i, res)
			}
			total = consumed(t, s, a).secs + consumed(t, s, b).secs
			if total != ev.SessionTime {
				t.Errorf("packet %d: sessions hold %d s, the NAS reported %d s", i, total, ev.SessionTime)
			}
			if res.Left && ev.SessionTime >= 200 {
				t.Errorf("packet %d: a session still available after %d s of 200", i, ev.SessionTime)
			}
		}
		// The first overage went to the last session of the chain.
		if got := consumed(t, s, a).secs; got < 100 {
			t.Errorf("%s consumed %d s, want at least its 100", a, got)
		}
		if got := consumed(t, s, b).secs; got < 100 {
			t.Errorf("%s consumed %d s, want at least its 100", b, got)
		}
	})
}

func testAcctNoSessions(t *testing.T, s *Store) {
	run(t, s, []step{
		{"start", pkt(session.AcctStart, testMAC, "u", 0, 0, 0, t0), want{outcome: session.AcctApplied, cons: map[string]use{}}},
		{"interim", pkt(session.AcctInterim, testMAC, "u", 60, 100, 200, t0.Add(time.Minute)), want{outcome: session.AcctApplied, unbilledSecs: 60, unbilledBytes: 300, cons: map[string]use{}}},
		{"stop", pkt(session.AcctStop, testMAC, "u", 90, 150, 250, t0.Add(90*time.Second)), want{outcome: session.AcctApplied, unbilledSecs: 30, unbilledBytes: 100, cons: map[string]use{}}},
	})
	h := hgetall(t, s, recordKey(testMAC, "nas-a", "u"))
	if h["unbilled_secs"] != "90" || h["unbilled_bytes"] != "400" || h["state"] != "stopped" {
		t.Errorf("record: %v, want unbilled_secs 90, unbilled_bytes 400, stopped", h)
	}
	if _, ok := h["session"]; ok {
		t.Errorf("record names a session: %v", h)
	}
}

func testAcctRestart(t *testing.T, s *Store) {
	a := create(t, s, testMAC, timeSpec(3600))
	later := t0.Add(time.Hour)
	nasClock := func(ev session.AcctEvent) session.AcctEvent { ev.NASClock = true; return ev }
	run(t, s, []step{
		// A NAS that sends Event-Timestamp sends it in every packet.
		{"start", nasClock(pkt(session.AcctStart, testMAC, "re", 0, 0, 0, t0)), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {0, 0}}}},
		{"stop", nasClock(pkt(session.AcctStop, testMAC, "re", 100, 1000, 1000, t0.Add(100*time.Second))), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 100, 2000)}, feeds: a, cons: map[string]use{a: {100, 2000}}}},
		// The NAS rebooted and reuses the Acct-Session-Id.
		// Without the NAS's clock a later Start may be a delayed duplicate:
		// it adds nothing and does not reopen the record.
		{"start again, server clock", pkt(session.AcctStart, testMAC, "re", 0, 0, 0, later), want{outcome: session.AcctStale, feeds: a, cons: map[string]use{a: {100, 2000}}}},
		{"start again", nasClock(pkt(session.AcctStart, testMAC, "re", 0, 0, 0, later)), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {100, 2000}}}},
		{"retransmitted start", nasClock(pkt(session.AcctStart, testMAC, "re", 0, 0, 0, later)), want{outcome: session.AcctStale, feeds: a, cons: map[string]use{a: {100, 2000}}}},
		{"old start replayed", nasClock(pkt(session.AcctStart, testMAC, "re", 0, 0, 0, t0)), want{outcome: session.AcctStale, feeds: a, cons: map[string]use{a: {100, 2000}}}},
		{"interim from zero", pkt(session.AcctInterim, testMAC, "re", 30, 10, 20, later.Add(30*time.Second)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 30, 30)}, feeds: a, cons: map[string]use{a: {130, 2030}}}},
	})
	h := hgetall(t, s, recordKey(testMAC, "nas-a", "re"))
	if h["state"] != "open" || h["session_time"] != "30" || h["started_at"] != unixStr(later) {
		t.Errorf("restarted record: %v", h)
	}
	if _, ok := h["stopped_at"]; ok {
		t.Errorf("restarted record kept stopped_at: %v", h)
	}
}

func testAcctExpired(t *testing.T, s *Store) {
	ctx := t.Context()
	now := t0.Add(30 * 24 * time.Hour)
	one := uint(1)
	expiring := timeSpec(1_000_000)
	expiring.ExpDays = &one

	t.Run("not chosen", func(t *testing.T) {
		mac := session.MAC("02:00:00:00:00:e1")
		a := create(t, s, mac, expiring)
		b := create(t, s, mac, timeSpec(3600))
		cs, err := mgrAt(s, now).GetSession(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		cs.SetStartedAt(now.Add(-48 * time.Hour))
		if err := cs.Save(ctx); err != nil {
			t.Fatal(err)
		}
		run(t, s, []step{
			{"start", pkt(session.AcctStart, mac, "e", 0, 0, 0, now), want{outcome: session.AcctApplied, feeds: b, cons: map[string]use{a: {0, 0}, b: {0, 0}}}},
			{"interim", pkt(session.AcctInterim, mac, "e", 60, 5, 5, now.Add(time.Minute)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(b, 60, 10)}, feeds: b, cons: map[string]use{a: {0, 0}, b: {60, 10}}}},
		})
	})
	t.Run("expires while bound", func(t *testing.T) {
		mac := session.MAC("02:00:00:00:00:e2")
		a := create(t, s, mac, expiring)
		b := create(t, s, mac, timeSpec(3600))
		begin := now.Add(-48 * time.Hour)
		run(t, s, []step{
			{"start", pkt(session.AcctStart, mac, "e", 0, 0, 0, begin), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {0, 0}, b: {0, 0}}}},
			{"interim", pkt(session.AcctInterim, mac, "e", 100, 0, 0, begin.Add(100*time.Second)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 100, 0)}, feeds: a, cons: map[string]use{a: {100, 0}, b: {0, 0}}}},
			{"after expiry", pkt(session.AcctInterim, mac, "e", 160, 0, 0, now), want{outcome: session.AcctApplied, charges: []session.Charge{ch(b, 60, 0)}, feeds: b, moved: true, cons: map[string]use{a: {100, 0}, b: {60, 0}}}},
		})
		if got := hgetall(t, s, keyOf(t, a))["started_at"]; got != unixStr(begin) {
			t.Errorf("started_at of %s: got %q, want %q", a, got, unixStr(begin))
		}
	})
}

func testAcctInvalid(t *testing.T, s *Store) {
	create(t, s, testMAC, timeSpec(60))
	for _, tc := range []struct {
		name string
		mod  func(*session.AcctEvent)
	}{
		{"no nas", func(ev *session.AcctEvent) { ev.NAS = "" }},
		{"nas with brace", func(ev *session.AcctEvent) { ev.NAS = "a{b}" }},
		{"nas with bar", func(ev *session.AcctEvent) { ev.NAS = "a|b" }},
		{"unknown kind", func(ev *session.AcctEvent) { ev.Kind = 9 }},
	} {
		ev := pkt(session.AcctInterim, testMAC, "i", 10, 1, 1, t0)
		tc.mod(&ev)
		if _, err := s.Account(t.Context(), ev); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tc.name, err)
		}
	}
	if got := consumed(t, s, "aabbccddeeff-1"); got != (use{}) {
		t.Errorf("rejected events charged %+v", got)
	}
}

func testCloseNAS(t *testing.T, s *Store) {
	ctx := t.Context()
	a := create(t, s, testMAC, timeSpec(1_000_000))
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	on := func(nas string, ev session.AcctEvent) session.AcctEvent { ev.NAS = nas; return ev }
	for _, ev := range []session.AcctEvent{
		on("nas-a", pkt(session.AcctStart, testMAC, "a1", 0, 0, 0, at(0))),
		on("nas-a", pkt(session.AcctInterim, testMAC, "a1", 10, 100, 0, at(10))),
		on("nas-a", pkt(session.AcctStart, testMAC, "a2", 0, 0, 0, at(5))),
		on("nas-b", pkt(session.AcctStart, testMAC, "b1", 0, 0, 0, at(5))),
		on("nas-a", pkt(session.AcctStart, testMAC, "a3", 0, 0, 0, at(30))), // after the reboot
	} {
		account(t, s, ev)
	}
	n, err := s.CloseNAS(ctx, "nas-a", at(20), "accounting-on")
	if err != nil || n != 2 {
		t.Fatalf("CloseNAS: got %d, %v, want 2", n, err)
	}
	for _, id := range []string{"a1", "a2"} {
		key := recordKey(testMAC, "nas-a", id)
		h := hgetall(t, s, key)
		if h["state"] != "stopped" || h["closed_by"] != "accounting-on" || h["stopped_at"] != unixStr(at(20)) {
			t.Errorf("record %s after CloseNAS: %v", id, h)
		}
		checkTTL(t, s, key, DefaultStoppedRecordTTL)
	}
	if h := hgetall(t, s, recordKey(testMAC, "nas-a", "a3")); h["state"] != "open" {
		t.Errorf("record a3, updated after the reboot: %v, want open", h)
	}
	if h := hgetall(t, s, recordKey(testMAC, "nas-b", "b1")); h["state"] != "open" {
		t.Errorf("record b1 of nas-b: %v, want open", h)
	}
	before := consumed(t, s, a)
	if before != (use{10, 100}) {
		t.Errorf("before late packets: %+v", before)
	}
	run(t, s, []step{
		// A record closed on a reboot guess still counts packets whose
		// counters move past it: a late or retransmitted Accounting-On
		// must not make sessions free. A copy of what it held adds nothing.
		{"late a1 copy", on("nas-a", pkt(session.AcctInterim, testMAC, "a1", 10, 100, 0, at(10))), want{outcome: session.AcctStale, feeds: a, cons: map[string]use{a: {10, 100}}}},
		{"late a1", on("nas-a", pkt(session.AcctInterim, testMAC, "a1", 40, 900, 0, at(40))), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 30, 800)}, feeds: a, cons: map[string]use{a: {40, 900}}}},
		{"late a2 stop", on("nas-a", pkt(session.AcctStop, testMAC, "a2", 40, 900, 0, at(45))), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 40, 900)}, feeds: a, cons: map[string]use{a: {80, 1800}}}},
		{"a2 stop again", on("nas-a", pkt(session.AcctStop, testMAC, "a2", 40, 900, 0, at(45))), want{outcome: session.AcctAfterStop, feeds: a, cons: map[string]use{a: {80, 1800}}}},
		{"b1", on("nas-b", pkt(session.AcctInterim, testMAC, "b1", 35, 50, 0, at(40))), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 35, 50)}, feeds: a, cons: map[string]use{a: {115, 1850}}}},
		{"a3", on("nas-a", pkt(session.AcctInterim, testMAC, "a3", 10, 5, 0, at(40))), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 10, 5)}, feeds: a, cons: map[string]use{a: {125, 1855}}}},
	})
	// Nothing left to close at that moment.
	if n, err := s.CloseNAS(ctx, "nas-a", at(20), "accounting-on"); err != nil || n != 0 {
		t.Errorf("second CloseNAS: got %d, %v, want 0", n, err)
	}
	if _, err := s.CloseNAS(ctx, "", at(20), "x"); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("CloseNAS(\"\"): got %v, want ErrInvalid", err)
	}
}

// testAgreesWithCurrent: the session the script binds a new record to is
// the one session.Current picks in Go, for random sets of sessions.
func testAgreesWithCurrent(t *testing.T, s *Store) {
	ctx := t.Context()
	now := t0.Add(10 * 24 * time.Hour)
	// Few distinct start times, so that ties are common; whole days put
	// some sessions exactly at their expiry.
	starts := []time.Time{now.Add(-time.Hour), now.Add(-2 * time.Hour), now.Add(-24 * time.Hour), now.Add(-36 * time.Hour), now.Add(-48 * time.Hour), now.Add(-5 * 24 * time.Hour)}
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		mac := session.MAC(fmt.Sprintf("02:00:00:00:%02x:%02x", seed>>8, seed&0xff))
		mgr := mgrAt(s, now)
		for n := 1 + r.IntN(6); n > 0; n-- {
			spec := session.Spec{Type: session.Type(r.IntN(3)), TimeSecs: uint(100 + r.IntN(1000)), DataMb: float64(1 + r.IntN(5)), DownMbits: 1, UpMbits: 1}
			if r.IntN(2) == 0 {
				days := uint(1 + r.IntN(3))
				spec.ExpDays = &days
			}
			cs, err := mgr.CreateSession(ctx, string(mac), spec)
			if err != nil {
				t.Fatal(err)
			}
			switch r.IntN(3) {
			case 0: // used up, of one kind or the other
				cs.IncTimeCons(spec.TimeSecs)
				if r.IntN(2) == 0 {
					cs.IncDataConsBytes(uint64(spec.DataMb * session.BytesPerMB))
				}
			case 1:
				cs.IncTimeCons(uint(r.IntN(int(spec.TimeSecs))))
				cs.IncDataConsBytes(uint64(r.IntN(int(spec.DataMb * session.BytesPerMB))))
			}
			if r.IntN(2) == 0 {
				cs.SetStartedAt(starts[r.IntN(len(starts))])
			}
			if err := cs.Save(ctx); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.DeviceSessions(ctx, mac)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if cur, err := session.Current(all, now); err == nil {
			want = cur.ID
		}
		res := account(t, s, pkt(session.AcctStart, mac, "cur", 0, 0, 0, now))
		if res.Feeds != want {
			t.Errorf("seed %d: the script binds %q, session.Current picks %q; sessions:\n%+v", seed, res.Feeds, want, all)
		}
	}
}

func testNoScript(t *testing.T, s *Store) {
	ctx := t.Context()
	a := create(t, s, testMAC, timeSpec(3600))
	account(t, s, pkt(session.AcctInterim, testMAC, "ns", 60, 1, 2, t0))
	flush := func() {
		t.Helper()
		if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
	}
	flush()
	check(t, s, "after SCRIPT FLUSH", account(t, s, pkt(session.AcctInterim, testMAC, "ns", 120, 3, 4, t0.Add(time.Minute))),
		want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 4)}, feeds: a, cons: map[string]use{a: {120, 7}}})
	flush()
	if list, err := s.DeviceSessions(ctx, testMAC); err != nil || len(list) != 1 || list[0].ID != a {
		t.Errorf("DeviceSessions after SCRIPT FLUSH: %v, %v; want session %s", list, err, a)
	}
	flush()
	if _, err := s.SaveSession(ctx, a, session.Changes{IncTimeCons: 1}); err != nil {
		t.Errorf("SaveSession after SCRIPT FLUSH: %v", err)
	}
	flush()
	if _, err := s.CreateSession(ctx, session.Data{MAC: testMAC, Type: session.TypeTime, TimeSecs: 1, CreatedAt: t0, UseGlobalSpeed: true}); err != nil {
		t.Errorf("CreateSession after SCRIPT FLUSH: %v", err)
	}
	flush()
	if _, err := s.CloseNAS(ctx, "nas-a", t0.Add(time.Hour), "accounting-off"); err != nil {
		t.Errorf("CloseNAS after SCRIPT FLUSH: %v", err)
	}
}

// testConcurrentSave: two servers (two Stores on two clients) × 16
// goroutines each load, increment and save the same three sessions; not one
// increment is lost.
func testConcurrentSave(t *testing.T, s *Store) {
	const perStore, iters = 16, 100
	stores := []*Store{s, twin(t, s)}
	ids := []string{create(t, s, testMAC, timeSpec(1e6)), create(t, s, testMAC, timeSpec(1e6)), create(t, s, testMAC, timeSpec(1e6))}
	var hits [3]uint64
	for g := range perStore * len(stores) {
		for i := range iters {
			hits[(g+i)%len(ids)]++
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, perStore*len(stores))
	for g := range perStore * len(stores) {
		mgr := mgrAt(stores[g%len(stores)], t0)
		wg.Go(func() {
			for i := range iters {
				cs, err := mgr.GetSession(t.Context(), ids[(g+i)%len(ids)])
				if err != nil {
					errs <- err
					return
				}
				cs.IncTimeCons(1)
				cs.IncDataConsBytes(7)
				if err := cs.Save(t.Context()); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, id := range ids {
		if got, want := consumed(t, s, id), (use{hits[i], 7 * hits[i]}); got != want {
			t.Errorf("%s: consumed %+v, want %+v", id, got, want)
		}
	}
}

// testConcurrentAccount: two servers × 8 goroutines, each the NAS of its own
// accounting session of one device, interims racing on one session hash.
func testConcurrentAccount(t *testing.T, s *Store) {
	const perStore, interims = 8, 40
	stores := []*Store{s, twin(t, s)}
	a := create(t, s, testMAC, todSpec(1e9, 1e6))
	var wg sync.WaitGroup
	errs := make(chan error, perStore*len(stores))
	for g := range perStore * len(stores) {
		st := stores[g%len(stores)]
		wg.Go(func() {
			for k := uint64(1); k <= interims; k++ {
				ev := pkt(session.AcctInterim, testMAC, fmt.Sprintf("g%d", g), 10*k, 100*k, 3*k, t0.Add(time.Duration(10*k)*time.Second))
				if k == interims {
					ev.Kind = session.AcctStop
				}
				res, err := st.Account(t.Context(), ev)
				if err != nil {
					errs <- err
					return
				}
				if res.Outcome != session.AcctApplied || len(res.Charges) != 1 || res.Charges[0] != ch(a, 10, 103) {
					errs <- fmt.Errorf("g%d interim %d: %+v", g, k, res)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := uint64(perStore * len(stores))
	if got, want := consumed(t, s, a), (use{n * 10 * interims, n * 103 * interims}); got != want {
		t.Errorf("consumed %+v, want %+v", got, want)
	}
}

// testAcctSpillNoStart: the first packet of a record (its Start lost) may
// already exceed the current session.
func testAcctSpillNoStart(t *testing.T, s *Store) {
	a := create(t, s, testMAC, timeSpec(100))
	b := create(t, s, testMAC, timeSpec(100))
	res := account(t, s, pkt(session.AcctInterim, testMAC, "ns", 150, 0, 0, t0.Add(150*time.Second)))
	// Moved is not asserted: for a new record the script reports false even
	// though the NAS was authorized with a's limits (see the report).
	w := want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 100, 0), ch(b, 50, 0)}, feeds: b, moved: res.Moved, cons: map[string]use{a: {100, 0}, b: {50, 0}}}
	check(t, s, "first interim", res, w)
	if got := hgetall(t, s, keyOf(t, a))["started_at"]; got != unixStr(t0) {
		t.Errorf("started_at of %s: got %q, want %q", a, got, unixStr(t0))
	}
}

// testAcctDeletedSession: a record whose session was deleted charges the
// device's current session with the delta only, not the counters again.
func testAcctDeletedSession(t *testing.T, s *Store) {
	a := create(t, s, testMAC, timeSpec(3600))
	b := create(t, s, testMAC, timeSpec(3600))
	run(t, s, []step{
		{"start", pkt(session.AcctStart, testMAC, "del", 0, 0, 0, t0), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {0, 0}, b: {0, 0}}}},
		{"interim", pkt(session.AcctInterim, testMAC, "del", 60, 10, 10, t0.Add(time.Minute)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 60, 20)}, feeds: a, cons: map[string]use{a: {60, 20}, b: {0, 0}}}},
	})
	if err := s.DeleteSession(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	run(t, s, []step{
		{"after delete", pkt(session.AcctInterim, testMAC, "del", 120, 20, 20, t0.Add(2*time.Minute)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(b, 60, 20)}, feeds: b, cons: map[string]use{b: {60, 20}}}},
	})
}

// testAcctExpiryBoundary: a session expires at exactly StartedAt + ExpDays.
func testAcctExpiryBoundary(t *testing.T, s *Store) {
	one := uint(1)
	spec := timeSpec(1_000_000)
	spec.ExpDays = &one
	a := create(t, s, testMAC, spec)
	b := create(t, s, testMAC, timeSpec(1_000_000))
	end := t0.Add(24 * time.Hour)
	run(t, s, []step{
		{"start", pkt(session.AcctStart, testMAC, "x", 0, 0, 0, t0), want{outcome: session.AcctApplied, feeds: a, cons: map[string]use{a: {0, 0}, b: {0, 0}}}},
		{"a second before", pkt(session.AcctInterim, testMAC, "x", 86399, 0, 0, end.Add(-time.Second)), want{outcome: session.AcctApplied, charges: []session.Charge{ch(a, 86399, 0)}, feeds: a, cons: map[string]use{a: {86399, 0}, b: {0, 0}}}},
		{"at expiry", pkt(session.AcctInterim, testMAC, "x", 86400, 0, 0, end), want{outcome: session.AcctApplied, charges: []session.Charge{ch(b, 1, 0)}, feeds: b, moved: true, cons: map[string]use{a: {86399, 0}, b: {1, 0}}}},
	})
}

// TestAccountPackedArguments: the arguments the store packs into one
// (coldArgs, account.lua's expand) arrive intact whatever octets they hold
// (separators, digits, spaces, empty values), on a real Redis.
func TestAccountPackedArguments(t *testing.T) {
	s := newTestStore(t, redistest.Start(t).Addr)
	mac := session.MAC("02:00:00:00:0c:01")
	if _, err := mgrAt(s, t0).CreateSession(t.Context(), string(mac), timeSpec(3600)); err != nil {
		t.Fatal(err)
	}
	ev := pkt(session.AcctStart, mac, "12:3:x y", 0, 0, 0, t0)
	ev.NASAttrs = session.NASAttrs{UserName: "3:ab:c 10:", CallingStationID: "", NASIP: "192.0.2.1",
		NASIdentifier: "lobby\x00:9:", SourceIP: "::1"}
	account(t, s, ev)
	h := hgetall(t, s, s.keys.record(mac, ev.NAS, ev.SessionID))
	for field, want := range map[string]string{"user_name": ev.NASAttrs.UserName, "nas_identifier": ev.NASAttrs.NASIdentifier,
		"nas_ip": "192.0.2.1", "nas_src": "::1", "acct_session_id": ev.SessionID, "mac": string(mac), "nas": "nas-a"} {
		if h[field] != want {
			t.Errorf("record field %s = %q, want %q", field, h[field], want)
		}
	}
	if _, ok := h["calling_station_id"]; ok {
		t.Errorf("empty Calling-Station-Id written: %q", h["calling_station_id"])
	}
}
