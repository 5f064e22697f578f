package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/session"
)

// OpenRecords returns the device's open accounting records: its NAS
// sessions, as needed to send them a Disconnect or CoA.
func (s *Store) OpenRecords(ctx context.Context, mac session.MAC) ([]session.AcctRecord, error) {
	v, err := s.records.Run(ctx, s.rdb, []string{s.keys.deviceOpen(mac)}, s.keys.tag(mac)+":acct:").Slice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: open records of %s: %w", mac, translate(err))
	}
	out := make([]session.AcctRecord, 0, len(v))
	for _, item := range v {
		row, err := strs(item)
		if err != nil || len(row) < 2 {
			return nil, fmt.Errorf("redisstore: open records of %s: bad reply", mac)
		}
		rec, err := decodeRecord(row[0], row[1], mac, row[2:])
		if err != nil {
			return nil, fmt.Errorf("redisstore: open records of %s: %w", mac, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// Record returns one accounting record with its device's sessions, in one
// round trip; ErrNotFound when the record does not exist (expired).
func (s *Store) Record(ctx context.Context, nas string, mac session.MAC, acctID string) (session.AcctRecord, []session.Data, error) {
	if err := ValidNAS(nas); err != nil {
		return session.AcctRecord{}, nil, err
	}
	v, err := s.record.Run(ctx, s.rdb, []string{s.keys.record(mac, nas, acctID), s.keys.index(mac)}, s.keys.sessionBase(mac)).Slice()
	if err != nil {
		return session.AcctRecord{}, nil, fmt.Errorf("redisstore: record %s/%s: %w", nas, acctID, translate(err))
	}
	if len(v) != 2 {
		return session.AcctRecord{}, nil, fmt.Errorf("redisstore: record %s/%s: bad reply", nas, acctID)
	}
	h, err := strs(v[0])
	if err != nil {
		return session.AcctRecord{}, nil, fmt.Errorf("redisstore: record %s/%s: %w", nas, acctID, err)
	}
	if len(h) == 0 {
		return session.AcctRecord{}, nil, fmt.Errorf("redisstore: record %s/%s: %w", nas, acctID, session.ErrNotFound)
	}
	rec, err := decodeRecord(nas, acctID, mac, h)
	if err != nil {
		return session.AcctRecord{}, nil, fmt.Errorf("redisstore: record %s/%s: %w", nas, acctID, err)
	}
	packed, ok := v[1].(string)
	if !ok {
		return session.AcctRecord{}, nil, fmt.Errorf("redisstore: record %s/%s: sessions %T, want a packed string", nas, acctID, v[1])
	}
	sessions, err := decodePacked(packed)
	if err != nil {
		return session.AcctRecord{}, nil, fmt.Errorf("redisstore: record %s/%s: %w", nas, acctID, err)
	}
	return rec, sessions, nil
}

func schedMember(nas string, mac session.MAC, acctID string) string {
	return schedMemberHex(nas, mac.Hex(), acctID)
}

func schedMemberHex(nas, hex, acctID string) string {
	var buf [96]byte
	return string(appendSchedMember(buf[:0], nas, []byte(hex), acctID))
}

func appendSchedMember(b []byte, nas string, hex []byte, acctID string) []byte {
	return append(append(append(append(append(b, nas...), '|'), hex...), '|'), acctID...)
}

// ScheduleEnd records when a record's session ends (its time runs out or
// it expires), for the enforcement scheduler. Rescheduling replaces it.
func (s *Store) ScheduleEnd(ctx context.Context, nas string, mac session.MAC, acctID string, at time.Time) error {
	if err := ValidNAS(nas); err != nil {
		return err
	}
	err := s.rdb.ZAdd(ctx, s.keys.schedule(), redis.Z{Score: float64(at.Unix()), Member: schedMember(nas, mac, acctID)}).Err()
	if err != nil {
		return fmt.Errorf("redisstore: schedule %s/%s: %w", nas, acctID, err)
	}
	return nil
}

// ClaimDue takes up to max schedule entries due at now. Each entry is
// handed to exactly one caller, whatever the number of servers.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, max int) ([]session.RecordRef, error) {
	v, err := s.claim.Run(ctx, s.rdb, []string{s.keys.schedule()}, now.Unix(), max).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: claim due: %w", translate(err))
	}
	out := make([]session.RecordRef, 0, len(v))
	for _, m := range v {
		parts := strings.SplitN(m, "|", 3)
		if len(parts) != 3 {
			continue
		}
		mac, err := session.ParseMAC(parts[1])
		if err != nil {
			continue
		}
		out = append(out, session.RecordRef{NAS: parts[0], MAC: mac, SessionID: parts[2]})
	}
	return out, nil
}

func strs(item any) ([]string, error) {
	row, ok := item.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected %T", item)
	}
	out := make([]string, len(row))
	for i, x := range row {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("unexpected %T in reply", x)
		}
		out[i] = s
	}
	return out, nil
}

func decodeRecord(nas, id string, mac session.MAC, pairs []string) (session.AcctRecord, error) {
	h := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		h[pairs[i]] = pairs[i+1]
	}
	num := func(k string) uint64 { v, _ := strconv.ParseUint(h[k], 10, 64); return v }
	when := func(k string) time.Time {
		v, err := strconv.ParseInt(h[k], 10, 64)
		if err != nil {
			return time.Time{}
		}
		return time.Unix(v, 0).UTC()
	}
	return session.AcctRecord{
		NAS:       nas,
		SessionID: id,
		MAC:       mac,
		Open:      h["state"] == "open",
		Feeds:     h["session"],
		NASAttrs: session.NASAttrs{
			UserName:         h["user_name"],
			CallingStationID: h["calling_station_id"],
			FramedIP:         h["framed_ip"],
			NASIP:            h["nas_ip"],
			NASIdentifier:    h["nas_identifier"],
			SourceIP:         h["nas_src"],
		},
		SessionTime:  num("session_time"),
		InputOctets:  num("in_octets"),
		OutputOctets: num("out_octets"),
		StartedAt:    when("started_at"),
		UpdatedAt:    when("updated_at"),
	}, nil
}
