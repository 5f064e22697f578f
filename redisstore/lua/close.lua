-- close.lua: close one open accounting record after a NAS reboot
-- (Accounting-On/Off). Records updated after the reboot are left open.
-- KEYS[1] accounting record; ARGV[1] reboot time (server clock, as
-- updated_at), ARGV[2] stopped TTL, ARGV[3] reason
local r = redis.call('HMGET', KEYS[1], 'state', 'updated_at')
if r[1] ~= 'open' or (tonumber(r[2]) or 0) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'state', 'stopped', 'stopped_at', ARGV[1], 'closed_by', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
