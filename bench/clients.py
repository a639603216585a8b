"""Connections of the load generator: counted and sampled receivers, and senders."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import protocols
from bench.wsraw import OP_BINARY, OP_TEXT, CountingClient

SETUP_TIMEOUT = 30.0  # seconds one connection may take to connect, log in and join
SUBPROTOCOL = "mimo.v1.json"


@dataclass
class Target:
    kind: str  # mimo, plain or nats
    host: str
    port: int
    secret: str = ""
    path: str = "/ws"

    @property
    def subprotocol(self) -> str | None:
        return None if self.kind == "nats" else SUBPROTOCOL

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{self.path}"


@dataclass
class Samples:
    """What the sampled receivers decoded: latencies in seconds, gaps and messages."""

    latencies: list[float] = field(default_factory=list)
    gaps: int = 0
    gap_notices: int = 0
    messages: int = 0


async def _setup_counted(client: CountingClient, target: Target, uid: str, room: str | None,
                         create: bool) -> None:
    if target.kind == "nats":
        await client.next_payload(SETUP_TIMEOUT)  # INFO
        client.send(protocols.nats_setup(room), OP_BINARY)
        while b"PONG" not in await client.next_payload(SETUP_TIMEOUT):
            pass
    elif target.kind == "mimo":
        client.send(protocols.login_command(uid, target.secret))
        while not protocols.check_reply(await client.next_payload(SETUP_TIMEOUT), "login"):
            pass
        if room is not None:
            client.send(protocols.room_command(room, create))
            op = "room.create" if create else "room.join"
            while not protocols.check_reply(await client.next_payload(SETUP_TIMEOUT), op):
                pass
    elif room is not None:
        client.send(protocols.room_command(room, False))
        while not protocols.check_reply(await client.next_payload(SETUP_TIMEOUT), "room.join"):
            pass
    client.keep_payloads = False
    client.payloads.clear()


async def open_counted(target: Target, source: str, uid: str, room: str | None,
                       create: bool = False, receive_buffer: int | None = None,
                       max_segment: int | None = None) -> CountingClient:
    """Open, log in and join one counted receiver.

    With `receive_buffer` and `max_segment`, SO_RCVBUF and TCP_MAXSEG are set before the
    socket connects, so that the TCP window and the segments stay small, as on a phone
    that stopped reading. On loopback (MSS 65,483) the server's kernel otherwise grows its
    send buffer to several MiB and takes in the backlog in place of the server.
    """
    loop = asyncio.get_running_loop()
    sock = None
    if receive_buffer is not None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        if max_segment is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, max_segment)
        sock.setblocking(False)
        sock.bind((source, 0))
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (target.host, target.port)),
                                   SETUP_TIMEOUT)
        except BaseException:
            sock.close()
            raise
    endpoint = {"sock": sock} if sock is not None else {
        "host": target.host, "port": target.port, "local_addr": (source, 0)}
    _, client = await asyncio.wait_for(loop.create_connection(
        lambda: CountingClient(target.host, target.port, target.path, target.subprotocol,
                               protocols.MSG_PATTERN),
        **endpoint), SETUP_TIMEOUT)
    try:
        await asyncio.wait_for(client.opened, SETUP_TIMEOUT)
        await _setup_counted(client, target, uid, room, create)
    except BaseException:
        client.close()
        raise
    return client


class Sampled:
    """A receiver that decodes every delivery with a `websockets` client."""

    def __init__(self, ws: ClientConnection, target: Target, samples: Samples) -> None:
        self.ws = ws
        self.target = target
        self.samples = samples
        self.count = 0
        self.last_data = 0.0
        self._last: dict[Any, int] = {}
        self.task: asyncio.Task | None = None

    @classmethod
    async def open(cls, target: Target, source: str, uid: str, room: str, create: bool,
                   samples: Samples) -> Sampled:
        ws = await asyncio.wait_for(connect(
            target.url, subprotocols=[target.subprotocol] if target.subprotocol else None,
            local_addr=(source, 0), ping_interval=None, compression=None, max_size=None,
            open_timeout=SETUP_TIMEOUT), SETUP_TIMEOUT)
        try:
            await asyncio.wait_for(cls._setup(ws, target, uid, room, create), SETUP_TIMEOUT)
        except BaseException:
            await ws.close()
            raise
        sampled = cls(ws, target, samples)
        sampled.task = asyncio.create_task(sampled.read())
        return sampled

    @staticmethod
    async def _setup(ws: ClientConnection, target: Target, uid: str, room: str,
                     create: bool) -> None:
        if target.kind == "nats":
            await ws.recv()  # INFO
            await ws.send(protocols.nats_setup(room))
            while b"PONG" not in await ws.recv(decode=False):
                pass
            return
        if target.kind == "mimo":
            await ws.send(protocols.login_command(uid, target.secret), text=True)
            while not protocols.check_reply(await ws.recv(decode=False), "login"):
                pass
        await ws.send(protocols.room_command(room, create and target.kind == "mimo"), text=True)
        op = "room.create" if create and target.kind == "mimo" else "room.join"
        while not protocols.check_reply(await ws.recv(decode=False), op):
            pass

    async def read(self) -> None:
        stream = protocols.NatsStream() if self.target.kind == "nats" else None
        try:
            async for frame in self.ws:
                now = time.time()
                self.last_data = time.monotonic()
                if stream is not None:
                    data = frame if isinstance(frame, bytes) else frame.encode()
                    items = [protocols.decode_json(payload) for payload in stream.feed(data)]
                    if stream.pings:
                        stream.pings = 0
                        await self.ws.send(b"PONG\r\n")
                else:
                    decoded = protocols.decode_json(frame)
                    items = decoded if isinstance(decoded, list) else [decoded]
                for item in items:
                    self._record(item, now)
        except (ConnectionClosed, msgspec.DecodeError):
            pass

    def _record(self, item: dict[str, Any], now: float) -> None:
        op = item.get("op")
        if op == "gap":
            self.samples.gap_notices += 1
            return
        if op != "msg":
            return
        self.count += 1
        self.samples.messages += 1
        body = item["body"]
        self.samples.latencies.append(now - body["t"])
        if "seq" in item:
            key, number = item["room"], item["seq"]
        else:
            key, number = (item["room"], body["s"]), body["n"]
        last = self._last.get(key)
        if last is not None and number != last + 1:
            self.samples.gaps += 1
        self._last[key] = number

    async def close(self) -> None:
        await self.ws.close()
        if self.task is not None:
            self.task.cancel()


class Sender:
    """A member that sends to one room on a fixed schedule and counts accepted sends."""

    _numbers = itertools.count()

    def __init__(self, index: int, room: str, target: Target, pad: str,
                 low_every: int = 0) -> None:
        self.index = index
        self.room = room
        self.target = target
        self.pad = pad
        self.low_every = low_every  # every n-th message is sent with priority low; 0: none
        self.client: CountingClient | None = None
        self.sent = 0
        self.accepted = 0
        self.rejected: dict[int, int] = {}

    async def open(self, source: str, uid: str, create: bool) -> None:
        room = None if self.target.kind == "nats" else self.room
        self.client = await open_counted(self.target, source, uid, room, create)
        if self.target.kind == "mimo":
            self.client.keep_payloads = True  # the send replies

    def count_replies(self) -> None:
        """Count the send replies that arrived (mimo only; other targets do not reply)."""
        assert self.client is not None
        payloads, self.client.payloads = self.client.payloads, []
        for payload in payloads:
            if not payload.startswith(b'{"op":"send"'):
                continue
            code = protocols.decode_json(payload).get("code")
            if code == 0:
                self.accepted += 1
            else:
                self.rejected[code] = self.rejected.get(code, 0) + 1

    async def run(self, rate: float, duration: float) -> None:
        """Send `rate` messages per second for `duration` seconds, on an absolute schedule."""
        assert self.client is not None
        total = int(rate * duration)
        start = time.monotonic()
        for number in range(total):
            delay = start + number / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            cid = f"c{next(self._numbers)}"
            payload = protocols.body(self.index, self.sent, self.pad)
            opcode = OP_BINARY if self.target.kind == "nats" else OP_TEXT
            low = self.low_every > 0 and self.sent % self.low_every == 0
            command = protocols.send_command(self.target.kind, self.room, cid, payload,
                                             "low" if low else "normal")
            self.client.send(command, opcode)
            self.sent += 1
            if self.target.kind == "mimo":
                self.count_replies()
            else:
                self.accepted += 1
