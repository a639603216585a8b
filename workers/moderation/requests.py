"""Decoding of moderation requests, and the request types that only the REST API sends.

A payload that is not valid MessagePack, or does not match its type, or names an invalid id
becomes code 4003 with the reason, never an internal error.
"""

from typing import Annotated, TypeVar

import msgspec
from msgspec import Meta, Struct, field

from bus import subjects
from bus.codes import Code, CommandError
from bus.commands import Id, Reason
from bus.types import Actor, UserRequest

MAX_DURATION = 10 * 365 * 86400  # seconds, the same bound as the client commands' `duration`
MAX_REASON = 512  # characters, the same bound as the client commands' `reason`
AUDIT_PAGE_MAX = 1000

T = TypeVar("T")


class AuditQuery(Struct, kw_only=True):
    """A read of the audit log, newest entries first (MOD_AUDIT).

    `uid` selects entries whose target is that user; with `room` too, both must match.
    `since` (ms) keeps entries at or after that time. `cursor` is the `cursor` of the
    previous page.
    """

    room: Id | None = None
    uid: Id | None = None
    since: Annotated[int, Meta(ge=0)] = 0
    limit: Annotated[int, Meta(ge=1, le=AUDIT_PAGE_MAX)] = 100
    cursor: Annotated[str, Meta(max_length=64)] | None = None


class RoomRateRequest(Struct, kw_only=True):
    """A room's own message rate (MOD_ROOM_RATE, business system only).

    `rate` is messages per second and `burst` a count; 0 removes the override, so the
    room follows MIMO_ROOM_RATE or MIMO_ROOM_BURST again.
    """

    room: Id
    rate: Annotated[float, Meta(ge=0, le=1_000_000)] = 0
    burst: Annotated[int, Meta(ge=0, le=10_000_000)] = 0
    actor: Actor = field(default_factory=Actor)
    reason: Reason = ""


_user_request_decoder = msgspec.msgpack.Decoder(UserRequest)


def decode(data: bytes, kind: type[T]) -> T:
    """Decode `data` as `kind`, raising 4003 with the reason when it does not fit."""
    try:
        return msgspec.msgpack.decode(data, type=kind)
    except msgspec.DecodeError as error:
        raise CommandError(Code.INVALID_COMMAND, f"invalid request: {error}") from None


def decode_user_request(data: bytes) -> UserRequest:
    """Decode a platform request about one user: a valid id and a duration in range."""
    try:
        request = _user_request_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise CommandError(Code.INVALID_COMMAND, f"invalid request: {error}") from None
    if not subjects.is_valid_id(request.uid):
        raise CommandError(Code.INVALID_COMMAND,
                           f"invalid user id {request.uid!r}: expected 1 to 64 of "
                           "A-Z a-z 0-9 _ -")
    if not 0 <= request.duration <= MAX_DURATION:
        raise CommandError(Code.INVALID_COMMAND,
                           f"invalid duration {request.duration}: expected 0 to "
                           f"{MAX_DURATION} seconds (0 = until lifted)")
    if len(request.reason) > MAX_REASON:
        raise CommandError(Code.INVALID_COMMAND,
                           f"reason too long: {len(request.reason)} characters, at most "
                           f"{MAX_REASON}")
    return request


def require_business_system(actor: Actor, action: str) -> None:
    """Raise 2005 unless `actor` is the business system (a REST caller)."""
    if not actor.api:
        raise CommandError(Code.PERMISSION_DENIED, f"{action} is for the business system only")
