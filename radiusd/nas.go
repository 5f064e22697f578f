package radiusd

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// Profile names a family of reply attributes a NAS understands (README.md, "Attributes sent").
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
	return "", unknownProfile(s)
}

func unknownProfile(s string) error {
	return fmt.Errorf("unknown vendor profile %q (want one of wispr, chillispot, mikrotik, pfsense, rfc)", s)
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

// ParseMAPolicy accepts yes/auto/no (also true/false); empty is yes.
func ParseMAPolicy(s string) (MAPolicy, error) {
	switch strings.ToLower(s) {
	case "yes", "true", "require", "required", "":
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
	// Login says how this NAS's logins name the device and the customer:
	// the one per-NAS setting that decides where the device's MAC is read
	// and what User-Name must be.
	Login LoginStyle
	// VoucherPassword is how a voucher login's password is checked; only
	// with the voucher login styles (unset: code).
	VoucherPassword VoucherPassword
	// MACSuffix is text the NAS appends to a MAC in User-Name (CoovaChilli
	// macsuffix); it is removed before the MAC is read.
	MACSuffix string
	// Acct is how this NAS's accounting counters are read.
	Acct session.AcctPolicy
	// RadSec is how the NAS is known on RadSec (RFC 6614) and its secret
	// there; see README.md, "RadSec".
	RadSec NASRadSec
}

// NASRadSec is a NAS's identity and secret on RadSec. With Names or
// Fingerprints the NAS is recognised by its client certificate (signed by
// the client CA) wherever it connects from, and Prefix may be empty;
// without them a RadSec connection is matched by its source address, as on
// UDP.
type NASRadSec struct {
	// Names are matched against the certificate's DNS subjectAltNames and
	// its subject Common Name (RFC 6614 §2.3), exactly, ignoring case.
	Names []string
	// Fingerprints are SHA-256 digests of the whole DER certificate.
	Fingerprints [][32]byte
	// Secret is the shared secret on RadSec: "radsec" (RFC 6614 §2.3)
	// unless set.
	Secret []byte
}

// DefaultRadSecSecret is the shared secret of RADIUS over TLS (RFC 6614 §2.3).
const DefaultRadSecSecret = "radsec"

// CertIdentified reports whether the NAS is recognised on RadSec by its
// certificate rather than its address.
func (n *NAS) CertIdentified() bool { return len(n.RadSec.Names) > 0 || len(n.RadSec.Fingerprints) > 0 }

// LoginStyle is how a NAS's Access-Requests name the device and the
// customer; accounting reads the device the same way.
type LoginStyle uint8

// Login styles.
const (
	// LoginMAC is MAC authentication: the device is the MAC in
	// Calling-Station-Id, and User-Name must be that same MAC (in any
	// spelling, plus MACSuffix). A name typed at a portal is refused.
	LoginMAC LoginStyle = iota
	// LoginMACUserName is MAC authentication by a NAS that does not put the
	// MAC in Calling-Station-Id: the device is the MAC in User-Name. Only
	// here does User-Name choose the device; if Calling-Station-Id holds a
	// MAC as well, the two must agree.
	LoginMACUserName
	// LoginAnyName: the device is the MAC in Calling-Station-Id and
	// User-Name is not looked at. For a NAS that checks its users itself
	// (or a load test); any name typed at a portal gets in when the device
	// has a session.
	LoginAnyName
	// LoginVoucher: User-Name is a voucher code typed at the portal; the
	// device is the MAC in Calling-Station-Id (README.md, "Vouchers").
	LoginVoucher
	// LoginMACOrVoucher: a User-Name equal to the device's MAC (in
	// Calling-Station-Id) is a MAC login exactly as LoginMAC; any other
	// User-Name is read as a voucher code (MikroTik login-by=mac,http-chap;
	// CoovaChilli macauth + UAM; pfSense with MAC authentication fallback).
	LoginMACOrVoucher
)

// ParseLoginStyle accepts mac, mac_username, any_name, voucher or
// mac_or_voucher.
func ParseLoginStyle(s string) (LoginStyle, error) {
	switch strings.ToLower(s) {
	case "mac", "":
		return LoginMAC, nil
	case "mac_username":
		return LoginMACUserName, nil
	case "any_name":
		return LoginAnyName, nil
	case "voucher":
		return LoginVoucher, nil
	case "mac_or_voucher":
		return LoginMACOrVoucher, nil
	}
	return 0, fmt.Errorf("%q: want mac (User-Name is the MAC in Calling-Station-Id), mac_username (the MAC is only in User-Name), any_name (User-Name not checked), voucher (User-Name is a voucher code) or mac_or_voucher (the MAC, else a voucher code)", s)
}

func (l LoginStyle) String() string {
	switch l {
	case LoginMACUserName:
		return "mac_username"
	case LoginAnyName:
		return "any_name"
	case LoginVoucher:
		return "voucher"
	case LoginMACOrVoucher:
		return "mac_or_voucher"
	}
	return "mac"
}

// TakesVouchers reports whether logins of this style may be voucher codes.
func (l LoginStyle) TakesVouchers() bool { return l == LoginVoucher || l == LoginMACOrVoucher }

// VoucherPassword is how the password of a voucher login is checked.
type VoucherPassword uint8

// Voucher password modes. The zero value is unset: VoucherPasswordCode
// where vouchers are taken.
const (
	VoucherPasswordUnset VoucherPassword = iota
	// VoucherPasswordCode: the PAP or CHAP password must be the code
	// (case, spaces and dashes aside).
	VoucherPasswordCode
	// VoucherPasswordAny: the password is not checked (the NAS's login page
	// sends a fixed or empty one).
	VoucherPasswordAny
)

// ParseVoucherPassword accepts code or any.
func ParseVoucherPassword(s string) (VoucherPassword, error) {
	switch strings.ToLower(s) {
	case "code":
		return VoucherPasswordCode, nil
	case "any":
		return VoucherPasswordAny, nil
	}
	return 0, fmt.Errorf("%q: want code (the password must be the voucher code) or any (not checked)", s)
}

func (v VoucherPassword) String() string {
	switch v {
	case VoucherPasswordAny:
		return "any"
	case VoucherPasswordUnset:
		return ""
	}
	return "code"
}

// ParseAcctUpdates accepts interim, stop_start or stop_start_reset.
func ParseAcctUpdates(s string) (session.AcctUpdates, error) {
	if s == "" {
		return session.AcctUpdatesInterim, nil
	}
	for _, u := range []session.AcctUpdates{session.AcctUpdatesInterim, session.AcctUpdatesStopStart, session.AcctUpdatesStopStartReset} {
		if strings.EqualFold(s, u.String()) {
			return u, nil
		}
	}
	return 0, fmt.Errorf("%q: want interim, stop_start (pfSense \"Stop/Start\") or stop_start_reset (pfSense \"Stop/Start (FreeRADIUS)\")", s)
}

// ParseCounterWrap accepts wrap (a 32-bit counter that went down wrapped,
// when the NAS never sent Gigawords) or reset (it restarted from zero).
func ParseCounterWrap(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "wrap", "":
		return true, nil
	case "reset":
		return false, nil
	}
	return false, fmt.Errorf("%q: want wrap (octets that go down without Gigawords wrapped at 4 GiB) or reset (the NAS restarted its counters)", s)
}

// DefaultRetransmitWindow is how long a NAS may resend one accounting
// packet without raising Acct-Delay-Time (see NAS.Acct).
const DefaultRetransmitWindow = 2 * time.Minute

// acctNAS is the accounting identity of a packet from src: the NAS's name,
// with the source address when the entry is a network (several access
// points behind one entry count their sessions apart).
func (n *nasEntry) acctNAS(src netip.Addr) string {
	// A certificate-identified NAS is one NAS whatever its address (which
	// NAT may change): its records are its name's.
	if n.Prefix.IsSingleIP() || n.CertIdentified() {
		return n.Name
	}
	a := src.Unmap().WithZone("")
	if a.Is6() {
		return n.Name + "@[" + a.String() + "]" // brackets: record keys stay unambiguous
	}
	return n.Name + "@" + a.String()
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
	// tls is the same NAS on RadSec: its secret is the RadSec secret
	// (radsec.go); nil on the RadSec entry itself.
	tls *nasEntry
	// lastSrc keeps the strings of the source address of the last
	// accounting packet (a NAS sends from one address): formatted once, not
	// per packet.
	lastSrc atomic.Pointer[srcStrings]
}

// srcStrings are what accounting writes of a source address: the NAS
// identity (acctNAS) and the address as NASAttrs.SourceIP.
type srcStrings struct {
	addr    netip.Addr
	acctNAS string
	ip      string
}

// srcStrings returns src's strings, from lastSrc when src is the same.
func (n *nasEntry) srcStrings(src netip.Addr) *srcStrings {
	if p := n.lastSrc.Load(); p != nil && p.addr == src {
		return p
	}
	p := &srcStrings{addr: src, acctNAS: n.acctNAS(src), ip: src.Unmap().String()}
	n.lastSrc.Store(p)
	return p
}

// newNASTable builds the table of a validated NAS list (Config.Validate
// finds names and addresses used twice).
func newNASTable(list []NAS) *nasTable {
	t := &nasTable{}
	for _, n := range list {
		n.Prefix = n.Prefix.Masked()
		e := &nasEntry{NAS: n}
		rs := n
		rs.Secret, rs.CoASecret = n.RadSec.Secret, n.RadSec.Secret
		if len(rs.Secret) == 0 {
			rs.Secret = []byte(DefaultRadSecSecret)
			rs.CoASecret = rs.Secret
		}
		e.tls = &nasEntry{NAS: rs}
		t.byPrefix = append(t.byPrefix, e)
	}
	sort.SliceStable(t.byPrefix, func(i, j int) bool { return t.byPrefix[i].Prefix.Bits() > t.byPrefix[j].Prefix.Bits() })
	return t
}

// byName returns the NAS with that name, nil if unknown. An accounting
// identity "name@address" names its entry.
func (t *nasTable) byName(name string) *nasEntry {
	name, _, _ = strings.Cut(name, "@")
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
