package session

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseMAC(t *testing.T) {
	const want = MAC("aa:bb:cc:dd:ee:ff")
	tests := []struct {
		name string
		in   string
		want MAC
	}{
		{"ietf dashes upper", "AA-BB-CC-DD-EE-FF", want},
		{"ietf dashes lower", "aa-bb-cc-dd-ee-ff", want},
		{"colons lower", "aa:bb:cc:dd:ee:ff", want},
		{"colons upper", "AA:BB:CC:DD:EE:FF", want},
		{"cisco dots", "aabb.ccdd.eeff", want},
		{"cisco dots upper", "AABB.CCDD.EEFF", want},
		{"quads with dashes", "aabb-ccdd-eeff", want},
		{"quads with colons", "aabb:ccdd:eeff", want},
		{"halves with colon", "aabbcc:ddeeff", want},
		{"halves with dash", "aabbcc-ddeeff", want},
		{"pairs with spaces", "aa bb cc dd ee ff", want},
		{"bare upper", "AABBCCDDEEFF", want},
		{"bare lower", "aabbccddeeff", want},
		{"mixed case", "aA:Bb:cC:Dd:eE:fF", want},
		{"mixed case bare", "AaBbCcDdEeFf", want},
		{"digits", "00-11-22-33-44-55", "00:11:22:33:44:55"},
		{"all f", "FFFFFFFFFFFF", "ff:ff:ff:ff:ff:ff"},
		{"all zero", "000000000000", "00:00:00:00:00:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMAC(tc.in)
			if err != nil {
				t.Fatalf("ParseMAC(%q): unexpected error %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseMAC(%q): got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestParseMACNormalNoCopy: a MAC already in the normalized form (as stored,
// read once per session on every Access-Request) is returned without an
// allocation; any other spelling, even one differing only in case or
// separator, is still normalized.
func TestParseMACNormalNoCopy(t *testing.T) {
	const normal = "0c:4d:e9:a1:b2:c3"
	allocs := testing.AllocsPerRun(100, func() {
		if m, err := ParseMAC(normal); err != nil || m != normal {
			t.Fatalf("ParseMAC(%q) = %q, %v", normal, m, err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseMAC of a normalized MAC: %v allocations, want 0", allocs)
	}
	for _, in := range []string{"0c:4d:e9:A1:b2:c3", "0c-4d-e9-a1-b2-c3", "0c 4d e9 a1 b2 c3"} {
		if m, err := ParseMAC(in); err != nil || m != normal {
			t.Errorf("ParseMAC(%q) = %q, %v; want %q", in, m, err, normal)
		}
	}
	if _, err := ParseMAC("0c:4d:e9:a1:b2:cg"); err == nil {
		t.Error("ParseMAC accepted a colon-separated non-hex digit")
	}
}

// TestParseMACVendorFormats parses the MAC 0c:4d:e9:a1:b2:c3 in every format
// a supported NAS can be set to send it in, as that NAS writes it.
func TestParseMACVendorFormats(t *testing.T) {
	const want = MAC("0c:4d:e9:a1:b2:c3")
	tests := []struct {
		vendor, format, in string
	}{
		// MikroTik: /ip hotspot profile radius-mac-format (and the wireless
		// security profile's, which adds lower-case twins of each).
		{"mikrotik", "XX:XX:XX:XX:XX:XX", "0C:4D:E9:A1:B2:C3"},
		{"mikrotik", "XXXX:XXXX:XXXX", "0C4D:E9A1:B2C3"},
		{"mikrotik", "XXXXXX:XXXXXX", "0C4DE9:A1B2C3"},
		{"mikrotik", "XX-XX-XX-XX-XX-XX", "0C-4D-E9-A1-B2-C3"},
		{"mikrotik", "XXXXXX-XXXXXX", "0C4DE9-A1B2C3"},
		{"mikrotik", "XXXXXXXXXXXX", "0C4DE9A1B2C3"},
		{"mikrotik", "XX XX XX XX XX XX", "0C 4D E9 A1 B2 C3"},
		{"mikrotik", "xx:xx:xx:xx:xx:xx", "0c:4d:e9:a1:b2:c3"},
		{"mikrotik", "xxxx:xxxx:xxxx", "0c4d:e9a1:b2c3"},
		{"mikrotik", "xxxxxx:xxxxxx", "0c4de9:a1b2c3"},
		{"mikrotik", "xx-xx-xx-xx-xx-xx", "0c-4d-e9-a1-b2-c3"},
		{"mikrotik", "xxxxxx-xxxxxx", "0c4de9-a1b2c3"},
		{"mikrotik", "xxxxxxxxxxxx", "0c4de9a1b2c3"},
		{"mikrotik", "xx xx xx xx xx xx", "0c 4d e9 a1 b2 c3"},
		// pfSense: the captive portal zone's "MAC address format"
		// (radmac_format), applied to the lower-case colon form.
		{"pfsense", "default", "0c:4d:e9:a1:b2:c3"},
		{"pfsense", "singledash", "0c4de9-a1b2c3"},
		{"pfsense", "ietf", "0c-4d-e9-a1-b2-c3"},
		{"pfsense", "cisco", "0c4d.e9a1.b2c3"},
		{"pfsense", "unformatted", "0c4de9a1b2c3"},
		// CoovaChilli: Calling-Station-Id, and User-Name on MAC
		// authentication without a macsuffix.
		{"coovachilli", "AA-BB-CC-DD-EE-FF", "0C-4D-E9-A1-B2-C3"},
	}
	for _, tc := range tests {
		t.Run(tc.vendor+"/"+tc.format, func(t *testing.T) {
			got, err := ParseMAC(tc.in)
			if err != nil {
				t.Fatalf("ParseMAC(%q): unexpected error %v", tc.in, err)
			}
			if got != want {
				t.Errorf("ParseMAC(%q): got %q, want %q", tc.in, got, want)
			}
		})
	}
}

func TestParseMACRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"too short bare", "aabbccddeef"},
		{"too short colons", "aa:bb:cc:dd:ee"},
		{"too short dots", "aabb.ccdd.eef"},
		{"too long bare", "aabbccddeeff0"},
		{"too long colons", "aa:bb:cc:dd:ee:ff:00"},
		{"eui64", "aabbccddeeff0011"},
		{"non hex letter", "gg:bb:cc:dd:ee:ff"},
		{"non hex bare", "aabbccddeefz"},
		{"spaces in quads", "aabb ccdd eeff"},
		{"spaces in halves", "aabbcc ddeeff"},
		{"dot in halves", "aabbcc.ddeeff"},
		{"two spaces", "aa  bb cc dd ee ff"},
		{"tab", "aa\tbb\tcc\tdd\tee\tff"},
		{"spaces and colons", "aa bb:cc dd ee ff"},
		{"leading space", " aa:bb:cc:dd:ee:ff"},
		{"trailing newline", "aa:bb:cc:dd:ee:ff\n"},
		{"mixed separators", "aa:bb-cc:dd:ee:ff"},
		{"mixed separators dots", "aabb.ccdd-eeff"},
		{"dots in pairs", "aa.bb.cc.dd.ee.ff"},
		{"misplaced separators", "aab:bcc:dde:eff"},
		{"misplaced pairs", "a:ab:bc:cd:de:eff"},
		{"halves misplaced", "aabbc:cddeeff"},
		{"halves mixed", "aabbcc:dd-eeff"},
		{"thirds", "aabb-ccdd-eeff-"},
		{"suffix", "aa-bb-cc-dd-ee-ff@hotspot"},
		{"trailing space", "aa bb cc dd ee ff "},
		{"separators only", ":::::"},
		{"doubled separators", "aa::bb:cc:dd:ee:ff"},
		{"trailing separator", "aa:bb:cc:dd:ee:ff:"},
		{"leading separator", ":aa:bb:cc:dd:ee:ff"},
		{"unicode", "aa:bb:cc:dd:ee:ｆｆ"},
		{"nul", "aa:bb:cc:dd:ee:f\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMAC(tc.in)
			if err == nil {
				t.Fatalf("ParseMAC(%q): got %q, want an error", tc.in, got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseMAC(%q): error %v does not wrap ErrInvalid", tc.in, err)
			}
			if got != "" {
				t.Errorf("ParseMAC(%q): got %q with the error, want \"\"", tc.in, got)
			}
		})
	}
}

func TestMACHexAndString(t *testing.T) {
	tests := []struct {
		name    string
		mac     MAC
		wantHex string
	}{
		{"normalized", "aa:bb:cc:dd:ee:ff", "aabbccddeeff"},
		{"digits", "00:11:22:33:44:55", "001122334455"},
		{"not normalized falls back to removing colons", "aa:bb", "aabb"},
		{"zero value", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.mac.Hex(); got != tc.wantHex {
				t.Errorf("MAC(%q).Hex(): got %q, want %q", tc.mac, got, tc.wantHex)
			}
			if got := tc.mac.String(); got != string(tc.mac) {
				t.Errorf("MAC(%q).String(): got %q, want %q", tc.mac, got, string(tc.mac))
			}
		})
	}
}

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{
		"AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff", "aabb.ccdd.eeff", "AABBCCDDEEFF",
		"aa:bb-cc:dd:ee:ff", "aab:bcc:dde:eff", "", "aabbccddeef", "aa.bb.cc.dd.ee.ff",
		"aabb-ccdd-eeff", "gg:hh:ii:jj:kk:ll", "0C4DE9:A1B2C3", "0c4de9-a1b2c3", "0C 4D E9 A1 B2 C3",
		"aabbcc.ddeeff", "aabb ccdd eeff", "aa bb:cc dd ee ff", "aa-bb-cc-dd-ee-ff@hotspot",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseMAC(%q): error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if len(m) != 17 {
			t.Fatalf("ParseMAC(%q) = %q: got %d chars, want 17", s, m, len(m))
		}
		again, err := ParseMAC(string(m))
		if err != nil || again != m {
			t.Fatalf("ParseMAC(%q) = %q does not re-parse to itself: got %q, %v", s, m, again, err)
		}
		h := m.Hex()
		if len(h) != 12 || strings.Trim(h, "0123456789abcdef") != "" {
			t.Fatalf("ParseMAC(%q).Hex() = %q: want 12 lower-case hex digits", s, h)
		}
		// The digits are the input's, in order, lower-cased.
		var digits strings.Builder
		for _, c := range strings.ToLower(s) {
			if c != ':' && c != '-' && c != '.' && c != ' ' {
				digits.WriteRune(c)
			}
		}
		if digits.String() != h {
			t.Fatalf("ParseMAC(%q).Hex() = %q: want the input's digits %q", s, h, digits.String())
		}
		// And the input is one of the spellings a NAS writes those digits in.
		if !slices.Contains(macSpellings(h), strings.ToLower(s)) {
			t.Fatalf("ParseMAC(%q) accepted a spelling no NAS uses", s)
		}
	})
}

// macSpellings lists the lower-case spellings of the 12 hex digits h that
// ParseMAC must accept: pairs, quads and halves with their separators, and
// bare.
func macSpellings(h string) []string {
	group := func(size int, sep string) string {
		var parts []string
		for i := 0; i < len(h); i += size {
			parts = append(parts, h[i:i+size])
		}
		return strings.Join(parts, sep)
	}
	return []string{
		group(2, ":"), group(2, "-"), group(2, " "),
		group(4, "."), group(4, ":"), group(4, "-"),
		group(6, ":"), group(6, "-"),
		h,
	}
}
