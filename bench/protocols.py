"""What each target expects on the wire: setup commands, sends and the decoding of
deliveries on sampled connections.

Three targets: `mimo` (the gateway: login, room.create or room.join, send with replies),
`plain` (the two WebSocket baselines: room.join, send without replies) and `nats`
(nats-server's WebSocket listener: CONNECT, SUB, PUB and MSG in the NATS text protocol).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from mimo import tokens

MSG_PATTERN = b'"op":"msg"'  # once in every delivered message, on every target
NATS_CONNECT = (b'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":false,'
                b'"name":"bench"}\r\n')

decode_json = msgspec.json.decode
encode_json = msgspec.json.Encoder().encode


def subject(room: str) -> str:
    return f"bench.room.{room}"


def login_command(uid: str, secret: str) -> bytes:
    return encode_json({"op": "login", "id": "login", "token": tokens.issue(uid, secret, 3600)})


def room_command(room: str, create: bool) -> bytes:
    if create:
        return encode_json({"op": "room.create", "id": "room", "room": room})
    return encode_json({"op": "room.join", "id": "room", "room": room})


def nats_setup(room: str | None) -> bytes:
    data = NATS_CONNECT
    if room is not None:
        data += f"SUB {subject(room)} 1\r\n".encode()
    return data + b"PING\r\n"


def body(sender: int, number: int, pad: str) -> dict[str, Any]:
    """A message body that carries its send time (`t`, Unix seconds) for latency."""
    return {"t": time.time(), "s": sender, "n": number, "pad": pad}


def send_command(target: str, room: str, cid: str, payload: dict[str, Any],
                 priority: str = "normal") -> bytes:
    """Encode one room send; `priority` reaches Mimo only (the baselines have none)."""
    if target == "nats":
        data = encode_json({"op": "msg", "room": room, "body": payload})
        return f"PUB {subject(room)} {len(data)}\r\n".encode() + data + b"\r\n"
    command = {"op": "send", "id": cid, "room": room, "cid": cid, "body": payload}
    if priority != "normal":
        command["priority"] = priority
    return encode_json(command)


def check_reply(payload: bytes | str, op: str) -> bool:
    """Return True for the successful reply to `op`; raise on its error reply."""
    reply = decode_json(payload)
    if not isinstance(reply, dict) or reply.get("op") != op:
        return False
    if reply.get("code") != 0:
        raise ConnectionError(f"{op} failed: {reply}")
    return True


class NatsStream:
    """A parser of the NATS text protocol that returns the payloads of MSG lines."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.pings = 0

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        payloads: list[bytes] = []
        while True:
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            line = bytes(self.buffer[:end])
            if line.startswith(b"MSG "):
                size = int(line.rsplit(b" ", 1)[1])
                if len(self.buffer) < end + 2 + size + 2:
                    break
                payloads.append(bytes(self.buffer[end + 2:end + 2 + size]))
                del self.buffer[:end + 2 + size + 2]
                continue
            if line == b"PING":
                self.pings += 1
            del self.buffer[:end + 2]
        return payloads
