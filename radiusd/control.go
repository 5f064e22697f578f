package radiusd

import (
	"context"
	"time"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/session"
)

// The server's controls for an operator's change (the admin API, package
// radiusd/adminapi, calls them): reach a device's open NAS sessions by
// Disconnect and CoA and wait for their answers. They need enforcement
// (Config.Enforce) and return ErrDynAuthDisabled without it.

// DynAuthWait is how long the answers to one Disconnect or CoA request may
// take: every attempt of it (0 when enforcement is off). A caller waiting
// for a device's answers adds time for the request to find a worker.
func (s *Server) DynAuthWait() time.Duration {
	if s.enf == nil {
		return 0
	}
	return s.enf.cfg.DynAuthTimeout * time.Duration(s.enf.cfg.DynAuthTries)
}

// DisconnectDevice sends a Disconnect-Request for every open NAS session of
// the device and waits for the answers.
func (s *Server) DisconnectDevice(ctx context.Context, mac session.MAC) ([]DynAuthResult, error) {
	return s.dynAuthDevice(ctx, mac, func(*nasEntry, session.AcctRecord) (radius.Code, session.Limits, bool) {
		return radius.CodeDisconnectRequest, session.Limits{}, true
	})
}

// DeviceChange says what an operator changed on one of a device's
// sessions, so that UpdateDevice knows whether a NAS that cannot take a new
// data limit by CoA must re-authenticate instead.
type DeviceChange struct {
	// SessionID is the session changed or deleted.
	SessionID string
	// Data is true when its data allocation or consumption changed: its
	// data limit is no longer the one a NAS on it was told.
	Data bool
}

// UpdateDevice tells every open NAS session of the device its current
// limits (CoA), or disconnects it when nothing is left or when it is on a
// MikroTik whose data limit change says changed (after an operator's
// change).
func (s *Server) UpdateDevice(ctx context.Context, mac session.MAC, change DeviceChange) ([]DynAuthResult, error) {
	now := s.now()
	return s.dynAuthDevice(ctx, mac, func(nas *nasEntry, rec session.AcctRecord) (radius.Code, session.Limits, bool) {
		sctx, cancel := s.storeCtx()
		rec, sessions, err := s.enf.cfg.Store.Record(sctx, rec.NAS, rec.MAC, rec.SessionID)
		cancel()
		if err != nil {
			return 0, session.Limits{}, false
		}
		// The limits count from the start of the NAS session, which has
		// run on since its last interim: that time is used, not left.
		elapsed := now.Sub(rec.UpdatedAt)
		sessions = unreported(rec, elapsed, now).Charge(sessions, now).Sessions
		cur, err := session.Current(sessions, now)
		if err != nil {
			return radius.CodeDisconnectRequest, session.Limits{}, true
		}
		if hasProfile(nas, ProfileMikroTik) {
			newLimit := change.Data && change.SessionID == cur.ID && cur.Type.LimitsData()
			if cur.ID != rec.Feeds {
				newLimit = movedDataLimit(sessions, rec.Feeds, cur, now)
			}
			if newLimit {
				return radius.CodeDisconnectRequest, session.Limits{}, true
			}
		}
		return radius.CodeCoARequest, fromNASStart(cur.Limits(now), rec, elapsed), true
	})
}

// dynAuthDevice asks what to send each open NAS session of the device,
// queues it for the workers and waits for every answer, or for ctx.
func (s *Server) dynAuthDevice(ctx context.Context, mac session.MAC, what func(*nasEntry, session.AcctRecord) (radius.Code, session.Limits, bool)) ([]DynAuthResult, error) {
	if s.enf == nil {
		return nil, ErrDynAuthDisabled
	}
	sctx, cancel := s.storeCtx()
	recs, err := s.enf.cfg.Store.OpenRecords(sctx, mac)
	cancel()
	if err != nil {
		return nil, err
	}
	var waits []chan DynAuthResult
	for _, rec := range recs {
		nas := s.nas.byName(rec.NAS)
		if nas == nil || nas.CoAPort == 0 {
			continue
		}
		code, limits, ok := what(nas, rec)
		if !ok {
			continue
		}
		done := make(chan DynAuthResult, 1)
		waits = append(waits, done)
		s.enqueue(dynJob{nas: nas, rec: rec, code: code, limits: limits, reason: reasonAdmin, done: done})
	}
	out := make([]DynAuthResult, 0, len(waits))
	for _, w := range waits {
		select {
		case r := <-w:
			out = append(out, r)
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
	return out, nil
}
