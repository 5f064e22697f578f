package redisstore

// Regression tests from a review of the accounting identity rules: each
// sequence made the server count twice or lose usage before its fix.

import (
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// xpkt: arr = server arrival (s after t0), ev = event time the server passes
// (arrival - Acct-Delay-Time, or the Event-Timestamp when nasclock).
type xpkt struct {
	kind     session.AcctKind
	id       string
	st, out  uint64
	arr, ev  int64
	nasclock bool
	on       bool // Accounting-On at arr
}

func runX(t *testing.T, pol session.AcctPolicy, pkts []xpkt, want use) {
	t.Helper()
	srv := redistest.Start(t)
	s := newTestStore(t, srv.Addr)
	flushAll(t, s)
	sid := create(t, s, testMAC, todSpec(1_000_000, 100_000))
	for i, p := range pkts {
		if p.on {
			if _, err := s.CloseNAS(t.Context(), "nas-a", t0.Add(sec(int(p.arr))), "accounting-on"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ev := p.ev
		if !p.nasclock && ev == 0 {
			ev = p.arr
		}
		res := account(t, s, session.AcctEvent{Kind: p.kind, NAS: "nas-a", SessionID: p.id, MAC: testMAC,
			SessionTime: p.st, OutputOctets: p.out, EventTime: t0.Add(sec(int(ev))), NASClock: p.nasclock,
			Now: t0.Add(sec(int(p.arr))), Policy: pol})
		t.Logf("pkt %d %v st=%d out=%d arr=%d ev=%d -> %v", i, p.kind, p.st, p.out, p.arr, ev, res.Outcome)
	}
	if got := consumed(t, s, sid); got != want {
		t.Errorf("total %+v, want %+v", got, want)
	}
}

var w120 = session.AcctPolicy{RetransmitWindow: 2 * time.Minute}

// Takeover by a delayed first packet, then prompt packets of the same new
// session are judged nearer the replaced session's start: lost.
func TestAcctIdentityPrevBeganMidpoint(t *testing.T) {
	runX(t, w120, []xpkt{
		{kind: rStart, id: "x", arr: 0},
		{kind: rStop, id: "x", st: 40, out: 400, arr: 40},
		// NAS reboots; new NAS session with the same id begins at 60
		{kind: rStart, id: "x", arr: 60},                        // stale (no proof)
		{kind: rInterim, id: "x", st: 300, out: 3000, arr: 460}, // gen 360, 100 s late
		{kind: rInterim, id: "x", st: 600, out: 6000, arr: 660},
		{kind: rStop, id: "x", st: 700, out: 7000, arr: 760},
	}, use{secs: 740, bytes: 7400})
}

// Reuse (reboot, no Stop) within W of the old start, no Class: never proven
// (the documented limit: the new session's first 30 s go unseen), but with
// counter_wrap: wrap its lower octets must not read as a 4 GiB wrap.
func TestAcctIdentityReuseWrapOvercount(t *testing.T) {
	pol := w120
	pol.Wrap32 = true
	runX(t, pol, []xpkt{
		{kind: rStart, id: "y", arr: 0},
		{kind: rInterim, id: "y", st: 30, out: 1_000_000, arr: 30},
		{on: true, arr: 45}, // NAS rebooted
		{kind: rStart, id: "y", arr: 50},
		{kind: rInterim, id: "y", st: 600, out: 500_000, arr: 650},
		{kind: rStop, id: "y", st: 3600, out: 900_000, arr: 3650},
	}, use{secs: 3600, bytes: 1_900_000})
}

// NAS clock trusted (within 24 h) but stepped by NTP during the session.
func TestAcctIdentityNASClockStep(t *testing.T) {
	runX(t, w120, []xpkt{
		{kind: rStart, id: "z", arr: 0, ev: -600, nasclock: true},
		{kind: rInterim, id: "z", st: 60, out: 1000, arr: 60, ev: -540, nasclock: true},
		// NTP steps the NAS clock forward by 600 s
		{kind: rInterim, id: "z", st: 120, out: 2000, arr: 120, ev: 120, nasclock: true},
		{kind: rStop, id: "z", st: 180, out: 3000, arr: 180, ev: 180, nasclock: true},
	}, use{secs: 180, bytes: 3000})
}

// NAS clock 90 s ahead: a prompt packet's Event-Timestamp is distrusted
// (> now+1m), a packet that arrives 30 s late is trusted: clocks mixed.
func TestAcctIdentityNASClockMixedTrust(t *testing.T) {
	runX(t, w120, []xpkt{
		{kind: rStart, id: "m", arr: 0},                       // ts 90 > 0+60: server clock
		{kind: rInterim, id: "m", st: 60, out: 1000, arr: 60}, // ts 150 > 120: server clock
		// gen 120, first copy lost, retransmitted with Acct-Delay-Time 30, arrives 150: ts 210 <= 210 trusted
		{kind: rInterim, id: "m", st: 120, out: 2000, arr: 150, ev: 210, nasclock: true},
	}, use{secs: 120, bytes: 2000})
	runX(t, w120, []xpkt{
		{kind: rStart, id: "m", arr: 0},
		{kind: rInterim, id: "m", st: 60, out: 1000, arr: 60},
		{kind: rInterim, id: "m", st: 120, out: 2000, arr: 150, ev: 210, nasclock: true},
		{kind: rInterim, id: "m", st: 180, out: 3000, arr: 180}, // prompt again: ts 270 > 240
		{kind: rStop, id: "m", st: 600, out: 9000, arr: 600},
	}, use{secs: 600, bytes: 9000})
}

// pfSense idle Stop (session time up to the last activity) before a late interim.
func TestAcctIdentityIdleStopLateInterim(t *testing.T) {
	runX(t, w120, []xpkt{
		{kind: rStart, id: "p", arr: 0},
		{kind: rInterim, id: "p", st: 60, out: 800, arr: 60},
		{kind: rStop, id: "p", st: 100, out: 1000, arr: 160},    // idle since 100, timeout 60
		{kind: rInterim, id: "p", st: 120, out: 1000, arr: 180}, // gen 120, 60 s late
	}, use{secs: 100, bytes: 1000})
}

// stop_start_reset with its default 20 s window: a Stop 20 s late, then the
// next one on time (a 30 s window could not tell them apart).
func TestAcctIdentityStopStartResetBoundary(t *testing.T) {
	pol := session.AcctPolicy{RetransmitWindow: 20 * time.Second, Updates: session.AcctUpdatesStopStartReset}
	runX(t, pol, []xpkt{
		{kind: rStart, id: "f", arr: 0},
		{kind: rStop, id: "f", st: 60, out: 1000, arr: 80}, // gen 60
		{kind: rStart, id: "f", arr: 81},                   // gen 61
		{kind: rStop, id: "f", st: 60, out: 500, arr: 120}, // gen 120
	}, use{secs: 120, bytes: 1500})
}

// stop_start: segment Stops reordered (first copy of Stop 1 lost, resent).
func TestAcctIdentityStopStartReorder(t *testing.T) {
	pol := session.AcctPolicy{RetransmitWindow: 2 * time.Minute, Updates: session.AcctUpdatesStopStart}
	runX(t, pol, []xpkt{
		{kind: rStart, id: "g", arr: 0},
		{kind: rStop, id: "g", st: 120, out: 500, arr: 120}, // segment 2
		{kind: rStop, id: "g", st: 60, out: 1000, arr: 130}, // segment 1, gen 60
	}, use{secs: 120, bytes: 1500})
}

// pfSense interim mode, idle timeout 600 s (idle time excluded, pfSense's
// default): interims run on to st=720, the idle Stop says st=120.
func TestAcctIdentityIdleStopLongIdle(t *testing.T) {
	pkts := []xpkt{{kind: rStart, id: "i", arr: 0}, {kind: rInterim, id: "i", st: 60, out: 500, arr: 60}}
	for g := int64(120); g <= 720; g += 60 {
		pkts = append(pkts, xpkt{kind: rInterim, id: "i", st: uint64(g), out: 1000, arr: g})
	}
	pkts = append(pkts, xpkt{kind: rStop, id: "i", st: 120, out: 1000, arr: 720})
	runX(t, w120, pkts, use{secs: 720, bytes: 1000})
}

// Upgrade: before, a network entry's records were keyed by its name; now by
// name@address. An open NAS session's next interim after the upgrade takes
// its old record over.
func TestAcctIdentityUpgradeNetworkEntry(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.Addr)
	flushAll(t, s)
	sid := create(t, s, testMAC, todSpec(1_000_000, 100_000))
	for _, p := range []struct {
		nas     string
		st, out uint64
	}{{"pool", 600, 5000}, {"pool@10.0.0.5", 660, 5500}} {
		account(t, s, session.AcctEvent{Kind: rInterim, NAS: p.nas, SessionID: "u", MAC: testMAC, SessionTime: p.st,
			OutputOctets: p.out, EventTime: t0.Add(sec(int(p.st))), Now: t0.Add(sec(int(p.st))), Policy: w120})
	}
	if got := consumed(t, s, sid); got != (use{660, 5500}) {
		t.Errorf("total %+v, want {660 5500}", got)
	}
}
