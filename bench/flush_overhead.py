"""Measure the gateway's own Python cost per room delivery, with sockets taken out.

Builds a `RoomChannel` with members whose transports discard writes, flushes one-message
batches to them, and prints the time per 1,000 deliveries. The figure excludes the system
calls that the real fan-out makes (the floor baseline measures those), so it shows how much
the gateway adds on top of them. Run: `.venv/bin/python -m bench.flush_overhead [MEMBERS]`.
"""

import sys
import time
import types

from websockets.protocol import State

from edge_gateway.codec import CODECS, JSON
from edge_gateway.outbound import Outbound
from edge_gateway.rooms import Member, RoomChannel
from edge_gateway.stats import Stats

BATCHES = 400  # one-message batches flushed per measurement
ROUNDS = 3  # measurements; the best one is printed


class DiscardingTransport:
    def write(self, data: bytes) -> None:
        pass


class IdleWebSocket:
    """The parts of a websockets connection that `Outbound` reads, always writable."""

    paused = False

    def __init__(self) -> None:
        self.protocol = types.SimpleNamespace(state=State.OPEN)
        self.transport = DiscardingTransport()


class IdleConnection:
    def __init__(self) -> None:
        self.ws = IdleWebSocket()
        self.codec = CODECS[JSON]
        self.uid = "member"
        self.outbound = Outbound(self.ws, self.codec.encode_frame, 1 << 18, 1 << 23, 5.0,
                                 lambda: None, lambda *_: None)


def measure(members: int) -> float:
    """Return the best time per 1,000 deliveries, in milliseconds, over `ROUNDS` runs."""
    # A zero window makes every message its own batch, flushed at once without a timer.
    settings = types.SimpleNamespace(batch_max=100, batch_window=0, gap_hold=0.2)
    hub = types.SimpleNamespace(settings=settings, gateway=types.SimpleNamespace(stats=Stats()))
    channel = RoomChannel("bench", hub)  # type: ignore[arg-type]
    for _ in range(members):
        conn = IdleConnection()
        channel.members[conn] = Member(conn, resuming=False)  # type: ignore[arg-type]

    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for seq in range(1, BATCHES + 1):
            channel._emit({"op": "msg", "mid": f"bench:{seq}", "from": "host", "room": "bench",
                           "body": {"text": "hello"}, "ts": int(time.time() * 1000),
                           "seq": seq, "ack": False, "priority": "normal"}, 1, seq, seq)
        elapsed = time.perf_counter() - started
        best = min(best, elapsed / (BATCHES * members) * 1_000_000)
    channel.close()
    return best


def main() -> None:
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    print(f"{measure(members):.3f} ms per 1,000 deliveries to {members} members "
          "(gateway Python only, no socket writes)")


if __name__ == "__main__":
    main()
