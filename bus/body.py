"""Checks on a message body, shared by the gateway and the REST API.

A body is any JSON value that MessagePack can carry too, so that clients of either
subprotocol can receive it: no MessagePack `bin` or `ext`, no NaN or infinity, and no
integer outside 64 bits.
"""

import math
from typing import Any

import msgspec

from bus.codes import Code, CommandError

MAX_DEPTH = 32  # nesting levels in a body

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


def check_value(value: Any, depth: int = 0) -> None:
    """Raise `CommandError` 4003 when `value` cannot be carried by both subprotocols."""
    if depth > MAX_DEPTH:
        raise CommandError(Code.INVALID_COMMAND, f"body is nested deeper than {MAX_DEPTH}")
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise CommandError(Code.INVALID_COMMAND, "body has an integer outside 64 bits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CommandError(Code.INVALID_COMMAND, "body has a NaN or infinite number")
        return
    if isinstance(value, list):
        for item in value:
            check_value(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CommandError(Code.INVALID_COMMAND, "body has an object key that is "
                                   "not a string")
            check_value(item, depth + 1)
        return
    kind = "bin" if isinstance(value, bytes | bytearray | memoryview) else type(value).__name__
    raise CommandError(Code.INVALID_COMMAND, f"body has a value of type {kind}, which JSON "
                       "cannot carry")


def check_body(value: Any, encoded_size: int, max_body: int) -> None:
    """Check a body's size (in its sender's encoding) and that both encodings can carry it."""
    if encoded_size > max_body:
        raise CommandError(Code.BODY_TOO_LARGE,
                           f"body is {encoded_size} bytes; the limit is {max_body}")
    check_value(value)


_json = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()


def json_size(value: Any) -> int:
    return len(_json.encode(value))


def msgpack_size(value: Any) -> int:
    return len(_msgpack.encode(value))
