package radiusd

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hotspot-radius/hsradius/radiusd/radsec"

	"github.com/hotspot-radius/hsradius/session"
)

// ConfigError is one problem of a configuration: Key names the setting at
// fault, like the configuration file's keys and relative to the struct
// whose Validate found it (acct_interim_interval, nas[1].name,
// enforcement.workers); Problem says what is wrong and how to fix it. A
// Problem never repeats a secret.
type ConfigError struct {
	Key     string
	Problem string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Problem }

// checker collects ConfigErrors.
type checker struct{ errs []error }

func (c *checker) add(key, format string, args ...any) {
	c.errs = append(c.errs, &ConfigError{Key: key, Problem: fmt.Sprintf(format, args...)})
}

func (c *checker) err() error { return errors.Join(c.errs...) }

// under joins a key to the path of the struct it belongs to.
func under(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Limits of the settings.
const (
	minInterim         = 60 * time.Second // RFC 2869 §5.16
	minCacheTTL        = 5 * time.Second  // RFC 5080 §2.2.2
	maxCacheTTL        = 30 * time.Second
	maxNASName         = 64
	minRetransmit      = 5 * time.Second
	maxRetransmit      = time.Hour
	maxDynAuthTries    = 10
	maxEnforceWorkers  = 1024
	maxEnforceQueue    = 1 << 20
	resetRetransmitMax = 30 * time.Second // stop_start_reset: under half a segment
)

// Enforcement defaults, applied by SetDefaults.
const (
	DefaultCoAPort        = 3799 // RFC 5176; NAS.CoAPort 0 disables Disconnect/CoA
	DefaultDynAuthTimeout = 2 * time.Second
	DefaultDynAuthTries   = 3
	DefaultEnforceWorkers = 16
	DefaultEnforceQueue   = 4096
	DefaultScheduleEvery  = time.Second
	DefaultReapEvery      = time.Minute
	// resetRetransmitWindow is the retransmit window of a NAS whose
	// accounting is stop_start_reset: under half its one-minute segments.
	resetRetransmitWindow = 20 * time.Second
)

// SetDefaults fills the zero fields that have a default (the Default*
// constants), in the NAS entries and Enforce too. Enforce.ReapAfter 0
// becomes 3 interim intervals and a minute. New calls it; Validate checks
// the values as they are, so call SetDefaults first.
func (c *Config) SetDefaults() {
	if c.AcctInterimInterval == 0 {
		c.AcctInterimInterval = DefaultAcctInterimInterval
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.CacheMax <= 0 {
		c.CacheMax = DefaultCacheMax
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.IOBatch <= 0 {
		c.IOBatch = DefaultIOBatch
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = DefaultStoreTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.VoucherLimits.SetDefaults()
	for i := range c.NAS {
		c.NAS[i].SetDefaults()
	}
	if c.RadSec != nil {
		c.RadSec.SetDefaults()
	}
	if c.Enforce != nil {
		c.Enforce.SetDefaults()
		if c.Enforce.ReapAfter == 0 {
			// Room for two missed interims and the Stop's way back.
			c.Enforce.ReapAfter = 3*c.AcctInterimInterval + time.Minute
		}
	}
}

// Validate reports every problem of c at once, each a *ConfigError (joined
// with errors.Join); nil when there is none. It checks the values as they
// are: zero fields that have a default are problems until SetDefaults
// fills them. It does not check Store, which New requires.
func (c *Config) Validate() error {
	var k checker
	interimOK := false
	switch {
	case c.AcctInterimInterval%time.Second != 0:
		k.add("acct_interim_interval", "%v: want whole seconds (RADIUS sends seconds)", c.AcctInterimInterval)
	case c.AcctInterimInterval < minInterim:
		k.add("acct_interim_interval", "%v: must be at least 60s (RFC 2869 §5.16)", c.AcctInterimInterval)
	default:
		interimOK = true
	}
	switch {
	case c.IdleTimeout < 0:
		k.add("idle_timeout", "%v: must not be negative (0 sends none)", c.IdleTimeout)
	case c.IdleTimeout%time.Second != 0:
		k.add("idle_timeout", "%v: want whole seconds (RADIUS sends seconds)", c.IdleTimeout)
	}
	if c.CacheTTL < minCacheTTL || c.CacheTTL > maxCacheTTL {
		k.add("response_cache_ttl", "%v: want 5s to 30s (RFC 5080 §2.2.2)", c.CacheTTL)
	}
	if c.CacheMax < 1 {
		k.add("cache_max", "%d: want at least 1", c.CacheMax)
	}
	if c.MaxInFlight < 1 {
		k.add("max_in_flight", "%d: want at least 1", c.MaxInFlight)
	}
	if c.IOBatch < 1 || c.IOBatch > maxIOBatch {
		k.add("io_batch", "%d: want 1 to %d (1: one datagram per system call)", c.IOBatch, maxIOBatch)
	}
	if c.StoreTimeout <= 0 {
		k.add("store_timeout", "%v: must be above zero", c.StoreTimeout)
	}
	c.checkNAS(&k)
	c.VoucherLimits.check(&k, "")
	if c.RadSec != nil {
		c.RadSec.check(&k, "radsec")
	}
	if e := c.Enforce; e != nil {
		e.check(&k, "enforcement")
		// A record reaped while its NAS session lives loses what the next
		// interim reports (an interim after a close adds nothing): leave
		// room for at least two missed interims.
		if e.ReapAfter > 0 && interimOK && e.ReapAfter < 2*c.AcctInterimInterval {
			k.add("enforcement.reap_after", "%v: must be at least twice acct_interim_interval (%v), or live sessions are closed and their consumption lost; 0 means 3 intervals + 1m", e.ReapAfter, c.AcctInterimInterval)
		}
	}
	return k.err()
}

// checkNAS checks every entry and that no two share a name or an address.
func (c *Config) checkNAS(k *checker) {
	if len(c.NAS) == 0 {
		k.add("nas", "empty: configure at least one NAS (name, address, secret)")
		return
	}
	names := map[string]int{}
	prefixes := map[netip.Prefix]int{}
	certNames := map[string]int{}
	prints := map[[32]byte]int{}
	for i := range c.NAS {
		n := &c.NAS[i]
		path := fmt.Sprintf("nas[%d]", i)
		n.check(k, path)
		if n.CertIdentified() && c.RadSec == nil {
			k.add(path+".radsec", "a certificate identity, but RadSec is not enabled: enable radsec (listen, cert, key, client_ca) or remove it")
		}
		for j, cn := range n.RadSec.Names {
			cn = strings.ToLower(cn)
			if o, ok := certNames[cn]; ok && o != i {
				k.add(fmt.Sprintf("%s.radsec.names[%d]", path, j), "%q: already a certificate name of nas[%d] (%s): a certificate must name one NAS", cn, o, c.NAS[o].Name)
			}
			certNames[cn] = i
		}
		for j, fp := range n.RadSec.Fingerprints {
			if o, ok := prints[fp]; ok && o != i {
				k.add(fmt.Sprintf("%s.radsec.fingerprints[%d]", path, j), "already a fingerprint of nas[%d] (%s): a certificate must name one NAS", o, c.NAS[o].Name)
			}
			prints[fp] = i
		}
		if validNASName(n.Name) {
			if j, ok := names[n.Name]; ok {
				k.add(path+".name", "%q: already used by nas[%d]", n.Name, j)
			} else {
				names[n.Name] = i
			}
		}
		if validNASPrefix(n.Prefix) {
			p := n.Prefix.Masked()
			if j, ok := prefixes[p]; ok {
				k.add(path+".address", "%s: already the address of nas[%d] (%s)", p, j, c.NAS[j].Name)
			} else {
				prefixes[p] = i
			}
		}
	}
}

// SetDefaults fills the NAS's zero fields that have a default: CoASecret
// is Secret, Acct.RetransmitWindow DefaultRetransmitWindow (30 s for
// stop_start_reset accounting). CoAPort has none: 0 disables
// Disconnect/CoA (a configuration file's default is DefaultCoAPort).
func (n *NAS) SetDefaults() {
	if len(n.CoASecret) == 0 {
		n.CoASecret = n.Secret
	}
	if len(n.RadSec.Secret) == 0 {
		n.RadSec.Secret = []byte(DefaultRadSecSecret)
	}
	if n.Acct.RetransmitWindow <= 0 {
		n.Acct.RetransmitWindow = DefaultRetransmitWindow
		if n.Acct.Updates == session.AcctUpdatesStopStartReset {
			n.Acct.RetransmitWindow = resetRetransmitWindow
		}
	}
}

// Validate reports every problem of the entry at once, as Config.Validate
// does; two entries that clash are Config.Validate's to find.
func (n *NAS) Validate() error {
	var k checker
	n.check(&k, "")
	return k.err()
}

var nasNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// validNASName: the name is a key in Redis and in logs, and an accounting
// identity is "name@address", so no '@' and no spaces.
func validNASName(s string) bool { return len(s) <= maxNASName && nasNameRE.MatchString(s) }

// validNASPrefix: an IPv4-mapped IPv6 prefix never matches, since source
// addresses are unmapped before the lookup.
func validNASPrefix(p netip.Prefix) bool { return p.IsValid() && !p.Addr().Is4In6() }

func (n *NAS) check(k *checker, path string) {
	key := func(s string) string { return under(path, s) }
	switch {
	case n.Name == "":
		k.add(key("name"), "empty: want a name of letters, digits, '.', '_' or '-'")
	case !validNASName(n.Name):
		k.add(key("name"), "%q: want at most %d letters, digits, '.', '_' or '-'", n.Name, maxNASName)
	}
	switch {
	case !n.Prefix.IsValid() && n.CertIdentified():
		// Recognised by its certificate on RadSec only (README.md, "RadSec").
	case !n.Prefix.IsValid():
		k.add(key("address"), "empty: want an IP address or CIDR prefix (e.g. 192.168.88.1, 10.0.0.0/24, 2001:db8::1, 2001:db8::/64), or a certificate identity (radsec.names or radsec.fingerprints) for a NAS on RadSec")
	case n.CertIdentified() && !n.Prefix.IsSingleIP():
		k.add(key("address"), "%s: a NAS identified by its certificate is one NAS: give one address (for UDP and Disconnect/CoA over UDP) or none", n.Prefix)
	case !validNASPrefix(n.Prefix):
		k.add(key("address"), "%s: an IPv4-mapped IPv6 prefix never matches: write the IPv4 prefix", n.Prefix)
	}
	// A NAS known only by its certificate speaks RadSec only, whose secret
	// is RadSec.Secret.
	if len(n.Secret) == 0 && (n.Prefix.IsValid() || !n.CertIdentified()) {
		k.add(key("secret"), "empty")
	}
	for j, cn := range n.RadSec.Names {
		if strings.TrimSpace(cn) == "" || cn != strings.TrimSpace(cn) {
			k.add(fmt.Sprintf("%s[%d]", key("radsec.names"), j), "%q: want the certificate's DNS name or Common Name, without spaces around it", cn)
		}
		if slices.Contains(n.RadSec.Names[:j], cn) {
			k.add(fmt.Sprintf("%s[%d]", key("radsec.names"), j), "%q: listed twice", cn)
		}
	}
	for j, p := range n.Profiles {
		switch {
		case !slices.Contains(Profiles, p):
			k.add(fmt.Sprintf("%s[%d]", key("profiles"), j), "%v", unknownProfile(string(p)))
		case slices.Contains(n.Profiles[:j], p):
			k.add(fmt.Sprintf("%s[%d]", key("profiles"), j), "%s: listed twice", p)
		}
	}
	if n.CoAPort < 0 || n.CoAPort > 65535 {
		k.add(key("coa_port"), "%d: want a port from 1 to 65535, or 0 to send this NAS no Disconnect/CoA (default %d; older MikroTik: 1700)", n.CoAPort, DefaultCoAPort)
	}
	if n.OnSpill > SpillDisconnect {
		k.add(key("on_spill"), "unknown action %d: want coa or disconnect", n.OnSpill)
	}
	if n.MAPolicy > MAOptional {
		k.add(key("require_message_authenticator"), "unknown policy %d: want yes, auto or no", n.MAPolicy)
	}
	switch {
	case n.Password > PasswordFixed:
		k.add(key("password"), "unknown mode %d: want any, mac or fixed", n.Password)
	case n.Password == PasswordFixed && n.FixedPassword == "":
		k.add(key("fixed_password"), "empty, but password is fixed")
	}
	if n.Login > LoginMACOrVoucher {
		k.add(key("login"), "unknown style %d: want mac, mac_username, any_name, voucher or mac_or_voucher", n.Login)
	}
	switch {
	case n.VoucherPassword > VoucherPasswordAny:
		k.add(key("voucher_password"), "unknown mode %d: want code or any", n.VoucherPassword)
	case n.VoucherPassword != VoucherPasswordUnset && !n.Login.TakesVouchers():
		k.add(key("voucher_password"), "%s: applies only to voucher logins; set login: voucher or mac_or_voucher, or remove voucher_password", n.VoucherPassword)
	}
	if n.Login == LoginVoucher && n.Password != PasswordAny {
		k.add(key("password"), "%s: with login: voucher every login is a voucher code, checked by voucher_password; use login: mac_or_voucher for MAC logins too, or remove password", n.Password)
	}
	n.checkAcct(k, path)
}

// checkAcct checks how the NAS's accounting is read.
func (n *NAS) checkAcct(k *checker, path string) {
	a := n.Acct
	if a.Updates > session.AcctUpdatesStopStartReset {
		k.add(under(path, "accounting_updates"), "unknown value %d: want interim, stop_start or stop_start_reset", a.Updates)
	}
	switch w := a.RetransmitWindow; {
	case w < minRetransmit || w > maxRetransmit:
		k.add(under(path, "retransmit_window"), "%v: want 5s to 1h (how long the NAS may resend one accounting packet; default %v)", w, DefaultRetransmitWindow)
	case a.Updates == session.AcctUpdatesStopStartReset && w >= resetRetransmitMax:
		k.add(under(path, "retransmit_window"), "%v: accounting_updates: stop_start_reset tells its one-minute segments apart by time alone, so the window must be under %v, half of one (e.g. %v)", w, resetRetransmitMax, resetRetransmitWindow)
	}
}

// SetDefaults fills the zero (or negative) fields that have a default. It
// leaves ReapAfter, whose default depends on the interim interval, to
// Config.SetDefaults.
func (c *EnforceConfig) SetDefaults() {
	if c.DynAuthTimeout <= 0 {
		c.DynAuthTimeout = DefaultDynAuthTimeout
	}
	if c.DynAuthTries <= 0 {
		c.DynAuthTries = DefaultDynAuthTries
	}
	if c.Workers <= 0 {
		c.Workers = DefaultEnforceWorkers
	}
	if c.Queue <= 0 {
		c.Queue = DefaultEnforceQueue
	}
	if c.ScheduleEvery <= 0 {
		c.ScheduleEvery = DefaultScheduleEvery
	}
	if c.ReapEvery <= 0 {
		c.ReapEvery = DefaultReapEvery
	}
}

// Validate reports every problem of c at once, as Config.Validate does;
// ReapAfter against the interim interval is Config.Validate's to check.
func (c *EnforceConfig) Validate() error {
	var k checker
	c.check(&k, "")
	return k.err()
}

func (c *EnforceConfig) check(k *checker, path string) {
	key := func(s string) string { return under(path, s) }
	if c.DynAuthTimeout <= 0 {
		k.add(key("dynauth_timeout"), "%v: must be above zero", c.DynAuthTimeout)
	}
	if c.DynAuthTries < 1 || c.DynAuthTries > maxDynAuthTries {
		k.add(key("dynauth_tries"), "%d: want 1 to %d (default %d)", c.DynAuthTries, maxDynAuthTries, DefaultDynAuthTries)
	}
	// Upper bounds too: the server allocates the queue and starts the
	// workers at start-up, so a huge value would crash or exhaust it there.
	switch {
	case c.Workers < 1:
		k.add(key("workers"), "%d: want at least 1 (default %d)", c.Workers, DefaultEnforceWorkers)
	case c.Workers > maxEnforceWorkers:
		k.add(key("workers"), "%d: want at most %d (default %d)", c.Workers, maxEnforceWorkers, DefaultEnforceWorkers)
	}
	switch {
	case c.Queue < 1:
		k.add(key("queue"), "%d: want at least 1 (default %d)", c.Queue, DefaultEnforceQueue)
	case c.Queue > maxEnforceQueue:
		k.add(key("queue"), "%d: want at most %d (default %d)", c.Queue, maxEnforceQueue, DefaultEnforceQueue)
	}
	if c.ScheduleEvery <= 0 {
		k.add(key("schedule_every"), "%v: must be above zero", c.ScheduleEvery)
	}
	if c.ReapAfter < 0 {
		k.add(key("reap_after"), "%v: must not be negative (0 means 3 interim intervals + 1m)", c.ReapAfter)
	}
	if c.ReapEvery <= 0 {
		k.add(key("reap_every"), "%v: must be above zero", c.ReapEvery)
	}
}

// RadSecConfig is the RadSec listener's (RFC 6614, RADIUS over TLS; README.md,
// "RadSec"). The address to listen on is the caller's (ServeRadSec takes a
// net.Listener).
type RadSecConfig struct {
	// Files are the server's certificate and key and the CA bundle that
	// signs the NASes' client certificates (PEM). They are read again on
	// ReloadRadSec (SIGHUP) and when one of them changes.
	Files radsec.Files
	// HandshakeTimeout bounds the TLS handshake, and the rest of a packet
	// once its header came.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection that sent nothing for so long.
	IdleTimeout time.Duration
	// WriteTimeout closes a connection whose NAS does not take a reply
	// within it (it stopped reading).
	WriteTimeout time.Duration
	// MaxConns bounds connections in total (handshakes included);
	// MaxConnsPerNAS those of one NAS identity.
	MaxConns, MaxConnsPerNAS int
}

// RadSec defaults, applied by RadSecConfig.SetDefaults.
const (
	DefaultRadSecHandshakeTimeout = 10 * time.Second
	DefaultRadSecIdleTimeout      = 10 * time.Minute
	DefaultRadSecWriteTimeout     = 10 * time.Second
	DefaultRadSecMaxConns         = 1024
	DefaultRadSecMaxConnsPerNAS   = 4
	maxRadSecConns                = 1 << 16
)

// SetDefaults fills the zero fields that have a default.
func (c *RadSecConfig) SetDefaults() {
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultRadSecHandshakeTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultRadSecIdleTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultRadSecWriteTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultRadSecMaxConns
	}
	if c.MaxConnsPerNAS == 0 {
		c.MaxConnsPerNAS = DefaultRadSecMaxConnsPerNAS
	}
}

func (c *RadSecConfig) check(k *checker, path string) {
	key := func(s string) string { return under(path, s) }
	for _, f := range []struct{ key, v, what string }{
		{"cert", c.Files.Cert, "the server's certificate chain (PEM)"},
		{"key", c.Files.Key, "the server's private key (PEM)"},
		{"client_ca", c.Files.ClientCA, "the CA certificate(s) that sign the NASes' client certificates (PEM)"},
	} {
		if f.v == "" {
			k.add(key(f.key), "empty: want the file of %s", f.what)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"handshake_timeout", c.HandshakeTimeout}, {"idle_timeout", c.IdleTimeout}, {"write_timeout", c.WriteTimeout}} {
		if d.v <= 0 {
			k.add(key(d.key), "%v: must be above zero", d.v)
		}
	}
	if c.MaxConns < 1 || c.MaxConns > maxRadSecConns {
		k.add(key("max_conns"), "%d: want 1 to %d (default %d)", c.MaxConns, maxRadSecConns, DefaultRadSecMaxConns)
	}
	switch {
	case c.MaxConnsPerNAS < 1:
		k.add(key("max_conns_per_nas"), "%d: want at least 1 (default %d)", c.MaxConnsPerNAS, DefaultRadSecMaxConnsPerNAS)
	case c.MaxConnsPerNAS > c.MaxConns && c.MaxConns >= 1:
		k.add(key("max_conns_per_nas"), "%d: above max_conns (%d)", c.MaxConnsPerNAS, c.MaxConns)
	}
}
