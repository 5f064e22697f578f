package redisstore

// Regression tests from a review of the accounting identity rules: each
// sequence made the server count twice or lose usage before its fix.

import (
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

var w120 = session.AcctPolicy{RetransmitWindow: 2 * time.Minute}

// Takeover by a delayed first packet, then prompt packets of the same new
// session are judged nearer the replaced session's start: lost.
func testAcctIdentityPrevBeganMidpoint(t *testing.T, s *Store) {
	reuseScenario(t, s, w120, []rpkt{
		{kind: rStart, id: "x", gen: sec(0)},
		{kind: rStop, id: "x", st: 40, out: 400, gen: sec(40)},
		// NAS reboots; new NAS session with the same id begins at 60
		{kind: rStart, id: "x", gen: sec(60)},                        // stale (no proof)
		{kind: rInterim, id: "x", st: 300, out: 3000, gen: sec(460)}, // gen 360, 100 s late
		{kind: rInterim, id: "x", st: 600, out: 6000, gen: sec(660)},
		{kind: rStop, id: "x", st: 700, out: 7000, gen: sec(760)},
	}, use{secs: 740, bytes: 7400})
}

// Reuse (reboot, no Stop) within W of the old start, no Class: never proven
// (the documented limit: the new session's first 30 s go unseen), but with
// counter_wrap: wrap its lower octets must not read as a 4 GiB wrap.
func testAcctIdentityReuseWrapOvercount(t *testing.T, s *Store) {
	pol := w120
	pol.Wrap32 = true
	reuseScenario(t, s, pol, []rpkt{
		{kind: rStart, id: "y", gen: sec(0)},
		{kind: rInterim, id: "y", st: 30, out: 1_000_000, gen: sec(30)},
		{gen: sec(45)}, // NAS rebooted
		{kind: rStart, id: "y", gen: sec(50)},
		{kind: rInterim, id: "y", st: 600, out: 500_000, gen: sec(650)},
		{kind: rStop, id: "y", st: 3600, out: 900_000, gen: sec(3650)},
	}, use{secs: 3600, bytes: 1_900_000})
}

// NAS clock trusted (within 24 h) but stepped by NTP during the session.
func testAcctIdentityNASClockStep(t *testing.T, s *Store) {
	reuseScenario(t, s, w120, []rpkt{
		{kind: rStart, id: "z", gen: sec(0), ts: -600, nasclock: true},
		{kind: rInterim, id: "z", st: 60, out: 1000, gen: sec(60), ts: -540, nasclock: true},
		// NTP steps the NAS clock forward by 600 s
		{kind: rInterim, id: "z", st: 120, out: 2000, gen: sec(120), ts: 120, nasclock: true},
		{kind: rStop, id: "z", st: 180, out: 3000, gen: sec(180), ts: 180, nasclock: true},
	}, use{secs: 180, bytes: 3000})
}

// NAS clock 90 s ahead: a prompt packet's Event-Timestamp is distrusted
// (> now+1m), a packet that arrives 30 s late is trusted: clocks mixed.
func testAcctIdentityNASClockMixedTrust(t *testing.T, s *Store) {
	reuseScenario(t, s, w120, []rpkt{
		{kind: rStart, id: "m", gen: sec(0)},                       // ts 90 > 0+60: server clock
		{kind: rInterim, id: "m", st: 60, out: 1000, gen: sec(60)}, // ts 150 > 120: server clock
		// gen 120, first copy lost, retransmitted with Acct-Delay-Time 30, arrives 150: ts 210 <= 210 trusted
		{kind: rInterim, id: "m", st: 120, out: 2000, gen: sec(150), ts: 210, nasclock: true},
	}, use{secs: 120, bytes: 2000})
	flushAll(t, s) // the same history, then prompt packets again
	reuseScenario(t, s, w120, []rpkt{
		{kind: rStart, id: "m", gen: sec(0)},
		{kind: rInterim, id: "m", st: 60, out: 1000, gen: sec(60)},
		{kind: rInterim, id: "m", st: 120, out: 2000, gen: sec(150), ts: 210, nasclock: true},
		{kind: rInterim, id: "m", st: 180, out: 3000, gen: sec(180)}, // prompt again: ts 270 > 240
		{kind: rStop, id: "m", st: 600, out: 9000, gen: sec(600)},
	}, use{secs: 600, bytes: 9000})
}

// pfSense idle Stop (session time up to the last activity) before a late interim.
func testAcctIdentityIdleStopLateInterim(t *testing.T, s *Store) {
	reuseScenario(t, s, w120, []rpkt{
		{kind: rStart, id: "p", gen: sec(0)},
		{kind: rInterim, id: "p", st: 60, out: 800, gen: sec(60)},
		{kind: rStop, id: "p", st: 100, out: 1000, gen: sec(160)},    // idle since 100, timeout 60
		{kind: rInterim, id: "p", st: 120, out: 1000, gen: sec(180)}, // gen 120, 60 s late
	}, use{secs: 100, bytes: 1000})
}

// stop_start_reset with its default 20 s window: a Stop 20 s late, then the
// next one on time (a 30 s window could not tell them apart).
func testAcctIdentityStopStartResetBoundary(t *testing.T, s *Store) {
	pol := session.AcctPolicy{RetransmitWindow: 20 * time.Second, Updates: session.AcctUpdatesStopStartReset}
	reuseScenario(t, s, pol, []rpkt{
		{kind: rStart, id: "f", gen: sec(0)},
		{kind: rStop, id: "f", st: 60, out: 1000, gen: sec(80)}, // gen 60
		{kind: rStart, id: "f", gen: sec(81)},                   // gen 61
		{kind: rStop, id: "f", st: 60, out: 500, gen: sec(120)}, // gen 120
	}, use{secs: 120, bytes: 1500})
}

// stop_start: segment Stops reordered (first copy of Stop 1 lost, resent).
func testAcctIdentityStopStartReorder(t *testing.T, s *Store) {
	pol := session.AcctPolicy{RetransmitWindow: 2 * time.Minute, Updates: session.AcctUpdatesStopStart}
	reuseScenario(t, s, pol, []rpkt{
		{kind: rStart, id: "g", gen: sec(0)},
		{kind: rStop, id: "g", st: 120, out: 500, gen: sec(120)}, // segment 2
		{kind: rStop, id: "g", st: 60, out: 1000, gen: sec(130)}, // segment 1, gen 60
	}, use{secs: 120, bytes: 1500})
}

// pfSense interim mode, idle timeout 600 s (idle time excluded, pfSense's
// default): interims run on to st=720, the idle Stop says st=120.
func testAcctIdentityIdleStopLongIdle(t *testing.T, s *Store) {
	pkts := []rpkt{{kind: rStart, id: "i", gen: sec(0)}, {kind: rInterim, id: "i", st: 60, out: 500, gen: sec(60)}}
	for g := int64(120); g <= 720; g += 60 {
		pkts = append(pkts, rpkt{kind: rInterim, id: "i", st: uint64(g), out: 1000, gen: sec(int(g))})
	}
	pkts = append(pkts, rpkt{kind: rStop, id: "i", st: 120, out: 1000, gen: sec(720)})
	reuseScenario(t, s, w120, pkts, use{secs: 720, bytes: 1000})
}

// Upgrade: before, a network entry's records were keyed by its name; now by
// name@address. An open NAS session's next interim after the upgrade takes
// its old record over.
func testAcctIdentityUpgradeNetworkEntry(t *testing.T, s *Store) {
	sid := create(t, s, testMAC, todSpec(1_000_000, 1_000_000))
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
