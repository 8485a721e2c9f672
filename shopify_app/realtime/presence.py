"""Who is online: a shopper is online while a widget connection for the conversation is open
on any realtime process.

State in Redis, so every process (and Flask) sees the same:
- `rt:presence:{shop_id}:{conversation_id}`: a sorted set of that conversation's open
  connections, scored by when each stops counting (Redis server time, seconds). The realtime
  process that holds a connection pushes its score TTL ahead every TTL/3 (heartbeat); when the
  connection closes the score becomes now + grace, so a page navigation (close, then a new
  connection from the next page) does not flicker.
- `rt:presence:expiry`: the same connections across all shops ("shop:conv:conn"), for the
  sweeper every realtime process runs. A killed process stops its heartbeat: its connections
  expire after the TTL and whichever process sweeps first publishes "offline".

Each change is one Lua script, so the state and the "online"/"offline" event published on the
shop's staff channel stay in step, and only one process announces each change. Scores come
from Redis' clock, never from the processes' (which may disagree). Keys are built inside the
scripts: this needs one Redis (or a primary), not a Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis as redis_lib

INDEX_KEY = "rt:presence:expiry"


def conversation_key(shop_id: int, conversation_id: int) -> str:
    return f"rt:presence:{int(shop_id)}:{int(conversation_id)}"


def index_member(shop_id: int, conversation_id: int, connection_id: str) -> str:
    return f"{int(shop_id)}:{int(conversation_id)}:{connection_id}"


_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

_PRESENCE_EVENT = """
local function presence_event(shop, conv, online)
  redis.call('PUBLISH', 'rt:' .. shop .. ':staff', cjson.encode(
    {event = 'presence', data = {conversation_id = tonumber(conv), online = online}}))
end
"""

# KEYS: index. ARGV: ttl, then shop, conversation, connection for each connection.
# Opens (or keeps) the connections; publishes "online" for each conversation that had none.
HEARTBEAT = (
    _NOW
    + _PRESENCE_EVENT
    + """
local ttl = tonumber(ARGV[1])
local came_online = 0
for i = 2, #ARGV, 3 do
  local shop, conv, conn = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = 'rt:presence:' .. shop .. ':' .. conv
  local live = redis.call('ZCOUNT', key, '(' .. now, '+inf')
  redis.call('ZADD', key, now + ttl, conn)
  redis.call('ZADD', KEYS[1], now + ttl, shop .. ':' .. conv .. ':' .. conn)
  if live == 0 then
    presence_event(shop, conv, true)
    came_online = came_online + 1
  end
end
return came_online
"""
)

# KEYS: index. ARGV: grace, then shop, conversation, connection for each closed connection.
# A closed connection still counts for `grace` seconds (only if it is still there: the
# sweeper may have taken it already).
CLOSE = (
    _NOW
    + """
local until_ = now + tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
  local shop, conv, conn = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('ZADD', 'rt:presence:' .. shop .. ':' .. conv, 'XX', until_, conn)
  redis.call('ZADD', KEYS[1], 'XX', until_, shop .. ':' .. conv .. ':' .. conn)
end
return 1
"""
)

# KEYS: index. ARGV: batch size. Removes expired connections; publishes "offline" for each
# conversation left with none. Returns the number of conversations that went offline.
SWEEP = (
    _NOW
    + _PRESENCE_EVENT
    + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local touched = {}
local order = {}
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  local shop, conv, conn = string.match(member, '^(%d+):(%d+):(.+)$')
  if shop then
    local key = 'rt:presence:' .. shop .. ':' .. conv
    redis.call('ZREM', key, conn)
    if not touched[key] then
      touched[key] = {shop, conv}
      table.insert(order, key)
    end
  end
end
local went_offline = 0
for _, key in ipairs(order) do
  if redis.call('ZCOUNT', key, '(' .. now, '+inf') == 0 then
    local shop, conv = touched[key][1], touched[key][2]
    for _, conn in ipairs(redis.call('ZRANGE', key, 0, -1)) do
      redis.call('ZREM', KEYS[1], shop .. ':' .. conv .. ':' .. conn)
    end
    redis.call('DEL', key)
    presence_event(shop, conv, false)
    went_offline = went_offline + 1
  end
end
return went_offline
"""
)

# KEYS: conversation keys. Returns the 1-based positions of those with a live connection.
ONLINE = (
    _NOW
    + """
local online = {}
for i, key in ipairs(KEYS) do
  if redis.call('ZCOUNT', key, '(' .. now, '+inf') > 0 then
    table.insert(online, i)
  end
end
return online
"""
)


def is_online(redis: redis_lib.Redis, shop_id: int, conversation_id: int) -> bool:
    """True while a widget connection for the conversation is open (or closed within the
    grace) on any realtime process."""
    return bool(online_among(redis, shop_id, [conversation_id]))


def online_among(redis: redis_lib.Redis, shop_id: int, conversation_ids: Iterable[int]) -> set[int]:
    """The conversations among `conversation_ids` whose shopper is online (one round trip)."""
    ids = list(dict.fromkeys(int(c) for c in conversation_ids))
    if not ids:
        return set()
    positions = redis.register_script(ONLINE)(keys=[conversation_key(shop_id, c) for c in ids])
    return {ids[int(p) - 1] for p in positions}


def heartbeat_args(seconds: float, connections: Iterable[tuple[int, int, str]]) -> list[str]:
    """ARGV for HEARTBEAT (the TTL) or CLOSE (the grace) from (shop_id, conversation_id,
    connection_id) triples."""
    args = [repr(float(seconds))]
    for shop_id, conversation_id, connection_id in connections:
        args += [str(int(shop_id)), str(int(conversation_id)), connection_id]
    return args
