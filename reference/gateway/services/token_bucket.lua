-- One token bucket, refilled and spent atomically (Redis runs a script alone).
-- KEYS[1]  the bucket (one per tier and client)
-- ARGV[1]  rate: tokens added per second
-- ARGV[2]  burst: the bucket's capacity
-- ARGV[3]  cost: tokens this request takes
-- Returns {allowed (0|1), tokens left, seconds until the cost would be affordable}
-- as strings, because Redis truncates Lua numbers to integers.
-- The clock is the server's, so every gateway sharing this Redis agrees on time.
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000

local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local last = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)

local allowed = 0
local retry_after = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_after = (cost - tokens) / rate
end

redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens), tostring(retry_after)}
