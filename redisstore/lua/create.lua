-- create.lua: store a new session under the device's next sequence number.
-- KEYS[1] device sequence counter, KEYS[2] device index
-- ARGV[1] session key base, ARGV[2] ID prefix ("<mac hex>-"), ARGV[3..] field, value, ...
-- A number whose key exists is skipped, so a lost counter (deleted, evicted)
-- can never make a create overwrite a session.
local seq = redis.call('INCR', KEYS[1])
while redis.call('EXISTS', ARGV[1] .. seq) == 1 do
  seq = redis.call('INCR', KEYS[1])
end
local key = ARGV[1] .. seq
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', key, unpack(fields))
redis.call('ZADD', KEYS[2], seq, ARGV[2] .. seq)
return seq
