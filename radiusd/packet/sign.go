package packet

import (
	"crypto/md5"
	"crypto/subtle"

	"layeh.com/radius"
)

// The functions below take a packet as Check returns it (at most MaxLen
// octets, maOff the offset of a Message-Authenticator's value or 0) and a
// shared secret.

// Authenticator is MD5(Code+ID+Length+auth+Attributes+Secret) of pkt: the
// Response Authenticator of a reply when auth is the request's
// authenticator (RFC 2865 §3), the Request Authenticator of an Accounting,
// Disconnect or CoA request when auth is 16 zeros (RFC 2866 §3, RFC 5176
// §3.5).
func Authenticator(pkt []byte, auth [16]byte, secret []byte) [16]byte {
	var sum [16]byte
	withScratch(func(buf *[scratchLen]byte) {
		m := append(buf[:0], pkt[:4]...)
		m = append(m, auth[:]...)
		m = append(m, pkt[HeaderLen:]...)
		m = append(m, secret...)
		sum = md5.Sum(m)
	})
	return sum
}

// MessageAuthenticator is the HMAC-MD5 under secret of pkt with auth in
// the authenticator field and the value at maOff zeroed (RFC 3579 §3.2).
// auth is what the packet's kind asks for: see SignRequest and SignReply.
func MessageAuthenticator(pkt []byte, maOff int, auth [16]byte, secret []byte) [16]byte {
	var sum [16]byte
	withScratch(func(buf *[scratchLen]byte) {
		m := buf[64 : 64+len(pkt)]
		copy(m, pkt)
		copy(m[4:HeaderLen], auth[:])
		clear(m[maOff : maOff+16])
		sum = hmacMD5(secret, buf, len(pkt))
	})
	return sum
}

// hashedRequest reports whether code is a request whose Request
// Authenticator is a hash over the packet (Accounting, Disconnect and CoA
// requests) rather than random (Access-Request, Status-Server).
func hashedRequest(code byte) bool {
	switch radius.Code(code) {
	case radius.CodeAccountingRequest, radius.CodeDisconnectRequest, radius.CodeCoARequest:
		return true
	}
	return false
}

// requestMAAuth is the authenticator field under a request's
// Message-Authenticator: for a request whose authenticator is a hash (which
// covers the Message-Authenticator, so cannot be known before it) 16 zeros,
// the convention of RFC 5176 §3.5; else the Request Authenticator as it
// stands.
func requestMAAuth(pkt []byte) [16]byte {
	var auth [16]byte
	if !hashedRequest(pkt[0]) {
		copy(auth[:], pkt[4:HeaderLen])
	}
	return auth
}

// VerifyRequest checks the Request Authenticator of an Accounting,
// Disconnect or CoA request: MD5(Code+ID+Length+16 zero octets+Attributes+
// Secret).
func VerifyRequest(pkt, secret []byte) bool {
	sum := Authenticator(pkt, [16]byte{}, secret)
	return subtle.ConstantTimeCompare(sum[:], pkt[4:HeaderLen]) == 1
}

// VerifyRequestMA checks a request's Message-Authenticator (RFC 3579 §3.2),
// at maOff.
func VerifyRequestMA(pkt []byte, maOff int, secret []byte) bool {
	sum := MessageAuthenticator(pkt, maOff, requestMAAuth(pkt), secret)
	return subtle.ConstantTimeCompare(sum[:], pkt[maOff:maOff+16]) == 1
}

// VerifyReply checks the Response Authenticator of a reply to a request
// whose authenticator was reqAuth.
func VerifyReply(pkt []byte, reqAuth [16]byte, secret []byte) bool {
	sum := Authenticator(pkt, reqAuth, secret)
	return subtle.ConstantTimeCompare(sum[:], pkt[4:HeaderLen]) == 1
}

// VerifyReplyMA checks a reply's Message-Authenticator, at maOff: computed
// with the request's authenticator reqAuth in the authenticator field.
func VerifyReplyMA(pkt []byte, maOff int, reqAuth [16]byte, secret []byte) bool {
	sum := MessageAuthenticator(pkt, maOff, reqAuth, secret)
	return subtle.ConstantTimeCompare(sum[:], pkt[maOff:maOff+16]) == 1
}

// SignRequest signs a request laid out in b (its Length field set), as a
// NAS does: the Message-Authenticator at maOff when maOff is not 0, then,
// for an Accounting, Disconnect or CoA request, the Request Authenticator,
// which covers it. An Access-Request or Status-Server keeps the random
// authenticator b holds.
func SignRequest(b []byte, maOff int, secret []byte) {
	if maOff != 0 {
		sum := MessageAuthenticator(b, maOff, requestMAAuth(b), secret)
		copy(b[maOff:maOff+16], sum[:])
	}
	if hashedRequest(b[0]) {
		sum := Authenticator(b, [16]byte{}, secret)
		copy(b[4:HeaderLen], sum[:])
	}
}

// SignReply signs a reply laid out in b (its Length field set) to a request
// whose authenticator was reqAuth: the Message-Authenticator at maOff when
// maOff is not 0, then the Response Authenticator, which covers it.
func SignReply(b []byte, maOff int, reqAuth [16]byte, secret []byte) {
	if maOff != 0 {
		sum := MessageAuthenticator(b, maOff, reqAuth, secret)
		copy(b[maOff:maOff+16], sum[:])
	}
	sum := Authenticator(b, reqAuth, secret)
	copy(b[4:HeaderLen], sum[:])
}
