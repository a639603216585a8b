"""A test client for the gateway: commands with ids, and pushed objects in a queue."""

import asyncio
import itertools
import json
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = 10.0  # seconds to wait for a reply or a pushed object


class Client:
    def __init__(self, ws: ClientConnection, msgpack: bool = False) -> None:
        self.ws = ws
        self.msgpack = msgpack
        self._ids = itertools.count(1)
        self._replies: dict[Any, asyncio.Future] = {}
        self.pushed: asyncio.Queue[dict] = asyncio.Queue()
        self.frames: list[Any] = []  # every decoded frame, in order
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, msgpack: bool = False, **kwargs: Any) -> "Client":
        protocol = "mimo.v1.msgpack" if msgpack else "mimo.v1.json"
        ws = await connect(url, subprotocols=[protocol], **kwargs)
        return cls(ws, msgpack)

    def decode(self, frame: Any) -> Any:
        return msgspec.msgpack.decode(frame) if self.msgpack else json.loads(frame)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                data = self.decode(frame)
                self.frames.append(data)
                for obj in data if isinstance(data, list) else [data]:
                    future = self._replies.pop(obj.get("id"), None) if "id" in obj else None
                    if future is not None and not future.done():
                        future.set_result(obj)
                    else:
                        self.pushed.put_nowait(obj)
        except Exception:
            pass
        finally:
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed before the reply"))
            self._replies.clear()
            if not self.closed.done():
                self.closed.set_result((self.ws.close_code, self.ws.close_reason))

    def go_silent(self) -> None:
        """Stop reading from the socket without closing it, like a peer whose network died.

        The library resumes reading on its own for flow control, so that is disabled too.
        """
        transport = self.ws.transport
        transport.resume_reading = lambda: None  # type: ignore[method-assign]
        transport.pause_reading()

    def resume(self) -> None:
        """Read from the socket again after `go_silent`."""
        transport = self.ws.transport
        transport.__dict__.pop("resume_reading", None)
        transport.resume_reading()

    async def send_raw(self, data: Any) -> None:
        await self.ws.send(data)

    async def send(self, obj: dict) -> None:
        data = msgspec.msgpack.encode(obj) if self.msgpack else json.dumps(obj)
        await self.ws.send(data)

    async def request(self, op: str, **fields: Any) -> dict:
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        await self.send({"op": op, "id": request_id, **fields})
        return await asyncio.wait_for(future, TIMEOUT)

    async def next(self, op: str | None = None, timeout: float = TIMEOUT) -> dict:
        """The next pushed object (of `op` when given; others before it are discarded)."""
        while True:
            obj = await asyncio.wait_for(self.pushed.get(), timeout)
            if op is None or obj.get("op") == op:
                return obj

    async def messages(self, count: int, timeout: float = TIMEOUT) -> list[dict]:
        """The next `count` pushed `msg` objects."""
        result = []
        while len(result) < count:
            result.append(await self.next("msg", timeout))
        return result

    async def wait_closed(self, timeout: float = TIMEOUT) -> tuple[int | None, str | None]:
        return await asyncio.wait_for(asyncio.shield(self.closed), timeout)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
