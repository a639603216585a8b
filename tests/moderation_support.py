"""Helpers for the moderation and rate-limit tests: bus calls as the business system, rooms
with members, and waits for an `until` time to pass."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as Nats

from bus import subjects
from bus.connection import call
from bus.types import Actor, Reply, Request, UserRequest
from tests.client import Client
from tests.stack import Stack

API = Actor(api="api:tests000")  # the audit label a REST caller would carry
CALL_TIMEOUT = 5.0  # seconds
EXPIRY_MARGIN = 0.2  # seconds waited past an `until`, for the wall clocks of test and Valkey


async def platform(bus: Nats, subject: str, user: str, duration: int = 0,
                   reason: str = "", actor: Actor = API) -> Reply:
    """Send a platform moderation request about `user` as the business system."""
    return await call(bus, subject, UserRequest(uid=user, actor=actor, reason=reason,
                                                duration=duration), CALL_TIMEOUT)


async def as_api(bus: Nats, subject: str, cmd: Any) -> Reply:
    """Send a client command to a worker as the business system."""
    return await call(bus, subject, Request(actor=API, cmd=cmd), CALL_TIMEOUT)


async def audit(bus: Nats, **query: Any) -> list[dict]:
    reply = await call(bus, subjects.MOD_AUDIT, query, CALL_TIMEOUT)
    assert reply.code == 0, reply
    return reply.data["entries"]


async def make_room(owner: Client, room: str, *members: Client) -> None:
    """Create `room` as `owner`'s user and join every client in `members`."""
    created = await owner.request("room.create", room=room)
    assert created["code"] == 0, created
    for member in members:
        joined = await member.request("room.join", room=room)
        assert joined["code"] == 0, joined


async def wait_past(until_ms: int) -> None:
    """Sleep until the epoch time `until_ms` has passed."""
    await asyncio.sleep(max(0.0, until_ms / 1000 - time.time()) + EXPIRY_MARGIN)


@pytest.fixture(name="bus")
async def bus_fixture(stack: Stack) -> AsyncIterator[Nats]:
    """A NATS connection to the session's stack, for requests that no client command makes."""
    nc = await nats.connect(stack.env["MIMO_NATS_URL"])
    yield nc
    await nc.close()
