package radiusd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/session"
)

// maxClockSkew bounds how far an Event-Timestamp may be from the arrival
// time before it is distrusted (a NAS without NTP reports 1970).
const maxClockSkew = 24 * time.Hour

var errNoSessionID = errors.New("Accounting-Request without Acct-Session-Id")

// acctAttrs are the attributes account reads, gathered in one pass over the
// packet: of each type the first, as Attributes.Lookup would give it.
type acctAttrs struct {
	// badType and badLen name the first integer or time attribute that is
	// not four octets (bad). Such a packet is dropped rather than read with
	// the value as 0: a counter read as 0 looks like a NAS counter reset to
	// the store, and the next interim would then charge the whole session
	// again.
	bad     bool
	badType radius.Type
	badLen  int

	// The integer and time attributes (RFC 2866, RFC 2869), 0 when absent.
	status, delay, sessionTime              uint32
	inOctets, outOctets, inGiga, outGiga    uint32
	eventTimestamp                          uint32
	hasStatus, hasEventTimestamp, gigawords bool

	sessionID, userName, callingStation, nasIdentifier []byte
	framedIP, nasIP                                    []byte
	// class is the first Class of ours (see classPrefix), nil if none.
	class []byte
}

// scanAcct reads the attributes of pkt (as packet.Check returned it) once,
// without allocating (packet.Attrs).
func scanAcct(pkt []byte) acctAttrs {
	var a acctAttrs
	var seen [4]uint64 // a bit per attribute type: its first is taken
	for t, v := range packet.Attrs(pkt) {
		first := seen[t>>6]&(1<<(t&63)) == 0
		seen[t>>6] |= 1 << (t & 63)
		switch t {
		case rfc2866.AcctStatusType_Type, rfc2866.AcctDelayTime_Type, rfc2866.AcctSessionTime_Type,
			rfc2866.AcctInputOctets_Type, rfc2866.AcctOutputOctets_Type,
			rfc2869.AcctInputGigawords_Type, rfc2869.AcctOutputGigawords_Type, rfc2869.EventTimestamp_Type:
			if len(v) != 4 {
				if !a.bad {
					a.bad, a.badType, a.badLen = true, t, len(v)
				}
				continue
			}
			if !first {
				continue
			}
			n := binary.BigEndian.Uint32(v)
			switch t {
			case rfc2866.AcctStatusType_Type:
				a.status, a.hasStatus = n, true
			case rfc2866.AcctDelayTime_Type:
				a.delay = n
			case rfc2866.AcctSessionTime_Type:
				a.sessionTime = n
			case rfc2866.AcctInputOctets_Type:
				a.inOctets = n
			case rfc2866.AcctOutputOctets_Type:
				a.outOctets = n
			case rfc2869.AcctInputGigawords_Type:
				a.inGiga, a.gigawords = n, true
			case rfc2869.AcctOutputGigawords_Type:
				a.outGiga, a.gigawords = n, true
			case rfc2869.EventTimestamp_Type:
				a.eventTimestamp, a.hasEventTimestamp = n, true
			}
		case rfc2865.Class_Type:
			if a.class == nil && ourClass(v) {
				a.class = v
			}
		case rfc2866.AcctSessionID_Type:
			if first {
				a.sessionID = v
			}
		case rfc2865.UserName_Type:
			if first {
				a.userName = v
			}
		case rfc2865.CallingStationID_Type:
			if first {
				a.callingStation = v
			}
		case rfc2865.NASIdentifier_Type:
			if first {
				a.nasIdentifier = v
			}
		case rfc2865.FramedIPAddress_Type:
			if first {
				a.framedIP = v
			}
		case rfc2865.NASIPAddress_Type:
			if first {
				a.nasIP = v
			}
		}
	}
	return a
}

// account answers an Accounting-Request after its write succeeded. A nil
// response means drop (store error, or malformed with err saying why).
func (s *Server) account(nas *nasEntry, pkt []byte, src netip.AddrPort) (*response, error) {
	now := s.now()
	ack := func(outcome string) *response {
		return &response{code: radius.CodeAccountingResponse, outcome: outcome}
	}
	a := scanAcct(pkt)
	if a.bad {
		return nil, dropError{OutcomeMalformed, fmt.Errorf("Accounting-Request with attribute %d of %d octets, want 4", a.badType, a.badLen)}
	}
	at, nasClock := a.eventTime(now)
	if !a.hasStatus {
		return nil, dropError{OutcomeMalformed, errors.New("Accounting-Request without Acct-Status-Type")}
	}
	status := rfc2866.AcctStatusType(a.status)
	var kind session.AcctKind
	switch status {
	case rfc2866.AcctStatusType_Value_Start:
		kind = session.AcctStart
	case rfc2866.AcctStatusType_Value_InterimUpdate:
		kind = session.AcctInterim
	case rfc2866.AcctStatusType_Value_Stop:
		kind = session.AcctStop
	case rfc2866.AcctStatusType_Value_AccountingOn, rfc2866.AcctStatusType_Value_AccountingOff:
		reason := "accounting-on"
		if status == rfc2866.AcctStatusType_Value_AccountingOff {
			reason = "accounting-off"
		}
		ctx, cancel := s.storeCtx()
		start := s.now()
		// The reboot moment on the server's clock, as records' updated_at.
		rebooted := now.Add(-time.Duration(a.delay) * time.Second)
		n, err := s.cfg.Store.CloseNAS(ctx, nas.acctNAS(src.Addr()), rebooted, reason)
		cancel()
		s.observeStore("close_nas", start, err)
		if err != nil {
			return nil, err
		}
		s.log.Info().Str("nas", nas.Name).Str("event", reason).Int("closed", n).Msg("NAS restarted: its open accounting records are closed")
		return ack(OutcomeAccounted), nil
	default:
		// Failed (15), tunnel events…: nothing to record for a hotspot.
		return ack(OutcomeIgnored), nil
	}
	srcs := nas.srcStrings(src.Addr())
	mac, _ := nas.device(a.callingStation, a.userName)
	if mac == "" {
		// Not a hotspot device (e.g. the NAS's own admin login): nothing to
		// record, and retries would not change that.
		s.warn.Warn().Str("nas", nas.Name).Str("outcome", OutcomeIgnored).Msg("accounting without a device MAC ignored")
		return ack(OutcomeIgnored), nil
	}
	if len(a.sessionID) == 0 {
		return nil, dropError{OutcomeMalformed, errNoSessionID}
	}
	id := string(a.sessionID)
	ev := session.AcctEvent{
		Kind:         kind,
		NAS:          srcs.acctNAS,
		SessionID:    id,
		MAC:          mac,
		SessionTime:  uint64(a.sessionTime),
		InputOctets:  uint64(a.inGiga)<<32 | uint64(a.inOctets),
		OutputOctets: uint64(a.outGiga)<<32 | uint64(a.outOctets),
		EventTime:    at,
		Sent:         a.sent(now),
		NASClock:     nasClock,
		Now:          now,
		NASAttrs:     a.nasAttrs(srcs.ip),
		Class:        string(a.class),
		Gigawords:    a.gigawords,
		Policy:       nas.Acct,
	}
	ctx, cancel := s.storeCtx()
	start := s.now()
	res, err := s.cfg.Store.Account(ctx, ev)
	cancel()
	s.observeStore("account", start, err)
	if err != nil {
		if errors.Is(err, session.ErrInvalid) {
			// Absurd values (counters above 2^53): never acknowledge what was
			// not stored, but count it as bad input, not as a store failure.
			return nil, dropError{OutcomeMalformed, err}
		}
		return nil, err
	}
	s.afterAccounting(nas, ev, res)
	if e := s.log.Debug(); e.Enabled() {
		e.Str("nas", nas.Name).Str("mac", string(mac)).Str("acct_session_id", id).
			Str("kind", kind.String()).Str("result", res.Outcome.String()).Str("session_id", res.Feeds).Msg("accounting applied")
	}
	return ack(OutcomeAccounted), nil
}

// nasAttrs keeps what identifies the NAS session in a later Disconnect/CoA;
// srcIP is the packet's source address (srcStrings).
func (a *acctAttrs) nasAttrs(srcIP string) session.NASAttrs {
	n := session.NASAttrs{
		UserName:         string(a.userName),
		CallingStationID: string(a.callingStation),
		NASIdentifier:    string(a.nasIdentifier),
		SourceIP:         srcIP,
	}
	if len(a.framedIP) == 4 {
		n.FramedIP = netip.AddrFrom4([4]byte(a.framedIP)).String()
	}
	if len(a.nasIP) == 4 {
		n.NASIP = netip.AddrFrom4([4]byte(a.nasIP)).String()
	}
	return n
}

// eventTime is when the NAS produced the packet: Event-Timestamp when it is
// plausible (true: the NAS's clock), else sent.
func (a *acctAttrs) eventTime(now time.Time) (time.Time, bool) {
	if a.hasEventTimestamp {
		ts := time.Unix(int64(a.eventTimestamp), 0)
		if ts.After(now.Add(-maxClockSkew)) && !ts.After(now.Add(time.Minute)) {
			return ts, true
		}
	}
	return a.sent(now), false
}

// sent is when the packet left the NAS on the server's clock: arrival minus
// Acct-Delay-Time, at most a day back.
func (a *acctAttrs) sent(now time.Time) time.Time {
	at := now.Add(-time.Duration(a.delay) * time.Second)
	if at.Before(now.Add(-maxClockSkew)) {
		at = now.Add(-maxClockSkew)
	}
	return at
}
