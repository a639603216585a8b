"""Room batches for the baselines, shaped like the gateway's: the same `msg` objects, merged
over the same window, encoded once per batch and handed to a fan-out callback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from typing import Any

import msgspec

BATCH_WINDOW = 0.05  # seconds, the gateway's default MIMO_BATCH_WINDOW
BATCH_MAX = 100  # messages, the gateway's default MIMO_BATCH_MAX

encoder = msgspec.json.Encoder()


class Room:
    __slots__ = ("name", "members", "items", "seq", "timer")

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: set[Hashable] = set()
        self.items: list[dict[str, Any]] = []
        self.seq = 0
        self.timer: asyncio.TimerHandle | None = None


class Rooms:
    """Rooms by name; `deliver(members, data)` writes one encoded batch to every member."""

    def __init__(self, deliver: Callable[[set, bytes], None]) -> None:
        self.deliver = deliver
        self.rooms: dict[str, Room] = {}

    def join(self, name: str, member: Hashable) -> None:
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(name)
        room.members.add(member)

    def leave(self, member: Hashable) -> None:
        for room in self.rooms.values():
            room.members.discard(member)

    def send(self, name: str, sender: str, body: Any) -> None:
        room = self.rooms.get(name)
        if room is None:
            return
        room.seq += 1
        room.items.append({"op": "msg", "mid": f"{name}:{room.seq}", "from": sender,
                           "room": name, "body": body, "ts": int(time.time() * 1000),
                           "seq": room.seq, "ack": False, "priority": "normal"})
        if len(room.items) >= BATCH_MAX:
            self.flush(room)
        elif room.timer is None:
            room.timer = asyncio.get_running_loop().call_later(BATCH_WINDOW, self.flush, room)

    def flush(self, room: Room) -> None:
        if room.timer is not None:
            room.timer.cancel()
            room.timer = None
        if not room.items:
            return
        items, room.items = room.items, []
        self.deliver(room.members, encoder.encode(items[0] if len(items) == 1 else items))
