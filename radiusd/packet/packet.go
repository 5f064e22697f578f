// Package packet is the RADIUS wire work layeh.com/radius leaves to its
// callers, or does with allocations the per-packet path cannot afford:
// framing checks, Request and Response Authenticators, the
// Message-Authenticator (RFC 3579 §3.2, HMAC-MD5) computed and verified,
// packets encoded with the Message-Authenticator first (BlastRADIUS), and
// the PAP and CHAP digests. Packets and dictionaries stay layeh's.
//
// Every digest is computed without allocating: the bytes to hash are laid
// out in a pooled buffer and hashed with md5.Sum.
package packet

import (
	"encoding/binary"
	"errors"
	"iter"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// Sizes and types of the wire format.
const (
	// HeaderLen is the length of the header: Code, Identifier, Length and
	// the 16-octet Authenticator.
	HeaderLen = 20
	// MaxLen is the longest packet (RFC 2865 §3).
	MaxLen = radius.MaxPacketLength
	// MAType is the Message-Authenticator's attribute type (80).
	MAType = byte(rfc2869.MessageAuthenticator_Type)
	// MALen is the Message-Authenticator attribute's length, header
	// included: its value is 16 octets from offset maOff, 2 after the type.
	MALen = 18

	vsaType   = byte(rfc2865.VendorSpecific_Type) // 26
	vsaMinLen = 7                                 // RFC 2865 §5.26: type, length, Vendor-Id, at least one octet
)

var (
	errShort      = errors.New("shorter than a RADIUS header")
	errOversized  = errors.New("datagram longer than 4096 octets (RFC 2865 §3)")
	errLength     = errors.New("length field disagrees with the datagram")
	errAttrs      = errors.New("malformed attributes")
	errMALength   = errors.New("Message-Authenticator of wrong length")
	errVSALength  = errors.New("Vendor-Specific shorter than 7 octets (RFC 2865 §5.26)")
	errMAMultiple = errors.New("more than one Message-Authenticator")
)

// Check validates the header length and the attribute framing of a
// datagram without allocating, and returns the packet bytes (the datagram
// trimmed to the header's length; RFC 2865 §3: octets beyond it are padding)
// and the offset of the Message-Authenticator value (0 when absent). A
// datagram longer than the 4096-octet maximum is refused whatever its Length
// field says: a read loop whose buffer is one octet larger than that limit
// sees such a datagram, which it may have truncated, this way.
func Check(b []byte) (pkt []byte, maOff int, err error) {
	if len(b) < HeaderLen {
		return nil, 0, errShort
	}
	if len(b) > MaxLen {
		return nil, 0, errOversized
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < HeaderLen || n > MaxLen || n > len(b) {
		return nil, 0, errLength
	}
	pkt = b[:n]
	for i := HeaderLen; i < n; {
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
		if pkt[i] == MAType {
			if l != MALen {
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

// Attrs yields the type and value of each attribute of pkt, a packet as
// Check returned it, in order; each value is a slice of pkt (not a copy).
// One pass, no allocation: the request handlers read what they need in a
// single scan instead of building layeh's Attributes (an allocation per
// attribute).
func Attrs(pkt []byte) iter.Seq2[radius.Type, []byte] {
	return func(yield func(radius.Type, []byte) bool) {
		for i := HeaderLen; i+2 <= len(pkt); {
			l := int(pkt[i+1])
			if l < 2 || i+l > len(pkt) {
				return // Check refuses such a packet; never read past it
			}
			if !yield(radius.Type(pkt[i]), pkt[i+2:i+l:i+l]) {
				return
			}
			i += l
		}
	}
}
