// Package sessiontest holds test fixtures shared by the packages that
// change sessions: the table of edits × session types (testdata/edits.json
// at the repository's root) that session.Edit, the admin API and hsctl all
// run, so that they accept and refuse the same edits.
package sessiontest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hotspot-radius/hsradius/session"
)

// Outcomes of an edit besides the key a refusal names.
const (
	WantOK    = "ok"    // accepted and saved
	WantEmpty = "empty" // refused: nothing to change
)

// Types are the session types, by name, in the table's order.
var Types = []string{"time", "data", "time_or_data"}

// EditTable is testdata/edits.json.
type EditTable struct {
	Comment string `json:"_comment"`
	// Sessions holds, per type, the session an edit is made on: the body
	// of POST /v1/devices/{mac}/sessions.
	Sessions map[string]json.RawMessage `json:"sessions"`
	// Flags names each key's flag of hsctl update.
	Flags map[string]string `json:"flags"`
	Edits []EditCase        `json:"edits"`
}

// EditCase is one edit, made on a fresh session of each type.
type EditCase struct {
	Name string `json:"name"`
	// Patch is the edit as the body of PATCH /v1/sessions/{id}, the JSON
	// of a session.Edit.
	Patch json.RawMessage `json:"patch"`
	// Hsctl is the same edit as flags of hsctl update.
	Hsctl []string `json:"hsctl"`
	// Want is, per type, WantOK, WantEmpty or the key the refusal names
	// (the first, when it names several).
	Want map[string]string `json:"want"`
	// Then holds keys of the session's view (session.View, as the API and
	// hsctl --json show it) after the edit, where Want is WantOK.
	Then map[string]any `json:"then"`
}

// LoadEdits reads testdata/edits.json.
func LoadEdits(t testing.TB) EditTable {
	t.Helper()
	var tab EditTable
	LoadTestdata(t, "edits.json", &tab)
	for _, c := range tab.Edits {
		for _, typ := range Types {
			if c.Want[typ] == "" {
				t.Fatalf("testdata/edits.json: %s: no outcome for a %s session", c.Name, typ)
			}
		}
	}
	return tab
}

// Spec returns the session of the type typ as a session.Spec.
func (tab EditTable) Spec(t testing.TB, typ string) session.Spec {
	t.Helper()
	var s struct {
		Type           string  `json:"type"`
		TimeSecs       uint    `json:"time_secs"`
		DataMB         float64 `json:"data_mb"`
		ExpDays        *uint   `json:"exp_days"`
		DownMbits      uint    `json:"down_mbits"`
		UpMbits        uint    `json:"up_mbits"`
		UseGlobalSpeed bool    `json:"use_global_speed"`
		Provider       string  `json:"provider"`
	}
	dec := json.NewDecoder(bytes.NewReader(tab.Sessions[typ]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("testdata/edits.json: session %s: %v", typ, err)
	}
	st, err := session.ParseType(s.Type)
	if err != nil || st.String() != typ {
		t.Fatalf("testdata/edits.json: session %s has type %q", typ, s.Type)
	}
	return session.Spec{
		Provider: s.Provider, Type: st, TimeSecs: s.TimeSecs, DataMb: s.DataMB, ExpDays: s.ExpDays,
		DownMbits: s.DownMbits, UpMbits: s.UpMbits, UseGlobalSpeed: s.UseGlobalSpeed,
	}
}

// Edit decodes the case's Patch as the admin API does: strictly.
func (c EditCase) Edit(t testing.TB) session.Edit {
	t.Helper()
	var e session.Edit
	dec := json.NewDecoder(bytes.NewReader(c.Patch))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("testdata/edits.json: %s: patch: %v", c.Name, err)
	}
	return e
}

// CheckView checks the keys of Then in view, a session's view as JSON.
func (c EditCase) CheckView(t testing.TB, view []byte) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(view, &got); err != nil {
		t.Fatalf("%s: the view is not a JSON object: %v\n%s", c.Name, err, view)
	}
	for k, want := range c.Then {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: the view has no %s", c.Name, k)
			continue
		}
		if g != want {
			t.Errorf("%s: %s is %v after the edit, want %v", c.Name, k, g, want)
		}
	}
}

// LoadTestdata decodes testdata/<name> at the repository's root into dst,
// strictly (unknown keys are a failure): the shared tables that several
// packages' tests run.
func LoadTestdata(t testing.TB, name string, dst any) {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatalf("sessiontest: cannot locate testdata/%s", name)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		t.Fatalf("testdata/%s: %v", name, err)
	}
}
