"""Operations that more than one worker kind performs."""

import json
import logging

from nats.js.errors import NotFoundError

from bus import subjects
from bus.codes import Code, CommandError
from bus.types import Actor, Kick, Request, encode, request_decoder
from state import keys
from workers.runtime import WorkerContext, now_ms

log = logging.getLogger("mimo.worker")

AUDIT_MAX = 10_000  # entries kept per list (all, per user, per room)


def decode_command(data: bytes, kind: type) -> Request:
    """Decode a `Request` whose command must be a `kind`, or raise 4003.

    An undecodable payload raises `msgspec.DecodeError`, which the request loop answers
    with 4003 too.
    """
    request = request_decoder.decode(data)
    if not isinstance(request.cmd, kind):
        raise CommandError(Code.INVALID_COMMAND, f"expected {kind.__name__} on this subject")
    return request


async def user_rooms(ctx: WorkerContext, uid: str) -> list[tuple[str, int]]:
    """Return the rooms `uid` is a member of, with each room's latest seq.

    The user's room set is an index: an entry whose room no longer lists the user (destroyed,
    or kicked) is dropped here.
    """
    user = keys.UserKeys(uid)
    rooms = sorted(await ctx.redis.smembers(user.rooms))
    if not rooms:
        return []
    pipe = ctx.redis.pipeline(transaction=False)
    for room in rooms:
        room_keys = keys.RoomKeys(room)
        pipe.hexists(room_keys.members, uid)
        pipe.get(room_keys.seq)
    results = await pipe.execute()
    live, stale = [], []
    for index, room in enumerate(rooms):
        if results[2 * index]:
            live.append((room, int(results[2 * index + 1] or 0)))
        else:
            stale.append(room)
    if stale:
        await ctx.redis.srem(user.rooms, *stale)
    return live


async def pending_count(ctx: WorkerContext, uid: str) -> int:
    """Return the number of unacked personal messages in `uid`'s inbox."""
    subject = subjects.inbox(uid)
    try:
        info = await ctx.js.stream_info(subjects.INBOX_STREAM, subjects_filter=subject)
    except NotFoundError:
        return 0
    return int((info.state.subjects or {}).get(subject, 0))


async def live_gateways(ctx: WorkerContext) -> set[str]:
    now = now_ms()
    return set(await ctx.redis.zrangebyscore(keys.GATEWAYS, now, "+inf"))


async def end_all_sessions(
    ctx: WorkerContext, uid: str, code: Code, error: str, ban_until: int = 0,
    ban_ttl_ms: int = 0,
) -> int:
    """End every session of `uid`, revoke its tokens issued until now, and kick it everywhere."""
    user = keys.UserKeys(uid)
    _, ended = await ctx.scripts.end_all_sessions(
        keys=[user.revoked_at, user.sessions, user.ended, user.ban],
        args=[int(code), ban_until, ban_ttl_ms],
    )
    kick = Kick(code=int(code), below_version=2**62, error=error)
    await ctx.nc.publish(subjects.user_ctl(uid), encode(kick))
    log.info("sessions ended uid=%s code=%d count=%d", uid, code, ended)
    return int(ended)


async def audit(
    ctx: WorkerContext,
    actor: Actor,
    action: str,
    target: str = "",
    room: str = "",
    until: int = 0,
    reason: str = "",
) -> None:
    """Append a moderation action to the audit log: all, per target user, per room."""
    entry = json.dumps({
        "ts": now_ms(), "actor": actor.label, "action": action, "target": target,
        "room": room, "until": until, "reason": reason,
    })
    lists = [keys.AUDIT_ALL]
    if target:
        lists.append(keys.UserKeys(target).audit)
    if room:
        lists.append(keys.RoomKeys(room).audit)
    pipe = ctx.redis.pipeline(transaction=False)
    for name in lists:
        pipe.lpush(name, entry)
        pipe.ltrim(name, 0, AUDIT_MAX - 1)
    await pipe.execute()
    log.info("moderation actor=%s action=%s target=%s room=%s until=%s",
             actor.label, action, target, room, until)
