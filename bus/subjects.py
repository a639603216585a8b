"""Every NATS subject and JetStream stream name, and the only place that builds them.

User and room ids become subject tokens, so every builder checks its id against
`ID_PATTERN` first: a dot, a wildcard or a space in an id would change the subject's meaning.
"""

import re

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_ID_RE = re.compile(ID_PATTERN)

# Request/reply commands, served by a queue group per worker kind.
AUTH_LOGIN = "im.auth.login"
AUTH_LOGOUT = "im.auth.logout"
AUTH_SESSIONS = "im.auth.sessions"
AUTH_CHECK = "im.auth.check"
AUTH_FORCE_LOGOUT = "im.auth.force_logout"
AUTH_REGISTER = "im.auth.register"
AUTH_USER = "im.auth.user"

ROOMS_CREATE = "im.rooms.create"
ROOMS_JOIN = "im.rooms.join"
ROOMS_LEAVE = "im.rooms.leave"
ROOMS_DESTROY = "im.rooms.destroy"
ROOMS_LIST = "im.rooms.list"
ROOMS_INFO = "im.rooms.info"
ROOMS_MEMBERS = "im.rooms.members"
ROOMS_SEQS = "im.rooms.seqs"
ROOMS_ADMIN = "im.rooms.admin"
ROOMS_METRICS = "im.rooms.metrics"  # daily metrics over a date range

CHAT_SEND = "im.chat.send"
CHAT_PENDING = "im.chat.pending"
CHAT_ACK = "im.chat.ack"
CHAT_HISTORY = "im.chat.history"

MOD_ROOM_MUTE = "im.mod.room_mute"
MOD_ROOM_UNMUTE = "im.mod.room_unmute"
MOD_ROOM_KICK = "im.mod.room_kick"
MOD_ROOM_UNBAN = "im.mod.room_unban"
MOD_ROOM_MUTE_ALL = "im.mod.room_mute_all"
MOD_USER_MUTE = "im.mod.user_mute"
MOD_USER_UNMUTE = "im.mod.user_unmute"
MOD_USER_BAN = "im.mod.user_ban"
MOD_USER_UNBAN = "im.mod.user_unban"
MOD_BLOCK = "im.mod.block"
MOD_UNBLOCK = "im.mod.unblock"
MOD_BLOCKS = "im.mod.blocks"
MOD_BLOCK_STATUS = "im.mod.block_status"
MOD_AUDIT = "im.mod.audit"
MOD_USER_STATE = "im.mod.user_state"
MOD_ROOM_RATE = "im.mod.room_rate"

# Published by gateways and consumed by the rooms worker (presence) and the auth worker.
GATEWAY_PRESENCE_ALL = "gateway.*.presence"
GATEWAY_STATS_ALL = "gateway.*.stats"

# Published by every worker process once a second: its request counts and latency.
WORKER_METRICS = "workers.metrics"

BROADCAST_ALL = "broadcast.all"

# JetStream streams.
INBOX_STREAM = "MIMO_INBOX"
INBOX_STREAM_SUBJECTS = "inbox.*"
# The inbox stream republishes each stored message to `user.<uid>.inbox`, with its stream
# sequence in the `Nats-Sequence` header, so a gateway learns the `mid` of a live message.
# With `user.<uid>.ctl` beside it, a gateway needs one subscription per connected user.
INBOX_LIVE_SOURCE = "inbox.*"
INBOX_LIVE_DEST = "user.{{wildcard(1)}}.inbox"

ROOM_HISTORY_STREAM = "MIMO_ROOM_HISTORY"
ROOM_HISTORY_SUBJECTS = "room.*.msg"


class InvalidId(ValueError):
    """An id that cannot become a subject token."""


def check_id(value: str) -> str:
    """Return `value` when it is a valid user or room id, or raise `InvalidId`."""
    if not isinstance(value, str) or _ID_RE.match(value) is None:
        raise InvalidId(f"invalid id {value!r}: expected 1 to 64 of A-Z a-z 0-9 _ -")
    return value


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID_RE.match(value) is not None


def room_msg(room: str) -> str:
    return f"room.{check_id(room)}.msg"


def room_evt(room: str) -> str:
    return f"room.{check_id(room)}.evt"


def room_all(room: str) -> str:
    """Both the messages and the events of one room, for a gateway's single subscription."""
    return f"room.{check_id(room)}.*"


def inbox(uid: str) -> str:
    return f"inbox.{check_id(uid)}"


def user_inbox(uid: str) -> str:
    """Return the subject where the inbox stream republishes `uid`'s personal messages."""
    return f"user.{check_id(uid)}.inbox"


def user_all(uid: str) -> str:
    """Both the control messages and the live personal messages of one user."""
    return f"user.{check_id(uid)}.*"


def user_ctl(uid: str) -> str:
    return f"user.{check_id(uid)}.ctl"


def gateway_ctl(gateway_id: str) -> str:
    return f"gateway.{check_id(gateway_id)}.ctl"


def gateway_presence(gateway_id: str) -> str:
    return f"gateway.{check_id(gateway_id)}.presence"


def gateway_stats(gateway_id: str) -> str:
    return f"gateway.{check_id(gateway_id)}.stats"


def room_msg_id(room: str, seq: int) -> str:
    """Return the `Nats-Msg-Id` of a room message: one per room sequence number."""
    return f"{room}:{seq}"


def inbox_msg_id(sender: str, cid: str) -> str:
    """Return the `Nats-Msg-Id` of a personal message: one per sender and client message id."""
    return f"{sender}:{cid}"
