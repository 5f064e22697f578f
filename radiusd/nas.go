package radiusd

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
)

// Profile names a family of reply attributes a NAS understands (DESIGN §6).
type Profile string

// Vendor profiles.
const (
	ProfileWISPr      Profile = "wispr"      // WISPr 14122: bit/s, Session-Terminate-Time
	ProfileChilli     Profile = "chillispot" // ChilliSpot/CoovaChilli 14559: kbit/s, octet limits
	ProfileMikroTik   Profile = "mikrotik"   // MikroTik 14988: Rate-Limit string, Total-Limit
	ProfilePfSense    Profile = "pfsense"    // pfSense 13644: bit/s, 32-bit octet limit
	ProfileRFCOnly    Profile = "rfc"        // only the RFC 2865/2869 attributes
	defaultProfileSet         = "wispr"
)

// Profiles lists every valid profile name.
var Profiles = []Profile{ProfileWISPr, ProfileChilli, ProfileMikroTik, ProfilePfSense, ProfileRFCOnly}

// ParseProfile validates a profile name.
func ParseProfile(s string) (Profile, error) {
	for _, p := range Profiles {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	if strings.EqualFold(s, "coovachilli") || strings.EqualFold(s, "chilli") {
		return ProfileChilli, nil
	}
	return "", fmt.Errorf("unknown vendor profile %q (want one of wispr, chillispot, mikrotik, pfsense, rfc)", s)
}

// MAPolicy is a NAS's Message-Authenticator requirement on Access-Requests
// (RFC 3579, BlastRADIUS CVE-2024-3596).
type MAPolicy uint8

// Message-Authenticator policies.
const (
	// MARequire drops Access-Requests without a valid Message-Authenticator.
	MARequire MAPolicy = iota
	// MAAuto accepts requests without one until the NAS sends one, then
	// requires it from that NAS for the life of the process.
	MAAuto
	// MAOptional verifies it when present, never requires it.
	MAOptional
)

// ParseMAPolicy accepts yes/auto/no (also true/false).
func ParseMAPolicy(s string) (MAPolicy, error) {
	switch strings.ToLower(s) {
	case "yes", "true", "require", "required":
		return MARequire, nil
	case "auto":
		return MAAuto, nil
	case "no", "false", "optional":
		return MAOptional, nil
	}
	return 0, fmt.Errorf("%q: want yes, auto or no", s)
}

func (p MAPolicy) String() string {
	switch p {
	case MARequire:
		return "yes"
	case MAAuto:
		return "auto"
	}
	return "no"
}

// PasswordMode is how a NAS's PAP/CHAP password is checked for MAC
// authentication, where the NAS sends the device's MAC as User-Name.
type PasswordMode uint8

// Password modes.
const (
	// PasswordAny accepts any password: the NAS is authenticated by its
	// source address and shared secret, the device by its MAC.
	PasswordAny PasswordMode = iota
	// PasswordMAC requires the password to be the device's MAC, in any
	// common spelling (MikroTik "mac-as-password", pfSense).
	PasswordMAC
	// PasswordFixed requires the NAS's configured password (CoovaChilli
	// macpasswd, MikroTik mac-auth-password).
	PasswordFixed
)

// ParsePasswordMode accepts any, mac or fixed.
func ParsePasswordMode(s string) (PasswordMode, error) {
	switch strings.ToLower(s) {
	case "any", "":
		return PasswordAny, nil
	case "mac":
		return PasswordMAC, nil
	case "fixed":
		return PasswordFixed, nil
	}
	return 0, fmt.Errorf("%q: want any, mac or fixed", s)
}

func (m PasswordMode) String() string {
	switch m {
	case PasswordMAC:
		return "mac"
	case PasswordFixed:
		return "fixed"
	}
	return "any"
}

// NAS is one network access server we answer.
type NAS struct {
	Name     string       // identity in logs, metrics and accounting keys
	Prefix   netip.Prefix // its source address(es)
	Secret   []byte
	Profiles []Profile
	// GlobalDownMbits/GlobalUpMbits apply to sessions that use the global
	// speed; 0 sends no speed attribute (the NAS's own default applies).
	GlobalDownMbits, GlobalUpMbits uint32
	// CoAPort and CoASecret are for Disconnect/CoA requests (RFC 5176);
	// port 0 disables them for this NAS. CoASecret defaults to Secret.
	CoAPort   int
	CoASecret []byte
	// OnSpill says what to do when spill-over moves a device onto a session
	// with other limits: send a CoA with the new limits, or disconnect it so
	// that it re-authenticates.
	OnSpill  SpillAction
	MAPolicy MAPolicy
	Password PasswordMode
	// FixedPassword is the password PasswordFixed expects.
	FixedPassword string
}

// SpillAction is a NAS's reaction to spill-over.
type SpillAction uint8

// Spill actions.
const (
	SpillCoA        SpillAction = iota // CoA-Request with the full new limit set
	SpillDisconnect                    // Disconnect-Request; the device re-authenticates
)

// ParseSpillAction accepts coa or disconnect.
func ParseSpillAction(s string) (SpillAction, error) {
	switch strings.ToLower(s) {
	case "coa", "":
		return SpillCoA, nil
	case "disconnect":
		return SpillDisconnect, nil
	}
	return 0, fmt.Errorf("%q: want coa or disconnect", s)
}

func (a SpillAction) String() string {
	if a == SpillDisconnect {
		return "disconnect"
	}
	return "coa"
}

// nasTable finds a NAS by source address: the most specific prefix wins.
type nasTable struct {
	byPrefix []*nasEntry // sorted by prefix length, longest first
}

type nasEntry struct {
	NAS
	maSeen atomic.Bool // MAAuto: a Message-Authenticator was seen
}

func newNASTable(list []NAS) (*nasTable, error) {
	t := &nasTable{}
	names := map[string]bool{}
	prefixes := map[netip.Prefix]string{}
	for _, n := range list {
		if names[n.Name] {
			return nil, fmt.Errorf("nas %q: name used twice", n.Name)
		}
		names[n.Name] = true
		p := n.Prefix.Masked()
		if other, ok := prefixes[p]; ok {
			return nil, fmt.Errorf("nas %q: address %s already belongs to nas %q", n.Name, p, other)
		}
		prefixes[p] = n.Name
		n.Prefix = p
		t.byPrefix = append(t.byPrefix, &nasEntry{NAS: n})
	}
	sort.SliceStable(t.byPrefix, func(i, j int) bool { return t.byPrefix[i].Prefix.Bits() > t.byPrefix[j].Prefix.Bits() })
	return t, nil
}

// byName returns the NAS with that name, nil if unknown.
func (t *nasTable) byName(name string) *nasEntry {
	for _, e := range t.byPrefix {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// lookup returns the NAS for a source address, nil if unknown.
func (t *nasTable) lookup(addr netip.Addr) *nasEntry {
	addr = addr.Unmap().WithZone("") // link-local sources carry a zone; prefixes never do
	for _, e := range t.byPrefix {
		if e.Prefix.Contains(addr) {
			return e
		}
	}
	return nil
}
