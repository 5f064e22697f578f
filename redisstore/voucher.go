package redisstore

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/session"
	"github.com/hotspot-radius/hsradius/session/voucher"
)

// Plans, batches and vouchers (README.md, "Vouchers"; the protocol of a
// redemption in docs/ARCHITECTURE.md, "Vouchers"). Keys:
//
//	<prefix>{plans}:plan:<name>     hash   a plan
//	<prefix>{plans}:names           set    plan names
//	<prefix>{plans}:batches         zset   batch IDs, scored by creation (Unix s)
//	<prefix>batch:{<id>}            hash   a batch's settings
//	<prefix>batch:{<id>}:codes      list   its codes, in generation order
//	<prefix>voucher:{<code>}        hash   a voucher
//	<prefix>{<mac>}:v:<code>        string the device's session of that code
//
// A voucher and the device it serves are in different slots: a redemption
// is three scripts, each atomic and idempotent.

var (
	//go:embed lua/plan.lua
	luaPlan string
	//go:embed lua/voucher.lua
	luaVoucher string
	//go:embed lua/voucher_claim.lua
	luaVoucherClaim string
	//go:embed lua/voucher_session.lua
	luaVoucherSession string
)

// voucherScripts are loaded with the Store (New).
type voucherScripts struct {
	plan, voucher, claim, session *redis.Script
}

func newVoucherScripts() voucherScripts {
	return voucherScripts{
		plan:    redis.NewScript(luaPlan),
		voucher: redis.NewScript(luaVoucher),
		claim:   redis.NewScript(luaVoucherClaim),
		session: redis.NewScript(luaVoucherSession),
	}
}

func (k keys) plan(name string) string     { return k.prefix + "{plans}:plan:" + name }
func (k keys) planNames() string           { return k.prefix + "{plans}:names" }
func (k keys) batches() string             { return k.prefix + "{plans}:batches" }
func (k keys) batch(id string) string      { return k.prefix + "batch:{" + id + "}" }
func (k keys) batchCodes(id string) string { return k.batch(id) + ":codes" }
func (k keys) voucher(code string) string  { return k.prefix + "voucher:{" + code + "}" }
func (k keys) voucherMark(mac session.MAC, code string) string {
	return k.tag(mac) + ":v:" + code
}

// Plan hash fields: the API's keys; exp_days and currency absent when unset,
// use_global_speed 0|1, created_at Unix seconds.
func planFields(p voucher.Plan) []any {
	u := func(v uint) string { return strconv.FormatUint(uint64(v), 10) }
	f := []any{"name", p.Name, "type", p.Type.String(), "time_secs", u(p.TimeSecs),
		"data_mb", strconv.FormatFloat(p.DataMB, 'f', -1, 64)}
	if p.ExpDays != nil {
		f = append(f, "exp_days", u(*p.ExpDays))
	}
	gs := "0"
	if p.UseGlobalSpeed {
		gs = "1"
	}
	f = append(f, "down_mbits", u(p.DownMbits), "up_mbits", u(p.UpMbits), "use_global_speed", gs,
		"price", strconv.FormatFloat(p.Price, 'f', -1, 64))
	if p.Currency != "" {
		f = append(f, "currency", p.Currency)
	}
	return append(f, "devices", u(p.Devices), "created_at", unix(p.CreatedAt))
}

func decodePlan(h map[string]string) (voucher.Plan, error) {
	var errs []string
	u := func(k string) uint {
		if h[k] == "" {
			return 0
		}
		v, err := strconv.ParseUint(h[k], 10, 32)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s = %q", k, h[k]))
		}
		return uint(v)
	}
	fl := func(k string) float64 {
		if h[k] == "" {
			return 0
		}
		v, err := strconv.ParseFloat(h[k], 64)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s = %q", k, h[k]))
		}
		return v
	}
	t, err := session.ParseType(h["type"])
	if err != nil {
		errs = append(errs, fmt.Sprintf("type = %q", h["type"]))
	}
	p := voucher.Plan{Name: h["name"], Type: t, TimeSecs: u("time_secs"), DataMB: fl("data_mb"),
		DownMbits: u("down_mbits"), UpMbits: u("up_mbits"), UseGlobalSpeed: h["use_global_speed"] == "1",
		Price: fl("price"), Currency: h["currency"], Devices: u("devices")}
	if _, ok := h["exp_days"]; ok {
		d := u("exp_days")
		p.ExpDays = &d
	}
	if s := h["created_at"]; s != "" {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			p.CreatedAt = time.Unix(v, 0).UTC()
		} else {
			errs = append(errs, fmt.Sprintf("created_at = %q", s))
		}
	}
	if p.Devices == 0 {
		p.Devices = 1
	}
	if len(errs) > 0 {
		return voucher.Plan{}, fmt.Errorf("corrupt plan hash: %s", strings.Join(errs, ", "))
	}
	return p, nil
}

func (s *Store) planOp(ctx context.Context, op, name string, fields []any) (int64, error) {
	args := append([]any{op, name}, fields...)
	n, err := s.vs.plan.Run(ctx, s.rdb, []string{s.keys.plan(name), s.keys.planNames()}, args...).Int64()
	if err != nil && strings.HasPrefix(err.Error(), "NOTFOUND") {
		return 0, voucher.ErrPlanNotFound
	}
	return n, err
}

// CreatePlan stores a new plan (voucher.ErrPlanExists when the name is taken).
func (s *Store) CreatePlan(ctx context.Context, p voucher.Plan) error {
	n, err := s.planOp(ctx, "create", p.Name, planFields(p))
	if err != nil {
		return fmt.Errorf("redisstore: create plan %s: %w", p.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: create plan %s: %w", p.Name, voucher.ErrPlanExists)
	}
	return nil
}

// UpdatePlan replaces an existing plan.
func (s *Store) UpdatePlan(ctx context.Context, p voucher.Plan) error {
	if _, err := s.planOp(ctx, "update", p.Name, planFields(p)); err != nil {
		return fmt.Errorf("redisstore: update plan %s: %w", p.Name, err)
	}
	return nil
}

// DeletePlan removes a plan.
func (s *Store) DeletePlan(ctx context.Context, name string) error {
	if _, err := s.planOp(ctx, "delete", name, nil); err != nil {
		return fmt.Errorf("redisstore: delete plan %s: %w", name, err)
	}
	return nil
}

// GetPlan reads one plan.
func (s *Store) GetPlan(ctx context.Context, name string) (voucher.Plan, error) {
	h, err := s.rdb.HGetAll(ctx, s.keys.plan(name)).Result()
	if err != nil {
		return voucher.Plan{}, fmt.Errorf("redisstore: plan %s: %w", name, err)
	}
	if len(h) == 0 {
		return voucher.Plan{}, fmt.Errorf("redisstore: plan %s: %w", name, voucher.ErrPlanNotFound)
	}
	p, err := decodePlan(h)
	if err != nil {
		return voucher.Plan{}, fmt.Errorf("redisstore: plan %s: %w", name, err)
	}
	return p, nil
}

// ListPlans reads every plan, by name.
func (s *Store) ListPlans(ctx context.Context) ([]voucher.Plan, error) {
	names, err := s.rdb.SMembers(ctx, s.keys.planNames()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list plans: %w", err)
	}
	sort.Strings(names)
	out := make([]voucher.Plan, 0, len(names))
	for _, n := range names {
		p, err := s.GetPlan(ctx, n)
		if errors.Is(err, voucher.ErrPlanNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// createChunk is how many voucher creations go in one pipeline.
const createChunk = 500

// CreateBatch writes the vouchers (each created only if its code is new;
// a taken code is drawn again), then the batch hash and its code list, then
// its entry in the batch index. A crash on the way leaves vouchers no batch
// lists: codes nobody was shown, harmless.
func (s *Store) CreateBatch(ctx context.Context, b voucher.Batch, newCode func() (string, error)) (voucher.Batch, error) {
	fail := func(err error) (voucher.Batch, error) {
		return voucher.Batch{}, fmt.Errorf("redisstore: create batch %s: %w", b.ID, err)
	}
	created := unix(b.CreatedAt)
	b.Codes = make([]string, 0, b.Count)
	for stalls := 0; len(b.Codes) < b.Count; {
		if stalls > 10 {
			return fail(errors.New("codes keep colliding: use longer codes"))
		}
		before := len(b.Codes)
		want := min(b.Count-len(b.Codes), createChunk)
		codes := make([]string, want)
		cmds := make([]*redis.Cmd, want)
		_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i := range codes {
				c, err := newCode()
				if err != nil {
					return err
				}
				codes[i] = c
				cmds[i] = s.vs.voucher.Eval(ctx, pipe, []string{s.keys.voucher(c)}, "create",
					"code", c, "plan", b.Plan, "batch", b.ID, "state", voucher.StateUnused, "created_at", created)
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
		for i, cmd := range cmds {
			if n, _ := cmd.Int64(); n == 1 {
				b.Codes = append(b.Codes, codes[i])
			}
		}
		if len(b.Codes) == before {
			stalls++ // only a run of rounds that created nothing gives up
		}
	}
	_, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, s.keys.batch(b.ID), "id", b.ID, "plan", b.Plan, "count", b.Count, "length", b.Length,
			"prefix", b.Prefix, "note", b.Note, "created_at", created)
		codes := make([]any, len(b.Codes))
		for i, c := range b.Codes {
			codes[i] = c
		}
		pipe.RPush(ctx, s.keys.batchCodes(b.ID), codes...)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if err := s.rdb.ZAdd(ctx, s.keys.batches(), redis.Z{Score: float64(b.CreatedAt.Unix()), Member: b.ID}).Err(); err != nil {
		return fail(err)
	}
	return b, nil
}

func decodeBatch(h map[string]string) voucher.Batch {
	n := func(k string) int { v, _ := strconv.Atoi(h[k]); return v }
	b := voucher.Batch{ID: h["id"], Plan: h["plan"], Count: n("count"), Length: n("length"), Prefix: h["prefix"], Note: h["note"]}
	if v, err := strconv.ParseInt(h["created_at"], 10, 64); err == nil {
		b.CreatedAt = time.Unix(v, 0).UTC()
	}
	return b
}

// ListBatches reads every batch (without codes), oldest first.
func (s *Store) ListBatches(ctx context.Context) ([]voucher.Batch, error) {
	ids, err := s.rdb.ZRange(ctx, s.keys.batches(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list batches: %w", err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if len(ids) > 0 {
		_, err = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = pipe.HGetAll(ctx, s.keys.batch(id))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("redisstore: list batches: %w", err)
		}
	}
	out := make([]voucher.Batch, 0, len(ids))
	for _, c := range cmds {
		if h := c.Val(); len(h) > 0 {
			out = append(out, decodeBatch(h))
		}
	}
	return out, nil
}

// GetBatch reads a batch with its codes.
func (s *Store) GetBatch(ctx context.Context, id string) (voucher.Batch, error) {
	var h *redis.MapStringStringCmd
	var codes *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		h = pipe.HGetAll(ctx, s.keys.batch(id))
		codes = pipe.LRange(ctx, s.keys.batchCodes(id), 0, -1)
		return nil
	})
	if err != nil {
		return voucher.Batch{}, fmt.Errorf("redisstore: batch %s: %w", id, err)
	}
	if len(h.Val()) == 0 {
		return voucher.Batch{}, fmt.Errorf("redisstore: batch %s: %w", id, voucher.ErrBatchNotFound)
	}
	b := decodeBatch(h.Val())
	b.Codes = codes.Val()
	return b, nil
}

// Vouchers reads the vouchers of the codes that exist, in order.
func (s *Store) Vouchers(ctx context.Context, codes []string) ([]voucher.Voucher, error) {
	cmds := make([]*redis.MapStringStringCmd, len(codes))
	if len(codes) > 0 {
		_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, c := range codes {
				cmds[i] = pipe.HGetAll(ctx, s.keys.voucher(c))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("redisstore: vouchers: %w", err)
		}
	}
	out := make([]voucher.Voucher, 0, len(codes))
	for i, c := range cmds {
		h := c.Val()
		if len(h) == 0 {
			continue
		}
		v, err := decodeVoucher(h)
		if err != nil {
			return nil, fmt.Errorf("redisstore: voucher %s: %w", codes[i], err)
		}
		out = append(out, v)
	}
	return out, nil
}

func decodeVoucher(h map[string]string) (voucher.Voucher, error) {
	v := voucher.Voucher{Code: h["code"], Plan: h["plan"], Batch: h["batch"], State: h["state"]}
	at := func(k string) time.Time {
		n, err := strconv.ParseInt(h[k], 10, 64)
		if err != nil {
			return time.Time{}
		}
		return time.Unix(n, 0).UTC()
	}
	v.CreatedAt, v.RedeemedAt = at("created_at"), at("redeemed_at")
	if devs := h["devices"]; devs != "" {
		for _, d := range strings.Split(devs, ",") {
			mac, err := session.ParseMAC(d)
			if err != nil {
				return voucher.Voucher{}, fmt.Errorf("corrupt voucher hash: devices holds %q", d)
			}
			v.Devices = append(v.Devices, voucher.Binding{MAC: mac, SessionID: h["dev:"+d]})
		}
	}
	if snap := h["plan_snapshot"]; snap != "" {
		p, err := decodeSnapshot(snap)
		if err != nil {
			return voucher.Voucher{}, err
		}
		v.Snapshot = &p
	}
	return v, nil
}

func decodeSnapshot(s string) (voucher.Plan, error) {
	var j voucher.PlanJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return voucher.Plan{}, fmt.Errorf("corrupt voucher hash: plan_snapshot: %w", err)
	}
	p, err := j.Plan()
	if err != nil {
		return voucher.Plan{}, fmt.Errorf("corrupt voucher hash: plan_snapshot: %w", err)
	}
	return p, nil
}

func (s *Store) voucherOp(ctx context.Context, code string, args ...any) error {
	err := s.vs.voucher.Run(ctx, s.rdb, []string{s.keys.voucher(code)}, args...).Err()
	if err != nil && strings.HasPrefix(err.Error(), "NOTFOUND voucher") {
		return voucher.ErrUnknown
	}
	return err
}

// RevokeVoucher turns a voucher revoked.
func (s *Store) RevokeVoucher(ctx context.Context, code string, now time.Time) (voucher.Voucher, error) {
	if err := s.voucherOp(ctx, code, "revoke", unix(now)); err != nil {
		return voucher.Voucher{}, fmt.Errorf("redisstore: revoke %s: %w", code, err)
	}
	vs, err := s.Vouchers(ctx, []string{code})
	if err != nil {
		return voucher.Voucher{}, err
	}
	if len(vs) == 0 {
		return voucher.Voucher{}, fmt.Errorf("redisstore: revoke %s: %w", code, voucher.ErrUnknown)
	}
	return vs[0], nil
}

// Sessions reads the sessions of the IDs that exist, in one pipeline.
func (s *Store) Sessions(ctx context.Context, ids []string) (map[string]session.Data, error) {
	type item struct {
		id  string
		cmd *redis.MapStringStringCmd
	}
	var items []item
	_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, id := range ids {
			mac, seq, err := session.ParseID(id)
			if err != nil {
				continue
			}
			items = append(items, item{id, pipe.HGetAll(ctx, s.keys.session(mac, strconv.FormatUint(seq, 10)))})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: sessions: %w", err)
	}
	out := make(map[string]session.Data, len(items))
	for _, it := range items {
		if h := it.cmd.Val(); len(h) > 0 {
			d, err := decodeMap(it.id, h)
			if err != nil {
				return nil, fmt.Errorf("redisstore: session %s: %w", it.id, err)
			}
			out[it.id] = d
		}
	}
	return out, nil
}

// Claim is step 1 of a redemption (voucher.Store).
func (s *Store) Claim(ctx context.Context, code string, mac session.MAC, plan *voucher.Plan, now time.Time) (voucher.Claim, error) {
	snap, maxd := "", ""
	if plan != nil {
		b, err := json.Marshal(plan.JSON())
		if err != nil {
			return voucher.Claim{}, fmt.Errorf("redisstore: claim %s: %w", code, err)
		}
		snap, maxd = string(b), strconv.FormatUint(uint64(plan.Devices), 10)
	}
	v, err := s.vs.claim.Run(ctx, s.rdb, []string{s.keys.voucher(code)}, mac.String(), unix(now), snap, maxd).Slice()
	if err != nil {
		return voucher.Claim{}, fmt.Errorf("redisstore: claim %s for %s: %w", code, mac, err)
	}
	str := func(i int) string {
		if i < len(v) {
			if s, ok := v[i].(string); ok {
				return s
			}
		}
		return ""
	}
	switch str(0) {
	case "unknown":
		return voucher.Claim{}, voucher.ErrUnknown
	case "revoked":
		return voucher.Claim{}, voucher.ErrRevoked
	case "need_plan":
		return voucher.Claim{NeedPlan: str(1)}, nil
	case "other":
		c := voucher.Claim{}
		for i := 1; i < len(v); i++ {
			c.Others = append(c.Others, str(i))
		}
		return c, voucher.ErrOtherDevice
	case "bound":
		p, err := decodeSnapshot(str(1))
		if err != nil {
			return voucher.Claim{}, fmt.Errorf("redisstore: claim %s: %w", code, err)
		}
		return voucher.Claim{Snapshot: &p, SessionID: str(2)}, nil
	}
	return voucher.Claim{}, fmt.Errorf("redisstore: claim %s: unexpected reply %v", code, v)
}

// CreateVoucherSession is step 2 of a redemption (voucher.Store).
func (s *Store) CreateVoucherSession(ctx context.Context, d session.Data) (string, error) {
	args := []any{s.keys.sessionBase(d.MAC), d.MAC.Hex() + "-"}
	args = appendFields(args, encode(d), false)
	keys := []string{s.keys.seq(d.MAC), s.keys.index(d.MAC), s.keys.voucherMark(d.MAC, d.Voucher)}
	id, err := s.vs.session.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return "", fmt.Errorf("redisstore: voucher session %s for %s: %w", d.Voucher, d.MAC, err)
	}
	return id, nil
}

// CompleteClaim is step 3 of a redemption (voucher.Store).
func (s *Store) CompleteClaim(ctx context.Context, code string, mac session.MAC, sessionID string) error {
	if err := s.voucherOp(ctx, code, "complete", mac.String(), sessionID); err != nil {
		return fmt.Errorf("redisstore: complete %s for %s: %w", code, mac, err)
	}
	return nil
}
