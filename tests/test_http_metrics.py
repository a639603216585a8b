"""Daily metrics after a scripted session, and the Prometheus endpoint."""

import asyncio
from datetime import UTC, datetime

from tests.api_helpers import api_client, parse_prometheus, poll, sample
from tests.stack import Stack

STABLE_GAP = 2.5  # seconds between two equal reads that show no count is still in flight


async def _today(api) -> dict:
    day = datetime.now(UTC).date().isoformat()
    response = await api.get("/v1/metrics/daily", params={"from": day, "to": day})
    assert response.status_code == 200, response.text
    days = response.json()["days"]
    assert [row["date"] for row in days] == [day]
    return days[0]


async def _settled(api) -> dict:
    """Today's counters once two reads STABLE_GAP apart agree (earlier tests have flushed)."""
    previous = await _today(api)

    async def same() -> dict | None:
        nonlocal previous
        await asyncio.sleep(STABLE_GAP)
        current = await _today(api)
        stable = current == previous
        previous = current
        return current if stable else None

    return await poll(same, "daily counters to settle")


async def test_daily_metrics_count_a_session(stack: Stack, uid, connect) -> None:
    alice, bob, room = uid("alice"), uid("bob"), uid("room")
    async with api_client(stack) as api:
        before = await _settled(api)

        for user in (alice, bob):
            assert (await api.put(f"/v1/users/{user}")).json()["new"] is True
        a = await connect(alice)
        b = await connect(bob, gateway="gw2")
        assert (await api.post("/v1/rooms", json={"room": room, "name": "m"})).status_code == 201
        for client in (a, b):
            assert (await client.request("room.join", room=room))["code"] == 0
        for number in range(2):
            sent = await api.post(f"/v1/rooms/{room}/messages", json={"body": number})
            assert sent.status_code == 201, sent.text
        for client in (a, b):
            await client.messages(2)
        personal = await api.post("/v1/messages", json={"from": alice, "to": bob, "body": "p"})
        assert personal.status_code == 201, personal.text
        message = await b.next("msg")
        assert (await b.request("ack", mids=[message["mid"]]))["acked"] == 1

        expected = {"new_users": 2, "login_users": 2, "active_users": 2, "rooms_created": 1,
                    "room_up": 2, "room_delivered": 4, "p2p_up": 1, "p2p_delivered": 1}

        async def reached() -> dict | None:
            row = await _today(api)
            deltas = {name: row[name] - before[name] for name in expected}
            return deltas if all(deltas[n] >= expected[n] for n in expected) else None

        await poll(reached, "daily counters to count the session")
        after = await _settled(api)
    for name, count in expected.items():
        assert after[name] - before[name] == count, name


async def test_daily_metrics_range_has_every_day(stack: Stack) -> None:
    async with api_client(stack) as api:
        response = await api.get("/v1/metrics/daily",
                                 params={"from": "2023-12-30", "to": "2024-01-02"})
    days = response.json()["days"]
    assert [row["date"] for row in days] == ["2023-12-30", "2023-12-31", "2024-01-01",
                                             "2024-01-02"]
    assert all(row["room_up"] == 0 and row["login_users"] == 0 for row in days)


async def test_prometheus_counters_move(stack: Stack, uid, connect) -> None:
    room = uid("room")
    client = await connect(uid("viewer"))
    async with api_client(stack) as api:
        assert (await api.post("/v1/rooms", json={"room": room, "name": "p"})).status_code == 201
        assert (await client.request("room.join", room=room))["code"] == 0

        async def scrape() -> dict:
            response = await api.get("/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            return parse_prometheus(response.text)

        async def connections_reported() -> dict | None:
            samples = await scrape()
            on_gw1 = sample(samples, "mimo_gateway_connections", gateway="gw1")
            return samples if on_gw1 >= 1 and ("mimo_gateway_connections", frozenset(
                {("gateway", "gw2")})) in samples else None

        before = await poll(connections_reported, "both gateways to report connections")
        for number in range(3):
            sent = await api.post(f"/v1/rooms/{room}/messages", json={"body": number})
            assert sent.status_code == 201
        await client.messages(3)

        def moved(samples: dict) -> bool:
            up = (sample(samples, "mimo_messages_up_total", kind="room")
                  - sample(before, "mimo_messages_up_total", kind="room"))
            delivered = (sample(samples, "mimo_messages_delivered_total", kind="room")
                         - sample(before, "mimo_messages_delivered_total", kind="room"))
            return up >= 3 and delivered >= 3

        async def after_messages() -> dict | None:
            samples = await scrape()
            return samples if moved(samples) else None

        after = await poll(after_messages, "message counters to move")
    assert (sample(after, "mimo_fanout_latency_seconds_count")
            - sample(before, "mimo_fanout_latency_seconds_count")) >= 3
    sends = sample(after, "mimo_worker_request_duration_seconds_count", subject="im.chat.send")
    assert sends >= 3
    assert sample(after, "mimo_worker_request_duration_seconds_bucket", subject="im.chat.send",
                  le="+Inf") == sends
    assert sample(after, "mimo_commands_total", op="room.join", code="0") >= 1
    assert sample(after, "mimo_logins_total") >= 1
