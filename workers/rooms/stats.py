"""Daily delivery counts from gateway reports, and the daily metrics query.

Gateways publish `gateway.<id>.stats` (`GatewayStats`) every second with the room messages
they delivered since their previous report; each report is added to the day's
`room_delivered` counter once, because the subscription is in the "rooms" queue group.
"""

import logging
from datetime import date, timedelta

import msgspec
from nats.aio.msg import Msg

from bus import subjects
from bus.codes import Code, CommandError
from bus.types import stats_decoder
from state import keys
from workers.runtime import WorkerContext

log = logging.getLogger("mimo.rooms.stats")

MAX_DAYS = 366  # days one daily-metrics query may cover

COUNTERS = ("p2p_up", "p2p_delivered", "room_up", "room_delivered", "rooms_created",
            "new_users")
UNIQUES = ("login_users", "active_users")  # HyperLogLogs, read with PFCOUNT


class MetricsQuery(msgspec.Struct, kw_only=True):
    """Days `start` to `end` inclusive, as YYYY-MM-DD (UTC)."""

    start: str
    end: str


def days_between(start: str, end: str) -> list[str]:
    """Every day from `start` to `end`, or raise 4003 for an invalid or too long range."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise CommandError(Code.INVALID_COMMAND,
                           f"invalid date range {start!r} to {end!r}: expected YYYY-MM-DD"
                           ) from None
    count = (last - first).days + 1
    if count < 1:
        raise CommandError(Code.INVALID_COMMAND, f"start {start} is after end {end}")
    if count > MAX_DAYS:
        raise CommandError(Code.INVALID_COMMAND,
                           f"{count} days requested; the maximum is {MAX_DAYS}")
    return [(first + timedelta(days=offset)).isoformat() for offset in range(count)]


class DailyStats:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    async def on_gateway_stats(self, msg: Msg) -> None:
        try:
            report = stats_decoder.decode(msg.data)
        except msgspec.DecodeError as error:
            log.warning("undecodable gateway stats subject=%s: %s", msg.subject, error)
            return
        if report.delivered_room > 0:
            self.ctx.counters.add("room_delivered", report.delivered_room)

    async def daily(self, data: bytes) -> dict:
        query = msgspec.msgpack.decode(data, type=MetricsQuery)
        days = days_between(query.start, query.end)
        pipe = self.ctx.redis.pipeline(transaction=False)
        for day in days:
            for name in COUNTERS:
                pipe.get(keys.metric_day(day, name))
            for name in UNIQUES:
                pipe.pfcount(keys.metric_day(day, name))
        results = await pipe.execute()
        width = len(COUNTERS) + len(UNIQUES)
        rows = []
        for index, day in enumerate(days):
            values = results[index * width:(index + 1) * width]
            row: dict = {"date": day}
            for name, value in zip(COUNTERS + UNIQUES, values, strict=True):
                row[name] = int(value or 0)
            rows.append(row)
        return {"days": rows}


async def setup(ctx: WorkerContext) -> None:
    stats = DailyStats(ctx)
    await ctx.nc.subscribe(subjects.GATEWAY_STATS_ALL, queue="rooms", cb=stats.on_gateway_stats)
    ctx.service.route(subjects.ROOMS_METRICS, stats.daily)
