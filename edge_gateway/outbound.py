"""A connection's bounded outbound buffer, written by one writer task.

Never blocks the broadcast on one client: producers only append. Past the high-water mark a
room batch without `high` messages is shed (`low` first, then `normal` past twice the mark)
and replaced by a `gap` notice; a connection that stays over the mark for
`slow_close_after` seconds, or whose queue would pass `limit` bytes, is closed with 4008.
Replies, personal messages and `high` messages are never shed, so `limit` is what bounds
the buffer.
"""

import asyncio
import time
from collections import deque
from collections.abc import Callable

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2}
RANK_NEVER_SHED = 3  # replies and personal messages


class Frame:
    """One queued frame; `room` and the seq range are set for room batches."""

    __slots__ = ("data", "rank", "room", "from_seq", "to_seq", "gap")

    def __init__(
        self, data: bytes, rank: int = RANK_NEVER_SHED, room: str | None = None,
        from_seq: int = 0, to_seq: int = 0, gap: bool = False,
    ) -> None:
        self.data = data
        self.rank = rank
        self.room = room
        self.from_seq = from_seq
        self.to_seq = to_seq
        self.gap = gap


class Outbound:
    def __init__(
        self,
        send: Callable[[bytes], "asyncio.Future | object"],
        encode_gap: Callable[[str, int, int], bytes],
        high_water: int,
        limit: int,
        slow_close_after: float,
        on_slow: Callable[[], None],
        on_shed: Callable[[str, str, int], None],
    ) -> None:
        self._send = send
        self._encode_gap = encode_gap
        self.high_water = high_water
        self.limit = limit
        self.slow_close_after = slow_close_after
        self._on_slow = on_slow
        self._on_shed = on_shed
        self._queue: deque[Frame] = deque()
        self.queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._over_since: float | None = None  # monotonic time the queue went over high water
        self.closed = False

    def push(self, frame: Frame) -> None:
        if self.closed:
            return
        if self.queued_bytes > self.high_water and frame.rank < RANK_NEVER_SHED:
            limit_rank = 1 if self.queued_bytes > 2 * self.high_water else 0
            if frame.rank <= limit_rank and frame.room is not None:
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
        self._wakeup.set()

    def _shed(self, frame: Frame) -> None:
        reason = "low" if frame.rank == 0 else "normal"
        self._on_shed(frame.room or "", reason, frame.to_seq - frame.from_seq + 1)
        last = self._queue[-1] if self._queue else None
        if last is not None and last.gap and last.room == frame.room and \
                last.to_seq + 1 == frame.from_seq:
            self.queued_bytes -= len(last.data)
            last.to_seq = frame.to_seq
            last.data = self._encode_gap(frame.room or "", last.from_seq, last.to_seq)
            self.queued_bytes += len(last.data)
            return
        data = self._encode_gap(frame.room or "", frame.from_seq, frame.to_seq)
        self._append(Frame(data, RANK_NEVER_SHED, frame.room, frame.from_seq, frame.to_seq,
                           gap=True))

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

    async def run(self) -> None:
        """Write queued frames in order until closed; a failed write ends the loop."""
        while not self.closed:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            frame = self._queue.popleft()
            self.queued_bytes -= len(frame.data)
            if self.queued_bytes <= self.high_water:
                self._over_since = None
            await self._send(frame.data)  # type: ignore[misc]

    def close(self) -> None:
        self.closed = True
        self._queue.clear()
        self.queued_bytes = 0
        self._wakeup.set()
