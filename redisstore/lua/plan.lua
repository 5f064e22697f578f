-- plan.lua: plans, all in the {plans} slot. KEYS[1] plan hash, KEYS[2] set
-- of plan names. ARGV[1] operation, ARGV[2] name, ARGV[3..] field, value...
--   'create': 1, or 0 when the plan exists
--   'update': replaces the hash (NOTFOUND when absent)
--   'delete': NOTFOUND when absent
local op = ARGV[1]
local exists = redis.call('EXISTS', KEYS[1]) == 1
if op == 'create' and exists then return 0 end
if op ~= 'create' and not exists then return redis.error_reply('NOTFOUND plan') end
redis.call('DEL', KEYS[1])
if op == 'delete' then
  redis.call('SREM', KEYS[2], ARGV[2])
  return 1
end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('SADD', KEYS[2], ARGV[2])
return 1
