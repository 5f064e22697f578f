package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/sessiontest"
)

// editOutcome validates e for s's type, applies it and saves, and says
// what came of it as the edit table does: ok, empty or the key refused.
func editOutcome(ctx context.Context, t *testing.T, e session.Edit, s *session.ClientSession) string {
	t.Helper()
	err := e.Validate(session.Type(s.Type()))
	if err == nil {
		e.Apply(s)
		err = s.Save(ctx)
	}
	var fe *session.FieldError
	switch {
	case err == nil:
		return sessiontest.WantOK
	case errors.Is(err, session.ErrNoChange):
		return sessiontest.WantEmpty
	case errors.As(err, &fe):
		return e.Key(fe.Field)
	}
	t.Fatalf("not a validation error: %v", err)
	return ""
}

// TestEditTable runs testdata/edits.json on session.Edit: each edit on a
// fresh session of each type, with Save on redisstore (miniredis). The
// admin API and hsctl run the same table.
func TestEditTable(t *testing.T) {
	tab := sessiontest.LoadEdits(t)
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{miniredis.RunT(t).Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mgr := session.NewSessionsMgr(store, time.Now)
	ctx := t.Context()
	for _, c := range tab.Edits {
		for _, typ := range sessiontest.Types {
			t.Run(c.Name+"/"+typ, func(t *testing.T) {
				s, err := mgr.CreateSession(ctx, "02:00:00:00:00:01", tab.Spec(t, typ))
				if err != nil {
					t.Fatal(err)
				}
				now := time.Now()
				view := func(d session.Data) []byte {
					b, err := json.Marshal(session.NewView(d, now))
					if err != nil {
						t.Fatal(err)
					}
					return b
				}
				before := view(s.Data())
				got := editOutcome(ctx, t, c.Edit(t), s)
				if want := c.Want[typ]; got != want {
					t.Fatalf("%s on a %s session: got %s, want %s", c.Patch, typ, got, want)
				}
				stored, err := mgr.GetSession(ctx, s.ID())
				if err != nil {
					t.Fatal(err)
				}
				if got != sessiontest.WantOK {
					if after := view(stored.Data()); !bytes.Equal(after, before) {
						t.Errorf("a refused edit changed the session:\n got %s\nwant %s", after, before)
					}
					return
				}
				c.CheckView(t, view(stored.Data()))
			})
		}
	}
}

// TestEditJSON: exp_days absent leaves the expiry, null removes it, a
// number sets it; keys are those of the API.
func TestEditJSON(t *testing.T) {
	for _, tc := range []struct {
		body string
		want session.ExpiryEdit
	}{
		{`{"provider":"x"}`, session.ExpiryEdit{}},
		{`{"exp_days":null}`, session.ExpiryEdit{Set: true}},
		{`{"exp_days":30}`, session.ExpiryEdit{Set: true, Days: new(uint(30))}},
	} {
		var e session.Edit
		if err := json.Unmarshal([]byte(tc.body), &e); err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if !reflect.DeepEqual(e.ExpDays, tc.want) {
			t.Errorf("%s: exp_days %+v, want %+v", tc.body, e.ExpDays, tc.want)
		}
	}
	var e session.Edit
	err := json.Unmarshal([]byte(`{"exp_days":"soon"}`), &e)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field != "exp_days" {
		t.Errorf(`exp_days "soon": %v, want a type error naming exp_days`, err)
	}
}

// TestEditValidateEveryProblem: Validate names every key at fault at once,
// Check only those whatever the type.
func TestEditValidateEveryProblem(t *testing.T) {
	e := session.Edit{
		AddTimeSecs: new(uint(0)), DataConsMB: new(1.5), TimeConsSecs: new(uint(10)),
		UseGlobalSpeed: new(true), UpMbits: new(uint(3)),
	}
	keys := func(err error) []string {
		var out []string
		var walk func(error)
		walk = func(err error) {
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, x := range j.Unwrap() {
					walk(x)
				}
				return
			}
			var fe *session.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("not a *FieldError: %v", err)
			}
			out = append(out, fe.Field)
		}
		walk(err)
		return out
	}
	err := e.Validate(session.TypeData)
	if !errors.Is(err, session.ErrInvalid) {
		t.Fatalf("Validate: %v, want ErrInvalid", err)
	}
	if got, want := strings.Join(keys(err), " "), "add_time_secs use_global_speed add_time_secs time_cons_secs"; got != want {
		t.Errorf("Validate on a data session names %s, want %s", got, want)
	}
	if got := strings.Join(keys(e.Check()), " "); got != "add_time_secs use_global_speed" {
		t.Errorf("Check names %s, want add_time_secs use_global_speed", got)
	}
	if err := (session.Edit{}).Validate(session.TypeTime); !errors.Is(err, session.ErrNoChange) || !errors.Is(err, session.ErrInvalid) {
		t.Errorf("empty edit: %v, want ErrNoChange", err)
	}
}

// TestEditKey: Save's field names become the edit's keys.
func TestEditKey(t *testing.T) {
	top := session.Edit{AddTimeSecs: new(uint(1)), AddDataMB: new(1.0)}
	set := session.Edit{AddTimeSecs: new(uint(1)), TimeSecs: new(uint(1)), DataMB: new(1.0)}
	for _, tc := range []struct {
		e           session.Edit
		field, want string
	}{
		{top, "time_secs", "add_time_secs"},
		{top, "data_mb", "add_data_mb"},
		{set, "time_secs", "time_secs"},
		{set, "data_mb", "data_mb"},
		{set, "time_cons", "time_cons_secs"},
		{set, "data_cons", "data_cons_mb"},
		{set, "exp_days", "exp_days"},
	} {
		if got := tc.e.Key(tc.field); got != tc.want {
			t.Errorf("Key(%s): got %s, want %s", tc.field, got, tc.want)
		}
	}
}
