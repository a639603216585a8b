"""Rooms: lifecycle codes, roles, online counts across gateways, resumed membership."""

import asyncio

from tests.client import Client


async def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.2)
    return await predicate()


async def online_of(client: Client, room: str) -> int:
    reply = await client.request("room.list")
    return {item["room"]: item["online"] for item in reply["rooms"]}[room]


async def test_create_existing_room_gets_2006(connect, uid) -> None:
    client = await connect(uid())
    room = uid("room")
    assert (await client.request("room.create", room=room))["code"] == 0
    assert (await client.request("room.create", room=room))["code"] == 2006


async def test_create_without_id_generates_one(connect, uid) -> None:
    client = await connect(uid())
    reply = await client.request("room.create", name="Untitled")
    assert reply["code"] == 0
    assert reply["room"]


async def test_join_missing_room_gets_2000(connect, uid) -> None:
    client = await connect(uid())
    assert (await client.request("room.join", room=uid("nowhere")))["code"] == 2000


async def test_join_full_room_gets_2001(connect, uid) -> None:
    owner, room = await connect(uid()), uid("room")
    assert (await owner.request("room.create", room=room, max_members=2))["code"] == 0
    second = await connect(uid())
    assert (await second.request("room.join", room=room))["code"] == 0
    third = await connect(uid())
    assert (await third.request("room.join", room=room))["code"] == 2001


async def test_join_twice_counts_once(connect, uid) -> None:
    owner, room = await connect(uid()), uid("room")
    await owner.request("room.create", room=room)
    member = await connect(uid())
    first = await member.request("room.join", room=room)
    second = await member.request("room.join", room=room)
    assert first["members"] == 2
    assert second["members"] == 2


async def test_leave_without_membership_gets_2004(connect, uid) -> None:
    owner, room = await connect(uid()), uid("room")
    await owner.request("room.create", room=room)
    stranger = await connect(uid())
    assert (await stranger.request("room.leave", room=room))["code"] == 2004


async def test_destroy_needs_owner_or_admin(connect, uid) -> None:
    owner, room = await connect(uid()), uid("room")
    await owner.request("room.create", room=room)
    member = await connect(uid())
    await member.request("room.join", room=room)
    assert (await member.request("room.destroy", room=room))["code"] == 2005


async def test_admin_can_destroy(connect, uid) -> None:
    owner_id, admin_id, room = uid(), uid(), uid("room")
    owner = await connect(owner_id)
    await owner.request("room.create", room=room)
    admin = await connect(admin_id)
    await admin.request("room.join", room=room)
    assert (await owner.request("room.admin", room=room, uid=admin_id, grant=True))["code"] == 0
    assert (await admin.request("room.destroy", room=room))["code"] == 0


async def test_destroy_reaches_both_gateways_then_send_2000(connect, uid) -> None:
    room = uid("room")
    owner = await connect(uid(), gateway="gw1")
    await owner.request("room.create", room=room)
    far = await connect(uid(), gateway="gw2")
    assert (await far.request("room.join", room=room))["code"] == 0
    assert (await owner.request("room.destroy", room=room))["code"] == 0
    for client in (owner, far):
        notice = await client.next("room.destroyed")
        assert notice["room"] == room
    reply = await far.request("send", room=room, cid="after", body="late")
    assert reply["code"] == 2000
    listed = await far.request("room.list")
    assert room not in [item["room"] for item in listed["rooms"]]


async def test_list_shows_name_role_online(connect, uid) -> None:
    room = uid("room")
    owner = await connect(uid())
    await owner.request("room.create", room=room, name="Evening show")
    reply = await owner.request("room.list")
    entry = {item["room"]: item for item in reply["rooms"]}[room]
    assert entry["name"] == "Evening show"
    assert entry["role"] == "owner"
    assert await wait_for(lambda: _online_is(owner, room, 1))


async def _online_is(client: Client, room: str, count: int) -> bool:
    return await online_of(client, room) == count


async def test_online_notice_reaches_both_gateways(connect, uid) -> None:
    room = uid("room")
    owner = await connect(uid(), gateway="gw1")
    await owner.request("room.create", room=room)
    far = await connect(uid(), gateway="gw2")
    await far.request("room.join", room=room)
    assert await wait_for(lambda: _online_is(owner, room, 2))
    for client in (owner, far):
        while (notice := await client.next("room.online"))["online"] != 2:
            pass
        assert notice["room"] == room


async def test_membership_resumes_after_new_login(connect, uid) -> None:
    room, member_id = uid("room"), uid()
    owner = await connect(uid())
    await owner.request("room.create", room=room)
    member = await connect(member_id, gateway="gw1")
    await member.request("room.join", room=room)
    await member.close()

    again = await connect(member_id, gateway="gw2")
    assert room in again.login_reply["rooms"]
    assert (await owner.request("send", room=room, cid="x1", body="welcome back"))["code"] == 0
    message = await again.next("msg")
    assert message["body"] == "welcome back"


async def test_join_disconnect_race_leaves_no_presence(stack, uid, token, connect) -> None:
    """A join whose connection closes at once leaves no online entry and no subscription
    on the gateway, 1,000 times over."""
    room = uid("room")
    owner = await connect(uid(), gateway="gw1")
    await owner.request("room.create", room=room)
    room_subject = f"room.{room}.*"

    async def race(number: int) -> None:
        client = await Client.connect(stack.url("gw2"))
        await client.request("login", token=token(uid("racer")))
        await client.send({"op": "room.join", "room": room, "id": 1})
        if number % 2:
            await asyncio.sleep(0.001 * (number % 5))
        client.ws.transport.abort()

    for start in range(0, 1000, 20):
        await asyncio.gather(*(race(number) for number in range(start, start + 20)))

    assert await wait_for(lambda: _online_is(owner, room, 1), timeout=15)

    async def no_subscription_on_gw2() -> bool:
        return room_subject not in stack.subscriptions("mimo-gateway-gw2")

    assert await wait_for(no_subscription_on_gw2, timeout=10)
    assert room_subject in stack.subscriptions("mimo-gateway-gw1")


async def test_killed_gateway_online_entries_expire(stack, uid, connect) -> None:
    """Members online through a gateway killed with SIGKILL leave the count within the
    presence expiry."""
    room = uid("room")
    owner = await connect(uid(), gateway="gw1")
    await owner.request("room.create", room=room)
    stack.start_gateway("gw-doomed")
    doomed = [await connect(uid(), gateway="gw-doomed") for _ in range(3)]
    for client in doomed:
        assert (await client.request("room.join", room=room))["code"] == 0
    assert await wait_for(lambda: _online_is(owner, room, 4))

    stack.kill("gw-doomed")
    assert await wait_for(lambda: _online_is(owner, room, 1), timeout=15)
