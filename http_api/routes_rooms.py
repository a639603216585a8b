"""Room routes: lifecycle, lookup, members, admins, room mutes and bans, and room messages."""

import secrets

from litestar import Request, delete, get, post, put
from litestar.params import Parameter

from bus import body as body_checks
from bus import commands, subjects
from bus.types import Actor
from bus.types import Request as BusRequest
from http_api.auth import authenticate
from http_api.bus_calls import ask, check_id
from http_api.errors import invalid
from http_api.schemas import ReasonBody, Restriction, RoomCreateRequest, RoomMessageRequest
from mimo.settings import Settings

TAGS = ["rooms"]
ReasonQuery = Parameter(query="reason", default="", max_length=512,
                        description="Reason recorded in the audit log")


def _system(label: str) -> Actor:
    return Actor(api=label)


@post("/v1/rooms", summary="Create a room", tags=TAGS, status_code=201,
      description="Without `room` the id is generated. `owner`, when given, becomes the "
                  "room's owner and first member.")
async def create_room(request: Request, data: RoomCreateRequest) -> dict:
    label = authenticate(request)
    cmd = commands.RoomCreate(room=data.room, name=data.name, max_members=data.max_members)
    return await ask(request, subjects.ROOMS_CREATE,
                     BusRequest(actor=Actor(uid=data.owner, api=label), cmd=cmd))


@get("/v1/rooms/{room:str}", summary="Look up a room", tags=TAGS,
     description="Returns `room`, `name`, `owner`, `max_members`, `members`, `online`, `seq`, "
                 "`muted_all`, `created` and `admins`.")
async def get_room(request: Request, room: str) -> dict:
    authenticate(request)
    check_id(room, "room id")
    return await ask(request, subjects.ROOMS_INFO, {"room": room})


@delete("/v1/rooms/{room:str}", summary="Destroy a room", tags=TAGS, status_code=200,
        description="Removes the room, its members and its history; online members get a "
                    "`room.destroyed` event.")
async def destroy_room(request: Request, room: str) -> dict:
    label = authenticate(request)
    check_id(room, "room id")
    return await ask(request, subjects.ROOMS_DESTROY,
                     BusRequest(actor=_system(label), cmd=commands.RoomDestroy(room=room)))


@get("/v1/rooms/{room:str}/members", summary="List a room's members", tags=TAGS,
     description="Paged: pass the returned `cursor` to get the next page; it is absent at the "
                 "end. A page may hold somewhat more or fewer than `limit` members.")
async def list_members(
    request: Request,
    room: str,
    cursor: str | None = Parameter(default=None, max_length=20,
                                   description="`cursor` of the previous page"),
    limit: int = Parameter(default=100, ge=1, le=1000, description="Members per page"),
) -> dict:
    authenticate(request)
    check_id(room, "room id")
    if cursor is not None and not cursor.isdigit():
        raise invalid(f"invalid cursor {cursor!r}: pass the cursor of the previous page")
    return await ask(request, subjects.ROOMS_MEMBERS,
                     {"room": room, "cursor": cursor, "limit": limit})


async def _set_admin(request: Request, room: str, uid: str, grant: bool) -> dict:
    label = authenticate(request)
    check_id(room, "room id")
    check_id(uid, "user id")
    cmd = commands.RoomAdmin(room=room, uid=uid, grant=grant)
    return await ask(request, subjects.ROOMS_ADMIN, BusRequest(actor=_system(label), cmd=cmd))


@put("/v1/rooms/{room:str}/admins/{uid:str}", summary="Make a member an admin", tags=TAGS)
async def grant_admin(request: Request, room: str, uid: str) -> dict:
    return await _set_admin(request, room, uid, True)


@delete("/v1/rooms/{room:str}/admins/{uid:str}", summary="Revoke a member's admin role",
        tags=TAGS, status_code=200)
async def revoke_admin(request: Request, room: str, uid: str) -> dict:
    return await _set_admin(request, room, uid, False)


async def _moderate(request: Request, subject: str, label: str,
                    cmd: commands.RoomMute | commands.RoomUnmute | commands.RoomKick
                    | commands.RoomUnban) -> dict:
    return await ask(request, subject, BusRequest(actor=_system(label), cmd=cmd))


@put("/v1/rooms/{room:str}/mutes/{uid:str}", summary="Mute a user in a room", tags=TAGS,
     description="`duration` in seconds, 0 = until lifted.")
async def mute_in_room(request: Request, room: str, uid: str, data: Restriction) -> dict:
    label = authenticate(request)
    check_id(room, "room id")
    check_id(uid, "user id")
    cmd = commands.RoomMute(room=room, uid=uid, duration=data.duration, reason=data.reason)
    return await _moderate(request, subjects.MOD_ROOM_MUTE, label, cmd)


@delete("/v1/rooms/{room:str}/mutes/{uid:str}", summary="Unmute a user in a room", tags=TAGS,
        status_code=200)
async def unmute_in_room(request: Request, room: str, uid: str,
                         reason: str = ReasonQuery) -> dict:
    label = authenticate(request)
    check_id(room, "room id")
    check_id(uid, "user id")
    cmd = commands.RoomUnmute(room=room, uid=uid, reason=reason)
    return await _moderate(request, subjects.MOD_ROOM_UNMUTE, label, cmd)


@put("/v1/rooms/{room:str}/bans/{uid:str}", summary="Kick and ban a user from a room",
     tags=TAGS, description="Removes the member; `duration` in seconds, 0 = until lifted.")
async def ban_from_room(request: Request, room: str, uid: str, data: Restriction) -> dict:
    label = authenticate(request)
    check_id(room, "room id")
    check_id(uid, "user id")
    cmd = commands.RoomKick(room=room, uid=uid, duration=data.duration, reason=data.reason)
    return await _moderate(request, subjects.MOD_ROOM_KICK, label, cmd)


@delete("/v1/rooms/{room:str}/bans/{uid:str}", summary="Lift a room ban", tags=TAGS,
        status_code=200)
async def unban_from_room(request: Request, room: str, uid: str,
                          reason: str = ReasonQuery) -> dict:
    label = authenticate(request)
    check_id(room, "room id")
    check_id(uid, "user id")
    cmd = commands.RoomUnban(room=room, uid=uid, reason=reason)
    return await _moderate(request, subjects.MOD_ROOM_UNBAN, label, cmd)


async def _mute_all(request: Request, room: str, on: bool, reason: str) -> dict:
    label = authenticate(request)
    check_id(room, "room id")
    cmd = commands.RoomMuteAll(room=room, on=on, reason=reason)
    return await ask(request, subjects.MOD_ROOM_MUTE_ALL,
                     BusRequest(actor=_system(label), cmd=cmd))


@put("/v1/rooms/{room:str}/mute-all", summary="Mute every member of a room", tags=TAGS,
     description="Only the owner, admins and system messages can send until it is lifted.")
async def mute_all(request: Request, room: str, data: ReasonBody | None = None) -> dict:
    return await _mute_all(request, room, True, data.reason if data is not None else "")


@delete("/v1/rooms/{room:str}/mute-all", summary="Lift a room's mute-all", tags=TAGS,
        status_code=200)
async def unmute_all(request: Request, room: str, reason: str = ReasonQuery) -> dict:
    return await _mute_all(request, room, False, reason)


@post("/v1/rooms/{room:str}/messages", summary="Send a room message", tags=TAGS,
      status_code=201,
      description="With `from`, the message passes that user's membership, mute and ban "
                  "checks (not the user's rate limit). Without `from` it is a system message "
                  "(`from` is null when delivered). Returns the receipt: `mid`, `seq`, `ts`.")
async def room_message(request: Request, room: str, data: RoomMessageRequest) -> dict:
    label = authenticate(request)
    settings: Settings = request.app.state.settings
    check_id(room, "room id")
    body_checks.check_body(data.body, body_checks.json_size(data.body), settings.max_body)
    cid = data.cid or f"api-{secrets.token_hex(12)}"
    cmd = commands.Send(cid=cid, body=data.body, room=room, priority=data.priority)
    return await ask(request, subjects.CHAT_SEND,
                     BusRequest(actor=Actor(uid=data.sender, api=label), cmd=cmd))


ROUTES = [
    create_room, get_room, destroy_room, list_members, grant_admin, revoke_admin, mute_in_room,
    unmute_in_room, ban_from_room, unban_from_room, mute_all, unmute_all, room_message,
]
