package voucher

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/hotspot-radius/hsradius/session"
)

// Alphabet is the characters of generated codes: capitals and digits
// without the ones read or typed as another (0 O D Q, 1 I L, 2 Z, 5 S, 8 B,
// U V). 21 characters: a 10-character code holds 10·log2(21) ≈ 43.9 bits.
const Alphabet = "34679ACEFGHJKMNPRTWXY"

// Code lengths and batch sizes (README.md, "Vouchers").
const (
	DefaultLength = 10
	MinLength     = 8
	MaxLength     = 20
	MaxPrefix     = 8
	MaxBatch      = 10000
	// MaxCodeInput bounds what a login may send as a code before
	// normalisation (spaces and dashes included).
	MaxCodeInput = 64
)

// BitsPerChar is the entropy of one generated character.
var BitsPerChar = math.Log2(float64(len(Alphabet)))

// Normalize returns the canonical form of a code as a customer typed it:
// capitals, without spaces and dashes. ok is false when what is left cannot
// be a code (too short or long, or a character no code has), so a login
// with it needs no store lookup.
func Normalize(s string) (code string, ok bool) {
	if len(s) > MaxCodeInput {
		return "", false
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "", false
		}
		b.WriteRune(r)
	}
	code = b.String()
	if len(code) < MinLength || len(code) > MaxLength+MaxPrefix {
		return "", false
	}
	return code, true
}

// BatchInput is the body of POST /v1/plans/{name}/batches (and hsctl
// voucher batch).
type BatchInput struct {
	Count  int    `json:"count"`
	Length int    `json:"length"` // random characters after the prefix; 0: DefaultLength
	Prefix string `json:"prefix"`
	Note   string `json:"note"`
}

// Check validates the input (Length 0 taken as DefaultLength) and returns
// it with the prefix normalised to capitals.
func (in BatchInput) Check() (BatchInput, error) {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &session.FieldError{Field: field, Problem: fmt.Sprintf(format, a...)})
	}
	if in.Length == 0 {
		in.Length = DefaultLength
	}
	if in.Count < 1 || in.Count > MaxBatch {
		bad("count", "%d: want 1 to %d codes", in.Count, MaxBatch)
	}
	if in.Length < MinLength || in.Length > MaxLength {
		bad("length", "%d: want %d to %d characters (default %d)", in.Length, MinLength, MaxLength, DefaultLength)
	}
	p := strings.ToUpper(in.Prefix)
	if len(p) > MaxPrefix {
		bad("prefix", "%q: at most %d characters", in.Prefix, MaxPrefix)
	} else {
		for _, r := range p {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				bad("prefix", "%q: letters and digits only", in.Prefix)
				break
			}
		}
	}
	in.Prefix = p
	if len(in.Note) > MaxNoteBytes {
		bad("note", "longer than %d bytes", MaxNoteBytes)
	}
	if len(errs) > 0 {
		return BatchInput{}, errors.Join(errs...)
	}
	return in, nil
}

// NewCode returns prefix followed by length characters of Alphabet, drawn
// from crypto/rand.
func NewCode(prefix string, length int) (string, error) {
	return randomString(prefix, length)
}

func randomString(prefix string, length int) (string, error) {
	b := make([]byte, 0, len(prefix)+length)
	b = append(b, prefix...)
	max := big.NewInt(int64(len(Alphabet)))
	for range length {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("voucher: random: %w", err)
		}
		b = append(b, Alphabet[n.Int64()])
	}
	return string(b), nil
}

// Group writes a code in groups of four for printing ("ABCD-EFGH-JK");
// Normalize reads it back.
func Group(code string) string {
	var b strings.Builder
	for i := 0; i < len(code); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(code[i:min(i+4, len(code))])
	}
	return b.String()
}
