"""One running stack per test session; each test uses its own users and rooms."""

import itertools
import os
import secrets
from collections.abc import AsyncIterator, Callable

import pytest

from mimo import tokens
from tests.client import Client
from tests.stack import Stack

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    root = tmp_path_factory.mktemp("stack")
    stack = Stack(root, extra_env={
        "MIMO_SESSION_CHECK_INTERVAL": "2",
        "MIMO_HEARTBEAT": "2",
        "MIMO_PRESENCE_INTERVAL": "1",
        "MIMO_PRESENCE_TTL": "3",
        "MIMO_ONLINE_NOTIFY_INTERVAL": "1",
        "MIMO_ACK_TIMEOUT": "1",
    })
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop()
        if os.environ.get("MIMO_TEST_KEEP_LOGS"):
            print(f"stack logs in {root}")


@pytest.fixture
def uid() -> Callable[[str], str]:
    """Make a user or room id unique to this test run."""
    run = secrets.token_hex(3)

    def make(prefix: str = "u") -> str:
        return f"{prefix}-{run}-{next(_counter)}"

    return make


@pytest.fixture
def token(stack: Stack) -> Callable[..., str]:
    def make(user: str, ttl: int = 3600) -> str:
        return tokens.issue(user, stack.secret, ttl)

    return make


@pytest.fixture
async def connect(stack: Stack, token: Callable[..., str]) -> AsyncIterator[Callable]:
    """Connect and log in a client; every client is closed after the test."""
    clients: list[Client] = []

    async def make(user: str | None = None, gateway: str = "gw1", login: bool = True,
                   msgpack: bool = False, **login_fields: object) -> Client:
        client = await Client.connect(stack.url(gateway), msgpack=msgpack)
        clients.append(client)
        if login:
            assert user is not None
            reply = await client.request("login", token=token(user), **login_fields)
            assert reply["code"] == 0, reply
            client.login_reply = reply  # type: ignore[attr-defined]
        return client

    yield make
    for client in clients:
        try:
            await client.close()
        except Exception:
            pass


@pytest.fixture
async def bus(stack: Stack) -> AsyncIterator:
    """A NATS connection to the stack, for requests that no client command makes."""
    import nats

    nc = await nats.connect(stack.env["MIMO_NATS_URL"])
    yield nc
    await nc.close()
