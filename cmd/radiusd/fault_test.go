package main

// Fault tests (docs/ARCHITECTURE.md, "Tests"): real traffic from a simulated NAS through the
// real radiusd binary into a real redis-server, under duplicates,
// reordering and replays, a Redis outage, a killed server, two servers on
// one Redis, and a NAS reboot. Each compares what Redis holds with what the
// NAS had acknowledged, exactly: nothing lost, nothing counted twice.
//
// Harness: faultsim_test.go (the radiusd process), faultnas_test.go (the
// NAS), faultproxy_test.go (the lossy network). fault_bug_test.go holds a
// test that reproduces a bug the suite found. Every test logs its seed
// (-fault.seed=N replays the same randomness) and its figures.

import (
	"net"
	"testing"
	"time"

	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
)

// faultDefault: 50 devices × 2 accounting sessions × (Start + 5 Interims +
// Stop), each session preceded by an Access-Request: 800 requests, a third
// of the sessions past 4 GiB.
var faultDefault = faultPlan{devices: 50, sessions: 2, interims: 5, gap: 60 * time.Millisecond}

// faultLogFigures logs the figures of a run.
func faultLogFigures(t *testing.T, start time.Time, nas *faultNAS, servers []*faultServer, ms []faultMetrics, want, got faultTotals) {
	t.Helper()
	t.Logf("NAS: %s", nas.stats())
	for i, m := range ms {
		t.Logf("%s (started %d times): %s", servers[i].name, servers[i].starts, m)
	}
	t.Logf("NAS sent:   %s", want)
	t.Logf("Redis has:  time %d s, data %d bytes", got.secs, got.bytes)
	t.Logf("run took %v", time.Since(start).Round(time.Millisecond))
}

// TestFaultDuplicatesReorderingReplays puts a lossy network between the
// NAS and the server: about 30 % of the datagrams in each direction are
// dropped, duplicated, delayed past later ones, sent again seconds later,
// or joined by a replay of an earlier datagram; at the end old requests are
// replayed again, long after their Stop, and past the response cache.
func TestFaultDuplicatesReorderingReplays(t *testing.T) {
	seed := faultRNGSeed(t)
	start := time.Now()
	rs := redistest.Start(t)
	db := newFaultDB(t, rs.Addr)
	plan := faultDefault
	devs := db.devices(t, plan.devices, seed)
	srv := startFaultServer(t, "radiusd", rs.Addr)
	reqKinds := []string{faultDrop, faultDup, faultDelay, faultLate, faultReplay}
	respKinds := []string{faultDrop, faultDup, faultDelay, faultReplay}
	acct := startFaultProxy(t, "acct", srv.acct, 0.3, seed+1, reqKinds, respKinds)
	auth := startFaultProxy(t, "auth", srv.auth, 0.3, seed+2, reqKinds, respKinds)
	nas := newFaultNAS(t, []string{auth.addr()}, []string{acct.addr()})

	if err := nas.run(devs, plan, "dup"); err != nil {
		t.Fatal(err)
	}
	// Old requests again: some within the response cache's 5 s, then, once
	// it has forgotten them all, more, which only idempotent accounting
	// absorbs.
	replayed := acct.replayHistory(0.3)
	time.Sleep(5500 * time.Millisecond) // response_cache_ttl + margin
	replayed += acct.replayHistory(0.5)
	acct.drain()
	auth.drain()
	as, aus := acct.stats(), auth.stats()
	ms := faultQuiesce(t, []*faultServer{srv}, as.upstream+aus.upstream)
	want, got := db.compare(t, devs, 8)

	t.Logf("acct proxy: %s", as)
	t.Logf("auth proxy: %s", aus)
	t.Logf("final replay of %d old accounting requests", replayed)
	faultLogFigures(t, start, nas, []*faultServer{srv}, ms, want, got)
	// (The auth proxy sees too few datagrams for a tight bound.)
	if pctOf(as.reqFaults, as.requests) < 20 || pctOf(as.respFaults, as.responses) < 20 {
		t.Errorf("the proxy faulted too little (want ≥ 20%% each way): %s", as)
	}
	acctRequests := int64(plan.devices * plan.sessions * (plan.interims + 2))
	if n := ms[0].outcome("acct", "accounted"); n <= acctRequests {
		t.Errorf("the server processed %d accounting requests, want more than the %d distinct ones: no replay reached the store", n, acctRequests)
	}
}

// TestFaultRedisOutage kills Redis (AOF, fsync always) a third into the
// run and restarts it at least 3 s later (when the NAS has sent enough during it): while it is down the server must answer
// nothing (an answer would acknowledge what was not stored), the NAS keeps
// retrying, and afterwards Redis holds exactly what was sent.
func TestFaultRedisOutage(t *testing.T) {
	seed := faultRNGSeed(t)
	start := time.Now()
	rs := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	db := newFaultDB(t, rs.Addr)
	plan := faultDefault
	devs := db.devices(t, plan.devices, seed)
	srv := startFaultServer(t, "radiusd", rs.Addr)
	nas := newFaultNAS(t, []string{srv.auth}, []string{srv.acct})
	nas.outage = &faultOutage{}

	errc := make(chan error, 1)
	go func() { errc <- nas.run(devs, plan, "redis") }()
	nas.waitAnswered(t, plan.requests()/3)
	rs.Stop()
	nas.outage.markDown()
	answeredAtStop := nas.answers.Load()
	nas.outage.hold(3*time.Second, 30*time.Second, plan.devices*3/4) // the outage itself; the NAS keeps retrying
	nas.outage.markUp()
	rs.Restart()
	restarted := time.Now()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ms := faultQuiesce(t, []*faultServer{srv}, -1)
	want, got := db.compare(t, devs, 8)

	o := nas.outage
	t.Logf("outage: Redis down %v; %d requests answered before it; %d requests first sent while down: %d answered while down, %d answered after the restart; %d sent before answered while down; run finished %v after the restart",
		o.up.Sub(o.down).Round(time.Millisecond), answeredAtStop, o.sentWhileDown, o.answeredWhileDown, o.answeredAfter, o.earlierAnswered, time.Since(restarted).Round(time.Millisecond))
	faultLogFigures(t, start, nas, []*faultServer{srv}, ms, want, got)
	if o.answeredWhileDown != 0 {
		t.Errorf("%d requests sent while Redis was down were answered before it came back (acknowledged without being stored): %v", o.answeredWhileDown, o.examples)
	}
	if o.sentWhileDown < plan.devices/2 {
		t.Errorf("only %d requests were sent while Redis was down: the outage tested little", o.sentWhileDown)
	}
	if ms[0].outcome("acct", "store_error") == 0 {
		t.Errorf("the server counted no store_error: did Redis really go down?")
	}
}

// TestFaultServerKilled kills radiusd with SIGKILL twice mid-run (requests
// in flight, replies unsent, its response cache gone) and starts it again
// on the same ports, the second time after a second of silence.
func TestFaultServerKilled(t *testing.T) {
	seed := faultRNGSeed(t)
	start := time.Now()
	rs := redistest.Start(t)
	db := newFaultDB(t, rs.Addr)
	plan := faultDefault
	devs := db.devices(t, plan.devices, seed)
	srv := startFaultServer(t, "radiusd", rs.Addr)
	nas := newFaultNAS(t, []string{srv.auth}, []string{srv.acct})

	errc := make(chan error, 1)
	go func() { errc <- nas.run(devs, plan, "kill") }()
	for i, at := range []int64{plan.requests() * 3 / 10, plan.requests() * 6 / 10} {
		nas.waitAnswered(t, at)
		if m, err := srv.metrics(); err == nil {
			t.Logf("instance %d before SIGKILL (NAS answered %d): %s", srv.starts, nas.answers.Load(), m)
		}
		srv.kill()
		if i == 1 {
			time.Sleep(time.Second) // down for a while: retransmissions meet a closed port
		}
		srv.restart()
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ms := faultQuiesce(t, []*faultServer{srv}, -1)
	want, got := db.compare(t, devs, 8)
	faultLogFigures(t, start, nas, []*faultServer{srv}, ms, want, got)
	if srv.starts != 3 {
		t.Errorf("radiusd started %d times, want 3", srv.starts)
	}
}

// TestFaultTwoServers runs two radiusd on one Redis, as a NAS with two
// RADIUS servers sees them: each device's requests alternate between them,
// and every retransmission goes to the other one, over a network that
// drops, duplicates and delays 25 % of the datagrams.
func TestFaultTwoServers(t *testing.T) {
	seed := faultRNGSeed(t)
	start := time.Now()
	rs := redistest.Start(t)
	db := newFaultDB(t, rs.Addr)
	plan := faultDefault
	devs := db.devices(t, plan.devices, seed)
	a := startFaultServer(t, "radiusd-a", rs.Addr)
	b := startFaultServer(t, "radiusd-b", rs.Addr)
	kinds := []string{faultDrop, faultDup, faultDelay}
	proxies := []*faultProxy{
		startFaultProxy(t, "auth-a", a.auth, 0.25, seed+1, kinds, kinds),
		startFaultProxy(t, "auth-b", b.auth, 0.25, seed+2, kinds, kinds),
		startFaultProxy(t, "acct-a", a.acct, 0.25, seed+3, kinds, kinds),
		startFaultProxy(t, "acct-b", b.acct, 0.25, seed+4, kinds, kinds),
	}
	nas := newFaultNAS(t, []string{proxies[0].addr(), proxies[1].addr()}, []string{proxies[2].addr(), proxies[3].addr()})

	if err := nas.run(devs, plan, "two"); err != nil {
		t.Fatal(err)
	}
	var upstream int64
	for _, p := range proxies {
		p.drain()
		upstream += p.stats().upstream
	}
	servers := []*faultServer{a, b}
	ms := faultQuiesce(t, servers, upstream)
	want, got := db.compare(t, devs, 8)
	for _, p := range proxies {
		t.Logf("proxy %s: %s", p.name, p.stats())
	}
	faultLogFigures(t, start, nas, servers, ms, want, got)
	for i, m := range ms {
		if m.outcome("acct", "accounted") == 0 {
			t.Errorf("%s accounted nothing", servers[i].name)
		}
	}
	if nas.failovers.Load() == 0 {
		t.Errorf("no retransmission went to the other server")
	}
}

// faultOrphans opens, on every device, an accounting session the NAS's
// reboot will orphan (Start and two Interims, answered); every fifth device
// first completes a whole session.
func faultOrphans(nas *faultNAS, devs []*faultDevice, gap time.Duration) error {
	return faultEach(devs, func(dev *faultDevice) error {
		if dev.idx%5 == 0 {
			if err := nas.session(dev, "done", 2, gap); err != nil {
				return err
			}
		}
		if err := nas.authorize(dev); err != nil {
			return err
		}
		a := dev.newAcct("orphan")
		a.abandoned = true
		if err := nas.account(a, rfc2866.AcctStatusType_Value_Start); err != nil {
			return err
		}
		for range 2 {
			dev.pause(gap)
			a.advance()
			if err := nas.account(a, rfc2866.AcctStatusType_Value_InterimUpdate); err != nil {
				return err
			}
		}
		return nil
	})
}

// faultCheckRecords checks the accounting records after a NAS reboot: the
// orphans closed by the Accounting-On, every other one stopped by its Stop.
func faultCheckRecords(t *testing.T, db *faultDB, devs []*faultDevice, show int) (orphans int) {
	t.Helper()
	ctx := t.Context()
	bad := 0
	for _, dev := range devs {
		for _, a := range dev.accts {
			h, err := db.record(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			wantBy := ""
			if a.abandoned {
				wantBy = "accounting-on"
				orphans++
			}
			if h["state"] != "stopped" || h["closed_by"] != wantBy {
				if bad++; bad <= show {
					t.Errorf("record %s (abandoned %v): state=%q closed_by=%q, want stopped, closed_by %q", a.id, a.abandoned, h["state"], h["closed_by"], wantBy)
				}
			}
		}
	}
	if bad > show {
		t.Errorf("… %d records in all are wrong", bad)
	}
	return orphans
}

// TestFaultNASReboot reboots the NAS mid-run: it sends Accounting-On (no
// User-Name), forgets its open sessions (their Stop never comes; a stale
// copy of their last Interim does, and adds nothing) and starts new ones.
// Redis must hold what was reported before the reboot plus the new
// sessions, and the orphaned records must be closed by the Accounting-On.
func TestFaultNASReboot(t *testing.T) {
	seed := faultRNGSeed(t)
	start := time.Now()
	rs := redistest.Start(t)
	db := newFaultDB(t, rs.Addr)
	plan := faultDefault
	devs := db.devices(t, plan.devices, seed)
	srv := startFaultServer(t, "radiusd", rs.Addr)
	nas := newFaultNAS(t, []string{srv.auth}, []string{srv.acct})

	if err := faultOrphans(nas, devs, plan.gap); err != nil {
		t.Fatal(err)
	}
	if err := nas.accountingOn(true, func(int) *net.UDPAddr { return nas.acct[0] }, nil); err != nil {
		t.Fatal(err)
	}
	// A copy of an orphan's last Interim, delayed in the network.
	late := 0
	for _, dev := range devs {
		if dev.idx%3 == 0 {
			if err := nas.account(dev.accts[len(dev.accts)-1], rfc2866.AcctStatusType_Value_InterimUpdate); err != nil {
				t.Fatal(err)
			}
			late++
		}
	}
	if err := nas.run(devs, plan, "after"); err != nil {
		t.Fatal(err)
	}
	ms := faultQuiesce(t, []*faultServer{srv}, -1)
	want, got := db.compare(t, devs, 8)
	orphans := faultCheckRecords(t, db, devs, 8)
	faultCheckClosed(t, srv, orphans)
	t.Logf("reboot: %d orphaned accounting sessions, %d late copies of their last Interim after the Accounting-On", orphans, late)
	faultLogFigures(t, start, nas, []*faultServer{srv}, ms, want, got)
}

// faultCheckClosed checks the server's log line for the Accounting-On: it
// closed every orphan.
func faultCheckClosed(t *testing.T, srv *faultServer, orphans int) {
	t.Helper()
	var closed []float64
	for _, m := range srv.log.messages("NAS restarted: its open accounting records are closed") {
		n, _ := m["closed"].(float64)
		closed = append(closed, n)
	}
	if len(closed) == 0 || closed[0] != float64(orphans) {
		t.Errorf("Accounting-On log lines report closed=%v, want first %d", closed, orphans)
	}
}
