package redisstore

import (
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// testOpenRecords: the device's open records carry what a Disconnect/CoA
// needs, and leave the set when they stop or a NAS reboot closes them.
func testOpenRecords(t *testing.T, s *Store) {
	ctx := t.Context()
	id := create(t, s, testMAC, timeSpec(3600))
	a := pkt(session.AcctStart, testMAC, "A", 0, 0, 0, t0)
	a.NASAttrs = session.NASAttrs{UserName: "AA-BB-CC-DD-EE-FF", CallingStationID: "AA-BB-CC-DD-EE-FF", FramedIP: "10.1.0.7", NASIP: "192.0.2.1", NASIdentifier: "hotspot-1", SourceIP: "192.0.2.1"}
	res := account(t, s, a)
	if !res.NewRecord {
		t.Errorf("Start: NewRecord false, want true")
	}
	b := pkt(session.AcctInterim, testMAC, "B", 60, 10, 20, t0.Add(time.Minute))
	if res := account(t, s, b); !res.NewRecord {
		t.Errorf("first interim of B: NewRecord false, want true (no Start seen)")
	}
	if res := account(t, s, pkt(session.AcctInterim, testMAC, "B", 120, 10, 20, t0.Add(2*time.Minute))); res.NewRecord {
		t.Errorf("second interim of B: NewRecord true, want false")
	}
	recs, err := s.OpenRecords(ctx, testMAC)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].SessionID < recs[j].SessionID })
	if len(recs) != 2 || recs[0].SessionID != "A" || recs[1].SessionID != "B" {
		t.Fatalf("OpenRecords = %+v, want A and B", recs)
	}
	if recs[0].NASAttrs != a.NASAttrs || recs[0].NAS != "nas-a" || recs[0].Feeds != id || !recs[0].Open {
		t.Errorf("record A = %+v, want attrs %+v feeding %s", recs[0], a.NASAttrs, id)
	}
	if recs[1].SessionTime != 120 || recs[1].InputOctets != 10 || recs[1].OutputOctets != 20 {
		t.Errorf("record B counters = %d/%d/%d, want 120/10/20", recs[1].SessionTime, recs[1].InputOctets, recs[1].OutputOctets)
	}

	account(t, s, pkt(session.AcctStop, testMAC, "B", 130, 10, 20, t0.Add(3*time.Minute)))
	if n, err := s.CloseNAS(ctx, "nas-a", t0.Add(4*time.Minute), "accounting-on"); err != nil || n != 1 {
		t.Errorf("CloseNAS = %d, %v; want 1 (record A)", n, err)
	}
	recs, err = s.OpenRecords(ctx, testMAC)
	if err != nil || len(recs) != 0 {
		t.Errorf("OpenRecords after stop and reboot = %+v, %v; want none", recs, err)
	}
	if n, _ := s.rdb.SCard(ctx, DefaultPrefix+"{aabbccddeeff}:open").Result(); n != 0 {
		t.Errorf("open set has %d members, want 0", n)
	}
}

// testRecordAndSchedule: Record reads a record with its sessions; due
// schedule entries are claimed once each, even by several stores at once,
// and a Stop removes its entry.
func testRecordAndSchedule(t *testing.T, s *Store) {
	ctx := t.Context()
	id := create(t, s, testMAC, timeSpec(600))
	account(t, s, pkt(session.AcctInterim, testMAC, "R", 60, 1, 2, t0))
	rec, sessions, err := s.Record(ctx, "nas-a", testMAC, "R")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Open || rec.Feeds != id || rec.SessionTime != 60 || len(sessions) != 1 || sessions[0].TimeCons != 60 {
		t.Errorf("Record = %+v with %+v", rec, sessions)
	}
	if _, _, err := s.Record(ctx, "nas-a", testMAC, "missing"); !isNotFound(err) {
		t.Errorf("Record(missing) err = %v, want ErrNotFound", err)
	}

	const n = 50
	for i := range n {
		mac := session.MAC("02:00:00:00:00:" + string("0123456789abcdef"[i/16]) + string("0123456789abcdef"[i%16]))
		if err := s.ScheduleEnd(ctx, "nas-a", mac, "x", t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.ClaimDue(ctx, t0.Add(-time.Second), 100); err != nil || len(got) != 0 {
		t.Errorf("ClaimDue before anything is due = %v, %v", got, err)
	}
	other := twin(t, s)
	var mu sync.Mutex
	var claimed []string
	var wg sync.WaitGroup
	for _, st := range []*Store{s, other, s, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				refs, err := st.ClaimDue(ctx, t0.Add(time.Hour), 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(refs) == 0 {
					return
				}
				mu.Lock()
				for _, r := range refs {
					claimed = append(claimed, string(r.MAC))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(claimed)
	if len(claimed) != n || len(slices.Compact(slices.Clone(claimed))) != n {
		t.Errorf("claimed %d entries (%d distinct), want each of %d exactly once", len(claimed), len(slices.Compact(slices.Clone(claimed))), n)
	}

	if err := s.ScheduleEnd(ctx, "nas-a", testMAC, "R", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	account(t, s, pkt(session.AcctStop, testMAC, "R", 90, 1, 2, t0.Add(time.Minute)))
	if got, err := s.ClaimDue(ctx, t0.Add(time.Hour), 10); err != nil || len(got) != 0 {
		t.Errorf("after Stop, ClaimDue = %v, %v; want nothing", got, err)
	}
}

func isNotFound(err error) bool { return errors.Is(err, session.ErrNotFound) }
