package radiusd

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"strings"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/session"
)

// Reply-Message texts of Access-Reject, by reason.
const (
	msgNoMAC          = "no device MAC address in Calling-Station-Id"
	msgNoMACUserName  = "no device MAC address in User-Name"
	msgNotThisMAC     = "User-Name is not this device's MAC address (MAC authentication)"
	msgMACsDisagree   = "User-Name and Calling-Station-Id name different devices"
	msgNoCredential   = "no password (User-Password, CHAP-Password or EAP-Message)"
	msgBadPassword    = "wrong password for MAC authentication"
	msgNoSession      = "no session for this device"
	msgTimeUsedUp     = "session time used up"
	msgDataUsedUp     = "session data used up"
	msgExpired        = "session expired"
	msgNotAvailable   = "no available session"
	userNameMACMaxLen = 64
)

func rejectMessage(err error) string {
	switch {
	case errors.Is(err, session.ErrNoSession):
		return msgNoSession
	case errors.Is(err, session.ErrTimeExhausted):
		return msgTimeUsedUp
	case errors.Is(err, session.ErrDataExhausted):
		return msgDataUsedUp
	case errors.Is(err, session.ErrExpired):
		return msgExpired
	}
	return msgNotAvailable
}

// attrMAC reads a MAC from an attribute's value, "" when absent (nil) or
// not a MAC. suffix, when set and present, is removed first (CoovaChilli
// macsuffix).
func attrMAC(v []byte, suffix string) session.MAC {
	if v == nil || len(v) > userNameMACMaxLen {
		return ""
	}
	s := strings.TrimSpace(string(v))
	if suffix != "" {
		s = strings.TrimSuffix(s, suffix)
	}
	m, err := session.ParseMAC(s)
	if err != nil {
		return ""
	}
	return m
}

// attr is the value of p's first attribute of type t, nil when absent.
func attr(p *radius.Packet, t radius.Type) []byte {
	v, _ := p.Attributes.Lookup(t)
	return v
}

// device finds the device a request or accounting packet is about, from its
// first Calling-Station-Id and User-Name (nil when absent), as the NAS's
// login style says (NAS.Login): the MAC in Calling-Station-Id, or for
// mac_username the MAC in User-Name (which Calling-Station-Id, when it holds
// a MAC, must match). A name typed at a portal never picks the device. The
// string is the Reply-Message when there is no device.
func (n *nasEntry) device(callingStation, userName []byte) (session.MAC, string) {
	csid := attrMAC(callingStation, "")
	if n.Login != LoginMACUserName {
		if csid == "" {
			return "", msgNoMAC
		}
		return csid, ""
	}
	user := attrMAC(userName, n.MACSuffix)
	switch {
	case user == "":
		return "", msgNoMACUserName
	case csid != "" && csid != user:
		return "", msgMACsDisagree
	}
	return user, ""
}

// loginOK checks what the login style asks of User-Name and that the
// request carries a credential. The string is the Reply-Message of a refusal.
func (n *nasEntry) loginOK(p *radius.Packet, mac session.MAC) (bool, string) {
	_, pap := p.Attributes.Lookup(rfc2865.UserPassword_Type)
	_, chap := p.Attributes.Lookup(rfc2865.CHAPPassword_Type)
	_, eap := p.Attributes.Lookup(rfc2869.EAPMessage_Type)
	if !pap && !chap && !eap {
		return false, msgNoCredential
	}
	if n.Login == LoginMAC && attrMAC(attr(p, rfc2865.UserName_Type), n.MACSuffix) != mac {
		return false, msgNotThisMAC
	}
	return true, ""
}

// authorize answers an Access-Request. A nil response means the store
// failed: no answer, the NAS retries.
func (s *Server) authorize(nas *nasEntry, p *radius.Packet) (*response, error) {
	if nas.isVoucherLogin(p) {
		return s.voucherLogin(nas, p)
	}
	mac, why := nas.device(attr(p, rfc2865.CallingStationID_Type), attr(p, rfc2865.UserName_Type))
	if mac == "" {
		return reject(why, OutcomeRejected), nil
	}
	if ok, why := nas.loginOK(p, mac); !ok {
		return reject(why, OutcomeRejected), nil
	}
	if !passwordOK(nas, p, mac) {
		return reject(msgBadPassword, OutcomeBadPassword), nil
	}
	ctx, cancel := s.storeCtx()
	start := s.now()
	sessions, err := s.cfg.Store.DeviceSessions(ctx, mac)
	cancel()
	s.observeStore("device_sessions", start, err)
	if err != nil {
		return nil, err
	}
	now := s.now()
	cur, err := session.Current(sessions, now)
	if err != nil {
		return reject(rejectMessage(err), OutcomeRejected), nil
	}
	attrs := s.limitAttrs(nas, cur.Limits(now), now, true)
	attrs.Add(rfc2865.Class_Type, s.classes.next())
	return &response{code: radius.CodeAccessAccept, attrs: attrs, outcome: OutcomeAccepted}, nil
}

func reject(msg, outcome string) *response {
	var p radius.Packet // scratch: layeh's setters write to a packet
	_ = rfc2865.ReplyMessage_SetString(&p, msg)
	return &response{code: radius.CodeAccessReject, attrs: p.Attributes, outcome: outcome}
}

// passwordOK applies the NAS's password mode to PAP (User-Password) or
// CHAP (CHAP-Password) credentials.
func passwordOK(nas *nasEntry, p *radius.Packet, mac session.MAC) bool {
	switch nas.Password {
	case PasswordAny:
		return true
	case PasswordFixed:
		return checkPassword(p, func(pw []byte) bool {
			return subtle.ConstantTimeCompare(pw, []byte(nas.FixedPassword)) == 1
		}, [][]byte{[]byte(nas.FixedPassword)})
	case PasswordMAC:
		spellings := macSpellings(mac, nas.MACSuffix)
		return checkPassword(p, func(pw []byte) bool {
			m, err := session.ParseMAC(strings.TrimSuffix(string(pw), nas.MACSuffix))
			return err == nil && m == mac
		}, spellings)
	}
	return false
}

// macSpellings are the forms a NAS may send a MAC as a CHAP password: the
// MikroTik radius-mac-format choices and pfSense's MAC formats (pairs,
// quads or halves, with each separator they use, or none), in both letter
// cases, each also with the NAS's MAC suffix.
func macSpellings(mac session.MAC, suffix string) [][]byte {
	hex := mac.Hex()
	group := func(n int, sep string) string {
		var b strings.Builder
		for i := 0; i < len(hex); i += n {
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(hex[i : i+n])
		}
		return b.String()
	}
	forms := []string{hex,
		group(2, ":"), group(2, "-"), group(2, " "),
		group(4, ":"), group(4, "."),
		group(6, ":"), group(6, "-"),
	}
	var out [][]byte
	for _, f := range forms {
		for _, c := range []string{f, strings.ToUpper(f)} {
			out = append(out, []byte(c))
			if suffix != "" {
				out = append(out, []byte(c+suffix))
			}
		}
	}
	return out
}

// checkPassword verifies PAP with match, or CHAP against each candidate
// clear-text password (CHAP cannot be reversed).
func checkPassword(p *radius.Packet, match func([]byte) bool, candidates [][]byte) bool {
	if _, ok := p.Attributes.Lookup(rfc2865.UserPassword_Type); ok {
		pw, err := rfc2865.UserPassword_Lookup(p)
		if err != nil {
			return false
		}
		return match(bytes.TrimRight(pw, "\x00"))
	}
	chap, ok := p.Attributes.Lookup(rfc2865.CHAPPassword_Type)
	if !ok || len(chap) != 17 {
		return false
	}
	challenge := p.Authenticator[:]
	if c, ok := p.Attributes.Lookup(rfc2865.CHAPChallenge_Type); ok {
		challenge = c
	}
	for _, pw := range candidates {
		if packet.VerifyCHAP(chap, pw, challenge) {
			return true
		}
	}
	return false
}
