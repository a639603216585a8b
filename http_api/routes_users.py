"""User routes: registration, lookup, sessions, forced logout, platform bans and mutes, and
block lists."""

from litestar import Request, delete, get, post, put
from litestar.params import Parameter

from bus import commands, subjects
from bus.types import Actor, UserRequest
from bus.types import Request as BusRequest
from http_api.auth import authenticate
from http_api.bus_calls import ask, check_id
from http_api.schemas import ReasonBody, Restriction

TAGS = ["users"]
ReasonQuery = Parameter(query="reason", default="", max_length=512,
                        description="Reason recorded in the audit log")


@put("/v1/users/{uid:str}", summary="Register a user", tags=TAGS,
     description="Creates the user if new; returns `created` (ms) and `new`.")
async def register_user(request: Request, uid: str) -> dict:
    label = authenticate(request)
    check_id(uid, "user id")
    return await ask(request, subjects.AUTH_REGISTER,
                     UserRequest(uid=uid, actor=Actor(api=label)))


@get("/v1/users/{uid:str}", summary="Look up a user", tags=TAGS,
     description="Returns `uid`, `created`, `online`, `sessions`, `rooms`, `banned_until` and "
                 "`muted_until` (ms, -1 = until lifted, 0 = none).")
async def get_user(request: Request, uid: str) -> dict:
    label = authenticate(request)
    check_id(uid, "user id")
    return await ask(request, subjects.AUTH_USER, UserRequest(uid=uid, actor=Actor(api=label)))


@get("/v1/users/{uid:str}/sessions", summary="List a user's live sessions", tags=TAGS,
     description="Each session has its gateway, platform, device, sdk, address and `since`.")
async def get_sessions(request: Request, uid: str) -> dict:
    label = authenticate(request)
    check_id(uid, "user id")
    return await ask(request, subjects.AUTH_SESSIONS,
                     UserRequest(uid=uid, actor=Actor(api=label)))


@post("/v1/users/{uid:str}/logout", summary="End every session of a user", tags=TAGS,
      status_code=200,
      description="Ends every session (close 4002, code 1007) and revokes the user's tokens "
                  "issued until now. The admin console's kick uses it.")
async def force_logout(request: Request, uid: str, data: ReasonBody | None = None) -> dict:
    label = authenticate(request)
    check_id(uid, "user id")
    reason = data.reason if data is not None else ""
    return await ask(request, subjects.AUTH_FORCE_LOGOUT,
                     UserRequest(uid=uid, actor=Actor(api=label), reason=reason))


async def _restrict(request: Request, subject: str, uid: str, data: Restriction) -> dict:
    label = authenticate(request)
    check_id(uid, "user id")
    return await ask(request, subject, UserRequest(
        uid=uid, actor=Actor(api=label), reason=data.reason, duration=data.duration))


async def _lift(request: Request, subject: str, uid: str, reason: str) -> dict:
    label = authenticate(request)
    check_id(uid, "user id")
    return await ask(request, subject,
                     UserRequest(uid=uid, actor=Actor(api=label), reason=reason))


@put("/v1/users/{uid:str}/ban", summary="Ban a user platform-wide", tags=TAGS,
     description="`duration` in seconds, 0 = until lifted. Ends the user's sessions.")
async def ban_user(request: Request, uid: str, data: Restriction) -> dict:
    return await _restrict(request, subjects.MOD_USER_BAN, uid, data)


@delete("/v1/users/{uid:str}/ban", summary="Lift a platform ban", tags=TAGS, status_code=200)
async def unban_user(request: Request, uid: str, reason: str = ReasonQuery) -> dict:
    return await _lift(request, subjects.MOD_USER_UNBAN, uid, reason)


@put("/v1/users/{uid:str}/mute", summary="Mute a user platform-wide", tags=TAGS,
     description="`duration` in seconds, 0 = until lifted.")
async def mute_user(request: Request, uid: str, data: Restriction) -> dict:
    return await _restrict(request, subjects.MOD_USER_MUTE, uid, data)


@delete("/v1/users/{uid:str}/mute", summary="Lift a platform mute", tags=TAGS, status_code=200)
async def unmute_user(request: Request, uid: str, reason: str = ReasonQuery) -> dict:
    return await _lift(request, subjects.MOD_USER_UNMUTE, uid, reason)


def _as_user(label: str, uid: str) -> Actor:
    """The actor of a block-list call: the business system acting for user `uid`."""
    return Actor(uid=uid, api=label)


@put("/v1/users/{uid:str}/blocks/{other:str}", summary="Block a user", tags=TAGS,
     description="`uid` stops receiving personal messages from `other` (code 4000).")
async def block_user(request: Request, uid: str, other: str) -> dict:
    label = authenticate(request)
    check_id(uid, "user id")
    check_id(other, "blocked user id")
    return await ask(request, subjects.MOD_BLOCK,
                     BusRequest(actor=_as_user(label, uid), cmd=commands.Block(uid=other)))


@delete("/v1/users/{uid:str}/blocks/{other:str}", summary="Unblock a user", tags=TAGS,
        status_code=200)
async def unblock_user(request: Request, uid: str, other: str) -> dict:
    label = authenticate(request)
    check_id(uid, "user id")
    check_id(other, "blocked user id")
    return await ask(request, subjects.MOD_UNBLOCK,
                     BusRequest(actor=_as_user(label, uid), cmd=commands.Unblock(uid=other)))


@get("/v1/users/{uid:str}/blocks/{other:str}", summary="Check whether a user is blocked",
     tags=TAGS)
async def block_status(request: Request, uid: str, other: str) -> dict:
    label = authenticate(request)
    check_id(uid, "user id")
    check_id(other, "blocked user id")
    return await ask(request, subjects.MOD_BLOCK_STATUS,
                     BusRequest(actor=_as_user(label, uid), cmd=commands.Block(uid=other)))


@get("/v1/users/{uid:str}/blocks", summary="List the users a user blocked", tags=TAGS,
     description="Paged: pass the returned `cursor` to get the next page; it is absent at "
                 "the end.")
async def list_blocks(
    request: Request,
    uid: str,
    cursor: str | None = Parameter(default=None, max_length=64,
                                   description="`cursor` of the previous page"),
    limit: int = Parameter(default=100, ge=1, le=500, description="Entries per page"),
) -> dict:
    label = authenticate(request)
    check_id(uid, "user id")
    cmd = commands.Blocks(cursor=cursor, limit=limit)
    return await ask(request, subjects.MOD_BLOCKS, BusRequest(actor=_as_user(label, uid), cmd=cmd))


ROUTES = [
    register_user, get_user, get_sessions, force_logout, ban_user, unban_user, mute_user,
    unmute_user, block_user, unblock_user, block_status, list_blocks,
]
