"""Login, logout, session checks and queries, forced logout and user registration."""

import json
import logging

import msgspec

from bus import subjects
from bus.codes import Code, CommandError
from bus.streams import ensure_streams
from bus.types import (
    Kick,
    LoginRequest,
    LogoutRequest,
    SessionCheckRequest,
    UserRequest,
    encode,
    platform_class,
)
from mimo import tokens
from state import keys
from workers.runtime import WorkerContext, now_ms
from workers.shared import audit, end_all_sessions, live_gateways, pending_count, user_rooms

log = logging.getLogger("mimo.auth")


class AuthService:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings

    async def login(self, data: bytes) -> dict:
        request = msgspec.msgpack.decode(data, type=LoginRequest)
        try:
            claims = tokens.verify(request.token, self.settings.jwt_secret,
                                   self.settings.token_leeway)
        except tokens.InvalidToken as error:
            log.info("login rejected fingerprint=%s: %s",
                     tokens.fingerprint(request.token), error)
            raise CommandError(Code.AUTH_FAILED, f"login failed: {error}") from None

        uid = claims["sub"]
        user = keys.UserKeys(uid)
        cls = platform_class(request.platform)
        fingerprint = tokens.fingerprint(request.token)
        info = {
            "gateway": request.gateway,
            "platform": request.platform,
            "platform_class": cls,
            "device": request.device,
            "sdk": request.sdk,
            "address": request.address,
            "token": fingerprint,
            "token_exp": int(claims["exp"] * 1000),
        }
        code, version, is_new, kicked, until = await self.ctx.scripts.login(
            keys=[user.profile, user.session_version, user.sessions, user.revoked_at,
                  user.revoked_tokens, user.ban, user.ended, keys.USERS_ALL],
            args=[request.session, json.dumps(info), int(float(claims["iat"]) * 1000),
                  fingerprint, info["token_exp"], self.settings.session_policy, cls, uid],
        )
        if code == Code.USER_BANNED:
            raise CommandError(Code.USER_BANNED, f"user {uid} is banned until {until}")
        if code == Code.AUTH_FAILED:
            log.info("login rejected uid=%s fingerprint=%s: token revoked", uid, fingerprint)
            raise CommandError(Code.AUTH_FAILED, "login failed: token has been revoked")

        if kicked:
            kick = Kick(
                code=int(Code.KICKED_BY_NEWER_LOGIN),
                below_version=version,
                platform_class=cls if self.settings.session_policy == "per-platform" else None,
                error="logged in on another device",
            )
            await self.ctx.nc.publish(subjects.user_ctl(uid), encode(kick))

        self.ctx.counters.unique("login_users", uid)
        self.ctx.counters.unique("active_users", uid)
        if is_new:
            self.ctx.counters.add("new_users")
        rooms = await user_rooms(self.ctx, uid)
        pending = await pending_count(self.ctx, uid)
        log.info("login uid=%s session=%s version=%d gateway=%s platform=%s kicked=%d",
                 uid, request.session, version, request.gateway, request.platform, kicked)
        return {
            "uid": uid,
            "session": request.session,
            "version": version,
            "rooms": [room for room, _ in rooms],
            "seqs": dict(rooms),
            "pending": pending,
            "heartbeat": self.settings.heartbeat,
        }

    async def logout(self, data: bytes) -> dict:
        request = msgspec.msgpack.decode(data, type=LogoutRequest)
        removed = await self.ctx.redis.hdel(keys.UserKeys(request.uid).sessions, request.session)
        return {"removed": removed}

    async def check(self, data: bytes) -> dict:
        """Return the sessions in the request that are no longer live, with the ending code."""
        request = msgspec.msgpack.decode(data, type=SessionCheckRequest)
        pipe = self.ctx.redis.pipeline(transaction=False)
        for ref in request.sessions:
            user = keys.UserKeys(ref.uid)
            pipe.hexists(user.sessions, ref.session)
            pipe.hget(user.ended, ref.session)
        results = await pipe.execute()
        gone = []
        for index, ref in enumerate(request.sessions):
            exists, ended = results[2 * index], results[2 * index + 1]
            if not exists:
                gone.append([ref.uid, ref.session, int(ended or Code.KICKED_BY_NEWER_LOGIN)])
        return {"gone": gone}

    async def sessions(self, data: bytes) -> dict:
        request = msgspec.msgpack.decode(data, type=UserRequest)
        return {"sessions": await self.live_sessions(request.uid)}

    async def live_sessions(self, uid: str) -> list[dict]:
        raw = await self.ctx.redis.hgetall(keys.UserKeys(uid).sessions)
        alive = await live_gateways(self.ctx)
        result = []
        for session, text in raw.items():
            info = json.loads(text)
            if info.get("gateway") not in alive:
                continue
            result.append({
                "session": session,
                "version": info.get("version", 0),
                "gateway": info.get("gateway", ""),
                "platform": info.get("platform", "other"),
                "device": info.get("device", ""),
                "sdk": info.get("sdk", ""),
                "address": info.get("address", ""),
                "since": info.get("since", 0),
            })
        result.sort(key=lambda item: item["version"])
        return result

    async def force_logout(self, data: bytes) -> dict:
        request = msgspec.msgpack.decode(data, type=UserRequest)
        ended = await end_all_sessions(self.ctx, request.uid, Code.FORCED_LOGOUT,
                                       "session ended by the platform")
        await audit(self.ctx, request.actor, "logout", target=request.uid, reason=request.reason)
        return {"uid": request.uid, "sessions": ended}

    async def register(self, data: bytes) -> dict:
        request = msgspec.msgpack.decode(data, type=UserRequest)
        user = keys.UserKeys(request.uid)
        created = await self.ctx.redis.hsetnx(user.profile, "created", now_ms())
        if created:
            await self.ctx.redis.sadd(keys.USERS_ALL, request.uid)
            self.ctx.counters.add("new_users")
        profile = await self.ctx.redis.hgetall(user.profile)
        return {"uid": request.uid, "created": int(profile["created"]), "new": bool(created)}

    async def user(self, data: bytes) -> dict:
        request = msgspec.msgpack.decode(data, type=UserRequest)
        user = keys.UserKeys(request.uid)
        profile = await self.ctx.redis.hgetall(user.profile)
        if not profile:
            raise CommandError(Code.USER_NOT_FOUND, f"user {request.uid} does not exist")
        sessions = await self.live_sessions(request.uid)
        rooms = await user_rooms(self.ctx, request.uid)
        ban, mute = await self.ctx.redis.mget(user.ban, user.mute)
        return {
            "uid": request.uid,
            "created": int(profile["created"]),
            "online": bool(sessions),
            "sessions": sessions,
            "rooms": [room for room, _ in rooms],
            "banned_until": int(ban) if ban else 0,
            "muted_until": int(mute) if mute else 0,
        }


async def setup(ctx: WorkerContext) -> None:
    await ensure_streams(ctx.js, ctx.settings)
    service = AuthService(ctx)
    ctx.service.route(subjects.AUTH_LOGIN, service.login)
    ctx.service.route(subjects.AUTH_LOGOUT, service.logout)
    ctx.service.route(subjects.AUTH_CHECK, service.check)
    ctx.service.route(subjects.AUTH_SESSIONS, service.sessions)
    ctx.service.route(subjects.AUTH_FORCE_LOGOUT, service.force_logout)
    ctx.service.route(subjects.AUTH_REGISTER, service.register)
    ctx.service.route(subjects.AUTH_USER, service.user)
