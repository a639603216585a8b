"""Tables of a run's results: fan-out per target and step, ratios, idle memory, slow client."""

from __future__ import annotations

import math
import os
import platform
import sys
from typing import Any

from bench.scenarios import ALL_TARGETS

BASELINES = ("ws_broadcast", "floor", "nats")


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as file:
        total_kb = int(file.readline().split()[1])
    model = ""
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "cpu": model, "memory_gib": round(total_kb / 2**20, 1),
            "python": sys.version.split()[0], "kernel": platform.release(),
            "pinning": "server under test on CPU 0; load generator, nats-server, Valkey and "
                       "workers on CPU 1 (taskset)"}


def cpu_per_thousand(step: dict[str, Any]) -> float:
    """Return the server's CPU milliseconds per 1,000 deliveries in one step."""
    delivered = step["delivered"]
    if not delivered:
        return math.nan
    return step["processes"]["server"]["cpu_seconds"] * 1000 / delivered * 1000


def _format(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:,.{digits}f}"


def _ratio(mine: float, other: float) -> str:
    if math.isnan(mine) or math.isnan(other) or other == 0:
        return "n/a"
    return f"{mine / other:.2f}×"


def fanout_table(run: dict[str, Any]) -> list[str]:
    lines = ["| target | rate asked (msg/s) | rate reached | deliveries/s | server CPU ms "
             "per 1,000 deliveries | p50 ms | p99 ms | max ms | lost | gaps | closed |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for target in ALL_TARGETS:
        result = run.get(target)
        if result is None:
            continue
        if "error" in result:
            lines.append(f"| {target} | failed: {result['error']} |")
            continue
        for step in result["steps"]:
            latency = step["latency_ms"]
            lines.append(
                f"| {target} | {step['rate']:g}{' (slow client)' if step['slow'] else ''} | "
                f"{step['rate_reached']:.1f} | {step['deliveries_per_second']:,.0f} | "
                f"{_format(cpu_per_thousand(step))} | {_format(latency['p50'])} | "
                f"{_format(latency['p99'])} | {_format(latency['max'])} | "
                f"{step['lost']:,} of {step['expected']:,} | "
                f"{step['gaps'] + step['gap_notices']} | {step['closed_receivers']} |")
    return lines


def ratio_table(run: dict[str, Any]) -> list[str]:
    mimo = run.get("mimo")
    if not mimo or "error" in mimo:
        return []
    lines = ["| rate (msg/s) | Mimo CPU/1,000 ÷ ws_broadcast | ÷ floor | ÷ nats | "
             "Mimo p99 − floor p99 (ms) |", "|---|---|---|---|---|"]
    for index, step in enumerate(mimo["steps"]):
        mine = cpu_per_thousand(step)
        cells = []
        floor_p99 = math.nan
        for baseline in BASELINES:
            other = run.get(baseline)
            if not other or "error" in other or index >= len(other["steps"]):
                cells.append("n/a")
                continue
            cells.append(_ratio(mine, cpu_per_thousand(other["steps"][index])))
            if baseline == "floor":
                floor_p99 = other["steps"][index]["latency_ms"]["p99"]
        lines.append(f"| {step['rate']:g} | {' | '.join(cells)} | "
                     f"{_format(step['latency_ms']['p99'] - floor_p99)} |")
    return lines


def process_table(run: dict[str, Any]) -> list[str]:
    lines = ["| target | process | CPU s (last step) | peak memory (VmHWM, MiB) |",
             "|---|---|---|---|"]
    for target in ALL_TARGETS:
        result = run.get(target)
        if not result or "error" in result:
            continue
        if "steps" in result:
            processes = result["steps"][-1]["processes"]
        else:
            processes = result["idle"]["processes"]
        for name, values in processes.items():
            lines.append(f"| {target} | {name} | {values['cpu_seconds']:.2f} | "
                         f"{values['hwm_kb'] / 1024:.1f} |")
    return lines


def idle_table(run: dict[str, Any]) -> list[str]:
    lines = ["| target | connections | connect time (s) | server RSS before → after (MiB) | "
             "KiB per connection | closed |", "|---|---|---|---|---|---|"]
    for target in ALL_TARGETS:
        result = run.get(target)
        if not result:
            continue
        if "error" in result:
            lines.append(f"| {target} | failed: {result['error']} |")
            continue
        idle = result["idle"]
        lines.append(f"| {target} | {idle['connections']:,} | {idle['connect_seconds']:.1f} | "
                     f"{idle['server_rss_before_kb'] / 1024:.0f} → "
                     f"{idle['server_rss_after_kb'] / 1024:.0f} | "
                     f"{idle['server_kb_per_connection']:.1f} | {idle['closed']} |")
    return lines


def slow_summary(run: dict[str, Any]) -> list[str]:
    mimo = run.get("mimo")
    if not mimo or "error" in mimo or len(mimo["steps"]) < 2:
        return []
    without, with_slow = mimo["steps"][0], mimo["steps"][1]
    before, after = without["latency_ms"]["p99"], with_slow["latency_ms"]["p99"]
    lines = [f"p99 of the others without the slow client: {before:.1f} ms; with it: "
             f"{after:.1f} ms ({(after / before - 1) * 100:+.1f} %). The slow client was "
             f"closed with code {with_slow['slow_client_close_code']} and received "
             f"{with_slow.get('slow_client_bytes', 0):,} bytes in its step."]
    dropped = with_slow.get("gateway_dropped")
    if dropped is not None:
        closed_after = with_slow.get("slow_client_gateway_closed_after_s")
        when = "not reported" if closed_after is None else \
            f"reported {closed_after:.1f} s after the step started"
        lines.append(f"The gateway's stats reports for that step: {dropped['shed_low']:,} low and "
                     f"{dropped['shed_normal']:,} normal messages shed, "
                     f"{dropped['slow_consumer_closed']} slow consumer closed ({when}).")
    settings = mimo.get("config", {}).get("server_env")
    if settings:
        lines.append("Gateway settings of this scenario: " + ", ".join(
            f"{name}={value}" for name, value in settings.items()) + ".")
    return lines


def tables(results: dict[str, Any]) -> str:
    out: list[str] = []
    for name, run in results["runs"].items():
        out += [f"### {name}: {run['title']}", ""]
        if name == "idle":
            out += idle_table(run)
        else:
            out += fanout_table(run)
            ratios = ratio_table(run)
            if ratios and name != "slow":
                out += ["", *ratios]
            if name == "slow":
                out += ["", *slow_summary(run)]
        out += ["", *process_table(run), ""]
    return "\n".join(out)


def plot(results: dict[str, Any], path: Any) -> None:
    from bench.plot import draw

    draw(results, path)
