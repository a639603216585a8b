"""Room fan-out: batches, priorities, shedding with gap notices, and the 4008 close.

Runs on a stack of its own with rate limits raised, small outbound buffers, and gateways
whose batching and slow-consumer settings differ.
"""

import asyncio
import socket
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect as ws_connect

from mimo import tokens
from tests.client import Client
from tests.stack import Stack

# About 16 KB per message: past the kernel's socket buffers (a few MB) within a few hundred
# messages, so a silent client's backlog reaches the gateway's own buffer.
BODY = "x" * 16000


@pytest.fixture(scope="module")
def fanout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("fanout"), extra_env={
        "MIMO_ROOM_RATE": "100000", "MIMO_ROOM_BURST": "100000",
        "MIMO_USER_RATE": "100000", "MIMO_USER_BURST": "100000",
        "MIMO_OUTBOUND_HIGH_WATER": "65536",
        "MIMO_OUTBOUND_LIMIT": "1000000000",
        "MIMO_MAX_BODY": "20000",
    })
    try:
        stack.start_core()
        stack.start_gateway("patient", {"MIMO_SLOW_CLOSE_AFTER": "600"})
        stack.start_gateway("strict", {"MIMO_SLOW_CLOSE_AFTER": "2"})
        stack.start_gateway("batchy", {"MIMO_BATCH_WINDOW": "0.3", "MIMO_BATCH_MAX": "8"})
        yield stack
    finally:
        stack.stop()


async def login(stack: Stack, gateway: str, user: str, small_buffer: bool = False) -> Client:
    """Log in; `small_buffer` shrinks the socket's receive buffer so a silent client's
    backlog stays in the gateway's outbound buffer instead of the kernel's."""
    url = stack.url(gateway)
    if small_buffer:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", stack.gateway_ports[gateway]))
        ws = await ws_connect(url, sock=sock, subprotocols=["mimo.v1.json"], max_size=None)
        client = Client(ws)
    else:
        client = await Client.connect(url, max_size=None)
    reply = await client.request("login", token=tokens.issue(user, stack.secret, 600))
    assert reply["code"] == 0, reply
    return client


async def send_many(sender: Client, room: str, count: int, high_every: int) -> list[str]:
    """Send `count` messages; every `high_every`-th is high, the rest alternate low and
    normal. Returns the priority of each seq (index 0 is seq 1)."""
    priorities = []
    for number in range(count):
        if number % high_every == 0:
            priority = "high"
        else:
            priority = "low" if number % 2 else "normal"
        reply = await sender.request("send", room=room, cid=f"m{number}", priority=priority,
                                     body={"n": number, "pad": BODY})
        assert reply["code"] == 0, reply
        assert reply["seq"] == number + 1
        priorities.append(priority)
    return priorities


async def read_until_seq(client: Client, last_seq: int, timeout: float = 30) -> list[dict]:
    """Pushed msg and gap objects until one reaches `last_seq`."""
    items = []
    while True:
        item = await client.next(timeout=timeout)
        if item["op"] not in ("msg", "gap"):
            continue
        items.append(item)
        end = item["seq"] if item["op"] == "msg" else item["to_seq"]
        if end >= last_seq:
            return items


async def test_slow_client_is_shed_with_gaps_and_keeps_high(fanout: Stack, uid) -> None:
    room = uid("room")
    host = await login(fanout, "patient", uid("host"))
    assert (await host.request("room.create", room=room))["code"] == 0
    fast = await login(fanout, "patient", uid("fast"))
    assert (await fast.request("room.join", room=room))["code"] == 0
    slow = await login(fanout, "patient", uid("slow"), small_buffer=True)
    assert (await slow.request("room.join", room=room))["code"] == 0
    slow.go_silent()

    count = 800
    priorities = await send_many(host, room, count, high_every=10)

    fast_items = await read_until_seq(fast, count)
    assert [item["op"] for item in fast_items] == ["msg"] * count
    assert [item["seq"] for item in fast_items] == list(range(1, count + 1))

    slow.resume()
    slow_items = await read_until_seq(slow, count, timeout=60)
    covered = []
    for item in slow_items:
        if item["op"] == "msg":
            covered.append(item["seq"])
        else:
            covered.extend(range(item["from_seq"], item["to_seq"] + 1))
    assert covered == list(range(1, count + 1))

    gaps = [item for item in slow_items if item["op"] == "gap"]
    assert gaps, "a client that stopped reading should have been shed"
    delivered = {item["seq"] for item in slow_items if item["op"] == "msg"}
    high = {seq for seq in range(1, count + 1) if priorities[seq - 1] == "high"}
    assert high <= delivered
    shed = set(range(1, count + 1)) - delivered
    assert all(priorities[seq - 1] in ("low", "normal") for seq in shed)


async def test_client_behind_too_long_is_closed_4008(fanout: Stack, uid) -> None:
    room = uid("room")
    host = await login(fanout, "strict", uid("host"))
    assert (await host.request("room.create", room=room))["code"] == 0
    fast = await login(fanout, "strict", uid("fast"))
    assert (await fast.request("room.join", room=room))["code"] == 0
    slow = await login(fanout, "strict", uid("slow"), small_buffer=True)
    assert (await slow.request("room.join", room=room))["code"] == 0
    slow.go_silent()

    count = 800
    await send_many(host, room, count, high_every=3)
    fast_items = await read_until_seq(fast, count)
    assert [item["seq"] for item in fast_items] == list(range(1, count + 1))

    await asyncio.sleep(3)  # past MIMO_SLOW_CLOSE_AFTER, so the gateway gives up on it
    slow.resume()
    code, _ = await slow.wait_closed(timeout=30)
    assert code == 4008


async def test_messages_within_window_share_frames(fanout: Stack, uid) -> None:
    room = uid("room")
    host = await login(fanout, "batchy", uid("host"))
    assert (await host.request("room.create", room=room))["code"] == 0
    viewer = await login(fanout, "batchy", uid("viewer"))
    assert (await viewer.request("room.join", room=room))["code"] == 0

    sends = [host.request("send", room=room, cid=f"b{n}", body=n) for n in range(20)]
    assert all(reply["code"] == 0 for reply in await asyncio.gather(*sends))
    got = await viewer.messages(20)
    assert sorted(m["body"] for m in got) == list(range(20))

    batches = [frame for frame in viewer.frames if isinstance(frame, list)]
    assert batches, "messages sent within one window should arrive as a batch frame"
    assert all(len(batch) <= 8 for batch in batches)
    assert sum(1 for batch in batches for item in batch if item["op"] == "msg") + sum(
        1 for frame in viewer.frames if isinstance(frame, dict) and frame["op"] == "msg"
    ) == 20
