"""Moderation over REST: platform bans and mutes, room mutes and bans, mute-all, block lists
and the audit log. Routes whose worker subject has no handler yet are marked xfail."""

import time

from tests.api_helpers import api_client
from tests.stack import Stack
from tests.test_http_api import assert_error, skip_without_handler


async def test_platform_ban_and_unban(stack: Stack, uid, connect) -> None:
    user = uid("user")
    client = await connect(user)
    async with api_client(stack) as api:
        banned = await api.put(f"/v1/users/{user}/ban", json={"duration": 0, "reason": "spam"})
        skip_without_handler(banned, "im.mod.user_ban")
        assert banned.status_code == 200, banned.text
        close_code, _ = await client.wait_closed()
        assert close_code == 4001
        info = (await api.get(f"/v1/users/{user}")).json()
        assert info["banned_until"] == -1
        again = await connect(user, login=False)
        assert (await again.request("login", token=_token(stack, user)))["code"] == 1001

        lifted = await api.delete(f"/v1/users/{user}/ban", params={"reason": "appeal"})
        assert lifted.status_code == 200, lifted.text
        assert (await api.get(f"/v1/users/{user}")).json()["banned_until"] == 0


def _token(stack: Stack, user: str) -> str:
    from mimo import tokens

    return tokens.issue(user, stack.secret, 3600)


async def test_platform_mute_blocks_sends(stack: Stack, uid) -> None:
    alice, bob = uid("alice"), uid("bob")
    async with api_client(stack) as api:
        await api.put(f"/v1/users/{alice}")
        await api.put(f"/v1/users/{bob}")
        muted = await api.put(f"/v1/users/{alice}/mute", json={"duration": 600})
        skip_without_handler(muted, "im.mod.user_mute")
        assert muted.status_code == 200, muted.text
        until = (await api.get(f"/v1/users/{alice}")).json()["muted_until"]
        assert until > time.time() * 1000 + 590_000
        refused = await api.post("/v1/messages", json={"from": alice, "to": bob, "body": "x"})
        assert_error(refused, 403, 1006)
        assert (await api.delete(f"/v1/users/{alice}/mute")).status_code == 200
        sent = await api.post("/v1/messages", json={"from": alice, "to": bob, "body": "x"})
        assert sent.status_code == 201, sent.text
        assert_error(await api.put(f"/v1/users/{alice}/mute", json={"duration": 10**10}),
                     422, 4003)


async def test_room_mute_ban_and_mute_all(stack: Stack, uid, connect) -> None:
    owner, member, room = uid("owner"), uid("member"), uid("room")
    client = await connect(member)
    async with api_client(stack) as api:
        created = await api.post("/v1/rooms", json={"room": room, "name": "r", "owner": owner})
        assert created.status_code == 201
        assert (await client.request("room.join", room=room))["code"] == 0

        muted = await api.put(f"/v1/rooms/{room}/mutes/{member}", json={"duration": 0})
        skip_without_handler(muted, "im.mod.room_mute")
        assert muted.status_code == 200, muted.text
        refused = await api.post(f"/v1/rooms/{room}/messages", json={"body": 1, "from": member})
        assert_error(refused, 403, 2002)
        assert (await api.delete(f"/v1/rooms/{room}/mutes/{member}")).status_code == 200
        allowed = await api.post(f"/v1/rooms/{room}/messages", json={"body": 2, "from": member})
        assert allowed.status_code == 201, allowed.text

        all_muted = await api.put(f"/v1/rooms/{room}/mute-all", json={"reason": "quiet"})
        assert all_muted.status_code == 200, all_muted.text
        assert (await api.get(f"/v1/rooms/{room}")).json()["muted_all"] is True
        refused = await api.post(f"/v1/rooms/{room}/messages", json={"body": 3, "from": member})
        assert_error(refused, 403, 2002)
        system = await api.post(f"/v1/rooms/{room}/messages", json={"body": 4})
        assert system.status_code == 201, system.text
        assert (await api.delete(f"/v1/rooms/{room}/mute-all")).status_code == 200
        assert (await api.get(f"/v1/rooms/{room}")).json()["muted_all"] is False

        banned = await api.put(f"/v1/rooms/{room}/bans/{member}", json={"duration": 0})
        assert banned.status_code == 200, banned.text
        rejoin = await client.request("room.join", room=room)
        assert rejoin["code"] == 2003, rejoin
        assert (await api.delete(f"/v1/rooms/{room}/bans/{member}")).status_code == 200
        assert (await client.request("room.join", room=room))["code"] == 0

        missing = await api.put(f"/v1/rooms/{uid('none')}/mutes/{member}", json={})
        assert_error(missing, 404, 2000)


async def test_block_list_routes(stack: Stack, uid) -> None:
    alice, others = uid("alice"), [uid("other") for _ in range(3)]
    async with api_client(stack) as api:
        for user in (alice, *others):
            await api.put(f"/v1/users/{user}")
        for other in others:
            blocked = await api.put(f"/v1/users/{alice}/blocks/{other}")
            assert blocked.status_code == 200, blocked.text
        status = await api.get(f"/v1/users/{alice}/blocks/{others[0]}")
        skip_without_handler(status, "im.mod.block_status")
        assert status.status_code == 200, status.text
        assert status.json()["blocked"] is True

        refused = await api.post("/v1/messages",
                                 json={"from": others[0], "to": alice, "body": "x"})
        assert_error(refused, 403, 4000)

        listed: list[str] = []
        cursor = None
        for _ in range(10):
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = await api.get(f"/v1/users/{alice}/blocks", params=params)
            assert page.status_code == 200, page.text
            listed.extend(page.json()["uids"])
            cursor = page.json().get("cursor")
            if cursor is None:
                break
        assert sorted(listed) == sorted(others)

        assert (await api.delete(f"/v1/users/{alice}/blocks/{others[0]}")).status_code == 200
        status = await api.get(f"/v1/users/{alice}/blocks/{others[0]}")
        assert status.json()["blocked"] is False
        assert_error(await api.put(f"/v1/users/{alice}/blocks/{alice}"), 400, 4003)


async def test_audit_log_records_rest_actor(stack: Stack, uid, connect) -> None:
    from http_api.auth import key_label

    owner, member, room = uid("owner"), uid("member"), uid("room")
    started = int(time.time() * 1000) - 1000
    client = await connect(member)
    async with api_client(stack) as api:
        await api.post("/v1/rooms", json={"room": room, "name": "r", "owner": owner})
        assert (await client.request("room.join", room=room))["code"] == 0
        muted = await api.put(f"/v1/rooms/{room}/mutes/{member}",
                              json={"duration": 60, "reason": "flood"})
        skip_without_handler(muted, "im.mod.room_mute")
        assert muted.status_code == 200, muted.text
        response = await api.get("/v1/moderation/audit",
                                 params={"room": room, "since": started})
        skip_without_handler(response, "im.mod.audit")
        assert response.status_code == 200, response.text
        entries = response.json()["entries"]
        by_uid = await api.get("/v1/moderation/audit", params={"uid": member})
        assert_error(await api.get("/v1/moderation/audit", params={"room": "bad.room"}), 400,
                     4003)
    mutes = [entry for entry in entries if entry["target"] == member]
    assert len(mutes) == 1, entries
    entry = mutes[0]
    assert entry["actor"] == key_label(stack.api_key)
    assert entry["room"] == room
    assert entry["reason"] == "flood"
    assert entry["until"] > started + 60_000
    assert set(entry) >= {"ts", "actor", "action", "target", "room", "until", "reason"}
    assert any(item["room"] == room for item in by_uid.json()["entries"])
