package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/hotspot-radius/hsradius/session"
)

// createFlags maps the session's field names to the flags of create.
var createFlags = map[string]string{
	"mac":        "--mac",
	"type":       "--type",
	"time_secs":  "--time",
	"data_mb":    "--data-mb",
	"exp_days":   "--exp-days",
	"down_mbits": "--down",
	"up_mbits":   "--up",
	"provider":   "--provider",
}

func createCmd() *command {
	return &command{
		name:    "create",
		args:    "--mac MAC --type time|data|time_or_data [--time D] [--data-mb N] [--exp-days N] (--down N --up N | --global-speed) [--provider NAME]",
		summary: "create a session for a device and print it",
		details: `
A time session needs --time, a data session --data-mb, a time_or_data session
both. Speeds are needed unless --global-speed makes the NAS's speed apply.
Durations are seconds (5400), Go durations (1h30m) or days (2d, 1d12h).
1 MB = 1,000,000 bytes. The expiry clock starts at first use.

Examples:
  hsctl create --mac aa:bb:cc:dd:ee:ff --type time --time 1h30m --down 10 --up 2
  hsctl create --mac AA-BB-CC-DD-EE-FF --type data --data-mb 500 --global-speed --exp-days 30
  hsctl --json create --mac aabb.ccdd.eeff --type time_or_data --time 2d --data-mb 1000 --down 20 --up 5 --provider voucher
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			var (
				mac, typ, provider string
				timeV              secondsValue
				dataV              mbValue
				expV               expDaysValue
				downV, upV         mbitsValue
				global             bool
			)
			fs.StringVar(&mac, "mac", "", "the device's `MAC` address (aa:bb:cc:dd:ee:ff, AA-BB-..., aabb.ccdd.eeff or aabbccddeeff)")
			fs.StringVar(&typ, "type", "", "session `type`: time, data or time_or_data")
			fs.Var(&timeV, "time", "allocated `duration` (time and time_or_data): 5400, 1h30m, 2d")
			fs.Var(&dataV, "data-mb", "allocated data in `MB` (data and time_or_data)")
			fs.Var(&expV, "exp-days", "`days` the session lasts after first use, or none (default none)")
			fs.Var(&downV, "down", "download speed in `Mbit/s`")
			fs.Var(&upV, "up", "upload speed in `Mbit/s`")
			fs.BoolVar(&global, "global-speed", false, "use the NAS's global speed instead of --down/--up")
			fs.StringVar(&provider, "provider", "", "`name` of whoever sold the session")
			return func(pos []string) (action, error) {
				if len(pos) > 0 {
					return nil, usageErr("create: unexpected argument %q: the device is given with --mac (see hsctl create -h)", pos[0])
				}
				given := setFlags(fs)
				var problems []string
				if mac == "" {
					problems = append(problems, "--mac is required ("+flagHints["--mac"]+")")
				}
				t, err := session.ParseType(typ)
				typeOK := err == nil
				switch {
				case typ == "":
					problems = append(problems, "--type is required (time, data or time_or_data)")
				case !typeOK:
					problems = append(problems, fmt.Sprintf("--type %q: want time, data or time_or_data", typ))
				}
				if global && (downV.set || upV.set) {
					problems = append(problems, "--global-speed and --down/--up exclude each other: give one or the other")
				}
				if typeOK {
					if timeV.set && !t.LimitsTime() {
						problems = append(problems, fmt.Sprintf("--time: a %s session has no time allocation (use --type time_or_data for both)", t))
					}
					if dataV.set && !t.LimitsData() {
						problems = append(problems, fmt.Sprintf("--data-mb: a %s session has no data allocation (use --type time_or_data for both)", t))
					}
				}
				secs, ok := toUint(timeV.secs)
				if !ok {
					problems = append(problems, "--time: too large")
				}
				spec := session.Spec{
					Provider:       provider,
					Type:           t,
					TimeSecs:       secs,
					DataMb:         dataV.mb,
					DownMbits:      downV.mbits,
					UpMbits:        upV.mbits,
					UseGlobalSpeed: global,
				}
				if expV.set && !expV.none {
					days := expV.days
					spec.ExpDays = &days
				}
				if typeOK {
					if _, err := spec.Data(mac, c.now()); err != nil {
						for _, p := range fieldProblems(err, mapFlags(createFlags), given) {
							if mac == "" && strings.HasPrefix(p, "--mac") {
								continue // already reported as missing
							}
							problems = append(problems, p)
						}
					}
				} else if _, err := session.ParseMAC(mac); mac != "" && err != nil {
					problems = append(problems, "--mac: "+strings.TrimPrefix(trimInvalid(err), "mac "))
				}
				if len(problems) > 0 {
					return nil, usageErr("create: %s", strings.Join(problems, "; "))
				}
				return func(ctx context.Context, g *globals, mgr *session.SessionsMgr) error {
					s, err := mgr.CreateSession(ctx, mac, spec)
					if err != nil {
						return storeError("create", "", err, mapFlags(createFlags), given)
					}
					return writeSession(c.stdout, g.json, newView(s, c.now()))
				}, nil
			}
		},
	}
}

func listCmd() *command {
	return &command{
		name:    "list",
		args:    "MAC",
		summary: "list a device's sessions, marking the current one",
		details: `
The current session (marked *) is the started, available session if any,
otherwise the oldest-created available one: the one the RADIUS server uses.

Examples:
  hsctl list aa:bb:cc:dd:ee:ff
  hsctl --json list AA-BB-CC-DD-EE-FF | jq '.[] | select(.current)'
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				mac, err := macArg("list", pos)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, g *globals, mgr *session.SessionsMgr) error {
					all, err := mgr.Sessions(ctx, mac.String())
					if err != nil {
						return storeError("list", "", err, nil, nil)
					}
					now := c.now()
					data := make([]session.Data, len(all))
					for i, s := range all {
						data[i] = s.Data()
					}
					cur, curErr := session.Current(data, now)
					views := make([]sessionView, len(all))
					for i, s := range all {
						views[i] = newView(s, now)
						isCur := curErr == nil && s.ID() == cur.ID
						views[i].Current = &isCur
					}
					return writeList(c.stdout, g.json, mac, views, curErr)
				}, nil
			}
		},
	}
}

func currentCmd() *command {
	return &command{
		name:    "current",
		args:    "MAC",
		summary: "show a device's current session (exit 3 when none is available)",
		details: `
Prints the session the RADIUS server would use for the device now. When the
device has no available session it says why and exits with status 3.

Examples:
  hsctl current aa:bb:cc:dd:ee:ff
  hsctl --json current aa:bb:cc:dd:ee:ff | jq .remaining_time_secs
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				mac, err := macArg("current", pos)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, g *globals, mgr *session.SessionsMgr) error {
					s, err := mgr.CurrSession(ctx, mac.String())
					if err != nil {
						for _, reason := range []error{session.ErrNoSession, session.ErrTimeExhausted, session.ErrDataExhausted, session.ErrExpired} {
							if errors.Is(err, reason) {
								hint := "create one: hsctl create --mac " + mac.String() + " ..."
								if reason != session.ErrNoSession {
									hint = "hsctl list " + mac.String() + " shows them; top one up with hsctl update ID --add-time / --add-data-mb, or create one"
								}
								return notFoundErr("no available session: %v for %s (%s)", reason, mac, hint)
							}
						}
						return storeError("current", "", err, nil, nil)
					}
					v := newView(s, c.now())
					yes := true
					v.Current = &yes
					return writeSession(c.stdout, g.json, v)
				}, nil
			}
		},
	}
}

func showCmd() *command {
	return &command{
		name:    "show",
		args:    "ID",
		summary: "show every field of one session",
		details: `
Session IDs are <12 hex digits of the MAC>-<n>, as printed by create and list.
Dates are RFC 3339 in UTC.

Examples:
  hsctl show aabbccddeeff-1
  hsctl --json show aabbccddeeff-1
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				id, err := idArg("show", pos)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, g *globals, mgr *session.SessionsMgr) error {
					s, err := mgr.GetSession(ctx, id)
					if err != nil {
						return storeError("show", id, err, nil, nil)
					}
					return writeSession(c.stdout, g.json, newView(s, c.now()))
				}, nil
			}
		},
	}
}

// updateFlags maps the keys of a session.Edit to the flags of update.
var updateFlags = map[string]string{
	"add_time_secs":    "--add-time",
	"add_data_mb":      "--add-data-mb",
	"time_secs":        "--time",
	"data_mb":          "--data-mb",
	"time_cons_secs":   "--time-used",
	"data_cons_mb":     "--data-used-mb",
	"down_mbits":       "--down",
	"up_mbits":         "--up",
	"use_global_speed": "--global-speed",
	"exp_days":         "--exp-days",
	"provider":         "--provider",
	"reset_start":      "--reset-start",
}

func updateCmd() *command {
	return &command{
		name:    "update",
		args:    "ID [--add-time D] [--add-data-mb N] [--time D] [--data-mb N] [--time-used D] [--data-used-mb N] [--down N] [--up N] [--global-speed=true|false] [--exp-days N|none] [--provider S] [--reset-start]",
		summary: "top up or change a session and print it",
		details: `
--add-time and --add-data-mb are atomic top-ups: two payments credited at the
same moment both count. The other flags overwrite a value (--time 2h sets the
allocation to 2h; with --add-time as well, the top-up is added after it).
Time flags apply to time and time_or_data sessions, data flags to data and
time_or_data sessions. --down/--up switch a session that used the global
speed to its own speed, unless --global-speed=true is given too. --reset-start
marks the session as not started, so its expiry clock restarts at the next
first use. The admin API's PATCH accepts and refuses the same changes.

Examples:
  hsctl update aabbccddeeff-1 --add-time 1h
  hsctl update aabbccddeeff-2 --add-data-mb 500 --exp-days none
  hsctl update aabbccddeeff-1 --down 20 --up 5
  hsctl update aabbccddeeff-1 --global-speed=true
  hsctl update aabbccddeeff-1 --time-used 0 --reset-start
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			var (
				addTime, timeV, timeUsed secondsValue
				addData, dataV, dataUsed mbValue
				downV, upV               mbitsValue
				expV                     expDaysValue
				global, resetStart       bool
				provider                 string
			)
			fs.Var(&addTime, "add-time", "add this `duration` to the allocated time, atomically")
			fs.Var(&addData, "add-data-mb", "add this many `MB` to the allocated data, atomically")
			fs.Var(&timeV, "time", "set the allocated time to this `duration`")
			fs.Var(&dataV, "data-mb", "set the allocated data to this many `MB`")
			fs.Var(&timeUsed, "time-used", "set the consumed time to this `duration`")
			fs.Var(&dataUsed, "data-used-mb", "set the consumed data to this many `MB`")
			fs.Var(&downV, "down", "set the download speed in `Mbit/s`")
			fs.Var(&upV, "up", "set the upload speed in `Mbit/s`")
			fs.BoolVar(&global, "global-speed", false, "--global-speed=true: use the NAS's global speed; --global-speed=false: the session's own --down/--up")
			fs.Var(&expV, "exp-days", "set the `days` the session lasts after first use, or none")
			fs.StringVar(&provider, "provider", "", "set the provider `name`")
			fs.BoolVar(&resetStart, "reset-start", false, "mark the session as not started (restarts its expiry clock)")
			return func(pos []string) (action, error) {
				id, err := idArg("update", pos)
				if err != nil {
					return nil, err
				}
				given := setFlags(fs)
				// The flags as a session.Edit: the API's PATCH takes the
				// same, so both apply the same rules.
				for _, v := range []*secondsValue{&addTime, &timeV, &timeUsed} {
					if _, ok := toUint(v.secs); !ok {
						return nil, usageErr("update: a duration is too large (see hsctl update -h)")
					}
				}
				var edit session.Edit
				secs := func(v *secondsValue) *uint {
					if !v.set {
						return nil
					}
					n, _ := toUint(v.secs)
					return &n
				}
				mb := func(v *mbValue) *float64 {
					if !v.set {
						return nil
					}
					return &v.mb
				}
				mbits := func(v *mbitsValue) *uint {
					if !v.set {
						return nil
					}
					return &v.mbits
				}
				edit.AddTimeSecs, edit.TimeSecs, edit.TimeConsSecs = secs(&addTime), secs(&timeV), secs(&timeUsed)
				edit.AddDataMB, edit.DataMB, edit.DataConsMB = mb(&addData), mb(&dataV), mb(&dataUsed)
				edit.DownMbits, edit.UpMbits = mbits(&downV), mbits(&upV)
				if given("--global-speed") {
					edit.UseGlobalSpeed = &global
				}
				if expV.set {
					edit.ExpDays.Set = true
					if !expV.none {
						edit.ExpDays.Days = &expV.days
					}
				}
				if given("--provider") {
					edit.Provider = &provider
				}
				edit.ResetStart = resetStart
				// What is wrong whatever the session is: before Redis.
				if err := edit.Check(); err != nil {
					return nil, editError(err, " (see hsctl update -h)")
				}
				return func(ctx context.Context, g *globals, mgr *session.SessionsMgr) error {
					s, err := mgr.GetSession(ctx, id)
					if err != nil {
						return storeError("update", id, err, nil, nil)
					}
					if err := edit.Validate(session.Type(s.Type())); err != nil {
						return editError(err, "")
					}
					edit.Apply(s)
					if err := s.Save(ctx); err != nil {
						return storeError("update", id, err, func(field string) string { return updateFlags[edit.Key(field)] }, given)
					}
					return writeSession(c.stdout, g.json, newView(s, c.now()))
				}, nil
			}
		},
	}
}

// editError says, naming flags, why session.Edit's Check or Validate
// refused an update.
func editError(err error, hint string) error {
	if errors.Is(err, session.ErrNoChange) {
		return usageErr("update: nothing to change: give at least one of --add-time, --add-data-mb, --time, --data-mb, --time-used, --data-used-mb, --down, --up, --global-speed, --exp-days, --provider, --reset-start%s", hint)
	}
	var problems []string
	for _, e := range session.ErrorLeaves(err) {
		var fe *session.FieldError
		if !errors.As(e, &fe) {
			problems = append(problems, trimInvalid(e))
			continue
		}
		name := updateFlags[fe.Field]
		if name == "" {
			name = fe.Field
		}
		problems = append(problems, name+": "+fe.Problem)
	}
	return usageErr("update: %s%s", strings.Join(problems, "; "), hint)
}

func deleteCmd() *command {
	return &command{
		name:    "delete",
		args:    "ID",
		summary: "delete a session",
		details: `
Accounting records that fed the session keep their counters; the device's
next accounting packets charge its current session.

Examples:
  hsctl delete aabbccddeeff-3
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				id, err := idArg("delete", pos)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, g *globals, mgr *session.SessionsMgr) error {
					if err := mgr.DeleteSession(ctx, id); err != nil {
						return storeError("delete", id, err, nil, nil)
					}
					if g.json {
						return writeJSON(c.stdout, struct {
							ID      string `json:"id"`
							Deleted bool   `json:"deleted"`
						}{id, true})
					}
					_, err := fmt.Fprintf(c.stdout, "deleted session %s\n", id)
					return err
				}, nil
			}
		},
	}
}

// mapFlags looks a field's flag up in m.
func mapFlags(m map[string]string) func(field string) string {
	return func(field string) string { return m[field] }
}

// setFlags returns a predicate telling whether a flag ("--time") was given.
func setFlags(fs *flag.FlagSet) func(string) bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set["--"+f.Name] = true })
	return func(name string) bool { return set[name] }
}

// macArg checks the single MAC argument of list and current.
func macArg(cmd string, pos []string) (session.MAC, error) {
	if len(pos) != 1 {
		return "", usageErr("%s: want exactly one argument, the device's MAC address, e.g. hsctl %s aa:bb:cc:dd:ee:ff (got %d)", cmd, cmd, len(pos))
	}
	mac, err := session.ParseMAC(pos[0])
	if err != nil {
		return "", usageErr("%s: bad MAC address %s", cmd, strings.TrimPrefix(trimInvalid(err), "mac "))
	}
	return mac, nil
}

// idArg checks the single session ID argument of show, update and delete.
func idArg(cmd string, pos []string) (string, error) {
	if len(pos) != 1 {
		return "", usageErr("%s: want exactly one argument, the session ID, e.g. hsctl %s aabbccddeeff-1 (got %d; hsctl list MAC shows IDs)", cmd, cmd, len(pos))
	}
	if _, _, err := session.ParseID(pos[0]); err != nil {
		return "", usageErr("%s: malformed session ID: %s (hsctl list MAC shows IDs)", cmd, trimInvalid(err))
	}
	return pos[0], nil
}

// storeError turns errors from the SessionsMgr into messages with exit
// codes: validation failures name flags (exit 2), a missing session exits 3,
// anything else is a runtime or storage failure (exit 1).
func storeError(cmd, id string, err error, flagOf func(field string) string, given func(string) bool) error {
	switch {
	case errors.Is(err, session.ErrNotFound) && id != "":
		mac, _, _ := session.ParseID(id)
		return notFoundErr("%s: session %s not found (hsctl list %s shows the device's sessions)", cmd, id, mac)
	case isValidation(err):
		if given == nil {
			given = func(string) bool { return false }
		}
		return usageErr("%s: %s", cmd, oneLine(strings.Join(fieldProblems(err, flagOf, given), "; ")))
	}
	return failure("%s: %s", cmd, oneLine(err.Error()))
}
