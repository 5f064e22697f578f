package radiusd

import (
	"math"
	"slices"
	"strconv"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/mikrotik"
	"layeh.com/radius/vendors/wispr"

	"github.com/hotspot-radius/hsradius/dictionary/chillispot"
	"github.com/hotspot-radius/hsradius/dictionary/pfsense"
	"github.com/hotspot-radius/hsradius/session"
)

// wisprTime is WISPr's ISO 8601 form of Session-Terminate-Time.
const wisprTime = "2006-01-02T15:04:05-07:00"

func clamp32(v uint64) uint32 {
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}

// pfSenseMaxOctets caps pfSense-Max-Total-Octets: the attribute is 32-bit
// and older pfSense versions read it as signed, so a larger value would
// turn into a negative quota there.
const pfSenseMaxOctets = math.MaxInt32

func hasProfile(nas *nasEntry, p Profile) bool { return slices.Contains(nas.Profiles, p) }

// limitAttrs returns the attributes that tell nas the limits l (see
// README.md, "Attributes sent per vendor"): the RFC timers, then the speed
// and data limits in every attribute family of the NAS's profiles, in their
// units. Direction is from the client's side: up = client upload.
//
// accept is false for a CoA-Request, which carries what that NAS can change
// in a session: CoovaChilli resets every limit a CoA omits (to its def*
// settings), so it is sent the Access-Accept's Acct-Interim-Interval and
// Idle-Timeout again; a MikroTik does not change Mikrotik-Total-Limit by CoA,
// so it is not sent one (a change of data limit disconnects it instead; see
// movedDataLimit).
func (s *Server) limitAttrs(nas *nasEntry, l session.Limits, now time.Time, accept bool) radius.Attributes {
	// Room for every attribute of the usual reply and the Class and
	// Proxy-State process adds: one allocation, not one per doubling.
	p := radius.Packet{Attributes: make(radius.Attributes, 0, limitAttrsCap)}
	if l.HasTimeout {
		t := l.SessionTimeout
		if t == 0 {
			t = 1 // available but ending within the second: 0 would mean "no limit" to some NAS
		}
		_ = rfc2865.SessionTimeout_Set(&p, rfc2865.SessionTimeout(clamp32(t)))
	}
	if accept || hasProfile(nas, ProfileChilli) {
		_ = rfc2869.AcctInterimInterval_Set(&p, rfc2869.AcctInterimInterval(clamp32(uint64(s.cfg.AcctInterimInterval/time.Second))))
		if s.cfg.IdleTimeout > 0 {
			_ = rfc2865.IdleTimeout_Set(&p, rfc2865.IdleTimeout(clamp32(uint64(s.cfg.IdleTimeout/time.Second))))
		}
	}
	down, up := uint64(l.DownMbits), uint64(l.UpMbits)
	if l.UseGlobalSpeed {
		down, up = uint64(nas.GlobalDownMbits), uint64(nas.GlobalUpMbits)
	}
	for _, prof := range nas.Profiles {
		switch prof {
		case ProfileWISPr:
			if up > 0 {
				_ = wispr.WISPrBandwidthMaxUp_Set(&p, wispr.WISPrBandwidthMaxUp(clamp32(up*1_000_000)))
			}
			if down > 0 {
				_ = wispr.WISPrBandwidthMaxDown_Set(&p, wispr.WISPrBandwidthMaxDown(clamp32(down*1_000_000)))
			}
			if !l.ExpiresAt.IsZero() {
				_ = wispr.WISPrSessionTerminateTime_SetString(&p, l.ExpiresAt.UTC().Format(wisprTime))
			}
		case ProfileChilli:
			if up > 0 {
				_ = chillispot.ChilliSpotBandwidthMaxUp_Set(&p, chillispot.ChilliSpotBandwidthMaxUp(clamp32(up*1000)))
			}
			if down > 0 {
				_ = chillispot.ChilliSpotBandwidthMaxDown_Set(&p, chillispot.ChilliSpotBandwidthMaxDown(clamp32(down*1000)))
			}
			if l.HasData {
				_ = chillispot.ChilliSpotMaxTotalOctets_Set(&p, chillispot.ChilliSpotMaxTotalOctets(uint32(l.DataBytes)))
				if hi := l.DataBytes >> 32; hi > 0 {
					_ = chillispot.ChilliSpotMaxTotalGigawords_Set(&p, chillispot.ChilliSpotMaxTotalGigawords(clamp32(hi)))
				}
			}
		case ProfileMikroTik:
			if up > 0 || down > 0 {
				// rx/tx from the router's view of the client: rx = client upload.
				_ = mikrotik.MikrotikRateLimit_SetString(&p, mbit(up)+"/"+mbit(down))
			}
			if l.HasData && accept {
				_ = mikrotik.MikrotikTotalLimit_Set(&p, mikrotik.MikrotikTotalLimit(uint32(l.DataBytes)))
				if hi := l.DataBytes >> 32; hi > 0 {
					_ = mikrotik.MikrotikTotalLimitGigawords_Set(&p, mikrotik.MikrotikTotalLimitGigawords(clamp32(hi)))
				}
			}
		case ProfilePfSense:
			if up > 0 {
				_ = pfsense.PfSenseBandwidthMaxUp_Set(&p, pfsense.PfSenseBandwidthMaxUp(clamp32(up*1_000_000)))
			}
			if down > 0 {
				_ = pfsense.PfSenseBandwidthMaxDown_Set(&p, pfsense.PfSenseBandwidthMaxDown(clamp32(down*1_000_000)))
			}
			if l.HasData {
				_ = pfsense.PfSenseMaxTotalOctets_Set(&p, pfsense.PfSenseMaxTotalOctets(min(l.DataBytes, pfSenseMaxOctets)))
			}
		}
	}
	return p.Attributes
}

// limitAttrsCap is the capacity limitAttrs gives its list: the RFC timers
// (3), Class, a Proxy-State and the speed and data attributes of two
// profiles.
const limitAttrsCap = 12

// mbit formats a MikroTik rate: 0 means unlimited in that direction.
func mbit(v uint64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatUint(v, 10) + "M"
}
