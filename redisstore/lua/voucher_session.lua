-- voucher_session.lua: step 2 of a redemption: the device's session of a
-- voucher, created once. KEYS[1] device sequence counter, KEYS[2] device
-- index, KEYS[3] the device's marker of the code ({<mac>}:v:<code>).
-- ARGV as create.lua. Returns the session ID, the existing one when the
-- marker is set (a retransmission, a login after a crash between the steps,
-- a session since deleted: the code made its session for this device).
local id = redis.call('GET', KEYS[3])
if id then return id end
local seq = redis.call('INCR', KEYS[1])
while redis.call('EXISTS', ARGV[1] .. seq) == 1 do
  seq = redis.call('INCR', KEYS[1])
end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', ARGV[1] .. seq, unpack(fields))
redis.call('ZADD', KEYS[2], seq, ARGV[2] .. seq)
id = ARGV[2] .. seq
redis.call('SET', KEYS[3], id)
return id
