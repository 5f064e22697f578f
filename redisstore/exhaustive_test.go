package redisstore

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// exhaustiveScenarios are the histories TestAccountExhaustive delivers in
// every way its fault scope allows. Times are seconds after t0 on the NAS's
// clock; counters are the true cumulative Acct-Session-Time and octets.
//
// Between them they reach every row of README.md's "How accounting is
// counted" that distinct Acct-Session-Ids and Gigawords allow: duplicates,
// reordering (stale), no Start seen, a Start after its interims, packets
// after a Stop, same-second growth, Accounting-On and the records it closes
// coming back, spill-over of each kind. Adding one is a literal: a reused
// Acct-Session-Id is two nasSessions with the same nas and acctID (the
// oracle keys by true session), noGigawords makes 32-bit counters wrap,
// eventTimestamp and delays choose what the server can tell about time.
var exhaustiveScenarios = []scenario{
	{
		// Two records bound to S1 at once, either may exhaust it (sums of
		// 40 and 60 s hit its 100 s exactly) and move; a1's NAS reboots
		// after a1 ended, b1 outlives the reboot (so a1's packets that come
		// after b1's last one arrive after the reboot moment). b1's Start
		// was never sent: its record begins with an interim.
		name: "time spill-over across two NAS with Accounting-On",
		s1:   allocation{typ: session.TypeTime, secs: 100},
		s2:   allocation{typ: session.TypeTime, secs: 100_000},
		truth: []nasSession{
			{"nas-a", "a1", []packet{start(0), interim(40, 40, 1_000, 4_000), stop(60, 60, 1_500, 6_000)}},
			{"nas-b", "b1", []packet{interim(90, 40, 2_000, 3_000), stop(110, 60, 2_500, 5_000)}},
		},
		ons:  []packet{{nas: "nas-a", gen: 100}},
		ci:   &faults{dup: 1, lost: anyFaults},
		long: &faults{dup: 2, lost: anyFaults},
	},
	{
		// One NAS session with two interims of the same second (only growth
		// counts), whose counters reach S1's 10 kB exactly, then spill over.
		// The NAS sends Event-Timestamp.
		name:           "data spill-over in one NAS session with same-second interims",
		s1:             allocation{typ: session.TypeData, bytes: 10_000},
		s2:             allocation{typ: session.TypeData, bytes: 1_000_000},
		eventTimestamp: true,
		truth: []nasSession{
			{"nas-a", "a1", []packet{start(0), interim(30, 30, 1_000, 3_000), interim(60, 60, 2_000, 6_000),
				interim(60, 60, 2_500, 7_500), stop(90, 90, 3_000, 9_000)}},
		},
		ci:   &faults{dup: 2, lost: anyFaults},
		long: &faults{dup: anyFaults, lost: anyFaults},
	},
	{
		// Time or data, whichever runs out first: depending on the
		// delivery either kind ends S1, or both in one packet.
		name: "time-or-data spill-over across two NAS",
		s1:   allocation{typ: session.TypeTimeOrData, secs: 100, bytes: 10_000},
		s2:   allocation{typ: session.TypeTimeOrData, secs: 100_000, bytes: 1_000_000},
		truth: []nasSession{
			{"nas-a", "a1", []packet{start(0), interim(50, 50, 1_000, 5_000), stop(80, 80, 1_000, 7_000)}},
			{"nas-b", "b1", []packet{interim(40, 30, 2_000, 2_000), stop(60, 50, 3_000, 3_000)}},
		},
		ci:   &faults{dup: 1, lost: anyFaults},
		long: &faults{dup: anyFaults, lost: anyFaults},
	},
	{
		// S2 runs out too: each NAS session's overage stays on the session
		// it was charging.
		name: "time overage across two NAS",
		s1:   allocation{typ: session.TypeTime, secs: 100},
		s2:   allocation{typ: session.TypeTime, secs: 20},
		truth: []nasSession{
			{"nas-a", "a1", []packet{start(0), interim(50, 50, 1_000, 5_000), stop(80, 80, 1_000, 7_000)}},
			{"nas-b", "b1", []packet{interim(40, 30, 2_000, 2_000), stop(100, 80, 3_000, 3_000)}},
		},
		ci: &faults{dup: 1, lost: anyFaults},
	},
	{
		// The review's case: a NAS without Class or Event-Timestamp reboots
		// and gives the device the same Acct-Session-Id again. The new NAS
		// session began more than the window after the old one; no copy of
		// the old one's packets arrives after the reboot.
		name:    "reused Acct-Session-Id after a reboot, no Class, no Event-Timestamp",
		s1:      allocation{typ: session.TypeTime, secs: 100},
		s2:      allocation{typ: session.TypeTime, secs: 100_000},
		policy:  session.AcctPolicy{RetransmitWindow: 120 * time.Second},
		maxLate: 120,
		truth: []nasSession{
			{"nas-a", "x", []packet{start(0), interim(30, 30, 1_000, 4_000), stop(60, 60, 1_500, 6_000)}},
			{"nas-a", "x", []packet{start(130), interim(160, 30, 2_000, 3_000), stop(190, 60, 2_500, 5_000)}},
		},
		ons:  []packet{{nas: "nas-a", gen: 100}},
		ci:   &faults{dup: 0, lost: anyFaults},
		long: &faults{dup: 1, lost: anyFaults},
	},
	{
		// The same Acct-Session-Id again well within the window, told apart
		// by the Class each Access-Accept carries (MikroTik, CoovaChilli).
		name:    "reused Acct-Session-Id within the window, with Class",
		s1:      allocation{typ: session.TypeTime, secs: 50},
		s2:      allocation{typ: session.TypeTime, secs: 100_000},
		policy:  session.AcctPolicy{RetransmitWindow: 120 * time.Second},
		maxLate: 120,
		classes: []string{"hsr1:a", "hsr1:b"},
		truth: []nasSession{
			{"nas-a", "x", []packet{start(0), stop(30, 30, 1_000, 4_000)}},
			{"nas-a", "x", []packet{start(50), interim(80, 30, 2_000, 3_000), stop(100, 50, 2_500, 5_000)}},
		},
		ons:  []packet{{nas: "nas-a", gen: 40}},
		ci:   &faults{dup: 1, lost: anyFaults},
		long: &faults{dup: 2, lost: anyFaults},
	},
	{
		// A NAS that sends no Gigawords (OPNsense): its 32-bit counters wrap.
		name:        "32-bit counters that wrap",
		s1:          allocation{typ: session.TypeData, bytes: 4_294_968_000},
		s2:          allocation{typ: session.TypeData, bytes: 1 << 40},
		noGigawords: true,
		policy:      session.AcctPolicy{RetransmitWindow: 120 * time.Second, Wrap32: true},
		// A wrap shows between two packets that arrive in NAS order: a
		// packet from before the wrap that arrives after one from after it
		// is stale and cannot reveal it (README.md). No copy arrives after
		// the NAS's next packet.
		maxLate: 20,
		truth: []nasSession{
			{"nas-a", "w", []packet{start(0), interim(30, 30, 100, 4_294_967_000), interim(60, 60, 200, 4_294_968_000),
				stop(90, 90, 300, 4_294_969_000)}},
		},
		ci:   &faults{dup: 2, lost: anyFaults},
		long: &faults{dup: anyFaults, lost: anyFaults},
	},
	{
		// The first scenario with b1's Start too (7 packets).
		name: "time spill-over across two NAS with Starts and Accounting-On",
		s1:   allocation{typ: session.TypeTime, secs: 100},
		s2:   allocation{typ: session.TypeTime, secs: 100_000},
		truth: []nasSession{
			{"nas-a", "a1", []packet{start(0), interim(40, 40, 1_000, 4_000), stop(60, 60, 1_500, 6_000)}},
			{"nas-b", "b1", []packet{start(50), interim(90, 40, 2_000, 3_000), stop(110, 60, 2_500, 5_000)}},
		},
		ons:  []packet{{nas: "nas-a", gen: 100}},
		long: &faults{dup: 1, lost: anyFaults},
	},
}

// TestAccountExhaustive proves exact accounting on small scopes: for each
// scenario it delivers every order of its packets, each packet lost, sent
// once or sent twice (a retransmission), to Store.Account and Store.CloseNAS
// on a real redis-server, and checks the device's sessions against the
// oracle (exhaustive_model_test.go). Each delivery gets a device and NAS
// names of its own, so deliveries run concurrently (the store's batcher
// pipelines them) and none can disturb another; its keys are deleted once
// checked, so any key left at the end was written where no delivery should
// have written. It stops at the first failing length and prints the
// shortest failing delivery. HSRADIUS_EXHAUSTIVE=long widens the scopes.
func TestAccountExhaustive(t *testing.T) {
	mode := os.Getenv("HSRADIUS_EXHAUSTIVE")
	s := newTestStore(t, redistest.Start(t).Addr)
	var devices atomic.Uint64
	for _, sc := range exhaustiveScenarios {
		t.Run(sc.name, func(t *testing.T) {
			if sc.known != "" && mode != "known" {
				t.Skipf("known to fail (HSRADIUS_EXHAUSTIVE=known runs it): %s", sc.known)
			}
			f := sc.ci
			if mode == "long" && sc.long != nil {
				f = sc.long
			}
			if f == nil {
				t.Skip("only with HSRADIUS_EXHAUSTIVE=long")
			}
			if err := sc.validate(); err != nil {
				t.Fatalf("scenario: %v", err)
			}
			exhaust(t, s, &sc, *f, &devices)
		})
	}
}

// exhaust runs every delivery of sc within f.
func exhaust(t *testing.T, s *Store, sc *scenario, f faults, devices *atomic.Uint64) {
	const workers = 128 // enough to keep the batcher's pipelines full
	type job struct {
		n int
		d delivery
	}
	type failure struct {
		job
		dev     uint64
		replies []reply
		err     error
	}
	var (
		stop            atomic.Bool
		checked, copies atomic.Int64
		skipped         atomic.Int64 // outside the scenario's model
		// What the server answered, over all deliveries: which rules ran.
		applied, stale, afterStop, moved, closed atomic.Int64
		mu                                       sync.Mutex
		first                                    *failure
	)
	pk := sc.packets()
	keysBefore, err := s.rdb.DBSize(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	jobs := make(chan job, workers)
	go func() {
		defer close(jobs)
		n := 0
		for d := range sc.deliveries(f) {
			if stop.Load() {
				return
			}
			if !sc.possible(pk, d) {
				skipped.Add(1)
				continue
			}
			jobs <- job{n, d}
			n++
		}
	}()
	// Deliveries come shortest first and every one taken from jobs is run:
	// when one fails, every shorter one has been checked too.
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				dev := devices.Add(1)
				replies, err := deliver(t.Context(), s, sc, pk, dev, j.d)
				checked.Add(1)
				copies.Add(int64(len(j.d.seq)))
				for _, r := range replies {
					switch {
					case r.on:
						closed.Add(int64(r.closed))
					case r.res.Outcome == session.AcctApplied:
						applied.Add(1)
					case r.res.Outcome == session.AcctStale:
						stale.Add(1)
					case r.res.Outcome == session.AcctAfterStop:
						afterStop.Add(1)
					}
					if r.res.Moved {
						moved.Add(1)
					}
				}
				if err == nil {
					continue
				}
				stop.Store(true)
				mu.Lock()
				if first == nil || len(j.d.seq) < len(first.d.seq) || len(j.d.seq) == len(first.d.seq) && j.n < first.n {
					first = &failure{j, dev, replies, err}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(begin)
	t.Logf("%d deliveries checked (%d packets, %s; %d outside the model skipped), %d copies sent, in %v; replies: %d applied (%d moved by spill-over), %d stale, %d after a Stop; Accounting-On closed %d records",
		checked.Load(), len(pk), f, skipped.Load(), copies.Load(), took.Round(time.Millisecond), applied.Load(), moved.Load(), stale.Load(), afterStop.Load(), closed.Load())
	if first != nil {
		mac := deviceMAC(first.dev)
		answers := make([]string, len(first.replies))
		for i, r := range first.replies {
			answers[i] = r.String(session.NewID(mac, 1), session.NewID(mac, 2))
		}
		t.Fatalf("shortest failing delivery (copies: %d, device %s):\n%s%v", len(first.d.seq), mac, sc.format(first.d, answers), first.err)
	}
	if want := countDeliveries(len(pk), f); sc.delays == nil && uint64(checked.Load()+skipped.Load()) != want {
		t.Errorf("enumerated %d deliveries (%d skipped), want %d", checked.Load()+skipped.Load(), skipped.Load(), want)
	}
	// Every delivery deleted what it wrote: anything left was written
	// elsewhere.
	if n, err := s.rdb.DBSize(t.Context()).Result(); err != nil || n != keysBefore {
		ks, _ := s.rdb.Keys(t.Context(), "*").Result()
		if len(ks) > 10 {
			ks = ks[:10]
		}
		t.Errorf("%d keys left (%v), %d before, after every delivery deleted its own: %v", n, err, keysBefore, ks)
	}
}

func (f faults) String() string {
	n := func(v int) string {
		if v == anyFaults {
			return "any"
		}
		return strconv.Itoa(v)
	}
	return fmt.Sprintf("faults: dup ≤ %s, lost ≤ %s", n(f.dup), n(f.lost))
}

// deviceMAC is the MAC of the dev-th device the test uses.
func deviceMAC(dev uint64) session.MAC {
	return session.MAC(fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", byte(dev>>32), byte(dev>>24), byte(dev>>16), byte(dev>>8), byte(dev)))
}

// reply is what the server answered to one copy.
type reply struct {
	res    session.AcctResult
	on     bool // an Accounting-On: closed says how many records it closed
	closed int
}

// String shows the reply with the device's sessions named S1 and S2.
func (r reply) String(s1, s2 string) string {
	if r.on {
		return fmt.Sprintf("closed %d", r.closed)
	}
	var b strings.Builder
	b.WriteString(r.res.Outcome.String())
	for _, ch := range r.res.Charges {
		name := map[string]string{s1: "S1", s2: "S2"}[ch.SessionID]
		if name == "" {
			name = ch.SessionID
		}
		fmt.Fprintf(&b, " %s+%ds+%dB", name, ch.Secs, ch.Bytes)
	}
	if r.res.UnbilledSecs+r.res.UnbilledBytes > 0 {
		fmt.Fprintf(&b, " unbilled+%ds+%dB", r.res.UnbilledSecs, r.res.UnbilledBytes)
	}
	return b.String()
}

// deliver sends one delivery for a new device (number dev) and checks what
// its sessions hold afterwards; it returns what the server answered.
func deliver(ctx context.Context, s *Store, sc *scenario, pk []packet, dev uint64, d delivery) ([]reply, error) {
	mac := deviceMAC(dev)
	// NAS names of the delivery's own: an Accounting-On closes only its records.
	nasName := func(nas string) string { return nas + "-" + strconv.FormatUint(dev, 36) }
	// The two sessions, written as CreateSession writes them but in one
	// round trip (Redis spends its time in the accounting scripts, and the
	// scripts are what this test is about).
	ids := [2]string{session.NewID(mac, 1), session.NewID(mac, 2)}
	sessKeys := [2]string{s.keys.session(mac, "1"), s.keys.session(mac, "2")}
	allocs := [2]allocation{sc.s1, sc.s2}
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, a := range allocs {
			fields := encode(session.Data{MAC: mac, Provider: "exhaustive", Type: a.typ, TimeSecs: a.secs,
				DataBytes: a.bytes, CreatedAt: t0.Add(-time.Hour), DownMbits: 10, UpMbits: 2})
			pipe.HSet(ctx, sessKeys[i], appendFields(nil, fields, false)...)
			pipe.ZAdd(ctx, s.keys.index(mac), redis.Z{Score: float64(i + 1), Member: ids[i]})
		}
		pipe.Set(ctx, s.keys.seq(mac), 2, 0)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("create sessions: %w", err)
	}
	replies := make([]reply, len(d.seq))
	var charged [2]use
	var unbilled use
	for i, c := range d.seq {
		p := pk[c.pkt]
		now := t0.Add(time.Duration(c.arrival) * time.Second)
		// When the NAS sent it, as the server computes it: arrival − Acct-Delay-Time.
		sentAt := now.Add(-time.Duration(c.delay) * time.Second)
		if p.kind == pOn {
			n, err := s.CloseNAS(ctx, nasName(p.nas), sentAt, "accounting-on")
			if err != nil {
				return replies[:i], fmt.Errorf("copy %d: %w", i+1, err)
			}
			replies[i] = reply{on: true, closed: n}
			continue
		}
		ev := session.AcctEvent{
			Kind: p.kind.acct(), NAS: nasName(p.nas), SessionID: p.acctID, MAC: mac,
			SessionTime: p.st, InputOctets: sc.wire(p.in), OutputOctets: sc.wire(p.out),
			EventTime: sentAt, Now: now, Gigawords: !sc.noGigawords, Policy: sc.policy,
		}
		if p.truth < len(sc.classes) {
			ev.Class = sc.classes[p.truth]
		}
		if sc.eventTimestamp {
			ev.EventTime, ev.NASClock = t0.Add(time.Duration(p.gen)*time.Second), true
		}
		res, err := s.Account(ctx, ev)
		if err != nil {
			return replies[:i], fmt.Errorf("copy %d: %w", i+1, err)
		}
		replies[i] = reply{res: res}
		for _, ch := range res.Charges {
			k := slices.Index(ids[:], ch.SessionID)
			if k < 0 {
				return replies[:i+1], fmt.Errorf("copy %d charged %s, not a session of the device", i+1, ch.SessionID)
			}
			charged[k] = use{charged[k].secs + ch.Secs, charged[k].bytes + ch.Bytes}
		}
		unbilled = use{unbilled.secs + res.UnbilledSecs, unbilled.bytes + res.UnbilledBytes}
	}
	// Read the sessions and delete everything the delivery wrote (and only
	// that: see exhaust), in one round trip.
	keys := []string{s.keys.index(mac), s.keys.seq(mac), s.keys.deviceOpen(mac), sessKeys[0], sessKeys[1]}
	for _, ns := range sc.truth {
		keys = append(keys, s.keys.record(mac, nasName(ns.nas), ns.acctID), s.keys.nasOpen(nasName(ns.nas)))
	}
	for _, on := range sc.ons {
		keys = append(keys, s.keys.nasOpen(nasName(on.nas)))
	}
	var hashes [2]*redis.MapStringStringCmd
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, k := range sessKeys {
			hashes[i] = pipe.HGetAll(ctx, k)
		}
		pipe.Unlink(ctx, keys...)
		return nil
	}); err != nil {
		return replies, fmt.Errorf("read sessions: %w", err)
	}
	var got [2]use
	for i, h := range hashes {
		sd, err := decodeMap(ids[i], h.Val())
		if err != nil {
			return replies, fmt.Errorf("session %s: %w", ids[i], err)
		}
		if sd.Type != allocs[i].typ || sd.TimeSecs != allocs[i].secs || sd.DataBytes != allocs[i].bytes {
			return replies, fmt.Errorf("session %s: allocation %v %d s %d B changed", ids[i], sd.Type, sd.TimeSecs, sd.DataBytes)
		}
		got[i] = use{sd.TimeCons, sd.DataConsBytes}
	}
	if err := sc.check(d, got[0], got[1], unbilled); err != nil {
		return replies, fmt.Errorf("S1 holds %d s %d B, S2 %d s %d B:\n%w", got[0].secs, got[0].bytes, got[1].secs, got[1].bytes, err)
	}
	if charged != got {
		return replies, fmt.Errorf("the replies charged S1 %d s %d B and S2 %d s %d B, the sessions hold S1 %d s %d B and S2 %d s %d B",
			charged[0].secs, charged[0].bytes, charged[1].secs, charged[1].bytes, got[0].secs, got[0].bytes, got[1].secs, got[1].bytes)
	}
	return replies, nil
}

// acct is the store's kind of an accounting packet.
func (k pktKind) acct() session.AcctKind {
	switch k {
	case pStart:
		return session.AcctStart
	case pInterim:
		return session.AcctInterim
	case pStop:
		return session.AcctStop
	}
	return 0
}
