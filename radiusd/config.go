package radiusd

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"time"

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
	for i := range c.NAS {
		n := &c.NAS[i]
		path := fmt.Sprintf("nas[%d]", i)
		n.check(k, path)
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
	case !n.Prefix.IsValid():
		k.add(key("address"), "empty: want an IP address or CIDR prefix (e.g. 192.168.88.1, 10.0.0.0/24, 2001:db8::1, 2001:db8::/64)")
	case !validNASPrefix(n.Prefix):
		k.add(key("address"), "%s: an IPv4-mapped IPv6 prefix never matches: write the IPv4 prefix", n.Prefix)
	}
	if len(n.Secret) == 0 {
		k.add(key("secret"), "empty")
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
