-- sessions.lua: every session of one device, in creation order.
-- KEYS[1] device index (zset: member session ID, score sequence number)
-- ARGV[1] session key base (the key of a session minus its number)
local list = load_sessions(KEYS[1], ARGV[1])
return dump(list)
