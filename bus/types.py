"""msgspec types of every payload on the bus, with their encoders built once.

Bus payloads are MessagePack. Client-facing objects are built by the gateway from these.
"""

from typing import Any

import msgspec
from msgspec import Struct, field

from bus.commands import Command


class Actor(Struct, kw_only=True):
    """The identity behind a command: a user's session, or the business system through REST."""

    uid: str | None = None
    session: str | None = None
    gateway: str | None = None
    # The audit label of a REST caller: "api:" and the first 8 hex digits of the key's SHA-256.
    api: str | None = None
    # A request the gateway makes on its own (login delivery of pending messages): it does
    # not count against the user's command rate.
    internal: bool = False

    @property
    def label(self) -> str:
        return self.api if self.api else f"user:{self.uid}"


class Request(Struct, kw_only=True):
    """A client command forwarded to a worker, with the identity that issued it."""

    actor: Actor
    cmd: Command


class Reply(Struct, kw_only=True, omit_defaults=True):
    """A worker's reply: `code` 0 with result fields in `data`, or a code and an English error."""

    code: int = 0
    error: str = ""
    data: dict[str, Any] = {}


# --- auth ---------------------------------------------------------------------------------


class LoginRequest(Struct, kw_only=True):
    token: str
    session: str
    gateway: str
    platform: str = "other"
    device: str = ""
    sdk: str = ""
    address: str = ""


class SessionRef(Struct, array_like=True):
    uid: str
    session: str


class LogoutRequest(Struct, kw_only=True):
    uid: str
    session: str


class SessionCheckRequest(Struct, kw_only=True):
    gateway: str
    sessions: list[SessionRef]


class UserRequest(Struct, kw_only=True):
    """A service-to-service request about one user (REST and admin operations)."""

    uid: str
    actor: Actor = field(default_factory=Actor)
    reason: str = ""
    duration: int = 0


# --- messages -------------------------------------------------------------------------------


class RoomMessage(Struct, kw_only=True):
    """A room message as published on `room.<id>.msg` and kept in room history."""

    mid: str
    room: str
    seq: int
    sender: str | None
    body: Any
    ts: int
    priority: str = "normal"


class InboxMessage(Struct, kw_only=True):
    """A personal message as stored on `inbox.<uid>`; its stream sequence is its `mid`."""

    sender: str | None
    to: str
    body: Any
    ts: int
    cid: str = ""
    priority: str = "normal"


# --- control and events ---------------------------------------------------------------------


class Kick(Struct, tag="kick", kw_only=True):
    """End the user's sessions with a version below `below_version` (within `platform_class`
    when set), or the one session `session` when set, or every session when neither is set."""

    code: int
    below_version: int = 0
    platform_class: str | None = None
    session: str | None = None
    error: str = ""


class RoomRemoved(Struct, tag="room_removed", kw_only=True):
    """The user lost membership of `room` (kick with ban): drop its subscription locally."""

    room: str
    code: int
    error: str = ""


class MuteNotice(Struct, tag="muted", kw_only=True):
    room: str | None = None
    until: int = 0


UserControl = Kick | RoomRemoved | MuteNotice


class RoomDestroyed(Struct, tag="destroyed", kw_only=True):
    room: str


class RoomOnline(Struct, tag="online", kw_only=True):
    room: str
    online: int


RoomEvent = RoomDestroyed | RoomOnline


class Broadcast(Struct, kw_only=True):
    body: Any
    ts: int


class PresenceReport(Struct, kw_only=True):
    """A gateway's change of local online members, and its list of rooms as a heartbeat.

    `adds` and `removes` map a room to the users who came online or went offline there on
    this gateway. `rooms`, when present, lists every room with a local member, which renews
    the gateway's presence in each of them.
    """

    gateway: str
    adds: dict[str, list[str]] = {}
    removes: dict[str, list[str]] = {}
    rooms: list[str] | None = None


# Upper bounds (seconds) of the fan-out latency histogram that gateways report.
FANOUT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class GatewayStats(Struct, kw_only=True):
    """Counts a gateway has gathered since its previous report, published every second.

    `commands` maps "op code" to the number of client commands replied to with that code.
    `fanout` counts room messages per `FANOUT_BUCKETS` bound (not cumulative) by the time
    from the worker's timestamp to the gateway queueing them on its members' connections.
    """

    gateway: str
    connections: int = 0
    delivered_room: int = 0
    delivered_p2p: int = 0
    dropped: dict[str, int] = {}
    logins: int = 0
    commands: dict[str, int] = {}
    fanout: list[int] = []
    fanout_over: int = 0  # messages slower than the largest bound
    fanout_sum: float = 0.0


class WorkerMetrics(Struct, kw_only=True):
    """A worker process's counts since it started: every field only grows."""

    kind: str
    instance: str
    # [subject, code, count] for each subject and reply code served.
    requests: list[tuple[str, int, int]] = []
    # Per subject: counts per bucket of `bus.service.Metrics.BUCKETS` (each bucket counts the
    # requests at or under its bound), then the total count, then the sum of seconds.
    latency: dict[str, list[float]] = {}
    # Daily counter names (room_up, p2p_up, ...) with their totals since start.
    counters: dict[str, int] = {}


_encoder = msgspec.msgpack.Encoder()
encode = _encoder.encode

request_decoder = msgspec.msgpack.Decoder(Request)
reply_decoder = msgspec.msgpack.Decoder(Reply)
room_message_decoder = msgspec.msgpack.Decoder(RoomMessage)
inbox_message_decoder = msgspec.msgpack.Decoder(InboxMessage)
user_control_decoder = msgspec.msgpack.Decoder(UserControl)
room_event_decoder = msgspec.msgpack.Decoder(RoomEvent)
presence_decoder = msgspec.msgpack.Decoder(PresenceReport)
broadcast_decoder = msgspec.msgpack.Decoder(Broadcast)
stats_decoder = msgspec.msgpack.Decoder(GatewayStats)



def platform_class(platform: str) -> str:
    """Return the session-policy class of a platform: ios and android are both mobile."""
    if platform in ("ios", "android"):
        return "mobile"
    if platform in ("web", "pc"):
        return platform
    return "other"
