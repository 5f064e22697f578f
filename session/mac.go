package session

import (
	"fmt"
	"strings"
)

// MAC is a device's hardware address in its one normalized spelling:
// lower-case hex pairs separated by colons ("aa:bb:cc:dd:ee:ff").
// The zero value is not a valid MAC.
type MAC string

// ParseMAC accepts, in any letter case, every spelling the supported NAS can
// be set to put in Calling-Station-Id or User-Name, and returns the
// normalized form:
//
//	aa:bb:cc:dd:ee:ff  aa-bb-cc-dd-ee-ff  aa bb cc dd ee ff  pairs
//	aabb.ccdd.eeff     aabb:ccdd:eeff     aabb-ccdd-eeff     quads
//	aabbcc:ddeeff      aabbcc-ddeeff                         halves
//	aabbccddeeff                                             bare
//
// MikroTik's radius-mac-format offers the colon and dash pairs, the space
// pairs, the colon quads, both halves and bare; pfSense's zone "MAC address
// format" the colon pairs (default), "single dash" halves, "IETF" dash pairs,
// "Cisco" dotted quads and "unformatted" bare; CoovaChilli sends dash pairs.
// The separators must be of one kind and group the digits evenly: anything
// else (a typo, a suffix, another field) is rejected.
func ParseMAC(s string) (MAC, error) {
	var hex [12]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		case isMACSeparator(c):
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
		return "", fmt.Errorf("%w: mac %q: separators must be of one kind and split the digits into pairs, quads or halves", ErrInvalid, s)
	}
	if isNormalMAC(s) {
		return MAC(s), nil // as stored: no copy (a device read parses one per session)
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

// isNormalMAC reports whether s, already checked to spell a MAC, spells it
// in the normalized form: lower-case pairs separated by colons.
func isNormalMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i%3 == 2 {
			if s[i] != ':' {
				return false
			}
		} else if s[i] >= 'A' && s[i] <= 'F' {
			return false
		}
	}
	return true
}

func isMACSeparator(c byte) bool { return c == ':' || c == '-' || c == '.' || c == ' ' }

// macGroupings are the ways a MAC's 12 digits may be split: the group size
// and the separators used with it. A space only separates pairs and a dot
// only quads, as no NAS writes them otherwise.
var macGroupings = [...]struct {
	size int
	seps string
}{
	{2, ":- "}, // aa:bb:cc:dd:ee:ff
	{4, ".:-"}, // aabb.ccdd.eeff
	{6, ":-"},  // aabbcc-ddeeff
}

// separatorsConsistent accepts no separators, or one separator kind placed
// after every group of one of macGroupings' sizes. It is called once s holds
// exactly 12 hex digits and separators.
func separatorsConsistent(s string) bool {
	if len(s) == 12 {
		return true
	}
	for _, g := range macGroupings {
		groups := 12 / g.size
		if len(s) != 12+groups-1 {
			continue
		}
		sep := s[g.size]
		if !strings.ContainsRune(g.seps, rune(sep)) {
			return false
		}
		for i := g.size; i < len(s); i += g.size + 1 {
			if s[i] != sep {
				return false
			}
		}
		return true
	}
	return false
}

// Hex returns the 12 lower-case hex digits without separators, the form used
// in storage keys.
func (m MAC) Hex() string {
	var buf [12]byte
	return string(m.AppendHex(buf[:0]))
}

// AppendHex appends Hex's digits to b.
func (m MAC) AppendHex(b []byte) []byte {
	s := string(m)
	if len(s) != 17 {
		return append(b, strings.ReplaceAll(s, ":", "")...)
	}
	return append(append(append(append(append(append(b, s[0:2]...), s[3:5]...), s[6:8]...), s[9:11]...), s[12:14]...), s[15:17]...)
}

// String returns the normalized spelling.
func (m MAC) String() string { return string(m) }
