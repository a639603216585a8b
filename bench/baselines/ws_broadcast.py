"""Baseline (a): a bare `websockets` server that fans batches out with `broadcast`.

Run `python -m bench.baselines.ws_broadcast PORT`. Clients send `{"op":"room.join",
"room":R}` (answered with `{"op":"room.join","code":0}`) and `{"op":"send","room":R,
"body":B}`; there is no login, bus or storage.
"""

import asyncio
import signal
import sys

import msgspec
import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.baselines.batching import Rooms

JOINED = b'{"op":"room.join","code":0}'


def deliver(members: set, data: bytes) -> None:
    broadcast(members, data, text=True)


rooms = Rooms(deliver)


async def handle(ws: ServerConnection) -> None:
    try:
        async for frame in ws:
            command = msgspec.json.decode(frame)
            if command.get("op") == "send":
                rooms.send(command["room"], str(id(ws)), command.get("body"))
            elif command.get("op") == "room.join":
                rooms.join(command["room"], ws)
                await ws.send(JOINED, text=True)
    except (ConnectionClosed, msgspec.DecodeError):
        pass
    finally:
        rooms.leave(ws)


async def main(port: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with serve(handle, "127.0.0.1", port, ping_interval=None, compression=None,
                     subprotocols=["mimo.v1.json"], max_size=65536):
        await stop.wait()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
