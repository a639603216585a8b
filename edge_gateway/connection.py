"""One client connection: its session, its rooms, its outbound buffer and unacked messages."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.server import ServerConnection

from edge_gateway.codec import Codec
from edge_gateway.outbound import Frame, Outbound


class Unacked:
    """A personal message delivered with `ack: true` and not acked yet."""

    __slots__ = ("data", "due", "wait")

    def __init__(self, data: bytes, due: float, wait: float) -> None:
        self.data = data
        self.due = due  # monotonic time of the next redelivery
        self.wait = wait  # seconds until the redelivery after that


class Connection:
    # Slots keep an idle connection small, since one gateway has tens of thousands of them.
    __slots__ = ("ws", "codec", "address", "uid", "session", "version", "platform_class",
                 "logging_in", "closing", "close_task", "rooms", "unacked", "inbox_buffer",
                 "last_seen", "last_ping", "outbound")

    def __init__(self, ws: ServerConnection, codec: Codec, address: str) -> None:
        self.ws = ws
        self.codec = codec
        self.address = address
        self.uid: str | None = None
        self.session: str | None = None
        self.version = 0
        self.platform_class = "other"
        self.logging_in = False
        self.closing = False
        self.close_task: asyncio.Task | None = None
        self.rooms: set[str] = set()
        self.unacked: dict[str, Unacked] = {}
        # Personal messages that arrived while login delivered the pending ones; None after.
        self.inbox_buffer: list[tuple[int, bytes, dict[str, Any]]] | None = []
        self.last_seen = time.monotonic()
        self.last_ping = self.last_seen
        self.outbound: Outbound = None  # type: ignore[assignment]  # set by the gateway next

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def push(self, obj: Any) -> None:
        """Queue one object that is never shed (a reply, a notice, a personal message)."""
        self.outbound.push(Frame(self.codec.encode_frame(obj)))
