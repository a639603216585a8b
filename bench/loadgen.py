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
from bench.clients import Sampled, Samples, Sender, Target, open_counted, shrink_receive_buffer
from bench.wsraw import CountingClient

# Connections set up at once. The gateway gets fewer: at 200 concurrent logins the auth
# worker's Valkey pool raised MaxConnectionsError and logins failed with "internal error".
CONNECT_CONCURRENCY = {"mimo": 50, "plain": 200, "nats": 200}
SLOW_RECEIVE_BUFFER = 4096  # bytes of socket receive buffer of the slow client
QUIET_AFTER_SEND = 1.0  # seconds without data that end a drain once sending stopped


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
        self.slow: CountingClient | None = None
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
                sender = Sender(len(self.senders), room, self.target, pad)
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
        return self.config["members"] - (1 if self.slow is not None else 0)

    async def run_step(self, step: dict[str, Any]) -> dict[str, Any]:
        rate, duration = step["rate"], step["duration"]
        if step.get("slow") and self.slow is None:
            self.slow = self.counted[0]
            shrink_receive_buffer(self.slow, SLOW_RECEIVE_BUFFER)
            assert self.slow.transport is not None
            self.slow.transport.pause_reading()
        self.samples.latencies.clear()
        gaps_before = (self.samples.gaps, self.samples.gap_notices)
        accepted_before = sum(sender.accepted for sender in self.senders)
        rejected_before = sum(sum(sender.rejected.values()) for sender in self.senders)
        sent_before = sum(sender.sent for sender in self.senders)
        rejected_codes_before = self.rejected_by_code()
        delivered_before = self.delivered()
        before = procstat.snapshot(self.pids)
        started = time.monotonic()

        per_sender = rate / len(self.senders)
        await asyncio.gather(*(sender.run(per_sender, duration) for sender in self.senders))
        send_seconds = time.monotonic() - started

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
            "slow_client_close_code": self.slow.close_code if self.slow else None,
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
