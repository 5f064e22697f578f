package main

// A fault test that reproduces a bug found by the fault suite (see
// fault_test.go): kept failing until the bug is fixed. It lives in its own
// file, named to run before the others, so that the figures of the passing
// fault tests stay at the end of `go test -v` output.

import (
	"net"
	"testing"
	"time"

	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
)

// TestFaultNASRebootAccountingOnRetransmitted reboots the NAS, but the
// first transmission of its Accounting-On is lost: while the NAS waits to
// retransmit it, devices reconnect and their new sessions start (a NAS does
// not hold its clients' accounting until the Accounting-On is answered).
// The retransmission, when it arrives, must close only the sessions of
// before the reboot, so the new ones count in full.
//
// BUG: it closes the new ones too, and everything they report afterwards is
// acknowledged and dropped. CloseNAS (redisstore/acct.go) closes every
// record of the NAS whose updated_at (whole seconds, server clock) is at or
// before arrival − Acct-Delay-Time: with the same bytes that is the
// retransmission's arrival, after the new Starts; with Acct-Delay-Time
// updated it is the reboot's second, which the new Starts share. The
// closed record's later Interims and its Stop are then "after_stop" in
// account.lua: answered, counted nowhere.
func TestFaultNASRebootAccountingOnRetransmitted(t *testing.T) {
	t.Log("BUG reproduction, fails until fixed: a late Accounting-On closes the sessions started after the reboot; their consumption is lost")
	for _, tc := range []struct {
		name  string
		newID bool
	}{
		{"same bytes", false},
		{"Acct-Delay-Time updated", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := faultRNGSeed(t)
			start := time.Now()
			rs := redistest.Start(t)
			db := newFaultDB(t, rs.Addr)
			plan := faultPlan{devices: 30, sessions: 1, interims: 3, gap: 30 * time.Millisecond}
			devs := db.devices(t, plan.devices, seed)
			srv := startFaultServer(t, "radiusd", rs.Addr)
			nas := newFaultNAS(t, []string{srv.auth}, []string{srv.acct})
			if err := faultOrphans(nas, devs, plan.gap); err != nil {
				t.Fatal(err)
			}

			lost, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // where the first transmission goes
			if err != nil {
				t.Fatal(err)
			}
			defer lost.Close()
			reconnected := make(chan struct{})
			onErr := make(chan error, 1)
			go func() {
				first := time.Now()
				onErr <- nas.accountingOn(tc.newID,
					func(attempt int) *net.UDPAddr {
						if attempt == 0 {
							return lost.LocalAddr().(*net.UDPAddr)
						}
						return nas.acct[0]
					},
					func(attempt int) {
						if attempt == 1 {
							<-reconnected
							time.Sleep(time.Until(first.Add(1200 * time.Millisecond))) // the NAS's retransmission timer
						}
					})
			}()
			// While the Accounting-On waits, every device reconnects: a new
			// session, authorized and started.
			var newAccts []*faultAcct
			if err := faultEach(devs, func(dev *faultDevice) error {
				if err := nas.authorize(dev); err != nil {
					return err
				}
				return nas.account(dev.newAcct("after"), rfc2866.AcctStatusType_Value_Start)
			}); err != nil {
				t.Fatal(err)
			}
			for _, dev := range devs {
				newAccts = append(newAccts, dev.accts[len(dev.accts)-1])
			}
			close(reconnected)
			if err := <-onErr; err != nil {
				t.Fatal(err)
			}
			// The new sessions go on: Interims, Stop.
			if err := faultEach(devs, func(dev *faultDevice) error {
				a := newAccts[dev.idx]
				for range plan.interims {
					dev.pause(plan.gap)
					a.advance()
					if err := nas.account(a, rfc2866.AcctStatusType_Value_InterimUpdate); err != nil {
						return err
					}
				}
				a.advance()
				return nas.account(a, rfc2866.AcctStatusType_Value_Stop)
			}); err != nil {
				t.Fatal(err)
			}
			ms := faultQuiesce(t, []*faultServer{srv}, -1)
			want, got := db.compare(t, devs, 2)
			orphans := faultCheckRecords(t, db, devs, 2)
			t.Logf("reboot: %d orphaned accounting sessions; %d new sessions started before the Accounting-On got through", orphans, len(newAccts))
			faultLogFigures(t, start, nas, []*faultServer{srv}, ms, want, got)
		})
	}
}
