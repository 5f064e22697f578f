package redisstore

// The model behind TestAccountExhaustive: scenarios (what really happened on
// the NAS), every delivery of their packets within a fault scope, and the
// oracle that says what the device's sessions must hold afterwards. It is
// written from README.md ("The session model", "How accounting is counted"),
// not from the scripts: nothing here calls the store.

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hotspot-radius/hsradius/session"
)

// pktKind is what a packet of the model is: one of a NAS session's
// accounting packets, or an Accounting-On of its whole NAS.
type pktKind uint8

const (
	pStart pktKind = iota + 1
	pInterim
	pStop
	pOn
)

func (k pktKind) String() string {
	switch k {
	case pStart:
		return "start"
	case pInterim:
		return "interim"
	case pStop:
		return "stop"
	case pOn:
		return "accounting-on"
	}
	return "unknown"
}

// A packet is one packet as the NAS generated it: ground truth.
type packet struct {
	kind   pktKind
	nas    string
	acctID string // Acct-Session-Id; "" on an Accounting-On
	truth  int    // the true NAS session it belongs to (index in scenario.truth); -1 on an Accounting-On
	gen    int64  // when the NAS generated it: seconds after the epoch (NAS clock)
	// The NAS session's true cumulative counters: Acct-Session-Time, input
	// and output octets (64-bit, whatever the wire carries).
	st, in, out uint64
}

func start(gen int64) packet { return packet{kind: pStart, gen: gen} }
func interim(gen int64, st, in, out uint64) packet {
	return packet{kind: pInterim, gen: gen, st: st, in: in, out: out}
}
func stop(gen int64, st, in, out uint64) packet {
	return packet{kind: pStop, gen: gen, st: st, in: in, out: out}
}

// A nasSession is a true NAS session: what one NAS counted for the device
// under one Acct-Session-Id, from its Start to its Stop (or to the NAS's
// reboot), its packets in NAS time order. Two true sessions may share an
// Acct-Session-Id (a NAS reusing it): the oracle never keys by it.
type nasSession struct {
	nas, acctID string
	pkts        []packet
}

// allocation is one of the device's sessions as the scenario creates it.
type allocation struct {
	typ         session.Type
	secs, bytes uint64
}

func (a allocation) limitsTime() bool {
	return a.typ == session.TypeTime || a.typ == session.TypeTimeOrData
}
func (a allocation) limitsData() bool {
	return a.typ == session.TypeData || a.typ == session.TypeTimeOrData
}

// faults bounds the deliveries enumerated: at most dup packets sent twice
// and lost packets never delivered, per delivery (anyFaults: no bound).
type faults struct{ dup, lost int }

const anyFaults = math.MaxInt

// A scenario is one device with two sessions (s1, which runs out, and s2,
// created after it, which takes the spill-over), the true NAS sessions that
// charge it, and Accounting-On packets of their NAS.
type scenario struct {
	name   string
	s1, s2 allocation
	truth  []nasSession
	ons    []packet // Accounting-On: kind pOn, nas and gen
	// classes[i], when set, is the Class true session i echoes (the NAS got
	// it in its Access-Accept); "" or missing: the NAS echoes none.
	classes []string
	// policy is how the server reads this NAS's accounting (retransmit
	// window, 32-bit wrap, Stop/Start updates).
	policy session.AcctPolicy
	// maxLate, when set, bounds the model: a copy arrives at most maxLate
	// seconds after the NAS generated it (the retransmit window), and
	// never after its NAS rebooted (an Accounting-On generated later than
	// it: the NAS forgets what it was resending). Deliveries outside the
	// model are skipped and counted.
	maxLate int64
	// eventTimestamp: the NAS sends its own clock (Event-Timestamp) in
	// accounting packets (CoovaChilli does, MikroTik and pfSense do not).
	eventTimestamp bool
	// noGigawords: the NAS sends no Acct-Input/Output-Gigawords, so the
	// octets on the wire are the true counters modulo 2^32.
	noGigawords bool
	// ci is the fault scope run by default, nil for none; long the one run
	// with HSRADIUS_EXHAUSTIVE=long, nil for ci's.
	ci, long *faults
	// known, when set, says why the server does not pass this scenario yet:
	// it runs only with HSRADIUS_EXHAUSTIVE=known.
	known string
	// arrive is a copy's arrival (server clock, seconds after the epoch)
	// after a previous arrival prev (math.MinInt64 for the first copy) of a
	// packet generated at gen; it must return at least prev and gen. nil:
	// arriveNext.
	arrive func(prev, gen int64) int64
	// delays are the Acct-Delay-Times the NAS may report for a copy
	// generated at gen and arriving at arrival (a NAS may under-report it):
	// every combination of distinct choices is a delivery of its own. nil:
	// exact, arrival − gen.
	delays func(gen, arrival int64) []int64
}

// arriveNext: each copy one second after the previous one, or when it is
// generated if later. A retransmission thus arrives later, with a larger
// Acct-Delay-Time, as a NAS's retry does.
func arriveNext(prev, gen int64) int64 {
	if prev == math.MinInt64 || prev+1 < gen {
		return gen
	}
	return prev + 1
}

func exactDelay(gen, arrival int64) []int64 { return []int64{arrival - gen} }

// packets returns every packet of the scenario: the true sessions' in
// order, then the Accounting-Ons.
func (sc *scenario) packets() []packet {
	var out []packet
	for i, ns := range sc.truth {
		for _, p := range ns.pkts {
			p.nas, p.acctID, p.truth = ns.nas, ns.acctID, i
			out = append(out, p)
		}
	}
	for _, p := range sc.ons {
		p.kind, p.truth, p.acctID = pOn, -1, ""
		out = append(out, p)
	}
	return out
}

// validate checks that the scenario is a possible history: counters that
// only grow, a Start only first and a Stop only last, and no NAS session
// that survives a reboot of its NAS.
func (sc *scenario) validate() error {
	for i, ns := range sc.truth {
		if len(ns.pkts) == 0 {
			return fmt.Errorf("true session %d (%s %s) has no packets", i, ns.nas, ns.acctID)
		}
		for j, p := range ns.pkts {
			if p.kind == pStart && j != 0 || p.kind == pStop && j != len(ns.pkts)-1 || p.kind == pOn {
				return fmt.Errorf("true session %d (%s %s): %s at position %d", i, ns.nas, ns.acctID, p.kind, j)
			}
			if j > 0 {
				q := ns.pkts[j-1]
				if p.gen < q.gen || p.st < q.st || p.in < q.in || p.out < q.out {
					return fmt.Errorf("true session %d (%s %s): packet %d goes back in time or counters", i, ns.nas, ns.acctID, j)
				}
			}
		}
		for _, on := range sc.ons {
			first, last := ns.pkts[0].gen, ns.pkts[len(ns.pkts)-1].gen
			if on.nas == ns.nas && first <= on.gen && on.gen <= last {
				return fmt.Errorf("true session %d (%s %s) spans the Accounting-On at %d", i, ns.nas, ns.acctID, on.gen)
			}
		}
	}
	return nil
}

// possible says whether a delivery fits the scenario's model (maxLate).
func (sc *scenario) possible(pk []packet, d delivery) bool {
	if sc.maxLate == 0 {
		return true
	}
	for _, c := range d.seq {
		p := pk[c.pkt]
		if c.arrival-p.gen > sc.maxLate {
			return false
		}
		for _, on := range sc.ons {
			if p.kind != pOn && on.nas == p.nas && p.gen < on.gen && c.arrival > on.gen {
				return false
			}
		}
	}
	return true
}

// A sent is one delivered copy of a packet.
type sent struct {
	pkt     int   // index in packets()
	retx    bool  // the second copy: a retransmission (new Identifier, larger Acct-Delay-Time)
	arrival int64 // server clock, seconds after the epoch
	delay   int64 // the Acct-Delay-Time it carries
}

// A delivery is what the server receives: copies[i] of packet i (0 lost, 1,
// or 2 duplicated), in the order of seq.
type delivery struct {
	copies []int
	seq    []sent
}

// deliveries yields every delivery of the scenario's packets within f,
// shortest first: each packet lost, sent once or twice, the copies in every
// order (a packet's two copies are alike but for their arrival, so only
// their positions count), with every choice of reported delays.
func (sc *scenario) deliveries(f faults) iter.Seq[delivery] {
	pk := sc.packets()
	arrive, delays := sc.arrive, sc.delays
	if arrive == nil {
		arrive = arriveNext
	}
	if delays == nil {
		delays = exactDelay
	}
	return func(yield func(delivery) bool) {
		n := len(pk)
		copies := make([]int, n)
		left := make([]int, n)
		order := make([]int, 0, 2*n)
		// perm extends order by every packet with copies left.
		var perm func(length int) bool
		perm = func(length int) bool {
			if len(order) == length {
				seq := make([]sent, length)
				choices := make([][]int64, length)
				prev := int64(math.MinInt64)
				placed := make([]bool, n)
				for i, p := range order {
					at := arrive(prev, pk[p].gen)
					if at < prev || at < pk[p].gen {
						panic(fmt.Sprintf("arrival %d before the previous %d or generation %d", at, prev, pk[p].gen))
					}
					seq[i] = sent{pkt: p, retx: placed[p], arrival: at}
					choices[i] = slices.Compact(slices.Sorted(slices.Values(delays(pk[p].gen, at))))
					placed[p], prev = true, at
				}
				// Every combination of the copies' delays, as an odometer.
				pick := make([]int, length)
				for {
					d := delivery{copies: append([]int(nil), copies...), seq: slices.Clone(seq)}
					for i := range d.seq {
						d.seq[i].delay = choices[i][pick[i]]
					}
					if !yield(d) {
						return false
					}
					i := 0
					for ; i < length; i++ {
						if pick[i]++; pick[i] < len(choices[i]) {
							break
						}
						pick[i] = 0
					}
					if i == length {
						return true
					}
				}
			}
			for p := range n {
				if left[p] == 0 {
					continue
				}
				left[p]--
				order = append(order, p)
				ok := perm(length)
				order = order[:len(order)-1]
				left[p]++
				if !ok {
					return false
				}
			}
			return true
		}
		for length := 0; length <= 2*n; length++ {
			// Every fate vector (a base-3 number) with this many copies.
			for v := 0; v < pow3(n); v++ {
				sum, dups, lost := 0, 0, 0
				for i, x := 0, v; i < n; i, x = i+1, x/3 {
					copies[i] = x % 3
					sum += copies[i]
					if copies[i] == 2 {
						dups++
					} else if copies[i] == 0 {
						lost++
					}
				}
				if sum != length || dups > f.dup || lost > f.lost {
					continue
				}
				copy(left, copies)
				if !perm(length) {
					return
				}
			}
		}
	}
}

func pow3(n int) int {
	r := 1
	for range n {
		r *= 3
	}
	return r
}

// countDeliveries is how many deliveries f allows for n packets with one
// choice of delay per copy, by formula:
// for each choice of which packets are duplicated, lost or sent once,
// (copies)! / 2^(duplicated) orders.
func countDeliveries(n int, f faults) uint64 {
	fact := func(k int) uint64 {
		r := uint64(1)
		for i := 2; i <= k; i++ {
			r *= uint64(i)
		}
		return r
	}
	var total uint64
	for dups := 0; dups <= n && dups <= f.dup; dups++ {
		for lost := 0; lost+dups <= n && lost <= f.lost; lost++ {
			once := n - dups - lost
			choose := fact(n) / (fact(dups) * fact(lost) * fact(once))
			total += choose * fact(once+2*dups) >> dups
		}
	}
	return total
}

// counted is what each true NAS session counted as far as the delivered
// packets tell: with Gigawords, the largest counters any delivered copy
// carries (the counters only grow); without, the octets unwrapped along
// the delivered packets in NAS order, each fall of a 32-bit counter being
// one wrap (the fewest the packets allow). A lost packet whose later packet
// arrived is covered by it; what no delivered packet reported, the server
// cannot know. Keyed by true session, never by Acct-Session-Id. An
// Accounting-On changes nothing here: it ends what the NAS counts, and a
// NAS session's packets all come before it in NAS time (validate).
func (sc *scenario) counted(d delivery) []use {
	pk := sc.packets()
	seen := make([]bool, len(pk))
	for _, c := range d.seq {
		seen[c.pkt] = true
	}
	type counters struct{ st, in, out, lastIn, lastOut uint64 }
	m := make([]counters, len(sc.truth))
	rise := func(last, now uint64) uint64 {
		if now >= last {
			return now - last
		}
		return now + 1<<32 - last // a wrap: only a 32-bit wire value falls
	}
	for i, p := range pk { // each true session's packets in NAS order
		if !seen[i] || p.truth < 0 {
			continue
		}
		x := &m[p.truth]
		in, out := sc.wire(p.in), sc.wire(p.out)
		x.st = max(x.st, p.st)
		x.in, x.out = x.in+rise(x.lastIn, in), x.out+rise(x.lastOut, out)
		x.lastIn, x.lastOut = in, out
	}
	res := make([]use, len(m))
	for i, x := range m {
		res[i] = use{x.st, x.in + x.out}
	}
	return res
}

// wire is an octet counter as the NAS sends it.
func (sc *scenario) wire(v uint64) uint64 {
	if sc.noGigawords {
		return v % (1 << 32)
	}
	return v
}

// check compares the device's sessions after a delivery with the oracle:
// got1 and got2 are what S1 and S2 hold, unbilled what the server reported
// no session could take. The sum over the sessions is the sum over the true
// NAS sessions (nothing counted twice, nothing lost that a delivered packet
// reported); S1 holds, of a kind that limits it, all it has room for before
// the rest spills over to S2 (README.md, "The session model").
func (sc *scenario) check(d delivery, got1, got2, unbilled use) error {
	var total use
	for _, u := range sc.counted(d) {
		total.secs += u.secs
		total.bytes += u.bytes
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if got := got1.secs + got2.secs + unbilled.secs; got != total.secs {
		bad("time charged %d s (S1 %d + S2 %d + unbilled %d), want %d s: what the NAS sessions counted", got, got1.secs, got2.secs, unbilled.secs, total.secs)
	}
	if got := got1.bytes + got2.bytes + unbilled.bytes; got != total.bytes {
		bad("data charged %d B (S1 %d + S2 %d + unbilled %d), want %d B: what the NAS sessions counted", got, got1.bytes, got2.bytes, unbilled.bytes, total.bytes)
	}
	if unbilled != (use{}) {
		bad("unbilled %d s %d B: the device always had a session", unbilled.secs, unbilled.bytes)
	}
	a, b := sc.s1, sc.s2
	// Overage: more than both sessions hold. Each NAS session's overage
	// stays on the session it was charging (README.md, "The session
	// model"), which depends on the order: the oracle then checks what holds
	// in every order — S1 full before S2 takes anything, and no session over
	// its allocation while another still had room.
	overTime := a.limitsTime() && b.limitsTime() && total.secs > a.secs+b.secs
	overData := a.limitsData() && b.limitsData() && total.bytes > a.bytes+b.bytes
	if overTime || overData {
		if overTime && (got1.secs < a.secs || got2.secs < b.secs) {
			bad("overage: S1 holds %d s of %d, S2 %d s of %d: a session was left with room", got1.secs, a.secs, got2.secs, b.secs)
		}
		if overData && (got1.bytes < a.bytes || got2.bytes < b.bytes) {
			bad("overage: S1 holds %d B of %d, S2 %d B of %d: a session was left with room", got1.bytes, a.bytes, got2.bytes, b.bytes)
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s", strings.Join(errs, "\n"))
		}
		return nil
	}
	timeOut := a.limitsTime() && total.secs >= a.secs
	dataOut := a.limitsData() && total.bytes >= a.bytes
	switch {
	case !timeOut && !dataOut:
		// S1 never ran out: it took everything.
		if got1 != total || got2 != (use{}) {
			bad("S1 holds %d s %d B and S2 %d s %d B, want all (%d s %d B) on S1: it never ran out", got1.secs, got1.bytes, got2.secs, got2.bytes, total.secs, total.bytes)
		}
	case timeOut && !dataOut:
		if got1.secs != a.secs {
			bad("S1 holds %d s, want its %d s (of %d s counted) before the rest spills over", got1.secs, a.secs, total.secs)
		}
	case dataOut && !timeOut:
		if got1.bytes != a.bytes {
			bad("S1 holds %d B, want its %d B (of %d B counted) before the rest spills over", got1.bytes, a.bytes, total.bytes)
		}
	default:
		// Both kinds would run out: whichever did first ended S1.
		if got1.secs != a.secs && got1.bytes != a.bytes {
			bad("S1 holds %d s %d B: neither kind reached its allocation (%d s, %d B) though both were exceeded", got1.secs, got1.bytes, a.secs, a.bytes)
		}
	}
	if a.limitsTime() && got1.secs > a.secs {
		bad("S1 holds %d s, more than its %d s", got1.secs, a.secs)
	}
	if a.limitsData() && got1.bytes > a.bytes {
		bad("S1 holds %d B, more than its %d B", got1.bytes, a.bytes)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// format prints a delivery as a packet list, with what the server answered
// to each copy (results[i], "" if not known) and the lost packets.
func (sc *scenario) format(d delivery, results []string) string {
	pk := sc.packets()
	var b strings.Builder
	desc := func(p packet) string {
		if p.kind == pOn {
			return fmt.Sprintf("%-13s %-5s %-4s %-28s gen=%-4d", p.kind, p.nas, "", "", p.gen)
		}
		return fmt.Sprintf("%-13s %-5s %-4s st=%-4d in=%-7d out=%-8d gen=%-4d", p.kind, p.nas, p.acctID, p.st, sc.wire(p.in), sc.wire(p.out), p.gen)
	}
	for i, c := range d.seq {
		fmt.Fprintf(&b, "  %2d. %s arrival=%-4d delay=%-3d", i+1, desc(pk[c.pkt]), c.arrival, c.delay)
		if c.retx {
			b.WriteString(" dup")
		}
		if i < len(results) && results[i] != "" {
			b.WriteString("  -> " + results[i])
		}
		b.WriteString("\n")
	}
	for p, n := range d.copies {
		if n == 0 {
			fmt.Fprintf(&b, "  lost %s\n", desc(pk[p]))
		}
	}
	for i, u := range sc.counted(d) {
		fmt.Fprintf(&b, "  true session %d (%s %s) counted %d s %d B\n", i, sc.truth[i].nas, sc.truth[i].acctID, u.secs, u.bytes)
	}
	return b.String()
}

// TestExhaustiveDeliveries checks the enumeration itself: every delivery
// once, shortest first, each packet's copies as its fate says, arrivals in
// order and never before generation, as many orders as the formula says,
// each with every combination of delay choices.
func TestExhaustiveDeliveries(t *testing.T) {
	sc := scenario{
		truth: []nasSession{{"nas-a", "a1", []packet{start(0), interim(30, 30, 1, 2), stop(60, 60, 3, 4)}}},
		ons:   []packet{{nas: "nas-a", gen: 90}},
	}
	pk := sc.packets()
	for _, tc := range []struct {
		name    string
		f       faults
		delays  func(gen, arrival int64) []int64
		choices int // delay choices per copy
	}{
		{"every fault", faults{dup: anyFaults, lost: anyFaults}, nil, 1},
		{"one dup, no loss", faults{dup: 1, lost: 0}, nil, 1},
		{"two delays each", faults{dup: 1, lost: anyFaults}, func(gen, arrival int64) []int64 { return []int64{arrival - gen, arrival - gen + 7, arrival - gen} }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc.delays = tc.delays
			seen := map[string]bool{}
			orders := map[string]int{} // deliveries per order of copies
			copies := map[string]int{} // copies in the order
			prevLen := 0
			for d := range sc.deliveries(tc.f) {
				key := fmt.Sprint(d.seq)
				if seen[key] {
					t.Fatalf("delivery %s twice", key)
				}
				seen[key] = true
				if len(d.seq) < prevLen {
					t.Fatalf("delivery of %d copies after one of %d", len(d.seq), prevLen)
				}
				prevLen = len(d.seq)
				count := make([]int, len(pk))
				prev := int64(math.MinInt64)
				var order []int
				for _, c := range d.seq {
					if c.retx != (count[c.pkt] == 1) {
						t.Fatalf("%v: copy %d of packet %d marked retx=%v", d.seq, count[c.pkt]+1, c.pkt, c.retx)
					}
					count[c.pkt]++
					if c.arrival < prev || c.arrival < pk[c.pkt].gen {
						t.Fatalf("%v: arrival %d after %d, generated %d", d.seq, c.arrival, prev, pk[c.pkt].gen)
					}
					prev = c.arrival
					order = append(order, c.pkt)
				}
				if !slices.Equal(count, d.copies) {
					t.Fatalf("%v: copies %v, fates %v", d.seq, count, d.copies)
				}
				orders[fmt.Sprint(order)]++
				copies[fmt.Sprint(order)] = len(order)
			}
			if got, want := uint64(len(orders)), countDeliveries(len(pk), tc.f); got != want {
				t.Errorf("%d orders, want %d", got, want)
			}
			for order, n := range orders {
				want := 1
				for range copies[order] {
					want *= tc.choices
				}
				if n != want {
					t.Errorf("order %s delivered %d times, want %d (one per combination of delays)", order, n, want)
				}
			}
		})
	}
}
