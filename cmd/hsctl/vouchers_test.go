package main

import (
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/hotspot-radius/hsradius/session/voucher/vouchertest"
)

// rePlanFlag is the flag (or NAME) a plan create error names first.
var rePlanFlag = regexp.MustCompile(`^hsctl: plan create: (--[a-z-]+|NAME)`)

// TestPlanTable runs testdata/plans.json through hsctl plan create: each
// plan is created (exit 0) or refused (exit 2 naming the key's flag first)
// exactly as the voucher package and POST /v1/plans decide.
func TestPlanTable(t *testing.T) {
	tab := vouchertest.LoadPlans(t)
	keyOf := map[string]string{}
	for key, flag := range tab.Flags {
		keyOf[flag] = key
	}
	env := map[string]string{envAddrs: miniredis.RunT(t).Addr(), envPrefix: testPrefix}
	for _, c := range tab.Cases {
		t.Run(c.Name, func(t *testing.T) {
			args := append([]string{"plan", "create"}, c.Hsctl...)
			r := hsctl(t, env, args...)
			got := vouchertest.WantOK
			switch r.code {
			case exitOK:
			case exitUsage:
				m := rePlanFlag.FindStringSubmatch(r.stderr)
				if m == nil || keyOf[m[1]] == "" {
					t.Fatalf("hsctl %s: the error names no flag of the table: %q", strings.Join(args, " "), r.stderr)
				}
				got = keyOf[m[1]]
			default:
				t.Fatalf("hsctl %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
			}
			if got != c.Want {
				t.Errorf("hsctl %s: got %s, want %s (%q)", strings.Join(args, " "), got, c.Want, r.stderr)
			}
		})
	}
}

// TestVoucherCommands walks the operator's workflow: a plan, a batch, its
// export, a code's view and revocation, the batch's revocation, the plan's
// deletion.
func TestVoucherCommands(t *testing.T) {
	env := map[string]string{envAddrs: miniredis.RunT(t).Addr(), envPrefix: testPrefix}
	run := func(args ...string) result { t.Helper(); return ok(t, hsctl(t, env, args...), args...) }

	out := run("plan", "create", "1h", "--type", "time", "--time", "1h", "--down", "5", "--up", "2", "--price", "2", "--currency", "EUR").stdout
	if !strings.Contains(out, "plan     1h") && !strings.Contains(out, "1h") {
		t.Errorf("plan create printed %q", out)
	}
	fails(t, hsctl(t, env, "plan", "create", "1h", "--type", "time", "--time", "1h", "--global-speed"), exitFailure, "exists already")
	if out := run("plan", "list").stdout; !strings.Contains(out, "1h") || !strings.Contains(out, "5/2 Mbit/s") || !strings.Contains(out, "2 EUR") {
		t.Errorf("plan list printed %q", out)
	}
	run("plan", "update", "1h", "--time", "2h")
	var p map[string]any
	if err := json.Unmarshal([]byte(run("--json", "plan", "show", "1h").stdout), &p); err != nil || p["time_secs"] != 7200.0 {
		t.Errorf("plan show --json: %v, %v", p, err)
	}
	fails(t, hsctl(t, env, "plan", "update", "1h"), exitUsage, "nothing to change")
	fails(t, hsctl(t, env, "plan", "update", "1h", "--data-mb", "5"), exitUsage, "--data-mb: a time session has no data allocation")
	fails(t, hsctl(t, env, "plan", "show", "nope"), exitNotFound, "plan not found")

	var created struct {
		Batch struct {
			ID string `json:"id"`
		} `json:"batch"`
		Codes []string `json:"codes"`
	}
	if err := json.Unmarshal([]byte(run("--json", "voucher", "batch", "1h", "--count", "3", "--note", "lobby").stdout), &created); err != nil || len(created.Codes) != 3 {
		t.Fatalf("voucher batch --json: %+v, %v", created, err)
	}
	fails(t, hsctl(t, env, "voucher", "batch", "1h", "--count", "0"), exitUsage, "--count: 0: want 1 to 10000 codes")
	fails(t, hsctl(t, env, "voucher", "batch", "nope", "--count", "1"), exitNotFound, "plan not found")
	r := run("voucher", "batch", "1h", "--count", "2", "--group")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || len(lines[0]) != 12 || lines[0][4] != '-' {
		t.Errorf("voucher batch --group printed %q", r.stdout)
	}
	if out := run("voucher", "batches").stdout; !strings.Contains(out, created.Batch.ID) || !strings.Contains(out, "lobby") {
		t.Errorf("voucher batches printed %q", out)
	}
	rows, err := csv.NewReader(strings.NewReader(run("voucher", "export", created.Batch.ID).stdout)).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][0] != "code" || rows[1][3] != "unused" {
		t.Errorf("voucher export: %v, %v", rows, err)
	}
	code := created.Codes[0]
	if out := run("voucher", "show", strings.ToLower(code)).stdout; !strings.Contains(out, code) || !strings.Contains(out, "unused") {
		t.Errorf("voucher show printed %q", out)
	}
	fails(t, hsctl(t, env, "voucher", "show", "NOSUCHCODE"), exitNotFound, "voucher code not found")
	if out := run("voucher", "complete", code).stdout; !strings.Contains(out, "unused") {
		t.Errorf("voucher complete of an unused code printed %q", out)
	}
	if out := run("voucher", "revoke", code).stdout; !strings.Contains(out, "revoked") {
		t.Errorf("voucher revoke printed %q", out)
	}
	fails(t, hsctl(t, env, "plan", "delete", "1h"), exitFailure, "unused vouchers")
	run("voucher", "revoke", "--batch", created.Batch.ID)
	bs := run("--json", "voucher", "batches").stdout
	var list struct {
		Batches []struct {
			ID string `json:"id"`
		} `json:"batches"`
	}
	if err := json.Unmarshal([]byte(bs), &list); err != nil {
		t.Fatal(err)
	}
	for _, b := range list.Batches {
		if b.ID != created.Batch.ID {
			run("voucher", "revoke", "--batch", b.ID)
		}
	}
	run("plan", "delete", "1h")
	fails(t, hsctl(t, env, "voucher", "revoke"), exitUsage, "give one CODE or --batch ID")
	if out := run("help", "plan", "create").stdout; !strings.Contains(out, "--devices") {
		t.Errorf("help plan create printed %q", out)
	}
}
