"""The scenarios and their default sizes; `--scale` shrinks them for a quick check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_TARGETS = ("mimo", "ws_broadcast", "floor", "nats")

# The hard RLIMIT_NOFILE of this machine's processes is 20,000 and cannot be raised, so
# neither the gateway nor the load generator can hold 20,000 sockets plus their other files.
IDLE_CONNECTIONS = 19_500

# The slow-client scenario makes its stalled reader fall behind within seconds. A 4 KiB
# SO_RCVBUF and a 536-byte TCP_MAXSEG, set before it connects, keep the kernels' buffers
# for it near 130 KB on this machine. Without them the gateway's send buffer grew to 4 MiB.
# A lower high-water mark and close delay than the defaults (256 KiB, 5 s) make the gateway
# shed and then close it with 4008 well inside one 12 s step.
SLOW_RECEIVE_BUFFER = 4096  # bytes
SLOW_MAX_SEGMENT = 536  # bytes
SLOW_GATEWAY_ENV = {"MIMO_OUTBOUND_HIGH_WATER": str(32 * 1024), "MIMO_SLOW_CLOSE_AFTER": "2"}


@dataclass
class Scenario:
    name: str
    title: str
    targets: tuple[str, ...]
    config: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    server_env: dict[str, str] = field(default_factory=dict)  # extra MIMO_* settings


def build(duration: float, scale: float, rates: list[float]) -> dict[str, Scenario]:
    def size(value: int) -> int:
        return max(2, int(value * scale))

    return {scenario.name: scenario for scenario in (
        Scenario("one_room", f"1 room of {size(5000)}", ALL_TARGETS,
                 {"rooms": 1, "members": size(5000), "senders_per_room": 10, "sampled": 50},
                 [{"rate": rate, "duration": duration} for rate in rates]),
        Scenario("many_rooms", f"{size(100)} rooms of 50", ALL_TARGETS,
                 {"rooms": size(100), "members": 50, "senders_per_room": 1,
                  "sampled": size(100)},
                 [{"rate": 2.0 * size(100), "duration": duration}]),
        Scenario("idle", f"{size(IDLE_CONNECTIONS)} idle connections", ALL_TARGETS,
                 {"rooms": 1, "members": size(IDLE_CONNECTIONS), "senders_per_room": 0,
                  "idle": True}),
        # Every second message is low priority, so that batches are mixed and a slow
        # connection first gets copies without the low messages, then gap notices only.
        Scenario("slow", f"1 slow client among {size(1000)}", ("mimo",),
                 {"rooms": 1, "members": size(1000), "senders_per_room": 10, "sampled": 50,
                  "pad": 300, "low_every": 2, "slow_receive_buffer": SLOW_RECEIVE_BUFFER,
                  "slow_max_segment": SLOW_MAX_SEGMENT},
                 [{"rate": 200.0, "duration": max(duration, 12.0)},
                  {"rate": 200.0, "duration": max(duration, 12.0), "slow": True}],
                 SLOW_GATEWAY_ENV),
    )}
