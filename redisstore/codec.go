package redisstore

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// Session hash fields. Integers are decimal; times are Unix seconds; an
// absent started_at means not started, an absent exp_days means no expiry.
const (
	fMAC            = "mac"
	fProvider       = "provider"
	fType           = "type" // time | data | time_or_data
	fTimeSecs       = "time_secs"
	fDataBytes      = "data_bytes"
	fTimeCons       = "time_cons"
	fDataConsBytes  = "data_cons_bytes"
	fStartedAt      = "started_at"
	fCreatedAt      = "created_at"
	fExpDays        = "exp_days"
	fDownMbits      = "down_mbits"
	fUpMbits        = "up_mbits"
	fUseGlobalSpeed = "use_global_speed" // 0 | 1
	fVoucher        = "voucher"          // code that created it; absent for others
)

// fieldNames maps each settable session.Field to its hash field.
var fieldNames = []struct {
	f    session.Field
	name string
}{
	{session.FieldTimeSecs, fTimeSecs},
	{session.FieldDataBytes, fDataBytes},
	{session.FieldTimeCons, fTimeCons},
	{session.FieldDataConsBytes, fDataConsBytes},
	{session.FieldStartedAt, fStartedAt},
	{session.FieldExpDays, fExpDays},
	{session.FieldDownMbits, fDownMbits},
	{session.FieldUpMbits, fUpMbits},
	{session.FieldUseGlobalSpeed, fUseGlobalSpeed},
	{session.FieldProvider, fProvider},
}

var settable = func() session.Field {
	var all session.Field
	for _, f := range fieldNames {
		all |= f.f
	}
	return all
}()

// encode returns every field of d; "" marks a field to leave absent.
func encode(d session.Data) map[string]string {
	m := map[string]string{
		fMAC:       string(d.MAC),
		fType:      d.Type.String(),
		fCreatedAt: unix(d.CreatedAt),
	}
	if d.Voucher != "" {
		m[fVoucher] = d.Voucher
	}
	for _, f := range fieldNames {
		m[f.name] = value(f.f, d)
	}
	return m
}

// encodeChanged returns the fields named in set.
func encodeChanged(set session.Field, d session.Data) map[string]string {
	m := map[string]string{}
	for _, f := range fieldNames {
		if set&f.f != 0 {
			m[f.name] = value(f.f, d)
		}
	}
	return m
}

func value(f session.Field, d session.Data) string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	switch f {
	case session.FieldTimeSecs:
		return u(d.TimeSecs)
	case session.FieldDataBytes:
		return u(d.DataBytes)
	case session.FieldTimeCons:
		return u(d.TimeCons)
	case session.FieldDataConsBytes:
		return u(d.DataConsBytes)
	case session.FieldStartedAt:
		return unix(d.StartedAt)
	case session.FieldExpDays:
		if !d.HasExpiry {
			return ""
		}
		return u(uint64(d.ExpDays))
	case session.FieldDownMbits:
		return u(uint64(d.DownMbits))
	case session.FieldUpMbits:
		return u(uint64(d.UpMbits))
	case session.FieldUseGlobalSpeed:
		if d.UseGlobalSpeed {
			return "1"
		}
		return "0"
	case session.FieldProvider:
		return d.Provider
	}
	panic(fmt.Sprintf("redisstore: no encoding for field %b", f))
}

func unix(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// fieldOrder is the order fields are written in, so that hashes created by
// any server list their fields alike.
var fieldOrder = func() []string {
	o := []string{fMAC, fType, fCreatedAt}
	for _, f := range fieldNames {
		o = append(o, f.name)
	}
	return append(o, fVoucher)
}()

// appendFields appends the name, value pairs of m to args. An empty value
// means "absent": left out when keepEmpty is false (a create), passed on
// as "" when it is true (a save, whose script deletes the field).
func appendFields(args []any, m map[string]string, keepEmpty bool) []any {
	for _, k := range fieldOrder {
		v, ok := m[k]
		if !ok || (v == "" && !keepEmpty) {
			continue
		}
		args = append(args, k, v)
	}
	return args
}

// decodeMap turns a session hash into Data.
func decodeMap(id string, h map[string]string) (session.Data, error) {
	return decodeFields(id, func(f string) (string, bool) { v, ok := h[f]; return v, ok })
}

// decodeFields turns a session hash, read through get, into Data. get is a
// function rather than a map so that the per-packet decode of a script's
// reply builds no map.
func decodeFields(id string, get func(field string) (string, bool)) (session.Data, error) {
	d := session.Data{ID: id}
	var errs []error
	num := func(field string, bits int) uint64 {
		s, ok := get(field)
		if !ok || s == "" {
			return 0
		}
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s = %q: not a non-negative integer", field, s))
		}
		return v
	}
	when := func(field string) time.Time {
		s, ok := get(field)
		if !ok || s == "" {
			return time.Time{}
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s = %q: not Unix seconds", field, s))
			return time.Time{}
		}
		return time.Unix(v, 0).UTC()
	}
	str := func(field string) string { v, _ := get(field); return v }
	mac, err := session.ParseMAC(str(fMAC))
	if err != nil {
		errs = append(errs, fmt.Errorf("field %s = %q: not a MAC", fMAC, str(fMAC)))
	}
	d.MAC = mac
	t, err := session.ParseType(str(fType))
	if err != nil {
		errs = append(errs, fmt.Errorf("field %s = %q: not a session type", fType, str(fType)))
	}
	d.Type = t
	d.Provider = str(fProvider)
	d.TimeSecs = num(fTimeSecs, 63)
	d.DataBytes = num(fDataBytes, 63)
	d.TimeCons = num(fTimeCons, 63)
	d.DataConsBytes = num(fDataConsBytes, 63)
	d.StartedAt = when(fStartedAt)
	d.CreatedAt = when(fCreatedAt)
	if s, ok := get(fExpDays); ok && s != "" {
		d.ExpDays, d.HasExpiry = uint32(num(fExpDays, 32)), true
	}
	d.DownMbits = uint32(num(fDownMbits, 32))
	d.UpMbits = uint32(num(fUpMbits, 32))
	d.UseGlobalSpeed = str(fUseGlobalSpeed) == "1"
	d.Voucher = str(fVoucher)
	if len(errs) > 0 {
		return session.Data{}, fmt.Errorf("corrupt session hash: %v", errs)
	}
	return d, nil
}

// decodePairs decodes an HGETALL reply given as alternating names and values.
func decodePairs(id string, v []string) (session.Data, error) {
	if len(v)%2 != 0 {
		return session.Data{}, fmt.Errorf("odd HGETALL reply of %d items", len(v))
	}
	return decodeFields(id, func(f string) (string, bool) {
		for i := 0; i < len(v); i += 2 {
			if v[i] == f {
				return v[i+1], true
			}
		}
		return "", false
	})
}

// decodePacked decodes a packed session list (pack.lua: sessions.lua's
// reply, account.lua's and record.lua's session dumps): one MessagePack
// array of alternating session IDs and arrays of field, value strings. It
// allocates the result and nothing per field: every string in it (IDs, MAC,
// provider, voucher) is a slice of reply, which they keep alive (a few
// hundred bytes per device).
func decodePacked(reply string) ([]session.Data, error) {
	var r sessionReader
	n, err := r.start(reply)
	if err != nil {
		return nil, err
	}
	out := make([]session.Data, 0, n)
	for range n {
		id, kv, err := r.next()
		if err != nil {
			return nil, err
		}
		d, err := decodeFields(id, func(f string) (string, bool) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == f {
					return kv[i+1], true
				}
			}
			return "", false
		})
		if err != nil {
			return nil, fmt.Errorf("session %s: %w", id, err)
		}
		out = append(out, d)
	}
	return out, r.end()
}

// sessionReader reads a packed session list: start, then next for each
// session, then end.
type sessionReader struct {
	mp  mpReader
	buf [32]string // a session hash has at most 14 fields
}

// start returns the number of sessions in reply.
func (r *sessionReader) start(reply string) (int, error) {
	r.mp = mpReader{s: reply}
	n, err := r.mp.array()
	if err != nil {
		return 0, err
	}
	if n%2 != 0 {
		return 0, fmt.Errorf("session list of %d items", n)
	}
	return n / 2, nil
}

// next returns a session's ID and its hash as alternating field names and
// values, slices of the reply; kv is valid until the next call.
func (r *sessionReader) next() (id string, kv []string, err error) {
	if id, err = r.mp.str(); err != nil {
		return "", nil, err
	}
	k, err := r.mp.array()
	if err != nil {
		return "", nil, fmt.Errorf("session %s: %w", id, err)
	}
	if k%2 != 0 {
		return "", nil, fmt.Errorf("session %s: hash of %d items", id, k)
	}
	kv = r.buf[:0]
	for range k {
		v, err := r.mp.str()
		if err != nil {
			return "", nil, fmt.Errorf("session %s: %w", id, err)
		}
		kv = append(kv, v)
	}
	return id, kv, nil
}

// end checks that nothing follows the last session.
func (r *sessionReader) end() error {
	if n := len(r.mp.s) - r.mp.i; n != 0 {
		return fmt.Errorf("%d bytes after the session list", n)
	}
	return nil
}

// mpReader reads the two MessagePack types a packed session list holds:
// arrays and strings (str or bin, each in any of its length forms, whichever
// a writer picks).
type mpReader struct {
	s string
	i int // next byte
}

// uint reads the big-endian length or count of size bytes after a type byte;
// either is at most the reply's size (an item takes a byte at least), so a
// corrupt one cannot make a caller allocate more than the reply holds.
func (r *mpReader) uint(size int) (int, error) {
	if len(r.s)-r.i < 1+size {
		return 0, fmt.Errorf("truncated at byte %d", r.i)
	}
	var v uint64
	for _, c := range []byte(r.s[r.i+1 : r.i+1+size]) {
		v = v<<8 | uint64(c)
	}
	r.i += 1 + size
	if v > uint64(len(r.s)) {
		return 0, fmt.Errorf("length %d beyond the %d-byte reply", v, len(r.s))
	}
	return int(v), nil
}

// array reads an array header and returns its number of items.
func (r *mpReader) array() (int, error) {
	if r.i >= len(r.s) {
		return 0, fmt.Errorf("truncated at byte %d", r.i)
	}
	switch c := r.s[r.i]; {
	case c&0xf0 == 0x90:
		r.i++
		return int(c & 0x0f), nil
	case c == 0xdc:
		return r.uint(2)
	case c == 0xdd:
		return r.uint(4)
	default:
		return 0, fmt.Errorf("byte %d: type 0x%02x, want an array", r.i, c)
	}
}

// str reads a string: a slice of the reply, no copy.
func (r *mpReader) str() (string, error) {
	if r.i >= len(r.s) {
		return "", fmt.Errorf("truncated at byte %d", r.i)
	}
	var n int
	var err error
	switch c := r.s[r.i]; {
	case c&0xe0 == 0xa0:
		r.i++
		n = int(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n, err = r.uint(1)
	case c == 0xda || c == 0xc5:
		n, err = r.uint(2)
	case c == 0xdb || c == 0xc6:
		n, err = r.uint(4)
	default:
		return "", fmt.Errorf("byte %d: type 0x%02x, want a string", r.i, c)
	}
	if err != nil {
		return "", err
	}
	if len(r.s)-r.i < n {
		return "", fmt.Errorf("string of %d bytes truncated at byte %d", n, r.i)
	}
	v := r.s[r.i : r.i+n]
	r.i += n
	return v, nil
}
