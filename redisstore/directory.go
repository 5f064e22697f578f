package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/session"
)

// Directory reads: the device list and the NAS entries' open records, for
// the admin API's overview, device and NAS pages. None of them is on the
// packet path; each is bounded.

// Bounds of a device scan.
const (
	scanCount    = 1000 // keys a SCAN step examines
	maxScanSteps = 500  // steps per Redis node: at most 500,000 keys examined
)

// Devices returns, in MAC order, up to limit devices that have sessions
// (their "<prefix>{<mac>}:sessions" key) whose 12 hex digits contain hex
// ("" for any), by a bounded SCAN of every master (Cluster) or of the one
// server. more reports that the scan stopped before the end of the
// keyspace, or found more than limit: the caller should narrow the search.
func (s *Store) Devices(ctx context.Context, hex string, limit int) (macs []session.MAC, more bool, err error) {
	for _, c := range hex {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return nil, false, fmt.Errorf("redisstore: devices: %q: %w: want lower-case hex digits", hex, session.ErrInvalid)
		}
	}
	if limit <= 0 {
		return nil, false, nil
	}
	pattern := globEscape(s.keys.prefix) + "{*" + hex + "*}:sessions"
	var (
		mu    sync.Mutex
		found = map[session.MAC]bool{}
	)
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for range maxScanSteps {
			keys, next, err := c.Scan(ctx, cursor, pattern, scanCount).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for _, k := range keys {
				if mac, ok := s.keys.deviceOfIndex(k); ok {
					found[mac] = true
				}
			}
			full := len(found) > limit
			mu.Unlock()
			if next == 0 {
				return nil
			}
			if full {
				break
			}
			cursor = next
		}
		mu.Lock()
		more = true
		mu.Unlock()
		return nil
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return scan(ctx, m) })
	} else {
		err = scan(ctx, s.rdb)
	}
	if err != nil {
		return nil, false, fmt.Errorf("redisstore: devices: %w", translate(err))
	}
	for mac := range found {
		macs = append(macs, mac)
	}
	slices.Sort(macs)
	if len(macs) > limit {
		macs, more = macs[:limit], true
	}
	return macs, more, nil
}

// NASOpen returns the open records of a NAS entry (its name, not a
// name@address identity), most recently updated first, at most limit of
// them, and how many it has in all.
func (s *Store) NASOpen(ctx context.Context, name string, limit int) ([]session.OpenRef, int64, error) {
	if err := ValidNAS(name); err != nil {
		return nil, 0, err
	}
	idx := s.keys.nasOpen(name)
	var (
		total *redis.IntCmd
		list  *redis.ZSliceCmd
	)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		total = p.ZCard(ctx, idx)
		if limit > 0 {
			list = p.ZRevRangeWithScores(ctx, idx, 0, int64(limit)-1)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: open records of nas %s: %w", name, translate(err))
	}
	if list == nil {
		return nil, total.Val(), nil
	}
	out := make([]session.OpenRef, 0, len(list.Val()))
	for _, z := range list.Val() {
		m, _ := z.Member.(string)
		mac, src, id, ok := parseOpenMember(m)
		if !ok {
			continue // not ours: nothing to show
		}
		out = append(out, session.OpenRef{
			RecordRef: session.RecordRef{NAS: joinNAS(name, src), MAC: mac, SessionID: id},
			UpdatedAt: time.Unix(int64(z.Score), 0).UTC(),
		})
	}
	return out, total.Val(), nil
}

// deviceOfIndex returns the device of a "<prefix>{<mac hex>}:sessions" key.
func (k keys) deviceOfIndex(key string) (session.MAC, bool) {
	rest, ok := strings.CutPrefix(key, k.prefix+"{")
	if !ok {
		return "", false
	}
	hex, ok := strings.CutSuffix(rest, "}:sessions")
	if !ok || len(hex) != 12 {
		return "", false
	}
	mac, err := session.ParseMAC(hex)
	return mac, err == nil
}

// globEscape quotes the characters SCAN's MATCH pattern treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Bounds of a device's record scan: its records have no index (only its
// open ones, "<prefix>{<mac>}:open"), so finding the stopped ones walks
// the keyspace of the device's Redis node.
const (
	maxRecordScanSteps = 200 // at most 200,000 keys examined
	maxRecords         = 50
)

// DeviceRecords returns the device's accounting records still in Redis,
// open and stopped (stopped ones live redis.stopped_record_ttl, a day by
// default), most recently updated first, at most 50, by a bounded SCAN of
// the node that holds the device's slot. more reports that the scan
// stopped early or found more. For an operator's page, not the packet
// path: it is as slow as the keyspace is large.
func (s *Store) DeviceRecords(ctx context.Context, mac session.MAC) (recs []session.AcctRecord, more bool, err error) {
	base := s.keys.tag(mac) + ":acct:"
	pattern := globEscape(base) + "*"
	var node redis.Cmdable = s.rdb
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		m, err := cc.MasterForKey(ctx, base)
		if err != nil {
			return nil, false, fmt.Errorf("redisstore: records of %s: %w", mac, translate(err))
		}
		node = m
	}
	var keys []string
	var cursor uint64
	more = true
	for range maxRecordScanSteps {
		batch, next, err := node.Scan(ctx, cursor, pattern, scanCount).Result()
		if err != nil {
			return nil, false, fmt.Errorf("redisstore: records of %s: %w", mac, translate(err))
		}
		keys = append(keys, batch...)
		if next == 0 {
			more = false
			break
		}
		cursor = next
	}
	slices.Sort(keys)
	keys = slices.Compact(keys) // SCAN may return a key twice
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, k)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("redisstore: records of %s: %w", mac, translate(err))
	}
	for _, c := range cmds {
		h := c.Val()
		if len(h) == 0 || h["acct_session_id"] == "" {
			continue // expired since the scan, or not a record
		}
		pairs := make([]string, 0, 2*len(h))
		for k, v := range h {
			pairs = append(pairs, k, v)
		}
		rec, err := decodeRecord(h["nas"], h["acct_session_id"], mac, pairs)
		if err != nil {
			return nil, false, fmt.Errorf("redisstore: records of %s: %w", mac, err)
		}
		recs = append(recs, rec)
	}
	slices.SortFunc(recs, func(a, b session.AcctRecord) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	if len(recs) > maxRecords {
		recs, more = recs[:maxRecords], true
	}
	return recs, more, nil
}
