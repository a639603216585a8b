"""Valkey scripts: each runs atomically in one slot (a user's or a room's).

Times come from the server's `TIME`, so every worker and every gateway uses the same clock
for mutes, bans and rate limits. `until` values are ms since the epoch, -1 for "until lifted".
"""

from redis.asyncio import Redis

# Shared Lua helpers, prepended to every script.
_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- An `until` value still in force: -1 (until lifted) or a time after now.
local function active(until_value, now)
  if not until_value then return false end
  local u = tonumber(until_value)
  return u == -1 or u > now
end

-- Take one token from the bucket at `key`; return true when one was available.
local function take_token(key, rate, burst, now)
  local b = redis.call('HMGET', key, 't', 'ts')
  local tokens = tonumber(b[1])
  local ts = tonumber(b[2])
  if not tokens then
    tokens = burst
    ts = now
  end
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
  local ok = tokens >= 1
  if ok then tokens = tokens - 1 end
  redis.call('HSET', key, 't', tostring(tokens), 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
  return ok
end
"""

# Login: KEYS profile, sver, sessions, revoked_at, revoked_tokens, ban, ended, users_all
# ARGV session, info (JSON without version), iat_ms, fingerprint, token_exp_ms, policy,
#      platform_class, uid
# Returns {code, version, is_new, kicked, until}
LOGIN = _PRELUDE + """
local now = now_ms()
local ban = redis.call('GET', KEYS[6])
if active(ban, now) then return {1001, 0, 0, 0, tonumber(ban)} end
local revoked_at = tonumber(redis.call('GET', KEYS[4]) or '0')
if tonumber(ARGV[3]) <= revoked_at then return {1000, 0, 0, 0, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
if redis.call('ZSCORE', KEYS[5], ARGV[4]) then return {1000, 0, 0, 0, 0} end

local is_new = redis.call('HSETNX', KEYS[1], 'created', now)
if is_new == 1 then redis.call('SADD', KEYS[8], ARGV[8]) end
local version = redis.call('INCR', KEYS[2])

local kicked = 0
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local info = cjson.decode(all[i + 1])
  if ARGV[6] == 'single' or info['platform_class'] == ARGV[7] then
    redis.call('HDEL', KEYS[3], all[i])
    redis.call('HSET', KEYS[7], all[i], 1003)
    if info['token'] and info['token'] ~= '' then
      redis.call('ZADD', KEYS[5], tonumber(info['token_exp'] or now + 86400000), info['token'])
    end
    kicked = kicked + 1
  end
end
redis.call('EXPIRE', KEYS[7], 86400)

local info = cjson.decode(ARGV[2])
info['version'] = version
info['since'] = now
redis.call('HSET', KEYS[3], ARGV[1], cjson.encode(info))
return {0, version, is_new, kicked, 0}
"""

# End every session and revoke every token issued until now (forced logout or ban).
# KEYS revoked_at, sessions, ended, ban   ARGV code, ban_until (ms, -1, or 0 for no ban),
#      ban_ttl_ms (0 = no expiry)
# Returns {revoked_at, sessions ended}
END_ALL_SESSIONS = _PRELUDE + """
local now = now_ms()
redis.call('SET', KEYS[1], now)
local ids = redis.call('HKEYS', KEYS[2])
for _, id in ipairs(ids) do redis.call('HSET', KEYS[3], id, ARGV[1]) end
redis.call('DEL', KEYS[2])
redis.call('EXPIRE', KEYS[3], 86400)
local until_value = tonumber(ARGV[2])
if until_value ~= 0 then
  if tonumber(ARGV[3]) > 0 then
    redis.call('SET', KEYS[4], until_value, 'PX', ARGV[3])
  else
    redis.call('SET', KEYS[4], until_value)
  end
end
return {now, #ids}
"""

# The sender's half of a send: dedup first, then platform ban and mute, then the user's rate.
# KEYS cid, ban, mute, rate   ARGV rate, burst, window_ms, count_rate (1 or 0)
# Returns {code, stored receipt or '', until}
USER_SEND = _PRELUDE + """
local now = now_ms()
local stored = redis.call('GET', KEYS[1])
if stored and stored ~= 'pending' then return {0, stored, 0} end
local ban = redis.call('GET', KEYS[2])
if active(ban, now) then return {1001, '', tonumber(ban)} end
local mute = redis.call('GET', KEYS[3])
if active(mute, now) then return {1006, '', tonumber(mute)} end
if ARGV[4] == '1' and not take_token(KEYS[4], tonumber(ARGV[1]), tonumber(ARGV[2]), now) then
  return {4001, '', 0}
end
if not stored then redis.call('SET', KEYS[1], 'pending', 'PX', ARGV[3]) end
return {0, '', 0}
"""

# Count one command against the user's rate.   KEYS rate   ARGV rate, burst
USER_RATE = _PRELUDE + """
if take_token(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now_ms()) then return 1 end
return 0
"""

# The room's half of a room send: dedup, existence, membership, mutes, rate, then the seq.
# KEYS meta, members, mutes, seq, rate, cid   ARGV uid ('' for the system), rate, burst,
#      window_ms
# Returns {code, seq, ts, role, stored receipt or ''}; the receipt is JSON {seq, ts}.
ROOM_SEND = _PRELUDE + """
local now = now_ms()
local stored = redis.call('GET', KEYS[6])
if stored then return {0, 0, 0, '', stored} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {2000, 0, 0, '', ''} end
local role = 'system'
if ARGV[1] ~= '' then
  role = redis.call('HGET', KEYS[2], ARGV[1])
  if not role then return {2004, 0, 0, '', ''} end
  local mute = redis.call('HGET', KEYS[3], ARGV[1])
  if active(mute, now) then return {2002, 0, tonumber(mute), role, ''} end
  if mute then redis.call('HDEL', KEYS[3], ARGV[1]) end
  if role == 'member' and redis.call('HGET', KEYS[1], 'muted_all') == '1' then
    return {2002, 0, -1, role, ''}
  end
end
local meta = redis.call('HMGET', KEYS[1], 'rate', 'burst')
local rate = tonumber(meta[1]) or tonumber(ARGV[2])
local burst = tonumber(meta[2]) or tonumber(ARGV[3])
if not take_token(KEYS[5], rate, burst, now) then return {4002, 0, 0, role, ''} end
local seq = redis.call('INCR', KEYS[4])
local receipt = cjson.encode({seq = seq, ts = now})
redis.call('SET', KEYS[6], receipt, 'PX', ARGV[4])
return {0, seq, now, role, ''}
"""

# Create a room.  KEYS meta, members, seq   ARGV name, owner ('' for none), max_members
# Returns {code, seq}
ROOM_CREATE = _PRELUDE + """
if redis.call('EXISTS', KEYS[1]) == 1 then return {2006, 0} end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'owner', ARGV[2], 'max_members', ARGV[3],
  'created', now_ms(), 'muted_all', '0')
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], 'owner') end
return {0, tonumber(redis.call('GET', KEYS[3]) or '0')}
"""

# Join a room.  KEYS meta, members, bans, seq, online   ARGV uid
# Returns {code, role, members, seq, online, until}
ROOM_JOIN = _PRELUDE + """
local now = now_ms()
if redis.call('EXISTS', KEYS[1]) == 0 then return {2000, '', 0, 0, 0, 0} end
local ban = redis.call('HGET', KEYS[3], ARGV[1])
if active(ban, now) then return {2003, '', 0, 0, 0, tonumber(ban)} end
if ban then redis.call('HDEL', KEYS[3], ARGV[1]) end
local role = redis.call('HGET', KEYS[2], ARGV[1])
if not role then
  local max_members = tonumber(redis.call('HGET', KEYS[1], 'max_members'))
  if redis.call('HLEN', KEYS[2]) >= max_members then return {2001, '', 0, 0, 0, 0} end
  role = 'member'
  redis.call('HSET', KEYS[2], ARGV[1], role)
end
return {0, role, redis.call('HLEN', KEYS[2]), tonumber(redis.call('GET', KEYS[4]) or '0'),
  redis.call('HLEN', KEYS[5]), 0}
"""

# Apply one gateway's presence changes to a room, after removing expired gateways' entries.
# KEYS gateways, online, notified   ARGV gateway ('' for a sweep only), expiry_ms, notify_ms,
#      tag, n_adds, adds..., removes...
# Returns {online, notify (1 or 0)}
PRESENCE = _PRELUDE + """
local now = now_ms()
local tag = ARGV[4]
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, gw in ipairs(expired) do
  local key = tag .. ':on:' .. gw
  for _, uid in ipairs(redis.call('HKEYS', key)) do
    if redis.call('HINCRBY', KEYS[2], uid, -1) <= 0 then redis.call('HDEL', KEYS[2], uid) end
  end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], gw)
end

local gw = ARGV[1]
if gw ~= '' then
  local key = tag .. ':on:' .. gw
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), gw)
  local n_adds = tonumber(ARGV[5])
  for i = 6, 5 + n_adds do
    if redis.call('HSETNX', key, ARGV[i], 1) == 1 then
      redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
    end
  end
  for i = 6 + n_adds, #ARGV do
    if redis.call('HDEL', key, ARGV[i]) == 1 then
      if redis.call('HINCRBY', KEYS[2], ARGV[i], -1) <= 0 then
        redis.call('HDEL', KEYS[2], ARGV[i])
      end
    end
  end
  if redis.call('HLEN', key) == 0 then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], gw)
  end
end

local online = redis.call('HLEN', KEYS[2])
local last = redis.call('HMGET', KEYS[3], 'count', 'ts')
local notify = 0
if tonumber(last[1] or '-1') ~= online then
  if now - tonumber(last[2] or '0') >= tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[3], 'count', online, 'ts', now)
    notify = 1
  else
    notify = 2
  end
end
return {online, notify}
"""

# A room moderation action on one user, with the role checks in the same step.
# The actor needs the owner or admin role ('' as actor is the business system, allowed
# everything) and, when the target is a member, a higher rank than the target: owner over
# admin over member. Mute and kick need a member; unmute and unban also work on a user who
# left, because a mute or ban outlives the membership.
# KEYS meta, members, mutes, bans
# ARGV actor uid ('' for the business system), target uid, action (mute, unmute, kick, unban),
#      duration_ms (0 = until lifted)
# Returns {code, until, actor role, target role, changed}: `until` in ms (-1 until lifted,
# 0 for unmute and unban), and `changed` 1 when an entry was written or removed.
ROOM_MODERATE = _PRELUDE + """
local rank = {owner = 3, admin = 2, member = 1}
local now = now_ms()
if redis.call('EXISTS', KEYS[1]) == 0 then return {2000, 0, '', '', 0} end
local actor_role = 'system'
local actor_rank = 100
if ARGV[1] ~= '' then
  actor_role = redis.call('HGET', KEYS[2], ARGV[1]) or ''
  actor_rank = rank[actor_role] or 0
  if actor_rank < 2 then return {2005, 0, actor_role, '', 0} end
end
local action = ARGV[3]
if action == 'unban' then
  return {0, 0, actor_role, '', redis.call('HDEL', KEYS[4], ARGV[2])}
end
local target_role = redis.call('HGET', KEYS[2], ARGV[2]) or ''
if target_role ~= '' and (rank[target_role] or 0) >= actor_rank then
  return {2005, 0, actor_role, target_role, 0}
end
if action == 'unmute' then
  return {0, 0, actor_role, target_role, redis.call('HDEL', KEYS[3], ARGV[2])}
end
if target_role == '' then return {2004, 0, actor_role, '', 0} end
local until_value = -1
if tonumber(ARGV[4]) > 0 then until_value = now + tonumber(ARGV[4]) end
if action == 'mute' then
  redis.call('HSET', KEYS[3], ARGV[2], until_value)
elseif action == 'kick' then
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('HSET', KEYS[4], ARGV[2], until_value)
else
  return redis.error_reply('unknown moderation action ' .. action)
end
return {0, until_value, actor_role, target_role, 1}
"""

# Set or clear fields of a room's meta hash (mute all, rate override), with the role check.
# KEYS meta, members   ARGV actor uid ('' for the business system), then field, value pairs;
#      an empty value deletes the field.
# Returns {code, actor role}
ROOM_POLICY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {2000, ''} end
local actor_role = 'system'
if ARGV[1] ~= '' then
  actor_role = redis.call('HGET', KEYS[2], ARGV[1]) or ''
  if actor_role ~= 'owner' and actor_role ~= 'admin' then return {2005, actor_role} end
end
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return {0, actor_role}
"""

# A platform mute or ban of one user, timed by the server's clock.
# KEYS mute or ban   ARGV duration_ms (0 = until lifted)
# Returns until (ms, -1 until lifted)
USER_RESTRICT = _PRELUDE + """
local duration = tonumber(ARGV[1])
if duration > 0 then
  local until_value = now_ms() + duration
  redis.call('SET', KEYS[1], until_value, 'PX', duration)
  return until_value
end
redis.call('SET', KEYS[1], -1)
return -1
"""


class Scripts:
    """Scripts registered on one client: each attribute is an awaitable script."""

    def __init__(self, redis: Redis) -> None:
        self.login = redis.register_script(LOGIN)
        self.end_all_sessions = redis.register_script(END_ALL_SESSIONS)
        self.user_send = redis.register_script(USER_SEND)
        self.user_rate = redis.register_script(USER_RATE)
        self.room_send = redis.register_script(ROOM_SEND)
        self.room_create = redis.register_script(ROOM_CREATE)
        self.room_join = redis.register_script(ROOM_JOIN)
        self.presence = redis.register_script(PRESENCE)
        self.room_moderate = redis.register_script(ROOM_MODERATE)
        self.room_policy = redis.register_script(ROOM_POLICY)
        self.user_restrict = redis.register_script(USER_RESTRICT)
