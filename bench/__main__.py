"""Run the fan-out benchmark: `python -m bench [--scenarios ...] [--scale F]`.

Each scenario runs against each of its targets in turn. The target starts pinned to one
core and the load generator runs as its own process on the other core. The results of the
whole run go to bench/results/RUN/ as results.json, table.md and fanout.png.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import report, scenarios
from bench.targets import OTHER_CPU, make_server, pinned

RESULTS = Path(__file__).parent / "results"
LOADGEN_TIMEOUT = 300.0  # seconds one load generator run may take before it is stopped


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scenarios", nargs="+", default=["one_room", "many_rooms", "idle",
                                                           "slow"],
                        help="scenarios to run (one_room, many_rooms, idle, slow)")
    parser.add_argument("--targets", nargs="+", default=list(scenarios.ALL_TARGETS),
                        help="servers to measure (mimo, ws_broadcast, floor, nats)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds of sending in each load step")
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 100.0, 200.0],
                        help="messages per second of the one_room load steps")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="factor on connection and room counts, for quick checks")
    parser.add_argument("--out", type=Path, default=None,
                        help="result folder (default bench/results/<time>)")
    return parser.parse_args()


def run_loadgen(config: dict[str, Any], root: Path) -> dict[str, Any]:
    config_path = root / "loadgen.json"
    result_path = root / "result.json"
    config_path.write_text(json.dumps(config))
    argv = pinned(OTHER_CPU, [sys.executable, "-m", "bench.loadgen", str(config_path),
                              str(result_path)])
    completed = subprocess.run(argv, cwd=Path(__file__).parent.parent,
                               timeout=LOADGEN_TIMEOUT + 30, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed with exit status {completed.returncode}; "
                           f"its configuration is in {config_path}")
    return json.loads(result_path.read_text())


def run_one(scenario: scenarios.Scenario, target: str, root: Path) -> dict[str, Any]:
    server = make_server(target, root, scenario.server_env)
    print(f"== {scenario.name} on {target}", flush=True)
    started = time.monotonic()
    try:
        server.start()
        config = {**scenario.config, "target": server.kind, "host": "127.0.0.1",
                  "port": server.port, "secret": server.secret, "pids": server.pids,
                  "nats_url": server.nats_url, "server_env": scenario.server_env,
                  "steps": scenario.steps, "max_seconds": LOADGEN_TIMEOUT}
        return run_loadgen(config, root)
    finally:
        server.stop()
        print(f"   done in {time.monotonic() - started:.0f} s", flush=True)


def main() -> None:
    args = parse_args()
    out = (args.out or RESULTS / time.strftime("%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    chosen = scenarios.build(args.duration, args.scale, args.rates)
    results: dict[str, Any] = {"machine": report.machine(), "args": {
        "scenarios": args.scenarios, "targets": args.targets, "duration": args.duration,
        "rates": args.rates, "scale": args.scale}, "runs": {}}
    for name in args.scenarios:
        scenario = chosen[name]
        results["runs"][name] = {"title": scenario.title}
        for target in scenario.targets:
            if target not in args.targets:
                continue
            root = out / "logs" / f"{name}-{target}"
            root.mkdir(parents=True, exist_ok=True)
            try:
                results["runs"][name][target] = run_one(scenario, target, root)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                print(f"   failed: {error}", flush=True)
                results["runs"][name][target] = {"error": str(error)}
            (out / "results.json").write_text(json.dumps(results, indent=1))
    table = report.tables(results)
    (out / "table.md").write_text(table)
    print(table)
    report.plot(results, out / "fanout.png")
    print(f"results in {out}")


if __name__ == "__main__":
    main()
