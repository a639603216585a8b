"""Helpers for tests of the HTTP API: an authenticated httpx client, a Prometheus text
parser and polling with a deadline."""

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.stack import Stack

POLL_DEADLINE = 20.0  # seconds a poll waits for a condition before the test fails

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def api_client(stack: Stack, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key if key is not None else stack.api_key}"}
    return httpx.AsyncClient(base_url=stack.api_url, headers=headers, timeout=15.0)


def parse_prometheus(text: str) -> dict[tuple[str, frozenset], float]:
    """Parse the text exposition format; raise AssertionError on any malformed line."""
    samples: dict[tuple[str, frozenset], float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = kind
            continue
        if line.startswith("#"):
            assert line.startswith("# HELP "), line
            continue
        match = _SAMPLE.match(line)
        assert match is not None, f"malformed sample line: {line!r}"
        name, _, labels, value = match.groups()
        label_pairs = frozenset(_LABEL.findall(labels or ""))
        samples[(name, label_pairs)] = float(value)
    for name, kind in types.items():
        assert name.startswith("mimo_"), name
        if kind == "counter":
            assert name.endswith("_total"), name
    return samples


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def poll(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Call `check` until it returns a truthy value, or fail after POLL_DEADLINE seconds."""
    deadline = time.monotonic() + POLL_DEADLINE
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)
