"""The NATS connection helper and the request call that every bus client uses."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError

from bus.codes import Code, CommandError
from bus.types import Reply, encode, reply_decoder

log = logging.getLogger("mimo.bus")


async def connect(
    url: str,
    name: str,
    on_reconnected: Callable[[], Awaitable[None]] | None = None,
) -> Client:
    """Connect to NATS and keep reconnecting for as long as the process runs.

    Subscriptions are restored by the client after a reconnect; `on_reconnected` runs after
    each one, for state that may have missed messages while the connection was down.
    """

    async def disconnected() -> None:
        log.warning("nats disconnected name=%s", name)

    async def reconnected() -> None:
        log.info("nats reconnected name=%s url=%s", name, nc.connected_url)
        if on_reconnected is not None:
            await on_reconnected()

    async def error(exc: Exception) -> None:
        log.error("nats error name=%s: %s", name, exc)

    nc = await nats.connect(
        servers=[url],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
        allow_reconnect=True,
        pending_size=64 * 1024 * 1024,
    )
    return nc


async def connect_with_retry(
    url: str,
    name: str,
    on_reconnected: Callable[[], Awaitable[None]] | None = None,
    attempts: int = 60,
) -> Client:
    """Connect, retrying while NATS starts (for example under honcho, where order is loose)."""
    for attempt in range(1, attempts + 1):
        try:
            return await connect(url, name, on_reconnected)
        except (OSError, nats.errors.NoServersError) as exc:
            if attempt == attempts:
                raise
            log.info("nats not reachable yet url=%s attempt=%d: %s", url, attempt, exc)
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def call(nc: Client, subject: str, payload: object, timeout: float) -> Reply:
    """Send a request to a worker queue group and decode its reply.

    Raises `CommandError` with code -1 when no worker replies within `timeout` seconds.
    """
    try:
        msg = await nc.request(subject, encode(payload), timeout=timeout)
    except NoRespondersError:
        log.error("no worker is serving subject=%s", subject)
        raise CommandError(Code.INTERNAL, "service unavailable: try again later") from None
    except TimeoutError:
        log.error("request timed out subject=%s timeout=%.1fs", subject, timeout)
        raise CommandError(Code.INTERNAL, "service timed out: try again") from None
    return reply_decoder.decode(msg.data)



async def close_quietly(nc: Client, timeout: float = 2.0) -> None:
    """Drain `nc` when connected, else close it; at shutdown NATS may already be gone.

    Any failure here is logged at INFO and swallowed: the process is stopping either way.
    """
    if nc.is_connected:
        try:
            await asyncio.wait_for(nc.drain(), timeout)
            return
        except Exception as exc:
            log.info("nats drain skipped at shutdown: %r", exc)
    try:
        await asyncio.wait_for(nc.close(), timeout)
    except Exception as exc:
        log.info("nats close at shutdown failed: %r", exc)
