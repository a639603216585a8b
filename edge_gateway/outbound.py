"""A connection's bounded outbound buffer, with a direct path to the socket.

Frames arrive here already framed for the wire (`edge_gateway.codec.Codec.frame`), so the
same bytes go to every member of a room. While the connection's transport accepts data
(websockets has not paused writing) and nothing is queued, a frame is written at once,
with no task switch. Otherwise it waits in the queue, which a writer task, started only
then, drains as the transport allows.

No client can block the broadcast, because producers never wait: they write to a transport
that accepts data, or append to the queue. Past the high-water mark, a queued room batch
loses its `low` messages (and its `normal` ones past twice the mark), with a `gap` notice in
their place. A connection that stays over the mark for `slow_close_after` seconds, or whose
queue would pass `limit` bytes, is closed with 4008. Replies, personal messages and `high`
messages are never dropped, so `limit` is what bounds the buffer.
"""

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

_OPEN = State.OPEN
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2}
RANK_NEVER_SHED = 3  # replies and personal messages


def gap_notice(room: str, from_seq: int, to_seq: int) -> dict[str, Any]:
    return {"op": "gap", "room": room, "from_seq": from_seq, "to_seq": to_seq}


class Frame:
    """One framed message. Room batches also carry their room, seq range and items, so a
    slow connection can get a copy without its low-priority messages."""

    __slots__ = ("data", "rank", "room", "from_seq", "to_seq", "gap", "items")

    def __init__(
        self, data: bytes, rank: int = RANK_NEVER_SHED, room: str | None = None,
        from_seq: int = 0, to_seq: int = 0, gap: bool = False,
        items: list[dict[str, Any]] | None = None,
    ) -> None:
        self.data = data
        self.rank = rank  # the highest priority rank among the items
        self.room = room
        self.from_seq = from_seq
        self.to_seq = to_seq
        self.gap = gap
        self.items = items  # shared by every member's frame: never modified


class Outbound:
    __slots__ = ("_ws", "_protocol", "_transport", "_encode_frame", "high_water", "limit",
                 "slow_close_after", "_on_slow", "_on_shed", "_queue", "queued_bytes",
                 "_writer", "_over_since", "closed")

    def __init__(
        self,
        ws: ServerConnection,
        encode_frame: Callable[[Any], bytes],
        high_water: int,
        limit: int,
        slow_close_after: float,
        on_slow: Callable[[], None],
        on_shed: Callable[[str, str, int], None],
    ) -> None:
        self._ws = ws
        self._protocol = ws.protocol
        self._transport = ws.transport
        self._encode_frame = encode_frame
        self.high_water = high_water
        self.limit = limit
        self.slow_close_after = slow_close_after
        self._on_slow = on_slow
        self._on_shed = on_shed
        self._queue: deque[Frame] = deque()
        self.queued_bytes = 0  # bytes in the queue, not yet handed to the transport
        self._writer: asyncio.Task | None = None  # runs only while the queue is not empty
        self._over_since: float | None = None  # monotonic time the queue went over high water
        self.closed = False

    def push_batch(self, data: bytes, batch: tuple[int, str, int, int, list[dict[str, Any]]]
                   ) -> None:
        """Push room batch bytes that every member shares.

        `batch` is (rank, room, from_seq, to_seq, items). The `Frame` is built only when the
        batch has to wait in the queue.
        """
        if not self._queue and not self.closed and not self._ws.paused \
                and self._protocol.state is _OPEN:
            self._transport.write(data)
            return
        rank, room, from_seq, to_seq, items = batch
        self.push(Frame(data, rank, room, from_seq, to_seq, items=items))

    def push(self, frame: Frame) -> None:
        if self.closed:
            return
        if not self._queue and not self._ws.paused and self._protocol.state is _OPEN:
            # Whole frames only, so these writes never split one of websockets' own frames.
            self._transport.write(frame.data)
            return
        if self.queued_bytes > self.high_water and frame.room is not None:
            # Past twice the mark normal messages go too, not only low ones.
            shed_rank = 1 if self.queued_bytes > 2 * self.high_water else 0
            if frame.items is not None and frame.rank > shed_rank:
                frame = self._without_low(frame, shed_rank)
            elif frame.rank <= shed_rank:
                self._shed(frame)
                self._check_slow()
                return
        if self.queued_bytes + len(frame.data) > self.limit:
            self._on_slow()
            return
        self._append(frame)
        self._check_slow()

    def _append(self, frame: Frame) -> None:
        self._queue.append(frame)
        self.queued_bytes += len(frame.data)
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())

    def _encode_gap(self, room: str, from_seq: int, to_seq: int) -> bytes:
        return self._encode_frame(gap_notice(room, from_seq, to_seq))

    def _shed(self, frame: Frame) -> None:
        """Replace a whole batch by a gap notice, merged with a queued gap just before it."""
        assert frame.room is not None
        reason = "low" if frame.rank == 0 else "normal"
        self._on_shed(frame.room, reason, frame.to_seq - frame.from_seq + 1)
        last = self._queue[-1] if self._queue else None
        if last is not None and last.gap and last.room == frame.room and \
                last.to_seq + 1 == frame.from_seq:
            self.queued_bytes -= len(last.data)
            last.to_seq = frame.to_seq
            last.data = self._encode_gap(frame.room, last.from_seq, last.to_seq)
            self.queued_bytes += len(last.data)
            return
        data = self._encode_gap(frame.room, frame.from_seq, frame.to_seq)
        self._append(Frame(data, RANK_NEVER_SHED, frame.room, frame.from_seq, frame.to_seq,
                           gap=True))

    def _without_low(self, frame: Frame, shed_rank: int) -> Frame:
        """Copy a mixed batch for this connection alone, with its messages of rank up to
        `shed_rank` replaced by gap notices."""
        assert frame.items is not None and frame.room is not None
        kept: list[dict[str, Any]] = []
        gap_from = 0
        for item in frame.items:
            first_seq = item["seq"] if item["op"] == "msg" else item["from_seq"]
            if item["op"] == "msg" and PRIORITY_RANK.get(item["priority"], 1) <= shed_rank:
                self._on_shed(frame.room, item["priority"], 1)
                if not gap_from:
                    gap_from = first_seq
                continue
            if gap_from:
                kept.append(gap_notice(frame.room, gap_from, first_seq - 1))
                gap_from = 0
            kept.append(item)
        if gap_from:
            kept.append(gap_notice(frame.room, gap_from, frame.to_seq))
        payload: Any = kept[0] if len(kept) == 1 else kept
        return Frame(self._encode_frame(payload), frame.rank, frame.room, frame.from_seq,
                     frame.to_seq)

    def _check_slow(self) -> None:
        if self.queued_bytes <= self.high_water:
            self._over_since = None
            return
        now = time.monotonic()
        if self._over_since is None:
            self._over_since = now
        elif now - self._over_since >= self.slow_close_after:
            self._on_slow()

    def check(self) -> None:
        """Called periodically: close a connection that stayed behind even without new frames."""
        if self._over_since is not None:
            self._check_slow()

    def drop_room(self, room: str) -> None:
        """Remove queued frames of `room` (after leave or kick, nothing of it arrives)."""
        kept = deque(frame for frame in self._queue if frame.room != room)
        self.queued_bytes = sum(len(frame.data) for frame in kept)
        self._queue = kept

    async def _drain(self) -> None:
        """Write queued frames in order as the transport accepts them, then stop."""
        ws = self._ws
        try:
            while self._queue and not self.closed:
                if ws.paused:
                    await ws.drain()
                    continue
                if self._protocol.state is not _OPEN:
                    break
                frame = self._queue.popleft()
                self.queued_bytes -= len(frame.data)
                if self.queued_bytes <= self.high_water:
                    self._over_since = None
                self._transport.write(frame.data)
        except Exception:
            # The connection is gone; its handler cleans up.
            self.close()
        finally:
            self._writer = None

    def close(self) -> None:
        self.closed = True
        self._queue.clear()
        self.queued_bytes = 0
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
            self._writer = None
