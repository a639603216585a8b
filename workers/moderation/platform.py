"""Platform moderation, requested by the business system: mutes and bans of a user.

A platform mute is `{u:<uid>}:mute` and a ban `{u:<uid>}:ban`: the `until` time (ms, -1
until lifted), with a key expiry of the same length, so an ended restriction leaves no
key behind. The send and login scripts read them with the server's clock.
"""

from bus import subjects
from bus.codes import Code
from bus.types import MuteNotice, UserRequest, encode
from state import keys
from workers.moderation.requests import decode_user_request, require_business_system
from workers.runtime import WorkerContext
from workers.shared import audit, end_all_sessions


class PlatformModeration:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    def _request(self, data: bytes, action: str) -> UserRequest:
        request = decode_user_request(data)
        require_business_system(request.actor, action)
        return request

    async def mute(self, data: bytes) -> dict:
        request = self._request(data, "a platform mute")
        until = int(await self.ctx.scripts.user_restrict(
            keys=[keys.UserKeys(request.uid).mute], args=[request.duration * 1000]))
        await self.ctx.nc.publish(subjects.user_ctl(request.uid),
                                  encode(MuteNotice(until=until)))
        await audit(self.ctx, request.actor, "user.mute", target=request.uid, until=until,
                    reason=request.reason)
        return {"uid": request.uid, "until": until}

    async def unmute(self, data: bytes) -> dict:
        request = self._request(data, "lifting a platform mute")
        lifted = await self.ctx.redis.delete(keys.UserKeys(request.uid).mute)
        await self.ctx.nc.publish(subjects.user_ctl(request.uid), encode(MuteNotice(until=0)))
        await audit(self.ctx, request.actor, "user.unmute", target=request.uid,
                    reason=request.reason)
        return {"uid": request.uid, "lifted": bool(lifted)}

    async def ban(self, data: bytes) -> dict:
        """Ban the user, then end every session and revoke every token issued until now.

        The ban is written first, so a login that races with this request gets 1001 or is
        ended by the revocation that follows.
        """
        request = self._request(data, "a platform ban")
        until = int(await self.ctx.scripts.user_restrict(
            keys=[keys.UserKeys(request.uid).ban], args=[request.duration * 1000]))
        ended = await end_all_sessions(
            self.ctx, request.uid, Code.USER_BANNED,
            "user is banned" if until == -1 else f"user is banned until {until} ms")
        await audit(self.ctx, request.actor, "user.ban", target=request.uid, until=until,
                    reason=request.reason)
        return {"uid": request.uid, "until": until, "sessions": ended}

    async def unban(self, data: bytes) -> dict:
        request = self._request(data, "lifting a platform ban")
        lifted = await self.ctx.redis.delete(keys.UserKeys(request.uid).ban)
        await audit(self.ctx, request.actor, "user.unban", target=request.uid,
                    reason=request.reason)
        return {"uid": request.uid, "lifted": bool(lifted)}

    async def state(self, data: bytes) -> dict:
        """Return the user's platform ban and mute: `until` in ms, -1 until lifted, 0 none."""
        request = decode_user_request(data)
        user = keys.UserKeys(request.uid)
        ban, mute = await self.ctx.redis.mget(user.ban, user.mute)
        return {"uid": request.uid, "banned_until": int(ban) if ban else 0,
                "muted_until": int(mute) if mute else 0}
