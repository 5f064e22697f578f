package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/sessiontest"
)

// reUpdateFlag is the flag an update's error names first.
var reUpdateFlag = regexp.MustCompile(`^hsctl: update: (--[a-z-]+)`)

// TestEditTable runs testdata/edits.json through hsctl update: each edit,
// given as flags, on a fresh session of each type must succeed (exit 0) or
// be refused (exit 2 naming the key's flag) exactly as session.Edit and the
// admin API's PATCH decide.
func TestEditTable(t *testing.T) {
	tab := sessiontest.LoadEdits(t)
	keyOf := map[string]string{}
	for key, flag := range tab.Flags {
		keyOf[flag] = key
	}
	addr := miniredis.RunT(t).Addr()
	env := map[string]string{envAddrs: addr, envPrefix: testPrefix}
	mgr := session.NewSessionsMgr(testStore(t, addr), time.Now)
	for _, c := range tab.Edits {
		for _, typ := range sessiontest.Types {
			t.Run(c.Name+"/"+typ, func(t *testing.T) {
				s, err := mgr.CreateSession(t.Context(), "02:00:00:00:00:01", tab.Spec(t, typ))
				if err != nil {
					t.Fatal(err)
				}
				now := time.Now()
				view := func(d session.Data) string {
					b, err := json.Marshal(session.NewView(d, now))
					if err != nil {
						t.Fatal(err)
					}
					return string(b)
				}
				before := view(s.Data())
				args := append([]string{"--json", "update", s.ID()}, c.Hsctl...)
				r := hsctl(t, env, args...)
				var got string
				switch {
				case r.code == exitOK:
					got = sessiontest.WantOK
				case r.code == exitUsage && strings.Contains(r.stderr, "nothing to change"):
					got = sessiontest.WantEmpty
				case r.code == exitUsage:
					m := reUpdateFlag.FindStringSubmatch(r.stderr)
					if m == nil || keyOf[m[1]] == "" {
						t.Fatalf("hsctl %s: the error names no flag of the table: %q", strings.Join(args, " "), r.stderr)
					}
					got = keyOf[m[1]]
				default:
					t.Fatalf("hsctl %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
				}
				if want := c.Want[typ]; got != want {
					t.Fatalf("hsctl update %s on a %s session: got %s, want %s (%q)", strings.Join(c.Hsctl, " "), typ, got, want, r.stderr)
				}
				stored, err := mgr.GetSession(t.Context(), s.ID())
				if err != nil {
					t.Fatal(err)
				}
				if got != sessiontest.WantOK {
					if after := view(stored.Data()); after != before {
						t.Errorf("a refused edit changed the session:\n got %s\nwant %s", after, before)
					}
					return
				}
				c.CheckView(t, []byte(r.stdout))
			})
		}
	}
}
