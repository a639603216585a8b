"""The gateway's background work: broadcasts, heartbeats, redelivery and session checks."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import msgspec
from nats.aio.msg import Msg
from websockets.exceptions import ConnectionClosed

from bus import subjects
from bus.codes import Close, CommandError
from bus.types import SessionCheckRequest, SessionRef, broadcast_decoder
from edge_gateway.codec import CODECS
from edge_gateway.connection import Connection
from edge_gateway.outbound import Frame

if TYPE_CHECKING:
    from edge_gateway.gateway import Gateway

log = logging.getLogger("mimo.gateway")

LIVENESS_INTERVAL = 1.0  # seconds between heartbeat, redelivery and slow-consumer checks


async def on_broadcast(gateway: Gateway, msg: Msg) -> None:
    """Deliver a platform-wide announcement to every logged-in connection."""
    try:
        broadcast = broadcast_decoder.decode(msg.data)
    except msgspec.DecodeError:
        log.error("undecodable broadcast")
        return
    item = {"op": "broadcast", "body": broadcast.body, "ts": broadcast.ts}
    encoded = {name: codec.encode_frame(item) for name, codec in CODECS.items()}
    for conn in list(gateway.connections):
        if conn.uid is not None:
            conn.outbound.push(Frame(encoded[conn.codec.name]))


async def liveness_loop(gateway: Gateway) -> None:
    """Close idle connections (4009), ping the others, check slow consumers and redeliver
    unacked personal messages, every `LIVENESS_INTERVAL` seconds."""
    while True:
        await asyncio.sleep(LIVENESS_INTERVAL)
        now = time.monotonic()
        for conn in list(gateway.connections):
            if conn.closing:
                continue
            if now - conn.last_seen > gateway.settings.idle_timeout:
                log.info("heartbeat timeout uid=%s session=%s", conn.uid, conn.session)
                gateway.close(conn, Close.HEARTBEAT_TIMEOUT, "heartbeat timeout")
                continue
            if now - conn.last_ping >= gateway.settings.heartbeat:
                conn.last_ping = now
                ping(gateway, conn)
            conn.outbound.check()
            for unacked in conn.unacked.values():
                if unacked.due <= now:
                    conn.outbound.push(Frame(unacked.data))
                    unacked.due = now + unacked.wait
                    unacked.wait = min(2 * unacked.wait, gateway.settings.ack_backoff_max)


def ping(gateway: Gateway, conn: Connection) -> None:
    async def send_ping() -> None:
        try:
            pong_waiter = await conn.ws.ping()
        except ConnectionClosed:
            return

        def pong(future: asyncio.Future) -> None:
            if not future.cancelled() and future.exception() is None:
                conn.last_seen = time.monotonic()

        pong_waiter.add_done_callback(pong)

    gateway.spawn(send_ping(), f"ping uid={conn.uid}")


async def session_check_loop(gateway: Gateway) -> None:
    while True:
        await asyncio.sleep(gateway.settings.session_check_interval)
        await check_sessions(gateway)


async def check_sessions(gateway: Gateway) -> None:
    """Close sessions that the auth worker no longer lists (a kick may have been lost)."""
    live = [conn for conn in gateway.connections if conn.uid and conn.session
            and not conn.closing]
    by_session = {conn.session: conn for conn in live}
    for start in range(0, len(live), 1000):
        chunk = live[start:start + 1000]
        request = SessionCheckRequest(
            gateway=gateway.id,
            sessions=[SessionRef(conn.uid or "", conn.session or "") for conn in chunk])
        try:
            data = await gateway.call_raw(subjects.AUTH_CHECK, request)
        except CommandError as error:
            log.error("session check failed: %s", error.message)
            return
        for _, session, code in data["gone"]:
            conn = by_session.get(session)
            if conn is not None:
                gateway.kick(conn, code, "session ended")
