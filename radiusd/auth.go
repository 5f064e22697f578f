package radiusd

import (
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

// authAttrs are the attributes authorize reads, gathered in one pass over
// the packet (packet.Attrs, no allocation): of each type the first, as
// layeh's Attributes.Lookup would give it; nil when absent.
type authAttrs struct {
	userName, callingStation   []byte
	userPassword, chapPassword []byte
	chapChallenge              []byte
	eap                        bool
}

// scanAuth reads pkt's attributes once.
func scanAuth(pkt []byte) authAttrs {
	var a authAttrs
	for t, v := range packet.Attrs(pkt) {
		switch t {
		case rfc2865.UserName_Type:
			if a.userName == nil {
				a.userName = v
			}
		case rfc2865.CallingStationID_Type:
			if a.callingStation == nil {
				a.callingStation = v
			}
		case rfc2865.UserPassword_Type:
			if a.userPassword == nil {
				a.userPassword = v
			}
		case rfc2865.CHAPPassword_Type:
			if a.chapPassword == nil {
				a.chapPassword = v
			}
		case rfc2865.CHAPChallenge_Type:
			if a.chapChallenge == nil {
				a.chapChallenge = v
			}
		case rfc2869.EAPMessage_Type:
			a.eap = true
		}
	}
	return a
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
func (n *nasEntry) loginOK(a *authAttrs, mac session.MAC) (bool, string) {
	if a.userPassword == nil && a.chapPassword == nil && !a.eap {
		return false, msgNoCredential
	}
	if n.Login == LoginMAC && attrMAC(a.userName, n.MACSuffix) != mac {
		return false, msgNotThisMAC
	}
	return true, ""
}

// authorize answers an Access-Request, pkt as packet.Check returned it. A
// nil response means the store failed: no answer, the NAS retries.
func (s *Server) authorize(nas *nasEntry, pkt []byte) (*response, error) {
	a := scanAuth(pkt)
	reqAuth := [16]byte(pkt[4:packet.HeaderLen])
	if nas.isVoucherLogin(&a) {
		return s.voucherLogin(nas, &a, reqAuth)
	}
	mac, why := nas.device(a.callingStation, a.userName)
	if mac == "" {
		return reject(why, OutcomeRejected), nil
	}
	if ok, why := nas.loginOK(&a, mac); !ok {
		return reject(why, OutcomeRejected), nil
	}
	if !passwordOK(nas, &a, reqAuth, mac) {
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
// CHAP (CHAP-Password) credentials of a request whose Request
// Authenticator is reqAuth.
func passwordOK(nas *nasEntry, a *authAttrs, reqAuth [16]byte, mac session.MAC) bool {
	switch nas.Password {
	case PasswordAny:
		return true
	case PasswordFixed:
		return checkPassword(a, reqAuth, nas.Secret, func(pw []byte) bool {
			return subtle.ConstantTimeCompare(pw, []byte(nas.FixedPassword)) == 1
		}, func() [][]byte { return [][]byte{[]byte(nas.FixedPassword)} })
	case PasswordMAC:
		return checkPassword(a, reqAuth, nas.Secret, func(pw []byte) bool {
			m, err := session.ParseMAC(strings.TrimSuffix(string(pw), nas.MACSuffix))
			return err == nil && m == mac
		}, func() [][]byte { return macSpellings(mac, nas.MACSuffix) })
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
// clear-text password (CHAP cannot be reversed; the candidates are made only
// for CHAP).
func checkPassword(a *authAttrs, reqAuth [16]byte, secret []byte, match func([]byte) bool, candidates func() [][]byte) bool {
	if a.userPassword != nil {
		var buf [128]byte
		pw, err := packet.RevealUserPassword(&buf, a.userPassword, reqAuth, secret)
		if err != nil {
			return false
		}
		return match(pw)
	}
	chap := a.chapPassword
	if chap == nil || len(chap) != 17 {
		return false
	}
	challenge := reqAuth[:]
	if a.chapChallenge != nil {
		challenge = a.chapChallenge
	}
	for _, pw := range candidates() {
		if packet.VerifyCHAP(chap, pw, challenge) {
			return true
		}
	}
	return false
}
