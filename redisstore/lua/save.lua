-- save.lua: apply a ClientSession's changes: writes, then atomic increments.
-- KEYS[1] session hash
-- ARGV[1] time_cons increment, ARGV[2] data_cons_bytes increment,
-- ARGV[3..] field, value, ... (an empty value deletes the field)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('NOTFOUND session does not exist')
end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
if ARGV[1] ~= '0' then redis.call('HINCRBY', KEYS[1], 'time_cons', ARGV[1]) end
if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], 'data_cons_bytes', ARGV[2]) end
return redis.call('HGETALL', KEYS[1])
