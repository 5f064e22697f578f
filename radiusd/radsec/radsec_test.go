package radsec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/radiusd/radsec"
	"github.com/hotspot-radius/hsradius/radiusd/radsec/radsectest"
)

func frame(code, id byte, length int, body int) []byte {
	b := make([]byte, 4+body)
	b[0], b[1] = code, id
	binary.BigEndian.PutUint16(b[2:], uint16(length))
	return b
}

func TestReadFrame(t *testing.T) {
	buf := make([]byte, radsec.MaxLen)
	two := append(frame(4, 1, 20, 16), frame(12, 2, 24, 20)...)
	r := bytes.NewReader(two)
	for _, want := range []struct {
		code byte
		n    int
	}{{4, 20}, {12, 24}} {
		heads := 0
		b, err := radsec.ReadFrame(r, buf, func() { heads++ })
		if err != nil || len(b) != want.n || b[0] != want.code || heads != 1 {
			t.Fatalf("got %d octets code %d (%v, head called %d times), want %d code %d", len(b), b[0], err, heads, want.n, want.code)
		}
	}
	if _, err := radsec.ReadFrame(r, buf, nil); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"short length", frame(1, 1, 19, 100), radsec.ErrShort},
		{"long length", frame(1, 1, 4097, 5000), radsec.ErrLong},
		{"truncated body", frame(1, 1, 100, 50), io.ErrUnexpectedEOF},
		{"truncated header", []byte{1, 1}, io.ErrUnexpectedEOF},
	} {
		if _, err := radsec.ReadFrame(bytes.NewReader(c.in), buf, nil); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if b, err := radsec.ReadFrame(bytes.NewReader(frame(1, 1, 4096, 4092)), buf, nil); err != nil || len(b) != 4096 {
		t.Errorf("4096 octets: %d, %v", len(b), err)
	}
	if _, err := radsec.ReadFrame(bytes.NewReader(frame(1, 1, 20, 16)), make([]byte, 100), nil); err == nil {
		t.Error("a buffer under 4096 octets was accepted")
	}
}

// FuzzReadFrame: any stream gives packets of 20 to 4096 octets that are
// what their Length says, or an error; never a panic, never more read than
// the packets it returned.
func FuzzReadFrame(f *testing.F) {
	f.Add(frame(1, 1, 20, 16))
	f.Add(append(frame(4, 1, 20, 16), frame(12, 2, 24, 20)...))
	f.Add(frame(1, 1, 4097, 10))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x05})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		buf := make([]byte, radsec.MaxLen)
		read := 0
		for range 300 {
			b, err := radsec.ReadFrame(r, buf, nil)
			if err != nil {
				return
			}
			if n := int(binary.BigEndian.Uint16(b[2:4])); n != len(b) || n < radsec.HeaderLen || n > radsec.MaxLen {
				t.Fatalf("packet of %d octets, Length %d", len(b), n)
			}
			read += len(b)
			if consumed := len(in) - r.Len(); consumed != read {
				t.Fatalf("read %d octets for %d of packets", consumed, read)
			}
		}
	})
}

func TestLimiter(t *testing.T) {
	l := radsec.NewLimiter(2, 1)
	if !l.Acquire() || !l.Acquire() || l.Acquire() {
		t.Fatal("want 2 places in total")
	}
	if n, ok := l.AcquireKey("a"); !ok || n != 1 {
		t.Fatal("a: want a place")
	}
	if _, ok := l.AcquireKey("a"); ok {
		t.Fatal("a: one place per key")
	}
	if _, ok := l.AcquireKey("b"); !ok {
		t.Fatal("b: want a place")
	}
	if n := l.ReleaseKey("a"); n != 0 {
		t.Fatalf("a holds %d after release", n)
	}
	if _, ok := l.AcquireKey("a"); !ok {
		t.Fatal("a: its place is back")
	}
	l.Release()
	if !l.Acquire() || l.Len() != 2 {
		t.Fatal("a released place is taken again")
	}
}

// TestCertsReload: a changed file is loaded by Check; a broken one is
// refused and the loaded certificate stays; Reload takes the files as they
// are.
func TestCertsReload(t *testing.T) {
	ca := radsectest.NewCA(t, "ca")
	first := ca.Server(t, "one")
	second := ca.Server(t, "two")
	files := radsec.Files{Cert: first.CertFile, Key: first.KeyFile, ClientCA: ca.File}
	c, err := radsec.NewCerts(files)
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string { return c.Current().Cert.Leaf.SerialNumber.String() }
	was := serial()
	if changed, err := c.Check(); changed || err != nil {
		t.Fatalf("unchanged files: changed %v, %v", changed, err)
	}
	// Renew: the second certificate and key over the first's files, with a
	// later modification time (a renewal tool's rename or copy).
	copyFile(t, second.CertFile, first.CertFile)
	copyFile(t, second.KeyFile, first.KeyFile)
	later := time.Now().Add(time.Minute)
	for _, p := range []string{first.CertFile, first.KeyFile} {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if changed, err := c.Check(); !changed || err != nil {
		t.Fatalf("renewed files: changed %v, %v", changed, err)
	}
	renewed := serial()
	if renewed == was {
		t.Fatal("the renewed certificate was not loaded")
	}
	// A broken key: refused, the renewed certificate stays.
	if err := os.WriteFile(first.KeyFile, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reload(); err == nil {
		t.Fatal("a broken key was accepted")
	}
	if serial() != renewed {
		t.Fatal("a failed reload replaced the loaded certificate")
	}
	if _, err := radsec.NewCerts(files); err == nil {
		t.Fatal("NewCerts accepted a broken key")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
