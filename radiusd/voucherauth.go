package radiusd

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"strings"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// Reply-Messages of voucher logins: short, for a captive portal to show.
const (
	msgVoucherUnknown     = "voucher code unknown"
	msgVoucherRevoked     = "voucher revoked"
	msgVoucherUsedUp      = "voucher used up"
	msgVoucherExpired     = "voucher expired"
	msgVoucherOther       = "voucher already in use on another device"
	msgVoucherNoPlan      = "voucher plan no longer exists"
	msgVoucherPassword    = "wrong password: type the voucher code as the password"
	msgVoucherRateLimited = "too many attempts, wait a minute"
)

// Outcomes of radiusd_voucher_logins_total.
const (
	VoucherAccepted       = "accepted"
	VoucherRateLimited    = "rate_limited"
	VoucherBadPassword    = "bad_password"
	VoucherUnknown        = "rejected_unknown"
	VoucherRevoked        = "rejected_revoked"
	VoucherUsedUp         = "rejected_used_up"
	VoucherExpired        = "rejected_expired"
	VoucherOtherDevice    = "rejected_other_device"
	VoucherNoPlan         = "rejected_no_plan"
	VoucherRejectedNoMAC  = "rejected_no_device"
	voucherOutcomeUnknown = "store_error"
)

var voucherOutcomes = []string{VoucherAccepted, VoucherRateLimited, VoucherBadPassword, VoucherUnknown, VoucherRevoked,
	VoucherUsedUp, VoucherExpired, VoucherOtherDevice, VoucherNoPlan, VoucherRejectedNoMAC, voucherOutcomeUnknown}

// isVoucherLogin reports whether an Access-Request of a NAS is a voucher
// login: always with login voucher; with mac_or_voucher unless User-Name is
// the device's MAC.
func (n *nasEntry) isVoucherLogin(a *authAttrs) bool {
	switch n.Login {
	case LoginVoucher:
		return true
	case LoginMACOrVoucher:
		csid := attrMAC(a.callingStation, "")
		return csid == "" || attrMAC(a.userName, n.MACSuffix) != csid
	}
	return false
}

func (s *Server) countVoucher(outcome string) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.vouchers.WithLabelValues(outcome).Inc()
	}
}

// voucherLogin answers a voucher login (README.md, "Vouchers"): the code in
// User-Name is redeemed for the device in Calling-Station-Id, and the reply
// carries the device's current limits, as for a MAC login. Failures are
// rate-limited per NAS entry and per device. A nil response means the
// store failed: no answer, the NAS retries (and the retry redeems the same
// session).
func (s *Server) voucherLogin(nas *nasEntry, a *authAttrs, reqAuth [16]byte) (*response, error) {
	mac := attrMAC(a.callingStation, "")
	if mac == "" {
		s.countVoucher(VoucherRejectedNoMAC)
		return reject(msgNoMAC, OutcomeRejected), nil
	}
	if ok, why := nas.loginOK(a, mac); !ok {
		s.countVoucher(VoucherBadPassword)
		return reject(why, OutcomeRejected), nil
	}
	now := s.now()
	// The failure is counted before the lookup, and given back unless the
	// login fails: concurrent guesses cannot all pass the limit at once.
	if !s.vlimit.take(nas.Name, string(mac), now) {
		s.countVoucher(VoucherRateLimited)
		return reject(msgVoucherRateLimited, OutcomeRejected), nil
	}
	refund := true
	defer func() {
		if refund {
			s.vlimit.refund(nas.Name, string(mac), now)
		}
	}()
	typed := string(a.userName)
	fail := func(msg, outcome, packetOutcome string) (*response, error) {
		refund = false
		s.countVoucher(outcome)
		s.log.Debug().Str("nas", nas.Name).Str("mac", mac.String()).Str("outcome", outcome).Msg("voucher login refused")
		return reject(msg, packetOutcome), nil
	}
	if nas.VoucherPassword != VoucherPasswordAny && !voucherPasswordOK(a, reqAuth, nas.Secret, typed) {
		return fail(msgVoucherPassword, VoucherBadPassword, OutcomeBadPassword)
	}
	ctx, cancel := s.storeCtx()
	start := s.now()
	id, err := s.cfg.Vouchers.Redeem(ctx, typed, mac)
	cancel()
	if r, refused := voucherRefusal(err); refused {
		s.observeStore("redeem_voucher", start, nil) // an answer, not a store failure
		return fail(r.msg, r.outcome, OutcomeRejected)
	}
	s.observeStore("redeem_voucher", start, err)
	if err != nil {
		s.countVoucher(voucherOutcomeUnknown)
		return nil, err
	}
	ctx, cancel = s.storeCtx()
	start = s.now()
	sessions, err := s.cfg.Store.DeviceSessions(ctx, mac)
	cancel()
	s.observeStore("device_sessions", start, err)
	if err != nil {
		return nil, err
	}
	now = s.now()
	cur, err := session.Current(sessions, now)
	switch {
	case errors.Is(err, session.ErrExpired):
		return fail(msgVoucherExpired, VoucherExpired, OutcomeRejected)
	case err != nil:
		// The code's session is used up (or was deleted) and the device
		// has no other.
		return fail(msgVoucherUsedUp, VoucherUsedUp, OutcomeRejected)
	}
	s.countVoucher(VoucherAccepted)
	s.log.Debug().Str("nas", nas.Name).Str("mac", mac.String()).Str("session_id", cur.ID).
		Str("voucher_session_id", id).Msg("voucher login")
	attrs := s.limitAttrs(nas, cur.Limits(now), now, true)
	attrs.Add(rfc2865.Class_Type, s.classes.next())
	return &response{code: radius.CodeAccessAccept, attrs: attrs, outcome: OutcomeAccepted}, nil
}

// refusal is one of Redeem's refusals: its Reply-Message and its outcome
// of radiusd_voucher_logins_total.
type refusal struct {
	err          error
	msg, outcome string
}

// voucherRefusals lists every refusal of Redeem.
var voucherRefusals = []refusal{
	{voucher.ErrUnknown, msgVoucherUnknown, VoucherUnknown},
	{voucher.ErrRevoked, msgVoucherRevoked, VoucherRevoked},
	{voucher.ErrUsedUp, msgVoucherUsedUp, VoucherUsedUp},
	{voucher.ErrExpired, msgVoucherExpired, VoucherExpired},
	{voucher.ErrOtherDevice, msgVoucherOther, VoucherOtherDevice},
	{voucher.ErrNoPlan, msgVoucherNoPlan, VoucherNoPlan},
}

// voucherRefusal finds err among Redeem's refusals; false for nil or a
// store failure.
func voucherRefusal(err error) (refusal, bool) {
	for _, r := range voucherRefusals {
		if errors.Is(err, r.err) {
			return r, true
		}
	}
	return refusal{}, false
}

// voucherPasswordOK checks that the password is the code typed as
// User-Name: for PAP, equal once both are normalised (case, spaces and
// dashes aside); for CHAP, the digest of the code as typed, of its
// normalised form or of that in lower case (CHAP cannot be normalised).
func voucherPasswordOK(a *authAttrs, reqAuth [16]byte, secret []byte, typed string) bool {
	code, ok := voucher.Normalize(typed)
	if !ok {
		code = strings.TrimSpace(typed)
	}
	return checkPassword(a, reqAuth, secret, func(pw []byte) bool {
		got, ok := voucher.Normalize(string(pw))
		if !ok {
			got = string(bytes.TrimSpace(pw))
		}
		return code != "" && subtle.ConstantTimeCompare([]byte(got), []byte(code)) == 1
	}, func() [][]byte { return [][]byte{[]byte(typed), []byte(code), []byte(strings.ToLower(code))} })
}
