-- save.lua: apply a ClientSession's changes: writes, then atomic increments.
-- KEYS[1] session hash
-- ARGV[1] time_cons, ARGV[2] data_cons_bytes, ARGV[3] time_secs,
-- ARGV[4] data_bytes increments; ARGV[5..] field, value, ... (an empty
-- value deletes the field)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('NOTFOUND session does not exist')
end
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
local inc = {'time_cons', 'data_cons_bytes', 'time_secs', 'data_bytes'}
for i, field in ipairs(inc) do
  if ARGV[i] ~= '0' then redis.call('HINCRBY', KEYS[1], field, ARGV[i]) end
end
return redis.call('HGETALL', KEYS[1])
