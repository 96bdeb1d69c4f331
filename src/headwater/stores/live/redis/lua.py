"""Lua scripts of the Redis live store. Every key a script touches carries the namespace's hash
tag ``{ns}``, so each script runs on one cluster slot; KEYS[1] (the checkpoint) routes the call.

Offsets travel as strings: Lua numbers are doubles and print large values in exponent form.
APPLY's payload is MessagePack (cmsgpack decodes it in a third of cjson's time). The store holds
numbers only (hashes of integers): counters the batch adds to, exact unique counts it sets.
"""

APPLY = """
local cp = KEYS[1]
local pre = ARGV[2]
local p = cmsgpack.unpack(ARGV[1])
if redis.call('HGET', cp, '_epoch') ~= p.epoch then
  return redis.error_reply('HWCONFLICT the live store was reset (epoch changed)')
end
for f, off in pairs(p.base) do
  local cur = redis.call('HGET', cp, f) or '0'
  if cur ~= off then
    return redis.error_reply('HWCONFLICT ' .. f .. ' is at ' .. cur .. ', not ' .. off)
  end
end
local function each_chunk(cmd, key, list)
  local n = #list
  local i = 1
  while i <= n do
    local j = math.min(i + 3999, n)
    redis.call(cmd, key, unpack(list, i, j))
    i = j + 1
  end
end
for _, c in ipairs(p.counters) do
  local key = pre .. 'c:' .. c[1]
  local kv = c[3]
  for i = 1, #kv, 2 do
    redis.call('HINCRBY', key, kv[i], kv[i + 1])
  end
  redis.call('EXPIREAT', key, c[2])
end
for _, v in ipairs(p.values) do
  local key = pre .. 'c:' .. v[1]
  each_chunk('HSET', key, v[3])
  redis.call('EXPIREAT', key, v[2])
end
local kv = {}
for f, off in pairs(p.new) do
  kv[#kv + 1] = f
  kv[#kv + 1] = off
end
if #kv > 0 then
  each_chunk('HSET', cp, kv)
end
return 1
"""

# A rebuild made beside, swapped in: forget ``p.forget`` and the checkpoint, store every number
# (counters and values alike) and the checkpoint under the new epoch, as one unit.
REPLACE = """
local cp = KEYS[1]
local pre = ARGV[2]
local p = cmsgpack.unpack(ARGV[1])
for _, name in ipairs(p.forget) do
  redis.call('DEL', pre .. 'c:' .. name)
end
redis.call('DEL', cp)
local kv = {'_epoch', p.epoch}
for f, off in pairs(p.new) do
  kv[#kv + 1] = f
  kv[#kv + 1] = off
end
redis.call('HSET', cp, unpack(kv))
for _, v in ipairs(p.values) do
  local key = pre .. 'c:' .. v[1]
  local row = v[3]
  local i = 1
  while i <= #row do
    local j = math.min(i + 3999, #row)
    redis.call('HSET', key, unpack(row, i, j))
    i = j + 1
  end
  redis.call('EXPIREAT', key, v[2])
end
return 1
"""

INIT_CHECKPOINT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], '_epoch', ARGV[1])
  for i = 2, #ARGV, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return redis.call('HGETALL', KEYS[1])
"""

# ARGV[1]: prefix, ARGV[2..]: names: every field of each hash, in one round trip.
HASHES = """
local pre = ARGV[1]
local out = {}
for i = 2, #ARGV do
  out[#out + 1] = redis.call('HGETALL', pre .. 'c:' .. ARGV[i])
end
return out
"""

# ARGV[1]: prefix, then (name, lo, hi) triples: the sum of the fields lo..hi (integer names).
WINDOW_SUM = """
local pre = ARGV[1]
local total = 0
for i = 2, #ARGV, 3 do
  local row = redis.call('HGETALL', pre .. 'c:' .. ARGV[i])
  local lo, hi = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  for j = 1, #row, 2 do
    local f = tonumber(row[j])
    if f ~= nil and f >= lo and f <= hi then
      total = total + tonumber(row[j + 1])
    end
  end
end
return total
"""
