package main

import (
	"encoding/binary"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
)

// Packets are laid out by hand into a buffer each simulated client owns, so
// that a request costs no allocation; layeh.com/radius provides the numbers,
// radiusd/packet the digests (as the server computes them).
const (
	headerLen = packet.HeaderLen
	maxPacket = packet.MaxLen
	// maxRequest bounds what this generator builds (under 200 octets).
	maxRequest = 512

	attrUserName       = byte(rfc2865.UserName_Type)
	attrNASIPAddress   = byte(rfc2865.NASIPAddress_Type)
	attrFramedIP       = byte(rfc2865.FramedIPAddress_Type)
	attrCallingStation = byte(rfc2865.CallingStationID_Type)
	attrNASIdentifier  = byte(rfc2865.NASIdentifier_Type)
	attrNASPortType    = byte(rfc2865.NASPortType_Type)
	attrStatusType     = byte(rfc2866.AcctStatusType_Type)
	attrInOctets       = byte(rfc2866.AcctInputOctets_Type)
	attrOutOctets      = byte(rfc2866.AcctOutputOctets_Type)
	attrAcctSessionID  = byte(rfc2866.AcctSessionID_Type)
	attrSessionTime    = byte(rfc2866.AcctSessionTime_Type)
	attrTerminateCause = byte(rfc2866.AcctTerminateCause_Type)
	attrInGigawords    = byte(rfc2869.AcctInputGigawords_Type)
	attrOutGigawords   = byte(rfc2869.AcctOutputGigawords_Type)
	attrEventTimestamp = byte(rfc2869.EventTimestamp_Type)

	codeAccessRequest   = byte(radius.CodeAccessRequest)
	codeAccessAccept    = byte(radius.CodeAccessAccept)
	codeAccessReject    = byte(radius.CodeAccessReject)
	codeAcctRequest     = byte(radius.CodeAccountingRequest)
	codeAcctResponse    = byte(radius.CodeAccountingResponse)
	codeAccessChallenge = byte(radius.CodeAccessChallenge)
	codeStatusServer    = byte(radius.CodeStatusServer)

	statusStart   = uint32(rfc2866.AcctStatusType_Value_Start)
	statusStop    = uint32(rfc2866.AcctStatusType_Value_Stop)
	statusInterim = uint32(rfc2866.AcctStatusType_Value_InterimUpdate)

	portTypeWireless = uint32(rfc2865.NASPortType_Value_Wireless80211)
	causeUserRequest = uint32(rfc2866.AcctTerminateCause_Value_UserRequest)
)

// nasIdentifier is sent in every request so that the server's records show
// where the load came from.
var nasIdentifier = []byte("hsload")

// codec builds requests and verifies responses with one shared secret.
type codec struct {
	secret []byte
}

func newCodec(secret []byte) *codec { return &codec{secret: secret} }

// request is what a response is checked against.
type request struct {
	code byte
	auth [16]byte
	ma   bool // sent with a Message-Authenticator
}

func appendAttr(b []byte, t byte, v []byte) []byte {
	b = append(b, t, byte(2+len(v)))
	return append(b, v...)
}

func appendUint32(b []byte, t byte, v uint32) []byte {
	return append(b, t, 6, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// begin starts a packet in b: the header with auth, then with withMA a
// zeroed Message-Authenticator as the first attribute (RFC 3579 §3.2; first
// so that a BlastRADIUS-style prefix cannot precede it).
func begin(b []byte, code, id byte, auth *[16]byte, withMA bool) []byte {
	b = append(b[:0], code, id, 0, 0)
	b = append(b, auth[:]...)
	if withMA {
		var zero [16]byte
		b = append(b, packet.MAType, packet.MALen)
		b = append(b, zero[:]...)
	}
	return b
}

// finish sets the length and signs the request: the Message-Authenticator
// when there is one (begin put it first), and an Accounting-Request's
// Request Authenticator.
func (c *codec) finish(b []byte) {
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	maOff := 0
	if len(b) >= headerLen+packet.MALen && b[headerLen] == packet.MAType {
		maOff = headerLen + 2
	}
	packet.SignRequest(b, maOff, c.secret)
}

// accessRequest builds the Access-Request of device d into b: MAC
// authentication with the MAC as User-Name and PAP password.
func (c *codec) accessRequest(b []byte, id byte, auth *[16]byte, d *device, withMA bool) []byte {
	b = begin(b, codeAccessRequest, id, auth, withMA)
	b = appendAttr(b, attrUserName, d.mac[:])
	b, _ = packet.AppendUserPassword(b, d.mac[:], *auth, c.secret) // a MAC: never over 128 octets
	b = appendAttr(b, attrCallingStation, d.callingID[:])
	b = appendUint32(b, attrNASIPAddress, 0x7f000001)
	b = appendAttr(b, attrNASIdentifier, nasIdentifier)
	b = appendUint32(b, attrNASPortType, portTypeWireless)
	c.finish(b)
	return b
}

// statusServer builds a Status-Server (RFC 5997) into b.
func (c *codec) statusServer(b []byte, id byte, auth *[16]byte, withMA bool) []byte {
	b = begin(b, codeStatusServer, id, auth, withMA)
	b = appendAttr(b, attrNASIdentifier, nasIdentifier)
	c.finish(b)
	return b
}

// acct describes one Accounting-Request of a device.
type acct struct {
	status    uint32
	sessionID []byte
	counters  counters
	eventTime uint32 // Event-Timestamp, Unix seconds
}

// accountingRequest builds an Accounting-Request into b and returns it with
// its Request Authenticator: MD5(Code+ID+Length+16 zero octets+Attributes+
// Secret) (RFC 2866 §3). Octet counters above 32 bits carry Gigawords.
func (c *codec) accountingRequest(b []byte, id byte, d *device, a acct) ([]byte, [16]byte) {
	var zero [16]byte
	b = begin(b, codeAcctRequest, id, &zero, false)
	b = appendUint32(b, attrStatusType, a.status)
	b = appendAttr(b, attrAcctSessionID, a.sessionID)
	b = appendAttr(b, attrUserName, d.mac[:])
	b = appendAttr(b, attrCallingStation, d.callingID[:])
	b = appendAttr(b, attrFramedIP, d.framedIP[:])
	b = appendUint32(b, attrNASIPAddress, 0x7f000001)
	b = appendAttr(b, attrNASIdentifier, nasIdentifier)
	b = appendUint32(b, attrNASPortType, portTypeWireless)
	b = appendUint32(b, attrEventTimestamp, a.eventTime)
	if a.status != statusStart {
		cn := a.counters
		b = appendUint32(b, attrSessionTime, uint32(cn.secs))
		b = appendUint32(b, attrInOctets, uint32(cn.in))
		b = appendUint32(b, attrOutOctets, uint32(cn.out))
		if cn.in>>32 != 0 {
			b = appendUint32(b, attrInGigawords, uint32(cn.in>>32))
		}
		if cn.out>>32 != 0 {
			b = appendUint32(b, attrOutGigawords, uint32(cn.out>>32))
		}
	}
	if a.status == statusStop {
		b = appendUint32(b, attrTerminateCause, causeUserRequest)
	}
	c.finish(b)
	return b, [16]byte(b[4:headerLen])
}

// Reasons a response is discarded (RFC 2865 §3: silently, as a NAS would).
const (
	badMalformed = "malformed"
	badCode      = "code"
	badAuth      = "authenticator"
	badMA        = "message_authenticator"
	badSource    = "source"
)

// verify checks a response to req: framing, a code that answers req's, the
// Response Authenticator MD5(Code+ID+Length+RequestAuth+Attributes+Secret)
// and, when present, the Message-Authenticator (HMAC-MD5 over the response
// with the Request Authenticator in place and the attribute zeroed). It
// returns "" or the reason to discard, and whether a Message-Authenticator
// was present.
func (c *codec) verify(resp []byte, req *request) (reason string, hasMA bool) {
	resp, maOff, err := packet.Check(resp)
	if err != nil {
		return badMalformed, false
	}
	if !answers(resp[0], req.code) {
		return badCode, maOff != 0
	}
	if !packet.VerifyReply(resp, req.auth, c.secret) {
		return badAuth, maOff != 0
	}
	if maOff == 0 {
		return "", false
	}
	if !packet.VerifyReplyMA(resp, maOff, req.auth, c.secret) {
		return badMA, true
	}
	return "", true
}

// answers reports whether a response code answers a request code.
func answers(resp, req byte) bool {
	switch req {
	case codeAccessRequest:
		return resp == codeAccessAccept || resp == codeAccessReject || resp == codeAccessChallenge
	case codeAcctRequest:
		return resp == codeAcctResponse
	case codeStatusServer:
		return resp == codeAccessAccept || resp == codeAcctResponse
	}
	return false
}
