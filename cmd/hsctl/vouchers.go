package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// The plan and voucher commands call the voucher.Manager that the admin API
// calls, so both accept and refuse the same inputs (testdata/plans.json).

// planFlags names each plan key's flag.
var planFlags = map[string]string{
	"name":             "NAME",
	"type":             "--type",
	"time_secs":        "--time",
	"data_mb":          "--data-mb",
	"exp_days":         "--exp-days",
	"down_mbits":       "--down",
	"up_mbits":         "--up",
	"use_global_speed": "--global-speed",
	"price":            "--price",
	"currency":         "--currency",
	"devices":          "--devices",
	"count":            "--count",
	"length":           "--length",
	"prefix":           "--code-prefix",
	"note":             "--note",
}

// planFlagSet holds the flags of plan create and plan update.
type planFlagSet struct {
	typ, currency string
	timeV         secondsValue
	dataV         mbValue
	expV          expDaysValue
	downV, upV    mbitsValue
	global        bool
	price         float64
	devices       uint
}

func (p *planFlagSet) register(fs *flag.FlagSet) {
	fs.StringVar(&p.typ, "type", "", "session `type`: time, data or time_or_data")
	fs.Var(&p.timeV, "time", "allocated `duration` (time and time_or_data): 5400, 1h30m, 2d")
	fs.Var(&p.dataV, "data-mb", "allocated data in `MB` (data and time_or_data)")
	fs.Var(&p.expV, "exp-days", "`days` a code's session lasts after first use, or none")
	fs.Var(&p.downV, "down", "download speed in `Mbit/s`")
	fs.Var(&p.upV, "up", "upload speed in `Mbit/s`")
	fs.BoolVar(&p.global, "global-speed", false, "use the NAS's global speed instead of --down/--up")
	fs.Float64Var(&p.price, "price", 0, "price of one code, for reports (`amount`)")
	fs.StringVar(&p.currency, "currency", "", "ISO 4217 `code` of the price, e.g. EUR")
	fs.UintVar(&p.devices, "devices", 0, "`number` of devices one code may serve, each with its own session (default 1)")
}

// vouchersOf returns the voucher manager of the connected store.
func (c *cli) vouchersOf() *voucher.Manager { return voucher.NewManager(c.store, c.now) }

// voucherError turns the manager's errors into messages with exit codes.
func voucherError(cmd string, err error, given func(string) bool) error {
	switch {
	case errors.Is(err, voucher.ErrPlanExists):
		return failure("%s: the plan exists already (hsctl plan update changes it)", cmd)
	case errors.Is(err, voucher.ErrPlanInUse):
		return failure("%s: %s (hsctl voucher revoke --batch ID revokes a batch)", cmd, oneLine(err.Error()))
	case errors.Is(err, voucher.ErrPlanNotFound):
		return notFoundErr("%s: plan not found (hsctl plan list shows the plans)", cmd)
	case errors.Is(err, voucher.ErrBatchNotFound):
		return notFoundErr("%s: batch not found (hsctl voucher batches shows the batches)", cmd)
	case errors.Is(err, voucher.ErrUnknown):
		return notFoundErr("%s: voucher code not found", cmd)
	case errors.Is(err, voucher.ErrNoChange):
		return usageErr("%s: nothing to change: give at least one of --type, --time, --data-mb, --exp-days, --down, --up, --global-speed, --price, --currency, --devices", cmd)
	}
	return storeError(cmd, "", err, mapFlags(planFlags), given)
}

func planCreateCmd() *command {
	return &command{
		name:    "plan create",
		args:    "NAME --type time|data|time_or_data [--time D] [--data-mb N] [--exp-days N] (--down N --up N | --global-speed) [--price X --currency C] [--devices N]",
		summary: "create a plan: the session a voucher code of it gives",
		details: `
The session flags mean what they mean for hsctl create. --devices lets one
code serve that many devices, each with its own session from the plan.

Examples:
  hsctl plan create 1h --type time --time 1h --down 5 --up 2 --price 2 --currency EUR
  hsctl plan create 1gb-7d --type data --data-mb 1000 --exp-days 7 --global-speed
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			var pf planFlagSet
			pf.register(fs)
			return func(pos []string) (action, error) {
				if len(pos) != 1 {
					return nil, usageErr("plan create: want exactly one argument, the plan's NAME (got %d)", len(pos))
				}
				given := setFlags(fs)
				in := voucher.PlanInput{Name: pos[0], TimeSecs: uint(pf.timeV.secs), DataMB: pf.dataV.mb,
					DownMbits: pf.downV.mbits, UpMbits: pf.upV.mbits, UseGlobalSpeed: pf.global,
					Price: pf.price, Currency: pf.currency, Devices: pf.devices}
				if pf.typ != "" {
					in.Type, _ = json.Marshal(pf.typ)
				}
				if pf.expV.set && !pf.expV.none {
					d := pf.expV.days
					in.ExpDays = &d
				}
				if _, err := in.Plan(c.now()); err != nil {
					return nil, voucherError("plan create", err, given)
				}
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					p, err := c.vouchersOf().CreatePlan(ctx, in)
					if err != nil {
						return voucherError("plan create", err, given)
					}
					return writePlan(c.stdout, g.json, p.JSON())
				}, nil
			}
		},
	}
}

func planUpdateCmd() *command {
	return &command{
		name:    "plan update",
		args:    "NAME [--type T] [--time D] [--data-mb N] [--exp-days N|none] [--down N] [--up N] [--global-speed=true|false] [--price X] [--currency C] [--devices N]",
		summary: "change a plan; codes already redeemed keep the plan they were redeemed with",
		details: `
Only the flags given change.

Examples:
  hsctl plan update 1h --time 2h
  hsctl plan update 1gb-7d --exp-days none
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			var pf planFlagSet
			pf.register(fs)
			return func(pos []string) (action, error) {
				if len(pos) != 1 {
					return nil, usageErr("plan update: want exactly one argument, the plan's NAME (got %d)", len(pos))
				}
				given := setFlags(fs)
				var pt voucher.PlanPatch
				if given("--type") {
					pt.Type, _ = json.Marshal(pf.typ)
				}
				if given("--time") {
					v := uint(pf.timeV.secs)
					pt.TimeSecs = &v
				}
				if given("--data-mb") {
					pt.DataMB = &pf.dataV.mb
				}
				if given("--exp-days") {
					pt.ExpDays = []byte("null")
					if !pf.expV.none {
						pt.ExpDays = []byte(strconv.FormatUint(uint64(pf.expV.days), 10))
					}
				}
				if given("--down") {
					pt.DownMbits = &pf.downV.mbits
				}
				if given("--up") {
					pt.UpMbits = &pf.upV.mbits
				}
				if given("--global-speed") {
					pt.UseGlobalSpeed = &pf.global
				}
				if given("--price") {
					pt.Price = &pf.price
				}
				if given("--currency") {
					pt.Currency = &pf.currency
				}
				if given("--devices") {
					pt.Devices = &pf.devices
				}
				name := pos[0]
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					p, err := c.vouchersOf().UpdatePlan(ctx, name, pt)
					if err != nil {
						return voucherError("plan update", err, given)
					}
					return writePlan(c.stdout, g.json, p.JSON())
				}, nil
			}
		},
	}
}

func planListCmd() *command {
	return &command{
		name:    "plan list",
		summary: "list the plans",
		details: "\nExample:\n  hsctl plan list\n",
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				if len(pos) != 0 {
					return nil, usageErr("plan list: unexpected argument %q", pos[0])
				}
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					ps, err := c.vouchersOf().Plans(ctx)
					if err != nil {
						return voucherError("plan list", err, nil)
					}
					out := make([]voucher.PlanJSON, len(ps))
					for i, p := range ps {
						out[i] = p.JSON()
					}
					if g.json {
						return writeJSON(c.stdout, map[string]any{"plans": out})
					}
					tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tTYPE\tTIME\tDATA MB\tEXP DAYS\tSPEED\tPRICE\tDEVICES")
					for _, p := range out {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", p.Name, p.Type, secsShort(uint64(p.TimeSecs)), mb(p.DataMB),
							expDays(p.ExpDays), planSpeed(p), price(p), p.Devices)
					}
					return tw.Flush()
				}, nil
			}
		},
	}
}

func planShowCmd() *command {
	return &command{
		name:    "plan show",
		args:    "NAME",
		summary: "show a plan and the counts of its codes by state",
		details: "\nExample:\n  hsctl plan show 1h\n",
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				if len(pos) != 1 {
					return nil, usageErr("plan show: want exactly one argument, the plan's NAME (got %d)", len(pos))
				}
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					p, counts, err := c.vouchersOf().Plan(ctx, pos[0])
					if err != nil {
						return voucherError("plan show", err, nil)
					}
					v := p.JSON()
					v.Vouchers = counts
					return writePlan(c.stdout, g.json, v)
				}, nil
			}
		},
	}
}

func planDeleteCmd() *command {
	return &command{
		name:    "plan delete",
		args:    "NAME",
		summary: "delete a plan that has no unused codes",
		details: "\nExample:\n  hsctl plan delete 1h\n",
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				if len(pos) != 1 {
					return nil, usageErr("plan delete: want exactly one argument, the plan's NAME (got %d)", len(pos))
				}
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					if err := c.vouchersOf().DeletePlan(ctx, pos[0]); err != nil {
						return voucherError("plan delete", err, nil)
					}
					if !g.json {
						fmt.Fprintf(c.stdout, "deleted plan %s\n", pos[0])
					}
					return nil
				}, nil
			}
		},
	}
}

func voucherBatchCmd() *command {
	return &command{
		name:    "voucher batch",
		args:    "PLAN --count N [--length N] [--code-prefix P] [--note TEXT]",
		summary: "generate a batch of codes for a plan and print them, one a line",
		details: `
Codes are --length characters (default 10) of an alphabet without look-alike
characters, after the optional --code-prefix; customers may type them in any case,
with spaces or dashes. --group prints them as ABCD-EFGH-JK. Only the codes
are printed, for a sheet or a mail merge; --json adds the batch (its ID is
what export and revoke --batch take; hsctl voucher batches lists them).

Examples:
  hsctl voucher batch 1h --count 50 --note "lobby, December" > codes.txt
  hsctl --json voucher batch 1gb-7d --count 10 --code-prefix GB
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			var in voucher.BatchInput
			var group bool
			fs.IntVar(&in.Count, "count", 0, "`number` of codes (1 to 10000)")
			fs.IntVar(&in.Length, "length", 0, "random `characters` per code (8 to 20; default 10)")
			fs.StringVar(&in.Prefix, "code-prefix", "", "`text` every code starts with (letters and digits, at most 8; --prefix is the Redis key prefix)")
			fs.StringVar(&in.Note, "note", "", "`text` kept with the batch")
			fs.BoolVar(&group, "group", false, "print codes in groups of four (ABCD-EFGH-JK)")
			return func(pos []string) (action, error) {
				if len(pos) != 1 {
					return nil, usageErr("voucher batch: want exactly one argument, the PLAN (got %d)", len(pos))
				}
				given := setFlags(fs)
				if _, err := in.Check(); err != nil {
					return nil, voucherError("voucher batch", err, given)
				}
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					b, err := c.vouchersOf().CreateBatch(ctx, pos[0], in)
					if err != nil {
						return voucherError("voucher batch", err, given)
					}
					if g.json {
						bj := voucher.NewBatchJSON(b, nil)
						bj.States[voucher.StateUnused] = len(b.Codes)
						return writeJSON(c.stdout, map[string]any{"batch": bj, "codes": b.Codes})
					}
					for _, code := range b.Codes {
						if group {
							code = voucher.Group(code)
						}
						fmt.Fprintln(c.stdout, code)
					}
					return nil
				}, nil
			}
		},
	}
}

func voucherBatchesCmd() *command {
	return &command{
		name:    "voucher batches",
		summary: "list the batches with the counts of their codes by state",
		details: "\nExample:\n  hsctl voucher batches\n",
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				if len(pos) != 0 {
					return nil, usageErr("voucher batches: unexpected argument %q", pos[0])
				}
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					bs, err := c.vouchersOf().Batches(ctx)
					if err != nil {
						return voucherError("voucher batches", err, nil)
					}
					if g.json {
						return writeJSON(c.stdout, map[string]any{"batches": bs})
					}
					tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tPLAN\tCREATED\tCOUNT\tUNUSED\tACTIVE\tUSED UP\tEXPIRED\tREVOKED\tNOTE")
					for _, b := range bs {
						s := b.States
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", b.ID, b.Plan, b.CreatedAt, b.Count,
							s[voucher.StateUnused], s[voucher.StateActive], s[voucher.StateUsedUp], s[voucher.StateExpired], s[voucher.StateRevoked], b.Note)
					}
					return tw.Flush()
				}, nil
			}
		},
	}
}

func voucherShowCmd() *command {
	return &command{
		name:    "voucher show",
		args:    "CODE",
		summary: "show one code: its state, devices and sessions",
		details: "\nExample:\n  hsctl voucher show abcd-efgh-jk\n",
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				if len(pos) != 1 {
					return nil, usageErr("voucher show: want exactly one argument, the CODE (got %d)", len(pos))
				}
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					v, err := c.vouchersOf().Voucher(ctx, pos[0])
					if err != nil {
						return voucherError("voucher show", err, nil)
					}
					return writeVoucher(c.stdout, g.json, v)
				}, nil
			}
		},
	}
}

func voucherExportCmd() *command {
	return &command{
		name:    "voucher export",
		args:    "BATCH",
		summary: "print a batch as CSV (code,plan,batch,state,devices,created_at,redeemed_at)",
		details: "\nExample:\n  hsctl voucher export 20261203-ACEF34 > batch.csv\n",
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				if len(pos) != 1 {
					return nil, usageErr("voucher export: want exactly one argument, the BATCH id (got %d; hsctl voucher batches lists them)", len(pos))
				}
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					_, vs, err := c.vouchersOf().Batch(ctx, pos[0])
					if err != nil {
						return voucherError("voucher export", err, nil)
					}
					return voucher.WriteCSV(c.stdout, vs)
				}, nil
			}
		},
	}
}

func voucherRevokeCmd() *command {
	return &command{
		name:    "voucher revoke",
		args:    "CODE | --batch ID",
		summary: "revoke a code, or every unused and active code of a batch",
		details: `
A revoked code no longer logs in; sessions it created stay (hsctl delete ID
ends them).

Examples:
  hsctl voucher revoke ABCD-EFGH-JK
  hsctl voucher revoke --batch 20261203-ACEF34
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			var batch string
			fs.StringVar(&batch, "batch", "", "revoke the batch with this `ID`")
			return func(pos []string) (action, error) {
				if (batch == "") == (len(pos) == 0) || len(pos) > 1 {
					return nil, usageErr("voucher revoke: give one CODE or --batch ID")
				}
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					m := c.vouchersOf()
					if batch != "" {
						b, vs, err := m.RevokeBatch(ctx, batch)
						if err != nil {
							return voucherError("voucher revoke", err, nil)
						}
						bj := voucher.NewBatchJSON(b, vs)
						if g.json {
							return writeJSON(c.stdout, bj)
						}
						fmt.Fprintf(c.stdout, "batch %s: %d revoked of %d\n", b.ID, bj.States[voucher.StateRevoked], len(vs))
						return nil
					}
					v, err := m.RevokeVoucher(ctx, pos[0])
					if err != nil {
						return voucherError("voucher revoke", err, nil)
					}
					return writeVoucher(c.stdout, g.json, v)
				}, nil
			}
		},
	}
}

func voucherCompleteCmd() *command {
	return &command{
		name:    "voucher complete",
		args:    "CODE",
		summary: "finish a code's logins cut between their steps (its pending devices) and show it",
		details: `
A login cut between binding a code to a device and creating the device's session
(radiusd killed, Redis lost mid-way) leaves the device pending (voucher show
lists it); the device's next login finishes it, and so does this command.

Example:
  hsctl voucher complete ABCD-EFGH-JK
`,
		setup: func(c *cli, fs *flag.FlagSet) func([]string) (action, error) {
			return func(pos []string) (action, error) {
				if len(pos) != 1 {
					return nil, usageErr("voucher complete: want exactly one argument, the CODE (got %d)", len(pos))
				}
				return func(ctx context.Context, g *globals, _ *session.SessionsMgr) error {
					v, err := c.vouchersOf().Complete(ctx, pos[0])
					if errors.Is(err, voucher.ErrRevoked) {
						return failure("voucher complete: the code is revoked: its pending devices stay without a session")
					}
					if err != nil {
						return voucherError("voucher complete", err, nil)
					}
					return writeVoucher(c.stdout, g.json, v)
				}, nil
			}
		},
	}
}

func writePlan(w io.Writer, asJSON bool, p voucher.PlanJSON) error {
	if asJSON {
		return writeJSON(w, p)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "plan\t%s\n", p.Name)
	fmt.Fprintf(tw, "type\t%s\n", p.Type)
	if p.Type != "data" {
		fmt.Fprintf(tw, "time\t%s\n", secsLong(uint64(p.TimeSecs)))
	}
	if p.Type != "time" {
		fmt.Fprintf(tw, "data\t%s MB\n", mb(p.DataMB))
	}
	fmt.Fprintf(tw, "expires\t%s\n", expDays(p.ExpDays))
	fmt.Fprintf(tw, "speed\t%s\n", planSpeed(p))
	fmt.Fprintf(tw, "price\t%s\n", price(p))
	fmt.Fprintf(tw, "devices\t%d\n", p.Devices)
	fmt.Fprintf(tw, "created\t%s\n", p.CreatedAt)
	if p.Vouchers != nil {
		var parts []string
		for _, s := range voucher.States {
			parts = append(parts, fmt.Sprintf("%d %s", p.Vouchers[s], s))
		}
		fmt.Fprintf(tw, "codes\t%s\n", strings.Join(parts, ", "))
	}
	return tw.Flush()
}

func writeVoucher(w io.Writer, asJSON bool, v voucher.JSON) error {
	if asJSON {
		return writeJSON(w, v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "code\t%s\n", v.Code)
	fmt.Fprintf(tw, "plan\t%s\n", v.Plan)
	fmt.Fprintf(tw, "batch\t%s\n", v.Batch)
	fmt.Fprintf(tw, "state\t%s\n", v.State)
	fmt.Fprintf(tw, "devices\t%s\n", orDash(strings.Join(v.Devices, " ")))
	fmt.Fprintf(tw, "sessions\t%s\n", orDash(strings.Join(v.SessionIDs, " ")))
	if len(v.Pending) > 0 {
		fmt.Fprintf(tw, "pending\t%s (the device's next login completes it)\n", strings.Join(v.Pending, " "))
	}
	fmt.Fprintf(tw, "created\t%s\n", v.CreatedAt)
	fmt.Fprintf(tw, "redeemed\t%s\n", orDash(v.RedeemedAt))
	return tw.Flush()
}

func expDays(d *uint) string {
	if d == nil {
		return "never"
	}
	return fmt.Sprintf("%d days after first use", *d)
}

func planSpeed(p voucher.PlanJSON) string {
	if p.UseGlobalSpeed {
		return "global"
	}
	return fmt.Sprintf("%d/%d Mbit/s", p.DownMbits, p.UpMbits)
}

func price(p voucher.PlanJSON) string {
	if p.Price == 0 {
		return "-"
	}
	return strings.TrimSpace(strconv.FormatFloat(p.Price, 'f', -1, 64) + " " + p.Currency)
}
