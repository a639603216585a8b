"""Counts kept by the gateway and published once a second on `gateway.<id>.stats`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bus import subjects
from bus.types import GatewayStats, encode

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
        self._published_room = 0
        self._published_p2p = 0
        self._published_dropped: dict[str, int] = {}

    def count_drop(self, reason: str, amount: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + amount

    def count_shed(self, room: str, reason: str, amount: int) -> None:
        self.count_drop(f"shed_{reason}", amount)
        key = (room, reason)
        self.shed_by_room[key] = self.shed_by_room.get(key, 0) + amount

    def count_command(self, op: str, code: int) -> None:
        key = (op, code)
        self.commands[key] = self.commands.get(key, 0) + 1

    def delta(self, gateway_id: str, connections: int) -> GatewayStats:
        """The counts since the previous call, as a report."""
        report = GatewayStats(
            gateway=gateway_id,
            connections=connections,
            delivered_room=self.delivered_room - self._published_room,
            delivered_p2p=self.delivered_p2p - self._published_p2p,
            dropped={reason: count - self._published_dropped.get(reason, 0)
                     for reason, count in self.dropped.items()
                     if count != self._published_dropped.get(reason, 0)},
        )
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
