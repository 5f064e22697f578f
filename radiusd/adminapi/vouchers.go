package adminapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/hotspot-radius/hsradius/session/voucher"
)

// batchTimeout bounds the endpoints that touch every code of a batch.
const batchTimeout = 60 * time.Second

// The plan and voucher endpoints (README.md, "Vouchers"); each calls the
// voucher.Manager that hsctl calls too, so both accept and refuse alike.
func (a *api) routeVouchers(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/plans", a.createPlan)
	mux.HandleFunc("GET /v1/plans", a.listPlans)
	mux.HandleFunc("GET /v1/plans/{name}", a.getPlan)
	mux.HandleFunc("PATCH /v1/plans/{name}", a.patchPlan)
	mux.HandleFunc("DELETE /v1/plans/{name}", a.deletePlan)
	mux.HandleFunc("POST /v1/plans/{name}/batches", a.createBatch)
	mux.HandleFunc("GET /v1/batches", a.listBatches)
	mux.HandleFunc("GET /v1/batches/{id}", a.getBatch)
	mux.HandleFunc("GET /v1/batches/{id}/csv", a.exportBatch)
	mux.HandleFunc("POST /v1/batches/{id}/revoke", a.revokeBatch)
	mux.HandleFunc("GET /v1/vouchers/{code}", a.getVoucher)
	mux.HandleFunc("POST /v1/vouchers/{code}/revoke", a.revokeVoucher)
	mux.HandleFunc("POST /v1/vouchers/{code}/complete", a.completeVoucher)
}

// vouchers returns the manager, or answers 503 when this process has none.
func (a *api) vouchers(w http.ResponseWriter) (*voucher.Manager, bool) {
	if a.cfg.Vouchers == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "vouchers are not available in this process"})
		return nil, false
	}
	return a.cfg.Vouchers, true
}

// voucherFail answers an error of the voucher manager.
func (a *api) voucherFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, voucher.ErrPlanExists):
		writeJSON(w, http.StatusConflict, errorBody{Error: "plan " + r.PathValue("name") + " exists already", Field: "name"})
	case errors.Is(err, voucher.ErrPlanInUse):
		writeJSON(w, http.StatusConflict, errorBody{Error: "plan " + r.PathValue("name") + " still has unused vouchers: revoke them first (POST /v1/batches/{id}/revoke)"})
	case errors.Is(err, voucher.ErrPlanNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{Error: "plan " + r.PathValue("name") + " not found"})
	case errors.Is(err, voucher.ErrBatchNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{Error: "batch " + r.PathValue("id") + " not found"})
	case errors.Is(err, voucher.ErrUnknown):
		writeJSON(w, http.StatusNotFound, errorBody{Error: "voucher " + r.PathValue("code") + " not found"})
	case errors.Is(err, voucher.ErrNoChange):
		writeProblems(w, []fieldProblem{{"", "nothing to change: give at least one of type, time_secs, data_mb, exp_days, down_mbits, up_mbits, use_global_speed, price, currency, devices"}})
	default:
		a.fail(w, r, err, nil)
	}
}

func (a *api) createPlan(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	var in voucher.PlanInput
	if !a.decode(w, r, &in) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	p, err := m.CreatePlan(ctx, in)
	if err != nil {
		if errors.Is(err, voucher.ErrPlanExists) {
			writeJSON(w, http.StatusConflict, errorBody{Error: "plan " + in.Name + " exists already", Field: "name"})
			return
		}
		a.voucherFail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/plans/"+url.PathEscape(p.Name))
	writeJSON(w, http.StatusCreated, p.JSON())
}

type plansList struct {
	Plans []voucher.PlanJSON `json:"plans"`
}

func (a *api) listPlans(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	ps, err := m.Plans(ctx)
	if err != nil {
		a.voucherFail(w, r, err)
		return
	}
	out := plansList{Plans: make([]voucher.PlanJSON, len(ps))}
	for i, p := range ps {
		out.Plans[i] = p.JSON()
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) getPlan(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), batchTimeout)
	defer cancel()
	p, counts, err := m.Plan(ctx, r.PathValue("name"))
	if err != nil {
		a.voucherFail(w, r, err)
		return
	}
	v := p.JSON()
	v.Vouchers = counts
	writeJSON(w, http.StatusOK, v)
}

func (a *api) patchPlan(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	var patch voucher.PlanPatch
	if !a.decode(w, r, &patch) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	p, err := m.UpdatePlan(ctx, r.PathValue("name"), patch)
	if err != nil {
		a.voucherFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p.JSON())
}

func (a *api) deletePlan(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), batchTimeout)
	defer cancel()
	if err := m.DeletePlan(ctx, r.PathValue("name")); err != nil {
		a.voucherFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type batchCreated struct {
	Batch voucher.BatchJSON `json:"batch"`
	Codes []string          `json:"codes"`
}

func (a *api) createBatch(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	var in voucher.BatchInput
	if !a.decode(w, r, &in) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), batchTimeout)
	defer cancel()
	b, err := m.CreateBatch(ctx, r.PathValue("name"), in)
	if err != nil {
		a.voucherFail(w, r, err)
		return
	}
	bj := voucher.NewBatchJSON(b, nil)
	bj.States[voucher.StateUnused] = len(b.Codes)
	w.Header().Set("Location", "/v1/batches/"+url.PathEscape(b.ID))
	writeJSON(w, http.StatusCreated, batchCreated{Batch: bj, Codes: b.Codes})
}

type batchesList struct {
	Batches []voucher.BatchJSON `json:"batches"`
}

func (a *api) listBatches(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), batchTimeout)
	defer cancel()
	bs, err := m.Batches(ctx)
	if err != nil {
		a.voucherFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, batchesList{Batches: bs})
}

func (a *api) getBatch(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), batchTimeout)
	defer cancel()
	b, vs, err := m.Batch(ctx, r.PathValue("id"))
	if err != nil {
		a.voucherFail(w, r, err)
		return
	}
	bj := voucher.NewBatchJSON(b, vs)
	bj.Vouchers = vs
	if bj.Vouchers == nil {
		bj.Vouchers = []voucher.JSON{}
	}
	writeJSON(w, http.StatusOK, bj)
}

func (a *api) exportBatch(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), batchTimeout)
	defer cancel()
	b, vs, err := m.Batch(ctx, r.PathValue("id"))
	if err != nil {
		a.voucherFail(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := voucher.WriteCSV(&buf, vs); err != nil {
		a.fail(w, r, err, nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="batch-`+b.ID+`.csv"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func (a *api) revokeBatch(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), batchTimeout)
	defer cancel()
	b, vs, err := m.RevokeBatch(ctx, r.PathValue("id"))
	if err != nil {
		a.voucherFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, voucher.NewBatchJSON(b, vs))
}

func (a *api) getVoucher(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	v, err := m.Voucher(ctx, r.PathValue("code"))
	if err != nil {
		a.voucherFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *api) revokeVoucher(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	v, err := m.RevokeVoucher(ctx, r.PathValue("code"))
	if err != nil {
		a.voucherFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// completeVoucher finishes the code's redemptions cut between their steps
// (its pending devices).
func (a *api) completeVoucher(w http.ResponseWriter, r *http.Request) {
	m, ok := a.vouchers(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	v, err := m.Complete(ctx, r.PathValue("code"))
	switch {
	case errors.Is(err, voucher.ErrRevoked):
		writeJSON(w, http.StatusConflict, errorBody{Error: "voucher " + r.PathValue("code") + " is revoked: its pending devices stay without a session"})
		return
	case err != nil:
		a.voucherFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
