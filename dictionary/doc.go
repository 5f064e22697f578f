// Package dictionary owns the RADIUS vendor attribute packages that
// layeh.com/radius does not ship, one sub-package per vendor:
//
//   - chillispot: ChilliSpot / CoovaChilli, vendor 14559 (octet and
//     gigaword limits, bandwidth in kbit/s).
//   - pfsense: pfSense captive portal, vendor 13644 (bandwidth in bit/s,
//     a 32-bit total octet limit).
//
// WISPr (14122) and MikroTik (14988) are not here: use
// layeh.com/radius/vendors/wispr and layeh.com/radius/vendors/mikrotik.
//
// Each sub-package holds a FreeRADIUS-format dictionary file that we write
// and check ourselves (its header says against what), a generate.go with the
// go:generate line, and the generated.go that radius-dict-gen
// (layeh.com/radius/cmd/radius-dict-gen, a tool directive in go.mod, so the
// version is the one go.mod pins) makes from it. Never edit generated.go by
// hand: change the dictionary file and regenerate with
//
//	go generate ./dictionary/...
//
// which rewrites generated.go byte for byte when the dictionary is unchanged.
// The tests check the attributes on the wire and, when Debian's
// freeradius-common is installed, compare every ATTRIBUTE line with
// /usr/share/freeradius.
package dictionary
