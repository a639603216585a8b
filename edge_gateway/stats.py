"""Counts kept by the gateway and published once a second on `gateway.<id>.stats`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bus import subjects
from bus.types import FANOUT_BUCKETS, GatewayStats, encode

if TYPE_CHECKING:
    from edge_gateway.gateway import Gateway

log = logging.getLogger("mimo.gateway.stats")

PUBLISH_INTERVAL = 1.0  # seconds


class Stats:
    def __init__(self) -> None:
        self.delivered_room = 0
        self.delivered_p2p = 0
        self.dropped: dict[str, int] = {}
        self.shed_by_room: dict[tuple[str, str], int] = {}
        self.commands: dict[tuple[str, int], int] = {}
        self.logins = 0
        self.fanout = [0] * len(FANOUT_BUCKETS)
        self.fanout_over = 0
        self.fanout_sum = 0.0
        self._published_logins = 0
        self._published_commands: dict[tuple[str, int], int] = {}
        self._published_room = 0
        self._published_p2p = 0
        self._published_dropped: dict[str, int] = {}

    def count_drop(self, reason: str, amount: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + amount

    def count_shed(self, room: str, reason: str, amount: int) -> None:
        self.count_drop(f"shed_{reason}", amount)
        key = (room, reason)
        self.shed_by_room[key] = self.shed_by_room.get(key, 0) + amount

    def observe_fanout(self, seconds: float) -> None:
        for index, bound in enumerate(FANOUT_BUCKETS):
            if seconds <= bound:
                self.fanout[index] += 1
                break
        else:
            self.fanout_over += 1
        self.fanout_sum += seconds

    def count_command(self, op: str, code: int) -> None:
        key = (op, code)
        self.commands[key] = self.commands.get(key, 0) + 1

    def delta(self, gateway_id: str, connections: int) -> GatewayStats:
        """Return the counts since the previous call as a report."""
        report = GatewayStats(
            gateway=gateway_id,
            connections=connections,
            delivered_room=self.delivered_room - self._published_room,
            delivered_p2p=self.delivered_p2p - self._published_p2p,
            dropped={reason: count - self._published_dropped.get(reason, 0)
                     for reason, count in self.dropped.items()
                     if count != self._published_dropped.get(reason, 0)},
            logins=self.logins - self._published_logins,
            commands={f"{op} {code}": count - self._published_commands.get((op, code), 0)
                      for (op, code), count in self.commands.items()
                      if count != self._published_commands.get((op, code), 0)},
            fanout=self.fanout,
            fanout_over=self.fanout_over,
            fanout_sum=self.fanout_sum,
        )
        self.fanout = [0] * len(FANOUT_BUCKETS)
        self.fanout_over = 0
        self.fanout_sum = 0.0
        self._published_logins = self.logins
        self._published_commands = dict(self.commands)
        self._published_room = self.delivered_room
        self._published_p2p = self.delivered_p2p
        self._published_dropped = dict(self.dropped)
        return report


async def publish_loop(gateway: Gateway) -> None:
    while True:
        await asyncio.sleep(PUBLISH_INTERVAL)
        try:
            report = gateway.stats.delta(gateway.id, len(gateway.connections))
            await gateway.nc.publish(subjects.gateway_stats(gateway.id), encode(report))
        except Exception:
            log.exception("stats report failed gateway=%s", gateway.id)
