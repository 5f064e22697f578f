package redisstore

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// testDirectory checks the admin API's reads: the device list by a MAC
// fragment, bounded, and a NAS entry's open records newest first.
func testDirectory(t *testing.T, s *Store) {
	ctx := t.Context()
	macs := []session.MAC{"aa:bb:cc:dd:ee:03", "aa:bb:cc:dd:ee:01", "11:22:33:44:55:66"}
	for _, m := range macs {
		create(t, s, m, timeSpec(3600))
	}
	for _, tc := range []struct {
		name  string
		hex   string
		limit int
		want  []session.MAC
		more  bool
	}{
		{"all", "", 10, []session.MAC{"11:22:33:44:55:66", "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:03"}, false},
		{"fragment", "ddee0", 10, []session.MAC{"aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:03"}, false},
		{"one", "445566", 10, []session.MAC{"11:22:33:44:55:66"}, false},
		{"none", "ffff", 10, nil, false},
		{"limited", "", 2, []session.MAC{"11:22:33:44:55:66", "aa:bb:cc:dd:ee:01"}, true},
	} {
		got, more, err := s.Devices(ctx, tc.hex, tc.limit)
		if err != nil || !slices.Equal(got, tc.want) || more != tc.more {
			t.Errorf("%s: Devices(%q, %d) = %v, more %v, %v; want %v, more %v", tc.name, tc.hex, tc.limit, got, more, err, tc.want, tc.more)
		}
	}
	if _, _, err := s.Devices(ctx, "aa:bb", 10); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("Devices with a colon: %v, want ErrInvalid", err)
	}

	account(t, s, pkt(session.AcctStart, macs[0], "A", 0, 0, 0, t0))
	account(t, s, pkt(session.AcctStart, macs[1], "B", 0, 0, 0, t0.Add(time.Minute)))
	refs, total, err := s.NASOpen(ctx, "nas-a", 10)
	if err != nil || total != 2 || len(refs) != 2 {
		t.Fatalf("NASOpen = %+v, %d, %v; want 2 records", refs, total, err)
	}
	if refs[0].MAC != macs[1] || refs[0].SessionID != "B" || refs[0].NAS != "nas-a" || !refs[0].UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("newest record = %+v, want B of %s at %v", refs[0], macs[1], t0.Add(time.Minute))
	}
	account(t, s, pkt(session.AcctStop, macs[1], "B", 60, 0, 0, t0.Add(2*time.Minute)))
	refs, total, err = s.NASOpen(ctx, "nas-a", 1)
	if err != nil || total != 1 || len(refs) != 1 || refs[0].SessionID != "A" {
		t.Errorf("NASOpen after B's Stop = %+v, %d, %v; want A only", refs, total, err)
	}
	// The device's records, stopped ones too, newest first.
	recs, more, err := s.DeviceRecords(ctx, macs[1])
	if err != nil || more || len(recs) != 1 || recs[0].SessionID != "B" || recs[0].Open || recs[0].SessionTime != 60 || recs[0].NAS != "nas-a" {
		t.Errorf("DeviceRecords of %s = %+v, more %v, %v; want the stopped record B", macs[1], recs, more, err)
	}
	account(t, s, pkt(session.AcctStart, macs[0], "C", 0, 0, 0, t0.Add(3*time.Minute)))
	recs, _, err = s.DeviceRecords(ctx, macs[0])
	if err != nil || len(recs) != 2 || recs[0].SessionID != "C" || recs[1].SessionID != "A" || !recs[0].Open || !recs[1].Open {
		t.Errorf("DeviceRecords of %s = %+v, %v; want C then A, open", macs[0], recs, err)
	}
	if recs, _, err := s.DeviceRecords(ctx, macs[2]); err != nil || len(recs) != 0 {
		t.Errorf("DeviceRecords of a device without records = %+v, %v", recs, err)
	}
	if _, n, err := s.NASOpen(ctx, "other", 0); err != nil || n != 0 {
		t.Errorf("NASOpen of a NAS without records = %d, %v", n, err)
	}
}
