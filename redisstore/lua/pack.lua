-- pack.lua: pack_sessions(out), the one form in which scripts return
-- sessions to Go: out is {id, {field, value, ...}, id, {...}, ...} and the
-- result ONE bulk string, its MessagePack encoding (an empty array for no
-- sessions). Every string is length-prefixed, so any octet in an ID, field
-- or value survives; Go slices the fields out of the one reply (codec.go,
-- decodePacked) instead of getting a string and an interface per field from
-- go-redis (~23 allocations per session). Redis's cmsgpack builds it in C;
-- the Lua encoder below, byte for byte the same, serves a Redis without it
-- (miniredis). Prepended to sessions.lua and, with lib.lua, to the others.
local function pack_sessions(out)
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
end
