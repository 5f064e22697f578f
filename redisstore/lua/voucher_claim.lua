-- voucher_claim.lua: step 1 of a redemption (README.md "Vouchers",
-- docs/ARCHITECTURE.md "Vouchers"): bind the voucher to a device.
-- KEYS[1] voucher hash
-- ARGV[1] device MAC (aa:bb:cc:dd:ee:ff), ARGV[2] now (Unix seconds),
-- ARGV[3] plan snapshot (JSON; "" when the caller has not read the plan),
-- ARGV[4] devices the plan allows (with ARGV[3])
-- Returns {'unknown'} | {'revoked'} | {'need_plan', plan} |
--         {'bound', snapshot, session id or '' while pending} |
--         {'other', session id, ...}
-- The first claim stores the snapshot; every device's session is made from it.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown'} end
local v = redis.call('HMGET', KEYS[1], 'state', 'plan', 'plan_snapshot', 'max_devices', 'devices')
local state, plan, snap, maxd, devs = v[1], v[2], v[3], v[4], v[5]
if state == 'revoked' then return {'revoked'} end
local mac = ARGV[1]
local sid = redis.call('HGET', KEYS[1], 'dev:' .. mac)
if sid then return {'bound', snap, sid} end
if not snap then
  if ARGV[3] == '' then return {'need_plan', plan} end
  snap, maxd = ARGV[3], ARGV[4]
  redis.call('HSET', KEYS[1], 'plan_snapshot', snap, 'max_devices', maxd)
end
local list = {}
if devs and devs ~= '' then
  for d in string.gmatch(devs, '[^,]+') do list[#list + 1] = d end
end
if #list >= (tonumber(maxd) or 1) then
  local out = {'other'}
  for _, d in ipairs(list) do
    local s = redis.call('HGET', KEYS[1], 'dev:' .. d)
    if s and s ~= '' then out[#out + 1] = s end
  end
  return out
end
list[#list + 1] = mac
redis.call('HSET', KEYS[1], 'state', 'active', 'devices', table.concat(list, ','), 'dev:' .. mac, '')
if redis.call('HEXISTS', KEYS[1], 'redeemed_at') == 0 then
  redis.call('HSET', KEYS[1], 'redeemed_at', ARGV[2])
end
return {'bound', snap, ''}
