"""Room lifecycle, membership, roles, listing and online counts."""

import logging
import secrets

import msgspec

from bus import subjects
from bus.codes import Code, CommandError
from bus.commands import RoomAdmin, RoomCreate, RoomDestroy, RoomJoin, RoomLeave, RoomList
from bus.types import Request, RoomDestroyed, encode
from state import keys
from workers.rooms.presence import Presence
from workers.rooms.stats import setup as stats_setup
from workers.runtime import WorkerContext
from workers.shared import audit, decode_command, user_rooms

log = logging.getLogger("mimo.rooms")

MEMBERS_PAGE_MAX = 1000


class RoomQuery(msgspec.Struct, kw_only=True):
    """A service-to-service query about one room (REST)."""

    room: str
    cursor: str | None = None
    limit: int = 100


class SeqsQuery(msgspec.Struct, kw_only=True):
    rooms: list[str]


def _not_found(room: str) -> CommandError:
    return CommandError(Code.ROOM_NOT_FOUND, f"room {room} does not exist")


class RoomsService:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.presence = Presence(ctx)

    async def _request(self, data: bytes, kind: type) -> Request:
        request = decode_command(data, kind)
        await self.ctx.count_command(request.actor)
        return request

    async def role(self, room: str, uid: str | None) -> str | None:
        if uid is None:
            return None
        return await self.ctx.redis.hget(keys.RoomKeys(room).members, uid)

    async def require_manager(self, request: Request, room: str, owner_only: bool = False) -> None:
        """Raise 2005 unless the actor is the business system, the owner or (if allowed) an
        admin of `room`; 2000 when the room does not exist."""
        if not await self.ctx.redis.exists(keys.RoomKeys(room).meta):
            raise _not_found(room)
        if request.actor.api:
            return
        role = await self.role(room, request.actor.uid)
        allowed = ("owner",) if owner_only else ("owner", "admin")
        if role not in allowed:
            needed = "owner" if owner_only else "owner or admin"
            raise CommandError(Code.PERMISSION_DENIED, f"room {room}: {needed} role needed")

    async def create(self, data: bytes) -> dict:
        request = await self._request(data, RoomCreate)
        cmd: RoomCreate = request.cmd  # type: ignore[assignment]
        room = cmd.room or secrets.token_urlsafe(12)
        max_members = cmd.max_members or self.settings.room_max_members
        if max_members > self.settings.room_max_members_limit:
            raise CommandError(
                Code.INVALID_COMMAND,
                f"max_members {max_members} is over the limit "
                f"{self.settings.room_max_members_limit}",
            )
        owner = request.actor.uid or ""
        room_keys = keys.RoomKeys(room)
        code, seq = await self.ctx.scripts.room_create(
            keys=[room_keys.meta, room_keys.members, room_keys.seq],
            args=[cmd.name, owner, max_members],
        )
        if code == Code.ROOM_EXISTS:
            raise CommandError(Code.ROOM_EXISTS, f"room {room} already exists")
        if owner:
            await self.ctx.redis.sadd(keys.UserKeys(owner).rooms, room)
        self.ctx.counters.add("rooms_created")
        log.info("room created room=%s owner=%s", room, owner or "-")
        return {"room": room, "seq": int(seq), "name": cmd.name, "max_members": max_members}

    async def join(self, data: bytes) -> dict:
        request = await self._request(data, RoomJoin)
        room = request.cmd.room  # type: ignore[union-attr]
        uid = request.actor.uid
        if uid is None:
            raise CommandError(Code.INVALID_COMMAND, "room.join needs a user")
        room_keys = keys.RoomKeys(room)
        code, role, members, seq, online, until = await self.ctx.scripts.room_join(
            keys=[room_keys.meta, room_keys.members, room_keys.bans, room_keys.seq,
                  room_keys.online],
            args=[uid],
        )
        if code == Code.ROOM_NOT_FOUND:
            raise _not_found(room)
        if code == Code.ROOM_BANNED:
            raise CommandError(Code.ROOM_BANNED, f"user {uid} is banned from room {room} "
                               f"until {until}")
        if code == Code.ROOM_FULL:
            raise CommandError(Code.ROOM_FULL, f"room {room} is full")
        await self.ctx.redis.sadd(keys.UserKeys(uid).rooms, room)
        return {"room": room, "role": role, "members": int(members), "seq": int(seq),
                "online": int(online)}

    async def leave(self, data: bytes) -> dict:
        request = await self._request(data, RoomLeave)
        room = request.cmd.room  # type: ignore[union-attr]
        uid = request.actor.uid or ""
        removed = await self.ctx.redis.hdel(keys.RoomKeys(room).members, uid)
        await self.ctx.redis.srem(keys.UserKeys(uid).rooms, room)
        if not removed:
            if not await self.ctx.redis.exists(keys.RoomKeys(room).meta):
                raise _not_found(room)
            raise CommandError(Code.NOT_A_MEMBER, f"user {uid} is not a member of room {room}")
        return {"room": room}

    async def destroy(self, data: bytes) -> dict:
        request = await self._request(data, RoomDestroy)
        room = request.cmd.room  # type: ignore[union-attr]
        await self.require_manager(request, room)
        room_keys = keys.RoomKeys(room)

        gateways = await self.ctx.redis.zrange(room_keys.gateways, 0, -1)
        await self.ctx.redis.unlink(
            room_keys.meta, room_keys.members, room_keys.mutes, room_keys.bans, room_keys.rate,
            room_keys.gateways, room_keys.online, room_keys.notified,
            *(room_keys.online_on(gateway) for gateway in gateways),
        )
        try:
            await self.ctx.js.purge_stream(subjects.ROOM_HISTORY_STREAM,
                                           subject=subjects.room_msg(room))
        except Exception:
            log.exception("history purge failed room=%s", room)
        await self.ctx.nc.publish(subjects.room_evt(room), encode(RoomDestroyed(room=room)))
        await audit(self.ctx, request.actor, "room.destroy", room=room)
        log.info("room destroyed room=%s by=%s", room, request.actor.label)
        return {"room": room}

    async def list(self, data: bytes) -> dict:
        request = await self._request(data, RoomList)
        uid = request.actor.uid or ""
        rooms = await user_rooms(self.ctx, uid)
        pipe = self.ctx.redis.pipeline(transaction=False)
        for room, _ in rooms:
            room_keys = keys.RoomKeys(room)
            pipe.hget(room_keys.meta, "name")
            pipe.hget(room_keys.members, uid)
            pipe.hlen(room_keys.online)
        results = await pipe.execute()
        listed = []
        for index, (room, _) in enumerate(rooms):
            name, role, online = results[3 * index: 3 * index + 3]
            if role is None:
                continue
            listed.append({"room": room, "name": name or "", "role": role, "online": online})
        return {"rooms": listed}

    async def admin(self, data: bytes) -> dict:
        request = await self._request(data, RoomAdmin)
        cmd: RoomAdmin = request.cmd  # type: ignore[assignment]
        await self.require_manager(request, cmd.room, owner_only=True)
        members = keys.RoomKeys(cmd.room).members
        role = await self.ctx.redis.hget(members, cmd.uid)
        if role is None:
            raise CommandError(Code.NOT_A_MEMBER,
                               f"user {cmd.uid} is not a member of room {cmd.room}")
        if role == "owner":
            raise CommandError(Code.INVALID_COMMAND, f"user {cmd.uid} owns room {cmd.room}")
        await self.ctx.redis.hset(members, cmd.uid, "admin" if cmd.grant else "member")
        await audit(self.ctx, request.actor, "admin.grant" if cmd.grant else "admin.revoke",
                    target=cmd.uid, room=cmd.room)
        return {"room": cmd.room, "uid": cmd.uid, "role": "admin" if cmd.grant else "member"}

    async def info(self, data: bytes) -> dict:
        query = msgspec.msgpack.decode(data, type=RoomQuery)
        room_keys = keys.RoomKeys(query.room)
        pipe = self.ctx.redis.pipeline(transaction=False)
        pipe.hgetall(room_keys.meta)
        pipe.hlen(room_keys.members)
        pipe.hlen(room_keys.online)
        pipe.get(room_keys.seq)
        meta, members, _, seq = await pipe.execute()
        if not meta:
            raise _not_found(query.room)
        online = await self.presence.update(query.room)
        admins = [uid for uid, role in
                  (await self.ctx.redis.hgetall(room_keys.members)).items() if role == "admin"
                  ] if members <= MEMBERS_PAGE_MAX else []
        return {
            "room": query.room,
            "name": meta.get("name", ""),
            "owner": meta.get("owner") or None,
            "max_members": int(meta.get("max_members", 0)),
            "members": members,
            "online": online,
            "seq": int(seq or 0),
            "muted_all": meta.get("muted_all") == "1",
            "created": int(meta.get("created", 0)),
            "admins": admins,
        }

    async def members(self, data: bytes) -> dict:
        query = msgspec.msgpack.decode(data, type=RoomQuery)
        room_keys = keys.RoomKeys(query.room)
        if not await self.ctx.redis.exists(room_keys.meta):
            raise _not_found(query.room)
        limit = max(1, min(query.limit, MEMBERS_PAGE_MAX))
        cursor = int(query.cursor or 0)
        cursor, page = await self.ctx.redis.hscan(room_keys.members, cursor, count=limit)
        result = {"members": [{"uid": uid, "role": role} for uid, role in page.items()]}
        if cursor:
            result["cursor"] = str(cursor)
        return result

    async def seqs(self, data: bytes) -> dict:
        query = msgspec.msgpack.decode(data, type=SeqsQuery)
        if not query.rooms:
            return {"seqs": {}}
        values = await self.ctx.redis.mget([keys.RoomKeys(room).seq for room in query.rooms])
        return {"seqs": {room: int(value or 0) for room, value in zip(query.rooms, values,
                                                                       strict=True)}}


async def setup(ctx: WorkerContext) -> None:
    service = RoomsService(ctx)
    ctx.service.route(subjects.ROOMS_CREATE, service.create)
    ctx.service.route(subjects.ROOMS_JOIN, service.join)
    ctx.service.route(subjects.ROOMS_LEAVE, service.leave)
    ctx.service.route(subjects.ROOMS_DESTROY, service.destroy)
    ctx.service.route(subjects.ROOMS_LIST, service.list)
    ctx.service.route(subjects.ROOMS_ADMIN, service.admin)
    ctx.service.route(subjects.ROOMS_INFO, service.info)
    ctx.service.route(subjects.ROOMS_MEMBERS, service.members)
    ctx.service.route(subjects.ROOMS_SEQS, service.seqs)
    await service.presence.start()
    await stats_setup(ctx)
