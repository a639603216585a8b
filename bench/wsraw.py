"""A minimal WebSocket (RFC 6455) client that counts deliveries without decoding them.

The load generator uses it for every connection it does not sample: per received data
chunk it parses frame headers and counts a byte pattern in the payloads with `bytes.count`,
so thousands of connections cost the generator little CPU. It replies to pings, records
the close code, and can keep the payloads of the first frames for the setup replies.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def frame_header(length: int, opcode: int = OP_TEXT, masked: bool = False) -> bytes:
    """Return the header of a final frame with a `length`-byte payload."""
    first = 0x80 | opcode
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return struct.pack("!BB", first, mask_bit | length)
    if length < 65536:
        return struct.pack("!BBH", first, mask_bit | 126, length)
    return struct.pack("!BBQ", first, mask_bit | 127, length)


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR `payload` with the repeated 4-byte `key` (client frames must be masked)."""
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[:len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")


def client_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    key = os.urandom(4)
    return frame_header(len(payload), opcode, masked=True) + key + mask(payload, key)


class CountingClient(asyncio.Protocol):
    """One client connection; `count` is the number of `pattern` matches in payloads."""

    def __init__(self, host: str, port: int, path: str, subprotocol: str | None,
                 pattern: bytes) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            + (f"Sec-WebSocket-Protocol: {subprotocol}\r\n" if subprotocol else "")
            + "\r\n"
        ).encode()
        self.pattern = pattern
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._handshake = True
        self._buffer = bytearray()
        self.keep_payloads = True  # payloads kept in `payloads` until the setup is over
        self.payloads: list[bytes] = []
        self.arrived = asyncio.Event()
        self.count = 0
        self.frames = 0
        self.bytes = 0
        self.last_data = 0.0  # monotonic time of the last data received
        self.close_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost in handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)
        self.arrived.set()

    def data_received(self, data: bytes) -> None:
        self.bytes += len(data)
        self.last_data = time.monotonic()
        buffer = self._buffer
        buffer += data
        if self._handshake:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[:buffer.find(b"\r\n")])
            del buffer[:end + 4]
            self._handshake = False
            if self.opened.done():  # the caller stopped waiting
                return
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(f"handshake rejected: {status!r}"))
                assert self.transport is not None
                self.transport.close()
                return
            self.opened.set_result(None)
        self._parse(buffer)

    def _parse(self, buffer: bytearray) -> None:
        position = 0
        size = len(buffer)
        while size - position >= 2:
            opcode = buffer[position] & 0x0F
            length = buffer[position + 1] & 0x7F
            start = position + 2
            if length == 126:
                if size - position < 4:
                    break
                length = (buffer[position + 2] << 8) | buffer[position + 3]
                start = position + 4
            elif length == 127:
                if size - position < 10:
                    break
                length = int.from_bytes(buffer[position + 2:position + 10], "big")
                start = position + 10
            end = start + length
            if end > size:
                break
            if opcode <= OP_BINARY:
                self.frames += 1
                self.count += buffer.count(self.pattern, start, end)
                if self.keep_payloads:
                    self.payloads.append(bytes(buffer[start:end]))
                    self.arrived.set()
            elif opcode == OP_PING:
                self.send(bytes(buffer[start:end]), OP_PONG)
            elif opcode == OP_CLOSE:
                if length >= 2:
                    self.close_code = (buffer[start] << 8) | buffer[start + 1]
                assert self.transport is not None
                self.transport.close()
            position = end
        if position:
            del buffer[:position]

    def send(self, payload: bytes, opcode: int = OP_TEXT) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(payload, opcode))

    async def next_payload(self, timeout: float) -> bytes:
        """Return the oldest kept payload, waiting up to `timeout` seconds for one."""
        deadline = time.monotonic() + timeout
        while not self.payloads:
            if self.closed.done():
                raise ConnectionError(f"connection closed with code {self.close_code}")
            self.arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame arrived in time")
            await asyncio.wait_for(self.arrived.wait(), remaining)
        return self.payloads.pop(0)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
