package adminapi_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/hotspot-radius/hsradius/session/voucher/vouchertest"
)

// TestAdminVouchers walks the voucher workflow through the API: a plan, a
// batch, its export, one code's view and revocation, the plan's refusal
// to be deleted while codes are unused.
func TestAdminVouchers(t *testing.T) {
	e := newAdminEnv(t, adminOpts{noServer: true})
	plan := `{"name":"1h","type":"time","time_secs":3600,"down_mbits":5,"up_mbits":2,"price":2.5,"currency":"EUR","exp_days":7}`
	r := e.do(t, "POST", "/v1/plans", plan).want(t, http.StatusCreated)
	if loc := r.header.Get("Location"); loc != "/v1/plans/1h" {
		t.Errorf("Location %q", loc)
	}
	p := r.json(t)
	if p["name"] != "1h" || p["type"] != "time" || p["devices"] != 1.0 || p["exp_days"] != 7.0 || p["created_at"] == nil {
		t.Errorf("plan %v", p)
	}
	if r := e.do(t, "POST", "/v1/plans", plan).want(t, http.StatusConflict).json(t); r["field"] != "name" {
		t.Errorf("duplicate plan: %v", r)
	}
	bad := e.do(t, "POST", "/v1/plans", `{"name":"a b","type":"data","time_secs":5,"devices":1000}`).want(t, http.StatusBadRequest).json(t)
	fields := map[string]bool{}
	for _, pr := range bad["problems"].([]any) {
		fields[pr.(map[string]any)["field"].(string)] = true
	}
	for _, f := range []string{"name", "time_secs", "data_mb", "down_mbits", "devices"} {
		if !fields[f] {
			t.Errorf("refusal does not name %s: %v", f, bad)
		}
	}
	if r := e.do(t, "GET", "/v1/plans", "").want(t, http.StatusOK).json(t); len(r["plans"].([]any)) != 1 {
		t.Errorf("plans %v", r)
	}
	if r := e.do(t, "PATCH", "/v1/plans/1h", `{"time_secs":7200}`).want(t, http.StatusOK).json(t); r["time_secs"] != 7200.0 {
		t.Errorf("patched %v", r)
	}
	e.do(t, "PATCH", "/v1/plans/1h", `{}`).want(t, http.StatusBadRequest)
	e.do(t, "PATCH", "/v1/plans/nope", `{"time_secs":1}`).want(t, http.StatusNotFound)

	b := e.do(t, "POST", "/v1/plans/1h/batches", `{"count":3,"prefix":"hs","note":"lobby"}`).want(t, http.StatusCreated).json(t)
	codes := b["codes"].([]any)
	batch := b["batch"].(map[string]any)
	id := batch["id"].(string)
	if len(codes) != 3 || batch["count"] != 3.0 || batch["length"] != 10.0 || batch["prefix"] != "HS" ||
		batch["states"].(map[string]any)["unused"] != 3.0 {
		t.Fatalf("batch %v", b)
	}
	e.do(t, "POST", "/v1/plans/1h/batches", `{"count":0}`).want(t, http.StatusBadRequest)
	e.do(t, "POST", "/v1/plans/nope/batches", `{"count":1}`).want(t, http.StatusNotFound)
	if r := e.do(t, "GET", "/v1/batches", "").want(t, http.StatusOK).json(t); len(r["batches"].([]any)) != 1 {
		t.Errorf("batches %v", r)
	}
	got := e.do(t, "GET", "/v1/batches/"+id, "").want(t, http.StatusOK).json(t)
	if vs := got["vouchers"].([]any); len(vs) != 3 || vs[0].(map[string]any)["state"] != "unused" {
		t.Errorf("batch with vouchers %v", got)
	}
	csvResp := e.do(t, "GET", "/v1/batches/"+id+"/csv", "").want(t, http.StatusOK)
	if ct := csvResp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(string(csvResp.body))).ReadAll()
	if err != nil || len(rows) != 4 || strings.Join(rows[0], ",") != "code,plan,batch,state,devices,created_at,redeemed_at" ||
		rows[1][0] != codes[0] || rows[1][3] != "unused" {
		t.Errorf("csv %q, %v", csvResp.body, err)
	}
	e.do(t, "GET", "/v1/batches/nope", "").want(t, http.StatusNotFound)

	code := codes[0].(string)
	typed := strings.ToLower(code[:5] + "-" + code[5:])
	if v := e.do(t, "GET", "/v1/vouchers/"+typed, "").want(t, http.StatusOK).json(t); v["code"] != code || v["state"] != "unused" || v["plan"] != "1h" {
		t.Errorf("voucher %v", v)
	}
	e.do(t, "GET", "/v1/vouchers/NOSUCHCODE", "").want(t, http.StatusNotFound)
	e.do(t, "POST", "/v1/vouchers/NOSUCHCODE/complete", "").want(t, http.StatusNotFound)
	if v := e.do(t, "POST", "/v1/vouchers/"+code+"/complete", "").want(t, http.StatusOK).json(t); v["state"] != "unused" {
		t.Errorf("complete of an unused code: %v", v)
	}
	if v := e.do(t, "POST", "/v1/vouchers/"+code+"/revoke", "").want(t, http.StatusOK).json(t); v["state"] != "revoked" {
		t.Errorf("revoked %v", v)
	}
	if r := e.do(t, "GET", "/v1/plans/1h", "").want(t, http.StatusOK).json(t); r["vouchers"].(map[string]any)["unused"] != 2.0 {
		t.Errorf("plan counts %v", r)
	}
	e.do(t, "DELETE", "/v1/plans/1h", "").want(t, http.StatusConflict)
	if r := e.do(t, "POST", "/v1/batches/"+id+"/revoke", "").want(t, http.StatusOK).json(t); r["states"].(map[string]any)["revoked"] != 3.0 {
		t.Errorf("batch revoked %v", r)
	}
	e.do(t, "DELETE", "/v1/plans/1h", "").want(t, http.StatusNoContent)
	e.do(t, "GET", "/v1/plans/1h", "").want(t, http.StatusNotFound)
}

// TestAdminPlanTable runs testdata/plans.json through POST /v1/plans: each
// plan is created (201) or refused (400 naming the key first) exactly as
// the voucher package and hsctl plan create decide.
func TestAdminPlanTable(t *testing.T) {
	e := newAdminEnv(t, adminOpts{noServer: true})
	for _, c := range vouchertest.LoadPlans(t).Cases {
		t.Run(c.Name, func(t *testing.T) {
			r := e.do(t, "POST", "/v1/plans", string(c.Body))
			got := vouchertest.WantOK
			switch r.status {
			case http.StatusCreated:
			case http.StatusBadRequest:
				// One problem: {"error", "field"}; several: "problems".
				body := r.json(t)
				got, _ = body["field"].(string)
				if probs, _ := body["problems"].([]any); len(probs) > 0 {
					got, _ = probs[0].(map[string]any)["field"].(string)
				}
			default:
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got != c.Want {
				t.Errorf("got %s, want %s: %s", got, c.Want, r.body)
			}
		})
	}
}
