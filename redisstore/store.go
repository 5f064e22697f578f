// Package redisstore is the Redis implementation of session storage and of
// the accounting primitive (see README.md, sections "The Redis schema" and
// "How accounting is counted"): readable hashes, one hash tag per device so
// that every packet is one Lua script in one Cluster slot, and the mapping of
// Redis errors to the session package's sentinels.
//
// Standalone Redis, Redis Cluster and Sentinel are chosen by configuration
// (see NewClient); the code is the same for all three.
package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotspot-radius/hsradius/session"
)

var (
	//go:embed lua/pack.lua
	luaPack string
	//go:embed lua/lib.lua
	luaLibOwn string
	//go:embed lua/sessions.lua
	luaSessionsOwn string
	//go:embed lua/create.lua
	luaCreate string
	//go:embed lua/save.lua
	luaSave string
	//go:embed lua/delete.lua
	luaDelete string
	//go:embed lua/account.lua
	luaAccount string
	//go:embed lua/account_batch.lua
	luaAccountBatch string
	//go:embed lua/close.lua
	luaClose string
	//go:embed lua/records.lua
	luaRecords string
	//go:embed lua/record.lua
	luaRecord string
	//go:embed lua/claim.lua
	luaClaim string
)

// The scripts' shared parts: pack.lua (the packed session list) goes first
// in sessions.lua and in lib.lua, which the other scripts begin with.
var (
	luaLib      = luaPack + "\n" + luaLibOwn
	luaSessions = luaPack + "\n" + luaSessionsOwn
)

// Defaults for Options.
const (
	DefaultPrefix           = "hs:"
	DefaultOpenRecordTTL    = 7 * 24 * time.Hour
	DefaultStoppedRecordTTL = 24 * time.Hour
	DefaultWriterTTL        = 24 * time.Hour
	// DefaultMaxPipelines in flight at once (one Redis connection each; on
	// Cluster one per master the pipeline touches).
	DefaultMaxPipelines = 4
)

// Options configure a Store. The zero value gives the defaults.
type Options struct {
	// Prefix starts every key, so the data can share a Redis ("hs:").
	Prefix string
	// OpenRecordTTL is how long an accounting record lives after its last
	// update while open. It must exceed the longest time a NAS may go
	// without sending an interim for a live session: a record that expired
	// would count that session's counters again from zero.
	OpenRecordTTL time.Duration
	// StoppedRecordTTL is how long a stopped record is kept to absorb late
	// duplicates of its Stop.
	StoppedRecordTTL time.Duration
	// WriterTTL is how long Redis remembers what a ClientSession's Saves
	// have added (its writer record), refreshed by each of its Saves that
	// adds something. Within it a retried Save counts nothing twice; a
	// Save retried later than this after one whose reply was lost may count
	// that one's increments twice.
	WriterTTL time.Duration
	// MaxPipelines is how many pipelines of batched per-packet calls may be
	// in flight at once (one Redis connection each); 0 means 4.
	MaxPipelines int
}

// Store keeps sessions and accounting records in Redis. It is safe for
// concurrent use; any number of Stores (in any number of processes) may share
// one Redis.
type Store struct {
	rdb           redis.UniversalClient
	keys          keys
	open, stopped string // record TTLs in seconds, as script arguments
	writerTTL     string // writer record TTL in seconds

	sessions, create, save, del, account, close *redis.Script
	records, record, claim                      *redis.Script
	vs                                          voucherScripts

	batch *batcher // the per-packet calls: DeviceSessions, Account
	// sessionsSHA is the sessions script's SHA1 as an argument, converted
	// to an interface once rather than per packet.
	sessionsSHA any
}

// sessionsCall is one DeviceSessions call (the Access-Request's read): its
// command's arguments in one allocation. go-redis's EvalSha would copy the
// keys and arguments into a new slice and convert the command's name and
// the SHA1 to interfaces per call.
type sessionsCall struct {
	args [5]any // "evalsha", SHA1, 1, the device index key, the session key base
	cmd  *redis.Cmd
}

// build returns the batcher's build function for c: EVALSHA, or EVAL with
// the script's source after Redis lost it.
func (c *sessionsCall) build(ctx context.Context) func(pipe redis.Pipeliner, eval bool) {
	return func(pipe redis.Pipeliner, eval bool) {
		args := c.args[:]
		if eval {
			args = []any{"eval", luaSessions, 1, c.args[3], c.args[4]}
		}
		c.cmd = redis.NewCmd(ctx, args...)
		c.cmd.SetFirstKeyPos(3) // routes it on a Cluster, as go-redis's EvalSha does
		_ = pipe.Process(ctx, c.cmd)
	}
}

// SetDefaults fills the zero fields that have a default (the Default*
// constants). New calls it; Validate checks the values as they are.
func (o *Options) SetDefaults() {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.OpenRecordTTL == 0 {
		o.OpenRecordTTL = DefaultOpenRecordTTL
	}
	if o.StoppedRecordTTL == 0 {
		o.StoppedRecordTTL = DefaultStoppedRecordTTL
	}
	if o.WriterTTL == 0 {
		o.WriterTTL = DefaultWriterTTL
	}
	if o.MaxPipelines <= 0 {
		o.MaxPipelines = DefaultMaxPipelines
	}
}

// Validate reports every problem of o at once, each a *ConfigError (joined
// with errors.Join); nil when there is none. Zero fields that have a
// default are problems until SetDefaults fills them.
func (o *Options) Validate() error {
	var p problems
	switch {
	case o.Prefix == "":
		p.add("prefix", "empty: the keys need a prefix (default %q)", DefaultPrefix)
	case strings.ContainsAny(o.Prefix, "{} \t\r\n"):
		p.add("prefix", "%q: must not contain braces (they delimit hash tags) or spaces", o.Prefix)
	}
	// The scripts take TTLs in whole seconds.
	for _, ttl := range []struct {
		key string
		d   time.Duration
	}{{"open_record_ttl", o.OpenRecordTTL}, {"stopped_record_ttl", o.StoppedRecordTTL}, {"writer_ttl", o.WriterTTL}} {
		if ttl.d < time.Second {
			p.add(ttl.key, "%v: must be at least 1s", ttl.d)
		}
	}
	if o.MaxPipelines < 1 {
		p.add("max_pipelines", "%d: want at least 1 (default %d)", o.MaxPipelines, DefaultMaxPipelines)
	}
	return errors.Join(p...)
}

// New returns a Store on rdb, opts's defaults set (Options.SetDefaults) and
// validated (Options.Validate). It does not contact Redis; scripts are
// loaded on first use (and again after a Redis restart flushed them).
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	opts.SetDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	script := func(src string) *redis.Script { return redis.NewScript(luaLib + "\n" + src) }
	st := &Store{
		rdb:       rdb,
		keys:      keys{prefix: opts.Prefix},
		open:      strconv.FormatInt(int64(opts.OpenRecordTTL/time.Second), 10),
		stopped:   strconv.FormatInt(int64(opts.StoppedRecordTTL/time.Second), 10),
		writerTTL: strconv.FormatInt(int64(opts.WriterTTL/time.Second), 10),
		sessions:  redis.NewScript(luaSessions), // needs no helpers but pack.lua
		create:    script(luaCreate),
		save:      script(luaSave),
		del:       script(luaDelete),
		close:     script(luaClose),
		records:   script(luaRecords),
		record:    script(luaRecord),
		claim:     script(luaClaim),
		vs:        newVoucherScripts(),
		batch:     newBatcher(rdb, opts.MaxPipelines),
	}
	st.sessionsSHA = st.sessions.Hash()
	st.setAccount(luaLib, luaAccount)
	return st, nil
}

// setAccount makes the accounting scripts of lib (lib.lua) and acct
// (account.lua, which defines account(KEYS, ARGV)): the entry point of one
// packet, and of several (account_batch.lua). Tests pass altered sources.
func (s *Store) setAccount(lib, acct string) {
	s.account = redis.NewScript(lib + "\n" + acct + "\nreturn account(KEYS, ARGV)\n")
	s.batch.acct = s.account
	s.batch.acctBatch = redis.NewScript(lib + "\n" + acct + "\n" + luaAccountBatch)
}

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// CreateSession stores d as the device's next session and returns it with
// its ID.
func (s *Store) CreateSession(ctx context.Context, d session.Data) (session.Data, error) {
	args := []any{s.keys.sessionBase(d.MAC), d.MAC.Hex() + "-"}
	args = appendFields(args, encode(d), false)
	seq, err := s.create.Run(ctx, s.rdb, []string{s.keys.seq(d.MAC), s.keys.index(d.MAC)}, args...).Int64()
	if err != nil {
		return session.Data{}, fmt.Errorf("redisstore: create session for %s: %w", d.MAC, translate(err))
	}
	d.ID = session.NewID(d.MAC, uint64(seq))
	return d, nil
}

// GetSession returns one session.
func (s *Store) GetSession(ctx context.Context, id string) (session.Data, error) {
	mac, seq, err := session.ParseID(id)
	if err != nil {
		return session.Data{}, err
	}
	h, err := s.rdb.HGetAll(ctx, s.keys.session(mac, strconv.FormatUint(seq, 10))).Result()
	if err != nil {
		return session.Data{}, fmt.Errorf("redisstore: get session %s: %w", id, translate(err))
	}
	if len(h) == 0 {
		return session.Data{}, fmt.Errorf("redisstore: get session %s: %w", id, session.ErrNotFound)
	}
	d, err := decodeMap(id, h)
	if err != nil {
		return session.Data{}, fmt.Errorf("redisstore: get session %s: %w", id, err)
	}
	return d, nil
}

// DeviceSessions returns the device's sessions in creation order, in one
// round trip, batched with other packets' calls. (EVALSHA, not EVALSHA_RO:
// the latter needs Redis 7.)
func (s *Store) DeviceSessions(ctx context.Context, mac session.MAC) ([]session.Data, error) {
	d := s.keys.device(mac)
	c := &sessionsCall{args: [5]any{"evalsha", s.sessionsSHA, 1, d.index(), d.sessionBase()}}
	err := s.batch.do(ctx, c.build(ctx))
	var v string
	if err == nil { // c.cmd is not to be read otherwise: the job may still be in a pipeline
		v, err = c.cmd.Text()
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: sessions of %s: %w", mac, translate(err))
	}
	out, err := decodePacked(v)
	if err != nil {
		return nil, fmt.Errorf("redisstore: sessions of %s: %w", mac, err)
	}
	return out, nil
}

// maxWriterTotal bounds a writer's running totals: save.lua subtracts them
// as Lua numbers, exact below 2⁵³ (9 PB, 285 million years).
const maxWriterTotal = 1<<53 - 1

// SaveSession applies c atomically: field writes, then increments. With a
// writer (c.Writer), Redis keeps the highest running totals of the writer's
// increments it has applied in the writer's record (a hash in the device's
// slot, living Options.WriterTTL after the last Save that added something)
// and adds only what exceeds them, so that a Save sent again, by the caller
// or by go-redis's own retries, counts nothing twice.
func (s *Store) SaveSession(ctx context.Context, id string, c session.Changes) (session.Data, error) {
	mac, seq, err := session.ParseID(id)
	if err != nil {
		return session.Data{}, err
	}
	if c.Set&^settable != 0 {
		return session.Data{}, fmt.Errorf("redisstore: save session %s: unknown fields %b", id, c.Set&^settable)
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	inc := c.Inc()
	keys := []string{s.keys.session(mac, strconv.FormatUint(seq, 10))}
	if c.Writer != "" && !inc.IsZero() {
		for _, x := range []struct {
			name       string
			acked, inc uint64
		}{{"time_cons", c.Acked.TimeCons, inc.TimeCons}, {"data_cons", c.Acked.DataConsBytes, inc.DataConsBytes},
			{"time_secs", c.Acked.TimeSecs, inc.TimeSecs}, {"data_mb", c.Acked.DataBytes, inc.DataBytes}} {
			if x.acked > maxWriterTotal || x.inc > maxWriterTotal-x.acked {
				return session.Data{}, fmt.Errorf("redisstore: save session %s: %w", id,
					&session.FieldError{Field: x.name, Problem: "the increments of one ClientSession add up to 2^53 or more, the exact limit of the store: Reload it"})
			}
		}
		keys = append(keys, s.keys.writer(mac, c.Writer))
	}
	args := []any{u(inc.TimeCons), u(inc.DataConsBytes), u(inc.TimeSecs), u(inc.DataBytes),
		u(c.Acked.TimeCons), u(c.Acked.DataConsBytes), u(c.Acked.TimeSecs), u(c.Acked.DataBytes), s.writerTTL}
	args = appendFields(args, encodeChanged(c.Set, c.Values), true)
	v, err := s.save.Run(ctx, s.rdb, keys, args...).StringSlice()
	if err != nil {
		return session.Data{}, fmt.Errorf("redisstore: save session %s: %w", id, translate(err))
	}
	d, err := decodePairs(id, v)
	if err != nil {
		return session.Data{}, fmt.Errorf("redisstore: save session %s: %w", id, err)
	}
	return d, nil
}

// DeleteSession removes a session. Accounting records that fed it keep their
// counters; their next packets charge the device's current session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	mac, seq, err := session.ParseID(id)
	if err != nil {
		return err
	}
	n, err := s.del.Run(ctx, s.rdb, []string{s.keys.session(mac, strconv.FormatUint(seq, 10)), s.keys.index(mac)}, id).Int64()
	if err != nil {
		return fmt.Errorf("redisstore: delete session %s: %w", id, translate(err))
	}
	if n == 0 {
		return fmt.Errorf("redisstore: delete session %s: %w", id, session.ErrNotFound)
	}
	return nil
}

// translate maps Redis replies to the session package's sentinels; other
// errors pass through wrapped by the caller.
func translate(err error) error {
	switch {
	case errors.Is(err, redis.Nil):
		return session.ErrNotFound
	case err != nil && strings.HasPrefix(err.Error(), "NOTFOUND"):
		return session.ErrNotFound
	}
	return err
}
