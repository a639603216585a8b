"""Run one gateway process: `python -m edge_gateway`."""

import asyncio
import logging
import secrets
import signal

import uvloop
from websockets.asyncio.server import serve
from websockets.http11 import Response

from bus.connection import close_quietly, connect_with_retry
from edge_gateway.codec import SUBPROTOCOLS
from edge_gateway.gateway import Gateway
from mimo import logs
from mimo.settings import Settings, load_or_exit

log = logging.getLogger("mimo.gateway")

WS_PATH = "/ws"
CLOSE_TIMEOUT = 2.0  # seconds a close handshake may take before the TCP connection is cut


def _process_request(connection, request):  # noqa: ANN001, ANN202
    if request.path.split("?", 1)[0] != WS_PATH:
        return connection.respond(404, f"not found: the WebSocket endpoint is {WS_PATH}\n")
    return None


def _select_subprotocol(connection, offered):  # noqa: ANN001, ANN202
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    return None


async def main(settings: Settings) -> None:
    gateway_id = settings.gateway_id or f"gw-{secrets.token_hex(4)}"
    gateway: Gateway | None = None

    async def reconnected() -> None:
        if gateway is not None:
            await gateway.on_nats_reconnected()

    nc = await connect_with_retry(settings.nats_url, f"mimo-gateway-{gateway_id}", reconnected)
    gateway = Gateway(settings, nc, gateway_id)
    await gateway.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async with serve(
        gateway.handle,
        settings.gateway_host,
        settings.gateway_port,
        subprotocols=list(SUBPROTOCOLS),
        select_subprotocol=_select_subprotocol,
        process_request=_process_request,
        max_size=settings.max_frame,
        ping_interval=None,  # the gateway runs its own heartbeat, which closes with 4009
        close_timeout=CLOSE_TIMEOUT,
        compression=None,  # per-message compression would defeat encode-once fan-out
        reuse_port=True,
    ):
        log.info("gateway started id=%s url=ws://%s:%d%s", gateway_id, settings.gateway_host,
                 settings.gateway_port, WS_PATH)
        await stop.wait()
        log.info("gateway stopping id=%s", gateway_id)
        await gateway.shutdown()
    await close_quietly(nc)
    log.info("gateway stopped id=%s", gateway_id)


def run() -> None:
    settings = load_or_exit()
    logs.setup(settings.log_level, "gateway")
    uvloop.run(main(settings))


if __name__ == "__main__":
    run()

_ = Response  # the type of `_process_request`'s result
