"""Reports of this gateway's online members per room, published on the bus.

Changes are merged and published every `FLUSH_INTERVAL` seconds; every `presence_interval`
seconds the report also lists all rooms with local members, which renews this gateway's
presence in them before it expires after `presence_ttl` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from bus import subjects
from bus.types import PresenceReport, encode

if TYPE_CHECKING:
    from edge_gateway.gateway import Gateway

log = logging.getLogger("mimo.gateway.presence")

FLUSH_INTERVAL = 0.1  # seconds between reports of changes


class PresenceReporter:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._adds: dict[str, set[str]] = {}
        self._removes: dict[str, set[str]] = {}
        self._last_renewal = 0.0
        self._wakeup = asyncio.Event()

    def add(self, room: str, uid: str) -> None:
        if uid in self._removes.get(room, ()):
            self._removes[room].discard(uid)
        self._adds.setdefault(room, set()).add(uid)
        self._wakeup.set()

    def remove(self, room: str, uid: str) -> None:
        if uid in self._adds.get(room, ()):
            self._adds[room].discard(uid)
        self._removes.setdefault(room, set()).add(uid)
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wakeup.wait(), FLUSH_INTERVAL)
            except TimeoutError:
                pass
            await asyncio.sleep(FLUSH_INTERVAL)
            self._wakeup.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("presence report failed gateway=%s", self.gateway.id)

    async def flush(self, renew: bool = False) -> None:
        now = time.monotonic()
        renew = renew or now - self._last_renewal >= self.gateway.settings.presence_interval
        adds = {room: sorted(uids) for room, uids in self._adds.items() if uids}
        removes = {room: sorted(uids) for room, uids in self._removes.items() if uids}
        self._adds, self._removes = {}, {}
        if not adds and not removes and not renew:
            return
        rooms = None
        if renew:
            self._last_renewal = now
            rooms = sorted(room for room, channel in self.gateway.hub.channels.items()
                           if channel.users)
        report = PresenceReport(gateway=self.gateway.id, adds=adds, removes=removes, rooms=rooms)
        await self.gateway.nc.publish(subjects.gateway_presence(self.gateway.id), encode(report))
