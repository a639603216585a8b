"""Per-user and per-room rate limits, on a stack of its own with low limits.

The limits refill at 0.01 per second, so within a test only the burst counts and every
count below is exact, however slow the machine is. The shared session stack keeps its
default limits for the other tests.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as Nats
from nats.errors import NoRespondersError, TimeoutError

from bus import subjects
from bus.commands import Send
from bus.connection import call
from bus.types import Actor, Request, encode
from mimo import tokens
from tests.client import Client
from tests.moderation_support import API, CALL_TIMEOUT, as_api, make_room
from tests.stack import START_TIMEOUT, WORKERS, Stack

USER_BURST = 6
ROOM_BURST = 3
SLOW_RATE = "0.01"  # tokens per second: one every 100 s

# A subject of each worker kind: any reply, an error included, shows the worker is serving.
PROBES = {
    "auth": subjects.AUTH_SESSIONS,
    "rooms": subjects.ROOMS_SEQS,
    "chat": subjects.CHAT_HISTORY,
    "moderation": subjects.MOD_AUDIT,
}


async def wait_for_workers(url: str) -> None:
    nc = await nats.connect(url)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        for kind, subject in PROBES.items():
            while True:
                try:
                    await nc.request(subject, encode({}), timeout=1)
                    break
                except (NoRespondersError, TimeoutError):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{kind} worker did not reply on {subject} within "
                                           f"{START_TIMEOUT} s") from None
                    await asyncio.sleep(0.1)
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("slow-stack")
    stack = Stack(root, extra_env={
        "MIMO_USER_RATE": SLOW_RATE,
        "MIMO_USER_BURST": str(USER_BURST),
        "MIMO_ROOM_RATE": SLOW_RATE,
        "MIMO_ROOM_BURST": str(ROOM_BURST),
    })
    try:
        stack.start_nats()
        stack.start_valkey()
        for kind in WORKERS:
            stack.start_worker(kind)
        asyncio.run(wait_for_workers(stack.env["MIMO_NATS_URL"]))
        stack.start_gateway("gw1")
        stack.start_gateway("gw2")
        yield stack
    finally:
        stack.stop()


@pytest.fixture
async def slow_connect(slow_stack: Stack) -> AsyncIterator[Callable]:
    clients: list[Client] = []

    async def make(user: str, gateway: str = "gw1") -> Client:
        client = await Client.connect(slow_stack.url(gateway))
        clients.append(client)
        reply = await client.request("login", token=tokens.issue(user, slow_stack.secret, 3600))
        assert reply["code"] == 0, reply
        return client

    yield make
    for client in clients:
        try:
            await client.close()
        except Exception:
            pass


@pytest.fixture
async def slow_bus(slow_stack: Stack) -> AsyncIterator[Nats]:
    nc = await nats.connect(slow_stack.env["MIMO_NATS_URL"])
    yield nc
    await nc.close()


async def test_user_rate_spans_commands_and_gateways(slow_connect, uid, slow_bus) -> None:
    user, room = uid("user"), uid("room")
    first = await slow_connect(user, gateway="gw1")
    commands = [
        ("blocks", {}),
        ("room.create", {"room": room}),
        ("room.list", {}),
        ("send", {"room": room, "cid": "c1", "body": 1}),
        ("pending", {}),
        ("blocks", {}),
    ]
    assert len(commands) == USER_BURST
    for op, fields in commands:
        reply = await first.request(op, **fields)
        assert reply["code"] == 0, (op, reply)
    for op, fields in [("blocks", {}), ("room.join", {"room": room}),
                       ("send", {"room": room, "cid": "c2", "body": 2})]:
        reply = await first.request(op, **fields)
        assert reply["code"] == 4001, (op, reply)
        assert reply["error"], reply

    # Acks and pings are not counted.
    assert (await first.request("ack", mids=[]))["code"] == 0
    assert (await first.request("ping"))["op"] == "pong"

    # The count belongs to the user, not the connection or the gateway.
    second = await slow_connect(user, gateway="gw2")
    assert (await second.request("blocks"))["code"] == 4001
    third = await slow_connect(user, gateway="gw1")
    assert (await third.request("room.list"))["code"] == 4001

    # A message the business system sends for the user is not counted against the user.
    actor = Actor(uid=user, api=API.api)
    reply = await call(slow_bus, subjects.CHAT_SEND,
                       Request(actor=actor, cmd=Send(room=room, cid="rest", body=3)),
                       CALL_TIMEOUT)
    assert reply.code == 0, reply


async def test_acks_do_not_count(slow_connect, uid) -> None:
    client = await slow_connect(uid("user"), gateway="gw2")
    for _ in range(2 * USER_BURST):
        assert (await client.request("ack", mids=["1"]))["code"] == 0
    for _ in range(USER_BURST):
        assert (await client.request("blocks"))["code"] == 0
    assert (await client.request("blocks"))["code"] == 4001


async def test_room_rate_spans_senders_and_gateways(slow_connect, uid, slow_bus) -> None:
    owner, first, second, room = uid("owner"), uid("m"), uid("m"), uid("room")
    o = await slow_connect(owner, gateway="gw1")
    one = await slow_connect(first, gateway="gw1")
    two = await slow_connect(second, gateway="gw2")
    await make_room(o, room, one, two)

    seqs = []
    for client in (o, one, two):
        sent = await client.request("send", room=room, cid="c1", body=0)
        assert sent["code"] == 0, sent
        seqs.append(sent["seq"])
    assert seqs == [1, 2, 3]
    for client in (one, two, o):
        refused = await client.request("send", room=room, cid="c2", body=0)
        assert refused["code"] == 4002, refused
    system = await as_api(slow_bus, subjects.CHAT_SEND, Send(room=room, cid="sys", body=0))
    assert system.code == 4002, system

    # A refused send took no seq: the next accepted one follows on.
    raised = await call(slow_bus, subjects.MOD_ROOM_RATE,
                        {"room": room, "rate": 1000, "burst": 10, "actor": {"api": API.api}},
                        CALL_TIMEOUT)
    assert raised.code == 0, raised
    await asyncio.sleep(0.05)  # 50 ms at 1000 per second refills the bucket to its burst
    sent = await two.request("send", room=room, cid="c3", body=0)
    assert sent["code"] == 0, sent
    assert sent["seq"] == 4


async def test_room_rate_override(slow_connect, uid, slow_bus) -> None:
    owner, raised_room, cleared_room = uid("owner"), uid("room"), uid("room")
    o = await slow_connect(owner)
    await make_room(o, raised_room)
    await make_room(o, cleared_room)

    async def set_rate(room: str, rate: float, burst: int) -> dict:
        reply = await call(slow_bus, subjects.MOD_ROOM_RATE,
                           {"room": room, "rate": rate, "burst": burst,
                            "actor": {"api": API.api}, "reason": "event"}, CALL_TIMEOUT)
        assert reply.code == 0, reply
        return reply.data

    raised = await set_rate(raised_room, 0.01, 5)
    assert raised == {"room": raised_room, "rate": 0.01, "burst": 5, "override": True}
    cleared = await set_rate(cleared_room, 0.01, 1)
    cleared = await set_rate(cleared_room, 0, 0)
    assert cleared["override"] is False
    assert cleared["burst"] == ROOM_BURST

    # Bot senders from the business system: the user's rate does not interfere.
    for room, allowed in ((raised_room, 5), (cleared_room, ROOM_BURST)):
        codes = []
        for number in range(allowed + 1):
            reply = await as_api(slow_bus, subjects.CHAT_SEND,
                                 Send(room=room, cid=f"c{number}", body=number))
            codes.append(reply.code)
        assert codes == [0] * allowed + [4002], room


async def test_room_rate_rejects_bad_requests(slow_connect, uid, slow_bus) -> None:
    owner, room = uid("owner"), uid("room")
    o = await slow_connect(owner)
    await make_room(o, room)
    cases = [
        ({"room": room, "rate": 5, "actor": {"uid": owner}}, 2005),
        ({"room": uid("nowhere"), "rate": 5, "actor": {"api": API.api}}, 2000),
        ({"room": room, "rate": -1, "actor": {"api": API.api}}, 4003),
        ({"room": room, "burst": 1.5, "actor": {"api": API.api}}, 4003),
        ({"room": "bad id", "actor": {"api": API.api}}, 4003),
    ]
    for payload, code in cases:
        reply = await call(slow_bus, subjects.MOD_ROOM_RATE, payload, CALL_TIMEOUT)
        assert reply.code == code, (payload, reply)
        assert reply.error, reply
