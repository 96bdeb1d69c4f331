"""Lua scripts of the Redis live store. Every key a script touches carries the namespace's hash
tag ``{ns}``, so each script runs on one cluster slot; KEYS[1] (the checkpoint) routes the call.

Offsets travel as strings: Lua numbers are doubles and print large values in exponent form.
APPLY's payload is MessagePack (cmsgpack decodes it in a third of cjson's time).

Every distinct set is a HyperLogLog (``h:``) and, while it has at most ``threshold`` members,
also an exact SET (``s:``). When the SET overflows it is dropped, the flag ``o:`` set, and the
HyperLogLog turned dense: sets past the threshold are the large ones, where the sparse encoding's
per-element cost dominated the whole script (12 KB each; small sets stay sparse).
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
local limit = tonumber(p.threshold)
-- an empty dense HyperLogLog ("HYLL", encoding 0, 3 unused, 8-byte cached cardinality, 16384
-- 6-bit registers): adding to a sparse one costs a scan of it per element, ~10x a dense one
local dense = 'HYLL' .. string.rep('\0', 12300)
for _, d in ipairs(p.distinct) do
  local name, exp, members = d[1], d[2], d[3]
  local hk = pre .. 'h:' .. name
  local ok = pre .. 'o:' .. name
  if redis.call('EXISTS', ok) == 0 then
    local sk = pre .. 's:' .. name
    local over = #members > limit
    if not over then
      redis.call('SADD', sk, unpack(members))
      over = redis.call('SCARD', sk) > limit
    end
    if over then
      redis.call('DEL', sk)
      redis.call('SET', ok, '1')
      redis.call('EXPIREAT', ok, exp)
      if redis.call('EXISTS', hk) == 0 then
        redis.call('SET', hk, dense)
      else
        local tmp = pre .. 'tmp:hll'
        redis.call('SET', tmp, dense)
        redis.call('PFMERGE', tmp, hk)
        redis.call('RENAME', tmp, hk)
      end
    else
      redis.call('EXPIREAT', sk, exp)
    end
  end
  each_chunk('PFADD', hk, members)
  redis.call('EXPIREAT', hk, exp)
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

INIT_CHECKPOINT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], '_epoch', ARGV[1])
  for i = 2, #ARGV, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return redis.call('HGETALL', KEYS[1])
"""

# ARGV[1]: prefix, ARGV[2..]: names. Exact (SUNION) unless one set overflowed to HyperLogLog.
UNION_COUNT = """
local pre = ARGV[1]
local flags, hk, sk = {}, {}, {}
for i = 2, #ARGV do
  flags[#flags + 1] = pre .. 'o:' .. ARGV[i]
  hk[#hk + 1] = pre .. 'h:' .. ARGV[i]
  sk[#sk + 1] = pre .. 's:' .. ARGV[i]
end
if #sk == 0 then
  return 0
end
if redis.call('EXISTS', unpack(flags)) > 0 then
  return redis.call('PFCOUNT', unpack(hk))
end
if #sk == 1 then
  return redis.call('SCARD', sk[1])
end
return #redis.call('SUNION', unpack(sk))
"""

COUNTS = """
local pre = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local name = ARGV[i]
  if redis.call('EXISTS', pre .. 'o:' .. name) == 1 then
    out[#out + 1] = redis.call('PFCOUNT', pre .. 'h:' .. name)
  else
    out[#out + 1] = redis.call('SCARD', pre .. 's:' .. name)
  end
end
return out
"""
