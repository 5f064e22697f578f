-- save.lua: apply a ClientSession's changes: writes, then atomic increments,
-- each counted once per writer (see Store.SaveSession).
-- KEYS[1] session hash; KEYS[2], when given, the writer's record: the
-- highest running totals of its increments applied so far.
-- ARGV[1..4] increments of time_cons, data_cons_bytes, time_secs,
-- data_bytes; ARGV[5..8] the writer's running totals already acknowledged
-- to it; ARGV[9] the record's TTL in seconds; ARGV[10..] field, value, ...
-- (an empty value deletes the field).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('NOTFOUND session does not exist')
end
local written = {}
for i = 10, #ARGV, 2 do
  written[ARGV[i]] = true
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
local inc = {'time_cons', 'data_cons_bytes', 'time_secs', 'data_bytes'}
if KEYS[2] == nil then
  -- No writer: plain additions, passed as given (exact to 2^63).
  for i, field in ipairs(inc) do
    if ARGV[i] ~= '0' and not written[field] then
      redis.call('HINCRBY', KEYS[1], field, ARGV[i])
    end
  end
  return redis.call('HGETALL', KEYS[1])
end
-- Add what the running total exceeds of what is known applied; the caller
-- keeps totals below 2^53, where Lua numbers are exact.
local seen = redis.call('HMGET', KEYS[2], unpack(inc))
local record = {}
for i, field in ipairs(inc) do
  local total = tonumber(ARGV[i + 4]) + tonumber(ARGV[i])
  local done = math.max(tonumber(seen[i]) or 0, tonumber(ARGV[i + 4]))
  if total > done and not written[field] then
    redis.call('HINCRBY', KEYS[1], field, int(total - done))
  end
  record[#record + 1] = field
  record[#record + 1] = int(math.max(total, done))
end
redis.call('HSET', KEYS[2], unpack(record))
redis.call('EXPIRE', KEYS[2], ARGV[9])
return redis.call('HGETALL', KEYS[1])
