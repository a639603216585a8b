"""Baseline (b), the floor: asyncio transports written with pre-encoded frame bytes.

Run `python -m bench.baselines.floor PORT`. It speaks the same commands as
`ws_broadcast`, but does the WebSocket handshake and framing itself and writes each batch
as one pre-built frame with `transport.write`, so fan-out costs one call per member.
"""

import asyncio
import base64
import hashlib
import signal
import sys

import msgspec
import uvloop

from bench.baselines.batching import Rooms
from bench.wsraw import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, frame_header

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
JOINED = b'{"op":"room.join","code":0}'


def deliver(members: set, data: bytes) -> None:
    frame = frame_header(len(data)) + data
    for transport in members:
        transport.write(frame)


rooms = Rooms(deliver)


class FloorProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.handshake = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        rooms.leave(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.handshake:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self._accept(bytes(self.buffer[:end]))
            del self.buffer[:end + 4]
            self.handshake = False
        self._parse()

    def _accept(self, request: bytes) -> None:
        headers = {}
        for line in request.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1(headers[b"sec-websocket-key"] + GUID).digest())
        response = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n")
        if b"sec-websocket-protocol" in headers:
            offered = headers[b"sec-websocket-protocol"].split(b",")[0].strip()
            response += b"Sec-WebSocket-Protocol: " + offered + b"\r\n"
        assert self.transport is not None
        self.transport.write(response + b"\r\n")

    def _parse(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 6:
            opcode = buffer[0] & 0x0F
            length = buffer[1] & 0x7F
            start = 2
            if length == 126:
                length = int.from_bytes(buffer[2:4], "big")
                start = 4
            elif length == 127:
                length = int.from_bytes(buffer[2:10], "big")
                start = 10
            end = start + 4 + length
            if len(buffer) < end:
                return
            key = bytes(buffer[start:start + 4])
            repeated = (key * (length // 4 + 1))[:length]
            value = int.from_bytes(buffer[start + 4:end], "big") ^ int.from_bytes(repeated, "big")
            payload = value.to_bytes(length, "big")
            del buffer[:end]
            self._on_frame(opcode, payload)

    def _on_frame(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == OP_TEXT:
            command = msgspec.json.decode(payload)
            if command.get("op") == "send":
                rooms.send(command["room"], str(id(self)), command.get("body"))
            elif command.get("op") == "room.join":
                rooms.join(command["room"], self.transport)
                self.transport.write(frame_header(len(JOINED)) + JOINED)
        elif opcode == OP_PING:
            self.transport.write(frame_header(len(payload), OP_PONG) + payload)
        elif opcode == OP_CLOSE:
            self.transport.write(frame_header(len(payload[:2]), OP_CLOSE) + payload[:2])
            self.transport.close()


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = await loop.create_server(FloorProtocol, "127.0.0.1", port, backlog=4096)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
