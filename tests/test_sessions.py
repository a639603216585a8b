"""Sessions: one live session per user across gateways, kicks, revocation, liveness."""

import asyncio
import random

from bus import subjects
from bus.connection import call
from bus.types import UserRequest
from mimo import tokens
from tests.client import Client


async def live_sessions(bus, user: str) -> list[dict]:
    reply = await call(bus, subjects.AUTH_SESSIONS, UserRequest(uid=user), 5)
    assert reply.code == 0, reply
    return reply.data["sessions"]


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval)
    return await predicate()


async def test_newer_login_kicks_older_with_1003(connect, uid) -> None:
    user = uid()
    first = await connect(user, gateway="gw1")
    second = await connect(user, gateway="gw2")
    kicked = await first.next("kicked")
    assert kicked["code"] == 1003
    code, _ = await first.wait_closed()
    assert code == 4003
    assert (await second.request("ping"))["code"] == 0


async def test_kicked_token_cannot_log_back_in(stack, uid, token) -> None:
    user = uid()
    first_token, second_token = token(user), token(user)
    first = await Client.connect(stack.url("gw1"))
    assert (await first.request("login", token=first_token))["code"] == 0
    second = await Client.connect(stack.url("gw2"))
    assert (await second.request("login", token=second_token))["code"] == 0
    await first.wait_closed()

    retry = await Client.connect(stack.url("gw1"))
    assert (await retry.request("login", token=first_token))["code"] == 1000
    assert (await second.request("ping"))["code"] == 0
    for client in (first, second, retry):
        await client.close()


async def test_racing_logins_leave_newest_session(stack, uid, token, bus) -> None:
    """Two logins of one user on two gateways, 100 times with varied timing."""
    for round_number in range(100):
        user = uid("race")
        a = await Client.connect(stack.url("gw1"))
        b = await Client.connect(stack.url("gw2"))
        delay = random.uniform(0, 0.004)

        async def login_later(client: Client, wait: float, user: str = user) -> dict:
            await asyncio.sleep(wait)
            return await client.request("login", token=token(user))

        first, second = (a, b) if round_number % 2 == 0 else (b, a)
        replies = await asyncio.gather(login_later(first, 0), login_later(second, delay))
        assert all(reply["code"] == 0 for reply in replies), replies

        sessions = await live_sessions(bus, user)
        assert len(sessions) == 1, (round_number, sessions)
        newest = sessions[0]["session"]
        survivor = first if replies[0]["session"] == newest else second
        loser = second if survivor is first else first
        code, _ = await loser.wait_closed()
        assert code == 4003
        assert (await survivor.request("ping"))["code"] == 0
        await survivor.close()


async def test_forced_logout_revokes_old_tokens(stack, uid, token, bus) -> None:
    user = uid()
    old_token = token(user)
    client = await Client.connect(stack.url("gw1"))
    assert (await client.request("login", token=old_token))["code"] == 0

    reply = await call(bus, subjects.AUTH_FORCE_LOGOUT, UserRequest(uid=user), 5)
    assert reply.code == 0
    kicked = await client.next("kicked")
    assert kicked["code"] == 1007
    code, _ = await client.wait_closed()
    assert code == 4002

    again = await Client.connect(stack.url("gw2"))
    assert (await again.request("login", token=old_token))["code"] == 1000
    fresh = tokens.issue(user, stack.secret, 3600)
    assert (await again.request("login", token=fresh))["code"] == 0
    await again.close()


async def test_logout_closes_1000_and_ends_session(connect, uid, bus) -> None:
    user = uid()
    client = await connect(user)
    assert len(await live_sessions(bus, user)) == 1
    reply = await client.request("logout")
    assert reply["code"] == 0
    code, _ = await client.wait_closed()
    assert code == 1000
    assert await live_sessions(bus, user) == []


async def test_session_query_lists_client_information(connect, uid, bus) -> None:
    user = uid()
    await connect(user, gateway="gw2", platform="ios", device="iPhone 15", sdk="mimo-ios/1.2")
    sessions = await live_sessions(bus, user)
    assert len(sessions) == 1
    session = sessions[0]
    assert session["gateway"] == "gw2"
    assert session["platform"] == "ios"
    assert session["device"] == "iPhone 15"
    assert session["sdk"] == "mimo-ios/1.2"
    assert session["address"].startswith("127.0.0.1:")
    assert session["version"] >= 1
    assert session["since"] > 0


async def test_silent_peer_is_closed_and_cleaned(connect, uid, bus) -> None:
    """A client that stops reading without closing is dropped within the idle timeout."""
    user, room = uid(), uid("room")
    watcher = await connect(uid())
    silent = await connect(user)
    assert (await silent.request("room.create", room=room))["code"] == 0
    assert (await watcher.request("room.join", room=room))["code"] == 0

    silent.go_silent()
    assert await wait_for(lambda: _no_sessions(bus, user), timeout=15)

    async def online_is_one() -> bool:
        reply = await watcher.request("room.list")
        rooms = {item["room"]: item for item in reply["rooms"]}
        return rooms[room]["online"] == 1

    assert await wait_for(online_is_one, timeout=10)


async def _no_sessions(bus, user: str) -> bool:
    return await live_sessions(bus, user) == []


async def test_reconnect_on_other_gateway_keeps_new_session(stack, uid, token, bus) -> None:
    user = uid()
    stale = await Client.connect(stack.url("gw1"))
    assert (await stale.request("login", token=token(user)))["code"] == 0
    stale.go_silent()  # the network died silently

    fresh = await Client.connect(stack.url("gw2"))
    reply = await fresh.request("login", token=token(user))
    assert reply["code"] == 0
    await asyncio.sleep(6)  # past the idle timeout of the stale session
    sessions = await live_sessions(bus, user)
    assert [s["session"] for s in sessions] == [reply["session"]]
    assert (await fresh.request("ping"))["code"] == 0
    await fresh.close()


async def test_burst_of_logins_all_succeed(stack, uid, token) -> None:
    """Two hundred logins at once: none fails for lack of a Valkey connection."""
    clients = [await Client.connect(stack.url("gw1" if n % 2 else "gw2")) for n in range(200)]
    replies = await asyncio.gather(*(client.request("login", token=token(uid("burst")))
                                     for client in clients))
    assert [reply["code"] for reply in replies] == [0] * 200
    for client in clients:
        await client.close()


async def test_user_subscription_lives_with_sessions(stack, connect, uid) -> None:
    """A gateway has one subscription per connected user, and drops it after the last
    session of that user ends."""
    user = uid()
    subject = f"user.{user}.*"
    first = await connect(user, gateway="gw2", platform="ios")
    assert stack.subscriptions("mimo-gateway-gw2").count(subject) == 1
    await first.request("logout")
    await first.wait_closed()

    async def dropped() -> bool:
        return subject not in stack.subscriptions("mimo-gateway-gw2")

    assert await wait_for(dropped)
