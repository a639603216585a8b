"""Faults that lose nothing, on a stack of their own: processes are killed and restarted."""

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest

from mimo import tokens
from tests.client import Client
from tests.stack import Stack


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("faults"), extra_env={
        "MIMO_HISTORY_MAX_PER_ROOM": "10",
        "MIMO_INBOX_MAX_PER_USER": "5",
        "MIMO_REQUEST_TIMEOUT": "2",
        "MIMO_ACK_TIMEOUT": "30",
        "MIMO_PRESENCE_INTERVAL": "1",
        "MIMO_PRESENCE_TTL": "3",
    })
    try:
        stack.start_core()
        stack.start_gateway("fa")
        stack.start_gateway("fb")
        yield stack
    finally:
        stack.stop()


class Clients:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.opened: list[Client] = []

    async def login(self, user: str, gateway: str = "fa", **fields: object) -> Client:
        client = await Client.connect(self.stack.url(gateway))
        self.opened.append(client)
        reply = await client.request("login", token=tokens.issue(user, self.stack.secret, 600),
                                     **fields)
        assert reply["code"] == 0, reply
        client.login_reply = reply  # type: ignore[attr-defined]
        return client


@pytest.fixture
async def clients(faulty: Stack) -> Iterator[Clients]:
    made = Clients(faulty)
    yield made
    for client in made.opened:
        try:
            await client.close()
        except Exception:
            pass


async def test_resume_beyond_history_gets_gap_then_rest(clients, uid) -> None:
    room, viewer_id = uid("room"), uid()
    host = await clients.login(uid())
    await host.request("room.create", room=room)
    viewer = await clients.login(viewer_id)
    await viewer.request("room.join", room=room)
    await host.request("send", room=room, cid="first", body=0)
    assert (await viewer.next("msg"))["seq"] == 1
    await viewer.close()

    for number in range(1, 16):
        assert (await host.request("send", room=room, cid=f"m{number}", body=number))["code"] == 0
    back = await clients.login(viewer_id, gateway="fb", since={room: 1})
    # The first of this room's seq-ordered objects is the gap; room.online may come anywhere.
    ordered = []
    while len(ordered) < 11:
        item = await back.next()
        if item["op"] in ("gap", "msg"):
            ordered.append(item)
    gap, got = ordered[0], ordered[1:]
    assert gap["op"] == "gap"
    assert (gap["from_seq"], gap["to_seq"]) == (2, 6)
    assert [m["op"] for m in got] == ["msg"] * 10
    assert [m["seq"] for m in got] == list(range(7, 17))


async def test_inbox_full_gets_4005_and_keeps_pending(clients, uid) -> None:
    sender_id, recipient_id = uid(), uid()
    recipient = await clients.login(recipient_id)
    await recipient.request("logout")
    sender = await clients.login(sender_id)
    for number in range(5):
        assert (await sender.request("send", to=recipient_id, cid=f"c{number}",
                                     body=number))["code"] == 0
    assert (await sender.request("send", to=recipient_id, cid="c5", body=5))["code"] == 4005
    again = await clients.login(recipient_id, gateway="fb")
    assert again.login_reply["pending"] == 5
    got = await again.messages(5)
    assert [m["body"] for m in got] == [0, 1, 2, 3, 4]


async def test_killed_gateway_message_comes_back(clients, uid, faulty) -> None:
    """A personal message delivered but not acked before its gateway died is delivered
    again after the client reconnects to another gateway."""
    faulty.start_gateway("fdoomed")
    sender_id, recipient_id = uid(), uid()
    recipient = await clients.login(recipient_id, gateway="fdoomed")
    sender = await clients.login(sender_id)
    receipt = await sender.request("send", to=recipient_id, cid="c1", body="keep me")
    delivered = await recipient.next("msg")
    assert delivered["mid"] == receipt["mid"]

    faulty.kill("fdoomed")
    again = await clients.login(recipient_id, gateway="fb")
    redelivered = await again.next("msg")
    assert redelivered["mid"] == receipt["mid"]
    pending = await again.request("pending")
    assert [m["mid"] for m in pending["messages"]] == [receipt["mid"]]
    assert (await again.request("ack", mids=[receipt["mid"]]))["acked"] == 1


async def test_chat_worker_killed_mid_send_then_retry_once(clients, uid, faulty) -> None:
    room = uid("room")
    host = await clients.login(uid())
    await host.request("room.create", room=room)
    viewer = await clients.login(uid(), gateway="fb")
    await viewer.request("room.join", room=room)

    sends = [asyncio.create_task(host.request("send", room=room, cid=f"k{n}", body=n))
             for n in range(20)]
    await asyncio.sleep(0.01)
    os.kill(faulty.procs["chat"].pid, signal.SIGKILL)
    faulty.procs.pop("chat").wait()
    results = await asyncio.gather(*sends, return_exceptions=True)

    faulty.start_worker("chat")
    assert len(results) == 20
    for number in range(20):
        for _ in range(50):
            reply = await host.request("send", room=room, cid=f"k{number}", body=number)
            if reply["code"] == 0:
                break
            await asyncio.sleep(0.2)
        assert reply["code"] == 0, reply

    got = await viewer.messages(20, timeout=20)
    assert sorted(m["body"] for m in got) == list(range(20))
    assert len({m["seq"] for m in got}) == 20
    await asyncio.sleep(0.5)
    assert all(item.get("op") != "msg" for item in list(viewer.pushed._queue))  # type: ignore


async def test_nats_restart_keeps_pending_and_flows_again(clients, uid, faulty) -> None:
    sender_id, recipient_id = uid(), uid()
    recipient = await clients.login(recipient_id)
    await recipient.request("logout")
    sender = await clients.login(sender_id)
    receipt = await sender.request("send", to=recipient_id, cid="before", body="before")
    assert receipt["code"] == 0

    faulty.kill("nats", signal.SIGTERM)
    faulty.start_nats()

    after = None
    for _ in range(100):
        try:
            after = await sender.request("send", to=recipient_id, cid="after", body="after")
        except (TimeoutError, ConnectionError):
            after = None
        if after is not None and after["code"] == 0:
            break
        await asyncio.sleep(0.2)
    assert after is not None and after["code"] == 0, after

    again = await clients.login(recipient_id, gateway="fb")
    assert again.login_reply["pending"] == 2
    got = await again.messages(2, timeout=15)
    assert [m["body"] for m in got] == ["before", "after"]
