-- lib.lua: helpers shared by the scripts (prepended to each one but
-- sessions.lua, which needs none).
-- Numbers are Lua doubles: exact below 2^53 (9 PB, 285 million years), which
-- bounds every counter. int() formats without exponent so HINCRBY gets digits:
-- a whole number below 10^14 by Lua's own conversion ('%.14g' writes it in
-- full), which costs Redis 7.0 about half of string.format's work.
local function int(n)
  if n % 1 == 0 and n < 1e14 and n > -1e14 then return n .. '' end
  return string.format('%.0f', n)
end

-- load_sessions reads every session in the device index: a list in creation
-- order and a map by ID. base is the key of session 0 minus its number.
local function load_sessions(idx, base)
  local list, byid = {}, {}
  local m = redis.call('ZRANGE', idx, 0, -1, 'WITHSCORES')
  for i = 1, #m, 2 do
    local id, seq = m[i], m[i + 1]
    local key = base .. seq
    local h = redis.call('HGETALL', key)
    if #h > 0 then
      local s = {id = id, seq = tonumber(seq), key = key, raw = h}
      for j = 1, #h, 2 do s[h[j]] = h[j + 1] end
      s.time_secs = tonumber(s.time_secs) or 0
      s.time_cons = tonumber(s.time_cons) or 0
      s.data_bytes = tonumber(s.data_bytes) or 0
      s.data_cons_bytes = tonumber(s.data_cons_bytes) or 0
      s.started_at = tonumber(s.started_at)
      s.exp_days = tonumber(s.exp_days)
      list[#list + 1] = s
      byid[id] = s
    end
  end
  return list, byid
end

-- dump returns every session packed (pack.lua): the hash as read, with the
-- fields a script may have changed (consumption, started_at) taken from the
-- Lua table, which the script keeps equal to what it wrote. No second read.
local dumped = {time_cons = true, data_cons_bytes = true, started_at = true}
local function dump(list)
  local out = {}
  for _, s in ipairs(list) do
    local h = {}
    for j = 1, #s.raw, 2 do
      local f = s.raw[j]
      if not dumped[f] then
        h[#h + 1] = f
        h[#h + 1] = s.raw[j + 1]
      end
    end
    h[#h + 1] = 'time_cons'
    h[#h + 1] = int(s.time_cons)
    h[#h + 1] = 'data_cons_bytes'
    h[#h + 1] = int(s.data_cons_bytes)
    if s.started_at ~= nil then
      h[#h + 1] = 'started_at'
      h[#h + 1] = int(s.started_at)
    end
    out[#out + 1] = s.id
    out[#out + 1] = h
  end
  return pack_sessions(out)
end

-- The rules of package session, mirrored: keep them in step with session.go
-- (TestDifferentialCharging compares account.lua with session.Usage.Charge).
local function limits_time(s) return s.type == 'time' or s.type == 'time_or_data' end
local function limits_data(s) return s.type == 'data' or s.type == 'time_or_data' end
local function expired(s, now)
  return s.exp_days ~= nil and s.started_at ~= nil and now >= s.started_at + s.exp_days * 86400
end
local function available(s, now)
  if expired(s, now) then return false end
  if limits_time(s) and s.time_cons >= s.time_secs then return false end
  if limits_data(s) and s.data_cons_bytes >= s.data_bytes then return false end
  return true
end
-- better: should available session a be current rather than b?
local function better(a, b)
  local sa, sb = a.started_at ~= nil, b.started_at ~= nil
  if sa ~= sb then return sa end
  if sa and a.started_at ~= b.started_at then return a.started_at < b.started_at end
  return a.seq < b.seq
end
local function current(list, now)
  local best
  for _, s in ipairs(list) do
    if available(s, now) and (best == nil or better(s, best)) then best = s end
  end
  return best
end
