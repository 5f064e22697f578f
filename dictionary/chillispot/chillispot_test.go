package chillispot_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/dictionary/chillispot"
)

// vendorID is written out, not taken from the generated code, so that a wrong
// VENDOR line in dictionary.chillispot fails here.
const vendorID = 14559

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

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestWire(t *testing.T) {
	// 5 GB remaining: more than 32 bits, so it needs the gigawords attribute.
	const remaining = uint64(5_000_000_000)
	lo, hi := uint32(remaining&0xffff_ffff), uint32(remaining>>32)

	tests := []struct {
		name  string
		add   func(p *radius.Packet) error
		typ   byte
		value []byte
		check func(t *testing.T, p *radius.Packet)
	}{
		{
			name:  "Bandwidth-Max-Up",
			add:   func(p *radius.Packet) error { return chillispot.ChilliSpotBandwidthMaxUp_Add(p, 2000) },
			typ:   4,
			value: u32(2000),
			check: func(t *testing.T, p *radius.Packet) {
				if got := chillispot.ChilliSpotBandwidthMaxUp_Get(p); got != 2000 {
					t.Errorf("Bandwidth-Max-Up: got %d, want 2000", got)
				}
			},
		},
		{
			name:  "Bandwidth-Max-Down",
			add:   func(p *radius.Packet) error { return chillispot.ChilliSpotBandwidthMaxDown_Add(p, 10000) },
			typ:   5,
			value: []byte{0x00, 0x00, 0x27, 0x10},
			check: func(t *testing.T, p *radius.Packet) {
				if got := chillispot.ChilliSpotBandwidthMaxDown_Get(p); got != 10000 {
					t.Errorf("Bandwidth-Max-Down: got %d, want 10000", got)
				}
			},
		},
		{
			name: "Max-Total-Octets",
			add: func(p *radius.Packet) error {
				return chillispot.ChilliSpotMaxTotalOctets_Add(p, chillispot.ChilliSpotMaxTotalOctets(lo))
			},
			typ:   3,
			value: []byte{0x2a, 0x05, 0xf2, 0x00}, // 5e9 - 2^32 = 705032704
			check: func(t *testing.T, p *radius.Packet) {
				if got := chillispot.ChilliSpotMaxTotalOctets_Get(p); uint32(got) != lo {
					t.Errorf("Max-Total-Octets: got %d, want %d", got, lo)
				}
			},
		},
		{
			// The gigawords value is only meaningful with its octets half.
			name: "Max-Total-Gigawords",
			add: func(p *radius.Packet) error {
				if err := chillispot.ChilliSpotMaxTotalOctets_Add(p, chillispot.ChilliSpotMaxTotalOctets(lo)); err != nil {
					return err
				}
				return chillispot.ChilliSpotMaxTotalGigawords_Add(p, chillispot.ChilliSpotMaxTotalGigawords(hi))
			},
			typ:   23,
			value: u32(1),
			check: func(t *testing.T, p *radius.Packet) {
				oct := chillispot.ChilliSpotMaxTotalOctets_Get(p)
				gw := chillispot.ChilliSpotMaxTotalGigawords_Get(p)
				if got := uint64(gw)<<32 | uint64(oct); got != remaining {
					t.Errorf("Max-Total-Gigawords<<32 | Max-Total-Octets: got %d, want %d", got, remaining)
				}
			},
		},
		{
			name:  "Max-Input-Octets",
			add:   func(p *radius.Packet) error { return chillispot.ChilliSpotMaxInputOctets_Add(p, 7) },
			typ:   1,
			value: u32(7),
		},
		{
			name:  "Max-Output-Octets",
			add:   func(p *radius.Packet) error { return chillispot.ChilliSpotMaxOutputOctets_Add(p, 8) },
			typ:   2,
			value: u32(8),
		},
		{
			name:  "Max-Input-Gigawords",
			add:   func(p *radius.Packet) error { return chillispot.ChilliSpotMaxInputGigawords_Add(p, 2) },
			typ:   21,
			value: u32(2),
		},
		{
			name:  "Max-Output-Gigawords",
			add:   func(p *radius.Packet) error { return chillispot.ChilliSpotMaxOutputGigawords_Add(p, 3) },
			typ:   22,
			value: u32(3),
		},
		{
			name: "Acct-View-Point",
			add: func(p *radius.Packet) error {
				return chillispot.ChilliSpotAcctViewPoint_Add(p, chillispot.ChilliSpotAcctViewPoint_Value_ChilliSpotClientViewPoint)
			},
			typ:   10,
			value: u32(2),
			check: func(t *testing.T, p *radius.Packet) {
				if got := chillispot.ChilliSpotAcctViewPoint_Get(p).String(); got != "ChilliSpot-Client-View-Point" {
					t.Errorf("Acct-View-Point: got %q, want ChilliSpot-Client-View-Point", got)
				}
			},
		},
		{
			name: "OriginalURL",
			add: func(p *radius.Packet) error {
				return chillispot.ChilliSpotOriginalURL_AddString(p, "http://example.com/")
			},
			typ:   9,
			value: []byte("http://example.com/"),
			check: func(t *testing.T, p *radius.Packet) {
				if got := chillispot.ChilliSpotOriginalURL_GetString(p); got != "http://example.com/" {
					t.Errorf("OriginalURL: got %q", got)
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
			if tc.check != nil {
				tc.check(t, parsed)
			}
		})
	}
}

// TestVSAHeader checks the complete bytes of one Vendor-Specific attribute:
// type 26, length, vendor id 14559 (0x000038df), vendor type, vendor length.
func TestVSAHeader(t *testing.T) {
	p := radius.New(radius.CodeAccessAccept, secret)
	if err := chillispot.ChilliSpotBandwidthMaxDown_Add(p, 10000); err != nil {
		t.Fatal(err)
	}
	raw, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{26, 12, 0x00, 0x00, 0x38, 0xdf, 5, 6, 0x00, 0x00, 0x27, 0x10}
	if got := raw[20:]; !bytes.Equal(got, want) {
		t.Errorf("attributes: got % x, want % x", got, want)
	}
}
