package redisstore

import (
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// Tests of an accounting record's identity: a reused Acct-Session-Id told
// from a delayed duplicate, network NAS entries counted per address, 32-bit
// counters that wrap, pfSense's Stop/Start updates. Each scenario is what a
// NAS sends, each packet with the outcome it must have, and the device's
// total consumption, which must equal what the NAS counted.

// rpkt is a packet of NAS nas, produced at gen and arriving at arr, whose
// Acct-Delay-Time the NAS did not raise (event time = arrival): the worst
// case for telling copies apart.
type rpkt struct {
	kind           session.AcctKind
	nas, id, class string
	st, in, out    uint64
	gen, arr       time.Duration // after t0; arr 0 = gen
	gigawords      bool
	// nasclock: the packet carries Event-Timestamp ts (seconds after t0).
	nasclock bool
	ts       int64
	want     session.AcctOutcome // 0: not checked
}

func (p rpkt) event(pol session.AcctPolicy) session.AcctEvent {
	arr := p.arr
	if arr == 0 {
		arr = p.gen
	}
	nas := p.nas
	if nas == "" {
		nas = "nas-a"
	}
	ev := session.AcctEvent{
		Kind: p.kind, NAS: nas, SessionID: p.id, MAC: testMAC,
		SessionTime: p.st, InputOctets: p.in, OutputOctets: p.out,
		EventTime: t0.Add(arr), Now: t0.Add(arr), Class: p.class, Gigawords: p.gigawords, Policy: pol,
	}
	if p.nasclock {
		ev.EventTime, ev.NASClock = t0.Add(time.Duration(p.ts)*time.Second), true
	}
	return ev
}

const (
	rApplied   = session.AcctApplied
	rStale     = session.AcctStale
	rAfterStop = session.AcctAfterStop
	rStart     = session.AcctStart
	rInterim   = session.AcctInterim
	rStop      = session.AcctStop
)

// reuseScenario delivers pkts in order (closing NAS nas-a at closeAt when set,
// as an Accounting-On would) and checks each outcome and the total.
func reuseScenario(t *testing.T, s *Store, pol session.AcctPolicy, pkts []rpkt, total use) {
	t.Helper()
	id := create(t, s, testMAC, todSpec(1_000_000, 1_000_000))
	for i, p := range pkts {
		if p.kind == 0 { // Accounting-On of nas-a at gen
			if _, err := s.CloseNAS(t.Context(), "nas-a", t0.Add(p.gen), "accounting-on"); err != nil {
				t.Fatalf("CloseNAS: %v", err)
			}
			continue
		}
		res := account(t, s, p.event(pol))
		if p.want != 0 && res.Outcome != p.want {
			t.Errorf("packet %d (%s %s st=%d in=%d out=%d gen=%v arr=%v class=%q): outcome %v, want %v",
				i, p.kind, p.id, p.st, p.in, p.out, p.gen, p.arr, p.class, res.Outcome, p.want)
		}
	}
	if got := consumed(t, s, id); got != total {
		t.Errorf("total consumption %+v, want %+v", got, total)
	}
}

var window = session.AcctPolicy{RetransmitWindow: 2 * time.Minute}

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func testAcctReusedAfterReboot(t *testing.T, s *Store) {
	// The review's reproduction: a NAS without Event-Timestamp or Class
	// reboots and hands the same device the same Acct-Session-Id again.
	reuseScenario(t, s, window, []rpkt{
		{kind: rStart, id: "80000001", gen: 0, want: rApplied},
		{kind: rInterim, id: "80000001", st: 600, gen: sec(600), want: rApplied},
		{kind: rStop, id: "80000001", st: 900, gen: sec(900), want: rApplied},
		{gen: sec(960)}, // Accounting-On
		{kind: rStart, id: "80000001", gen: sec(1000), want: rApplied},
		{kind: rInterim, id: "80000001", st: 1200, gen: sec(2200), want: rApplied},
		{kind: rStop, id: "80000001", st: 1500, gen: sec(2500), want: rApplied},
	}, use{secs: 2400})
}

func testAcctDelayedDuplicates(t *testing.T, s *Store) {
	// Copies of a NAS session's packets arriving late, within the window:
	// never counted again, never mistaken for a new NAS session.
	reuseScenario(t, s, window, []rpkt{
		{kind: rStart, id: "d", gen: 0, want: rApplied},
		{kind: rInterim, id: "d", st: 60, out: 500, gen: sec(60), want: rApplied},
		{kind: rStop, id: "d", st: 100, out: 900, gen: sec(100), want: rApplied},
		{kind: rStart, id: "d", gen: 0, arr: sec(110), want: rStale},                               // duplicate Start after the Stop
		{kind: rInterim, id: "d", st: 60, out: 500, gen: sec(60), arr: sec(115), want: rAfterStop}, // late interim
		{kind: rStop, id: "d", st: 100, out: 900, gen: sec(100), arr: sec(119), want: rAfterStop},
	}, use{secs: 100, bytes: 900})
}

func testAcctReusedWithClass(t *testing.T, s *Store) {
	// A NAS that echoes Class (MikroTik, CoovaChilli): a new NAS session
	// within the window is told apart by its Class, and copies of the old
	// one that arrive after it are not.
	reuseScenario(t, s, window, []rpkt{
		{kind: rStart, id: "c", class: "A", gen: 0, want: rApplied},
		{kind: rStop, id: "c", class: "A", st: 30, out: 300, gen: sec(30), want: rApplied},
		{kind: rStart, id: "c", class: "B", gen: sec(40), want: rApplied},
		{kind: rStart, id: "c", class: "A", gen: 0, arr: sec(45), want: rStale},
		{kind: rStop, id: "c", class: "A", st: 30, out: 300, gen: sec(30), arr: sec(50), want: rStale},
		{kind: rInterim, id: "c", class: "B", st: 60, out: 600, gen: sec(100), want: rApplied},
		{kind: rInterim, id: "c", class: "B", st: 60, out: 600, gen: sec(100), arr: sec(101), want: rStale},
		// An open record whose Stop was lost: another Class is another session.
		{kind: rInterim, id: "c", class: "C", st: 10, out: 10, gen: sec(200), want: rApplied},
	}, use{secs: 100, bytes: 910})
}

func testAcctReusedQuickNoProof(t *testing.T, s *Store) {
	// No Class, no Event-Timestamp, and the new NAS session began within the
	// window of the old one's start: nothing tells its packets from late
	// copies of the old session's, so they add nothing (README.md: the
	// documented limit; a NAS that echoes Class has none).
	reuseScenario(t, s, window, []rpkt{
		{kind: rStart, id: "q", gen: 0, want: rApplied},
		{kind: rStop, id: "q", st: 30, out: 300, gen: sec(30), want: rApplied},
		{kind: rStart, id: "q", gen: sec(40), want: rStale},
		{kind: rInterim, id: "q", st: 60, out: 600, gen: sec(100), want: rAfterStop},
		{kind: rStop, id: "q", st: 80, out: 700, gen: sec(120), want: rAfterStop},
		// A copy of the first session's Stop.
		{kind: rStop, id: "q", st: 30, out: 300, gen: sec(30), arr: sec(140), want: rAfterStop},
	}, use{secs: 30, bytes: 300})
}

func testAcctNetworkEntry(t *testing.T, s *Store) {
	// Two access points behind one network NAS entry give a roaming device
	// the same Acct-Session-Id: each address is its own accounting identity.
	reuseScenario(t, s, window, []rpkt{
		{kind: rStart, nas: "pool@10.0.0.1", id: "1", gen: 0, want: rApplied},
		{kind: rInterim, nas: "pool@10.0.0.1", id: "1", st: 60, out: 100, gen: sec(60), want: rApplied},
		{kind: rStart, nas: "pool@10.0.0.2", id: "1", gen: sec(61), want: rApplied},
		{kind: rInterim, nas: "pool@10.0.0.2", id: "1", st: 60, out: 50, gen: sec(121), want: rApplied},
		{kind: rStop, nas: "pool@10.0.0.1", id: "1", st: 70, out: 110, gen: sec(70), arr: sec(122), want: rApplied},
	}, use{secs: 130, bytes: 160})
	// One access point's reboot closes its records only.
	n, err := s.CloseNAS(t.Context(), "pool@10.0.0.2", t0.Add(sec(200)), "accounting-on")
	if err != nil || n != 1 {
		t.Fatalf("CloseNAS(pool@10.0.0.2): %d, %v; want 1 record", n, err)
	}
	if h := hgetall(t, s, recordKey(testMAC, "pool@10.0.0.2", "1")); h["closed_by"] != "accounting-on" {
		t.Errorf("record of 10.0.0.2: %v", h)
	}
	for _, bad := range []string{"pool@10.0.0.300", "pool@2001:db8::1", "pool@[10.0.0.1]", "pool@[2001:DB8::1]"} {
		if err := ValidNAS(bad); err == nil {
			t.Errorf("ValidNAS(%q) accepted it", bad)
		}
	}
	// IPv6 addresses are bracketed, so that an Acct-Session-Id with ':' cannot
	// make two records share a key; Accounting-On from one closes its own.
	v6 := "pool@[2001:db8::1]"
	if r := account(t, s, rpkt{kind: rInterim, nas: v6, id: "1:5", st: 10, out: 5, gen: sec(300)}.event(window)); r.Outcome != rApplied {
		t.Fatalf("IPv6 access point: %v", r.Outcome)
	}
	if h := hgetall(t, s, recordKey(testMAC, v6, "1:5")); h["nas"] != v6 {
		t.Errorf("record of %s: %v", v6, h)
	}
	if n, err := s.CloseNAS(t.Context(), v6, t0.Add(sec(400)), "accounting-on"); err != nil || n != 1 {
		t.Errorf("CloseNAS(%s): %d, %v; want 1 record", v6, n, err)
	}
}

func testAcctWrap32(t *testing.T, s *Store) {
	wrap := session.AcctPolicy{RetransmitWindow: 2 * time.Minute, Wrap32: true}
	// The figures: 4,000,000,000 then 100,000,000 output octets from
	// a NAS that never sends Gigawords (OPNsense) wrapped once.
	reuseScenario(t, s, wrap, []rpkt{
		{kind: rInterim, id: "w", st: 60, out: 4_000_000_000, gen: sec(60), want: rApplied},
		{kind: rInterim, id: "w", st: 120, out: 100_000_000, gen: sec(120), want: rApplied},
	}, use{secs: 120, bytes: 4_394_967_296})
}

func testAcctWrap32Gigawords(t *testing.T, s *Store) {
	// A NAS that sent Gigawords counts in 64 bits: a decrease is a reset.
	wrap := session.AcctPolicy{RetransmitWindow: 2 * time.Minute, Wrap32: true}
	reuseScenario(t, s, wrap, []rpkt{
		{kind: rInterim, id: "g", st: 60, out: 4_000_000_000, gigawords: true, gen: sec(60), want: rApplied},
		{kind: rInterim, id: "g", st: 120, out: 100_000_000, gen: sec(120), want: rApplied},
	}, use{secs: 120, bytes: 4_100_000_000})
}

func testAcctStopStart(t *testing.T, s *Store) {
	// pfSense "Stop/Start": Acct-Session-Time since login, octets since the
	// last Start (pfSense zeroes them after each Stop), no Class, no
	// Event-Timestamp, the same Acct-Session-Id all along.
	pol := session.AcctPolicy{RetransmitWindow: 2 * time.Minute, Updates: session.AcctUpdatesStopStart}
	reuseScenario(t, s, pol, []rpkt{
		{kind: rStart, id: "p", gen: 0, want: rApplied},
		{kind: rStop, id: "p", st: 60, in: 1000, out: 2000, gen: sec(60), want: rApplied},
		{kind: rStart, id: "p", gen: sec(61), want: rApplied},
		{kind: rStop, id: "p", st: 60, in: 1000, out: 2000, gen: sec(60), arr: sec(65), want: rStale}, // copy
		{kind: rStart, id: "p", gen: sec(61), arr: sec(66), want: rStale},
		{kind: rStop, id: "p", st: 120, in: 500, out: 500, gen: sec(120), want: rApplied},
		{kind: rStop, id: "p", st: 120, in: 500, out: 500, gen: sec(120), arr: sec(125), want: rStale},
		// The next Start was lost: the Stop still counts (its time moved on).
		{kind: rStop, id: "p", st: 180, in: 7, out: 3, gen: sec(180), want: rApplied},
		{kind: rStart, id: "p", gen: sec(181), want: rApplied},
		{kind: rStop, id: "p", st: 200, in: 10, out: 10, gen: sec(200), want: rApplied}, // logout
	}, use{secs: 200, bytes: 4030})
}

func testAcctStopStartReset(t *testing.T, s *Store) {
	// pfSense "Stop/Start (FreeRADIUS)": each periodic Stop says 60 s and
	// the octets since the last Start; the logout Stop the seconds since the
	// last full minute. Segments are a minute apart, so the window must be
	// shorter than that.
	pol := session.AcctPolicy{RetransmitWindow: 30 * time.Second, Updates: session.AcctUpdatesStopStartReset}
	reuseScenario(t, s, pol, []rpkt{
		{kind: rStart, id: "f", gen: 0, want: rApplied},
		{kind: rStop, id: "f", st: 60, in: 1000, out: 2000, gen: sec(60), want: rApplied},
		{kind: rStart, id: "f", gen: sec(61), want: rApplied},
		{kind: rStop, id: "f", st: 60, in: 1000, out: 2000, gen: sec(60), arr: sec(70), want: rStale}, // copy
		{kind: rStop, id: "f", st: 60, in: 500, out: 500, gen: sec(121), want: rApplied},
		{kind: rStart, id: "f", gen: sec(122), want: rApplied},
		{kind: rStop, id: "f", st: 60, in: 500, out: 500, gen: sec(121), arr: sec(130), want: rStale},
		{kind: rStop, id: "f", st: 30, in: 10, out: 10, gen: sec(152), want: rApplied}, // logout
	}, use{secs: 150, bytes: 4020})
}
