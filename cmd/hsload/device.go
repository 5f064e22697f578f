package main

import (
	"math"
)

// counters are an accounting session's cumulative values, as a NAS reports
// them: Acct-Session-Time and the 64-bit octet counts.
type counters struct{ secs, in, out uint64 }

func (c counters) add(d counters) counters {
	return counters{c.secs + d.secs, c.in + d.in, c.out + d.out}
}

// totals sum what the server acknowledged: per accounting session, the
// counters of its last answered packet. A server that stores before it
// answers holds at least these totals; with no timeouts, exactly these.
type totals struct {
	// Sessions counts accounting sessions with at least one answered packet.
	Sessions     uint64 `json:"sessions"`
	TimeSecs     uint64 `json:"time_secs"`
	InputOctets  uint64 `json:"input_octets"`
	OutputOctets uint64 `json:"output_octets"`
}

func (t *totals) addSession(c counters) {
	t.Sessions++
	t.TimeSecs += c.secs
	t.InputOctets += c.in
	t.OutputOctets += c.out
}

// device is one simulated Wi-Fi client and the state of its NAS session.
// Only the slot that owns it touches it, under its socket's lock.
type device struct {
	k         uint32
	mac       [17]byte // 02:00:00:kk:kk:kk: User-Name and password
	callingID [17]byte // 02-00-00-KK-KK-KK (RFC 3580)
	framedIP  [4]byte
	down, up  uint64 // simulated rates, bytes per second

	cycle uint32   // accounting sessions begun: part of Acct-Session-Id
	step  uint32   // position in the cycle (see workload.kind)
	sent  counters // what the last request of the accounting session said
	acked counters // what its last answered request said
	open  bool     // the accounting session has an answered request
	done  totals   // accounting sessions already ended
}

const hexLower, hexUpper = "0123456789abcdef", "0123456789ABCDEF"

// newDevice returns device k: its MAC is 02:00:00 (locally administered)
// followed by the three low bytes of k.
func newDevice(k uint32, seed uint64) device {
	d := device{k: k, framedIP: [4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)}}
	octets := [6]byte{0x02, 0, 0, byte(k >> 16), byte(k >> 8), byte(k)}
	for i, o := range octets {
		if i > 0 {
			d.mac[3*i-1], d.callingID[3*i-1] = ':', '-'
		}
		d.mac[3*i], d.mac[3*i+1] = hexLower[o>>4], hexLower[o&15]
		d.callingID[3*i], d.callingID[3*i+1] = hexUpper[o>>4], hexUpper[o&15]
	}
	// Download rates spread log-uniformly from 1 kB/s to 4 MB/s, uploads a
	// half to an eighth of that: long cycles of fast devices pass 2^32
	// octets and need Gigawords.
	h := mix64(seed ^ uint64(k)<<20 ^ 0x5eed)
	u := float64(h>>11) / (1 << 53)
	d.down = uint64(1000 * math.Exp2(12*u))
	d.up = d.down / (2 + mix64(h)%7)
	return d
}

// mix64 is the SplitMix64 finalizer: a cheap, well-mixed hash.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// mode is what the generator sends.
type mode uint8

const (
	modeAuth    mode = iota + 1 // Access-Request
	modeStatus                  // Status-Server to the auth port
	modeStart                   // Accounting Start, a new accounting session each
	modeInterim                 // Interim-Updates with growing counters
	modeStop                    // Accounting Stop of a whole session each
	modeMix                     // per device: auth, Start, K interims, Stop
)

var modeNames = map[string]mode{
	"auth": modeAuth, "status": modeStatus, "start": modeStart,
	"interim": modeInterim, "stop": modeStop, "mix": modeMix,
}

func (m mode) String() string {
	for name, v := range modeNames {
		if v == m {
			return name
		}
	}
	return "unknown"
}

// kind is the request a device sends next.
type kind uint8

const (
	kindAuth kind = iota + 1
	kindStatus
	kindStart
	kindInterim
	kindStop
)

// workload is the simulated population and its rules. Its methods touch
// one device at a time, under the lock of the socket that owns it.
type workload struct {
	mode     mode
	interims uint32 // K: Interim-Updates per cycle (mix, stop)
	interval uint64 // simulated Acct-Interim-Interval, seconds
	seed     uint64
	runID    uint32 // in every Acct-Session-Id, so reruns do not collide
	devices  []device
}

func newWorkload(m mode, n int, interims uint32, interval uint64, seed uint64, runID uint32) *workload {
	w := &workload{mode: m, interims: interims, interval: interval, seed: seed, runID: runID, devices: make([]device, n)}
	for k := range w.devices {
		d := &w.devices[k]
		*d = newDevice(uint32(k), seed)
		switch m {
		case modeInterim:
			d.step = 1
		case modeMix:
			// Spread the population over the cycle so that the mix is
			// 1:1:K:1 from the first second; a device starting past its
			// Start carries the counters of the steps it skipped.
			d.step = uint32(k) % (interims + 3)
			for s := uint32(2); s < d.step; s++ {
				d.sent = d.sent.add(w.increment(d, s))
			}
		}
	}
	return w
}

// kind says what device d sends next. A mix cycle is: step 0 Access-Request,
// 1 Start, 2…K+1 Interim-Update, K+2 Stop.
func (w *workload) kind(d *device) kind {
	switch w.mode {
	case modeAuth:
		return kindAuth
	case modeStatus:
		return kindStatus
	case modeStart:
		return kindStart
	case modeInterim:
		return kindInterim
	case modeStop:
		return kindStop
	}
	switch {
	case d.step == 0:
		return kindAuth
	case d.step == 1:
		return kindStart
	case d.step <= w.interims+1:
		return kindInterim
	}
	return kindStop
}

// increment is what device d consumes in one interval at a step of its
// current cycle: the interval, and its rates × the interval × a factor in
// [0.5, 1.5) drawn from the seed. Deterministic: a rerun with the same seed
// sends the same counters.
func (w *workload) increment(d *device, step uint32) counters {
	h := mix64(mix64(mix64(w.seed^uint64(d.k))^uint64(d.cycle)) ^ uint64(step))
	jitter := func(base uint64, r uint64) uint64 { return base/2 + base*(r&0xffff)>>16 }
	return counters{
		secs: w.interval,
		in:   jitter(d.up*w.interval, h),
		out:  jitter(d.down*w.interval, h>>16),
	}
}

// counters returns what the next request of device d, of kind k, reports.
func (w *workload) counters(d *device, k kind) counters {
	switch k {
	case kindInterim:
		return d.sent.add(w.increment(d, d.step))
	case kindStop:
		if w.mode == modeStop {
			// A whole session in one Stop: Start, K interims, Stop.
			var c counters
			for s := uint32(2); s <= w.interims+2; s++ {
				c = c.add(w.increment(d, s))
			}
			return c
		}
		return d.sent.add(w.increment(d, d.step))
	}
	return counters{}
}

// sessionID writes device d's Acct-Session-Id for its current cycle into b:
// run, device and cycle in upper-case hex, unique per device and cycle.
func (w *workload) sessionID(b *[24]byte, d *device) []byte {
	put := func(off int, v uint32, digits int) {
		for i := digits - 1; i >= 0; i-- {
			b[off+i] = hexUpper[v&15]
			v >>= 4
		}
	}
	put(0, w.runID, 8)
	b[8] = '-'
	put(9, d.k, 6)
	b[15] = '-'
	put(16, d.cycle, 8)
	return b[:]
}

// settle moves device d on after its request of kind k reporting c ended:
// answered with code, or unanswered (code 0) after every retry. A NAS moves
// on either way; only answered requests count in the totals.
func (w *workload) settle(d *device, k kind, c counters, code byte) {
	switch k {
	case kindAuth:
		if w.mode == modeMix {
			if code == codeAccessAccept {
				d.step = 1
			} else {
				w.endSession(d) // rejected or unanswered: no accounting
			}
		}
		return
	case kindStatus:
		return
	}
	d.sent = c
	if code == codeAcctResponse {
		d.acked, d.open = c, true
	}
	switch {
	case k == kindStop, w.mode == modeStart:
		w.endSession(d)
	default:
		d.step++
	}
}

// endSession closes device d's accounting session into its totals and
// begins the next cycle.
func (w *workload) endSession(d *device) {
	if d.open {
		d.done.addSession(d.acked)
	}
	d.cycle++
	d.step = 0
	d.sent, d.acked, d.open = counters{}, counters{}, false
}

// totals sums every device's ended and current accounting sessions.
func (w *workload) totals() totals {
	var t totals
	for i := range w.devices {
		d := &w.devices[i]
		t.Sessions += d.done.Sessions
		t.TimeSecs += d.done.TimeSecs
		t.InputOctets += d.done.InputOctets
		t.OutputOctets += d.done.OutputOctets
		if d.open {
			t.addSession(d.acked)
		}
	}
	return t
}
