"""The per-platform session policy, on a stack of its own."""

import asyncio
from collections.abc import Iterator

import pytest

from mimo import tokens
from tests.client import Client
from tests.stack import Stack


@pytest.fixture(scope="module")
def per_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("per-platform"), extra_env={
        "MIMO_SESSION_POLICY": "per-platform",
        "MIMO_PRESENCE_INTERVAL": "1",
        "MIMO_PRESENCE_TTL": "3",
    })
    try:
        stack.start_core()
        stack.start_gateway("pp1")
        stack.start_gateway("pp2")
        yield stack
    finally:
        stack.stop()


async def login(stack: Stack, gateway: str, user: str, platform: str) -> Client:
    client = await Client.connect(stack.url(gateway))
    reply = await client.request("login", token=tokens.issue(user, stack.secret, 600),
                                 platform=platform)
    assert reply["code"] == 0, reply
    return client


async def test_phone_and_browser_stay_logged_in(per_platform: Stack, uid) -> None:
    user = uid()
    phone = await login(per_platform, "pp1", user, "ios")
    browser = await login(per_platform, "pp2", user, "web")
    await asyncio.sleep(0.5)
    assert (await phone.request("ping"))["code"] == 0
    assert (await browser.request("ping"))["code"] == 0

    second_phone = await login(per_platform, "pp2", user, "android")
    kicked = await phone.next("kicked")
    assert kicked["code"] == 1003
    assert (await browser.request("ping"))["code"] == 0
    for client in (browser, second_phone):
        await client.close()


async def test_user_on_two_gateways_counts_once(per_platform: Stack, uid) -> None:
    user, room = uid(), uid("room")
    owner = await login(per_platform, "pp1", uid(), "pc")
    assert (await owner.request("room.create", room=room))["code"] == 0
    phone = await login(per_platform, "pp1", user, "ios")
    assert (await phone.request("room.join", room=room))["code"] == 0
    browser = await login(per_platform, "pp2", user, "web")
    listed = await browser.request("room.list")
    assert room in [item["room"] for item in listed["rooms"]]

    online = 0
    for _ in range(50):
        listed = await owner.request("room.list")
        online = {item["room"]: item["online"] for item in listed["rooms"]}[room]
        if online == 2:
            break
        await asyncio.sleep(0.2)
    assert online == 2
    await asyncio.sleep(1.5)
    listed = await owner.request("room.list")
    assert {item["room"]: item["online"] for item in listed["rooms"]}[room] == 2
    for client in (owner, phone, browser):
        await client.close()
