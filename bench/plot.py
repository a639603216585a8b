"""The PNG plot: p99 latency and server CPU per 1,000 deliveries against deliveries/s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report import cpu_per_thousand
from bench.scenarios import ALL_TARGETS


def draw(results: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is missing: install the bench extra to get the plot")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = results["runs"].get("one_room")
    if not run:
        return
    figure, (latency_axes, cpu_axes) = plt.subplots(1, 2, figsize=(11, 4.2))
    for target in ALL_TARGETS:
        result = run.get(target)
        if not result or "error" in result:
            continue
        steps = result["steps"]
        load = [step["deliveries_per_second"] for step in steps]
        latency_axes.plot(load, [step["latency_ms"]["p99"] for step in steps], "o-",
                          label=target)
        cpu_axes.plot(load, [cpu_per_thousand(step) for step in steps], "o-", label=target)
    latency_axes.set(xlabel="deliveries per second", ylabel="p99 latency (ms)",
                     title=f"{run['title']}: p99 end-to-end latency", yscale="log")
    cpu_axes.set(xlabel="deliveries per second", ylabel="server CPU ms per 1,000 deliveries",
                 title="server CPU per 1,000 deliveries", yscale="log")
    for axes in (latency_axes, cpu_axes):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
