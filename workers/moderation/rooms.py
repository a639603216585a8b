"""Room moderation: mute, unmute, kick with ban, unban, mute all and a room's message rate.

Mutes and bans are `until` times (ms, -1 until lifted) in the room's `mutes` and `bans`
hashes, written by the ROOM_MODERATE script with the server's clock. The send and join
scripts compare them with the server's clock too, so an expiry takes effect at the same
moment on every gateway and nothing is cached.
"""

from bus import subjects
from bus.codes import Code, CommandError
from bus.commands import RoomKick, RoomMute, RoomMuteAll, RoomUnban, RoomUnmute
from bus.types import Actor, MuteNotice, Request, RoomRemoved, UserControl, encode
from state import keys
from workers.moderation.requests import (
    RoomRateRequest,
    decode,
    require_business_system,
)
from workers.runtime import WorkerContext
from workers.shared import audit, decode_command


def describe_until(until: int) -> str:
    return "until lifted" if until == -1 else f"until {until} ms"


class RoomModeration:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    async def _command(self, data: bytes, kind: type) -> Request:
        request = decode_command(data, kind)
        if request.actor.uid is None and not request.actor.api:
            raise CommandError(Code.INVALID_COMMAND, "missing actor uid: this command needs a "
                               "user or the business system")
        await self.ctx.count_command(request.actor)
        return request

    async def _moderate(self, request: Request, action: str, room: str, target: str,
                        duration: int = 0) -> tuple[int, bool]:
        """Apply `action` to `target` in `room`; return its `until` and whether it changed
        anything. Raises 2000, 2004 or 2005 as the ROOM_MODERATE script decides."""
        actor = request.actor
        if not actor.api and target == actor.uid:
            raise CommandError(Code.INVALID_COMMAND, f"a user cannot {action} themselves")
        room_keys = keys.RoomKeys(room)
        code, until, actor_role, target_role, changed = await self.ctx.scripts.room_moderate(
            keys=[room_keys.meta, room_keys.members, room_keys.mutes, room_keys.bans],
            args=["" if actor.api else actor.uid, target, action, duration * 1000],
        )
        if code == Code.ROOM_NOT_FOUND:
            raise CommandError(Code.ROOM_NOT_FOUND, f"room {room} does not exist")
        if code == Code.PERMISSION_DENIED and target_role:
            raise CommandError(Code.PERMISSION_DENIED,
                               f"room {room}: the {actor_role} cannot {action} user {target}, "
                               f"who is the room's {target_role}")
        if code == Code.PERMISSION_DENIED:
            raise CommandError(Code.PERMISSION_DENIED,
                               f"room {room}: owner or admin role needed to {action}")
        if code == Code.NOT_A_MEMBER:
            raise CommandError(Code.NOT_A_MEMBER, f"user {target} is not a member of room {room}")
        return int(until), bool(changed)

    async def _notify(self, uid: str, control: UserControl) -> None:
        await self.ctx.nc.publish(subjects.user_ctl(uid), encode(control))

    async def mute(self, data: bytes) -> dict:
        request = await self._command(data, RoomMute)
        cmd: RoomMute = request.cmd  # type: ignore[assignment]
        until, _ = await self._moderate(request, "mute", cmd.room, cmd.uid, cmd.duration)
        await self._notify(cmd.uid, MuteNotice(room=cmd.room, until=until))
        await audit(self.ctx, request.actor, "room.mute", target=cmd.uid, room=cmd.room,
                    until=until, reason=cmd.reason)
        return {"room": cmd.room, "uid": cmd.uid, "until": until}

    async def unmute(self, data: bytes) -> dict:
        request = await self._command(data, RoomUnmute)
        cmd: RoomUnmute = request.cmd  # type: ignore[assignment]
        _, lifted = await self._moderate(request, "unmute", cmd.room, cmd.uid)
        await self._notify(cmd.uid, MuteNotice(room=cmd.room, until=0))
        await audit(self.ctx, request.actor, "room.unmute", target=cmd.uid, room=cmd.room,
                    reason=cmd.reason)
        return {"room": cmd.room, "uid": cmd.uid, "lifted": lifted}

    async def kick(self, data: bytes) -> dict:
        request = await self._command(data, RoomKick)
        cmd: RoomKick = request.cmd  # type: ignore[assignment]
        until, _ = await self._moderate(request, "kick", cmd.room, cmd.uid, cmd.duration)
        # The user's room set is only an index, so it is updated after the room itself.
        await self.ctx.redis.srem(keys.UserKeys(cmd.uid).rooms, cmd.room)
        error = f"banned from room {cmd.room} {describe_until(until)}"
        if cmd.reason:
            error = f"{error}: {cmd.reason}"
        await self._notify(cmd.uid, RoomRemoved(room=cmd.room, code=int(Code.ROOM_BANNED),
                                                error=error))
        await audit(self.ctx, request.actor, "room.kick", target=cmd.uid, room=cmd.room,
                    until=until, reason=cmd.reason)
        return {"room": cmd.room, "uid": cmd.uid, "until": until}

    async def unban(self, data: bytes) -> dict:
        request = await self._command(data, RoomUnban)
        cmd: RoomUnban = request.cmd  # type: ignore[assignment]
        _, lifted = await self._moderate(request, "unban", cmd.room, cmd.uid)
        await audit(self.ctx, request.actor, "room.unban", target=cmd.uid, room=cmd.room,
                    reason=cmd.reason)
        return {"room": cmd.room, "uid": cmd.uid, "lifted": lifted}

    async def _set_policy(self, actor: Actor, room: str, *fields: str) -> None:
        """Set `fields` (name, value pairs; '' deletes) in the room's meta hash."""
        room_keys = keys.RoomKeys(room)
        code, _ = await self.ctx.scripts.room_policy(
            keys=[room_keys.meta, room_keys.members],
            args=["" if actor.api else actor.uid, *fields],
        )
        if code == Code.ROOM_NOT_FOUND:
            raise CommandError(Code.ROOM_NOT_FOUND, f"room {room} does not exist")
        if code == Code.PERMISSION_DENIED:
            raise CommandError(Code.PERMISSION_DENIED, f"room {room}: owner or admin role needed")

    async def mute_all(self, data: bytes) -> dict:
        request = await self._command(data, RoomMuteAll)
        cmd: RoomMuteAll = request.cmd  # type: ignore[assignment]
        await self._set_policy(request.actor, cmd.room, "muted_all", "1" if cmd.on else "0")
        await audit(self.ctx, request.actor, "room.mute_all" if cmd.on else "room.unmute_all",
                    room=cmd.room, until=-1 if cmd.on else 0, reason=cmd.reason)
        return {"room": cmd.room, "on": cmd.on}

    async def rate(self, data: bytes) -> dict:
        """Set or clear a room's own message rate and burst (business system only)."""
        request = decode(data, RoomRateRequest)
        require_business_system(request.actor, "a room's message rate")
        await self._set_policy(
            request.actor, request.room,
            "rate", repr(float(request.rate)) if request.rate else "",
            "burst", str(request.burst) if request.burst else "",
        )

        settings = self.ctx.settings
        rate = request.rate or settings.room_rate
        burst = request.burst or settings.room_burst
        summary = f"rate={request.rate or 'default'}/s burst={request.burst or 'default'}"
        reason = f"{summary}: {request.reason}" if request.reason else summary
        await audit(self.ctx, request.actor, "room.rate", room=request.room, reason=reason)
        return {"room": request.room, "rate": rate, "burst": burst,
                "override": bool(request.rate or request.burst)}
