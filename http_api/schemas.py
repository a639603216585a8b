"""Request bodies of the REST routes. Field rules match the client protocol's commands."""

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from bus.commands import ClientMsgId, Id, Name, Reason, Seconds


class TokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    uid: Id
    ttl: Annotated[int, Meta(ge=1)] | None = None


class Restriction(msgspec.Struct, forbid_unknown_fields=True):
    """A mute or a ban: `duration` in seconds, 0 = until lifted."""

    duration: Seconds = 0
    reason: Reason = ""


class ReasonBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason = ""


class RoomCreateRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    room: Id | None = None
    max_members: Annotated[int, Meta(ge=1)] | None = None
    owner: Id | None = None


class RoomMessageRequest(msgspec.Struct, forbid_unknown_fields=True):
    body: Any
    sender: Id | None = msgspec.field(default=None, name="from")
    priority: Literal["high", "normal", "low"] = "normal"
    cid: ClientMsgId | None = None


class PersonalMessageRequest(msgspec.Struct, forbid_unknown_fields=True):
    sender: Id = msgspec.field(name="from")
    to: Id
    body: Any
    cid: ClientMsgId | None = None
    priority: Literal["high", "normal", "low"] = "normal"


class BroadcastRequest(msgspec.Struct, forbid_unknown_fields=True):
    body: Any
