"""Personal messages: receipts, pending, acks, offline delivery, dedup; room dedup."""

import asyncio

import httpx

from tests.client import Client


async def register(connect, user: str) -> None:
    """Log `user` in once, which registers them, then log out."""
    client = await connect(user)
    await client.request("logout")


async def test_offline_messages_arrive_at_login_in_order(connect, uid) -> None:
    sender_id, recipient_id = uid(), uid()
    await register(connect, recipient_id)
    sender = await connect(sender_id)
    receipts = []
    for number in range(5):
        receipt = await sender.request("send", to=recipient_id, cid=f"c{number}", body=number)
        assert receipt["code"] == 0, receipt
        receipts.append(receipt)

    recipient = await connect(recipient_id, gateway="gw2")
    assert recipient.login_reply["pending"] == 5
    got = await recipient.messages(5)
    assert [m["body"] for m in got] == [0, 1, 2, 3, 4]
    assert [m["mid"] for m in got] == [r["mid"] for r in receipts]
    assert all(m["ack"] is True for m in got)


async def test_pending_lists_pages_and_ack_removes(connect, uid) -> None:
    sender_id, recipient_id = uid(), uid()
    await register(connect, recipient_id)
    sender = await connect(sender_id)
    for number in range(7):
        assert (await sender.request("send", to=recipient_id, cid=f"c{number}",
                                     body=number))["code"] == 0

    recipient = await connect(recipient_id)
    first = await recipient.request("pending", limit=3)
    assert [m["body"] for m in first["messages"]] == [0, 1, 2]
    assert first["more"] is True
    second = await recipient.request("pending", limit=10, after=first["messages"][-1]["mid"])
    assert [m["body"] for m in second["messages"]] == [3, 4, 5, 6]
    assert second["more"] is False

    acked = await recipient.request("ack", mids=[m["mid"] for m in first["messages"]])
    assert acked["acked"] == 3
    left = await recipient.request("pending")
    assert [m["body"] for m in left["messages"]] == [3, 4, 5, 6]


async def test_ack_of_other_users_mid_changes_nothing(connect, uid) -> None:
    sender_id, recipient_id, thief_id = uid(), uid(), uid()
    await register(connect, recipient_id)
    sender = await connect(sender_id)
    receipt = await sender.request("send", to=recipient_id, cid="c1", body="secret")
    thief = await connect(thief_id)
    assert (await thief.request("ack", mids=[receipt["mid"]]))["acked"] == 0
    assert (await thief.request("pending"))["messages"] == []
    recipient = await connect(recipient_id)
    pending = await recipient.request("pending")
    assert [m["mid"] for m in pending["messages"]] == [receipt["mid"]]


async def test_unacked_message_is_delivered_again(connect, uid) -> None:
    sender_id, recipient_id = uid(), uid()
    recipient = await connect(recipient_id)
    sender = await connect(sender_id)
    receipt = await sender.request("send", to=recipient_id, cid="c1", body="again")
    first = await recipient.next("msg")
    second = await recipient.next("msg", timeout=10)
    assert first["mid"] == receipt["mid"]
    assert second["mid"] == receipt["mid"]
    await recipient.request("ack", mids=[receipt["mid"]])


async def test_same_cid_returns_same_receipt_once(connect, uid) -> None:
    sender_id, recipient_id = uid(), uid()
    await register(connect, recipient_id)
    sender = await connect(sender_id)
    first = await sender.request("send", to=recipient_id, cid="dup", body="one")
    second = await sender.request("send", to=recipient_id, cid="dup", body="one")
    assert first["mid"] == second["mid"]
    assert first["seq"] == second["seq"]
    recipient = await connect(recipient_id)
    assert recipient.login_reply["pending"] == 1


async def test_same_cid_in_room_is_delivered_once(connect, uid) -> None:
    room = uid("room")
    sender = await connect(uid())
    await sender.request("room.create", room=room)
    first = await sender.request("send", room=room, cid="dup", body="one")
    second = await sender.request("send", room=room, cid="dup", body="one")
    third = await sender.request("send", room=room, cid="next", body="two")
    assert first["seq"] == second["seq"] == 1
    assert third["seq"] == 2
    got = await sender.messages(2)
    assert [m["seq"] for m in got] == [1, 2]


async def test_unknown_recipient_gets_1002(connect, uid) -> None:
    sender = await connect(uid())
    reply = await sender.request("send", to=uid("ghost"), cid="c1", body="hello?")
    assert reply["code"] == 1002


async def test_blocked_sender_gets_4000(connect, uid) -> None:
    sender_id, recipient_id = uid(), uid()
    sender = await connect(sender_id)
    recipient = await connect(recipient_id)
    assert (await recipient.request("block", uid=sender_id))["code"] == 0
    assert (await sender.request("send", to=recipient_id, cid="c1", body="hi"))["code"] == 4000
    assert (await recipient.request("unblock", uid=sender_id))["code"] == 0
    assert (await sender.request("send", to=recipient_id, cid="c2", body="hi"))["code"] == 0


async def test_room_resume_with_since_replays_missed(connect, uid) -> None:
    room, viewer_id = uid("room"), uid()
    host = await connect(uid())
    await host.request("room.create", room=room)
    viewer = await connect(viewer_id)
    await viewer.request("room.join", room=room)
    for number in range(3):
        await host.request("send", room=room, cid=f"a{number}", body=number)
    seen = await viewer.messages(3)
    await viewer.close()

    for number in range(3, 8):
        await host.request("send", room=room, cid=f"a{number}", body=number)
    back = await connect(viewer_id, gateway="gw2", since={room: seen[-1]["seq"]})
    assert room in back.login_reply["rooms"]
    await host.request("send", room=room, cid="live", body="live")
    got = await back.messages(6)
    assert [m["body"] for m in got] == [3, 4, 5, 6, 7, "live"]
    assert [m["seq"] for m in got] == list(range(4, 10))


async def test_join_with_since_replays_in_order(connect, uid) -> None:
    room = uid("room")
    host = await connect(uid())
    await host.request("room.create", room=room)
    for number in range(4):
        await host.request("send", room=room, cid=f"a{number}", body=number)
    viewer = await connect(uid(), gateway="gw2")
    joined = await viewer.request("room.join", room=room, since=1)
    assert joined["seq"] == 4
    got = await viewer.messages(3)
    assert [m["seq"] for m in got] == [2, 3, 4]


async def test_ten_senders_hundred_each_all_delivered(connect, uid, stack) -> None:
    """Five WebSocket and five REST senders, 100 room messages each, at the same time."""
    room = uid("room")
    host = await connect(uid())
    await host.request("room.create", room=room)
    members = [host, await connect(uid(), gateway="gw2")]
    await members[1].request("room.join", room=room)
    ws_senders = [await connect(uid(), gateway="gw1" if n % 2 else "gw2") for n in range(5)]
    rest_senders = [uid("rest") for _ in range(5)]
    for client in ws_senders:
        assert (await client.request("room.join", room=room))["code"] == 0
    for user in rest_senders:
        joiner = await connect(user)
        assert (await joiner.request("room.join", room=room))["code"] == 0
        await joiner.request("logout")

    async def send_ws(client: Client, name: str) -> int:
        receipts = 0
        for number in range(100):
            while True:
                reply = await client.request("send", room=room, cid=f"{name}-{number}",
                                             body={"s": name, "n": number})
                if reply["code"] in (4001, 4002):
                    await asyncio.sleep(0.2)
                    continue
                assert reply["code"] == 0, reply
                receipts += 1
                break
            await asyncio.sleep(0.06)
        return receipts

    async def send_rest(user: str) -> int:
        receipts = 0
        headers = {"Authorization": f"Bearer {stack.api_key}"}
        async with httpx.AsyncClient(base_url=stack.api_url, headers=headers) as http:
            for number in range(100):
                while True:
                    response = await http.post(f"/v1/rooms/{room}/messages", json={
                        "from": user, "cid": f"{user}-{number}",
                        "body": {"s": user, "n": number}})
                    if response.status_code == 429:
                        await asyncio.sleep(0.2)
                        continue
                    assert response.status_code in (200, 201), response.text
                    receipts += 1
                    break
                await asyncio.sleep(0.03)
        return receipts

    names = [f"ws{n}" for n in range(5)]
    counts = await asyncio.gather(*(send_ws(c, n) for c, n in zip(ws_senders, names,
                                                                   strict=True)),
                                  *(send_rest(user) for user in rest_senders))
    assert counts == [100] * 10

    for member in members:
        got = await member.messages(1000, timeout=30)
        assert len({m["mid"] for m in got}) == 1000
        assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)
        by_sender: dict[str, list[int]] = {}
        for message in got:
            by_sender.setdefault(message["body"]["s"], []).append(message["body"]["n"])
        assert sorted(by_sender) == sorted(names + rest_senders)
        for numbers in by_sender.values():
            assert numbers == list(range(100))


async def test_reconnects_leave_one_subscription(connect, uid, stack) -> None:
    room, user = uid("room"), uid()
    host = await connect(uid(), gateway="gw2")
    await host.request("room.create", room=room)
    first = await connect(user, gateway="gw1")
    await first.request("room.join", room=room)
    await first.close()
    for _ in range(3):
        again = await connect(user, gateway="gw1")
        await again.close()
    last = await connect(user, gateway="gw1")
    assert (await last.request("send", room=room, cid="once", body="once"))["code"] == 0
    for client in (host, last):
        got = await client.next("msg")
        assert got["body"] == "once"
    await asyncio.sleep(0.5)
    for client in (host, last):
        assert client.pushed.empty() or all(
            item.get("op") != "msg" for item in list(client.pushed._queue))  # type: ignore
    subjects = stack.subscriptions("mimo-gateway-gw1")
    assert subjects.count(f"room.{room}.*") == 1
