package main

// The fault suite's harness, part 3: the simulated NAS, its devices and
// accounting sessions, what it expects Redis to hold, and the comparison
// with what Redis holds.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/hotspot-radius/hsradius/radiusd/packet"
	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/session"
)

// faultNAS is a simulated NAS: one UDP socket, a pool of 256 Identifiers,
// and a request/response loop that behaves like a real NAS's: a request is
// retransmitted until answered (with back-off, up to giveUp), either with the
// same bytes or, for devices that update Acct-Delay-Time, with a new
// Identifier and authenticator (RFC 2866 §5.2). Callers run many exchanges
// concurrently; each accounting session waits for one answer before it
// sends its next packet.
type faultNAS struct {
	secret []byte
	conn   *net.UDPConn
	// auth and acct are the servers (or proxies) it sends to; with several,
	// a device's requests alternate between them and retransmissions fail
	// over to the next one.
	auth, acct []*net.UDPAddr
	rto        time.Duration // first retransmission timeout
	maxRTO     time.Duration
	giveUp     time.Duration // a request unanswered this long fails the test

	mu    sync.Mutex
	slots [256]*faultTx
	next  int
	freed *sync.Cond

	requests, transmissions, retransmissions, failovers atomic.Int64
	answers, strayResponses, dupResponses               atomic.Int64
	maxAttempts                                         atomic.Int64

	progMu   sync.Mutex
	answered int64
	waiters  []faultWaiter

	outage *faultOutage // set by the Redis outage test
	closed atomic.Bool
	done   chan struct{}
}

// faultTx is one Identifier in use: the datagram it was sent with and where
// its answer goes.
type faultTx struct {
	b     []byte
	reply chan faultReply
}

type faultReply struct {
	b  []byte
	at time.Time
}

type faultWaiter struct {
	n  int64
	ch chan struct{}
}

// newFaultNAS opens the NAS socket on loopback (the NAS table has
// 127.0.0.1) and starts its reader.
func newFaultNAS(t *testing.T, auth, acct []string) *faultNAS {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	n := &faultNAS{
		secret: []byte(faultSecret), conn: conn,
		rto: 300 * time.Millisecond, maxRTO: 1200 * time.Millisecond, giveUp: 30 * time.Second,
		done: make(chan struct{}),
	}
	n.freed = sync.NewCond(&n.mu)
	resolve := func(addrs []string) []*net.UDPAddr {
		var out []*net.UDPAddr
		for _, a := range addrs {
			ua, err := net.ResolveUDPAddr("udp", a)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ua)
		}
		return out
	}
	n.auth, n.acct = resolve(auth), resolve(acct)
	go n.read()
	t.Cleanup(func() {
		n.closed.Store(true)
		_ = n.conn.Close()
		<-n.done
	})
	return n
}

// read matches responses to the Identifiers in use: a response whose
// authenticator does not verify against the request now holding its
// Identifier (a late answer to a retransmission sent with another
// Identifier, a replayed old response) is ignored, as a NAS does.
func (n *faultNAS) read() {
	defer close(n.done)
	buf := make([]byte, 4097)
	for {
		sz, _, err := n.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if n.closed.Load() {
				return
			}
			continue
		}
		at := time.Now()
		if sz < 20 {
			n.strayResponses.Add(1)
			continue
		}
		b := append([]byte(nil), buf[:sz]...)
		n.mu.Lock()
		tx := n.slots[b[1]]
		n.mu.Unlock()
		if tx == nil || !radius.IsAuthenticResponse(b, tx.b, n.secret) {
			n.strayResponses.Add(1)
			continue
		}
		select {
		case tx.reply <- faultReply{b: b, at: at}:
		default:
			n.dupResponses.Add(1)
		}
	}
}

// alloc takes a free Identifier (round robin, as NASes do) and encodes the
// request with it.
func (n *faultNAS) alloc(encode func(id byte) ([]byte, error)) (*faultTx, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		for i := 0; i < 256; i++ {
			id := (n.next + i) % 256
			if n.slots[id] != nil {
				continue
			}
			b, err := encode(byte(id))
			if err != nil {
				return nil, err
			}
			tx := &faultTx{b: b, reply: make(chan faultReply, 1)}
			n.slots[id] = tx
			n.next = id + 1
			return tx, nil
		}
		n.freed.Wait()
	}
}

func (n *faultNAS) release(tx *faultTx) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.slots[tx.b[1]] == tx {
		n.slots[tx.b[1]] = nil
		n.freed.Signal()
	}
}

// faultReq is one request as the NAS's retransmission loop sees it.
type faultReq struct {
	what string
	// newID: each retransmission carries the updated Acct-Delay-Time, hence
	// a new Identifier and authenticator; otherwise the same bytes.
	newID bool
	// encode builds the datagram for an Identifier and an Acct-Delay-Time.
	encode func(id byte, delay uint32) ([]byte, error)
	// dest is where transmission number attempt (0 first) goes.
	dest func(attempt int) *net.UDPAddr
	// hold, when set, runs before each transmission (a test's choreography).
	hold func(attempt int)
}

// exchange sends r until it is answered and returns the answer.
func (n *faultNAS) exchange(r faultReq) ([]byte, error) {
	first := time.Now()
	n.requests.Add(1)
	if n.outage != nil {
		n.outage.sent(first)
	}
	rto := n.rto
	var tx *faultTx
	defer func() {
		if tx != nil {
			n.release(tx)
		}
	}()
	var last *net.UDPAddr
	for attempt := 0; ; attempt++ {
		if r.hold != nil {
			r.hold(attempt)
		}
		if tx == nil || r.newID {
			if tx != nil {
				n.release(tx)
			}
			delay := uint32(time.Since(first) / time.Second)
			var err error
			tx, err = n.alloc(func(id byte) ([]byte, error) { return r.encode(id, delay) })
			if err != nil {
				return nil, fmt.Errorf("%s: encode: %w", r.what, err)
			}
		}
		dst := r.dest(attempt)
		if attempt > 0 {
			n.retransmissions.Add(1)
			if dst.String() != last.String() {
				n.failovers.Add(1)
			}
		}
		last = dst
		n.transmissions.Add(1)
		if _, err := n.conn.WriteToUDP(tx.b, dst); err != nil {
			return nil, fmt.Errorf("%s: send: %w", r.what, err)
		}
		timer := time.NewTimer(rto)
		select {
		case rep := <-tx.reply:
			timer.Stop()
			n.answers.Add(1)
			faultRaise(&n.maxAttempts, int64(attempt+1))
			if n.outage != nil {
				n.outage.answered(first, rep.at, r.what)
			}
			n.progress()
			return rep.b, nil
		case <-timer.C:
		}
		if time.Since(first) > n.giveUp {
			return nil, fmt.Errorf("%s: no answer after %d transmissions in %v", r.what, attempt+1, time.Since(first).Round(time.Millisecond))
		}
		rto = min(2*rto, n.maxRTO)
	}
}

// faultRaise sets a to v if v is larger.
func faultRaise(a *atomic.Int64, v int64) {
	for m := a.Load(); v > m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}

func (n *faultNAS) progress() {
	n.progMu.Lock()
	defer n.progMu.Unlock()
	n.answered++
	kept := n.waiters[:0]
	for _, w := range n.waiters {
		if n.answered >= w.n {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	n.waiters = kept
}

// waitAnswered blocks until the NAS has had count requests answered.
func (n *faultNAS) waitAnswered(t *testing.T, count int64) {
	t.Helper()
	n.progMu.Lock()
	if n.answered >= count {
		n.progMu.Unlock()
		return
	}
	ch := make(chan struct{})
	n.waiters = append(n.waiters, faultWaiter{count, ch})
	n.progMu.Unlock()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("the NAS did not reach %d answered requests within 60s (%s)", count, n.stats())
	}
}

func (n *faultNAS) stats() string {
	return fmt.Sprintf("requests %d, datagrams sent %d (retransmissions %d, to another address %d), answered %d, most transmissions for one request %d; ignored responses: duplicate %d, stray %d",
		n.requests.Load(), n.transmissions.Load(), n.retransmissions.Load(), n.failovers.Load(),
		n.answers.Load(), n.maxAttempts.Load(), n.dupResponses.Load(), n.strayResponses.Load())
}

// faultOutage records the requests a NAS sent while Redis was down and
// whether any of them was answered before Redis came back: an answer
// then would acknowledge something that could not have been stored.
type faultOutage struct {
	mu                sync.Mutex
	down, up          time.Time // Redis confirmed dead; its restart began
	sentWhileDown     int
	answeredWhileDown int
	answeredAfter     int // requests first sent while down, answered after the restart
	earlierAnswered   int // requests first sent before, answered while down (stored before, or cached)
	examples          []string
}

func (o *faultOutage) markDown() { o.mu.Lock(); o.down = time.Now(); o.mu.Unlock() }

// hold keeps the outage going for at least min and then until want requests
// were first sent during it (at most max): on a loaded machine the NAS sends
// fewer requests per second, and a fixed outage would test little.
func (o *faultOutage) hold(min, max time.Duration, want int) {
	time.Sleep(min)
	for deadline := time.Now().Add(max - min); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		o.mu.Lock()
		n := o.sentWhileDown
		o.mu.Unlock()
		if n >= want {
			return
		}
	}
}
func (o *faultOutage) markUp() { o.mu.Lock(); o.up = time.Now(); o.mu.Unlock() }

func (o *faultOutage) inOutage(at time.Time) bool {
	return !o.down.IsZero() && at.After(o.down) && (o.up.IsZero() || at.Before(o.up))
}

func (o *faultOutage) sent(first time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.inOutage(first) {
		o.sentWhileDown++
	}
}

func (o *faultOutage) answered(first, at time.Time, what string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.inOutage(first) {
		if o.inOutage(at) {
			o.earlierAnswered++
		}
		return
	}
	if o.inOutage(at) {
		o.answeredWhileDown++
		if len(o.examples) < 5 {
			o.examples = append(o.examples, fmt.Sprintf("%s: sent %v after Redis died, answered %v after", what,
				first.Sub(o.down).Round(time.Millisecond), at.Sub(o.down).Round(time.Millisecond)))
		}
	} else {
		o.answeredAfter++
	}
}

// faultDevice is a hotspot client: its MAC, how its NAS reports it, and its
// own randomness.
type faultDevice struct {
	idx  int
	mac  string // aa:bb:cc:dd:ee:ff, as User-Name (MAC authentication)
	csid string // AA-BB-CC-DD-EE-FF, as Calling-Station-Id (MikroTik style)
	hex  string // the hash tag of its Redis keys
	ip   net.IP
	// newID: retransmissions update Acct-Delay-Time (new Identifier);
	// otherwise they repeat the same bytes.
	newID bool
	// eventTS: its packets carry Event-Timestamp.
	eventTS bool
	pkts    int // requests sent: picks the server when there are several
	rng     *rand.Rand
	accts   []*faultAcct
}

// faultAcct is one accounting session (Acct-Session-Id) of a device, with
// its counters and the counters of its last answered packet: what the NAS
// knows the server has.
type faultAcct struct {
	dev *faultDevice
	id  string
	big bool // counts past 4 GiB (Acct-*-Gigawords)

	st      uint32
	in, out uint64

	ackSt          uint32
	ackIn, ackOut  uint64
	acked, stopped bool
	abandoned      bool // never stopped: its NAS rebooted
}

// dest picks a server for the device's next request: the device's requests
// alternate over the servers, and each retransmission goes to the next one.
func (n *faultNAS) dest(dev *faultDevice, servers []*net.UDPAddr) func(int) *net.UDPAddr {
	k := dev.idx + dev.pkts
	dev.pkts++
	return func(attempt int) *net.UDPAddr { return servers[(k+attempt)%len(servers)] }
}

// authorize sends the device's Access-Request (MAC authentication, with a
// Message-Authenticator) and wants an Access-Accept.
func (n *faultNAS) authorize(dev *faultDevice) error {
	what := fmt.Sprintf("Access-Request %s", dev.mac)
	b, err := n.exchange(faultReq{
		what: what,
		dest: n.dest(dev, n.auth),
		encode: func(id byte, _ uint32) ([]byte, error) {
			p := radius.New(radius.CodeAccessRequest, n.secret)
			p.Identifier = id
			_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16)) // first: BlastRADIUS
			_ = rfc2865.UserName_SetString(p, dev.mac)
			_ = rfc2865.UserPassword_SetString(p, dev.mac)
			_ = rfc2865.CallingStationID_SetString(p, dev.csid)
			_ = rfc2865.NASIPAddress_Set(p, net.IPv4(127, 0, 0, 1))
			_ = rfc2865.NASIdentifier_SetString(p, "fault-sim")
			_ = rfc2865.NASPortType_Set(p, rfc2865.NASPortType_Value_Wireless80211)
			if err := packet.SignMA(p); err != nil {
				return nil, err
			}
			return p.Encode() // same Authenticator: layeh sends it as set
		},
	})
	if err != nil {
		return err
	}
	if radius.Code(b[0]) != radius.CodeAccessAccept {
		return fmt.Errorf("%s: got %v, want Access-Accept", what, radius.Code(b[0]))
	}
	return nil
}

// newAcct begins a new accounting session of the device (nothing sent).
func (dev *faultDevice) newAcct(tag string) *faultAcct {
	a := &faultAcct{dev: dev, id: fmt.Sprintf("%s-%02x-%d", tag, dev.idx, len(dev.accts)+1), big: dev.rng.IntN(3) == 0}
	dev.accts = append(dev.accts, a)
	return a
}

// advance moves the counters as an interim interval of use would: a big
// session downloads 1–2.5 GiB per interval, so it passes 4 GiB in a few.
func (a *faultAcct) advance() {
	r := a.dev.rng
	a.st += 30 + r.Uint32N(90)
	if a.big {
		a.out += 1<<30 + r.Uint64N(3<<29)
		a.in += r.Uint64N(200_000_000)
	} else {
		a.out += r.Uint64N(50_000_000)
		a.in += r.Uint64N(5_000_000)
	}
}

// account sends one accounting packet of a with its current counters and
// records them as answered.
func (n *faultNAS) account(a *faultAcct, status rfc2866.AcctStatusType) error {
	dev := a.dev
	st, in, out := a.st, a.in, a.out
	event := time.Now() // Event-Timestamp: when the NAS produced the packet, the same on every retransmission
	what := fmt.Sprintf("Accounting-Request %v %s (time %d, octets %d)", status, a.id, st, in+out)
	b, err := n.exchange(faultReq{
		what:  what,
		newID: dev.newID,
		dest:  n.dest(dev, n.acct),
		encode: func(id byte, delay uint32) ([]byte, error) {
			p := radius.New(radius.CodeAccountingRequest, n.secret)
			p.Identifier = id
			_ = rfc2866.AcctStatusType_Set(p, status)
			_ = rfc2866.AcctSessionID_SetString(p, a.id)
			_ = rfc2865.UserName_SetString(p, dev.mac)
			_ = rfc2865.CallingStationID_SetString(p, dev.csid)
			_ = rfc2865.NASIPAddress_Set(p, net.IPv4(127, 0, 0, 1))
			_ = rfc2865.NASIdentifier_SetString(p, "fault-sim")
			_ = rfc2865.NASPortType_Set(p, rfc2865.NASPortType_Value_Wireless80211)
			_ = rfc2865.FramedIPAddress_Set(p, dev.ip)
			if status != rfc2866.AcctStatusType_Value_Start {
				_ = rfc2866.AcctSessionTime_Set(p, rfc2866.AcctSessionTime(st))
				_ = rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(uint32(in)))
				_ = rfc2866.AcctOutputOctets_Set(p, rfc2866.AcctOutputOctets(uint32(out)))
				_ = rfc2869.AcctInputGigawords_Set(p, rfc2869.AcctInputGigawords(in>>32))
				_ = rfc2869.AcctOutputGigawords_Set(p, rfc2869.AcctOutputGigawords(out>>32))
			}
			if status == rfc2866.AcctStatusType_Value_Stop {
				_ = rfc2866.AcctTerminateCause_Set(p, rfc2866.AcctTerminateCause_Value_UserRequest)
			}
			if dev.newID {
				_ = rfc2866.AcctDelayTime_Set(p, rfc2866.AcctDelayTime(delay))
			}
			if dev.eventTS {
				_ = rfc2869.EventTimestamp_Set(p, event)
			}
			return p.Encode()
		},
	})
	if err != nil {
		return err
	}
	if radius.Code(b[0]) != radius.CodeAccountingResponse {
		return fmt.Errorf("%s: got %v, want Accounting-Response", what, radius.Code(b[0]))
	}
	a.ackSt, a.ackIn, a.ackOut, a.acked = st, in, out, true
	if status == rfc2866.AcctStatusType_Value_Stop {
		a.stopped = true
	}
	return nil
}

// accountingOn sends the NAS's Accounting-On (it rebooted): no User-Name,
// no device. hold and dest may script its transmissions.
func (n *faultNAS) accountingOn(newID bool, dest func(int) *net.UDPAddr, hold func(int)) error {
	event := time.Now()
	b, err := n.exchange(faultReq{
		what:  "Accounting-On",
		newID: newID,
		dest:  dest,
		hold:  hold,
		encode: func(id byte, delay uint32) ([]byte, error) {
			p := radius.New(radius.CodeAccountingRequest, n.secret)
			p.Identifier = id
			_ = rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_AccountingOn)
			_ = rfc2866.AcctSessionID_SetString(p, fmt.Sprintf("on-%d", event.UnixNano()))
			_ = rfc2865.NASIPAddress_Set(p, net.IPv4(127, 0, 0, 1))
			_ = rfc2865.NASIdentifier_SetString(p, "fault-sim")
			_ = rfc2866.AcctDelayTime_Set(p, rfc2866.AcctDelayTime(delay))
			_ = rfc2869.EventTimestamp_Set(p, event)
			return p.Encode()
		},
	})
	if err != nil {
		return err
	}
	if radius.Code(b[0]) != radius.CodeAccountingResponse {
		return fmt.Errorf("Accounting-On: got %v, want Accounting-Response", radius.Code(b[0]))
	}
	return nil
}

// faultPlan is the traffic of one test.
type faultPlan struct {
	devices  int
	sessions int           // accounting sessions per device, one after the other
	interims int           // Interim-Updates per accounting session
	gap      time.Duration // mean pause between two packets of a session
}

// requests is how many requests the plan's NAS sends (Access-Requests
// included), for "mid-run" thresholds.
func (p faultPlan) requests() int64 {
	return int64(p.devices * p.sessions * (1 + 1 + p.interims + 1))
}

func (dev *faultDevice) pause(gap time.Duration) {
	if gap > 0 {
		time.Sleep(gap/2 + time.Duration(dev.rng.Int64N(int64(gap)))) // the user's traffic between two reports
	}
}

// session runs one whole accounting session of dev: Access-Request, Start,
// the Interim-Updates with growing counters, Stop. Some Stops carry the
// last interim's session time (the user left within the second).
func (n *faultNAS) session(dev *faultDevice, tag string, interims int, gap time.Duration) error {
	if err := n.authorize(dev); err != nil {
		return err
	}
	a := dev.newAcct(tag)
	if err := n.account(a, rfc2866.AcctStatusType_Value_Start); err != nil {
		return err
	}
	for range interims {
		dev.pause(gap)
		a.advance()
		if err := n.account(a, rfc2866.AcctStatusType_Value_InterimUpdate); err != nil {
			return err
		}
	}
	dev.pause(gap)
	if dev.rng.IntN(4) == 0 {
		a.in += dev.rng.Uint64N(1_000_000)
	} else {
		a.advance()
	}
	return n.account(a, rfc2866.AcctStatusType_Value_Stop)
}

// run drives plan.sessions whole accounting sessions on every device, all
// devices at once, and returns the first error.
func (n *faultNAS) run(devs []*faultDevice, plan faultPlan, tag string) error {
	return faultEach(devs, func(dev *faultDevice) error {
		for range plan.sessions {
			if err := n.session(dev, tag, plan.interims, plan.gap); err != nil {
				return err
			}
		}
		return nil
	})
}

// faultEach runs f for every device concurrently and joins the errors.
func faultEach(devs []*faultDevice, f func(*faultDevice) error) error {
	errs := make([]error, len(devs))
	var wg sync.WaitGroup
	for i, dev := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(dev)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// faultDB is the test's own view of Redis: it creates the devices'
// sessions and reads back what was consumed.
type faultDB struct {
	rdb   redis.UniversalClient
	store *redisstore.Store
	mgr   *session.SessionsMgr
}

func newFaultDB(t *testing.T, addr string) *faultDB {
	t.Helper()
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &faultDB{rdb: rdb, store: store, mgr: session.NewSessionsMgr(store, time.Now)}
}

// devices creates n devices, each with one session far too large to run
// out (so no spill-over, no Disconnect), of the three types in turn.
// Devices differ in how their NAS retransmits and whether it sends
// Event-Timestamp.
func (db *faultDB) devices(t *testing.T, n int, seed uint64) []*faultDevice {
	t.Helper()
	ctx := context.Background()
	devs := make([]*faultDevice, n)
	for i := range devs {
		mac := fmt.Sprintf("02:fa:17:00:%02x:%02x", i>>8, i&0xff)
		spec := session.Spec{DownMbits: 10, UpMbits: 2}
		switch i % 3 {
		case 0:
			spec.Type, spec.DataMb = session.TypeData, 1e9 // 1 PB
		case 1:
			spec.Type, spec.TimeSecs = session.TypeTime, 1e9
		default:
			spec.Type, spec.TimeSecs, spec.DataMb = session.TypeTimeOrData, 1e9, 1e9
		}
		cs, err := db.mgr.CreateSession(ctx, mac, spec)
		if err != nil {
			t.Fatalf("create session for %s: %v", mac, err)
		}
		devs[i] = &faultDevice{
			idx: i, mac: mac, hex: cs.MAC().Hex(),
			csid:    strings.ToUpper(strings.ReplaceAll(mac, ":", "-")),
			ip:      net.IPv4(10, 5, byte(i>>8), byte(i)),
			newID:   i%2 == 1,
			eventTS: i%4 < 2,
			rng:     rand.New(rand.NewPCG(seed, uint64(i))),
		}
	}
	return devs
}

// faultTotals are consumption figures.
type faultTotals struct {
	secs, bytes         uint64
	accts, big, aborted int // accounting sessions, of which past 4 GiB, abandoned
}

// want is what the NAS had answered: for each accounting session the
// counters of its last answered packet (its Stop's, when it stopped).
func faultWant(devs []*faultDevice) (faultTotals, map[string]faultTotals) {
	var all faultTotals
	per := map[string]faultTotals{}
	for _, dev := range devs {
		var d faultTotals
		for _, a := range dev.accts {
			if !a.acked {
				continue
			}
			d.secs += uint64(a.ackSt)
			d.bytes += a.ackIn + a.ackOut
			d.accts++
			if a.ackIn+a.ackOut >= 1<<32 {
				d.big++
			}
			if a.abandoned {
				d.aborted++
			}
		}
		per[dev.mac] = d
		all.secs += d.secs
		all.bytes += d.bytes
		all.accts += d.accts
		all.big += d.big
		all.aborted += d.aborted
	}
	return all, per
}

// compare reads every device's time_cons and data_cons_bytes from Redis
// and compares them with what the NAS sent, exactly; on a difference it
// shows up to show devices with their accounting records.
func (db *faultDB) compare(t *testing.T, devs []*faultDevice, show int) (want, got faultTotals) {
	t.Helper()
	ctx := context.Background()
	want, per := faultWant(devs)
	var diffs []string
	for _, dev := range devs {
		ss, err := db.mgr.Sessions(ctx, dev.mac)
		if err != nil {
			t.Fatalf("sessions of %s: %v", dev.mac, err)
		}
		if len(ss) != 1 {
			t.Errorf("%s has %d sessions in Redis, want 1 (data lost?)", dev.mac, len(ss))
		}
		var secs, bytes uint64
		for _, s := range ss {
			secs += s.Data().TimeCons
			bytes += s.Data().DataConsBytes
		}
		got.secs += secs
		got.bytes += bytes
		w := per[dev.mac]
		if secs != w.secs || bytes != w.bytes {
			diffs = append(diffs, fmt.Sprintf("  %s: time_cons %d, want %d (%+d); data_cons_bytes %d, want %d (%+d)\n%s",
				dev.mac, secs, w.secs, int64(secs)-int64(w.secs), bytes, w.bytes, int64(bytes)-int64(w.bytes), db.records(ctx, dev)))
		}
	}
	got.accts, got.big, got.aborted = want.accts, want.big, want.aborted
	if len(diffs) > 0 {
		n := len(diffs)
		if n > show {
			diffs = append(diffs[:show], fmt.Sprintf("  … and %d more devices", n-show))
		}
		t.Errorf("Redis does not hold what the NAS sent: time_cons %d, want %d (%+d); data_cons_bytes %d, want %d (%+d); %d of %d devices differ:\n%s",
			got.secs, want.secs, int64(got.secs)-int64(want.secs), got.bytes, want.bytes, int64(got.bytes)-int64(want.bytes),
			n, len(devs), strings.Join(diffs, "\n"))
	}
	return want, got
}

// record returns an accounting record's hash.
func (db *faultDB) record(ctx context.Context, a *faultAcct) (map[string]string, error) {
	return db.rdb.HGetAll(ctx, "hs:{"+a.dev.hex+"}:acct:"+faultNASName+":"+a.id).Result()
}

// records shows a device's accounting records next to what the NAS sent
// for each: one line per record.
func (db *faultDB) records(ctx context.Context, dev *faultDevice) string {
	var lines []string
	for _, a := range dev.accts {
		h, err := db.record(ctx, a)
		if err != nil {
			lines = append(lines, fmt.Sprintf("    %s: %v", a.id, err))
			continue
		}
		sent := "open"
		switch {
		case a.stopped:
			sent = "stopped"
		case a.abandoned:
			sent = "abandoned"
		}
		lines = append(lines, fmt.Sprintf("    %s: NAS %s time %d octets %d | record %s%s time %s octets %s+%s charged %s s %s B",
			a.id, sent, a.ackSt, a.ackIn+a.ackOut, h["state"], strings.TrimSuffix("/"+h["closed_by"], "/"),
			h["session_time"], h["in_octets"], h["out_octets"], h["charged_secs"], h["charged_bytes"]))
	}
	return fmt.Sprintf("    (Event-Timestamp %v, retransmits with a new Identifier %v)\n%s", dev.eventTS, dev.newID, strings.Join(lines, "\n"))
}

func (w faultTotals) String() string {
	return fmt.Sprintf("time %d s, data %d bytes (%.2f GB) over %d accounting sessions (%d past 4 GiB, %d abandoned)",
		w.secs, w.bytes, float64(w.bytes)/1e9, w.accts, w.big, w.aborted)
}
