package dictionary

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	layehdict "layeh.com/radius/dictionary"
	"layeh.com/radius/dictionarygen"
)

// referenceDir is where Debian's freeradius-common installs the FreeRADIUS
// dictionaries (apt-get install freeradius-common).
const referenceDir = "/usr/share/freeradius"

type attr struct {
	number uint64
	typ    string
}

type dictFile struct {
	vendor       string
	vendorNumber uint64
	attrs        map[string]attr
}

// vendors lists our dictionary files. extra holds the attributes we define
// that the FreeRADIUS reference does not: each one is checked against this
// table instead, whose facts come from the vendor's own source.
var vendors = []struct {
	pkg, file    string
	vendor       string
	vendorNumber uint64
	extra        map[string]attr
}{
	{
		pkg: "chillispot", file: "dictionary.chillispot",
		vendor: "ChilliSpot", vendorNumber: 14559,
		// CoovaChilli additions: coova-chilli src/radius_chillispot.h and
		// doc/dictionary.chillispot.
		extra: map[string]attr{
			"ChilliSpot-Acct-View-Point":      {10, "integer"},
			"ChilliSpot-Max-Input-Gigawords":  {21, "integer"},
			"ChilliSpot-Max-Output-Gigawords": {22, "integer"},
			"ChilliSpot-Max-Total-Gigawords":  {23, "integer"},
		},
	},
	{
		pkg: "pfsense", file: "dictionary.pfsense",
		vendor: "pfSense", vendorNumber: 13644,
	},
}

// parseDict reads the VENDOR and ATTRIBUTE lines of a FreeRADIUS dictionary
// file. It is deliberately independent of layeh's parser, which the
// generator uses: the two must agree with the reference separately.
func parseDict(t *testing.T, path string) dictFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	d := dictFile{attrs: map[string]attr{}}
	s := bufio.NewScanner(f)
	for line := 1; s.Scan(); line++ {
		text, _, _ := strings.Cut(s.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "VENDOR":
			if len(fields) < 3 {
				t.Fatalf("%s:%d: short VENDOR line", path, line)
			}
			n, err := strconv.ParseUint(fields[2], 0, 32)
			if err != nil {
				t.Fatalf("%s:%d: vendor number: %v", path, line, err)
			}
			d.vendor, d.vendorNumber = fields[1], n
		case "ATTRIBUTE":
			if len(fields) < 4 {
				t.Fatalf("%s:%d: short ATTRIBUTE line", path, line)
			}
			n, err := strconv.ParseUint(fields[2], 0, 32)
			if err != nil {
				t.Fatalf("%s:%d: attribute number: %v", path, line, err)
			}
			if _, dup := d.attrs[fields[1]]; dup {
				t.Fatalf("%s:%d: %s defined twice", path, line, fields[1])
			}
			d.attrs[fields[1]] = attr{number: n, typ: strings.ToLower(fields[3])}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

func byNumber(d dictFile) map[uint64]string {
	m := make(map[uint64]string, len(d.attrs))
	for name, a := range d.attrs {
		m[a.number] = name
	}
	return m
}

// TestOurDictionaries checks what needs no reference installed: the vendor
// line, unique numbers, and the attributes the reference lacks.
func TestOurDictionaries(t *testing.T) {
	for _, v := range vendors {
		t.Run(v.pkg, func(t *testing.T) {
			ours := parseDict(t, filepath.Join(v.pkg, v.file))
			if ours.vendor != v.vendor || ours.vendorNumber != v.vendorNumber {
				t.Errorf("VENDOR: got %s %d, want %s %d", ours.vendor, ours.vendorNumber, v.vendor, v.vendorNumber)
			}
			if len(ours.attrs) == 0 {
				t.Fatal("no ATTRIBUTE lines")
			}
			if n := len(byNumber(ours)); n != len(ours.attrs) {
				t.Errorf("%d attributes share %d numbers", len(ours.attrs), n)
			}
			for name, want := range v.extra {
				if got, ok := ours.attrs[name]; !ok || got != want {
					t.Errorf("%s: got %d %s (defined %v), want %d %s", name, got.number, got.typ, ok, want.number, want.typ)
				}
			}
		})
	}
}

// TestAgainstFreeRADIUS compares every ATTRIBUTE we define with the
// FreeRADIUS dictionary that Debian ships: same number and type for the same
// name, and no attribute of ours on a number the reference gives another name.
func TestAgainstFreeRADIUS(t *testing.T) {
	for _, v := range vendors {
		t.Run(v.pkg, func(t *testing.T) {
			refPath := filepath.Join(referenceDir, v.file)
			if _, err := os.Stat(refPath); errors.Is(err, fs.ErrNotExist) {
				t.Skipf("reference %s not installed (apt-get install freeradius-common); not compared", refPath)
			}
			ref := parseDict(t, refPath)
			ours := parseDict(t, filepath.Join(v.pkg, v.file))

			if ours.vendor != ref.vendor || ours.vendorNumber != ref.vendorNumber {
				t.Errorf("VENDOR: ours %s %d, reference %s %d", ours.vendor, ours.vendorNumber, ref.vendor, ref.vendorNumber)
			}
			refByNumber := byNumber(ref)
			for name, a := range ours.attrs {
				want, ok := ref.attrs[name]
				if !ok {
					if _, extra := v.extra[name]; !extra {
						t.Errorf("%s (%d): not in %s and not a listed addition", name, a.number, refPath)
					}
					if other, clash := refByNumber[a.number]; clash {
						t.Errorf("%s: number %d is %s in %s", name, a.number, other, refPath)
					}
					continue
				}
				if a != want {
					t.Errorf("%s: ours %d %s, reference %d %s", name, a.number, a.typ, want.number, want.typ)
				}
			}
			for name := range v.extra {
				if _, ok := ref.attrs[name]; ok {
					t.Errorf("%s is in %s now: drop it from the additions table", name, refPath)
				}
			}
		})
	}
}

// TestGeneratedUpToDate runs the generator in-process, as radius-dict-gen
// does, and compares with the committed generated.go, so a dictionary edit
// without `go generate ./dictionary/...` fails here.
func TestGeneratedUpToDate(t *testing.T) {
	for _, v := range vendors {
		t.Run(v.pkg, func(t *testing.T) {
			parser := layehdict.Parser{
				Opener:                    &layehdict.FileSystemOpener{},
				IgnoreIdenticalAttributes: true,
			}
			dict, err := parser.ParseFile(filepath.Join(v.pkg, v.file))
			if err != nil {
				t.Fatal(err)
			}
			g := dictionarygen.Generator{Package: v.pkg}
			want, err := g.Generate(dict)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(v.pkg, "generated.go"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/generated.go is stale: run go generate ./dictionary/...", v.pkg)
			}
		})
	}
}
