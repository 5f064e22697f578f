-- records.lua: the device's open accounting records; members whose record
-- expired or stopped are dropped from the set on the way.
-- KEYS[1] the device's set of open records; ARGV[1] record key base
-- ("<prefix>{<mac>}:acct:"). Returns {{nas, id, field, value, ...}, ...}
local out = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local sep = string.find(m, '|', 1, true)
  if sep then
    local nas, id = string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
    local h = redis.call('HGETALL', ARGV[1] .. nas .. ':' .. id)
    local open = false
    for i = 1, #h, 2 do
      if h[i] == 'state' and h[i + 1] == 'open' then open = true end
    end
    if open then
      table.insert(h, 1, id)
      table.insert(h, 1, nas)
      out[#out + 1] = h
    else
      redis.call('SREM', KEYS[1], m)
    end
  else
    redis.call('SREM', KEYS[1], m)
  end
end
return out
