package session

import (
	"fmt"
	"strings"
)

// MAC is a device's hardware address in its one normalized spelling:
// lower-case hex pairs separated by colons ("aa:bb:cc:dd:ee:ff").
// The zero value is not a valid MAC.
type MAC string

// ParseMAC accepts every spelling NAS vendors put in Calling-Station-Id or
// User-Name: "AA-BB-CC-DD-EE-FF" (RFC 3580, CoovaChilli), "aa:bb:cc:dd:ee:ff"
// (MikroTik), "aabb.ccdd.eeff" (Cisco), "aabbccddeeff" (pfSense, UniFi), in any
// letter case, and returns the normalized form.
func ParseMAC(s string) (MAC, error) {
	var hex [12]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		case c == ':' || c == '-' || c == '.':
			continue
		default:
			return "", fmt.Errorf("%w: mac %q: unexpected character %q (want 12 hex digits, e.g. aa:bb:cc:dd:ee:ff)", ErrInvalid, s, c)
		}
		if n == len(hex) {
			return "", fmt.Errorf("%w: mac %q: more than 12 hex digits", ErrInvalid, s)
		}
		hex[n] = c
		n++
	}
	if n != len(hex) {
		return "", fmt.Errorf("%w: mac %q: %d hex digits, want 12 (e.g. aa:bb:cc:dd:ee:ff)", ErrInvalid, s, n)
	}
	if !separatorsConsistent(s) {
		return "", fmt.Errorf("%w: mac %q: separators do not group the digits in pairs or quads", ErrInvalid, s)
	}
	var b strings.Builder
	b.Grow(17)
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(hex[i])
		b.WriteByte(hex[i+1])
	}
	return MAC(b.String()), nil
}

// separatorsConsistent accepts no separators, or one separator kind placed
// every 2 digits (aa:bb:...) or every 4 digits (aabb.ccdd.eeff).
func separatorsConsistent(s string) bool {
	if len(s) == 12 {
		return true
	}
	switch len(s) {
	case 17:
		sep := s[2]
		for i := 2; i < 17; i += 3 {
			if s[i] != sep {
				return false
			}
		}
		return sep == ':' || sep == '-'
	case 14:
		sep := s[4]
		return (sep == '.' || sep == '-' || sep == ':') && s[9] == sep
	}
	return false
}

// Hex returns the 12 lower-case hex digits without separators, the form used
// in storage keys.
func (m MAC) Hex() string {
	s := string(m)
	if len(s) != 17 {
		return strings.ReplaceAll(s, ":", "")
	}
	return s[0:2] + s[3:5] + s[6:8] + s[9:11] + s[12:14] + s[15:17]
}

// String returns the normalized spelling.
func (m MAC) String() string { return string(m) }
