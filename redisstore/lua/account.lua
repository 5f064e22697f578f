-- account.lua: apply one accounting packet (Start, Interim-Update or Stop)
-- to a device's sessions, exactly once (docs/ARCHITECTURE.md).
-- It defines account(KEYS, ARGV), the one home of the accounting rules; the
-- store appends the entry point: one packet (return account(KEYS, ARGV)) or
-- several (account_batch.lua, which applies each packet in turn).
-- KEYS[1] accounting record (hash), KEYS[2] device index, KEYS[3] device's
--        set of open records (members "<nas>|<Acct-Session-Id>")
-- ARGV  1 session key base   2 kind: start|interim|stop   3 now (unix s)
--       4 event time (unix s) 5 Acct-Session-Time  6 input octets (64-bit)
--       7 output octets        8 open TTL (s)       9 stopped TTL (s)
--      10 mac                 11 nas               12 Acct-Session-Id
--      13 User-Name 14 Calling-Station-Id 15 Framed-IP-Address
--      16 NAS-IP-Address 17 NAS-Identifier 18 source IP (kept for Disconnect/CoA)
--      19 '1' when the event time is the NAS's Event-Timestamp
--      20 Class echoed from our Access-Accept ('' if none)
--      21 '1' when the packet carried Gigawords  22 '1': read a decrease
--         without Gigawords as a 32-bit wrap      23 retransmit window (s)
--      24 updates: interim | stop_start | stop_start_reset
--      25 arrival minus Acct-Delay-Time (unix s, the server's clock)
--      26 the record's member in KEYS[3] under its legacy key KEYS[4]
-- KEYS[4] (network NAS entries only) the record's key before the address
--         was part of the NAS identity
-- The short form (what the store sends for an interim; Starts and Stops
-- come in the long form, whose unpacking would cost more): ARGV 1-8 as
-- above, 9 Framed-IP-Address, 10 '1' NAS clock, 11 Class, 12 '1' Gigawords,
-- 13 retransmit window, 14 arrival minus Acct-Delay-Time, 15 the others
-- (9-14, 16-18, 22, 24, 26 above, in that order) packed as <length>:<value>
-- each; expand() turns it into the long form above.
-- Returns 'outcome feeds moved unbilled_secs unbilled_bytes new left' then
-- 'id secs bytes' per session charged (feeds '-': none; moved, new, left
-- 0|1), or {that string, the sessions packed (pack.lua)}.
-- The sessions are dumped only when the record began or moved (the server
-- then needs the current session's limits); left says whether any session is
-- still available (what the server needs after every other packet).
--
-- Two paths, one result. The usual packet, an update of an open record whose
-- session has room for all of it and stays available, reads only the record
-- and that session's limits (fast path). Anything else (a new record,
-- spill-over, an exhausted or expired or deleted session, a reopened record)
-- reads every session of the device and runs the spill-over chain (full
-- path), which the fast path is a special case of.
-- What account() does not change from packet to packet is made once per
-- script call, not per packet: in Redis 7.0 every table, closure and
-- formatted number costs about 1-4k instructions (BENCHMARKS.md).
local acct_fields = {'state', 'session', 'in_octets', 'out_octets', 'session_time', 'event_at',
  'charged_secs', 'charged_bytes', 'unbilled_secs', 'unbilled_bytes', 'framed_ip', 'closed_by',
  'started_at', 'class', 'gw', 'segs', 'prev_class', 'prev_began', 'began_at', 'nas_ev'}
local none = {} -- an empty list (never written)
local attr_names = {'user_name', 'calling_station_id', 'framed_ip', 'nas_ip', 'nas_identifier', 'nas_src'}

-- The record's read. account() addresses record fields by their index in
-- acct_fields (r[1] state ... r[20] nas_ev). Since issue 12 a record lists
-- in its field opt which of the fields a record often lacks (opt_index)
-- it holds, so that a read asks only for fields that are there: in Redis
-- 7.0 HMGET looks a field up by scanning the hash, and a field the hash
-- lacks costs a scan of all of it (a record holds about 20 fields). Fields
-- an update does not need are not read at all: the running totals grow by
-- HINCRBY, framed_ip is written without reading it, closed_by is read only
-- from a stopped record, started_at (before began_at existed) only from a
-- record without opt. A record without opt (written before) is read whole
-- and gets its opt at this packet's write (README "The Redis schema").
local hot_fields = {'state', 'session', 'in_octets', 'out_octets', 'session_time', 'event_at', 'began_at', 'opt'}
local opt_index = {class = 14, gw = 15, segs = 16, prev_class = 17, prev_began = 18, nas_ev = 20}
local opt_names = {'class', 'gw', 'segs', 'prev_class', 'prev_began', 'nas_ev'}

-- read_record returns the record's fields as r, and its opt (false for a
-- record without one, or no record).
local function read_record(rec)
  local h = redis.call('HMGET', rec, unpack(hot_fields))
  if h[1] == false then return {false, false, false, false, false, false, false, false, false, false,
    false, false, false, false, false, false, false, false, false, false}, false end
  if h[8] == false then return redis.call('HMGET', rec, unpack(acct_fields)), false end
  local r = {h[1], h[2], h[3], h[4], h[5], h[6], false, false, false, false,
    false, false, false, false, false, false, false, false, h[7], false}
  if h[8] ~= '' then
    local names = {}
    for name in string.gmatch(h[8], '%S+') do
      if opt_index[name] then names[#names + 1] = name end
    end
    if #names > 0 then
      local v = redis.call('HMGET', rec, unpack(names))
      for i, name in ipairs(names) do r[opt_index[name]] = v[i] end
    end
  end
  return r, h[8]
end

-- A counter lower than the record's while the clock advanced was reset, or
-- (wrap: a 32-bit counter of a NAS that never sent Gigawords) wrapped once.
-- A wrap is taken only when it means less than 2 GiB in the interval: a
-- larger fall is a restart (or a NAS session we could not tell apart).
local function grown(new, last, wrap)
  if new >= last then return new - last end
  if wrap and last < 4294967296 and new + 4294967296 - last < 2147483648 then return new + 4294967296 - last end
  return new
end

-- counted_seg: was the pfSense Stop/Start segment key (its session time
-- under stop_start, its start under stop_start_reset) counted already?
local function counted_seg(key, segs, updates, window)
  for _, x in ipairs(segs) do
    if (updates == 'stop_start' and x == key) or (updates ~= 'stop_start' and math.abs(x - key) <= window) then return true end
  end
  -- Older than every segment still remembered: too old to tell, so a copy.
  return #segs >= 16 and key < segs[1] - (updates == 'stop_start' and 0 or window)
end

-- same: a value equal to the argument it came from is written as the
-- argument's own digits (formatting a Lua number costs Redis 7.0 a printf).
local function same(n, arg, digits) if n == arg then return digits end return int(n) end
local function put(f, k, v) f[#f + 1] = k; f[#f + 1] = v end

-- expand returns the long form of a short form's arguments (above).
local function expand(a)
  local c, cold, pos = a[15], {}, 1
  while pos <= #c do
    local colon = string.find(c, ':', pos, true)
    local len = colon and tonumber(string.sub(c, pos, colon - 1))
    if not len then error('account: malformed packet: packed arguments') end
    cold[#cold + 1] = string.sub(c, colon + 1, colon + len)
    pos = colon + len + 1
  end
  if #cold ~= 12 or pos ~= #c + 1 then error('account: malformed packet: packed arguments') end
  return {a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], cold[1], cold[2], cold[3], cold[4], cold[5], cold[6],
    a[9], cold[7], cold[8], cold[9], a[10], a[11], a[12], cold[10], a[13], cold[11], a[14], cold[12]}
end
local hot_lane = true -- the hot lane below (TestAccountFastPathEqualsFullPath switches it off)

-- fed_session reads the session the open record feeds (its key), the fields
-- the charge needs; nil when it is gone. fits: it takes dt seconds and db
-- octets without running out or expiring, so it stays available (the fast
-- path's and the hot lane's one test).
local function fed_session(key)
  local h = redis.call('HMGET', key, 'type', 'time_secs', 'time_cons', 'data_bytes', 'data_cons_bytes',
    'started_at', 'exp_days')
  if not h[1] then return nil end
  return {key = key, type = h[1], time_secs = tonumber(h[2]) or 0, time_cons = tonumber(h[3]) or 0,
    data_bytes = tonumber(h[4]) or 0, data_cons_bytes = tonumber(h[5]) or 0,
    started_at = tonumber(h[6]), exp_days = tonumber(h[7])}
end
local function fits(s, now, dt, db)
  return s.started_at ~= nil and not expired(s, now)
    and (not limits_time(s) or s.time_cons + dt < s.time_secs)
    and (not limits_data(s) or s.data_cons_bytes + db < s.data_bytes)
end

local function account(KEYS, ARGV)
-- A packet is checked before anything is written: a packet the script
-- refuses (an error) has changed nothing, so its neighbours in a batch
-- are unaffected (README "The Redis schema").
if #KEYS < 3 or (ARGV[2] ~= 'start' and ARGV[2] ~= 'interim' and ARGV[2] ~= 'stop') then
  error('account: malformed packet: keys or kind')
end
local rec, idx, open_set = KEYS[1], KEYS[2], KEYS[3]
local kind = ARGV[2]
-- The number arguments, by arithmetic: Lua converts a string operand as
-- tonumber does (the same strings are numbers), once, where tonumber
-- converts twice (about 1k instructions each in Redis 7.0); an argument
-- that is not a number raises "attempt to perform arithmetic on a string
-- value" here, before anything is written.
local now, ev = ARGV[3] + 0, ARGV[4] + 0
local st, inb, outb = ARGV[5] + 0, ARGV[6] + 0, ARGV[7] + 0
local short = #ARGV == 15
-- What the hot lane reads, from either form.
local window, sent, a_framed, a_clock, a_class, a_gw
if short then
  window, sent, a_framed, a_clock, a_class, a_gw = ARGV[13] + 0, ARGV[14] + 0, ARGV[9], ARGV[10], ARGV[11], ARGV[12]
else
  window, sent, a_framed, a_clock, a_class, a_gw = ARGV[23] + 0, ARGV[25] + 0, ARGV[15], ARGV[19], ARGV[20], ARGV[21]
end

-- The hot lane: the common interim (an update of an open record of this
-- NAS session, the same Class, counters that grew, the fed session keeps
-- room), and the Stop that ends such a record (a NAS that reports by
-- Interim-Update: a Stop of pfSense's Stop/Start updates is a segment,
-- which only the full path counts), proven from the record's hot field
-- alone, one HGET instead of the record's reads. hot is a snapshot every write of account() keeps equal to
-- the record's fields (close.lua empties it): 'in out session_time event_at
-- began_at nas_ev|- gw(0|1) session class', numbers as the packets' digits.
-- Anything it cannot prove (no or empty hot, another Class, no Class and a
-- session begun outside the retransmit window of the record's, a
-- counter that fell, the same session time, Gigawords seen first, a session
-- out of room) falls through to the paths below, which it is a special
-- case of: TestAccountFastPathEqualsFullPath holds them equal.
local stop = kind == 'stop'
if hot_lane and (kind == 'interim' or (stop and not short and ARGV[24] == 'interim')) then
  local hot = redis.call('HGET', rec, 'hot')
  local h_in, h_out, h_t, h_ev, h_began, h_nasev, h_gw, h_sess, seq, h_class
  if hot then
    h_in, h_out, h_t, h_ev, h_began, h_nasev, h_gw, h_sess, seq, h_class =
      string.match(hot, '^(%d+) (%d+) (%d+) (%d+) (%-?%d+) (%S+) ([01]) (%S-%-(%d+)) (.*)$')
  end
  local nasclock = a_clock == '1'
  -- Without a Class the retransmit window is the proof, as on the full
  -- path: a packet whose NAS session began within the window of the
  -- record's is neither a new session nor a copy of a replaced one.
  local began_now = sent - st
  local same = h_class == a_class and (a_class ~= '' or window <= 0 or
    (began_now >= h_began - window and began_now <= h_began + window))
  if same and (a_gw ~= '1' or h_gw == '1') and (not nasclock or h_nasev ~= '-') then
    local last_in, last_out, last_t = h_in + 0, h_out + 0, h_t + 0 -- digits: the pattern matched them
    if st > last_t and inb >= last_in and outb >= last_out then
      local dt, db = st - last_t, inb - last_in + outb - last_out
      local key = ARGV[1] .. seq
      local s = fed_session(key)
      if s and fits(s, now, dt, db) then
        local dts, dbs = int(dt), db > 0 and int(db) or '0'
        redis.call('HINCRBY', key, 'time_cons', dts)
        if db > 0 then redis.call('HINCRBY', key, 'data_cons_bytes', dbs) end
        local evd = ev >= h_ev + 0 and ARGV[4] or h_ev
        local began, began_d = sent - st, h_began
        local f = {'in_octets', ARGV[6], 'out_octets', ARGV[7], 'session_time', ARGV[5], 'event_at', evd,
          'updated_at', ARGV[3]}
        if began < h_began + 0 then began_d = int(began); put(f, 'began_at', began_d) end
        if nasclock and ev > h_nasev + 0 then h_nasev = ARGV[4]; put(f, 'nas_ev', h_nasev) end
        if a_framed ~= '' then put(f, 'framed_ip', a_framed) end
        if stop then
          put(f, 'state', 'stopped'); put(f, 'stopped_at', int(ev)); put(f, 'hot', '')
        else
          put(f, 'hot', ARGV[6] .. ' ' .. ARGV[7] .. ' ' .. ARGV[5] .. ' ' .. evd .. ' ' .. began_d .. ' ' .. h_nasev ..
            ' ' .. h_gw .. ' ' .. h_sess .. ' ' .. h_class)
        end
        redis.call('HSET', rec, unpack(f))
        redis.call('HINCRBY', rec, 'charged_secs', dts)
        if db > 0 then redis.call('HINCRBY', rec, 'charged_bytes', dbs) end
        if stop then
          redis.call('SREM', open_set, ARGV[11] .. '|' .. ARGV[12])
          redis.call('EXPIRE', rec, ARGV[9])
        else
          redis.call('EXPIRE', rec, ARGV[8])
        end
        return 'applied ' .. h_sess .. ' 0 0 0 0 1 ' .. h_sess .. ' ' .. dts .. ' ' .. dbs
      end
    end
  end
end

if short then ARGV = expand(ARGV) end

local r, ropt = read_record(rec)
-- A network NAS entry's records were once keyed by the entry's name alone
-- (KEYS[4], same slot): an open NAS session's record moves to its address's
-- key at its next packet, so the upgrade counts nothing twice.
if r[1] == false and KEYS[4] and KEYS[4] ~= rec and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('RENAME', KEYS[4], rec)
  redis.call('HSET', rec, 'nas', ARGV[11])
  redis.call('SREM', open_set, ARGV[26])
  r, ropt = read_record(rec)
  if r[1] == 'open' then redis.call('SADD', open_set, ARGV[11] .. '|' .. ARGV[12]) end
end
-- A record closed by Accounting-On/Off or the reaper was closed on our
-- guess, not by the NAS: packets whose counters move past it still count
-- (a late or retransmitted Accounting-On must not make sessions free).
local reopened = r[1] == 'stopped' and (r[12] or redis.call('HGET', rec, 'closed_by')) ~= false
local exists = r[1] ~= false
local last_in, last_out = tonumber(r[3]) or 0, tonumber(r[4]) or 0
local last_t, last_ev = tonumber(r[5]) or 0, tonumber(r[6]) or 0
local nasclock, class, updates = ARGV[19] == '1', ARGV[20], ARGV[24]
local gw = ARGV[21] == '1' or r[15] == '1'
-- When this packet's NAS session began, on the server's clock (never the
-- NAS's, which may step): arrival − Acct-Delay-Time − Acct-Session-Time.
-- It overestimates by at most the retransmit window (a copy the NAS resent
-- without raising Acct-Delay-Time). The record keeps the smallest of its
-- packets' (began_at): the closest to the truth.
local began = sent - st
local rbegan = tonumber(r[19]) or tonumber(r[13]) or began

-- Deltas from the cumulative counters; new absolutes to store.
local outcome = 'applied'
local dt, din, dout = 0, 0, 0
local new_in, new_out, new_t = inb, outb, st
local fresh = not exists -- the record (re)starts: counters count from zero
-- A 32-bit counter of a NAS that never sent Gigawords may wrap (grown).
local wrap = ARGV[22] == '1' and not gw
local segmented = updates ~= 'interim' and kind ~= 'interim'
-- pfSense Stop/Start: the segments the record counted, identified by
-- their session time (stop_start) or their start (stop_start_reset).
local segs, seg = none, nil
if r[16] then
  segs = {}
  for x in string.gmatch(r[16], '%S+') do segs[#segs + 1] = tonumber(x) end
end
if not exists then
  dt, din, dout = st, inb, outb
  if segmented and kind == 'stop' then seg = updates == 'stop_start' and st or began end
elseif segmented then
  -- pfSense "Stop/Start": at each update a Stop, then a Start with the same
  -- Acct-Session-Id and no counters. pfSense zeroes its octet counters after
  -- each Stop, so a Stop's octets cover its segment only; its session time
  -- is cumulative since login (stop_start) or the segment's own
  -- (stop_start_reset, "FreeRADIUS" mode). The record keeps the totals. A
  -- Stop counts once per segment: a segment is its session time (stop_start)
  -- or its start within the retransmit window (stop_start_reset, whose
  -- session time says nothing about order); a Stop of a segment already
  -- counted is a copy, whatever order the segments arrive in.
  if kind == 'start' then
    if r[1] == 'stopped' then reopened = true else outcome = 'stale' end
    new_in, new_out, new_t = last_in, last_out, last_t
  else
    local key = updates == 'stop_start' and st or began
    if not counted_seg(key, segs, updates, window) then
      dt = updates == 'stop_start' and math.max(0, st - last_t) or st
      din, dout = inb, outb
      new_in, new_out, new_t = last_in + inb, last_out + outb, last_t + dt
      seg = key
    else
      outcome = 'stale'
    end
  end
elseif kind == 'start' then
  outcome = 'stale' -- a retransmitted, replayed or late Start, unless proven new below
elseif r[1] == 'stopped' and not reopened then
  outcome = 'after_stop' -- a Stop is final: late packets add nothing
elseif st < last_t and kind == 'stop' then
  -- A Stop with less time than the record: a NAS that leaves the idle time
  -- out of its final Stop (pfSense after an idle timeout). It still ends
  -- the session; only octets that grew count.
  din, dout = math.max(0, inb - last_in), math.max(0, outb - last_out)
  new_in, new_out, new_t = math.max(inb, last_in), math.max(outb, last_out), last_t
elseif st < last_t then
  outcome = 'stale' -- older than what the record holds: reordered or replayed
elseif st == last_t then
  -- Same clock: only growth counts (two packets of one second, duplicates).
  din, dout = math.max(0, inb - last_in), math.max(0, outb - last_out)
  new_in, new_out = math.max(inb, last_in), math.max(outb, last_out)
  if din == 0 and dout == 0 and kind ~= 'stop' then outcome = 'stale' end
else
  dt, din, dout = st - last_t, grown(inb, last_in, wrap), grown(outb, last_out, wrap)
end

-- The same Acct-Session-Id for a new NAS session (a NAS that rebooted, two
-- access points of one NAS entry): the record starts again from zero, and
-- what the old NAS session reported stays charged. The proofs, strongest
-- first (docs/ARCHITECTURE.md, "Accounting records and their identity"):
-- the Class of another Access-Accept; the NAS's clock (Event-Timestamp) past
-- the record; a session time past the record's final Stop; a NAS session
-- that began more than the retransmit window after the record's began (no
-- copy of the record's packets can arrive that late: this one holds for
-- every packet, even one whose counters would continue the record's).
-- Without a proof a packet the record would ignore stays ignored: counting
-- a delayed duplicate again is the worse error, and the NAS session's next
-- packet carries its counters again.
local replaced, replaced_began -- the Class and start of the NAS session a reused record held
if exists and not segmented then
  local same_auth = class ~= '' and r[14] == class
  -- A copy of the older NAS session's packet, arriving after a newer one
  -- took the record over: its Class is the one the record replaced, or its
  -- session began more than the window before the record's.
  local prev = tonumber(r[18])
  if not same_auth and ((class ~= '' and r[17] == class) or (prev ~= nil and window > 0 and began < rbegan - window)) then
    outcome = 'stale'
  else
    local other_auth = class ~= '' and r[14] ~= false and r[14] ~= '' and r[14] ~= class
    local new = other_auth
    if not new and not same_auth then
      local nas_ev = tonumber(r[20])
      new = (nasclock and kind == 'start' and nas_ev ~= nil and ev > nas_ev)
        -- A Stop with less time than the record is that session's end (see
        -- above), never the first sign of a new one.
        or (window > 0 and began > rbegan + window and not (kind == 'stop' and st < last_t))
    end
    if new then
      replaced, replaced_began = r[14] or '', rbegan
      redis.call('DEL', rec)
      exists, fresh, reopened, outcome = false, true, false, 'applied'
      dt, din, dout = st, inb, outb
      new_in, new_out, new_t = inb, outb, st
      last_in, last_out, last_t, last_ev = 0, 0, 0, 0
      gw = ARGV[21] == '1'
      rbegan = began
    end
  end
end

if outcome ~= 'applied' then
  return outcome .. ' ' .. (r[2] or '-') .. ' 0 0 0 0 0'
end

local feeds, moved, left = nil, 0, false
local unbilled_t, unbilled_b = 0, 0
local charges = none
local dts, dbs -- dt and din + dout formatted, once (fast path)
local list -- every session, read by the full path only

-- Fast path: the session the open record feeds takes all of this packet's
-- consumption (each kind it limits fits strictly in what it has left) and
-- so stays available; in the full path it would head the chain, take
-- everything and stay bound. The fast path finds that session by its ID,
-- the full path through the device index: they agree because create and
-- delete write a hash and its index entry together (and Redis must run with
-- noeviction).
local fast
if exists and not fresh and not reopened and r[2] then
  local seq = string.match(r[2], '%-(%d+)$')
  if seq then
    local key = ARGV[1] .. seq
    local s = fed_session(key)
    if s and fits(s, now, dt, din + dout) then
      s.id = r[2]
      fast = s
    end
  end
end

if fast then
  dts, dbs = dt > 0 and int(dt) or '0', din + dout > 0 and int(din + dout) or '0'
  if dt > 0 then redis.call('HINCRBY', fast.key, 'time_cons', dts) end
  if din + dout > 0 then redis.call('HINCRBY', fast.key, 'data_cons_bytes', dbs) end
  if dt > 0 or din + dout > 0 then charges = {fast.id, dts, dbs} end
  feeds, left = fast, true
else
  local byid
  list, byid = load_sessions(idx, ARGV[1])
  charges = {}

  -- The charging below is session.Usage.Charge's in Go (session/charge.go);
  -- TestDifferentialCharging holds the two equal: change them together.
  -- The chain of sessions to charge: the one the record feeds (or, for a new
  -- record, the current one), then the other available sessions in the order
  -- they would become current.
  local old = (not fresh and r[2]) and byid[r[2]] or nil
  local bound = old
  if bound == nil then bound = current(list, now) end
  local chain = {}
  if bound then chain[1] = bound end
  local others = {}
  for _, s in ipairs(list) do
    if s ~= bound and available(s, now) then others[#others + 1] = s end
  end
  table.sort(others, better)
  for _, s in ipairs(others) do chain[#chain + 1] = s end

  -- spill charges delta of one kind along the chain: a session takes up to what
  -- it has left of a kind that limits it (nothing once expired); a kind that
  -- does not limit it, and the last session of the chain, take everything.
  local charged = {}
  local function spill(delta, limits, room, field)
    for i, s in ipairs(chain) do
      if delta <= 0 then break end
      local take = delta
      if i < #chain and limits(s) then
        local cap = 0
        if not expired(s, now) then cap = math.max(0, room(s)) end
        if take > cap then take = cap end
      end
      if take > 0 then
        s[field] = s[field] + take
        charged[s] = charged[s] or {0, 0}
        if field == 'time_cons' then charged[s][1] = charged[s][1] + take else charged[s][2] = charged[s][2] + take end
        delta = delta - take
      end
    end
    return delta
  end
  unbilled_t = spill(dt, limits_time, function(s) return s.time_secs - s.time_cons end, 'time_cons')
  unbilled_b = spill(din + dout, limits_data, function(s) return s.data_bytes - s.data_cons_bytes end, 'data_cons_bytes')

  -- First use starts the expiry clock: the NAS session's start for the session
  -- a new record binds to, the moment of the event for one reached by spill-over.
  for i, s in ipairs(chain) do
    local c = charged[s]
    if c or (i == 1 and kind == 'start') then
      if s.started_at == nil then
        s.started_at = (i == 1 and fresh) and math.max(0, ev - st) or ev
        redis.call('HSET', s.key, 'started_at', int(s.started_at))
      end
    end
    if c then
      if c[1] > 0 then redis.call('HINCRBY', s.key, 'time_cons', int(c[1])) end
      if c[2] > 0 then redis.call('HINCRBY', s.key, 'data_cons_bytes', int(c[2])) end
      charges[#charges + 1] = s.id
      charges[#charges + 1] = int(c[1])
      charges[#charges + 1] = int(c[2])
    end
  end

  -- The record now feeds the bound session while it lasts, else the current
  -- one; when nothing is left, the session that took the overage.
  feeds = bound
  if feeds ~= nil and available(feeds, now) then
    left = true
  else
    local c = current(list, now)
    if c then
      feeds, left = c, true
    elseif #chain > 0 then
      feeds = chain[#chain]
    end
  end
  -- Moved: the NAS was told the limits of another session (the one the record
  -- fed, or for a new record the one current when it began).
  moved = (bound ~= nil and feeds ~= bound) and 1 or 0
end -- full path

-- One write of what changed (an interim usually changes only its counters).
-- Values equal to an argument are written as the argument's own digits:
-- formatting a Lua number costs Redis 7.0 a printf each (same).
local f = {'in_octets', same(new_in, inb, ARGV[6]), 'out_octets', same(new_out, outb, ARGV[7]),
  'session_time', same(new_t, st, ARGV[5]), 'event_at', same(math.max(ev, last_ev), ev, ARGV[4]), 'updated_at', ARGV[3]}
if not exists or kind == 'stop' or reopened then put(f, 'state', kind == 'stop' and 'stopped' or 'open') end
if reopened then redis.call('HDEL', rec, 'closed_by', 'stopped_at') end
if feeds and (not exists or feeds.id ~= r[2]) then put(f, 'session', feeds.id) end
if seg then
  if segs == none then segs = {} end
  segs[#segs + 1] = seg
  table.sort(segs)
  while #segs > 16 do table.remove(segs, 1) end
  local out = {}
  for i, x in ipairs(segs) do out[i] = int(x) end
  put(f, 'segs', table.concat(out, ' '))
end
-- (Also at the upgrade of a record without opt: such a record may predate
-- began_at, and a record with opt is read without started_at.)
if not exists or began < rbegan or ropt == false then put(f, 'began_at', int(math.min(began, rbegan))) end
if nasclock and (not exists or r[20] == false or ev > tonumber(r[20])) then put(f, 'nas_ev', ARGV[4]) end
if replaced and replaced ~= '' then put(f, 'prev_class', replaced) end
if replaced_began then put(f, 'prev_began', int(replaced_began)) end
if class ~= '' and (not exists or r[14] == false) then put(f, 'class', class) end
if gw and (not exists or r[15] ~= '1') then put(f, 'gw', '1') end
if not exists then
  put(f, 'mac', ARGV[10]); put(f, 'nas', ARGV[11]); put(f, 'acct_session_id', ARGV[12])
  put(f, 'started_at', int(math.max(0, ev - st)))
  for i, name in ipairs(attr_names) do
    if ARGV[12 + i] ~= '' then put(f, name, ARGV[12 + i]) end
  end
elseif ARGV[15] ~= '' then
  put(f, 'framed_ip', ARGV[15]) -- a client address learnt after the Start (written, not read)
end
if kind == 'stop' then put(f, 'stopped_at', int(ev)) end
-- opt: which of opt_names the record holds after this write, in that
-- order; rebuilt only when that changes (r holds, for a record with opt,
-- the fields it lists; for one without, every field; after a takeover,
-- none still stands).
local opt, changed = ropt, not exists or ropt == false
for i = 1, #f, 2 do
  local j = opt_index[f[i]]
  if j and r[j] == false then changed = true end
end
if changed then
  local written, names = {}, {}
  for i = 1, #f, 2 do
    if opt_index[f[i]] then written[f[i]] = true end
  end
  for _, name in ipairs(opt_names) do
    if written[name] or (exists and r[opt_index[name]] ~= false) then names[#names + 1] = name end
  end
  opt = table.concat(names, ' ')
end
-- hot: the hot lane's snapshot of what this write leaves (its fields in
-- f, or the record's as read), or '' when the lane cannot use the record
-- (stopped, or no session); a record without a Class has an empty one.
local hot = ''
local sess = (feeds and feeds.id) or (exists and r[2]) or nil
local hclass = (class ~= '' and (not exists or r[14] == false) and class) or (exists and r[14]) or ''
if kind ~= 'stop' and sess then
  local bd, nd
  if not exists or began < rbegan or ropt == false then bd = int(math.min(began, rbegan)) else bd = r[19] or int(rbegan) end
  if nasclock and (not exists or r[20] == false or ev > tonumber(r[20])) then nd = ARGV[4] else nd = exists and r[20] or '-' end
  hot = f[2] .. ' ' .. f[4] .. ' ' .. f[6] .. ' ' .. f[8] .. ' ' .. bd .. ' ' .. nd .. ' ' .. (gw and '1' or '0') ..
    ' ' .. sess .. ' ' .. hclass
end
if not exists then
  redis.call('HSET', rec, 'hot', hot, 'opt', opt, unpack(f)) -- hot and opt first: read first
else
  put(f, 'hot', hot)
  if opt ~= ropt then put(f, 'opt', opt) end
  redis.call('HSET', rec, unpack(f))
end
-- Running totals, by increment (never read).
local cs, cb = dt - unbilled_t, din + dout - unbilled_b
if cs > 0 then redis.call('HINCRBY', rec, 'charged_secs', (cs == dt and dts) or int(cs)) end
if cb > 0 then redis.call('HINCRBY', rec, 'charged_bytes', (cb == din + dout and dbs) or int(cb)) end
if unbilled_t > 0 then redis.call('HINCRBY', rec, 'unbilled_secs', int(unbilled_t)) end
if unbilled_b > 0 then redis.call('HINCRBY', rec, 'unbilled_bytes', int(unbilled_b)) end
if kind == 'stop' then
  redis.call('SREM', open_set, ARGV[11] .. '|' .. ARGV[12])
elseif not exists or reopened then
  redis.call('SADD', open_set, ARGV[11] .. '|' .. ARGV[12])
end
redis.call('EXPIRE', rec, kind == 'stop' and ARGV[9] or ARGV[8])

-- The reply, one string (a reply of many values costs Redis more):
-- 'outcome feeds moved unbilled_secs unbilled_bytes new left' ('-' for no
-- session fed), then 'id secs bytes' per session charged; when the
-- sessions are dumped, {that string, sessions}.
local head = outcome .. ' ' .. (feeds and feeds.id or '-') .. ' ' .. (moved == 1 and '1' or '0') .. ' ' ..
  (unbilled_t > 0 and int(unbilled_t) or '0') .. ' ' .. (unbilled_b > 0 and int(unbilled_b) or '0') .. ' ' ..
  (fresh and '1' or '0') .. ' ' .. (left and '1' or '0')
if #charges > 0 then head = head .. ' ' .. table.concat(charges, ' ') end
if list ~= nil and (fresh or moved == 1) then return {head, dump(list)} end
return head
end
