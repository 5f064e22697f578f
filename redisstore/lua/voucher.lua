-- voucher.lua: the small single-key voucher operations.
-- KEYS[1] voucher hash. ARGV[1] operation:
--   'create' ARGV[2..] field, value...: 1, or 0 when the code exists
--   'complete' ARGV[2] MAC, ARGV[3] session ID: step 3 of a redemption,
--       records the binding's session (kept when already recorded)
--   'revoke' ARGV[2] now: unused or active -> revoked
local op = ARGV[1]
if op == 'create' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
  local fields = {}
  for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], unpack(fields))
  return 1
end
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTFOUND voucher') end
if op == 'complete' then
  local f = 'dev:' .. ARGV[2]
  local cur = redis.call('HGET', KEYS[1], f)
  if not cur then return redis.error_reply('NOTFOUND binding') end
  if cur == '' then redis.call('HSET', KEYS[1], f, ARGV[3]) end
  return 1
end
if op == 'revoke' then
  if redis.call('HGET', KEYS[1], 'state') ~= 'revoked' then
    redis.call('HSET', KEYS[1], 'state', 'revoked', 'revoked_at', ARGV[2])
  end
  return 1
end
return redis.error_reply('ERR voucher.lua: unknown operation ' .. tostring(op))
