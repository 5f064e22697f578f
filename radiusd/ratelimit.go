package radiusd

import (
	"sync"
	"time"
)

// VoucherLimits bound the failed voucher logins of one NAS entry and of one
// device (README.md, "Vouchers"): token buckets that refill PerNAS and
// PerDevice tokens a minute and hold as many; each failure takes one, and a
// voucher login with no token left in either bucket is refused without a
// store lookup. Successful logins take none.
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

// allow reports whether the NAS and the device each have a token left.
func (v *voucherLimiter) allow(nas, mac string, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if b, ok := v.nas[nas]; ok && b.level(now, v.lim.PerNAS) < 1 {
		return false
	}
	if b, ok := v.devices[mac]; ok && b.level(now, v.lim.PerDevice) < 1 {
		return false
	}
	return true
}

// fail takes a token from the NAS's and the device's buckets.
func (v *voucherLimiter) fail(nas, mac string, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	take := func(m map[string]bucket, key string, rate int) {
		b, ok := m[key]
		level := float64(rate)
		if ok {
			level = b.level(now, rate)
		}
		m[key] = bucket{tokens: max(level-1, 0), at: now}
	}
	take(v.nas, nas, v.lim.PerNAS)
	if _, known := v.devices[mac]; !known && len(v.devices) >= v.lim.MaxDevices {
		v.evict(now)
	}
	take(v.devices, mac, v.lim.PerDevice)
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
