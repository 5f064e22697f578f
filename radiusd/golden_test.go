package radiusd

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/hotspot-radius/hsradius/session"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenCase is one session whose Access-Accept the golden files record.
type goldenCase struct {
	name string
	mac  session.MAC
	data session.Data
}

// goldenCases are the sessions of README.md's "Attributes sent" every vendor profile is
// checked against. The clock is testNow (2025-06-01T12:00:00Z).
func goldenCases() []goldenCase {
	mk := func(mac session.MAC, d session.Data) session.Data {
		d.ID = session.NewID(mac, 1)
		d.MAC = mac
		d.CreatedAt = testNow.Add(-72 * time.Hour)
		return d
	}
	cs := []goldenCase{
		{
			// 1 h, 10 Mbit down / 2 Mbit up, never used.
			name: "time 1h, 10/2 Mbit",
			mac:  "02:00:00:00:00:01",
			data: session.Data{Type: session.TypeTime, TimeSecs: 3600, DownMbits: 10, UpMbits: 2},
		},
		{
			// 5000 MB = 5,000,000,000 bytes > 2^32: the octet limits need
			// their gigawords (1 × 2^32 + 705,032,704).
			name: "data 5000 MB, 50/10 Mbit",
			mac:  "02:00:00:00:00:02",
			data: session.Data{Type: session.TypeData, DataBytes: 5000 * session.BytesPerMB, DownMbits: 50, UpMbits: 10},
		},
		{
			// 2 h of which 30 min used, 1000 MB of which 250 MB used, 1 day
			// expiry started 23.5 h ago: 1800 s to expiry < 5400 s left.
			name: "time_or_data with expiry, 5/1 Mbit",
			mac:  "02:00:00:00:00:03",
			data: session.Data{
				Type: session.TypeTimeOrData, TimeSecs: 7200, TimeCons: 1800,
				DataBytes: 1000 * session.BytesPerMB, DataConsBytes: 250 * session.BytesPerMB,
				StartedAt: testNow.Add(-23*time.Hour - 30*time.Minute), HasExpiry: true, ExpDays: 1,
				DownMbits: 5, UpMbits: 1,
			},
		},
		{
			// The NAS's global speed (20 down / 5 up) applies.
			name: "use_global_speed, time 30 min (NAS global 20/5 Mbit)",
			mac:  "02:00:00:00:00:04",
			data: session.Data{Type: session.TypeTime, TimeSecs: 1800, UseGlobalSpeed: true},
		},
	}
	for i := range cs {
		cs[i].data = mk(cs[i].mac, cs[i].data)
	}
	return cs
}

// TestGoldenAccept records, per vendor profile, the Access-Accept of each
// golden session decoded to one "Name = value" line per attribute, through
// the whole packet path. Regenerate with go test ./radiusd -run Golden -update
// and check units by hand against README.md's "Attributes sent" before committing.
func TestGoldenAccept(t *testing.T) {
	type profileSet struct {
		name     string
		profiles []Profile
	}
	sets := []profileSet{{"all", Profiles}} // a NAS may name several families
	for _, p := range Profiles {
		sets = append(sets, profileSet{string(p), []Profile{p}})
	}
	for _, ps := range sets {
		t.Run(ps.name, func(t *testing.T) {
			nas := testNAS()
			nas.Profiles = ps.profiles
			e := newEnv(t, withNAS(nas))
			var out strings.Builder
			out.WriteString("# Access-Accept per session, vendor profile " + ps.name + ", at " + testNow.Format(time.RFC3339) + "\n")
			out.WriteString("# regenerate: go test ./radiusd -run Golden -update\n")
			for _, gc := range goldenCases() {
				e.store.put(gc.data)
				req := accessRequest(t, userName(gc.mac.Hex()), callingStation(strings.ToUpper(strings.ReplaceAll(string(gc.mac), ":", "-"))))
				reply := checkReply(t, e.send(Auth, req), req, testSecret, radius.CodeAccessAccept)
				out.WriteString("\n[" + gc.name + "]\n")
				for _, l := range decodeAttrs(t, reply) {
					out.WriteString(l + "\n")
				}
			}
			golden(t, filepath.Join("testdata", "golden", ps.name+".txt"), out.String())
		})
	}
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (rerun with -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
