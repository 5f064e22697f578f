-- record.lua: one accounting record and its device's sessions, read together.
-- KEYS[1] accounting record, KEYS[2] device index; ARGV[1] session key base
-- Returns {{field, value, ...} record, the sessions packed (pack.lua)}
local list = load_sessions(KEYS[2], ARGV[1])
return {redis.call('HGETALL', KEYS[1]), dump(list)}
