-- sessions.lua: every session of one device, in creation order, the hashes
-- as stored, packed (pack.lua, prepended: one bulk string). The
-- Access-Request's one read, so it is kept to the two commands it needs and
-- no Lua-side parsing (it does not use lib.lua).
-- KEYS[1] device index (zset: member session ID, score sequence number)
-- ARGV[1] session key base (the key of a session minus its number)
local m = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #m, 2 do
  local h = redis.call('HGETALL', ARGV[1] .. m[i + 1])
  if #h > 0 then
    out[#out + 1] = m[i]
    out[#out + 1] = h
  end
end
return pack_sessions(out)
