package radiusd

// Disconnect and CoA over a NAS's own RadSec connection (the reverse
// direction of draft-ietf-radext-reverse-coa; README.md, "RadSec"): a NAS
// behind NAT cannot be reached on UDP 3799, but its connection to us is
// open. One request per Identifier is in flight on a connection; TCP
// delivers, so there is one attempt, given every attempt's time.

import (
	"context"
	"errors"
	"time"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
)

var (
	errRadSecBusy   = errors.New("radsec: 256 Disconnect/CoA requests already waiting on this connection")
	errRadSecClosed = errors.New("radsec: the connection closed before the NAS answered")
)

// exchange sends one Disconnect-Request or CoA-Request on the connection
// and waits up to wait for its ACK or NAK.
func (c *rsConn) exchange(ctx context.Context, code radius.Code, attrs radius.Attributes, wait time.Duration) (DynAuthResult, error) {
	res := DynAuthResult{Outcome: DynAuthError, Attempts: 1}
	secret := c.nas.Secret
	w := &dynWait{code: code, res: make(chan DynAuthResult, 1)}
	c.mu.Lock()
	id, ok := c.freeID()
	if !ok {
		c.mu.Unlock()
		return res, errRadSecBusy
	}
	req, err := packet.EncodeRequest(code, id, attrs, secret)
	if err != nil {
		c.mu.Unlock()
		return res, err
	}
	w.req = req
	c.dyn[id] = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.dyn[id] == w {
			delete(c.dyn, id)
		}
		c.mu.Unlock()
	}()
	c.send(req)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case r := <-w.res:
		r.Attempts = 1
		return r, nil
	case <-t.C:
		res.Outcome = DynAuthTimeout
		return res, nil
	case <-c.done:
		return res, errRadSecClosed
	case <-ctx.Done():
		res.Outcome = DynAuthTimeout
		return res, ctx.Err()
	}
}

// freeID picks an Identifier no request on c is waiting with (c.mu held).
func (c *rsConn) freeID() (byte, bool) {
	for range 256 {
		id := c.nextDyn
		c.nextDyn++
		if _, busy := c.dyn[id]; !busy {
			return id, true
		}
	}
	return 0, false
}

// response delivers a Disconnect/CoA ACK or NAK read from the connection
// to the request waiting for it; anything else is counted and dropped.
func (c *rsConn) response(b []byte) {
	// The request stays registered until a reply verifies: a reply that
	// does not is dropped without touching it (taking it out and putting it
	// back would race with the request's own timeout and leak its
	// Identifier for the life of the connection).
	c.mu.Lock()
	w := c.dyn[b[1]]
	c.mu.Unlock()
	if w == nil {
		c.s.frameRefused(rsFrameUnmatched)
		c.s.warn.Warn().Str("nas", c.ident).Str("code", radius.Code(b[0]).String()).Msg("radsec: a Disconnect/CoA reply to no request waiting: dropped")
		return
	}
	r, ok := parseDynAuthReply(b, w.req, c.nas.Secret, w.code)
	if !ok {
		c.s.frameRefused(rsFrameBadReply)
		c.s.warn.Warn().Str("nas", c.ident).Str("code", radius.Code(b[0]).String()).Msg("radsec: a Disconnect/CoA reply that does not verify (wrong radsec secret?): dropped")
		return
	}
	c.mu.Lock()
	mine := c.dyn[b[1]] == w
	if mine {
		delete(c.dyn, b[1])
	}
	c.mu.Unlock()
	if mine {
		w.res <- r // buffered: the one reply that took the request out
	}
}
