"""The routing state in Redis, shared by every engine process.

Layout (``P`` is the prefix): ``P:agent:{id}`` hash (presence, ``cap:<channel>``,
``load:<channel>``, idle, timeouts), ``P:info:{id}`` (static JSON), ``P:agents`` set,
``P:room:{channel}`` set of online agents with a free place, ``P:waiting:{queue}`` sorted
set of zero-padded ticket ids by score, ``P:item:{ticket}`` JSON, ``P:holders`` hash
ticket -> "agent|channel", ``P:offers`` hash + ``P:offer_exp`` sorted set + ``P:offer_of``
hash ticket -> offer, ``P:excl:{ticket}`` sorted set of agents by the end of their
cool-down (expires by itself), ``P:refused`` hash ticket -> queue.
Check-and-change steps are Lua scripts, so engines racing for the same work or the same
agent cannot both win. (Scripts touch keys they are not passed: single-node Redis only.)
Nothing here is the record: ``RoutingEngine.rebuild`` refills it from the database."""

from __future__ import annotations

from typing import Any, cast

import redis.asyncio as aioredis

from routing.state import AgentInfo, AgentLive, Offer, WorkItem

# ARGV conventions: P = the key prefix ending in ":" where a script builds keys itself.
_ROOM = """
local function refresh_room(prefix, agent)
  local key = prefix .. 'agent:' .. agent
  local fields = redis.call('HGETALL', key)
  local h = {}
  for i = 1, #fields, 2 do h[fields[i]] = fields[i + 1] end
  for field, cap in pairs(h) do
    if string.sub(field, 1, 4) == 'cap:' then
      local channel = string.sub(field, 5)
      local load = tonumber(h['load:' .. channel] or '0')
      if h['presence'] == 'online' and load < tonumber(cap) then
        redis.call('SADD', prefix .. 'room:' .. channel, agent)
      else
        redis.call('SREM', prefix .. 'room:' .. channel, agent)
      end
    end
  end
end
"""

RESERVE = (
    _ROOM
    + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return -1 end
if redis.call('HGET', KEYS[2], 'presence') ~= 'online' then return -2 end
local load = tonumber(redis.call('HGET', KEYS[2], 'load:' .. ARGV[2]) or '0')
local cap = tonumber(redis.call('HGET', KEYS[2], 'cap:' .. ARGV[2]) or '0')
if load >= cap then return -3 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[4])
redis.call('HINCRBY', KEYS[2], 'load:' .. ARGV[2], 1)
redis.call('HSET', KEYS[3], ARGV[4], ARGV[3] .. '|' .. ARGV[2])
refresh_room(ARGV[5], ARGV[3])
return 1
"""
)

_RELEASE_BODY = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  redis.call('HDEL', KEYS[1], ARGV[1])
  local sep = string.find(v, '|', 1, true)
  local agent = string.sub(v, 1, sep - 1)
  local key = ARGV[2] .. 'agent:' .. agent
  local field = 'load:' .. string.sub(v, sep + 1)
  if tonumber(redis.call('HGET', key, field) or '0') > 0 then
    redis.call('HINCRBY', key, field, -1)
  end
  refresh_room(ARGV[2], agent)
end
"""

RELEASE = (
    _ROOM
    + _RELEASE_BODY
    + """
if v then return v end
return false
"""
)

WAITING = """
local members = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #members == 0 then return {} end
local keys = {}
for i, m in ipairs(members) do
  keys[i] = ARGV[1] .. 'item:' .. string.format('%d', tonumber(m))
end
return redis.call('MGET', unpack(keys))
"""

HOLD = (
    _ROOM
    + _RELEASE_BODY
    + """
redis.call('HINCRBY', ARGV[2] .. 'agent:' .. ARGV[3], 'load:' .. ARGV[4], 1)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. '|' .. ARGV[4])
refresh_room(ARGV[2], ARGV[3])
return 1
"""
)

_TAKE_OFFER = """
local function take_offer(offers, expiries, by_ticket, offer_id)
  local v = redis.call('HGET', offers, offer_id)
  if not v then return false end
  redis.call('HDEL', offers, offer_id)
  redis.call('ZREM', expiries, offer_id)
  local ticket = string.format('%d', cjson.decode(v)['ticket_id'])
  if redis.call('HGET', by_ticket, ticket) == offer_id then
    redis.call('HDEL', by_ticket, ticket)
  end
  return v
end
"""

TAKE_OFFER = (
    _TAKE_OFFER
    + """
return take_offer(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
"""
)

FINISH = (
    _ROOM
    + _TAKE_OFFER
    + _RELEASE_BODY
    + """
if v and ARGV[3] ~= '' then
  local sep = string.find(v, '|', 1, true)
  redis.call('HSET', ARGV[2] .. 'agent:' .. string.sub(v, 1, sep - 1), 'idle', ARGV[3])
end
local offer = false
local offer_id = redis.call('HGET', KEYS[4], ARGV[1])
if offer_id then offer = take_offer(KEYS[2], KEYS[3], KEYS[4], offer_id) end
redis.call('DEL', ARGV[2] .. 'excl:' .. ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return {v or false, offer}
"""
)

ENQUEUE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local previous = redis.call('GET', KEYS[2])
if previous then
  local old = cjson.decode(previous)
  redis.call('ZREM', ARGV[5] .. 'waiting:' .. old['queue_id'] .. ':' .. old['channel'], ARGV[2])
end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[6])
return 1
"""

SET_PRESENCE = (
    _ROOM
    + """
local old = redis.call('HGET', KEYS[1], 'presence') or 'offline'
redis.call('HSET', KEYS[1], 'presence', ARGV[1])
if ARGV[1] == 'online' and old ~= 'online' then
  redis.call('HSET', KEYS[1], 'idle', ARGV[2], 'timeouts', 0)
end
refresh_room(ARGV[3], ARGV[4])
return old
"""
)

LIVE = """
local out = {}
for i, agent in ipairs(ARGV) do
  if i > 1 then
    out[#out + 1] = redis.call('HGETALL', ARGV[1] .. 'agent:' .. agent)
  end
end
return out
"""

REFRESH = (
    _ROOM
    + """
refresh_room(ARGV[1], ARGV[2])
return 1
"""
)


def _member(ticket_id: int) -> str:
    return f"{ticket_id:012d}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    def __init__(self, client: aioredis.Redis, prefix: str = "switchboard:routing") -> None:
        self.redis = client
        self.p = prefix
        self._reserve = client.register_script(RESERVE)
        self._release = client.register_script(RELEASE)
        self._hold = client.register_script(HOLD)
        self._take_offer = client.register_script(TAKE_OFFER)
        self._finish = client.register_script(FINISH)
        self._waiting_items = client.register_script(WAITING)
        self._set_presence = client.register_script(SET_PRESENCE)
        self._enqueue = client.register_script(ENQUEUE)
        self._refresh = client.register_script(REFRESH)
        self._live = client.register_script(LIVE)

    def _agent(self, agent_id: int) -> str:
        return f"{self.p}:agent:{agent_id}"

    def _waiting(self, queue_id: int, channel: str) -> str:
        return f"{self.p}:waiting:{queue_id}:{channel}"

    def _item(self, ticket_id: int) -> str:
        return f"{self.p}:item:{ticket_id}"

    async def claim_rebuild(self) -> bool:
        if await self.redis.exists(f"{self.p}:built"):
            return False
        return bool(await self.redis.set(f"{self.p}:rebuilding", "1", nx=True, ex=60))

    async def mark_built(self) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{self.p}:built", "1")
            pipe.delete(f"{self.p}:rebuilding")
            await pipe.execute()

    async def clear(self) -> None:
        batch: list[Any] = []
        lock = f"{self.p}:rebuilding".encode()
        async for key in self.redis.scan_iter(match=f"{self.p}:*", count=1000):
            if key == lock:
                continue
            batch.append(key)
            if len(batch) >= 500:
                await self.redis.unlink(*batch)
                batch.clear()
        if batch:
            await self.redis.unlink(*batch)

    async def put_agent(self, info: AgentInfo) -> None:
        fields: dict[str | bytes, str | int] = {f"cap:{ch}": n for ch, n in info.capacity.items()}
        stale = [
            k
            for k in map(_text, await self.redis.hkeys(self._agent(info.id)))
            if k.startswith("cap:") and k not in fields
        ]
        async with self.redis.pipeline(transaction=True) as pipe:
            if stale:
                pipe.hdel(self._agent(info.id), *stale)
            pipe.set(f"{self.p}:info:{info.id}", info.to_json())
            pipe.hset(self._agent(info.id), mapping=cast(Any, fields))
            pipe.hsetnx(self._agent(info.id), "presence", "offline")
            pipe.sadd(f"{self.p}:agents", info.id)
            await pipe.execute()
        await self._refresh(keys=[], args=[f"{self.p}:", info.id])

    async def agent_infos(self) -> list[AgentInfo]:
        ids = [int(_text(i)) for i in await self.redis.smembers(f"{self.p}:agents")]
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent_id in ids:
                pipe.get(f"{self.p}:info:{agent_id}")
            raw = await pipe.execute()
        return [AgentInfo.from_json(r) for r in raw if r]

    async def live(self, agent_ids: list[int]) -> dict[int, AgentLive]:
        """One script call for any number of agents (a pipeline of HGETALLs costs far
        more client time per agent)."""
        if not agent_ids:
            return {}
        rows: list[Any] = await self._live(keys=[], args=[f"{self.p}:", *agent_ids])
        out = {}
        for agent_id, row in zip(agent_ids, rows, strict=True):
            if not row:
                continue
            fields = {_text(row[i]): _text(row[i + 1]) for i in range(0, len(row), 2)}
            out[agent_id] = AgentLive(
                presence=fields.get("presence", "offline"),
                load={k[5:]: int(v) for k, v in fields.items() if k.startswith("load:")},
                idle_since=float(fields.get("idle", 0) or 0),
                timeouts=int(fields.get("timeouts", 0) or 0),
            )
        return out

    async def set_presence(self, agent_id: int, presence: str, now: float) -> str:
        raw = await self._set_presence(
            keys=[self._agent(agent_id)], args=[presence, now, f"{self.p}:", agent_id]
        )
        return _text(raw)

    async def enqueue(self, item: WorkItem) -> bool:
        keys = [
            f"{self.p}:holders",
            self._item(item.ticket_id),
            self._waiting(item.queue_id, item.channel),
            f"{self.p}:queues",
        ]
        args: list[str | int | float] = [
            item.ticket_id,
            _member(item.ticket_id),
            item.to_json(),
            item.score,
            f"{self.p}:",
            f"{item.queue_id}:{item.channel}",
        ]
        return bool(await self._enqueue(keys=keys, args=args))

    async def _lanes(self) -> list[tuple[int, str]]:
        lanes = []
        for raw in await self.redis.smembers(f"{self.p}:queues"):
            queue, _, channel = _text(raw).partition(":")
            lanes.append((int(queue), channel))
        return lanes

    async def waiting(
        self, queue_id: int, limit: int = 1000, channel: str | None = None
    ) -> list[WorkItem]:
        if channel is not None:
            # One trip: the lane's first members and their items.
            rows: list[Any] = await self._waiting_items(
                keys=[self._waiting(queue_id, channel)], args=[f"{self.p}:", limit]
            )
            return [WorkItem.from_json(r) for r in rows if r]
        else:
            scored: list[tuple[float, str]] = []
            for q, ch in await self._lanes():
                if q == queue_id:
                    ranked: list[Any] = await self.redis.zrange(
                        self._waiting(q, ch), 0, limit - 1, withscores=True
                    )
                    scored.extend((float(row[1]), _text(row[0])) for row in ranked)
            members = [m for _, m in sorted(scored)[:limit]]
        if not members:
            return []
        raw = await self.redis.mget([self._item(int(m)) for m in members])
        return [WorkItem.from_json(r) for r in raw if r]

    async def waiting_counts(self) -> dict[tuple[int, str], int]:
        lanes = await self._lanes()
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue_id, channel in lanes:
                pipe.zcard(self._waiting(queue_id, channel))
            counts = await pipe.execute()
        return {lane: int(n) for lane, n in zip(lanes, counts, strict=True) if n}

    async def with_room(self, channel: str) -> set[int]:
        return {int(_text(a)) for a in await self.redis.smembers(f"{self.p}:room:{channel}")}

    async def unqueue(self, ticket_id: int) -> WorkItem | None:
        raw = await self.redis.getdel(self._item(ticket_id))
        if not raw:
            return None
        item = WorkItem.from_json(raw)
        await self.redis.zrem(self._waiting(item.queue_id, item.channel), _member(ticket_id))
        return item

    async def reserve(self, item: WorkItem, agent_id: int) -> int:
        keys = [
            self._waiting(item.queue_id, item.channel),
            self._agent(agent_id),
            f"{self.p}:holders",
            self._item(item.ticket_id),
        ]
        args: list[str | int] = [
            _member(item.ticket_id),
            item.channel,
            agent_id,
            item.ticket_id,
            f"{self.p}:",
        ]
        return int(await self._reserve(keys=keys, args=args))

    async def hold(self, ticket_id: int, agent_id: int, channel: str) -> None:
        await self.unqueue(ticket_id)
        await self._hold(
            keys=[f"{self.p}:holders"], args=[ticket_id, f"{self.p}:", agent_id, channel]
        )

    async def release(self, ticket_id: int) -> tuple[int, str] | None:
        raw = await self._release(keys=[f"{self.p}:holders"], args=[ticket_id, f"{self.p}:"])
        if not raw:
            return None
        agent, _, channel = _text(raw).partition("|")
        return int(agent), channel

    async def holder(self, ticket_id: int) -> int | None:
        raw = await self.redis.hget(f"{self.p}:holders", str(ticket_id))
        return None if raw is None else int(_text(raw).partition("|")[0])

    async def held_by(self, agent_id: int) -> list[tuple[int, str]]:
        rows = await self.redis.hgetall(f"{self.p}:holders")
        out = []
        for ticket, value in rows.items():
            agent, _, channel = _text(value).partition("|")
            if int(agent) == agent_id:
                out.append((int(_text(ticket)), channel))
        return out

    def _offer_keys(self) -> list[str]:
        return [f"{self.p}:offers", f"{self.p}:offer_exp", f"{self.p}:offer_of"]

    async def add_offer(self, offer: Offer) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{self.p}:offers", offer.id, offer.to_json())
            pipe.zadd(f"{self.p}:offer_exp", {offer.id: offer.expires_at})
            pipe.hset(f"{self.p}:offer_of", str(offer.ticket_id), offer.id)
            await pipe.execute()

    async def take_offer(self, offer_id: str) -> Offer | None:
        raw = await self._take_offer(keys=self._offer_keys(), args=[offer_id])
        return Offer.from_json(raw) if raw else None

    async def finish(
        self, ticket_id: int, idle_at: float | None = None
    ) -> tuple[tuple[int, str] | None, Offer | None]:
        keys = [f"{self.p}:holders", *self._offer_keys(), f"{self.p}:refused"]
        args: list[str | int | float] = [
            ticket_id,
            f"{self.p}:",
            "" if idle_at is None else idle_at,
        ]
        held, offer = await self._finish(keys=keys, args=args)
        released = None
        if held:
            agent, _, channel = _text(held).partition("|")
            released = (int(agent), channel)
        return released, Offer.from_json(offer) if offer else None

    async def offers_for(self, agent_id: int) -> list[Offer]:
        offers = [Offer.from_json(v) for v in await self.redis.hvals(f"{self.p}:offers")]
        return sorted((o for o in offers if o.agent_id == agent_id), key=lambda o: o.expires_at)

    async def expired_offers(self, now: float) -> list[str]:
        return [
            _text(m) for m in await self.redis.zrangebyscore(f"{self.p}:offer_exp", "-inf", now)
        ]

    async def all_offers(self) -> list[Offer]:
        return [Offer.from_json(v) for v in await self.redis.hvals(f"{self.p}:offers")]

    async def exclude(self, ticket_id: int, agent_id: int, now: float, cooldown_s: float) -> None:
        key = f"{self.p}:excl:{ticket_id}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {str(agent_id): now + cooldown_s})
            # Real seconds, a margin past the cool-down: the key is garbage after that.
            pipe.expire(key, int(cooldown_s) + 60)
            await pipe.execute()

    async def excluded(self, ticket_id: int, now: float) -> set[int]:
        rows = await self.redis.zrangebyscore(f"{self.p}:excl:{ticket_id}", f"({now}", "+inf")
        return {int(_text(a)) for a in rows}

    async def new_round(self, ticket_id: int, queue_id: int) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{self.p}:excl:{ticket_id}")
            pipe.hset(f"{self.p}:refused", str(ticket_id), queue_id)
            await pipe.execute()

    async def forget(self, ticket_id: int) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{self.p}:excl:{ticket_id}")
            pipe.hdel(f"{self.p}:refused", str(ticket_id))
            await pipe.execute()

    async def refused(self) -> dict[int, int]:
        rows = await self.redis.hgetall(f"{self.p}:refused")
        return {int(_text(t)): int(_text(q)) for t, q in rows.items()}

    async def prune_refusals(self, now: float) -> None:
        """Keys expire a while after their last cool-down; this drops ended cool-downs
        sooner (and works with an injected clock)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            async for key in self.redis.scan_iter(match=f"{self.p}:excl:*", count=1000):
                pipe.zremrangebyscore(key, "-inf", now)
            await pipe.execute()

    async def held(self) -> dict[int, tuple[int, str]]:
        out = {}
        for ticket, value in (await self.redis.hgetall(f"{self.p}:holders")).items():
            agent, _, channel = _text(value).partition("|")
            out[int(_text(ticket))] = (int(agent), channel)
        return out

    async def all_waiting(self) -> list[WorkItem]:
        members: list[Any] = []
        for queue_id, channel in await self._lanes():
            members.extend(await self.redis.zrange(self._waiting(queue_id, channel), 0, -1))
        out: list[WorkItem] = []
        for start in range(0, len(members), 1000):
            chunk = members[start : start + 1000]
            raw = await self.redis.mget([self._item(int(_text(m))) for m in chunk])
            out.extend(WorkItem.from_json(r) for r in raw if r)
        return out

    async def claim(self, name: str, ttl_s: float) -> bool:
        key = f"{self.p}:claim:{name}"
        return bool(await self.redis.set(key, "1", nx=True, px=max(1, int(ttl_s * 1000))))

    async def count_timeout(self, agent_id: int) -> int:
        return int(await self.redis.hincrby(self._agent(agent_id), "timeouts", 1))

    async def reset_timeouts(self, agent_id: int) -> None:
        await self.redis.hset(self._agent(agent_id), "timeouts", 0)

    async def mark_idle(self, agent_id: int, now: float) -> None:
        await self.redis.hset(self._agent(agent_id), "idle", now)
