package packet

import (
	"bytes"
	"crypto/md5"
	"crypto/subtle"
	"errors"

	"layeh.com/radius/rfc2865"
)

// CHAPResponse is MD5(ident+password+challenge), the response in a
// CHAP-Password after its ident octet (RFC 2865 §2.2, RFC 1994).
func CHAPResponse(ident byte, password, challenge []byte) [16]byte {
	var sum [16]byte
	withScratch(func(buf *[scratchLen]byte) {
		m := append(buf[:0], ident)
		m = append(m, password...)
		m = append(m, challenge...)
		sum = md5.Sum(m)
	})
	return sum
}

// VerifyCHAP reports whether chap, a CHAP-Password value (ident and 16
// octets), answers challenge with password.
func VerifyCHAP(chap, password, challenge []byte) bool {
	if len(chap) != 17 {
		return false
	}
	sum := CHAPResponse(chap[0], password, challenge)
	return subtle.ConstantTimeCompare(sum[:], chap[1:]) == 1
}

// maxPassword is the longest User-Password (RFC 2865 §5.2).
const maxPassword = 128

var errPasswordLength = errors.New("packet: User-Password longer than 128 octets (RFC 2865 §5.2)")

// AppendUserPassword appends a User-Password attribute to b: password
// padded with zeros to a multiple of 16 octets and hidden 16 at a time with
// MD5(secret+previous block), the first block chained from the Request
// Authenticator reqAuth (RFC 2865 §5.2).
func AppendUserPassword(b, password []byte, reqAuth [16]byte, secret []byte) ([]byte, error) {
	if len(password) > maxPassword {
		return b, errPasswordLength
	}
	n := max(16, (len(password)+15)/16*16)
	b = append(b, byte(rfc2865.UserPassword_Type), byte(2+n))
	start := len(b)
	withScratch(func(buf *[scratchLen]byte) {
		prev := reqAuth[:]
		for i := 0; i < n; i += 16 {
			m := append(buf[:0], secret...)
			m = append(m, prev...)
			k := md5.Sum(m)
			for j := range 16 {
				var p byte
				if i+j < len(password) {
					p = password[i+j]
				}
				b = append(b, p^k[j])
			}
			prev = b[start+i : start+i+16]
		}
	})
	return b, nil
}

var errPasswordHidden = errors.New("packet: User-Password not 16 to 128 octets in blocks of 16 (RFC 2865 §5.2)")

// RevealUserPassword returns the clear text of a User-Password value
// hidden with secret under the Request Authenticator reqAuth (RFC 2865
// §5.2), written into dst, up to its first zero octet (the padding), as
// layeh's radius.UserPassword reads it, without allocating.
func RevealUserPassword(dst *[maxPassword]byte, hidden []byte, reqAuth [16]byte, secret []byte) ([]byte, error) {
	if len(hidden) < 16 || len(hidden) > maxPassword || len(hidden)%16 != 0 {
		return nil, errPasswordHidden
	}
	if len(secret) == 0 {
		return nil, errors.New("packet: empty secret")
	}
	withScratch(func(buf *[scratchLen]byte) {
		prev := reqAuth[:]
		for i := 0; i < len(hidden); i += 16 {
			m := append(buf[:0], secret...)
			m = append(m, prev...)
			k := md5.Sum(m)
			for j := range 16 {
				dst[i+j] = hidden[i+j] ^ k[j]
			}
			prev = hidden[i : i+16]
		}
	})
	pw := dst[:len(hidden)]
	if i := bytes.IndexByte(pw, 0); i >= 0 {
		pw = pw[:i]
	}
	return pw, nil
}
