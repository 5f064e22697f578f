package radiusd

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"errors"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

const (
	headerLen    = 20
	maType       = byte(rfc2869.MessageAuthenticator_Type) // 80
	maAttrLen    = 18
	vsaType      = byte(rfc2865.VendorSpecific_Type) // 26
	vsaMinLen    = 7                                 // RFC 2865 §5.26: type, length, Vendor-Id, at least one octet
	maxPacketLen = radius.MaxPacketLength
)

var (
	errShort       = errors.New("shorter than a RADIUS header")
	errOversized   = errors.New("datagram longer than 4096 octets (RFC 2865 §3)")
	errLength      = errors.New("length field disagrees with the datagram")
	errAttrs       = errors.New("malformed attributes")
	errMALength    = errors.New("Message-Authenticator of wrong length")
	errVSALength   = errors.New("Vendor-Specific shorter than 7 octets (RFC 2865 §5.26)")
	errMAMultiple  = errors.New("more than one Message-Authenticator")
	errMABad       = errors.New("Message-Authenticator does not verify")
	errMAMissing   = errors.New("Message-Authenticator required but missing")
	errRequestAuth = errors.New("request authenticator does not verify (wrong shared secret?)")
)

// checkFraming validates the header length and the attribute framing of a
// datagram without allocating, and returns the packet bytes (the datagram
// trimmed to the header's length; RFC 2865 §3: octets beyond it are padding)
// and the offset of the Message-Authenticator value (0 when absent). A
// datagram longer than the 4096-octet maximum is refused whatever its Length
// field says: the read loop's buffer is one octet larger than that limit
// precisely so that such a datagram, which it may have truncated, is seen.
func checkFraming(b []byte) (pkt []byte, maOff int, err error) {
	if len(b) < headerLen {
		return nil, 0, errShort
	}
	if len(b) > maxPacketLen {
		return nil, 0, errOversized
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < headerLen || n > maxPacketLen || n > len(b) {
		return nil, 0, errLength
	}
	pkt = b[:n]
	for i := headerLen; i < n; {
		if n-i < 2 {
			return nil, 0, errAttrs
		}
		l := int(pkt[i+1])
		if l < 2 || i+l > n {
			return nil, 0, errAttrs
		}
		if pkt[i] == vsaType && l < vsaMinLen {
			return nil, 0, errVSALength
		}
		if pkt[i] == maType {
			if l != maAttrLen {
				return nil, 0, errMALength
			}
			if maOff != 0 {
				return nil, 0, errMAMultiple
			}
			maOff = i + 2
		}
		i += l
	}
	return pkt, maOff, nil
}

// verifyMA checks the Message-Authenticator of a request (RFC 3579 §3.2):
// HMAC-MD5 over the packet with the attribute's value zeroed. For
// Accounting/CoA requests the authenticator field is hashed as zeros (RFC
// 5176 §3.5 uses the same convention for the request authenticator).
func verifyMA(pkt []byte, maOff int, secret []byte) bool {
	var sum [16]byte
	withScratch(func(buf *[scratchLen]byte) {
		m := buf[64 : 64+len(pkt)]
		copy(m, pkt)
		switch radius.Code(pkt[0]) {
		case radius.CodeAccountingRequest, radius.CodeDisconnectRequest, radius.CodeCoARequest:
			clear(m[4:20])
		}
		clear(m[maOff : maOff+16])
		sum = hmacMD5(secret, buf, len(pkt))
	})
	return subtle.ConstantTimeCompare(sum[:], pkt[maOff:maOff+16]) == 1
}

// verifyRequestAuth checks the Request Authenticator of an Accounting, CoA
// or Disconnect request: MD5(Code+ID+Length+16 zero octets+Attributes+Secret).
func verifyRequestAuth(pkt, secret []byte) bool {
	var zero [16]byte
	sum := authenticator(pkt, zero, secret)
	return subtle.ConstantTimeCompare(sum[:], pkt[4:20]) == 1
}

// authenticator is MD5(Code+ID+Length+auth+Attributes+Secret) of packet b.
func authenticator(b []byte, auth [16]byte, secret []byte) [16]byte {
	var sum [16]byte
	withScratch(func(buf *[scratchLen]byte) {
		m := append(buf[:0], b[:4]...)
		m = append(m, auth[:]...)
		m = append(m, b[20:]...)
		m = append(m, secret...)
		sum = md5.Sum(m)
	})
	return sum
}

// marshal lays out a packet with auth in the authenticator field and, with
// withMA, a zeroed Message-Authenticator as the first attribute (RFC 3579,
// BlastRADIUS).
func marshal(code radius.Code, id byte, auth [16]byte, attrs radius.Attributes, withMA bool) ([]byte, error) {
	size := headerLen
	if withMA {
		size += maAttrLen
	}
	for _, a := range attrs {
		if len(a.Attribute) > 253 {
			return nil, errors.New("radiusd: attribute value longer than 253 octets")
		}
		size += 2 + len(a.Attribute)
	}
	if size > maxPacketLen {
		return nil, errors.New("radiusd: packet larger than 4096 octets")
	}
	b := make([]byte, size)
	b[0], b[1] = byte(code), id
	binary.BigEndian.PutUint16(b[2:4], uint16(size))
	copy(b[4:20], auth[:])
	i := headerLen
	if withMA {
		b[i], b[i+1] = maType, maAttrLen
		i += maAttrLen
	}
	for _, a := range attrs {
		b[i], b[i+1] = byte(a.Type), byte(2+len(a.Attribute))
		copy(b[i+2:], a.Attribute)
		i += 2 + len(a.Attribute)
	}
	return b, nil
}

// sign fills the Message-Authenticator (when the first attribute is one),
// computed over b as it stands, then replaces the authenticator field with
// MD5(Code+ID+Length+auth+Attributes+Secret): for a reply auth is the
// request's authenticator, for a CoA/Disconnect request 16 zeros.
func sign(b []byte, auth [16]byte, secret []byte) {
	if len(b) >= headerLen+maAttrLen && b[headerLen] == maType {
		withScratch(func(buf *[scratchLen]byte) {
			copy(buf[64:], b)
			sum := hmacMD5(secret, buf, len(b))
			copy(b[headerLen+2:headerLen+maAttrLen], sum[:])
		})
	}
	sum := authenticator(b, auth, secret)
	copy(b[4:20], sum[:])
}

// encodeReply encodes a reply to a request whose authenticator is reqAuth;
// with withMA the Message-Authenticator is its first attribute.
func encodeReply(code radius.Code, id byte, reqAuth [16]byte, attrs radius.Attributes, secret []byte, withMA bool) ([]byte, error) {
	b, err := marshal(code, id, reqAuth, attrs, withMA)
	if err != nil {
		return nil, err
	}
	sign(b, reqAuth, secret)
	return b, nil
}
