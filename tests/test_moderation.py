"""Room and platform moderation, block lists and the audit log, against the real stack."""

import asyncio

import pytest

from bus import subjects
from bus.commands import Block, Blocks, RoomKick, RoomMute, Unblock
from bus.connection import call
from bus.types import Actor, Request, reply_decoder
from tests.moderation_support import (
    API,
    CALL_TIMEOUT,
    as_api,
    audit,
    bus_fixture,  # noqa: F401 (the `bus` fixture)
    make_room,
    platform,
    wait_past,
)

# --- room mute ---------------------------------------------------------------------------


async def test_room_mute_blocks_send_and_notifies(connect, uid) -> None:
    owner, member, room = uid("owner"), uid("member"), uid("room")
    a = await connect(owner)
    b = await connect(member, gateway="gw2")
    await make_room(a, room, b)

    muted = await a.request("room.mute", room=room, uid=member, reason="spam")
    assert muted["code"] == 0, muted
    assert muted["room"] == room
    assert muted["until"] == -1
    notice = await b.next("muted")
    assert notice == {"op": "muted", "room": room, "until": -1}

    refused = await b.request("send", room=room, cid="m1", body="hi")
    assert refused["code"] == 2002, refused

    lifted = await a.request("room.unmute", room=room, uid=member)
    assert lifted["code"] == 0, lifted
    notice = await b.next("muted")
    assert notice == {"op": "muted", "room": room, "until": 0}
    sent = await b.request("send", room=room, cid="m2", body="hi again")
    assert sent["code"] == 0, sent


async def test_refused_send_takes_no_seq(connect, uid) -> None:
    owner, member, room = uid("owner"), uid("member"), uid("room")
    a = await connect(owner)
    b = await connect(member)
    await make_room(a, room, b)
    assert (await a.request("send", room=room, cid="c1", body=1))["seq"] == 1
    assert (await a.request("room.mute", room=room, uid=member))["code"] == 0
    assert (await b.request("send", room=room, cid="c2", body=2))["code"] == 2002
    assert (await a.request("send", room=room, cid="c3", body=3))["seq"] == 2


async def test_room_mute_error_codes(connect, uid) -> None:
    owner, admin, other_admin, member = uid("owner"), uid("admin"), uid("admin"), uid("m")
    outsider, room = uid("outsider"), uid("room")
    o = await connect(owner)
    a = await connect(admin)
    a2 = await connect(other_admin, gateway="gw2")
    m = await connect(member, gateway="gw2")
    await connect(outsider)
    await make_room(o, room, a, a2, m)
    for user in (admin, other_admin):
        assert (await o.request("room.admin", room=room, uid=user))["code"] == 0

    cases = [
        (o, {"room": uid("nowhere"), "uid": member}, 2000),
        (m, {"room": room, "uid": admin}, 2005),
        (m, {"room": room, "uid": owner}, 2005),
        (o, {"room": room, "uid": outsider}, 2004),
        (a, {"room": room, "uid": owner}, 2005),
        (a, {"room": room, "uid": other_admin}, 2005),
        (o, {"room": room, "uid": owner}, 4003),
        (o, {"room": room, "uid": "bad id"}, 4003),
        (o, {"room": room, "uid": member, "duration": -1}, 4003),
    ]
    for client, fields, code in cases:
        reply = await client.request("room.mute", **fields)
        assert reply["code"] == code, (fields, reply)
        assert reply["error"], reply

    assert (await a.request("room.mute", room=room, uid=member))["code"] == 0
    assert (await o.request("room.mute", room=room, uid=admin))["code"] == 0
    assert (await a.request("send", room=room, cid="x", body="x"))["code"] == 2002


async def test_short_room_mute_expires_on_both_gateways(connect, uid) -> None:
    owner, first, second, room = uid("owner"), uid("m"), uid("m"), uid("room")
    o = await connect(owner)
    one = await connect(first, gateway="gw1")
    two = await connect(second, gateway="gw2")
    await make_room(o, room, one, two)

    until = 0
    for user in (first, second):
        muted = await o.request("room.mute", room=room, uid=user, duration=2)
        assert muted["code"] == 0, muted
        assert muted["until"] > 0
        until = max(until, muted["until"])
    for client in (one, two):
        assert (await client.request("send", room=room, cid="early", body=0))["code"] == 2002

    await wait_past(until)
    for client in (one, two):
        sent = await client.request("send", room=room, cid="late", body=1)
        assert sent["code"] == 0, sent


async def test_mute_outlives_leave_and_rejoin(connect, uid) -> None:
    owner, member, room = uid("owner"), uid("member"), uid("room")
    o = await connect(owner)
    m = await connect(member, gateway="gw2")
    await make_room(o, room, m)
    assert (await o.request("room.mute", room=room, uid=member))["code"] == 0
    assert (await m.request("room.leave", room=room))["code"] == 0
    assert (await m.request("room.join", room=room))["code"] == 0
    assert (await m.request("send", room=room, cid="c", body=0))["code"] == 2002

    # Lifting works while the user is away from the room too.
    assert (await m.request("room.leave", room=room))["code"] == 0
    lifted = await o.request("room.unmute", room=room, uid=member)
    assert lifted["code"] == 0, lifted
    assert lifted["lifted"] is True
    assert (await m.request("room.join", room=room))["code"] == 0
    assert (await m.request("send", room=room, cid="d", body=0))["code"] == 0


# --- mute all ----------------------------------------------------------------------------


async def test_mute_all_exempts_owner_and_admin(connect, uid) -> None:
    owner, admin, member, room = uid("owner"), uid("admin"), uid("member"), uid("room")
    o = await connect(owner)
    a = await connect(admin, gateway="gw2")
    m = await connect(member)
    await make_room(o, room, a, m)
    assert (await o.request("room.admin", room=room, uid=admin))["code"] == 0

    assert (await m.request("room.mute_all", room=room, on=True))["code"] == 2005
    on = await a.request("room.mute_all", room=room, on=True, reason="quiet")
    assert on["code"] == 0, on
    assert (await m.request("send", room=room, cid="m1", body=0))["code"] == 2002
    assert (await a.request("send", room=room, cid="a1", body=0))["code"] == 0
    assert (await o.request("send", room=room, cid="o1", body=0))["code"] == 0

    assert (await o.request("room.mute_all", room=room, on=False))["code"] == 0
    assert (await m.request("send", room=room, cid="m2", body=0))["code"] == 0
    assert (await o.request("room.mute_all", room=uid("nowhere"), on=True))["code"] == 2000


# --- kick and room ban -------------------------------------------------------------------


@pytest.mark.parametrize("member_gateway", ["gw1", "gw2"])
async def test_kick_bans_live_member(connect, uid, member_gateway: str) -> None:
    owner, member, room = uid("owner"), uid("member"), uid("room")
    owner_gateway = "gw2" if member_gateway == "gw1" else "gw1"
    o = await connect(owner, gateway=owner_gateway)
    m = await connect(member, gateway=member_gateway)
    await make_room(o, room, m)
    assert (await o.request("send", room=room, cid="before", body="before"))["code"] == 0
    assert (await m.next("msg"))["body"] == "before"

    kicked = await o.request("room.kick", room=room, uid=member, reason="abuse")
    assert kicked["code"] == 0, kicked
    assert kicked["until"] == -1
    notice = await m.next("kicked")
    assert notice["code"] == 2003
    assert notice["room"] == room

    assert (await m.request("send", room=room, cid="after", body=0))["code"] == 2004
    assert (await m.request("room.join", room=room))["code"] == 2003
    listed = await m.request("room.list")
    assert room not in [entry["room"] for entry in listed["rooms"]]

    # Had the member's session kept the room, "during" would arrive before "back".
    assert (await o.request("send", room=room, cid="during", body="during"))["code"] == 0
    assert (await o.request("room.unban", room=room, uid=member))["code"] == 0
    assert (await m.request("room.join", room=room))["code"] == 0
    assert (await o.request("send", room=room, cid="back", body="back"))["code"] == 0
    assert (await m.next("msg"))["body"] == "back"


async def test_short_room_ban_expires_on_both_gateways(connect, uid) -> None:
    owner, member, room = uid("owner"), uid("member"), uid("room")
    o = await connect(owner)
    m = await connect(member)
    await make_room(o, room, m)
    kicked = await o.request("room.kick", room=room, uid=member, duration=1)
    assert kicked["code"] == 0, kicked
    assert kicked["until"] > 0

    assert (await m.request("room.join", room=room))["code"] == 2003
    m2 = await connect(member, gateway="gw2")
    assert (await m2.request("room.join", room=room))["code"] == 2003

    await wait_past(kicked["until"])
    joined = await m2.request("room.join", room=room)
    assert joined["code"] == 0, joined
    m1 = await connect(member, gateway="gw1")
    assert (await m1.request("send", room=room, cid="c", body=0))["code"] == 0


async def test_kick_role_rules(connect, uid, bus) -> None:
    owner, admin, other_admin, member = uid("owner"), uid("admin"), uid("admin"), uid("m")
    room = uid("room")
    o = await connect(owner)
    a = await connect(admin)
    a2 = await connect(other_admin, gateway="gw2")
    m = await connect(member, gateway="gw2")
    await make_room(o, room, a, a2, m)
    for user in (admin, other_admin):
        assert (await o.request("room.admin", room=room, uid=user))["code"] == 0

    assert (await m.request("room.kick", room=room, uid=admin))["code"] == 2005
    assert (await a.request("room.kick", room=room, uid=owner))["code"] == 2005
    assert (await a.request("room.kick", room=room, uid=other_admin))["code"] == 2005
    assert (await a.request("room.kick", room=room, uid=member))["code"] == 0
    assert (await o.request("room.kick", room=room, uid=admin))["code"] == 0
    assert (await o.request("room.kick", room=room, uid=member))["code"] == 2004

    # The business system may act on anyone, the owner included.
    reply = await as_api(bus, subjects.MOD_ROOM_KICK, RoomKick(room=room, uid=owner))
    assert reply.code == 0, reply
    assert (await o.request("room.join", room=room))["code"] == 2003


async def test_business_system_mutes_owner(connect, uid, bus) -> None:
    owner, room = uid("owner"), uid("room")
    o = await connect(owner)
    await make_room(o, room)
    reply = await as_api(bus, subjects.MOD_ROOM_MUTE, RoomMute(room=room, uid=owner, duration=60))
    assert reply.code == 0, reply
    assert reply.data["until"] > 0
    notice = await o.next("muted")
    assert notice["until"] == reply.data["until"]
    assert (await o.request("send", room=room, cid="c", body=0))["code"] == 2002


# --- platform mute and ban ---------------------------------------------------------------


async def test_platform_mute_expires_on_both_gateways(connect, uid, bus) -> None:
    user, friend, room = uid("user"), uid("friend"), uid("room")
    f = await connect(friend, gateway="gw2")
    u = await connect(user)
    await make_room(u, room, f)

    reply = await platform(bus, subjects.MOD_USER_MUTE, user, duration=2, reason="flood")
    assert reply.code == 0, reply
    until = reply.data["until"]
    assert until > 0
    notice = await u.next("muted")
    assert notice == {"op": "muted", "until": until}
    state = await platform(bus, subjects.MOD_USER_STATE, user)
    assert state.data["muted_until"] == until
    assert state.data["banned_until"] == 0

    assert (await u.request("send", room=room, cid="r1", body=0))["code"] == 1006
    assert (await u.request("send", to=friend, cid="p1", body=0))["code"] == 1006
    u2 = await connect(user, gateway="gw2")
    assert (await u2.request("send", room=room, cid="r2", body=0))["code"] == 1006

    await wait_past(until)
    assert (await u2.request("send", room=room, cid="r3", body=0))["code"] == 0
    u1 = await connect(user, gateway="gw1")
    assert (await u1.request("send", to=friend, cid="p2", body=0))["code"] == 0
    state = await platform(bus, subjects.MOD_USER_STATE, user)
    assert state.data["muted_until"] == 0


async def test_platform_unmute_lifts_at_once(connect, uid, bus) -> None:
    user, friend = uid("user"), uid("friend")
    await connect(friend)
    u = await connect(user, gateway="gw2")
    assert (await platform(bus, subjects.MOD_USER_MUTE, user)).data["until"] == -1
    assert (await u.request("send", to=friend, cid="p1", body=0))["code"] == 1006
    lifted = await platform(bus, subjects.MOD_USER_UNMUTE, user)
    assert lifted.code == 0, lifted
    assert lifted.data["lifted"] is True
    assert await u.next("muted") == {"op": "muted", "until": -1}
    assert await u.next("muted") == {"op": "muted", "until": 0}
    assert (await u.request("send", to=friend, cid="p2", body=0))["code"] == 0


async def test_platform_ban_kicks_and_expires(connect, uid, token, bus) -> None:
    user = uid("user")
    old_token = token(user)
    first = await connect(user, gateway="gw1")

    reply = await platform(bus, subjects.MOD_USER_BAN, user, duration=1, reason="fraud")
    assert reply.code == 0, reply
    until = reply.data["until"]
    assert until > 0
    assert reply.data["sessions"] == 1
    notice = await first.next("kicked")
    assert notice["code"] == 1001
    close_code, _ = await first.wait_closed()
    assert close_code == 4001

    for gateway in ("gw1", "gw2"):
        client = await connect(gateway=gateway, login=False)
        refused = await client.request("login", token=token(user))
        assert refused["code"] == 1001, refused
    state = await platform(bus, subjects.MOD_USER_STATE, user)
    assert state.data["banned_until"] == until

    await wait_past(until)
    for gateway in ("gw1", "gw2"):
        stale = await connect(gateway=gateway, login=False)
        assert (await stale.request("login", token=old_token))["code"] == 1000
        await connect(user, gateway=gateway)


async def test_platform_unban_lifts_at_once(connect, uid, token, bus) -> None:
    user = uid("user")
    old_token = token(user)
    assert (await platform(bus, subjects.MOD_USER_BAN, user)).data["until"] == -1
    client = await connect(gateway="gw2", login=False)
    assert (await client.request("login", token=token(user)))["code"] == 1001

    lifted = await platform(bus, subjects.MOD_USER_UNBAN, user)
    assert lifted.code == 0, lifted
    assert lifted.data["lifted"] is True
    client = await connect(gateway="gw2", login=False)
    assert (await client.request("login", token=old_token))["code"] == 1000
    await connect(user, gateway="gw2")


async def test_platform_requests_reject_bad_input(uid, bus) -> None:
    user = uid("user")
    no_api = Actor(uid=user)
    assert (await platform(bus, subjects.MOD_USER_BAN, user, actor=no_api)).code == 2005
    assert (await platform(bus, subjects.MOD_USER_MUTE, "bad.id")).code == 4003
    assert (await platform(bus, subjects.MOD_USER_MUTE, user, duration=-5)).code == 4003
    assert (await platform(bus, subjects.MOD_USER_MUTE, user, reason="x" * 600)).code == 4003
    garbage = await bus.request(subjects.MOD_USER_BAN, b"\xc1not msgpack", timeout=CALL_TIMEOUT)
    assert reply_decoder.decode(garbage.data).code == 4003
    state = await platform(bus, subjects.MOD_USER_STATE, user)
    assert state.data == {"uid": user, "banned_until": 0, "muted_until": 0}


# --- block lists -------------------------------------------------------------------------


async def test_block_rejects_personal_messages(connect, uid, bus) -> None:
    user, pest = uid("user"), uid("pest")
    u = await connect(user)
    p = await connect(pest, gateway="gw2")
    assert (await u.request("block", uid=pest))["code"] == 0
    assert (await p.request("send", to=user, cid="c1", body=0))["code"] == 4000

    status = await call(bus, subjects.MOD_BLOCK_STATUS,
                        Request(actor=Actor(uid=user, api=API.api), cmd=Block(uid=pest)),
                        CALL_TIMEOUT)
    assert status.data["blocked"] is True
    assert status.data["since"] > 0
    reverse = await call(bus, subjects.MOD_BLOCK_STATUS,
                         Request(actor=Actor(uid=pest, api=API.api), cmd=Block(uid=user)),
                         CALL_TIMEOUT)
    assert reverse.data["blocked"] is False

    assert (await u.request("unblock", uid=pest))["code"] == 0
    assert (await p.request("send", to=user, cid="c2", body=0))["code"] == 0


async def test_block_error_codes(connect, uid) -> None:
    user = uid("user")
    u = await connect(user)
    assert (await u.request("block", uid=user))["code"] == 4003
    assert (await u.request("block", uid=uid("never-seen")))["code"] == 1002
    assert (await u.request("blocks", cursor="nonsense"))["code"] == 4003


async def test_blocks_pages_survive_changes(connect, uid, bus) -> None:
    user = uid("user")
    others = [uid("other") for _ in range(7)]
    u = await connect(user)
    for other in others:
        await connect(other, gateway="gw2")
        assert (await u.request("block", uid=other))["code"] == 0

    first = await u.request("blocks", limit=3)
    assert first["code"] == 0, first
    assert first["uids"] == others[:3]
    # Removing an entry already listed must not shift the next page.
    assert (await u.request("unblock", uid=others[0]))["code"] == 0
    second = await u.request("blocks", limit=3, cursor=first["cursor"])
    assert second["uids"] == others[3:6]
    third = await u.request("blocks", limit=3, cursor=second["cursor"])
    assert third["uids"] == others[6:]
    assert "cursor" not in third

    everything = await as_api(bus, subjects.MOD_BLOCKS, Blocks(limit=500))
    assert everything.code == 4003  # the business system must name the user
    listed = await call(bus, subjects.MOD_BLOCKS,
                        Request(actor=Actor(uid=user, api=API.api), cmd=Blocks(limit=10)),
                        CALL_TIMEOUT)
    assert listed.data["uids"] == others[1:]
    assert "cursor" not in listed.data
    removed = await call(bus, subjects.MOD_UNBLOCK,
                         Request(actor=Actor(uid=user, api=API.api), cmd=Unblock(uid=others[1])),
                         CALL_TIMEOUT)
    assert removed.data["removed"] is True


# --- audit log -----------------------------------------------------------------------------


async def test_audit_lists_each_action(connect, uid, bus) -> None:
    owner, member, room = uid("owner"), uid("member"), uid("room")
    o = await connect(owner)
    m = await connect(member, gateway="gw2")
    await make_room(o, room, m)
    steps = [
        ("room.mute", {"uid": member, "duration": 30, "reason": "r1"}),
        ("room.unmute", {"uid": member, "reason": "r2"}),
        ("room.mute_all", {"on": True, "reason": "r3"}),
        ("room.mute_all", {"on": False, "reason": "r4"}),
        ("room.kick", {"uid": member, "reason": "r5"}),
        ("room.unban", {"uid": member, "reason": "r6"}),
    ]
    for op, fields in steps:
        reply = await o.request(op, room=room, **fields)
        assert reply["code"] == 0, (op, reply)
    banned = await platform(bus, subjects.MOD_USER_BAN, member, duration=60, reason="r7")
    assert banned.code == 0, banned
    assert (await platform(bus, subjects.MOD_USER_UNBAN, member, reason="r8")).code == 0

    entries = await audit(bus, room=room)
    actions = [entry["action"] for entry in reversed(entries)]
    assert actions == ["room.mute", "room.unmute", "room.mute_all", "room.unmute_all",
                       "room.kick", "room.unban"]
    assert {entry["actor"] for entry in entries} == {f"user:{owner}"}
    assert [entry["reason"] for entry in reversed(entries)] == [f"r{n}" for n in range(1, 7)]
    mute = entries[-1]
    assert mute["target"] == member
    assert mute["room"] == room
    assert mute["until"] > mute["ts"]

    by_user = await audit(bus, uid=member)
    assert [entry["action"] for entry in by_user] == [
        "user.unban", "user.ban", "room.unban", "room.kick", "room.unmute", "room.mute"]
    assert by_user[1]["actor"] == API.api
    assert by_user[1]["until"] == banned.data["until"]

    since = by_user[1]["ts"]
    assert [entry["action"] for entry in await audit(bus, uid=member, since=since)][:2] == [
        "user.unban", "user.ban"]
    assert await audit(bus, uid=member, since=since + 3_600_000) == []
    everything = await audit(bus)
    assert ("user.ban", member) in {(entry["action"], entry["target"]) for entry in everything}


async def test_audit_pages_in_order(connect, uid, bus) -> None:
    owner, member, room = uid("owner"), uid("member"), uid("room")
    o = await connect(owner)
    m = await connect(member)
    await make_room(o, room, m)
    for number in range(5):
        reply = await o.request("room.mute", room=room, uid=member, reason=f"n{number}")
        assert reply["code"] == 0, reply

    reasons: list[str] = []
    cursor = None
    for _ in range(5):
        query = {"room": room, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await call(bus, subjects.MOD_AUDIT, query, CALL_TIMEOUT)
        assert page.code == 0, page
        reasons += [entry["reason"] for entry in page.data["entries"]]
        cursor = page.data.get("cursor")
        if cursor is None:
            break
    assert reasons == [f"n{number}" for number in reversed(range(5))]
    bad = await call(bus, subjects.MOD_AUDIT, {"room": room, "cursor": "x"}, CALL_TIMEOUT)
    assert bad.code == 4003


async def test_concurrent_mutes_all_apply(connect, uid) -> None:
    owner, room = uid("owner"), uid("room")
    members = [uid("m") for _ in range(4)]
    o = await connect(owner)
    clients = [await connect(member, gateway="gw2") for member in members]
    await make_room(o, room, *clients)
    replies = await asyncio.gather(*(
        o.request("room.mute", room=room, uid=member, duration=30) for member in members))
    assert [reply["code"] for reply in replies] == [0] * len(members)
    for client in clients:
        assert (await client.request("send", room=room, cid="c", body=0))["code"] == 2002
