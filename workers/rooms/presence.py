"""Online counts from the gateways' presence reports.

Each gateway reports which users came online or went offline in each room on it, and renews
its presence in every room it holds members of every `presence_interval` seconds. A room's
online count is the number of distinct users online on at least one live gateway; what a
gateway reported expires `presence_ttl` seconds after its last renewal, so a crashed
gateway's users leave the count by themselves.
"""

import asyncio
import logging

from nats.aio.msg import Msg

from bus import subjects
from bus.types import PresenceReport, RoomOnline, encode, presence_decoder
from state import keys
from workers.runtime import WorkerContext, now_ms

log = logging.getLogger("mimo.presence")


class Presence:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        # Rooms whose count changed within the notice interval: notified on the next sweep.
        self._deferred: set[str] = set()

    async def start(self) -> None:
        await self.ctx.nc.subscribe(
            subjects.GATEWAY_PRESENCE_ALL, queue="rooms", cb=self._on_report
        )
        self.ctx.spawn(self._sweep_loop(), "presence sweep")

    async def _on_report(self, msg: Msg) -> None:
        try:
            report = presence_decoder.decode(msg.data)
            await self.apply(report)
        except Exception:
            log.exception("presence report failed subject=%s", msg.subject)

    async def apply(self, report: PresenceReport) -> None:
        ttl_ms = int(self.settings.presence_ttl * 1000)
        gateway = report.gateway
        rooms = set(report.adds) | set(report.removes) | set(report.rooms or ())
        if report.rooms is not None:
            await self.ctx.redis.zadd(keys.GATEWAYS, {gateway: now_ms() + ttl_ms})
        if rooms:
            await self.ctx.redis.sadd(keys.gateway_rooms(gateway), *rooms)
        for room in rooms:
            await self.update(room, gateway, report.adds.get(room, ()),
                              report.removes.get(room, ()))

    async def update(
        self, room: str, gateway: str = "", adds: object = (), removes: object = ()
    ) -> int:
        """Apply one gateway's changes to `room` (none for a sweep) and notify the members."""
        room_keys = keys.RoomKeys(room)
        adds, removes = list(adds), list(removes)  # type: ignore[call-overload]
        online, notify = await self.ctx.scripts.presence(
            keys=[room_keys.gateways, room_keys.online, room_keys.notified],
            args=[gateway, int(self.settings.presence_ttl * 1000),
                  int(self.settings.online_notify_interval * 1000), room_keys.tag,
                  len(adds), *adds, *removes],
        )
        if notify == 1:
            self._deferred.discard(room)
            event = RoomOnline(room=room, online=int(online))
            await self.ctx.nc.publish(subjects.room_evt(room), encode(event))
        elif notify == 2:
            self._deferred.add(room)
        return int(online)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(min(self.settings.presence_interval,
                                    self.settings.online_notify_interval))
            try:
                await self.sweep()
            except Exception:
                log.exception("presence sweep failed")

    async def sweep(self) -> None:
        """Remove what expired gateways reported, and send deferred room.online notices."""
        dead = await self.ctx.redis.zrangebyscore(keys.GATEWAYS, "-inf", now_ms())
        for gateway in dead:
            rooms = await self.ctx.redis.smembers(keys.gateway_rooms(gateway))
            for room in rooms:
                await self.update(room)
            await self.ctx.redis.delete(keys.gateway_rooms(gateway))
            await self.ctx.redis.zrem(keys.GATEWAYS, gateway)
            log.info("gateway expired gateway=%s rooms=%d", gateway, len(rooms))
        deferred, self._deferred = self._deferred, set()
        for room in deferred:
            await self.update(room)
