package redisstore

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/session"
)

// ValidNAS reports whether a NAS identity fits the key schema: a name of 1
// to 64 of A-Z a-z 0-9 . _ - (no ':' that would make record keys ambiguous,
// no braces that would change the hash tag), optionally followed by
// "@<IP address>" when the NAS entry is a network and the source address
// is part of the accounting identity.
func ValidNAS(nas string) error {
	name, src, hasSrc := strings.Cut(nas, "@")
	ok := name != "" && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if ok && hasSrc {
		ok = nasAddr(src)
	}
	if !ok {
		return fmt.Errorf("%w: nas %q: want a name of 1 to 64 of A-Z a-z 0-9 . _ -, optionally followed by @<IPv4 address> or @[<IPv6 address>]", session.ErrInvalid, nas)
	}
	return nil
}

// nasAddr reports whether src is an address as a NAS identity holds it:
// IPv4 dotted, IPv6 in brackets (so that a record key, whose Acct-Session-Id
// follows a ':', stays unambiguous), canonical, without a zone.
func nasAddr(src string) bool {
	v6 := strings.HasPrefix(src, "[") && strings.HasSuffix(src, "]")
	if v6 {
		src = src[1 : len(src)-1]
	}
	a, err := netip.ParseAddr(src)
	return err == nil && a.Zone() == "" && a.String() == src && a.Is6() == v6
}

// splitNAS separates a NAS identity into the NAS's name, which keys its
// open-record index, and the source address ("" for a one-address entry).
func splitNAS(nas string) (name, src string) {
	name, src, _ = strings.Cut(nas, "@")
	return name, src
}

// Account applies one accounting packet to the device's sessions: one Lua
// script (plus the NAS's open-record index in the same pipeline), so one
// round trip, batched with other packets' calls; packets waiting together
// for one Redis node share one script call (acctbatch.go), each still
// applied atomically and on its own. It is idempotent for a given packet:
// counters are cumulative,
// so a retry after a timeout adds nothing the first attempt stored.
func (s *Store) Account(ctx context.Context, ev session.AcctEvent) (session.AcctResult, error) {
	c, kind, err := s.acctCall(ev)
	if err != nil {
		return session.AcctResult{}, err
	}
	if err := s.batch.account(ctx, c); err != nil {
		return session.AcctResult{}, fmt.Errorf("redisstore: account %s %s/%s: %w", kind, ev.NAS, ev.SessionID, translate(err))
	}
	return acctReply(c, kind, ev)
}

// acctCall checks ev and returns account.lua's call for it, and its kind
// as the script names it.
func (s *Store) acctCall(ev session.AcctEvent) (*acctCall, string, error) {
	if err := ValidNAS(ev.NAS); err != nil {
		return nil, "", err
	}
	if m, err := session.ParseMAC(string(ev.MAC)); err != nil || m != ev.MAC {
		return nil, "", fmt.Errorf("%w: accounting for mac %q: not a normalized MAC", session.ErrInvalid, ev.MAC)
	}
	if ev.Now.IsZero() {
		return nil, "", fmt.Errorf("%w: accounting event without a time", session.ErrInvalid)
	}
	var kind string
	switch ev.Kind {
	case session.AcctStart:
		kind = "start"
	case session.AcctInterim:
		kind = "interim"
	case session.AcctStop:
		kind = "stop"
	default:
		return nil, "", fmt.Errorf("%w: accounting kind %d", session.ErrInvalid, ev.Kind)
	}
	// Lua numbers are doubles: exact below 2^53. The script adds input and
	// output, so their sum must stay below it too (each alone is checked
	// first, so the sum cannot overflow).
	const max53 = 1 << 53
	if ev.InputOctets >= max53 || ev.OutputOctets >= max53 || ev.SessionTime >= max53 || ev.InputOctets+ev.OutputOctets >= max53 {
		return nil, "", fmt.Errorf("%w: counters above 2^53 (in %d, out %d, time %d)", session.ErrInvalid, ev.InputOctets, ev.OutputOctets, ev.SessionTime)
	}
	now, evt := ev.Now.Unix(), ev.EventTime.Unix()
	if ev.EventTime.IsZero() {
		evt = now
	}
	sent := ev.Sent
	if sent.IsZero() {
		sent = ev.EventTime
		if ev.NASClock || sent.IsZero() {
			sent = ev.Now
		}
	}
	name, src := splitNAS(ev.NAS)
	c := &acctCall{}
	// Every string of the call (keys, members, numbers, the packed cold
	// arguments) is cut from one string built here, and the arguments are
	// pointers into c (go-redis writes *string and *int64): about 30
	// allocations per packet fewer than a string and an interface each.
	var stack [512]byte
	b, at := stack[:0], 0
	var cut [13]struct{ from, to int }
	end := func(i int) { cut[i] = struct{ from, to int }{at, len(b)}; at = len(b) }
	var hexBuf [12]byte
	hex := ev.MAC.AppendHex(hexBuf[:0])
	dev := func(b []byte) []byte { return appendDevice(b, s.keys.prefix, hex) }
	const (
		cRec = iota
		cIndex
		cOpen
		cLegacyRec
		cBase
		cST
		cIn
		cOut
		cCold
		cLegacy
		cMember
		cNASOpen
		cSched
	)
	b = appendRecord(dev(b), ev.NAS, ev.SessionID)
	end(cRec)
	b = appendIndex(dev(b))
	end(cIndex)
	b = appendDeviceOpen(dev(b))
	end(cOpen)
	if src != "" {
		b = appendRecord(dev(b), name, ev.SessionID)
		end(cLegacyRec)
		b = append(append(append(b, name...), '|'), ev.SessionID...)
		end(cLegacy)
	}
	b = appendSessionBase(dev(b))
	end(cBase)
	b = strconv.AppendUint(b, ev.SessionTime, 10)
	end(cST)
	b = strconv.AppendUint(b, ev.InputOctets, 10)
	end(cIn)
	b = strconv.AppendUint(b, ev.OutputOctets, 10)
	end(cOut)
	b = appendOpenMember(b, hex, src, ev.SessionID)
	end(cMember)
	b = appendNASOpen(b, s.keys.prefix, name)
	end(cNASOpen)
	if ev.Kind == session.AcctStop {
		b = appendSchedMember(b, ev.NAS, hex, ev.SessionID)
		end(cSched)
	}
	if ev.Kind == session.AcctInterim {
		b = appendColdArgs(b, s.stopped, string(ev.MAC), ev.NAS, ev.SessionID,
			ev.NASAttrs.UserName, ev.NASAttrs.CallingStationID, ev.NASAttrs.NASIP, ev.NASAttrs.NASIdentifier, ev.NASAttrs.SourceIP,
			flag(ev.Policy.Wrap32), ev.Policy.Updates.String())
		b = appendCold(b, b[cut[cLegacy].from:cut[cLegacy].to])
		end(cCold)
	}
	all := string(b)
	str := func(i int) string { return all[cut[i].from:cut[i].to] }

	c.keyArr = [4]string{str(cRec), str(cIndex), str(cOpen), str(cLegacyRec)}
	c.keys = c.keyArr[:3]
	if src != "" {
		c.keys = c.keyArr[:4]
	}
	c.nums = [4]int64{now, evt, int64(ev.Policy.RetransmitWindow / time.Second), sent.Unix()}
	// An interim goes in account.lua's short form: what its hot lane reads,
	// then the rest in one argument (coldArgs): an argument costs Redis
	// about 1k instructions, and the common interim needs none of the rest.
	// Starts and Stops go in the long form: a Start always needs the rest
	// (the record's fields), and unpacking it costs the script more (about
	// 60k instructions) than the arguments do; the Stop's hot lane reads
	// either form.
	v := &c.strs
	if ev.Kind == session.AcctInterim {
		*v = [26]string{str(cBase), kind, "", "", str(cST), str(cIn), str(cOut), s.open, ev.NASAttrs.FramedIP,
			flag(ev.NASClock), ev.Class, flag(ev.Gigawords), "", "", str(cCold)}
		c.argArr = [26]any{&v[0], &v[1], &c.nums[0], &c.nums[1], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
			&v[11], &c.nums[2], &c.nums[3], &v[14]}
		c.args = c.argArr[:15]
	} else {
		*v = [26]string{str(cBase), kind, "", "", str(cST), str(cIn), str(cOut), s.open, s.stopped, string(ev.MAC), ev.NAS,
			ev.SessionID, ev.NASAttrs.UserName, ev.NASAttrs.CallingStationID, ev.NASAttrs.FramedIP,
			ev.NASAttrs.NASIP, ev.NASAttrs.NASIdentifier, ev.NASAttrs.SourceIP,
			flag(ev.NASClock), ev.Class, flag(ev.Gigawords), flag(ev.Policy.Wrap32), "", ev.Policy.Updates.String(), "",
			str(cLegacy)}
		c.argArr = [26]any{&v[0], &v[1], &c.nums[0], &c.nums[1], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
			&v[11], &v[12], &v[13], &v[14], &v[15], &v[16], &v[17], &v[18], &v[19], &v[20], &v[21], &c.nums[2],
			&v[23], &c.nums[3], &v[25]}
		c.args = c.argArr[:26]
	}
	if ev.Kind == session.AcctStop {
		c.idxArr = [2]indexOp{{key: str(cNASOpen), member: str(cMember)},
			{key: s.keys.schedule(), member: str(cSched)}}
		c.index = c.idxArr[:2]
	} else {
		c.idxArr[0] = indexOp{key: str(cNASOpen), add: true, member: str(cMember), score: float64(now)}
		c.index = c.idxArr[:1]
	}
	return c, kind, nil
}

// appendColdArgs packs account.lua's arguments its hot lane does not read
// into one, appended to b: each value as its length in decimal, ':', the
// value (values may hold any octet). The script unpacks them only off the
// hot lane (expand).
func appendColdArgs(b []byte, v ...string) []byte {
	for _, x := range v {
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(append(b, ':'), x...)
	}
	return b
}

// appendCold appends one more value to appendColdArgs's.
func appendCold(b []byte, x []byte) []byte {
	b = strconv.AppendInt(b, int64(len(x)), 10)
	return append(append(b, ':'), x...)
}

// coldArgs is appendColdArgs's packing as a string.
func coldArgs(v ...string) string { return string(appendColdArgs(nil, v...)) }

// acctReply decodes account.lua's reply to c.
func acctReply(c *acctCall, kind string, ev session.AcctEvent) (session.AcctResult, error) {
	res, err := decodeAcct(c.reply)
	if err != nil {
		return session.AcctResult{}, fmt.Errorf("redisstore: account %s %s/%s: reply: %w", kind, ev.NAS, ev.SessionID, err)
	}
	return res, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// decodeAcct reads account.lua's reply: "outcome feeds moved unbilled_secs
// unbilled_bytes new left" and "id secs bytes" per charge, alone or with
// the device's sessions as {that string, sessions}.
func decodeAcct(reply any) (session.AcctResult, error) {
	var r session.AcctResult
	head, ok := reply.(string)
	var packed string // the sessions (pack.lua), when dumped
	if !ok {
		v, _ := reply.([]any)
		if len(v) != 2 {
			return r, fmt.Errorf("%T, want a string or {string, sessions}", reply)
		}
		if head, ok = v[0].(string); !ok {
			return r, fmt.Errorf("%T, want a string", v[0])
		}
		if packed, ok = v[1].(string); !ok {
			return r, fmt.Errorf("sessions %T, want a packed string", v[1])
		}
	}
	var fa [16]string // the head's fields, without an allocation for the common reply
	f := fa[:0]
	for rest := strings.TrimSpace(head); rest != ""; rest = strings.TrimLeft(rest, " ") {
		field, after, _ := strings.Cut(rest, " ")
		f, rest = append(f, field), after
	}
	if len(f) < 7 || (len(f)-7)%3 != 0 {
		return r, fmt.Errorf("%q: want 7 fields and 3 per charge", head)
	}
	switch f[0] {
	case "applied":
		r.Outcome = session.AcctApplied
	case "stale":
		r.Outcome = session.AcctStale
	case "after_stop":
		r.Outcome = session.AcctAfterStop
	default:
		return r, fmt.Errorf("unknown outcome %q", f[0])
	}
	if f[1] != "-" {
		r.Feeds = f[1]
	}
	r.Moved, r.NewRecord, r.Left = f[2] == "1", f[5] == "1", f[6] == "1"
	var err error
	if r.UnbilledSecs, err = strconv.ParseUint(f[3], 10, 64); err != nil {
		return r, fmt.Errorf("unbilled secs: %w", err)
	}
	if r.UnbilledBytes, err = strconv.ParseUint(f[4], 10, 64); err != nil {
		return r, fmt.Errorf("unbilled bytes: %w", err)
	}
	for i := 7; i+2 < len(f); i += 3 {
		secs, err1 := strconv.ParseUint(f[i+1], 10, 64)
		bytes, err2 := strconv.ParseUint(f[i+2], 10, 64)
		if err1 != nil || err2 != nil {
			return r, fmt.Errorf("charge %s %s %s: not integers", f[i], f[i+1], f[i+2])
		}
		r.Charges = append(r.Charges, session.Charge{SessionID: f[i], Secs: secs, Bytes: bytes})
	}
	if packed != "" {
		if r.Sessions, err = decodePacked(packed); err != nil {
			return r, err
		}
	}
	return r, nil
}

// CloseNAS closes every accounting record of the NAS that was open at the
// moment it rebooted (Accounting-On/Off): their consumption stays as last
// reported; records updated after at stay open. at is on the server's clock
// (arrival minus Acct-Delay-Time), as records' updated_at is. nas is a NAS
// identity: "name@address" closes only the records of that address within
// a network entry (one access point rebooted), a bare name every record of
// the entry (the reaper). It returns how many records it closed. Not one
// script: a NAS's records live in its devices' slots, so this walks the
// NAS's open index in pipelined batches.
func (s *Store) CloseNAS(ctx context.Context, nas string, at time.Time, reason string) (int, error) {
	if err := ValidNAS(nas); err != nil {
		return 0, err
	}
	name, only := splitNAS(nas)
	idx := s.keys.nasOpen(name)
	max := strconv.FormatInt(at.Unix(), 10)
	closed := 0
	var skip int64 // members of other addresses, left in the index
	for {
		members, err := s.rdb.ZRangeByScore(ctx, idx, &redis.ZRangeBy{Min: "-inf", Max: max, Offset: skip, Count: 256}).Result()
		if err != nil {
			return closed, fmt.Errorf("redisstore: close nas %s: %w", nas, err)
		}
		if len(members) == 0 {
			return closed, nil
		}
		mine := members[:0:0]
		for _, m := range members {
			if _, src, _, ok := parseOpenMember(m); !ok || only == "" || src == only {
				mine = append(mine, m)
			}
		}
		skip += int64(len(members) - len(mine))
		if len(mine) == 0 {
			continue
		}
		n, err := s.closeRecords(ctx, name, mine, at, reason)
		closed += n
		if err != nil {
			return closed, fmt.Errorf("redisstore: close nas %s: %w", nas, err)
		}
	}
}

// closeRecords closes the records named by members of the NAS's open index
// and removes the members.
func (s *Store) closeRecords(ctx context.Context, name string, members []string, at time.Time, reason string) (int, error) {
	rem := make([]any, len(members))
	for i, m := range members {
		rem[i] = m
	}
	var cmds []*redis.Cmd
	err := s.batch.do(ctx, func(pipe redis.Pipeliner, eval bool) {
		cmds = cmds[:0]
		for _, m := range members {
			mac, src, id, ok := parseOpenMember(m)
			if !ok {
				continue
			}
			nas := joinNAS(name, src)
			keys := []string{s.keys.record(mac, nas, id), s.keys.deviceOpen(mac)}
			args := []any{at.Unix(), s.stopped, reason, nas + "|" + id}
			cmds = append(cmds, evalScript(ctx, pipe, s.close, eval, keys, args...))
		}
		pipe.ZRem(ctx, s.keys.nasOpen(name), rem...)
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cmds {
		if v, _ := c.Int64(); v == 1 {
			n++
		}
	}
	return n, nil
}
