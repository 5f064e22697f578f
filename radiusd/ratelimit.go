package radiusd

import (
	"sync"
	"time"
)

// VoucherLimits bound the failed voucher logins of one NAS entry and of one
// device (README.md, "Vouchers"): token buckets that refill PerNAS and
// PerDevice tokens a minute and hold as many; each voucher login takes one
// before its lookup and gives it back unless it fails, and a voucher login
// with no token left in either bucket is refused without a store lookup.
// Successful logins cost none.
type VoucherLimits struct {
	PerDevice int // failures a minute per device MAC (default 5)
	PerNAS    int // failures a minute per NAS entry (default 30)
	// MaxDevices bounds the devices remembered (default 65536); past it,
	// devices whose bucket is full are forgotten first.
	MaxDevices int
}

// Defaults of VoucherLimits.
const (
	DefaultVoucherFailuresPerDevice = 5
	DefaultVoucherFailuresPerNAS    = 30
	DefaultVoucherLimitDevices      = 1 << 16
	maxVoucherFailures              = 1 << 20
	maxVoucherLimitDevices          = 1 << 24
)

// SetDefaults fills the zero fields.
func (l *VoucherLimits) SetDefaults() {
	if l.PerDevice == 0 {
		l.PerDevice = DefaultVoucherFailuresPerDevice
	}
	if l.PerNAS == 0 {
		l.PerNAS = DefaultVoucherFailuresPerNAS
	}
	if l.MaxDevices == 0 {
		l.MaxDevices = DefaultVoucherLimitDevices
	}
}

func (l *VoucherLimits) check(k *checker, path string) {
	if l.PerDevice < 1 || l.PerDevice > maxVoucherFailures {
		k.add(under(path, "voucher_failures_per_device"), "%d: want 1 to %d failed voucher logins a minute per device (default %d)", l.PerDevice, maxVoucherFailures, DefaultVoucherFailuresPerDevice)
	}
	if l.PerNAS < 1 || l.PerNAS > maxVoucherFailures {
		k.add(under(path, "voucher_failures_per_nas"), "%d: want 1 to %d failed voucher logins a minute per NAS (default %d)", l.PerNAS, maxVoucherFailures, DefaultVoucherFailuresPerNAS)
	}
	if l.MaxDevices < 1 || l.MaxDevices > maxVoucherLimitDevices {
		k.add(under(path, "voucher_limit_devices"), "%d: want 1 to %d (default %d)", l.MaxDevices, maxVoucherLimitDevices, DefaultVoucherLimitDevices)
	}
}

// bucket is a token bucket: tokens at the time at.
type bucket struct {
	tokens float64
	at     time.Time
}

// level returns the tokens at now, refilled at rate a minute up to rate.
func (b bucket) level(now time.Time, rate int) float64 {
	elapsed := max(now.Sub(b.at), 0) // a clock stepped back refills nothing
	return min(b.tokens+elapsed.Minutes()*float64(rate), float64(rate))
}

// voucherLimiter holds the buckets of NAS entries and devices.
type voucherLimiter struct {
	lim     VoucherLimits
	mu      sync.Mutex
	nas     map[string]bucket
	devices map[string]bucket
}

func newVoucherLimiter(l VoucherLimits) *voucherLimiter {
	return &voucherLimiter{lim: l, nas: map[string]bucket{}, devices: map[string]bucket{}}
}

// take reserves a failure: it takes a token from the NAS's and the
// device's buckets when both have one, and reports whether they had. The
// check and the count are one step, so concurrent logins cannot all pass
// the check before the first failure is counted; a login that does not
// fail gives its tokens back (refund).
func (v *voucherLimiter) take(nas, mac string, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	level := func(m map[string]bucket, key string, rate int) float64 {
		if b, ok := m[key]; ok {
			return b.level(now, rate)
		}
		return float64(rate)
	}
	ln, ld := level(v.nas, nas, v.lim.PerNAS), level(v.devices, mac, v.lim.PerDevice)
	if ln < 1 || ld < 1 {
		return false
	}
	v.nas[nas] = bucket{tokens: ln - 1, at: now}
	if _, known := v.devices[mac]; !known && len(v.devices) >= v.lim.MaxDevices {
		v.evict(now)
	}
	v.devices[mac] = bucket{tokens: ld - 1, at: now}
	return true
}

// refund gives back the tokens take took for a login that did not fail.
func (v *voucherLimiter) refund(nas, mac string, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	give := func(m map[string]bucket, key string, rate int) {
		if b, ok := m[key]; ok {
			at := now
			if b.at.After(now) { // another take since, on a clock stepped back
				at = b.at
			}
			m[key] = bucket{tokens: min(b.level(now, rate)+1, float64(rate)), at: at}
		}
	}
	give(v.nas, nas, v.lim.PerNAS)
	give(v.devices, mac, v.lim.PerDevice)
}

// evict forgets the devices whose bucket has refilled (they carry no
// information), and if none has, arbitrary ones, down to 7/8 of the bound:
// memory stays bounded, and the NAS bucket still limits a flood of MACs.
func (v *voucherLimiter) evict(now time.Time) {
	for k, b := range v.devices {
		if b.level(now, v.lim.PerDevice) >= float64(v.lim.PerDevice) {
			delete(v.devices, k)
		}
	}
	target := v.lim.MaxDevices - v.lim.MaxDevices/8 - 1
	for k := range v.devices {
		if len(v.devices) <= target {
			break
		}
		delete(v.devices, k)
	}
}

// size returns the number of devices remembered (tests).
func (v *voucherLimiter) size() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.devices)
}
