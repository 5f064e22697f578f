-- claim.lua: take the schedule entries that are due, atomically, so that of
-- several servers exactly one acts on each.
-- KEYS[1] schedule zset; ARGV[1] now (unix s), ARGV[2] max entries
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
