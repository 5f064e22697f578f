package main

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// TestFaultVoucherKilledBetweenSteps: radiusd dies of SIGKILL between the
// first step of a redemption (the voucher bound to the device) and the
// second (the device's session created), as HSRADIUS_FAULT_VOUCHER makes
// it. The NAS gets no answer; its retry reaches the restarted server, which
// completes the redemption: one session, recorded in the voucher.
func TestFaultVoucherKilledBetweenSteps(t *testing.T) {
	rs := redistest.Start(t)
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{rs.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	vm := voucher.NewManager(store, time.Now)
	ctx := context.Background()
	if _, err := vm.CreatePlan(ctx, voucher.PlanInput{Name: "1h", Type: []byte(`"time"`), TimeSecs: 3600, UseGlobalSpeed: true}); err != nil {
		t.Fatal(err)
	}
	b, err := vm.CreateBatch(ctx, "1h", voucher.BatchInput{Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	code, mac := b.Codes[0], session.MAC("02:00:00:00:50:01")

	srv := startFaultServerWith(t, "radiusd", rs.Addr, "    login: voucher\n", []string{envFaultVoucher + "=after_claim"})
	if _, err := voucherLogin(srv.auth, code, mac, 2*time.Second); err == nil {
		t.Fatal("the login was answered: the fault hook did not stop the server")
	}
	srv.waitKilled()
	v, err := vm.Voucher(ctx, code)
	if err != nil || len(v.Pending) != 1 || len(v.SessionIDs) != 0 {
		t.Fatalf("after the kill: %+v, %v; want bound to the device, session pending", v, err)
	}
	if all, _ := store.DeviceSessions(ctx, mac); len(all) != 0 {
		t.Fatalf("the device has %d sessions before the retry, want 0", len(all))
	}

	srv.env = nil
	srv.restart()
	reply, err := voucherLogin(srv.auth, code, mac, 10*time.Second)
	if err != nil || reply.Code != radius.CodeAccessAccept {
		t.Fatalf("retry after restart: %v, %v; want Access-Accept", reply, err)
	}
	if _, err := voucherLogin(srv.auth, code, mac, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	all, err := store.DeviceSessions(ctx, mac)
	if err != nil || len(all) != 1 || all[0].Voucher != code {
		t.Fatalf("device sessions %+v, %v: want exactly one, of the code", all, err)
	}
	v, _ = vm.Voucher(ctx, code)
	if len(v.Pending) != 0 || len(v.SessionIDs) != 1 || v.SessionIDs[0] != all[0].ID || v.State != voucher.StateActive {
		t.Errorf("voucher after the retry: %+v", v)
	}
}

// voucherLogin sends one voucher login (PAP, with a Message-Authenticator)
// and waits up to wait for the answer, retransmitting every second.
func voucherLogin(addr, code string, mac session.MAC, wait time.Duration) (*radius.Packet, error) {
	p := radius.New(radius.CodeAccessRequest, []byte(faultSecret))
	_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	_ = rfc2865.UserName_SetString(p, code)
	_ = rfc2865.UserPassword_SetString(p, code)
	_ = rfc2865.CallingStationID_SetString(p, mac.String())
	_ = rfc2865.NASIPAddress_Set(p, net.IPv4(127, 0, 0, 1))
	if err := packet.SignMA(p); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return (&radius.Client{Retry: time.Second}).Exchange(ctx, p, addr)
}

// waitKilled waits for the running instance to die of SIGKILL by itself.
func (s *faultServer) waitKilled() {
	s.t.Helper()
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	select {
	case <-exited:
	case <-time.After(faultStartTimeout):
		_ = cmd.Process.Kill()
		<-exited
		s.t.Fatalf("%s: still running after the fault point\n%s", s.name, s.log.tail(20))
	}
	var ee *exec.ExitError
	if err := s.exitErr(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		s.t.Fatalf("%s: pid %d did not die of SIGKILL: %v\n%s", s.name, cmd.Process.Pid, err, s.log.tail(20))
	}
}
