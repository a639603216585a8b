"""Start-up and shutdown shared by every worker kind."""

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import uvloop
from nats.aio.client import Client
from nats.js import JetStreamContext
from redis.asyncio import Redis

from bus import subjects
from bus.codes import Code, CommandError
from bus.connection import close_quietly, connect_with_retry
from bus.service import Service
from bus.types import Actor, WorkerMetrics, encode
from mimo import logs
from mimo.settings import Settings, load_or_exit
from state import keys
from state.client import connect as connect_state
from state.scripts import Scripts

log = logging.getLogger("mimo.worker")

FLUSH_INTERVAL = 1.0  # seconds between flushes of batched counters
SHUTDOWN_FLUSH_TIMEOUT = 2.0  # seconds the last flush may take when Valkey may be gone
METRICS_INTERVAL = 1.0  # seconds between reports on subjects.WORKER_METRICS
# Each worker process publishes its cumulative `WorkerMetrics` here; the API aggregates them
# for GET /metrics.


class DailyCounters:
    """Daily metrics counted in memory and written to Valkey once a second.

    Nothing on the send path waits for a counter; a process killed with SIGKILL loses at most
    its last second of counts.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._counts: dict[tuple[str, str], int] = {}
        self._uniques: dict[tuple[str, str], set[str]] = {}
        self.totals: dict[str, int] = {}  # per name since the process started, for /metrics

    @staticmethod
    def today() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%d")

    def add(self, name: str, amount: int = 1) -> None:
        key = (self.today(), name)
        self._counts[key] = self._counts.get(key, 0) + amount
        self.totals[name] = self.totals.get(name, 0) + amount

    def unique(self, name: str, member: str) -> None:
        self._uniques.setdefault((self.today(), name), set()).add(member)

    async def flush(self) -> None:
        counts, self._counts = self._counts, {}
        uniques, self._uniques = self._uniques, {}
        if not counts and not uniques:
            return
        pipe = self._redis.pipeline(transaction=False)
        for (day, name), amount in counts.items():
            pipe.incrby(keys.metric_day(day, name), amount)
        for (day, name), members in uniques.items():
            pipe.pfadd(keys.metric_day(day, name), *members)
        try:
            await pipe.execute()
        except Exception:
            log.exception("flush of daily counters failed; they are added back")
            for key, amount in counts.items():
                self._counts[key] = self._counts.get(key, 0) + amount
            for key, members in uniques.items():
                self._uniques.setdefault(key, set()).update(members)


class WorkerContext:
    """Connections and helpers a worker's handlers share."""

    def __init__(
        self, settings: Settings, nc: Client, redis: Redis, scripts: Scripts, service: Service
    ) -> None:
        self.settings = settings
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.redis = redis
        self.scripts = scripts
        self.service = service
        self.counters = DailyCounters(redis)
        self.background: set[asyncio.Task] = set()

    async def count_command(self, actor: Actor) -> None:
        """Count one command against the user's rate (4001 over it); REST calls are exempt."""
        if actor.uid is None or actor.api or actor.internal:
            return
        self.counters.unique("active_users", actor.uid)
        allowed = await self.scripts.user_rate(
            keys=[keys.UserKeys(actor.uid).rate],
            args=[self.settings.user_rate, self.settings.user_burst],
        )
        if not allowed:
            raise CommandError(Code.USER_RATE_LIMITED, f"too many commands from user {actor.uid}")

    def spawn(self, coro: Awaitable[None], what: str) -> None:
        """Run `coro` in the background; a failure is logged with `what`."""

        async def guarded() -> None:
            try:
                await coro
            except Exception:
                log.exception("background task failed: %s", what)

        task = asyncio.create_task(guarded())
        self.background.add(task)
        task.add_done_callback(self.background.discard)


async def _flush_loop(ctx: WorkerContext) -> None:
    while True:
        await asyncio.sleep(FLUSH_INTERVAL)
        await ctx.counters.flush()


async def _metrics_loop(ctx: WorkerContext, kind: str) -> None:
    instance = f"{kind}-{socket.gethostname()}-{os.getpid()}"
    while True:
        await asyncio.sleep(METRICS_INTERVAL)
        metrics = ctx.service.metrics
        report = WorkerMetrics(
            kind=kind,
            instance=instance,
            requests=[(subject, code, count)
                      for (subject, code), count in metrics.requests.items()],
            latency={subject: list(buckets) for subject, buckets in metrics.latency.items()},
            counters=dict(ctx.counters.totals),
        )
        try:
            await ctx.nc.publish(subjects.WORKER_METRICS, encode(report))
        except Exception:
            log.exception("metrics report failed kind=%s", kind)


def now_ms() -> int:
    return int(time.time() * 1000)


def run(kind: str, setup: Callable[[WorkerContext], Awaitable[None]]) -> None:
    """Run a worker process of `kind` until SIGINT or SIGTERM."""
    settings = load_or_exit()
    logs.setup(settings.log_level, kind)
    uvloop.run(_main(kind, settings, setup))


async def _main(
    kind: str, settings: Settings, setup: Callable[[WorkerContext], Awaitable[None]]
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    nc = await connect_with_retry(settings.nats_url, f"mimo-{kind}")
    redis, scripts = await connect_state(settings.redis_url)
    service = Service(nc, queue=kind)
    ctx = WorkerContext(settings, nc, redis, scripts, service)
    await setup(ctx)
    await service.start()
    flusher = asyncio.create_task(_flush_loop(ctx))
    reporter = asyncio.create_task(_metrics_loop(ctx, kind))
    log.info("%s worker started", kind)

    await stop.wait()
    log.info("%s worker stopping", kind)
    await close_quietly(nc)
    await service.drain()
    flusher.cancel()
    reporter.cancel()
    try:
        await asyncio.wait_for(ctx.counters.flush(), SHUTDOWN_FLUSH_TIMEOUT)
    except TimeoutError:
        log.error("final flush of daily counters timed out; the last second is lost")
    await redis.aclose()
    log.info("%s worker stopped", kind)
