package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"layeh.com/radius"
)

// marshal lays out a packet with auth in the authenticator field and, with
// withMA, a zeroed Message-Authenticator as the first attribute (RFC 3579,
// BlastRADIUS).
func marshal(code radius.Code, id byte, auth [16]byte, attrs radius.Attributes, withMA bool) ([]byte, error) {
	size := HeaderLen
	if withMA {
		size += MALen
	}
	for _, a := range attrs {
		if len(a.Attribute) > 253 {
			return nil, errors.New("packet: attribute value longer than 253 octets")
		}
		size += 2 + len(a.Attribute)
	}
	if size > MaxLen {
		return nil, errors.New("packet: larger than 4096 octets")
	}
	b := make([]byte, size)
	b[0], b[1] = byte(code), id
	binary.BigEndian.PutUint16(b[2:4], uint16(size))
	copy(b[4:HeaderLen], auth[:])
	i := HeaderLen
	if withMA {
		b[i], b[i+1] = MAType, MALen
		i += MALen
	}
	for _, a := range attrs {
		b[i], b[i+1] = byte(a.Type), byte(2+len(a.Attribute))
		copy(b[i+2:], a.Attribute)
		i += 2 + len(a.Attribute)
	}
	return b, nil
}

// EncodeReply encodes a reply to a request whose authenticator was reqAuth;
// with withMA the Message-Authenticator is its first attribute.
func EncodeReply(code radius.Code, id byte, reqAuth [16]byte, attrs radius.Attributes, secret []byte, withMA bool) ([]byte, error) {
	b, err := marshal(code, id, reqAuth, attrs, withMA)
	if err != nil {
		return nil, err
	}
	SignReply(b, maOffset(withMA), reqAuth, secret)
	return b, nil
}

// EncodeRequest encodes an Accounting, Disconnect or CoA request with a
// Message-Authenticator as its first attribute (computed with the
// authenticator field zeroed, RFC 5176 §3.5) and then the Request
// Authenticator MD5(Code+ID+Length+16 zeros+Attributes+Secret).
func EncodeRequest(code radius.Code, id byte, attrs radius.Attributes, secret []byte) ([]byte, error) {
	if !hashedRequest(byte(code)) {
		return nil, fmt.Errorf("packet: %s: not a request with a computed authenticator", code)
	}
	b, err := marshal(code, id, [16]byte{}, attrs, true)
	if err != nil {
		return nil, err
	}
	SignRequest(b, maOffset(true), secret)
	return b, nil
}

func maOffset(withMA bool) int {
	if withMA {
		return HeaderLen + 2
	}
	return 0
}

// SignMA fills the Message-Authenticator of a packet built with layeh, so
// that p.Encode() sends it signed: the HMAC-MD5 of p's encoding with the
// authenticator field as Encode hashes it (16 zeros for an Accounting,
// Disconnect or CoA request, else p.Authenticator: an Access-Request's own,
// or in a reply made with Response the request's). A packet without a
// Message-Authenticator gets one, first (BlastRADIUS); one already there
// keeps its place. Encode must come after any other change to p.
func SignMA(p *radius.Packet) error {
	i := slices.IndexFunc(p.Attributes, func(a *radius.AVP) bool { return byte(a.Type) == MAType })
	if i < 0 {
		p.Attributes = slices.Insert(p.Attributes, 0, &radius.AVP{Type: radius.Type(MAType)})
		i = 0
	}
	p.Attributes[i].Attribute = make([]byte, 16)
	b, err := p.MarshalBinary()
	if err != nil {
		return fmt.Errorf("sign Message-Authenticator: %w", err)
	}
	maOff := HeaderLen + 2
	for _, a := range p.Attributes[:i] {
		maOff += 2 + len(a.Attribute)
	}
	var auth [16]byte
	if !hashedRequest(byte(p.Code)) {
		auth = p.Authenticator
	}
	sum := MessageAuthenticator(b, maOff, auth, p.Secret)
	p.Attributes[i].Attribute = sum[:]
	return nil
}
