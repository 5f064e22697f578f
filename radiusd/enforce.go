package radiusd

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"github.com/hotspot-radius/hsradius/session"
)

// EnforceStore is what enforcement needs from storage beyond Store.
type EnforceStore interface {
	// OpenRecords returns the device's open accounting records.
	OpenRecords(ctx context.Context, mac session.MAC) ([]session.AcctRecord, error)
	// Record returns one record and its device's sessions (ErrNotFound
	// when it expired).
	Record(ctx context.Context, nas string, mac session.MAC, acctID string) (session.AcctRecord, []session.Data, error)
	// ScheduleEnd (re)schedules the enforcement check of a record. Idempotent.
	ScheduleEnd(ctx context.Context, nas string, mac session.MAC, acctID string, at time.Time) error
	// ClaimDue hands each due entry to exactly one caller across servers.
	ClaimDue(ctx context.Context, now time.Time, max int) ([]session.RecordRef, error)
}

// EnforceConfig tunes enforcement; zero fields take the defaults.
type EnforceConfig struct {
	Store EnforceStore
	// DynAuthTimeout is the wait for an ACK/NAK per attempt (default 2 s),
	// DynAuthTries the attempts (default 3).
	DynAuthTimeout time.Duration
	DynAuthTries   int
	// Workers send Disconnect/CoA requests (default 16); Queue bounds the
	// requests waiting for one (default 4096): beyond it they are dropped
	// and counted, and the next interim or scheduled check tries again.
	Workers, Queue int
	// ScheduleEvery is how often due schedule entries are claimed (1 s).
	ScheduleEvery time.Duration
	// ReapAfter closes records without an update for that long (default
	// 3 interim intervals + 1 min); ReapEvery is how often (1 min).
	ReapAfter, ReapEvery time.Duration
}

// ErrDynAuthDisabled is returned by DisconnectDevice and UpdateDevice when
// the server runs without enforcement.
var ErrDynAuthDisabled = errors.New("dynamic authorization is disabled (enforcement.enabled: false)")

// Reasons for a Disconnect/CoA, in logs and metrics.
const (
	reasonExhausted = "exhausted" // nothing left after accounting or at its scheduled end
	reasonSpill     = "spill"     // moved onto another session
	reasonAdmin     = "admin"     // disconnect or change asked by an operator
)

// dynJob is one Disconnect or CoA to send.
type dynJob struct {
	nas    *nasEntry
	rec    session.AcctRecord
	code   radius.Code // CodeDisconnectRequest or CodeCoARequest
	limits session.Limits
	reason string
	done   chan DynAuthResult // optional: the admin API waits for the answer
}

// schedReq is an end-of-session check to write to the schedule.
type schedReq struct {
	nas *nasEntry
	rec session.AcctRecord
	at  time.Time
}

// scheduleWriters write the schedule entries accounting asks for. Each
// write is one short Redis command, so a few keep up with any rate of new
// NAS sessions; their queue (EnforceConfig.Queue) absorbs bursts and a slow
// Redis.
const scheduleWriters = 4

// enforcer sends dynamic authorization requests and runs the schedule.
type enforcer struct {
	cfg    EnforceConfig
	client dynAuthClient
	jobs   chan dynJob
	sched  chan schedReq

	// catchUp is how long, after a schedule write was dropped, every
	// interim puts its NAS session on the schedule: one interim interval
	// and a minute, by which each open NAS session has sent one.
	catchUp time.Duration
	// catchUpUntil is that deadline (Unix ns); 0 before any drop.
	catchUpUntil atomic.Int64

	mu       sync.Mutex
	inFlight map[string]bool // nas|acct id: one request per NAS session at a time
}

// newEnforcer starts from a validated cfg, its defaults set
// (Config.SetDefaults).
func newEnforcer(cfg EnforceConfig, interim time.Duration) *enforcer {
	return &enforcer{
		cfg:      cfg,
		client:   dynAuthClient{timeout: cfg.DynAuthTimeout, tries: cfg.DynAuthTries},
		jobs:     make(chan dynJob, cfg.Queue),
		sched:    make(chan schedReq, cfg.Queue),
		catchUp:  interim + time.Minute,
		inFlight: map[string]bool{},
	}
}

// RunEnforcement sends Disconnect/CoA requests, claims due schedule entries
// and reaps silent records until ctx ends. Without an EnforceStore
// (Config.Enforce nil) it returns at once.
func (s *Server) RunEnforcement(ctx context.Context) error {
	e := s.enf
	if e == nil {
		return nil
	}
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-e.jobs:
					s.sendDynAuth(ctx, j)
				}
			}
		}()
	}
	for range scheduleWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					s.drainSchedule()
					return
				case r := <-e.sched:
					_ = s.schedule(r.nas, r.rec, r.at)
				}
			}
		}()
	}
	sched := time.NewTicker(e.cfg.ScheduleEvery)
	reap := time.NewTicker(e.cfg.ReapEvery)
	defer sched.Stop()
	defer reap.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-sched.C:
			s.runSchedule(ctx)
		case <-reap.C:
			s.reap(ctx)
		}
	}
}

// enqueue hands a job to the workers without blocking the packet path.
func (s *Server) enqueue(j dynJob) {
	e := s.enf
	key := j.rec.NAS + "|" + string(j.rec.MAC) + "|" + j.rec.SessionID
	e.mu.Lock()
	busy := e.inFlight[key]
	if !busy {
		e.inFlight[key] = true
	}
	e.mu.Unlock()
	if busy {
		if j.done != nil {
			j.done <- DynAuthResult{Outcome: DynAuthError, NAS: j.nas.Name, AcctSessionID: j.rec.SessionID}
		}
		return
	}
	select {
	case e.jobs <- j:
	default:
		e.mu.Lock()
		delete(e.inFlight, key)
		e.mu.Unlock()
		s.countDynAuth(j.code, "dropped")
		s.warn.Warn().Str("nas", j.nas.Name).Str("acct_session_id", j.rec.SessionID).Msg("dynamic authorization queue full: request dropped")
		if j.done != nil {
			j.done <- DynAuthResult{Outcome: DynAuthError, NAS: j.nas.Name, AcctSessionID: j.rec.SessionID}
		}
		s.retryLater(j, "dropped")
	}
}

// retryAfter is when a Disconnect that did not get through is checked again.
const retryAfter = 30 * time.Second

// retryLater schedules another check of a NAS session whose enforcing
// Disconnect timed out, failed or was dropped, so that a NAS that sends no
// interims is not left running. A NAK is final: the NAS says the session
// is gone (or refuses), and the reaper closes a record the NAS forgot.
func (s *Server) retryLater(j dynJob, outcome string) {
	if j.code != radius.CodeDisconnectRequest || j.reason == reasonAdmin || outcome == DynAuthACK || outcome == DynAuthNAK {
		return
	}
	// Synchronous: called from an enforcement worker (or a full queue, which
	// is rare), never tracked by the server's packet WaitGroup.
	_ = s.schedule(j.nas, j.rec, s.now().Add(retryAfter))
}

func (s *Server) sendDynAuth(ctx context.Context, j dynJob) {
	e := s.enf
	if udp := s.nas.byName(j.nas.Name); udp != nil {
		// Accounting over RadSec queues the entry's RadSec twin; over UDP
		// the request needs the entry's own address and secrets.
		j.nas = udp
	}
	addr, ok := dynAuthAddr(j.nas, j.rec)
	res := DynAuthResult{Outcome: DynAuthError}
	var err error
	if c := s.radsecConn(j.rec.NAS); c != nil {
		// The NAS's own RadSec connection first: it reaches a NAS behind NAT
		// (radsec_dynauth.go).
		res, err = c.exchange(ctx, j.code, dynAuthAttrs(j, s.limitAttrs), e.cfg.DynAuthTimeout*time.Duration(e.cfg.DynAuthTries))
	} else if !ok {
		err = errors.New("no address to send to: the NAS entry is a network and the record has no source or NAS-IP-Address")
		if !j.nas.Prefix.IsValid() {
			err = errors.New("the NAS is identified by its certificate and has no RadSec connection open now, nor an address for UDP")
		}
	} else {
		res, err = e.client.send(ctx, addr, j.nas.CoASecret, j.code, dynAuthAttrs(j, s.limitAttrs))
	}
	s.countDynAuth(j.code, res.Outcome)
	kind := dynKind(j.code)
	ev := s.log.Info()
	if res.Outcome != DynAuthACK {
		ev = s.log.Warn()
	}
	ev.Err(err).Str("nas", j.nas.Name).Str("mac", string(j.rec.MAC)).Str("acct_session_id", j.rec.SessionID).
		Str("request", kind).Str("reason", j.reason).Str("result", res.Outcome).Uint32("error_cause", res.ErrorCause).
		Int("attempts", res.Attempts).Msg("dynamic authorization")
	res.NAS, res.AcctSessionID = j.nas.Name, j.rec.SessionID
	// Free the NAS session before answering, so a caller may send the next
	// request for it at once.
	e.mu.Lock()
	delete(e.inFlight, j.rec.NAS+"|"+string(j.rec.MAC)+"|"+j.rec.SessionID)
	e.mu.Unlock()
	if j.done != nil {
		j.done <- res
	}
	s.retryLater(j, res.Outcome)
}

func dynKind(c radius.Code) string {
	if c == radius.CodeCoARequest {
		return "coa"
	}
	return "disconnect"
}

func (s *Server) countDynAuth(code radius.Code, result string) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.dynAuth.WithLabelValues(dynKind(code), result).Inc()
	}
}

// dynAuthAddr is where the NAS listens for RFC 5176 requests: its own
// address when the entry is one host, else where its accounting came from,
// else its NAS-IP-Address.
func dynAuthAddr(nas *nasEntry, rec session.AcctRecord) (netip.AddrPort, bool) {
	port := uint16(nas.CoAPort)
	if nas.Prefix.IsSingleIP() {
		return netip.AddrPortFrom(nas.Prefix.Addr(), port), true
	}
	for _, s := range []string{rec.NASAttrs.SourceIP, rec.NASAttrs.NASIP} {
		if a, err := netip.ParseAddr(s); err == nil && nas.Prefix.Contains(a) {
			return netip.AddrPortFrom(a, port), true
		}
	}
	return netip.AddrPort{}, false
}

// dynAuthAttrs identifies the NAS session (RFC 5176 §3) and, for a CoA,
// carries the limits the NAS can change (limitAttrs with accept false): the
// full set for CoovaChilli, which resets every limit a CoA omits.
func dynAuthAttrs(j dynJob, limitAttrs func(*nasEntry, session.Limits, time.Time, bool) radius.Attributes) radius.Attributes {
	var p radius.Packet
	a := j.rec.NASAttrs
	if a.UserName != "" {
		_ = rfc2865.UserName_SetString(&p, a.UserName)
	}
	_ = rfc2866.AcctSessionID_SetString(&p, j.rec.SessionID)
	if a.CallingStationID != "" {
		_ = rfc2865.CallingStationID_SetString(&p, a.CallingStationID)
	}
	if ip, err := netip.ParseAddr(a.FramedIP); err == nil && ip.Is4() {
		_ = rfc2865.FramedIPAddress_Set(&p, ip.AsSlice())
	}
	if ip, err := netip.ParseAddr(a.NASIP); err == nil && ip.Is4() {
		_ = rfc2865.NASIPAddress_Set(&p, ip.AsSlice())
	}
	if a.NASIdentifier != "" {
		_ = rfc2865.NASIdentifier_SetString(&p, a.NASIdentifier)
	}
	if j.code == radius.CodeCoARequest {
		p.Attributes = append(p.Attributes, limitAttrs(j.nas, j.limits, time.Time{}, false)...)
	}
	return p.Attributes
}

// fromNASStart turns a session's limits into limits counted from the start
// of the NAS session rec (what a CoA must carry: NAS counters do not reset).
func fromNASStart(l session.Limits, rec session.AcctRecord, elapsed time.Duration) session.Limits {
	if l.HasTimeout {
		l.SessionTimeout += rec.SessionTime + uint64(max(elapsed, 0)/time.Second)
	}
	if l.HasData {
		l.DataBytes += rec.InputOctets + rec.OutputOctets
	}
	return l
}

// unreported is what the next interim of a NAS session will report that
// the store has not charged: the whole seconds it has run since its last
// update. Charged to the device's sessions (session.Usage.Charge, the rules
// account.lua applies), it uses up the sessions after the one the record
// feeds when the NAS sends no interims.
func unreported(rec session.AcctRecord, elapsed time.Duration, now time.Time) session.Usage {
	return session.Usage{Feeds: rec.Feeds, Secs: uint64(max(elapsed, 0) / time.Second), EventTime: now}
}

// afterAccounting decides, from what an accounting packet did, whether the
// NAS session must end or change, and when to check it next. It never
// blocks: requests go to the workers.
func (s *Server) afterAccounting(nas *nasEntry, ev session.AcctEvent, res session.AcctResult) {
	if s.enf == nil || nas.CoAPort == 0 || res.Outcome != session.AcctApplied || ev.Kind == session.AcctStop {
		return
	}
	rec := session.AcctRecord{
		NAS: ev.NAS, SessionID: ev.SessionID, MAC: ev.MAC, Open: true, Feeds: res.Feeds, NASAttrs: ev.NASAttrs,
		SessionTime: ev.SessionTime, InputOctets: ev.InputOctets, OutputOctets: ev.OutputOctets, UpdatedAt: ev.Now,
	}
	if !res.Left {
		s.enqueue(dynJob{nas: nas, rec: rec, code: radius.CodeDisconnectRequest, reason: reasonExhausted})
		return
	}
	if !res.NewRecord && !res.Moved {
		// The NAS has the limits of the session it is on, which has room
		// left. After a dropped schedule write this NAS session may be the
		// one missing from the schedule: put it there, due now, and the
		// scheduler checks it and schedules its end (the interim did not
		// load the sessions that would tell when).
		if s.enf.catchingUp(ev.Now) {
			s.scheduleSoon(nas, rec, ev.Now)
		}
		return
	}
	if next, ok := s.decide(nas, rec, res.Sessions, res.Moved, ev.Now, 0); ok {
		s.scheduleSoon(nas, rec, next) // once per NAS session (or spill)
	}
}

// scheduleSoon hands a schedule write to the writers, off the reply path.
// When their queue is full the write is dropped and counted, and for the
// next interim interval every interim reschedules its NAS session (see
// afterAccounting); meanwhile the NAS's own Session-Timeout and the
// interims' exhaustion check still end the session.
func (s *Server) scheduleSoon(nas *nasEntry, rec session.AcctRecord, at time.Time) {
	e := s.enf
	select {
	case e.sched <- schedReq{nas: nas, rec: rec, at: at}:
	default:
		e.catchUpUntil.Store(s.now().Add(e.catchUp).UnixNano())
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.schedDropped.Inc()
		}
		s.warn.Warn().Str("nas", nas.Name).Str("acct_session_id", rec.SessionID).
			Msg("enforcement schedule queue full: this NAS session is scheduled at its next interim")
	}
}

// catchingUp reports whether a schedule write was dropped less than an
// interim interval (and a minute) before now.
func (e *enforcer) catchingUp(now time.Time) bool {
	until := e.catchUpUntil.Load()
	return until != 0 && now.UnixNano() < until
}

// drainSchedule writes what is still queued when enforcement stops (the
// listeners have drained by then), until the queue is empty or a write
// fails: with Redis down the rest would fail too.
func (s *Server) drainSchedule() {
	for {
		select {
		case r := <-s.enf.sched:
			if s.schedule(r.nas, r.rec, r.at) != nil {
				return
			}
		default:
			return
		}
	}
}

// decide enforces the sessions' state on one NAS session: disconnect when
// nothing is left, CoA (or disconnect) when it moved onto another session:
// disconnect with on_spill: disconnect, or on a MikroTik whose data limit
// the move changes.
// It returns when the current session ends (ok false: no time limit, or
// disconnected).
func (s *Server) decide(nas *nasEntry, rec session.AcctRecord, sessions []session.Data, moved bool, now time.Time, elapsed time.Duration) (time.Time, bool) {
	cur, err := session.Current(sessions, now)
	if err != nil {
		s.enqueue(dynJob{nas: nas, rec: rec, code: radius.CodeDisconnectRequest, reason: reasonExhausted})
		return time.Time{}, false
	}
	l := cur.Limits(now)
	if moved {
		if nas.OnSpill == SpillDisconnect || (hasProfile(nas, ProfileMikroTik) && movedDataLimit(sessions, rec.Feeds, cur, now)) {
			s.enqueue(dynJob{nas: nas, rec: rec, code: radius.CodeDisconnectRequest, reason: reasonSpill})
			return time.Time{}, false
		}
		s.enqueue(dynJob{nas: nas, rec: rec, code: radius.CodeCoARequest, limits: fromNASStart(l, rec, elapsed), reason: reasonSpill})
	}
	if !l.HasTimeout {
		return time.Time{}, false
	}
	return now.Add(time.Duration(l.SessionTimeout) * time.Second), true
}

func (s *Server) schedule(nas *nasEntry, rec session.AcctRecord, at time.Time) error {
	ctx, cancel := s.storeCtx()
	defer cancel()
	err := s.enf.cfg.Store.ScheduleEnd(ctx, rec.NAS, rec.MAC, rec.SessionID, at)
	if err != nil {
		s.log.Error().Err(err).Str("nas", nas.Name).Str("acct_session_id", rec.SessionID).Msg("schedule enforcement")
	}
	return err
}

// runSchedule claims the due entries and checks each NAS session as if an
// interim had arrived now: the time since its last update counts as used.
func (s *Server) runSchedule(ctx context.Context) {
	for {
		sctx, cancel := s.storeCtx()
		refs, err := s.enf.cfg.Store.ClaimDue(sctx, s.now(), 256)
		cancel()
		if err != nil {
			s.log.Error().Err(err).Msg("claim due enforcement")
			return
		}
		for _, ref := range refs {
			s.checkScheduled(ref)
		}
		if len(refs) < 256 || ctx.Err() != nil {
			return
		}
	}
}

func (s *Server) checkScheduled(ref session.RecordRef) {
	nas := s.nas.byName(ref.NAS)
	if nas == nil || nas.CoAPort == 0 {
		return
	}
	ctx, cancel := s.storeCtx()
	rec, sessions, err := s.enf.cfg.Store.Record(ctx, ref.NAS, ref.MAC, ref.SessionID)
	cancel()
	if err != nil {
		if !errors.Is(err, session.ErrNotFound) {
			s.log.Error().Err(err).Str("nas", ref.NAS).Str("acct_session_id", ref.SessionID).Msg("scheduled enforcement")
		}
		return
	}
	if !rec.Open {
		return
	}
	now := s.now()
	elapsed := now.Sub(rec.UpdatedAt)
	// Charge the time since the last interim as the next interim will.
	sessions = unreported(rec, elapsed, now).Charge(sessions, now).Sessions
	moved := false
	if cur, err := session.Current(sessions, now); err == nil && rec.Feeds != "" && cur.ID != rec.Feeds {
		moved = true
	}
	if next, ok := s.decide(nas, rec, sessions, moved, now, elapsed); ok {
		if !next.After(now) {
			next = now.Add(time.Second)
		}
		_ = s.schedule(nas, rec, next)
	}
}

// reap closes records of every NAS that sent nothing for ReapAfter.
func (s *Server) reap(ctx context.Context) {
	before := s.now().Add(-s.enf.cfg.ReapAfter)
	for _, nas := range s.nas.byPrefix {
		if ctx.Err() != nil {
			return
		}
		sctx, cancel := s.storeCtx()
		n, err := s.cfg.Store.CloseNAS(sctx, nas.Name, before, "reaper")
		cancel()
		if err != nil {
			s.log.Error().Err(err).Str("nas", nas.Name).Msg("reap silent accounting records")
			continue
		}
		if n > 0 {
			s.log.Info().Str("nas", nas.Name).Int("closed", n).Dur("silent_for", s.enf.cfg.ReapAfter).Msg("closed accounting records the NAS stopped updating")
		}
	}
}

// movedDataLimit reports whether moving a NAS session from the session
// from onto cur changes the data limit a MikroTik holds for it. RouterOS
// does not change Mikrotik-Total-Limit by CoA (it is not among the
// attributes its manual lists as changeable), so a new data limit reaches it
// only in the Access-Accept of a new login; and since every move that
// involves a data-limited session disconnects a MikroTik, the router holds
// the data limit of the session the NAS session fed, or none.
//
// from may equal cur.ID: the accounting that moved the record names only
// the session it feeds now, and the one it left is then among those no
// longer available.
func movedDataLimit(sessions []session.Data, from string, cur session.Data, now time.Time) bool {
	if cur.Type.LimitsData() {
		return true // a data limit counted anew from the start of the NAS session
	}
	if from != cur.ID {
		for _, d := range sessions {
			if d.ID == from {
				return d.Type.LimitsData()
			}
		}
		return true // deleted: it may have limited data
	}
	for _, d := range sessions {
		if d.ID != cur.ID && !d.Available(now) && d.Type.LimitsData() {
			return true
		}
	}
	return false
}
