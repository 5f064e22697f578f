-- close.lua: close one open accounting record after a NAS reboot
-- (Accounting-On/Off) or when the reaper finds it silent. Records updated
-- after the given time are left open.
-- KEYS[1] accounting record, KEYS[2] the device's set of open records
-- ARGV[1] time (server clock, as updated_at), ARGV[2] stopped TTL,
-- ARGV[3] reason, ARGV[4] the record's member in KEYS[2]
local r = redis.call('HMGET', KEYS[1], 'state', 'updated_at')
if r[1] == false then
  redis.call('SREM', KEYS[2], ARGV[4]) -- expired record
  return 0
end
if r[1] ~= 'open' or (tonumber(r[2]) or 0) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'state', 'stopped', 'stopped_at', ARGV[1], 'closed_by', ARGV[3], 'hot', '') -- hot: account.lua's hot lane no longer applies
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[4])
return 1
