-- account_batch.lua: several accounting packets in one call, each applied by
-- account() (account.lua, the one home of the rules) in order, each on its
-- own: a packet that fails (malformed, a key of the wrong type, a key this
-- Redis Cluster node does not serve) returns its error and has written
-- nothing (account checks before it writes); the others apply as if alone.
-- KEYS[1] the first packet's record (routes the call to its Cluster node;
--         the packets' keys, all on that node, are in ARGV: a script without
--         flags may reach keys of several slots of its node)
-- ARGV[1] '1' on a Redis Cluster: each packet's keys are first checked
--         together (EXISTS), so that a packet whose slot is moving, some of
--         its keys already gone, fails before it writes (the check a
--         declared key gets before a script runs)
-- ARGV    then for each packet: number of keys k, number of arguments a,
--         then its k keys and a arguments, as account.lua takes them
-- Returns one reply per packet: account's, or {'error', message}.
local out, pos, n = {}, 2, #ARGV
local cluster = ARGV[1] == '1'
local function checked(keys, args)
  redis.call('EXISTS', unpack(keys))
  return account(keys, args)
end
while pos <= n do
  local k, a = ARGV[pos] + 0, ARGV[pos + 1] + 0 -- the store's counts (arithmetic converts once, tonumber twice)
  -- unpack into a table constructor: one table of the right size each
  -- (a table grown element by element is resized several times).
  local keys, args = {unpack(ARGV, pos + 2, pos + 1 + k)}, {unpack(ARGV, pos + 2 + k, pos + 1 + k + a)}
  pos = pos + 2 + k + a
  local ok, res
  if cluster then ok, res = pcall(checked, keys, args) else ok, res = pcall(account, keys, args) end
  if ok then
    out[#out + 1] = res
  else
    if type(res) == 'table' then res = res.err end
    out[#out + 1] = {'error', tostring(res)}
  end
end
return out
