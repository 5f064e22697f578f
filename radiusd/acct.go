package radiusd

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/session"
)

// maxClockSkew bounds how far an Event-Timestamp may be from the arrival
// time before it is distrusted (a NAS without NTP reports 1970).
const maxClockSkew = 24 * time.Hour

var errNoSessionID = errors.New("Accounting-Request without Acct-Session-Id")

// acctNumbers are the integer and time attributes account reads (RFC 2866,
// RFC 2869): four octets each.
var acctNumbers = [...]radius.Type{
	rfc2866.AcctStatusType_Type, rfc2866.AcctDelayTime_Type, rfc2866.AcctSessionTime_Type,
	rfc2866.AcctInputOctets_Type, rfc2866.AcctOutputOctets_Type,
	rfc2869.AcctInputGigawords_Type, rfc2869.AcctOutputGigawords_Type, rfc2869.EventTimestamp_Type,
}

// badNumber finds an attribute of acctNumbers that is not four octets. Such
// a packet is dropped rather than read with the value as 0: a counter read
// as 0 looks like a NAS counter reset to the store, and the next interim
// would then charge the whole session again.
func badNumber(p *radius.Packet) (radius.Type, int, bool) {
	for _, a := range p.Attributes {
		if len(a.Attribute) != 4 && slices.Contains(acctNumbers[:], a.Type) {
			return a.Type, len(a.Attribute), true
		}
	}
	return 0, 0, false
}

// account answers an Accounting-Request after its write succeeded. A nil
// response means drop (store error, or malformed with err saying why).
func (s *Server) account(nas *nasEntry, p *radius.Packet, src netip.AddrPort) (*response, error) {
	now := s.now()
	ack := func(outcome string) *response {
		return &response{code: radius.CodeAccountingResponse, outcome: outcome}
	}
	if typ, n, bad := badNumber(p); bad {
		return nil, dropError{OutcomeMalformed, fmt.Errorf("Accounting-Request with attribute %d of %d octets, want 4", typ, n)}
	}
	at, nasClock := eventTime(p, now)
	status, err := rfc2866.AcctStatusType_Lookup(p)
	if err != nil {
		return nil, dropError{OutcomeMalformed, errors.New("Accounting-Request without Acct-Status-Type")}
	}
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
		rebooted := now.Add(-time.Duration(u32(p, rfc2866.AcctDelayTime_Type)) * time.Second)
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
	mac, _ := nas.device(p)
	if mac == "" {
		// Not a hotspot device (e.g. the NAS's own admin login): nothing to
		// record, and retries would not change that.
		s.warn.Warn().Str("nas", nas.Name).Str("outcome", OutcomeIgnored).Msg("accounting without a device MAC ignored")
		return ack(OutcomeIgnored), nil
	}
	id := rfc2866.AcctSessionID_GetString(p)
	if id == "" {
		return nil, dropError{OutcomeMalformed, errNoSessionID}
	}
	_, inGW := p.Attributes.Lookup(rfc2869.AcctInputGigawords_Type)
	_, outGW := p.Attributes.Lookup(rfc2869.AcctOutputGigawords_Type)
	ev := session.AcctEvent{
		Kind:         kind,
		NAS:          nas.acctNAS(src.Addr()),
		SessionID:    id,
		MAC:          mac,
		SessionTime:  uint64(u32(p, rfc2866.AcctSessionTime_Type)),
		InputOctets:  uint64(u32(p, rfc2869.AcctInputGigawords_Type))<<32 | uint64(u32(p, rfc2866.AcctInputOctets_Type)),
		OutputOctets: uint64(u32(p, rfc2869.AcctOutputGigawords_Type))<<32 | uint64(u32(p, rfc2866.AcctOutputOctets_Type)),
		EventTime:    at,
		Sent:         sentAt(p, now),
		NASClock:     nasClock,
		Now:          now,
		NASAttrs:     nasAttrs(p, src),
		Class:        echoedClass(p),
		Gigawords:    inGW || outGW,
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

// nasAttrs keeps what identifies the NAS session in a later Disconnect/CoA.
func nasAttrs(p *radius.Packet, src netip.AddrPort) session.NASAttrs {
	a := session.NASAttrs{
		UserName:         rfc2865.UserName_GetString(p),
		CallingStationID: rfc2865.CallingStationID_GetString(p),
		NASIdentifier:    rfc2865.NASIdentifier_GetString(p),
		SourceIP:         src.Addr().Unmap().String(),
	}
	if v, ok := p.Attributes.Lookup(rfc2865.FramedIPAddress_Type); ok && len(v) == 4 {
		a.FramedIP = netip.AddrFrom4([4]byte(v)).String()
	}
	if v, ok := p.Attributes.Lookup(rfc2865.NASIPAddress_Type); ok && len(v) == 4 {
		a.NASIP = netip.AddrFrom4([4]byte(v)).String()
	}
	return a
}

// eventTime is when the NAS produced the packet: Event-Timestamp when it is
// plausible (true: the NAS's clock), else sent.
func eventTime(p *radius.Packet, now time.Time) (time.Time, bool) {
	if ts, err := rfc2869.EventTimestamp_Lookup(p); err == nil {
		if ts.After(now.Add(-maxClockSkew)) && !ts.After(now.Add(time.Minute)) {
			return ts, true
		}
	}
	return sentAt(p, now), false
}

// sentAt is when the packet left the NAS on the server's clock: arrival
// minus Acct-Delay-Time, at most a day back.
func sentAt(p *radius.Packet, now time.Time) time.Time {
	at := now.Add(-time.Duration(u32(p, rfc2866.AcctDelayTime_Type)) * time.Second)
	if at.Before(now.Add(-maxClockSkew)) {
		at = now.Add(-maxClockSkew)
	}
	return at
}

// u32 returns an integer attribute, 0 when absent or malformed.
func u32(p *radius.Packet, t radius.Type) uint32 {
	a, ok := p.Attributes.Lookup(t)
	if !ok {
		return 0
	}
	v, err := radius.Integer(a)
	if err != nil {
		return 0
	}
	return v
}
