"""Client commands as one msgspec tagged union on `op`.

The gateway decodes client frames straight into `Command`, which validates every field
(types, identifier pattern, lengths) before anything reaches the bus. Workers receive the
same structs inside a `bus.types.Request`, and the REST API builds them too.
"""

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from bus.subjects import ID_PATTERN

Id = Annotated[str, Meta(pattern=ID_PATTERN)]
RequestId = int | Annotated[str, Meta(max_length=64)] | None
ClientMsgId = Annotated[str, Meta(min_length=1, max_length=64)]
Name = Annotated[str, Meta(max_length=128)]
ShortText = Annotated[str, Meta(max_length=128)]
Reason = Annotated[str, Meta(max_length=512)]
Seconds = Annotated[int, Meta(ge=0, le=10 * 365 * 86400)]
Seq = Annotated[int, Meta(ge=0)]
Platform = Literal["ios", "android", "web", "pc", "other"]
Priority = Literal["high", "normal", "low"]

MAX_PENDING_PAGE = 500
MAX_ACK_MIDS = 500
MAX_SINCE_ROOMS = 1000


class _Command(Struct, tag_field="op", forbid_unknown_fields=False, kw_only=True):
    id: RequestId = None


class Login(_Command, tag="login"):
    token: Annotated[str, Meta(min_length=1, max_length=4096)]
    platform: Platform = "other"
    device: ShortText = ""
    sdk: ShortText = ""
    since: Annotated[dict[Id, Seq], Meta(max_length=MAX_SINCE_ROOMS)] | None = None


class Logout(_Command, tag="logout"):
    pass


class Ping(_Command, tag="ping"):
    pass


class RoomCreate(_Command, tag="room.create"):
    room: Id | None = None
    name: Name = ""
    max_members: Annotated[int, Meta(ge=1)] | None = None


class RoomJoin(_Command, tag="room.join"):
    room: Id
    since: Seq | None = None


class RoomLeave(_Command, tag="room.leave"):
    room: Id


class RoomDestroy(_Command, tag="room.destroy"):
    room: Id


class RoomList(_Command, tag="room.list"):
    pass


class Send(_Command, tag="send"):
    cid: ClientMsgId
    body: Any
    to: Id | None = None
    room: Id | None = None
    priority: Priority = "normal"


class PendingList(_Command, tag="pending"):
    limit: Annotated[int, Meta(ge=1, le=MAX_PENDING_PAGE)] = 100
    after: Annotated[str, Meta(max_length=32)] | None = None


class Ack(_Command, tag="ack"):
    mids: Annotated[list[Annotated[str, Meta(max_length=32)]], Meta(max_length=MAX_ACK_MIDS)]


class RoomAdmin(_Command, tag="room.admin"):
    room: Id
    uid: Id
    grant: bool = True


class RoomMute(_Command, tag="room.mute"):
    room: Id
    uid: Id
    duration: Seconds = 0
    reason: Reason = ""


class RoomUnmute(_Command, tag="room.unmute"):
    room: Id
    uid: Id
    reason: Reason = ""


class RoomKick(_Command, tag="room.kick"):
    room: Id
    uid: Id
    duration: Seconds = 0
    reason: Reason = ""


class RoomUnban(_Command, tag="room.unban"):
    room: Id
    uid: Id
    reason: Reason = ""


class RoomMuteAll(_Command, tag="room.mute_all"):
    room: Id
    on: bool
    reason: Reason = ""


class Block(_Command, tag="block"):
    uid: Id


class Unblock(_Command, tag="unblock"):
    uid: Id


class Blocks(_Command, tag="blocks"):
    cursor: Annotated[str, Meta(max_length=64)] | None = None
    limit: Annotated[int, Meta(ge=1, le=500)] = 100


Command = (
    Login | Logout | Ping | RoomCreate | RoomJoin | RoomLeave | RoomDestroy | RoomList | Send
    | PendingList | Ack | RoomAdmin | RoomMute | RoomUnmute | RoomKick | RoomUnban
    | RoomMuteAll | Block | Unblock | Blocks
)

KNOWN_OPS = frozenset(
    cls.__struct_config__.tag for cls in Command.__args__  # type: ignore[attr-defined]
)


class Head(Struct, forbid_unknown_fields=False):
    """The readable part of a frame that failed to decode: enough to address the error reply."""

    op: Any = None
    id: Any = None


def reply_id(value: Any) -> int | str | None:
    """Return the `id` to echo in an error reply, or None for an invalid one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    if isinstance(value, str) and len(value) <= 64:
        return value
    return None


def op_of(cmd: Any) -> str:
    return type(cmd).__struct_config__.tag


json_decoder = msgspec.json.Decoder(Command)
msgpack_decoder = msgspec.msgpack.Decoder(Command)
json_head_decoder = msgspec.json.Decoder(Head)
msgpack_head_decoder = msgspec.msgpack.Decoder(Head)
