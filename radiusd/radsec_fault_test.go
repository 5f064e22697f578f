package radiusd_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/radiusd/radsec"
	"github.com/hotspot-radius/hsradius/radiusd/radsec/radsectest"
	"github.com/hotspot-radius/hsradius/session"
)

// TestRadSecFaultConnectionDrops: NASes on RadSec whose connections drop
// at random — after a request is written and before its reply is read — and
// which then resend the unanswered request on a new connection (RFC 6614
// §2.6), sometimes twice on one connection too. Redis, a real one, must
// hold exactly what the NASes reported: every resend on a new connection is
// processed again (the response cache is per connection) and accounting's
// idempotency keeps it from counting twice.
func TestRadSecFaultConnectionDrops(t *testing.T) {
	e := startRadSec(t, rsOptions{})
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	const (
		nases, devices, interims = 4, 6, 5
		step                     = 60 // seconds per interim
	)
	ctx := context.Background()
	mac := func(n, d int) string { return fmt.Sprintf("02:00:00:00:%02x:%02x", n, d) }
	for n := range nases {
		for d := range devices {
			if _, err := e.mgr.CreateSession(ctx, mac(n, d), session.Spec{Type: session.TypeTime, TimeSecs: 100000, DownMbits: 10, UpMbits: 2}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var (
		wg           sync.WaitGroup
		mu           sync.Mutex
		drops, dupes int
	)
	for n := range nases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(n)))
			nas := &dropNAS{e: e}
			defer nas.close()
			for d := range devices {
				for i := 0; i <= interims+1; i++ {
					status := rfc2866.AcctStatusType_Value_InterimUpdate
					switch i {
					case 0:
						status = rfc2866.AcctStatusType_Value_Start
					case interims + 1:
						status = rfc2866.AcctStatusType_Value_Stop
					}
					req := rsAcct(t, byte(rng.IntN(256)), status, mac(n, d), "drop-"+strconv.Itoa(d), uint32(i*step))
					dropped, duped, err := nas.deliver(req, rng)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					drops, dupes = drops+dropped, dupes+duped
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d connections dropped before the reply, %d requests sent twice on one connection", drops, dupes)
	if drops == 0 {
		t.Error("no connection dropped: the test tested nothing")
	}
	want := strconv.Itoa((interims + 1) * step)
	for n := range nases {
		for d := range devices {
			key := fmt.Sprintf("hs:{02000000%02x%02x}:s:1", n, d)
			if got := e.rdb.HGet(ctx, key, "time_cons").Val(); got != want {
				t.Errorf("%s time_cons = %q, want %s", mac(n, d), got, want)
			}
		}
	}
}

// dropNAS is a NAS whose connection drops when the test says so.
type dropNAS struct {
	e *rsEnv
	c *tls.Conn
}

func (n *dropNAS) close() {
	if n.c != nil {
		_ = n.c.Close()
		n.c = nil
	}
}

// deliver sends req until its reply is read: a connection dropped after the
// write (30 %) is replaced and req resent; a request may go twice on one
// connection (10 %); replies to anything else (a duplicate's cached reply)
// are skipped.
func (n *dropNAS) deliver(req []byte, rng *rand.Rand) (drops, dupes int, err error) {
	for attempt := 0; attempt < 20; attempt++ {
		if n.c == nil {
			// Not e.dial: this runs on the NAS's goroutine, where t.Fatal
			// may not be called.
			c, err := tls.Dial("tcp", n.e.addr, radsectest.ClientConfig(n.e.ca, n.e.site7))
			if err != nil {
				return drops, dupes, err
			}
			n.c = c
		}
		_ = n.c.SetDeadline(time.Now().Add(enfArrive))
		if _, err := n.c.Write(req); err != nil {
			n.close()
			continue
		}
		if rng.IntN(10) == 0 {
			dupes++
			if _, err := n.c.Write(req); err != nil {
				n.close()
				continue
			}
		}
		if rng.IntN(10) < 3 {
			drops++
			n.close() // the reply, if any, is lost with the connection
			continue
		}
		buf := make([]byte, radsec.MaxLen)
		for {
			b, err := radsec.ReadFrame(n.c, buf, nil)
			if err != nil {
				n.close()
				break
			}
			if b[1] == req[1] && radius.IsAuthenticResponse(b, req, []byte(rsSecret)) {
				if radius.Code(b[0]) != radius.CodeAccountingResponse {
					return drops, dupes, fmt.Errorf("got %v", radius.Code(b[0]))
				}
				return drops, dupes, nil
			}
			if radius.Code(b[0]) != radius.CodeAccountingResponse {
				return drops, dupes, fmt.Errorf("unexpected %v", radius.Code(b[0]))
			}
		}
	}
	return drops, dupes, fmt.Errorf("request not answered in 20 attempts")
}
