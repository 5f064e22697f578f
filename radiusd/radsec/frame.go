// Package radsec is the transport of RADIUS over TLS (RFC 6614, RadSec)
// that stands apart from the packet handling: reading one RADIUS packet off
// a stream, bounding connections in total and per NAS, and the server's
// certificate, key and client CA, reloaded when their files change.
// Package radiusd identifies the NAS and handles the packets
// (docs/ARCHITECTURE.md, "RadSec").
package radsec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame limits (RFC 6614 §2.2: the RADIUS Length field delimits packets on
// the stream; RFC 2865 §3: 20 to 4096 octets).
const (
	HeaderLen = 20
	MaxLen    = 4096
)

// Errors of ReadFrame other than the reader's own. Either ends the
// connection: on a stream nothing after a bad length can be found again.
var (
	ErrShort = errors.New("radsec: frame shorter than the 20-octet RADIUS header")
	ErrLong  = errors.New("radsec: frame longer than 4096 octets")
)

// ReadFrame reads one RADIUS packet from r into buf (at least MaxLen
// octets) and returns it. head is called once the 4-octet header is read,
// before the rest: the caller sets a tighter deadline there, so that a
// client that sends a header and then trickles cannot hold the connection.
// It returns io.EOF when r ends cleanly between packets,
// io.ErrUnexpectedEOF when it ends inside one.
func ReadFrame(r io.Reader, buf []byte, head func()) ([]byte, error) {
	if len(buf) < MaxLen {
		return nil, fmt.Errorf("radsec: read buffer of %d octets, want %d", len(buf), MaxLen)
	}
	if _, err := io.ReadFull(r, buf[:4]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(buf[2:4]))
	switch {
	case n < HeaderLen:
		return nil, ErrShort
	case n > MaxLen:
		return nil, ErrLong
	}
	if head != nil {
		head()
	}
	if _, err := io.ReadFull(r, buf[4:n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf[:n], nil
}
