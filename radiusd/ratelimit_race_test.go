package radiusd_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// gatedVouchers is a voucher store whose every Redeem waits for release and
// then refuses the code as unknown: the guesses of a burst are all in flight
// at once, as when Redis is a few milliseconds away.
type gatedVouchers struct {
	calls    atomic.Int64
	limit    int64
	overflow chan struct{} // closed when more than limit Redeems started
	once     sync.Once
	release  chan struct{}
}

func (g *gatedVouchers) Redeem(ctx context.Context, _ string, _ session.MAC) (string, error) {
	if g.calls.Add(1) > g.limit {
		g.once.Do(func() { close(g.overflow) })
	}
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	return "", voucher.ErrUnknown
}

// TestVoucherRateLimitConcurrentBurst: a burst of guesses sent at once from
// one device reaches the store at most PerDevice times: the limiter's check
// and its count of failures are one step, so concurrent guesses cannot all
// pass the check before the first failure is counted.
func TestVoucherRateLimitConcurrentBurst(t *testing.T) {
	rs := redistest.Start(t)
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{rs.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	const perDevice, burst = 3, 20
	g := &gatedVouchers{limit: perDevice, overflow: make(chan struct{}), release: make(chan struct{})}
	defer func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	}()
	_, _, auth, _ := serveLoopback(t, rdb, radiusd.NAS{Login: radiusd.LoginVoucher, VoucherPassword: radiusd.VoucherPasswordAny,
		MAPolicy: radiusd.MAOptional, Profiles: []radiusd.Profile{radiusd.ProfileWISPr}}, func(c *radiusd.Config) {
		c.VoucherLimits = radiusd.VoucherLimits{PerDevice: perDevice, PerNAS: 1000}
		c.Vouchers = g
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	replies := make(chan string, burst)
	for i := range burst {
		go func() {
			p := radius.New(radius.CodeAccessRequest, []byte(e2eSecret))
			_ = rfc2865.UserName_SetString(p, fmt.Sprintf("GUESS%05d", i))
			_ = rfc2865.UserPassword_SetString(p, "x")
			_ = rfc2865.CallingStationID_SetString(p, "02:00:00:00:40:01")
			reply, err := (&radius.Client{Retry: 0}).Exchange(ctx, p, auth)
			if err != nil {
				replies <- "error: " + err.Error()
				return
			}
			replies <- rfc2865.ReplyMessage_GetString(reply)
		}()
	}
	// Every guess past the device's limit is refused at once, without a
	// store lookup; the ones within it wait in Redeem.
	for range burst - perDevice {
		select {
		case <-g.overflow:
			t.Fatalf("more than %d of %d concurrent guesses from one device reached the store (%d so far)", perDevice, burst, g.calls.Load())
		case msg := <-replies:
			if msg != "too many attempts, wait a minute" {
				t.Fatalf("reply %q, want the rate limit", msg)
			}
		case <-ctx.Done():
			t.Fatalf("not all replies arrived; %d Redeems", g.calls.Load())
		}
	}
	close(g.release)
	for range perDevice {
		if msg := <-replies; msg != "voucher code unknown" {
			t.Errorf("reply %q, want unknown", msg)
		}
	}
	if n := g.calls.Load(); n != perDevice {
		t.Errorf("%d Redeems, want %d", n, perDevice)
	}
}
