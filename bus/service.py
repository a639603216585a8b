"""A worker process's request loop: subscribe to subjects in a queue group and reply.

Every handler runs in its own task, bounded by `MAX_IN_FLIGHT`; the reply is a `Reply`.
A `CommandError` becomes its code, and an undecodable or invalid payload becomes 4003.
Anything else is logged with its traceback and gets -1, without details.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg

from bus.codes import Code, CommandError
from bus.types import Reply, encode

log = logging.getLogger("mimo.service")

MAX_IN_FLIGHT = 512  # concurrent requests per worker process

Handler = Callable[[bytes], Awaitable[dict[str, Any] | None]]


class Metrics:
    """Request counts and latency per subject, kept in memory for /metrics."""

    BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, list[float]] = {}

    def observe(self, subject: str, code: int, seconds: float) -> None:
        key = (subject, code)
        self.requests[key] = self.requests.get(key, 0) + 1
        buckets = self.latency.get(subject)
        if buckets is None:
            buckets = self.latency[subject] = [0.0] * (len(self.BUCKETS) + 2)
        for index, bound in enumerate(self.BUCKETS):
            if seconds <= bound:
                buckets[index] += 1
        buckets[-2] += 1  # count
        buckets[-1] += seconds  # sum


class Service:
    def __init__(self, nc: Client, queue: str) -> None:
        self.nc = nc
        self.queue = queue
        self.metrics = Metrics()
        self._handlers: dict[str, Handler] = {}
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: set[asyncio.Task] = set()

    def route(self, subject: str, handler: Handler) -> None:
        self._handlers[subject] = handler

    async def start(self) -> None:
        for subject in self._handlers:
            await self.nc.subscribe(subject, queue=self.queue, cb=self._on_message)
        await self.nc.flush()
        log.info("serving queue=%s subjects=%s", self.queue, ",".join(self._handlers))

    async def _on_message(self, msg: Msg) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._handle(msg))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _handle(self, msg: Msg) -> None:
        started = time.perf_counter()
        handler = self._handlers[msg.subject]
        try:
            data = await handler(msg.data)
            reply = Reply(data=data or {})
        except CommandError as error:
            reply = Reply(code=int(error.code), error=error.message)
        except msgspec.DecodeError as error:  # ValidationError is a DecodeError too
            reply = Reply(code=int(Code.INVALID_COMMAND), error=f"invalid request: {error}")
        except Exception:
            log.exception("request failed subject=%s", msg.subject)
            reply = Reply(code=int(Code.INTERNAL), error="internal error")
        self.metrics.observe(msg.subject, reply.code, time.perf_counter() - started)
        if msg.reply:
            try:
                await msg.respond(encode(reply))
            except Exception:
                log.exception("reply failed subject=%s", msg.subject)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
