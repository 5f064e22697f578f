package radiusd

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// classPrefix starts every Class this server puts in an Access-Accept.
// The NAS echoes Class in its accounting (RFC 2865 §5.25); a value with
// this prefix is one of ours, unique per authorization, so it tells two
// NAS sessions apart even when they share an Acct-Session-Id.
const classPrefix = "hsr1:"

// classes makes unique Class values: a random instance part (several
// servers share one Redis) and a counter.
type classes struct {
	base string
	n    atomic.Uint64
}

func newClasses() (*classes, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &classes{base: classPrefix + hex.EncodeToString(b[:]) + ":"}, nil
}

func (c *classes) next() []byte {
	b := make([]byte, 0, len(c.base)+16)
	b = append(b, c.base...)
	return strconv.AppendUint(b, c.n.Add(1), 36)
}

// ourClass reports whether a Class value a NAS echoes is one of ours (it
// may echo none, or another server's).
func ourClass(v []byte) bool { return bytes.HasPrefix(v, []byte(classPrefix)) }
