package pfsense_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/dictionary/pfsense"
)

// vendorID is written out, not taken from the generated code, so that a wrong
// VENDOR line in dictionary.pfsense fails here.
const vendorID = 13644

var secret = []byte("testing123")

// vsa is one vendor attribute as found in the raw packet bytes.
type vsa struct {
	vendor uint32
	typ    byte
	value  []byte
}

// rawVSAs walks the attributes of an encoded packet by hand (no layeh
// parsing) and returns every Vendor-Specific sub-attribute.
func rawVSAs(t *testing.T, raw []byte) []vsa {
	t.Helper()
	if len(raw) < 20 {
		t.Fatalf("packet is %d bytes, shorter than a RADIUS header", len(raw))
	}
	if n := int(binary.BigEndian.Uint16(raw[2:4])); n != len(raw) {
		t.Fatalf("header length %d, packet is %d bytes", n, len(raw))
	}
	var out []vsa
	for b := raw[20:]; len(b) > 0; {
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			t.Fatalf("malformed attribute at % x", b)
		}
		typ, attr := b[0], b[2:b[1]]
		b = b[b[1]:]
		if typ != 26 {
			continue
		}
		if len(attr) < 4+2 {
			t.Fatalf("Vendor-Specific too short: % x", attr)
		}
		vendor := binary.BigEndian.Uint32(attr[:4])
		for sub := attr[4:]; len(sub) > 0; {
			if len(sub) < 2 || int(sub[1]) < 2 || int(sub[1]) > len(sub) {
				t.Fatalf("malformed vendor sub-attribute at % x", sub)
			}
			out = append(out, vsa{vendor: vendor, typ: sub[0], value: sub[2:sub[1]]})
			sub = sub[sub[1]:]
		}
	}
	return out
}

func TestWire(t *testing.T) {
	tests := []struct {
		name  string
		add   func(p *radius.Packet) error
		typ   byte
		value []byte
		check func(t *testing.T, p *radius.Packet)
	}{
		{
			name:  "Bandwidth-Max-Up",
			add:   func(p *radius.Packet) error { return pfsense.PfSenseBandwidthMaxUp_Add(p, 10_000_000) }, // 10 Mbit/s
			typ:   1,
			value: []byte{0x00, 0x98, 0x96, 0x80},
			check: func(t *testing.T, p *radius.Packet) {
				if got := pfsense.PfSenseBandwidthMaxUp_Get(p); got != 10_000_000 {
					t.Errorf("Bandwidth-Max-Up: got %d, want 10000000", got)
				}
			},
		},
		{
			name:  "Bandwidth-Max-Down",
			add:   func(p *radius.Packet) error { return pfsense.PfSenseBandwidthMaxDown_Add(p, 20_000_000) }, // 20 Mbit/s
			typ:   2,
			value: []byte{0x01, 0x31, 0x2d, 0x00},
			check: func(t *testing.T, p *radius.Packet) {
				if got := pfsense.PfSenseBandwidthMaxDown_Get(p); got != 20_000_000 {
					t.Errorf("Bandwidth-Max-Down: got %d, want 20000000", got)
				}
			},
		},
		{
			name:  "Max-Total-Octets clamped",
			add:   func(p *radius.Packet) error { return pfsense.PfSenseMaxTotalOctets_Add(p, math.MaxUint32) },
			typ:   3,
			value: []byte{0xff, 0xff, 0xff, 0xff},
			check: func(t *testing.T, p *radius.Packet) {
				if got := pfsense.PfSenseMaxTotalOctets_Get(p); got != math.MaxUint32 {
					t.Errorf("Max-Total-Octets: got %d, want %d", got, uint32(math.MaxUint32))
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := radius.New(radius.CodeAccessAccept, secret)
			if err := tc.add(p); err != nil {
				t.Fatalf("add: %v", err)
			}
			raw, err := p.Encode()
			if err != nil {
				t.Fatalf("encode: %v", err)
			}

			var found bool
			for _, v := range rawVSAs(t, raw) {
				if v.vendor != vendorID {
					t.Errorf("vendor id: got %d, want %d", v.vendor, vendorID)
				}
				if v.typ == tc.typ {
					found = true
					if !bytes.Equal(v.value, tc.value) {
						t.Errorf("type %d value: got % x, want % x", v.typ, v.value, tc.value)
					}
				}
			}
			if !found {
				t.Fatalf("no vendor %d type %d attribute in % x", vendorID, tc.typ, raw)
			}

			parsed, err := radius.Parse(raw, secret)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			tc.check(t, parsed)
		})
	}
}

// TestVSAHeader checks the complete bytes of one Vendor-Specific attribute:
// type 26, length, vendor id 13644 (0x0000354c), vendor type, vendor length.
func TestVSAHeader(t *testing.T) {
	p := radius.New(radius.CodeAccessAccept, secret)
	if err := pfsense.PfSenseBandwidthMaxDown_Add(p, 20_000_000); err != nil {
		t.Fatal(err)
	}
	raw, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{26, 12, 0x00, 0x00, 0x35, 0x4c, 2, 6, 0x01, 0x31, 0x2d, 0x00}
	if got := raw[20:]; !bytes.Equal(got, want) {
		t.Errorf("attributes: got % x, want % x", got, want)
	}
}
