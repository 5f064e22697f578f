package voucher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotspot-radius/hsradius/session"
)

// Store keeps plans, batches and vouchers, and runs the three steps of a
// redemption (docs/ARCHITECTURE.md, "Vouchers"). A voucher and a device's
// sessions may live in different Redis Cluster slots, so each step is
// atomic on its own and idempotent.
type Store interface {
	CreatePlan(ctx context.Context, p Plan) error // ErrPlanExists
	GetPlan(ctx context.Context, name string) (Plan, error)
	ListPlans(ctx context.Context) ([]Plan, error)
	UpdatePlan(ctx context.Context, p Plan) error
	DeletePlan(ctx context.Context, name string) error

	// CreateBatch stores b (its ID, plan and settings) and b.Count new
	// vouchers whose codes newCode draws (drawing again for a code that
	// exists), and returns b with its Codes.
	CreateBatch(ctx context.Context, b Batch, newCode func() (string, error)) (Batch, error)
	ListBatches(ctx context.Context) ([]Batch, error) // without Codes
	GetBatch(ctx context.Context, id string) (Batch, error)
	// Vouchers returns the vouchers of the codes that exist, in order.
	Vouchers(ctx context.Context, codes []string) ([]Voucher, error)
	// RevokeVoucher turns an unused or active voucher revoked.
	RevokeVoucher(ctx context.Context, code string, now time.Time) (Voucher, error)
	// Sessions returns the sessions of the IDs that exist.
	Sessions(ctx context.Context, ids []string) (map[string]session.Data, error)

	// Claim is step 1: bind the voucher to mac (see Claim).
	Claim(ctx context.Context, code string, mac session.MAC, plan *Plan, now time.Time) (Claim, error)
	// CreateVoucherSession is step 2: store d (d.Voucher set) as the
	// device's session of that code, unless the device has one already,
	// and return its ID either way.
	CreateVoucherSession(ctx context.Context, d session.Data) (string, error)
	// CompleteClaim is step 3: record the session of mac's binding.
	CompleteClaim(ctx context.Context, code string, mac session.MAC, sessionID string) error
}

// Claim is the answer of step 1. Refusals are errors: ErrUnknown,
// ErrRevoked, ErrOtherDevice (Others then holds the other devices' session
// IDs).
type Claim struct {
	// NeedPlan names the plan to snapshot: the voucher was never claimed
	// and Claim was called without a plan. Nothing was changed.
	NeedPlan string
	// Snapshot is the voucher's plan as of its first claim.
	Snapshot *Plan
	// SessionID is the binding's session; "" while pending.
	SessionID string
	Others    []string
}

// Manager is the API of plans and vouchers that the admin API, hsctl and
// the RADIUS server share, so they accept and refuse the same inputs.
type Manager struct {
	store Store
	now   func() time.Time
	// afterClaim, when set, runs between steps 1 and 2 of Redeem (the
	// fault tests stop the process there).
	afterClaim func()
}

// NewManager returns a Manager on store; now is its clock.
func NewManager(store Store, now func() time.Time) *Manager {
	return &Manager{store: store, now: now}
}

// SetAfterClaim installs a function Redeem calls between its first and
// second step: the fault tests kill the process there. Call it before use.
func (m *Manager) SetAfterClaim(f func()) { m.afterClaim = f }

// CreatePlan validates in and stores the plan.
func (m *Manager) CreatePlan(ctx context.Context, in PlanInput) (Plan, error) {
	p, err := in.Plan(m.now())
	if err != nil {
		return Plan{}, err
	}
	if err := m.store.CreatePlan(ctx, p); err != nil {
		return Plan{}, fmt.Errorf("voucher: create plan %s: %w", p.Name, err)
	}
	return p, nil
}

// Plans returns every plan, by name.
func (m *Manager) Plans(ctx context.Context) ([]Plan, error) {
	ps, err := m.store.ListPlans(ctx)
	if err != nil {
		return nil, fmt.Errorf("voucher: list plans: %w", err)
	}
	return ps, nil
}

// Plan returns one plan and the counts of its vouchers by shown state.
func (m *Manager) Plan(ctx context.Context, name string) (Plan, map[string]int, error) {
	p, err := m.store.GetPlan(ctx, name)
	if err != nil {
		return Plan{}, nil, fmt.Errorf("voucher: plan %s: %w", name, err)
	}
	counts := map[string]int{}
	for _, s := range States {
		counts[s] = 0
	}
	bs, err := m.planBatches(ctx, name)
	if err != nil {
		return Plan{}, nil, err
	}
	for _, b := range bs {
		_, vs, err := m.Batch(ctx, b.ID)
		if err != nil {
			return Plan{}, nil, err
		}
		for _, v := range vs {
			counts[v.State]++
		}
	}
	return p, counts, nil
}

// UpdatePlan applies the patch to the plan. Vouchers claimed before keep
// the plan they were claimed with.
func (m *Manager) UpdatePlan(ctx context.Context, name string, patch PlanPatch) (Plan, error) {
	p, err := m.store.GetPlan(ctx, name)
	if err != nil {
		return Plan{}, fmt.Errorf("voucher: plan %s: %w", name, err)
	}
	if p, err = patch.Apply(p); err != nil {
		return Plan{}, err
	}
	if err := m.store.UpdatePlan(ctx, p); err != nil {
		return Plan{}, fmt.Errorf("voucher: update plan %s: %w", name, err)
	}
	return p, nil
}

// DeletePlan deletes a plan with no unused voucher (ErrPlanInUse).
func (m *Manager) DeletePlan(ctx context.Context, name string) error {
	_, counts, err := m.Plan(ctx, name)
	if err != nil {
		return err
	}
	if n := counts[StateUnused]; n > 0 {
		return fmt.Errorf("voucher: delete plan %s: %w: %d (revoke them first)", name, ErrPlanInUse, n)
	}
	if err := m.store.DeletePlan(ctx, name); err != nil {
		return fmt.Errorf("voucher: delete plan %s: %w", name, err)
	}
	return nil
}

func (m *Manager) planBatches(ctx context.Context, plan string) ([]Batch, error) {
	all, err := m.store.ListBatches(ctx)
	if err != nil {
		return nil, fmt.Errorf("voucher: list batches: %w", err)
	}
	var out []Batch
	for _, b := range all {
		if b.Plan == plan {
			out = append(out, b)
		}
	}
	return out, nil
}

// CreateBatch generates a batch of codes for the plan.
func (m *Manager) CreateBatch(ctx context.Context, plan string, in BatchInput) (Batch, error) {
	in, err := in.Check()
	if err != nil {
		return Batch{}, err
	}
	if _, err := m.store.GetPlan(ctx, plan); err != nil {
		return Batch{}, fmt.Errorf("voucher: plan %s: %w", plan, err)
	}
	now := m.now().UTC().Truncate(time.Second)
	suffix, err := randomString("", 6)
	if err != nil {
		return Batch{}, err
	}
	b := Batch{ID: now.Format("20060102") + "-" + suffix, Plan: plan, Count: in.Count, Length: in.Length,
		Prefix: in.Prefix, Note: in.Note, CreatedAt: now}
	b, err = m.store.CreateBatch(ctx, b, func() (string, error) { return NewCode(in.Prefix, in.Length) })
	if err != nil {
		return Batch{}, fmt.Errorf("voucher: create batch for %s: %w", plan, err)
	}
	return b, nil
}

// Batches returns every batch with its counts by state.
func (m *Manager) Batches(ctx context.Context) ([]BatchJSON, error) {
	bs, err := m.store.ListBatches(ctx)
	if err != nil {
		return nil, fmt.Errorf("voucher: list batches: %w", err)
	}
	out := make([]BatchJSON, 0, len(bs))
	for _, b := range bs {
		full, vs, err := m.Batch(ctx, b.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, NewBatchJSON(full, vs))
	}
	return out, nil
}

// Batch returns a batch and the views of its vouchers.
func (m *Manager) Batch(ctx context.Context, id string) (Batch, []JSON, error) {
	b, err := m.store.GetBatch(ctx, id)
	if err != nil {
		return Batch{}, nil, fmt.Errorf("voucher: batch %s: %w", id, err)
	}
	vs, err := m.store.Vouchers(ctx, b.Codes)
	if err != nil {
		return Batch{}, nil, fmt.Errorf("voucher: batch %s: %w", id, err)
	}
	views, err := m.views(ctx, vs)
	if err != nil {
		return Batch{}, nil, fmt.Errorf("voucher: batch %s: %w", id, err)
	}
	return b, views, nil
}

// RevokeBatch revokes the batch's unused and active vouchers.
func (m *Manager) RevokeBatch(ctx context.Context, id string) (Batch, []JSON, error) {
	b, err := m.store.GetBatch(ctx, id)
	if err != nil {
		return Batch{}, nil, fmt.Errorf("voucher: batch %s: %w", id, err)
	}
	now := m.now()
	for _, c := range b.Codes {
		if _, err := m.store.RevokeVoucher(ctx, c, now); err != nil && !errors.Is(err, ErrUnknown) {
			return Batch{}, nil, fmt.Errorf("voucher: revoke batch %s: %w", id, err)
		}
	}
	return m.Batch(ctx, id)
}

// Voucher returns the view of one code (as typed: Normalize applies).
func (m *Manager) Voucher(ctx context.Context, typed string) (JSON, error) {
	code, ok := Normalize(typed)
	if !ok {
		return JSON{}, fmt.Errorf("voucher: %q: %w", typed, ErrUnknown)
	}
	vs, err := m.store.Vouchers(ctx, []string{code})
	if err != nil {
		return JSON{}, fmt.Errorf("voucher: %s: %w", code, err)
	}
	if len(vs) == 0 {
		return JSON{}, fmt.Errorf("voucher: %s: %w", code, ErrUnknown)
	}
	views, err := m.views(ctx, vs)
	if err != nil {
		return JSON{}, fmt.Errorf("voucher: %s: %w", code, err)
	}
	return views[0], nil
}

// RevokeVoucher revokes one code; its sessions stay (delete them to end
// them).
func (m *Manager) RevokeVoucher(ctx context.Context, typed string) (JSON, error) {
	code, ok := Normalize(typed)
	if !ok {
		return JSON{}, fmt.Errorf("voucher: %q: %w", typed, ErrUnknown)
	}
	if _, err := m.store.RevokeVoucher(ctx, code, m.now()); err != nil {
		return JSON{}, fmt.Errorf("voucher: revoke %s: %w", code, err)
	}
	return m.Voucher(ctx, code)
}

// Complete finishes the redemptions of a code that were cut between their
// steps (its pending devices), as each device's next login would, and
// returns the code's view: the operator's repair.
func (m *Manager) Complete(ctx context.Context, typed string) (JSON, error) {
	v, err := m.Voucher(ctx, typed)
	if err != nil {
		return JSON{}, err
	}
	for _, d := range v.Pending {
		mac, err := session.ParseMAC(d)
		if err != nil {
			return JSON{}, fmt.Errorf("voucher: complete %s: %w", v.Code, err)
		}
		if _, err := m.Redeem(ctx, v.Code, mac); err != nil {
			return JSON{}, fmt.Errorf("voucher: complete %s for %s: %w", v.Code, mac, err)
		}
	}
	return m.Voucher(ctx, v.Code)
}

// views derives the shown state of each voucher from its sessions.
func (m *Manager) views(ctx context.Context, vs []Voucher) ([]JSON, error) {
	var ids []string
	for _, v := range vs {
		for _, b := range v.Devices {
			if b.SessionID != "" {
				ids = append(ids, b.SessionID)
			}
		}
	}
	sessions := map[string]session.Data{}
	if len(ids) > 0 {
		var err error
		if sessions, err = m.store.Sessions(ctx, ids); err != nil {
			return nil, err
		}
	}
	now := m.now()
	out := make([]JSON, len(vs))
	for i, v := range vs {
		out[i] = NewJSON(v, Shown(v, sessions, now))
	}
	return out, nil
}

// Redeem is a login with a voucher code (as typed) from the device mac. It
// returns the ID of the device's session of the voucher, creating it on the
// first login, or why the code is refused: ErrUnknown, ErrRevoked,
// ErrUsedUp, ErrExpired, ErrOtherDevice, ErrNoPlan. Whether that session
// still has something left is the caller's to check (session.Current), as
// for any login.
//
// The three steps (docs/ARCHITECTURE.md, "Vouchers") are each atomic and
// idempotent: a retransmitted request, and a login after a crash between
// the steps, reach the same session.
func (m *Manager) Redeem(ctx context.Context, typed string, mac session.MAC) (string, error) {
	code, ok := Normalize(typed)
	if !ok {
		return "", ErrUnknown
	}
	now := m.now()
	c, err := m.store.Claim(ctx, code, mac, nil, now)
	if err == nil && c.NeedPlan != "" {
		var p Plan
		p, err = m.store.GetPlan(ctx, c.NeedPlan)
		if errors.Is(err, ErrPlanNotFound) {
			return "", ErrNoPlan
		}
		if err != nil {
			return "", fmt.Errorf("voucher: redeem: plan %s: %w", c.NeedPlan, err)
		}
		c, err = m.store.Claim(ctx, code, mac, &p, now)
	}
	switch {
	case errors.Is(err, ErrOtherDevice):
		return "", m.otherDevice(ctx, c.Others, now)
	case errors.Is(err, ErrUnknown), errors.Is(err, ErrRevoked):
		return "", err
	case err != nil:
		return "", fmt.Errorf("voucher: redeem: claim: %w", err)
	case c.SessionID != "":
		return c.SessionID, nil
	case c.Snapshot == nil:
		return "", fmt.Errorf("voucher: redeem %s: claimed without a plan snapshot", code)
	}
	if m.afterClaim != nil {
		m.afterClaim()
	}
	d, err := c.Snapshot.Spec().Data(mac.String(), now)
	if err != nil {
		return "", fmt.Errorf("voucher: redeem %s: plan snapshot: %w", code, err)
	}
	d.Voucher = code
	id, err := m.store.CreateVoucherSession(ctx, d)
	if err != nil {
		return "", fmt.Errorf("voucher: redeem: create session: %w", err)
	}
	if err := m.store.CompleteClaim(ctx, code, mac, id); err != nil {
		return "", fmt.Errorf("voucher: redeem: complete: %w", err)
	}
	return id, nil
}

// otherDevice says why a code bound to other devices is refused: used up or
// expired when none of its sessions is available, else in use.
func (m *Manager) otherDevice(ctx context.Context, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return ErrOtherDevice
	}
	ss, err := m.store.Sessions(ctx, ids)
	if err != nil {
		return ErrOtherDevice // the refusal stands; only its reason is unknown
	}
	expired := false
	for _, id := range ids {
		d, ok := ss[id]
		if !ok {
			continue
		}
		switch d.Status(now) {
		case nil:
			return ErrOtherDevice
		case session.ErrExpired:
			expired = true
		}
	}
	if expired {
		return ErrExpired
	}
	return ErrUsedUp
}
