"""Start each server under test as real processes, pinned with `taskset`.

The server under test runs on `SERVER_CPU`; everything else (nats-server, Valkey and the
workers behind the gateway, and the load generator) shares `OTHER_CPU`. Every server binds
to 127.0.0.1 on a free port, and `stop` ends only the processes started here, by PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from bench import protocols
from tests.stack import BIN, WORKERS, Stack, free_port, wait_for_port

SERVER_CPU = 0
OTHER_CPU = 1
READY_TIMEOUT = 30.0  # seconds the workers may take before a login succeeds

# Limits raised for the run so that the senders measure fan-out, not the rate limiter.
MIMO_ENV = {
    "MIMO_ROOM_RATE": "5000",
    "MIMO_ROOM_BURST": "10000",
    "MIMO_USER_RATE": "1000",
    "MIMO_USER_BURST": "2000",
    "MIMO_HEARTBEAT": "600",  # the counted clients do not read pings closely
    "MIMO_LOG_LEVEL": "WARNING",
}


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv]


class PinnedStack(Stack):
    """The test stack with the gateway on `SERVER_CPU` and the rest on `OTHER_CPU`."""

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None
               ) -> subprocess.Popen:
        cpu = SERVER_CPU if name == "gateway" else OTHER_CPU
        return super()._spawn(name, pinned(cpu, argv), env)


class Server:
    """A started target: its URL parts, the PIDs to measure and how to stop it."""

    kind = "plain"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self.secret = ""
        self.nats_url = ""  # Mimo only: where the gateway publishes its stats
        self.pids: dict[str, int] = {}

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class MimoServer(Server):
    kind = "mimo"

    def __init__(self, root: Path, extra_env: dict[str, str] | None = None) -> None:
        super().__init__(root)
        self.stack = PinnedStack(root, {**MIMO_ENV, **(extra_env or {})})
        self.secret = self.stack.secret

    def start(self) -> None:
        self.stack.start_nats()
        self.stack.start_valkey()
        for kind in WORKERS:
            self.stack.start_worker(kind)
        self.port = self.stack.start_gateway("gateway")
        self.nats_url = self.stack.env["MIMO_NATS_URL"]
        asyncio.run(self._wait_ready())
        self.pids = {"server": self.stack.procs["gateway"].pid}
        for name in ("nats", "valkey", *WORKERS):
            self.pids[name] = self.stack.procs[name].pid

    async def _wait_ready(self) -> None:
        """Log in once, so that the workers are known to answer before the load starts."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                async with connect(f"ws://127.0.0.1:{self.port}/ws",
                                   subprotocols=["mimo.v1.json"]) as ws:
                    await ws.send(protocols.login_command("probe", self.secret), text=True)
                    if protocols.check_reply(await asyncio.wait_for(ws.recv(), 5), "login"):
                        return
            except (ConnectionError, OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError("the Mimo workers did not answer a login in time") from None
                await asyncio.sleep(0.5)

    def stop(self) -> None:
        self.stack.stop()


class ProcessServer(Server):
    """A single-process baseline on `SERVER_CPU`."""

    def __init__(self, root: Path, name: str) -> None:
        super().__init__(root)
        self.name = name
        self.proc: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        return [sys.executable, "-m", f"bench.baselines.{self.name}", str(self.port)]

    def start(self) -> None:
        self.port = free_port()
        log = self.root / f"{self.name}.log"
        self.proc = subprocess.Popen(
            pinned(SERVER_CPU, self.argv()), cwd=Path(__file__).parent.parent,
            stdin=subprocess.DEVNULL, stdout=log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for_port(self.port, self.proc, self.name, log)
        self.pids = {"server": self.proc.pid}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class NatsServer(ProcessServer):
    """nats-server with only its WebSocket listener in use, as a baseline."""

    kind = "nats"

    def __init__(self, root: Path) -> None:
        super().__init__(root, "nats-ws")

    def argv(self) -> list[str]:
        config = Path(tempfile.mkstemp(prefix="nats-ws-", suffix=".conf", dir=self.root)[1])
        config.write_text(
            f'listen: "127.0.0.1:{free_port()}"\n'
            'ping_interval: "10m"\n'  # the counted clients do not answer PING
            f'websocket {{ listen: "127.0.0.1:{self.port}", no_tls: true, '
            "compression: false }\n")
        return [str(BIN / "nats-server"), "-c", str(config)]


def make_server(name: str, root: Path, extra_env: dict[str, str] | None = None) -> Server:
    if name == "mimo":
        return MimoServer(root, extra_env)
    if name == "nats":
        return NatsServer(root)
    return ProcessServer(root, name)
