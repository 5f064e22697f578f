package redisstore

import (
	"cmp"
	"context"
	"errors"
	stdflag "flag" // acct.go has a func flag
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// chargeSeed replays one seed of TestDifferentialCharging.
var chargeSeed = stdflag.Uint64("charge.seed", 0, "run TestDifferentialCharging with this seed only (0: its fixed seeds)")

// chargeSeeds are the seeds TestDifferentialCharging runs by default.
var chargeSeeds = []uint64{1, 2, 3}

// TestDifferentialCharging holds account.lua's charging equal to
// session.Usage.Charge, the Go statement of the same rules, on random
// traffic: random devices with random sessions (time, data, time_or_data,
// expiries, used up, unstarted, deleted between packets), random packets
// (new records, interims, Stops, replays, counter resets, pfSense-style
// Stop/Start). For each packet, Store.Account's result and the change of
// the device's session hashes must be what Charge computes from the
// sessions as they were before it. The consumption charged is read from the
// record's totals (charged + unbilled), so the identity rules that decide
// it are not restated here.
func TestDifferentialCharging(t *testing.T) {
	addr := redistest.Start(t).Addr
	seeds := chargeSeeds
	if *chargeSeed != 0 {
		seeds = []uint64{*chargeSeed}
	}
	var total diffStats
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := newTestStore(t, addr)
			flushAll(t, s)
			st, err := runDifferential(t.Context(), s, seed)
			if err != nil {
				t.Fatalf("seed %d: %v\nreplay: go test -run 'TestDifferentialCharging$' ./redisstore/ -charge.seed=%d", seed, err, seed)
			}
			total.add(st)
		})
	}
	t.Logf("%+v", total)
	// The traffic must reach the rules' special cases, or the test proves
	// little: spill-over, moves, exact fits, nothing left, nothing to
	// charge, new records starting their session's clock.
	if *chargeSeed == 0 && (total.packets < 3000 || total.spilled == 0 || total.moved == 0 || total.exactFit == 0 ||
		total.nothingLeft == 0 || total.unbilled == 0 || total.startedByRecord == 0 || total.startedByEvent == 0 ||
		total.deletedFed == 0 || total.expiredFed == 0) {
		t.Errorf("the traffic misses a case: %+v", total)
	}
}

// TestDifferentialChargingCatchesMutants checks that the differential test
// has the power to fail: account.lua with one rule broken must disagree
// with session.Usage.Charge on the traffic of one of its seeds.
func TestDifferentialChargingCatchesMutants(t *testing.T) {
	addr := redistest.Start(t).Addr
	mutants := []struct {
		name     string
		lib      bool // the change is in lib.lua
		old, new string
	}{
		{"chain in reverse order", false, "table.sort(others, better)", "table.sort(others, function(a, b) return better(b, a) end)"},
		{"last session does not take all", false, "if i < #chain and limits(s) then", "if limits(s) then"},
		{"fast path takes an exact fit of time", false, "s.time_cons + dt < s.time_secs", "s.time_cons + dt <= s.time_secs"},
		{"fast path takes an exact fit of data", false, "s.data_cons_bytes + db < s.data_bytes", "s.data_cons_bytes + db <= s.data_bytes"},
		{"expired session takes its room", false, "if not expired(s, now) then cap = math.max(0, room(s)) end", "cap = math.max(0, room(s))"},
		{"new record starts at the event", false, "(i == 1 and fresh) and math.max(0, ev - st) or ev", "ev"},
		{"Start does not start the first session", false, "if c or (i == 1 and kind == 'start') then", "if c then"},
		{"nothing left: the first session keeps the record", false, "feeds = chain[#chain]", "feeds = chain[1]"},
		{"a new record never moves", false, "moved = (bound ~= nil and feeds ~= bound)", "moved = (old ~= nil and feeds ~= old)"},
		{"time used up only past the allocation", true, "s.time_cons >= s.time_secs", "s.time_cons > s.time_secs"},
		{"expiry one second late", true, "now >= s.started_at + s.exp_days * 86400", "now > s.started_at + s.exp_days * 86400"},
		{"latest started first", true, "return a.started_at < b.started_at", "return a.started_at > b.started_at"},
	}
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			lib, acct := luaLib, luaAccount
			src := &acct
			if m.lib {
				src = &lib
			}
			if strings.Count(*src, m.old) != 1 {
				t.Fatalf("the script does not hold %q exactly once: update this mutant", m.old)
			}
			*src = strings.Replace(*src, m.old, m.new, 1)
			s := newTestStore(t, addr)
			flushAll(t, s)
			s.setAccount(lib, acct)
			for _, seed := range chargeSeeds {
				_, err := runDifferential(t.Context(), s, seed)
				var d *disagreement
				if errors.As(err, &d) {
					t.Logf("caught by seed %d, packet %d: %.150s", seed, d.packet, d.problem)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			t.Errorf("the mutant survived seeds %v", chargeSeeds)
		})
	}
}

// diffStats counts what the traffic exercised.
type diffStats struct {
	packets, applied, spilled, moved, exactFit, nothingLeft, unbilled int
	startedByRecord, startedByEvent, deletedFed, expiredFed           int
}

func (a *diffStats) add(b diffStats) {
	a.packets += b.packets
	a.applied += b.applied
	a.spilled += b.spilled
	a.moved += b.moved
	a.exactFit += b.exactFit
	a.nothingLeft += b.nothingLeft
	a.unbilled += b.unbilled
	a.startedByRecord += b.startedByRecord
	a.startedByEvent += b.startedByEvent
	a.deletedFed += b.deletedFed
	a.expiredFed += b.expiredFed
}

// disagreement is a packet on which the store and session.Usage.Charge
// differ.
type disagreement struct {
	packet  int
	ev      session.AcctEvent
	problem string
	state   string
}

func (d *disagreement) Error() string {
	return fmt.Sprintf("packet %d: %s %s/%s mac %s st=%d in=%d out=%d event %s now %s (updates %s): %s\n%s",
		d.packet, d.ev.Kind, d.ev.NAS, d.ev.SessionID, d.ev.MAC, d.ev.SessionTime, d.ev.InputOctets, d.ev.OutputOctets,
		d.ev.EventTime.Format(time.RFC3339), d.ev.Now.Format(time.RFC3339), d.ev.Policy.Updates, d.problem, d.state)
}

// diffRecord is one NAS session of a device, as the test's NAS counts it.
type diffRecord struct {
	nas, id      string
	st, in, out  uint64 // cumulative counters
	sent         []session.AcctEvent
	segmentStart bool // Stop/Start: the next packet is the Start after a Stop
}

// diffDevice is one device of the traffic.
type diffDevice struct {
	mac  session.MAC
	now  time.Time
	pol  session.AcctPolicy
	recs []*diffRecord
	hold bool // the next packet arrives at now
}

// runDifferential drives one seed's traffic through s and returns the
// first disagreement, or another error when Redis fails.
func runDifferential(ctx context.Context, s *Store, seed uint64) (diffStats, error) {
	const devices, steps = 32, 80
	rng := rand.New(rand.NewPCG(seed, 0xc4a26e))
	var st diffStats
	packet := 0
	for dev := range devices {
		d := &diffDevice{mac: session.MAC(fmt.Sprintf("02:%02x:00:00:%02x:%02x", byte(seed), byte(dev>>8), byte(dev))), now: t0}
		switch rng.IntN(10) {
		case 0:
			d.pol.Updates = session.AcctUpdatesStopStart
		case 1:
			d.pol.Updates = session.AcctUpdatesStopStartReset
		}
		for range 1 + rng.IntN(4) {
			if err := d.createSession(ctx, s, rng); err != nil {
				return st, err
			}
		}
		for range steps {
			var err error
			switch r := rng.IntN(100); {
			case r < 10:
				err = d.createSession(ctx, s, rng)
			case r < 13:
				err = d.deleteSession(ctx, s, rng)
			case r < 18:
				err = d.editSession(ctx, s, rng)
			case r < 21:
				err = d.moveClock(ctx, s, rng)
			default:
				err = d.packet(ctx, s, rng, packet, &st)
				packet++
			}
			if err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// createSession stores a random session: small allocations, sometimes
// partly or wholly used (or beyond), started or not, with or without an
// expiry (sometimes past).
func (d *diffDevice) createSession(ctx context.Context, s *Store, rng *rand.Rand) error {
	data := session.Data{MAC: d.mac, Provider: "shop", Type: session.Type(rng.IntN(3)), CreatedAt: d.now, DownMbits: 10, UpMbits: 2}
	if data.Type.LimitsTime() {
		data.TimeSecs = uint64(30 + rng.IntN(300))
	}
	if data.Type.LimitsData() {
		data.DataBytes = uint64(20_000 + rng.IntN(200_000))
	}
	switch rng.IntN(8) {
	case 0: // used up
		data.TimeCons, data.DataConsBytes = data.TimeSecs, data.DataBytes
	case 1: // beyond: an overage
		data.TimeCons, data.DataConsBytes = data.TimeSecs+uint64(rng.IntN(50)), data.DataBytes+uint64(rng.IntN(5000))
	case 2:
		data.TimeCons, data.DataConsBytes = uint64(rng.IntN(int(data.TimeSecs)+1)), uint64(rng.IntN(int(data.DataBytes)+1))
	}
	if rng.IntN(2) == 0 {
		data.StartedAt = d.now.Add(-time.Duration(rng.IntN(3*86400)) * time.Second)
	}
	if rng.IntN(3) == 0 {
		data.ExpDays, data.HasExpiry = uint32(1+rng.IntN(2)), true
	}
	_, err := s.CreateSession(ctx, data)
	return err
}

func (d *diffDevice) pick(ctx context.Context, s *Store, rng *rand.Rand) (session.Data, bool, error) {
	list, err := s.DeviceSessions(ctx, d.mac)
	if err != nil || len(list) == 0 {
		return session.Data{}, false, err
	}
	return list[rng.IntN(len(list))], true, nil
}

// deleteSession removes a random session: records that fed it charge
// another.
func (d *diffDevice) deleteSession(ctx context.Context, s *Store, rng *rand.Rand) error {
	x, ok, err := d.pick(ctx, s, rng)
	if !ok {
		return err
	}
	return s.DeleteSession(ctx, x.ID)
}

// editSession changes a random session as an operator would: uses it up,
// tops it up, or restarts its expiry clock.
func (d *diffDevice) editSession(ctx context.Context, s *Store, rng *rand.Rand) error {
	x, ok, err := d.pick(ctx, s, rng)
	if !ok {
		return err
	}
	var c session.Changes
	switch rng.IntN(4) {
	case 0:
		c.Set, c.Values = session.FieldTimeCons|session.FieldDataConsBytes, session.Data{TimeCons: x.TimeSecs, DataConsBytes: x.DataBytes}
	case 1, 2:
		c.IncTimeSecs, c.IncDataBytes = uint64(rng.IntN(600)), uint64(rng.IntN(500_000))
	default:
		c.Set = session.FieldStartedAt // cleared
	}
	_, err = s.SaveSession(ctx, x.ID, c)
	return err
}

// moveClock moves the device's clock a day on, or to the exact second a
// started session with an expiry expires (or the one before), where the
// next packet arrives.
func (d *diffDevice) moveClock(ctx context.Context, s *Store, rng *rand.Rand) error {
	list, err := s.DeviceSessions(ctx, d.mac)
	if err != nil {
		return err
	}
	for _, x := range list {
		if exp, ok := x.ExpiresAt(); ok && exp.After(d.now) && rng.IntN(4) > 0 {
			d.now = exp.Add(-time.Duration(rng.IntN(3)/2) * time.Second)
			d.hold = true
			return nil
		}
	}
	d.now = d.now.Add(24 * time.Hour)
	return nil
}

// packet sends one packet of a random NAS session of the device and
// compares what the store did with session.Usage.Charge.
func (d *diffDevice) packet(ctx context.Context, s *Store, rng *rand.Rand, n int, st *diffStats) error {
	if len(d.recs) == 0 || rng.IntN(10) == 0 {
		nas := []string{"nas-a", "nas-b"}[rng.IntN(2)]
		d.recs = append(d.recs, &diffRecord{nas: nas, id: fmt.Sprintf("ns-%d", len(d.recs))})
	}
	r := d.recs[len(d.recs)-1]
	if rng.IntN(4) == 0 {
		r = d.recs[rng.IntN(len(d.recs))]
	}
	switch {
	case d.hold:
		d.hold = false
	case rng.IntN(4) > 0: // else in the second of the last packet
		d.now = d.now.Add(time.Duration(rng.IntN(90)) * time.Second)
	}
	key := s.keys.record(d.mac, r.nas, r.id)

	before, err := s.DeviceSessions(ctx, d.mac)
	if err != nil {
		return err
	}
	recBefore, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return err
	}

	// Often exactly what the session the record would charge has left.
	fed := -1
	if id := recBefore["session"]; id != "" {
		fed = slices.IndexFunc(before, func(x session.Data) bool { return x.ID == id })
	} else if cur, err := session.Current(before, d.now); err == nil {
		fed = slices.IndexFunc(before, func(x session.Data) bool { return x.ID == cur.ID })
	}
	amount := func(room uint64, limits bool, max int) uint64 {
		switch {
		case fed >= 0 && limits && room > 0 && rng.IntN(12) == 0:
			return room
		case rng.IntN(8) == 0:
			return 0
		case rng.IntN(25) == 0: // a long silence: through several sessions
			return uint64(rng.IntN(max * 30))
		}
		return uint64(rng.IntN(max))
	}
	var dt, db uint64
	if fed >= 0 {
		f := before[fed]
		dt = amount(f.RemainingTime(), f.Type.LimitsTime(), 20)
		db = amount(f.RemainingDataBytes(), f.Type.LimitsData(), 15_000)
	} else {
		dt, db = amount(0, false, 20), amount(0, false, 15_000)
	}
	din := uint64(rng.IntN(int(db) + 1))
	dout := db - din

	var ev session.AcctEvent
	if len(r.sent) > 0 && rng.IntN(12) == 0 {
		ev = r.sent[rng.IntN(len(r.sent))] // a copy of an older packet, arriving now
		ev.Now = d.now
	} else {
		ev = session.AcctEvent{NAS: r.nas, SessionID: r.id, MAC: d.mac, Policy: d.pol,
			Now: d.now, EventTime: d.now.Add(-time.Duration(rng.IntN(4)) * time.Second)}
		switch {
		case d.pol.Updates != session.AcctUpdatesInterim && (len(r.sent) == 0 || r.segmentStart):
			ev.Kind = session.AcctStart // counters of a Start after a Stop: none
			r.segmentStart = false
		case d.pol.Updates != session.AcctUpdatesInterim:
			// A Stop closing a segment: its octets the segment's, its time
			// cumulative or (reset) the segment's.
			ev.Kind = session.AcctStop
			r.st += dt
			ev.SessionTime, ev.InputOctets, ev.OutputOctets = r.st, din, dout
			if d.pol.Updates == session.AcctUpdatesStopStartReset {
				ev.SessionTime = dt
			}
			r.segmentStart = true
		default:
			ev.Kind = session.AcctInterim
			switch k := rng.IntN(20); {
			case len(r.sent) == 0 && k < 15, k == 0:
				ev.Kind = session.AcctStart
			case k == 1:
				ev.Kind = session.AcctStop
			}
			r.st, r.in, r.out = r.st+dt, r.in+din, r.out+dout
			if rng.IntN(30) == 0 { // the NAS's octet counters reset
				r.in, r.out = din, dout
			}
			ev.SessionTime, ev.InputOctets, ev.OutputOctets = r.st, r.in, r.out
		}
		r.sent = append(r.sent, ev)
	}

	res, err := s.Account(ctx, ev)
	if err != nil {
		return err
	}
	after, err := s.DeviceSessions(ctx, d.mac)
	if err != nil {
		return err
	}
	recAfter, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return err
	}
	st.packets++
	fail := func(format string, args ...any) error {
		return &disagreement{packet: n, ev: ev, problem: fmt.Sprintf(format, args...),
			state: fmt.Sprintf(" record before %v\n record after  %v\n sessions before %+v\n sessions after  %+v\n store: %+v",
				recBefore, recAfter, before, after, res)}
	}

	if res.Outcome != session.AcctApplied {
		if len(res.Charges) > 0 || res.UnbilledSecs > 0 || res.UnbilledBytes > 0 || res.Left || res.Moved {
			return fail("a %v packet charged something", res.Outcome)
		}
		if !sameSessions(after, before) {
			return fail("a %v packet changed the sessions", res.Outcome)
		}
		return nil
	}
	st.applied++

	// What the packet charged: the growth of the record's totals.
	total := func(h map[string]string, a, b string) uint64 {
		x, _ := strconv.ParseUint(h[a], 10, 64)
		y, _ := strconv.ParseUint(h[b], 10, 64)
		return x + y
	}
	u := session.Usage{
		NewRecord:   res.NewRecord,
		Start:       ev.Kind == session.AcctStart,
		Secs:        total(recAfter, "charged_secs", "unbilled_secs"),
		Bytes:       total(recAfter, "charged_bytes", "unbilled_bytes"),
		EventTime:   ev.EventTime,
		SessionTime: ev.SessionTime,
	}
	if !res.NewRecord {
		u.Feeds = recBefore["session"]
		u.Secs -= total(recBefore, "charged_secs", "unbilled_secs")
		u.Bytes -= total(recBefore, "charged_bytes", "unbilled_bytes")
	}
	want := u.Charge(before, ev.Now)

	if !slices.Equal(res.Charges, want.Charges) {
		return fail("charges %+v, Charge says %+v", res.Charges, want.Charges)
	}
	if res.UnbilledSecs != want.UnbilledSecs || res.UnbilledBytes != want.UnbilledBytes {
		return fail("unbilled %d s %d B, Charge says %d s %d B", res.UnbilledSecs, res.UnbilledBytes, want.UnbilledSecs, want.UnbilledBytes)
	}
	if res.Feeds != want.Feeds || res.Moved != want.Moved || res.Left != want.Left {
		return fail("feeds %q moved %v left %v, Charge says feeds %q moved %v left %v", res.Feeds, res.Moved, res.Left, want.Feeds, want.Moved, want.Left)
	}
	if !sameSessions(after, want.Sessions) {
		return fail("session hashes after %+v, Charge says %+v", after, want.Sessions)
	}
	if res.NewRecord || res.Moved {
		if !sameSessions(res.Sessions, want.Sessions) {
			return fail("sessions returned %+v, Charge says %+v", res.Sessions, want.Sessions)
		}
	} else if res.Sessions != nil {
		return fail("sessions returned by a packet that neither began nor moved the record")
	}
	// The record keeps the session it fed when Charge finds none.
	kept := ""
	if !res.NewRecord {
		kept = recBefore["session"]
	}
	if wantFeeds := cmp.Or(want.Feeds, kept); recAfter["session"] != wantFeeds {
		return fail("the record feeds %q, Charge says %q", recAfter["session"], wantFeeds)
	}

	if len(want.Charges) > 1 {
		st.spilled++
	}
	if want.Moved {
		st.moved++
	}
	if !want.Left {
		st.nothingLeft++
	}
	if want.UnbilledSecs+want.UnbilledBytes > 0 {
		st.unbilled++
	}
	if fed >= 0 && ((before[fed].Type.LimitsTime() && u.Secs > 0 && u.Secs == before[fed].RemainingTime()) ||
		(before[fed].Type.LimitsData() && u.Bytes > 0 && u.Bytes == before[fed].RemainingDataBytes())) {
		st.exactFit++
	}
	if !u.NewRecord && u.Feeds != "" && !slices.ContainsFunc(before, func(x session.Data) bool { return x.ID == u.Feeds }) {
		st.deletedFed++
	}
	if !u.NewRecord && fed >= 0 && before[fed].Expired(ev.Now) {
		st.expiredFed++
	}
	for i, x := range want.Sessions {
		if x.Started() && !before[i].Started() {
			if u.NewRecord && x.StartedAt.Unix() == ev.EventTime.Unix()-int64(ev.SessionTime) && ev.SessionTime > 0 {
				st.startedByRecord++
			} else {
				st.startedByEvent++
			}
		}
	}
	return nil
}

func sameSessions(a, b []session.Data) bool {
	return slices.EqualFunc(a, b, func(x, y session.Data) bool { return normalize(x) == normalize(y) })
}
