"""Aggregation of gateway and worker reports into Prometheus metrics.

Sources, all over NATS:
- `gateway.<id>.stats` (`GatewayStats`, every second): connections, deliveries and drops since
  the gateway's previous report.
- `workers.metrics` (`WorkerMetrics`, every second per worker process): cumulative request
  counts and latency per subject, and cumulative daily-counter totals such as `room_up`.
  Gateways also report client commands by op and code, logins, and the fan-out latency of
  room messages: from the worker's timestamp to the gateway queueing the batch on its members'
  connections (the order hold and the batch window included, the socket write not).

Counters are kept since the API started, and a worker's last report is kept after it stops,
so every `_total` only grows while the API runs.
"""

import asyncio
import logging
import time
from collections import deque

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from bus import subjects
from bus.service import Metrics
from bus.types import FANOUT_BUCKETS, WorkerMetrics, stats_decoder

log = logging.getLogger("mimo.api.metrics")

GATEWAY_STALE_AFTER = 5.0  # seconds without a report before a gateway's connections drop out
RATE_WINDOW = 10.0  # seconds over which messages per second are computed
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_worker_decoder = msgspec.msgpack.Decoder(WorkerMetrics)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: object) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{name}="{_escape(str(value))}"' for name, value in labels.items())
    return "{" + inner + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Aggregator:
    def __init__(self) -> None:
        self.connections: dict[str, tuple[int, float]] = {}  # gateway -> (count, monotonic)
        self.delivered: dict[str, int] = {"room": 0, "p2p": 0}
        self.dropped: dict[str, int] = {}
        self.workers: dict[str, WorkerMetrics] = {}  # instance -> latest report
        self.fanout = [0] * len(FANOUT_BUCKETS)  # per bucket, not cumulative
        self.logins = 0
        self.commands: dict[tuple[str, int], int] = {}
        self.fanout_count = 0
        self.fanout_sum = 0.0
        self._samples: deque[tuple[float, int, int]] = deque()
        self._subs: list[Subscription] = []
        self._sampler: asyncio.Task | None = None

    async def start(self, nc: Client) -> None:
        self._subs = [
            await nc.subscribe(subjects.GATEWAY_STATS_ALL, cb=self._on_gateway),
            await nc.subscribe(subjects.WORKER_METRICS, cb=self._on_worker),
        ]
        self._sampler = asyncio.create_task(self._sample_loop())

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except Exception as error:
                log.info("unsubscribe failed subject=%s: %s", sub.subject, error)

    async def _on_gateway(self, msg: Msg) -> None:
        try:
            report = stats_decoder.decode(msg.data)
        except msgspec.DecodeError as error:
            log.warning("undecodable gateway stats subject=%s: %s", msg.subject, error)
            return
        self.connections[report.gateway] = (report.connections, time.monotonic())
        self.delivered["room"] += report.delivered_room
        self.delivered["p2p"] += report.delivered_p2p
        for reason, count in report.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        self.logins += report.logins
        for key, count in report.commands.items():
            op, _, code = key.rpartition(" ")
            self.commands[(op, int(code))] = self.commands.get((op, int(code)), 0) + count
        for index, count in enumerate(report.fanout[:len(self.fanout)]):
            self.fanout[index] += count
        self.fanout_count += sum(report.fanout) + report.fanout_over
        self.fanout_sum += report.fanout_sum

    async def _on_worker(self, msg: Msg) -> None:
        try:
            report = _worker_decoder.decode(msg.data)
        except msgspec.DecodeError as error:
            log.warning("undecodable worker metrics: %s", error)
            return
        self.workers[report.instance] = report

    # --- derived values ---------------------------------------------------------------------

    def live_connections(self) -> dict[str, int]:
        now = time.monotonic()
        return {gateway: count for gateway, (count, seen) in sorted(self.connections.items())
                if now - seen <= GATEWAY_STALE_AFTER}

    def counter_total(self, name: str) -> int:
        return sum(report.counters.get(name, 0) for report in self.workers.values())

    def requests(self) -> dict[tuple[str, int], int]:
        totals: dict[tuple[str, int], int] = {}
        for report in self.workers.values():
            for subject, code, count in report.requests:
                totals[(subject, code)] = totals.get((subject, code), 0) + count
        return totals

    def latency(self) -> dict[str, list[float]]:
        totals: dict[str, list[float]] = {}
        for report in self.workers.values():
            for subject, buckets in report.latency.items():
                current = totals.setdefault(subject, [0.0] * len(buckets))
                for index, value in enumerate(buckets[:len(current)]):
                    current[index] += value
        return totals

    def messages_up(self) -> int:
        return self.counter_total("room_up") + self.counter_total("p2p_up")

    async def _sample_loop(self) -> None:
        while True:
            now = time.monotonic()
            delivered = self.delivered["room"] + self.delivered["p2p"]
            self._samples.append((now, self.messages_up(), delivered))
            while self._samples and now - self._samples[0][0] > RATE_WINDOW:
                self._samples.popleft()
            await asyncio.sleep(1.0)

    def rates(self) -> dict[str, float]:
        """Messages per second sent and delivered, averaged over the last `RATE_WINDOW`."""
        if len(self._samples) < 2:
            return {"up": 0.0, "delivered": 0.0}
        (t0, up0, del0), (t1, up1, del1) = self._samples[0], self._samples[-1]
        span = max(t1 - t0, 1e-3)
        return {"up": round((up1 - up0) / span, 2), "delivered": round((del1 - del0) / span, 2)}

    def overview(self) -> dict:
        connections = self.live_connections()
        return {
            "connections": connections,
            "connections_total": sum(connections.values()),
            "messages_per_second": self.rates(),
            "messages_up_total": self.messages_up(),
            "messages_delivered_total": dict(self.delivered),
        }

    # --- exposition -------------------------------------------------------------------------

    def render(self) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")

        def sample(name: str, value: float, **labels: object) -> None:
            lines.append(f"{name}{_labels(**labels)} {_number(value)}")

        family("mimo_gateway_connections", "gauge", "Open WebSocket connections per gateway.")
        for gateway, count in self.live_connections().items():
            sample("mimo_gateway_connections", count, gateway=gateway)

        requests = self.requests()
        family("mimo_logins_total", "counter", "Successful logins on gateways.")
        sample("mimo_logins_total", self.logins)

        family("mimo_commands_total", "counter",
               "Client commands answered by gateways, by op and response code.")
        for (op, code), count in sorted(self.commands.items()):
            sample("mimo_commands_total", count, op=op, code=code)

        family("mimo_worker_requests_total", "counter", "Worker requests by subject and code.")
        for (subject, code), count in sorted(requests.items()):
            sample("mimo_worker_requests_total", count, subject=subject, code=code)

        family("mimo_messages_up_total", "counter", "Messages accepted from senders, by kind.")
        sample("mimo_messages_up_total", self.counter_total("room_up"), kind="room")
        sample("mimo_messages_up_total", self.counter_total("p2p_up"), kind="p2p")

        family("mimo_messages_delivered_total", "counter",
               "Messages written to client connections by gateways, by kind.")
        for kind, count in sorted(self.delivered.items()):
            sample("mimo_messages_delivered_total", count, kind=kind)

        family("mimo_messages_dropped_total", "counter",
               "Messages a gateway did not deliver, by reason.")
        for reason, count in sorted(self.dropped.items()):
            sample("mimo_messages_dropped_total", count, reason=reason)

        family("mimo_fanout_latency_seconds", "histogram",
               "Seconds from a room message's worker timestamp to a gateway queueing it for its "
               "members.")
        cumulative = 0
        for bound, count in zip(FANOUT_BUCKETS, self.fanout, strict=True):
            cumulative += count
            sample("mimo_fanout_latency_seconds_bucket", cumulative, le=_number(bound))
        sample("mimo_fanout_latency_seconds_bucket", self.fanout_count, le="+Inf")
        sample("mimo_fanout_latency_seconds_sum", self.fanout_sum)
        sample("mimo_fanout_latency_seconds_count", self.fanout_count)

        family("mimo_worker_request_duration_seconds", "histogram",
               "Seconds a worker took to serve a request, by subject.")
        for subject, buckets in sorted(self.latency().items()):
            bounds = Metrics.BUCKETS
            for bound, count in zip(bounds, buckets[:len(bounds)], strict=True):
                sample("mimo_worker_request_duration_seconds_bucket", count, subject=subject,
                       le=_number(bound))
            sample("mimo_worker_request_duration_seconds_bucket", buckets[-2], subject=subject,
                   le="+Inf")
            sample("mimo_worker_request_duration_seconds_sum", buckets[-1], subject=subject)
            sample("mimo_worker_request_duration_seconds_count", buckets[-2], subject=subject)

        return "\n".join(lines) + "\n"
