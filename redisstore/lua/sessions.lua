-- sessions.lua: every session of one device, in creation order, as ONE bulk
-- string: a MessagePack array {id, {field, value, ...}, id, {...}, ...}, the
-- hashes as stored (an empty array when the device has none). Every string is
-- length-prefixed, so any octet in an ID, field or value survives; Go slices
-- the fields out of the one reply (codec.go, decodePacked) instead of getting
-- a string and an interface per field from go-redis (~23 allocations per
-- session). The Access-Request's one read, so it is kept to the two commands
-- it needs and no Lua-side parsing (it does not use lib.lua). Redis's
-- cmsgpack builds the string in C; the Lua encoder below, byte for byte the
-- same, serves a Redis without it (miniredis).
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
local mp = rawget(_G, 'cmsgpack')
if mp then return mp.pack(out) end
local char, floor = string.char, math.floor
-- hdr: the MessagePack header of a string (c = 0xa0, the fixstr base) or of
-- an array (c = 0x90) of n items.
local function hdr(n, c)
  if c == 0xa0 and n < 32 or c == 0x90 and n < 16 then return char(c + n) end
  if c == 0xa0 and n < 256 then return char(0xd9, n) end
  if n < 65536 then return char(c == 0xa0 and 0xda or 0xdc, floor(n / 256), n % 256) end
  return char(c == 0xa0 and 0xdb or 0xdd, floor(n / 16777216), floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end
local parts = {hdr(#out, 0x90)}
for i = 1, #out, 2 do
  local h = out[i + 1]
  parts[#parts + 1] = hdr(#out[i], 0xa0)
  parts[#parts + 1] = out[i]
  parts[#parts + 1] = hdr(#h, 0x90)
  for j = 1, #h do
    parts[#parts + 1] = hdr(#h[j], 0xa0)
    parts[#parts + 1] = h[j]
  end
end
return table.concat(parts)
