"""Two users log in, share a room and exchange room and personal messages."""

from tests.client import Client


async def test_room_messages_reach_both_in_order(connect, uid) -> None:
    alice, bob = uid("alice"), uid("bob")
    room = uid("room")
    a = await connect(alice)
    b = await connect(bob, gateway="gw2")

    created = await a.request("room.create", room=room, name="Test room")
    assert created["code"] == 0
    assert created["room"] == room
    joined = await b.request("room.join", room=room)
    assert joined["code"] == 0
    assert joined["members"] == 2

    receipts = []
    for number in range(5):
        sender = a if number % 2 == 0 else b
        receipt = await sender.request("send", room=room, cid=f"c{number}",
                                       body={"text": f"m{number}"})
        assert receipt["code"] == 0, receipt
        receipts.append(receipt)
    assert [r["seq"] for r in receipts] == [1, 2, 3, 4, 5]

    for client in (a, b):
        got = await client.messages(5)
        assert [m["body"]["text"] for m in got] == [f"m{n}" for n in range(5)]
        assert [m["seq"] for m in got] == [1, 2, 3, 4, 5]
        assert all(m["room"] == room and m["ack"] is False for m in got)


async def test_personal_message_arrives_live_with_ack(connect, uid) -> None:
    alice, bob = uid("alice"), uid("bob")
    a = await connect(alice)
    b = await connect(bob, gateway="gw2")
    receipt = await a.request("send", to=bob, cid="p1", body="hello")
    assert receipt["code"] == 0, receipt
    message = await b.next("msg")
    assert message["from"] == alice
    assert message["to"] == bob
    assert message["body"] == "hello"
    assert message["ack"] is True
    assert message["mid"] == receipt["mid"]
    acked = await b.request("ack", mids=[message["mid"]])
    assert acked["acked"] == 1


async def test_msgpack_client_receives_room_message(connect, uid) -> None:
    alice = uid("alice")
    room = uid("room")
    a: Client = await connect(alice, msgpack=True)
    assert (await a.request("room.create", room=room))["code"] == 0
    assert (await a.request("send", room=room, cid="c1", body=[1, 2.5, "x"]))["code"] == 0
    message = await a.next("msg")
    assert message["body"] == [1, 2.5, "x"]
