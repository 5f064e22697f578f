// Package vouchertest holds the table of plan creations
// (testdata/plans.json at the repository's root) that the voucher package,
// the admin API and hsctl all run, so that they accept and refuse the same
// plans.
package vouchertest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/hotspot-radius/hsradius/session/sessiontest"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// WantOK marks a case that is accepted.
const WantOK = "ok"

// PlanTable is testdata/plans.json.
type PlanTable struct {
	Comment string `json:"_comment"`
	// Flags names each key's flag of hsctl plan create.
	Flags map[string]string `json:"flags"`
	Cases []PlanCase        `json:"cases"`
}

// PlanCase is one plan creation.
type PlanCase struct {
	Name string `json:"name"`
	// Body is the body of POST /v1/plans.
	Body json.RawMessage `json:"body"`
	// Hsctl is the arguments of hsctl plan create.
	Hsctl []string `json:"hsctl"`
	// Want is WantOK or the key the refusal names first.
	Want string `json:"want"`
}

// LoadPlans reads testdata/plans.json.
func LoadPlans(t testing.TB) PlanTable {
	t.Helper()
	var tab PlanTable
	sessiontest.LoadTestdata(t, "plans.json", &tab)
	return tab
}

// Input decodes the case's body as the admin API does: strictly.
func (c PlanCase) Input(t testing.TB) voucher.PlanInput {
	t.Helper()
	var in voucher.PlanInput
	dec := json.NewDecoder(bytes.NewReader(c.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("testdata/plans.json: %s: body: %v", c.Name, err)
	}
	return in
}
