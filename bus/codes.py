"""Response codes of the client protocol, shared by the gateway, the workers and the REST API."""

from enum import IntEnum


class Code(IntEnum):
    OK = 0
    INTERNAL = -1

    AUTH_FAILED = 1000
    USER_BANNED = 1001
    USER_NOT_FOUND = 1002
    KICKED_BY_NEWER_LOGIN = 1003
    USER_OFFLINE = 1004
    NOT_LOGGED_IN = 1005
    USER_MUTED = 1006
    FORCED_LOGOUT = 1007

    ROOM_NOT_FOUND = 2000
    ROOM_FULL = 2001
    ROOM_MUTED = 2002
    ROOM_BANNED = 2003
    NOT_A_MEMBER = 2004
    PERMISSION_DENIED = 2005
    ROOM_EXISTS = 2006

    NOT_ON_GATEWAY = 3000

    BLOCKED = 4000
    USER_RATE_LIMITED = 4001
    ROOM_RATE_LIMITED = 4002
    INVALID_COMMAND = 4003
    BODY_TOO_LARGE = 4004
    INBOX_FULL = 4005


class Close(IntEnum):
    """WebSocket close codes, a namespace apart from response codes."""

    NORMAL = 1000
    GOING_AWAY = 1001
    INVALID_UTF8 = 1007
    POLICY_VIOLATION = 1008
    TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    USER_BANNED = 4001
    FORCED_LOGOUT = 4002
    NEWER_LOGIN = 4003
    SLOW_CONSUMER = 4008
    HEARTBEAT_TIMEOUT = 4009


class CommandError(Exception):
    """A command that failed with a protocol code; the message names the failing value."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
