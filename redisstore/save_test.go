package redisstore

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/redisstore/redistest"
	"github.com/hotspot-radius/hsradius/session"
)

// slowProxy relays TCP between clients and a Redis on loopback. While slow
// is set it holds back Redis's answers to scripts (EVAL, EVALSHA) for delay:
// the script has run, but a client with a shorter read timeout gives up
// waiting, the way a lost reply looks. It counts the script answers Redis
// sent, so that a test knows when a script has run without guessing a time.
type slowProxy struct {
	addr   string
	target string
	delay  time.Duration
	slow   atomic.Bool

	mu      sync.Mutex
	answers int           // script answers Redis has sent
	changed chan struct{} // signalled when answers grows

	ln    net.Listener
	done  chan struct{}
	conns sync.WaitGroup
	open  sync.Map // net.Conn → struct{}: closed at cleanup
}

func startSlowProxy(t *testing.T, target string, delay time.Duration) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	p := &slowProxy{
		addr: ln.Addr().String(), target: target, delay: delay,
		changed: make(chan struct{}, 1), ln: ln, done: make(chan struct{}),
	}
	p.conns.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Go(func() { p.relay(c) })
		}
	})
	t.Cleanup(func() {
		close(p.done)
		_ = ln.Close()
		p.open.Range(func(c, _ any) bool { _ = c.(net.Conn).Close(); return true })
		p.conns.Wait()
	})
	return p
}

func (p *slowProxy) relay(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	p.open.Store(client, struct{}{})
	p.open.Store(server, struct{}{})
	defer func() {
		_ = client.Close()
		_ = server.Close()
		p.open.Delete(client)
		p.open.Delete(server)
	}()
	var scripts atomic.Int64 // scripts sent on this connection, not yet answered
	p.conns.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				// go-redis sends each command in one write; the script's
				// name follows its length ("$7\r\nevalsha").
				if bytes.Contains(bytes.ToLower(buf[:n]), []byte("\neval")) {
					scripts.Add(1)
				}
				if _, werr := server.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				// Let Redis read what was sent before the client gave up.
				_ = server.(*net.TCPConn).CloseWrite()
				return
			}
		}
	})
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			script := scripts.Load() > 0
			if script {
				scripts.Add(-1)
				p.answered()
			}
			if script && p.slow.Load() {
				select {
				case <-time.After(p.delay):
				case <-p.done:
					return
				}
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *slowProxy) answered() {
	p.mu.Lock()
	p.answers++
	p.mu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// waitAnswers waits until Redis has answered n scripts through the proxy.
func (p *slowProxy) waitAnswers(t *testing.T, n int) {
	t.Helper()
	limit := time.After(20 * time.Second)
	for {
		p.mu.Lock()
		got := p.answers
		p.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-p.changed:
		case <-limit:
			t.Fatalf("proxy: Redis answered %d scripts, want %d", got, n)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// TestSaveRetryAfterLostReply: a Save whose reply is lost (Redis ran it, the
// client timed out) and is then retried counts its increments and top-ups
// once, whether the caller retries, go-redis retries on its own, or the
// caller adds usage before retrying.
func TestSaveRetryAfterLostReply(t *testing.T) {
	srv := redistest.Start(t)
	direct := newTestStore(t, srv.Addr)
	tests := []struct {
		name       string
		maxRetries int // of the slow client: -1 none, 0 go-redis's default (3)
		attempts   int // scripts the failed Save sends
		more       uint
	}{
		{"caller retries", -1, 1, 0},
		{"caller adds usage, then retries", -1, 1, 30},
		{"go-redis retries on its own, then the caller", 0, 4, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			flushAll(t, direct)
			// The script is cached, so the slow Save is one EVALSHA.
			if err := direct.save.Load(ctx, direct.rdb).Err(); err != nil {
				t.Fatalf("SCRIPT LOAD: %v", err)
			}
			id := create(t, direct, testMAC, timeSpec(3600))

			p := startSlowProxy(t, srv.Addr, 120*time.Millisecond)
			rdb, err := NewClient(ClientConfig{Addrs: []string{p.addr}, ReadTimeout: 50 * time.Millisecond, MaxRetries: tc.maxRetries})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rdb.Close() })
			slow, err := New(rdb, Options{})
			if err != nil {
				t.Fatal(err)
			}
			cs, err := mgrAt(slow, t0).GetSession(ctx, id)
			if err != nil {
				t.Fatalf("GetSession: %v", err)
			}

			cs.IncTimeCons(60)
			cs.TopUpTime(600)
			p.slow.Store(true)
			err = cs.Save(ctx)
			if !isTimeout(err) {
				t.Fatalf("Save with the reply held back: got %v, want an i/o timeout", err)
			}
			p.waitAnswers(t, tc.attempts)
			stored, err := direct.GetSession(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if stored.TimeCons != 60 || stored.TimeSecs != 3600+600 {
				t.Errorf("after the lost reply: stored time_cons %d, time_secs %d; want 60, 4200 (Redis ran the Save, once)", stored.TimeCons, stored.TimeSecs)
			}

			cs.IncTimeCons(tc.more)
			p.slow.Store(false)
			if err := cs.Save(ctx); err != nil {
				t.Fatalf("retried Save: %v", err)
			}
			stored, err = direct.GetSession(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want := 60 + uint64(tc.more)
			if stored.TimeCons != want || stored.TimeSecs != 3600+600 {
				t.Errorf("after the retry: stored time_cons %d, time_secs %d; want %d, 4200", stored.TimeCons, stored.TimeSecs, want)
			}
			if got := cs.TimeConsumption(); uint64(got) != want {
				t.Errorf("TimeConsumption() after the retry: got %d, want %d", got, want)
			}
			// Nothing is left to send.
			if err := cs.Save(ctx); err != nil {
				t.Fatal(err)
			}
			if stored, _ = direct.GetSession(ctx, id); stored.TimeCons != want {
				t.Errorf("after a third Save: stored time_cons %d, want %d", stored.TimeCons, want)
			}
		})
	}
}

// testSaveIdempotent: SaveSession with a writer adds, per counter, only what
// the writer's running total exceeds of what is known applied: repeats,
// stale copies and retries that fold in new increments count each
// increment once; a lost writer record falls back on what the writer says
// was acknowledged. Without a writer, increments are plain additions.
func testSaveIdempotent(t *testing.T, s *Store) {
	ctx := t.Context()
	id := create(t, s, testMAC, todSpec(3600, 100))
	const w = "WRITER1"
	record := DefaultPrefix + "{" + testMAC.Hex() + "}:w:" + w
	type counters = session.Counters
	ctr := func(tc, dc, ts, db uint64) counters {
		return counters{TimeCons: tc, DataConsBytes: dc, TimeSecs: ts, DataBytes: db}
	}
	changes := func(acked counters, tc, dc, ts, db uint64) session.Changes {
		return session.Changes{Writer: w, Acked: acked, IncTimeCons: tc, IncDataConsBytes: dc, IncTimeSecs: ts, IncDataBytes: db}
	}
	steps := []struct {
		name string
		c    session.Changes
		// stored time_cons, data_cons_bytes, time_secs, data_bytes after it
		want counters
	}{
		{"first", changes(ctr(0, 0, 0, 0), 60, 1000, 600, 5000), ctr(60, 1000, 3600+600, 100_005_000)},
		{"the same again", changes(ctr(0, 0, 0, 0), 60, 1000, 600, 5000), ctr(60, 1000, 3600+600, 100_005_000)},
		{"again, with new increments folded in", changes(ctr(0, 0, 0, 0), 90, 1000, 600, 5000), ctr(90, 1000, 3600+600, 100_005_000)},
		{"a stale copy arriving late", changes(ctr(0, 0, 0, 0), 60, 1000, 600, 5000), ctr(90, 1000, 3600+600, 100_005_000)},
		{"the next, acknowledged base", changes(ctr(90, 1000, 600, 5000), 10, 1, 0, 0), ctr(100, 1001, 3600+600, 100_005_000)},
		{"a set counter takes its value", func() session.Changes {
			c := changes(ctr(100, 1001, 600, 5000), 7, 0, 0, 0)
			c.Set, c.Values.TimeCons = session.FieldTimeCons, 500
			return c
		}(), ctr(500, 1001, 3600+600, 100_005_000)},
		{"and its increment, sent again without the set, adds nothing", changes(ctr(100, 1001, 600, 5000), 7, 0, 0, 0), ctr(500, 1001, 3600+600, 100_005_000)},
	}
	for _, st := range steps {
		d, err := s.SaveSession(ctx, id, st.c)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := ctr(d.TimeCons, d.DataConsBytes, d.TimeSecs, d.DataBytes); got != st.want {
			t.Errorf("%s: stored %+v, want %+v", st.name, got, st.want)
		}
	}
	h := hgetall(t, s, record)
	want := map[string]string{"time_cons": "107", "data_cons_bytes": "1001", "time_secs": "600", "data_bytes": "5000"}
	if !maps.Equal(h, want) {
		t.Errorf("writer record %s: got %v, want %v", record, h, want)
	}
	checkTTL(t, s, record, DefaultWriterTTL)

	// The record expired: what the writer says was acknowledged is the base.
	if err := s.rdb.Del(ctx, record).Err(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		d, err := s.SaveSession(ctx, id, changes(ctr(107, 1001, 600, 5000), 5, 0, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if d.TimeCons != 505 {
			t.Errorf("after the record expired: time_cons %d, want 505", d.TimeCons)
		}
	}

	// Without a writer, each SaveSession adds.
	for i := range 2 {
		d, err := s.SaveSession(ctx, id, session.Changes{IncTimeCons: 1})
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(506 + i); d.TimeCons != want {
			t.Errorf("writer-less save %d: time_cons %d, want %d", i, d.TimeCons, want)
		}
	}

	// A writer with no increments leaves no record.
	if _, err := s.SaveSession(ctx, id, session.Changes{Writer: "SETTER", Set: session.FieldUpMbits, Values: session.Data{UpMbits: 4}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.rdb.Exists(ctx, DefaultPrefix+"{"+testMAC.Hex()+"}:w:SETTER").Result(); err != nil || n != 0 {
		t.Errorf("a writer that added nothing has a record: EXISTS %d, %v", n, err)
	}

	// Running totals must stay exact in Lua: 2⁵³ and above are refused.
	before, err := s.GetSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.SaveSession(ctx, id, changes(counters{DataBytes: 1<<53 - 1}, 0, 0, 0, 1))
	if !errors.Is(err, session.ErrInvalid) {
		t.Errorf("running total of 2^53: got %v, want an error wrapping ErrInvalid", err)
	}
	if after, _ := s.GetSession(ctx, id); after != before {
		t.Errorf("a refused save changed the session:\n got %+v\nwant %+v", after, before)
	}
}

// hookedStore is a Store whose SaveSession first runs during: what a caller
// does while its Save waits for Redis.
type hookedStore struct {
	*Store
	during func()
}

func (h hookedStore) SaveSession(ctx context.Context, id string, c session.Changes) (session.Data, error) {
	h.during()
	return h.Store.SaveSession(ctx, id, c)
}

// testClientSessionConcurrentUse: one ClientSession, a ticker goroutine
// calling IncTimeCons(1) 100 times while another goroutine calls
// IncDataCons and Save; every tick and every megabyte is stored, once.
func testClientSessionConcurrentUse(t *testing.T, s *Store) {
	for _, tc := range []struct {
		name string
		// duringSave: the ticker ticks 10 times inside each of the first
		// 10 Saves, after Save has taken what it sends.
		duringSave bool
	}{
		{"ticks while each Save waits for Redis", true},
		{"free-running", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			flushAll(t, s)
			ticker := make(chan chan struct{}) // a Save asks for 10 ticks
			tickerDone := make(chan struct{})
			hooked := hookedStore{Store: s, during: func() {}}
			if tc.duringSave {
				hooked.during = func() {
					ticked := make(chan struct{})
					select {
					case ticker <- ticked:
						<-ticked
					case <-tickerDone:
					}
				}
			}
			id := create(t, s, testMAC, todSpec(3600, 1000))
			cs, err := session.NewSessionsMgr(hooked, func() time.Time { return t0 }).GetSession(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Go(func() { // the ticker
				defer close(tickerDone)
				for range 10 {
					var ticked chan struct{}
					if tc.duringSave {
						ticked = <-ticker
					}
					for range 10 {
						cs.IncTimeCons(1)
					}
					if ticked != nil {
						close(ticked)
					}
				}
			})
			saves := 0
			wg.Go(func() { // the traffic counter
				for {
					cs.IncDataCons(1)
					saves++
					if err := cs.Save(ctx); err != nil {
						t.Errorf("Save(): %v", err)
						return
					}
					select {
					case <-tickerDone:
						return
					default:
					}
				}
			})
			wg.Wait()
			if err := cs.Save(ctx); err != nil {
				t.Fatalf("last Save(): %v", err)
			}
			if got, want := consumed(t, s, id), (use{100, uint64(saves) * session.BytesPerMB}); got != want {
				t.Errorf("stored consumption: got %+v, want %+v", got, want)
			}
			if got := cs.TimeConsumption(); got != 100 {
				t.Errorf("TimeConsumption(): got %d, want 100", got)
			}
		})
	}
}
