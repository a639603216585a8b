"""The load generator process: `python -m bench.loadgen CONFIG.json RESULT.json`.

It opens the receivers (most counted by `CountingClient`, a sample decoded in full) and
the senders. Each step of the configuration then sends at a rate for a duration and waits
for the deliveries to drain. It records deliveries, losses, latency, and the CPU time and
memory of every process named in the configuration.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import sys
import time
from typing import Any

import uvloop

from bench import procstat
from bench.clients import Sampled, Samples, Sender, Target, open_counted
from bench.wsraw import CountingClient
from bus import subjects
from bus.types import stats_decoder

# Connections set up at once. The gateway gets fewer: at 200 concurrent logins the auth
# worker's Valkey pool raised MaxConnectionsError and logins failed with "internal error".
CONNECT_CONCURRENCY = {"mimo": 50, "plain": 200, "nats": 200}
QUIET_AFTER_SEND = 1.0  # seconds without data that end a drain once sending stopped
STATS_SETTLE = 1.5  # seconds to wait for the gateway's last stats report of a step
# Counts of the gateway's stats reports (`dropped`) that the slow step records.
SLOW_COUNTS = ("shed_low", "shed_normal", "slow_consumer_closed")


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class LoadGenerator:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.target = Target(config["target"], config["host"], config["port"],
                             config.get("secret", ""))
        self.sources = [f"127.0.0.{2 + index}" for index in range(config.get("sources", 4))]
        self.run_id = secrets.token_hex(3)
        self.pids = {**config.get("pids", {}), "loadgen": os.getpid()}
        self.rooms = [f"b{self.run_id}r{index}" for index in range(config["rooms"])]
        self.counted: list[CountingClient] = []
        self.counted_rooms: list[int] = []
        self.sampled: list[Sampled] = []
        self.samples = Samples()
        self.senders: list[Sender] = []
        self.slow: CountingClient | None = None  # an extra member that stalls from its step on
        self.gateway_dropped: dict[str, int] = {}  # summed over the gateway's stats reports
        self.gateway_closed_slow = asyncio.Event()
        self.nats: Any = None
        self._opened = 0
        self._semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY[config["target"]])

    def _source(self) -> str:
        self._opened += 1
        return self.sources[self._opened % len(self.sources)]

    async def _limited(self, coroutine: Any) -> Any:
        async with self._semaphore:
            return await coroutine

    async def open_senders(self) -> None:
        per_room = self.config["senders_per_room"]
        pad = "x" * self.config.get("pad", 0)
        for number in range(per_room):
            batch = []
            for room_index, room in enumerate(self.rooms):
                sender = Sender(len(self.senders), room, self.target, pad,
                                self.config.get("low_every", 0))
                self.senders.append(sender)
                uid = f"s{self.run_id}-{room_index}-{number}"
                batch.append(self._limited(sender.open(self._source(), uid, number == 0)))
            await asyncio.gather(*batch)

    async def open_receivers(self) -> None:
        members = self.config["members"]
        sampled_total = self.config.get("sampled", 0)
        jobs = []
        for index in range(members * len(self.rooms)):
            room_index = index % len(self.rooms)
            room = self.rooms[room_index] if not self.config.get("idle") else None
            uid = f"u{self.run_id}-{index}"
            if index < sampled_total and room is not None:
                jobs.append(self._limited(Sampled.open(self.target, self._source(), uid, room,
                                                       False, self.samples)))
            else:
                jobs.append(self._limited(open_counted(self.target, self._source(), uid, room)))
                self.counted_rooms.append(room_index)
        for result in await asyncio.gather(*jobs):
            if isinstance(result, Sampled):
                self.sampled.append(result)
            else:
                self.counted.append(result)

    async def open_slow_client(self) -> CountingClient:
        """Open the extra member that stalls, just before its step.

        It joins then, not with the others, because a connection that read at full speed
        for a whole step has let the gateway's kernel take in about 1 MB of its backlog.
        """
        return await open_counted(self.target, self._source(), f"u{self.run_id}-slow",
                                  self.rooms[0],
                                  receive_buffer=self.config.get("slow_receive_buffer"),
                                  max_segment=self.config.get("slow_max_segment"))

    async def watch_gateway_stats(self) -> None:
        """Sum the gateway's drop counts from its stats reports on NATS (Mimo only)."""
        import nats

        def on_report(dropped: dict[str, int]) -> None:
            for reason, count in dropped.items():
                self.gateway_dropped[reason] = self.gateway_dropped.get(reason, 0) + count
            if dropped.get("slow_consumer_closed"):
                self.gateway_closed_slow.set()

        async def on_msg(msg: Any) -> None:
            on_report(stats_decoder.decode(msg.data).dropped)

        self.nats = await nats.connect(self.config["nats_url"])
        await self.nats.subscribe(subjects.GATEWAY_STATS_ALL, cb=on_msg)

    async def stall_slow_client(self, started: float) -> dict[str, Any]:
        """Stop reading the slow client until the gateway reports it closed a slow
        consumer or sending ends, then read again so that its close frame arrives."""
        assert self.slow is not None and self.slow.transport is not None
        self.gateway_closed_slow.clear()
        self.slow.transport.pause_reading()
        try:
            await self.gateway_closed_slow.wait()
            return {"gateway_closed_after_s": time.monotonic() - started}
        finally:
            if not self.slow.closed.done():
                self.slow.transport.resume_reading()

    def delivered(self) -> int:
        total = sum(client.count for client in self.counted if client is not self.slow)
        return total + sum(sampled.count for sampled in self.sampled)

    def last_data(self) -> float:
        times = [client.last_data for client in self.counted if client is not self.slow]
        return max(times + [sampled.last_data for sampled in self.sampled], default=0.0)

    def rejected_by_code(self) -> dict[str, int]:
        rejected: dict[str, int] = {}
        for sender in self.senders:
            for code, count in sender.rejected.items():
                rejected[str(code)] = rejected.get(str(code), 0) + count
        return rejected

    def receivers_per_room(self) -> int:
        return self.config["members"]

    async def run_step(self, step: dict[str, Any]) -> dict[str, Any]:
        rate, duration = step["rate"], step["duration"]
        slow_step = bool(step.get("slow"))
        if slow_step and self.slow is None:
            self.slow = await self.open_slow_client()
        dropped_before = dict(self.gateway_dropped)
        slow_bytes_before = self.slow.bytes if self.slow is not None else 0
        self.samples.latencies.clear()
        gaps_before = (self.samples.gaps, self.samples.gap_notices)
        accepted_before = sum(sender.accepted for sender in self.senders)
        rejected_before = sum(sum(sender.rejected.values()) for sender in self.senders)
        sent_before = sum(sender.sent for sender in self.senders)
        rejected_codes_before = self.rejected_by_code()
        delivered_before = self.delivered()
        before = procstat.snapshot(self.pids)
        started = time.monotonic()
        stall = asyncio.create_task(self.stall_slow_client(started)) if slow_step else None

        per_sender = rate / len(self.senders)
        await asyncio.gather(*(sender.run(per_sender, duration) for sender in self.senders))
        send_seconds = time.monotonic() - started
        slow_result: dict[str, Any] = {}
        if stall is not None:
            if not stall.done():
                stall.cancel()
            slow_result = (await asyncio.gather(stall, return_exceptions=True))[0]
            if not isinstance(slow_result, dict):
                slow_result = {"gateway_closed_after_s": None}

        deadline = time.monotonic() + step.get("drain", 10.0)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if self.target.kind == "mimo":
                for sender in self.senders:
                    sender.count_replies()
            accepted = sum(sender.accepted for sender in self.senders) - accepted_before
            replied = accepted + sum(sum(sender.rejected.values()) for sender in self.senders)
            sent = sum(sender.sent for sender in self.senders) - sent_before
            all_replied = replied - rejected_before >= sent
            expected = accepted * self.receivers_per_room()
            if all_replied and self.delivered() - delivered_before >= expected:
                break
            if time.monotonic() - self.last_data() > QUIET_AFTER_SEND:
                break
        after = procstat.snapshot(self.pids)
        if self.nats is not None:
            await asyncio.sleep(STATS_SETTLE)
        if slow_step:
            assert self.slow is not None
            try:
                await asyncio.wait_for(asyncio.shield(self.slow.closed), STATS_SETTLE)
            except TimeoutError:
                pass
        gateway_dropped = {reason: self.gateway_dropped.get(reason, 0)
                           - dropped_before.get(reason, 0) for reason in SLOW_COUNTS}
        accepted = sum(sender.accepted for sender in self.senders) - accepted_before
        delivered = self.delivered() - delivered_before
        expected = accepted * self.receivers_per_room()
        span = max(self.last_data(), started + send_seconds) - started
        ordered = sorted(self.samples.latencies)
        rejected = {str(code): count - rejected_codes_before.get(str(code), 0)
                    for code, count in self.rejected_by_code().items()}
        return {
            "rate": rate,
            "duration": duration,
            "slow": bool(step.get("slow")),
            "rate_reached": accepted / max(send_seconds, duration),
            "accepted": accepted,
            "rejected": rejected,
            "expected": expected,
            "delivered": delivered,
            "lost": max(0, expected - delivered),
            "deliveries_per_second": delivered / span if span > 0 else 0.0,
            "span_seconds": span,
            "latency_samples": len(ordered),
            "latency_ms": {"p50": percentile(ordered, 0.50) * 1000,
                           "p99": percentile(ordered, 0.99) * 1000,
                           "max": (ordered[-1] if ordered else float("nan")) * 1000},
            "gaps": self.samples.gaps - gaps_before[0],
            "gap_notices": self.samples.gap_notices - gaps_before[1],
            "closed_receivers": sum(1 for client in self.counted if client.closed.done()),
            "close_codes": sorted({client.close_code for client in self.counted
                                   if client.closed.done() and client.close_code}),
            "slow_client_close_code": self.slow.close_code if slow_step and self.slow else None,
            "slow_client_closed": bool(slow_step and self.slow and self.slow.closed.done()),
            "slow_client_bytes": (self.slow.bytes - slow_bytes_before) if self.slow else 0,
            "slow_client_gateway_closed_after_s": slow_result.get("gateway_closed_after_s"),
            "gateway_dropped": gateway_dropped if self.nats is not None else None,
            "processes": {name: {"cpu_seconds": after[name]["cpu"] - before[name]["cpu"],
                                 "hwm_kb": after[name]["hwm_kb"],
                                 "rss_kb": after[name]["rss_kb"]}
                          for name in after if name in before},
        }

    async def run_idle(self) -> dict[str, Any]:
        before = procstat.snapshot(self.pids)
        started = time.monotonic()
        await self.open_receivers()
        connect_seconds = time.monotonic() - started
        await asyncio.sleep(self.config.get("settle", 3.0))
        after = procstat.snapshot(self.pids)
        count = len(self.counted)
        closed = sum(1 for client in self.counted if client.closed.done())
        server = self.config.get("server", "server")
        rss_delta = after[server]["rss_kb"] - before[server]["rss_kb"]
        return {
            "connections": count,
            "closed": closed,
            "connect_seconds": connect_seconds,
            "server_rss_before_kb": before[server]["rss_kb"],
            "server_rss_after_kb": after[server]["rss_kb"],
            "server_kb_per_connection": rss_delta / count if count else float("nan"),
            "processes": {name: {"cpu_seconds": after[name]["cpu"] - before[name]["cpu"],
                                 "hwm_kb": after[name]["hwm_kb"],
                                 "rss_kb": after[name]["rss_kb"]}
                          for name in after if name in before},
        }

    async def run(self) -> dict[str, Any]:
        limit = raise_file_limit()
        result: dict[str, Any] = {"config": {k: v for k, v in self.config.items()
                                             if k != "secret"}, "file_limit": limit}
        if self.config.get("idle"):
            result["idle"] = await self.run_idle()
            return result
        started = time.monotonic()
        if self.config.get("nats_url") and self.config.get("slow_receive_buffer"):
            await self.watch_gateway_stats()
        await self.open_senders()
        await self.open_receivers()
        result["setup_seconds"] = time.monotonic() - started
        result["steps"] = []
        for step in self.config["steps"]:
            result["steps"].append(await self.run_step(step))
            print(json.dumps({key: value for key, value in result["steps"][-1].items()
                              if key != "processes"}), flush=True)
        return result

    async def close(self) -> None:
        for client in self.counted:
            client.close()
        if self.slow is not None:
            self.slow.close()
        if self.nats is not None:
            await self.nats.close()
        for sender in self.senders:
            if sender.client is not None:
                sender.client.close()
        await asyncio.gather(*(sampled.close() for sampled in self.sampled),
                             return_exceptions=True)


async def generate(config: dict[str, Any]) -> dict[str, Any]:
    generator = LoadGenerator(config)
    try:
        return await asyncio.wait_for(generator.run(), config.get("max_seconds", 600))
    finally:
        await generator.close()


def main(config_path: str, result_path: str) -> None:
    with open(config_path) as file:
        config = json.load(file)
    result = uvloop.run(generate(config))
    with open(result_path, "w") as file:
        json.dump(result, file, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
