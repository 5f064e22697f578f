package radiusd_test

import (
	"net/netip"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/radiusd"
	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// TestReviewScheduleNetworkEntry: TestScheduleDisconnectWithoutInterim with
// the NAS entry a network (identity "hotspot-1@127.0.0.1").
func TestScheduleDisconnectNetworkEntry(t *testing.T) {
	rs := redistest.Start(t)
	nas := startCoANAS(t, coaACK, 0)
	e := startEnforced(t, rs.Addr, nas, enfOptions{nas: func(n *radiusd.NAS) { n.Prefix = netip.MustParsePrefix("127.0.0.0/8") }})
	s := enfSession(3)
	e.create(t, s.mac, session.Spec{Type: session.TypeTime, TimeSecs: 2, DownMbits: 10, UpMbits: 2})
	e.account(t, rfc2866.AcctStatusType_Value_Start, s, 0, 0, 0)
	r := nas.next(t, enfArrive)
	wantCoACode(t, r, radius.CodeDisconnectRequest)
}
