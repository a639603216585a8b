"""One settings object, read from `MIMO_*` environment variables.

A missing or invalid value stops the process at start with a message naming the variable.
`mimo settings` prints the table of every setting with its unit and default.
"""

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from bus.subjects import is_valid_id


class SettingsError(ValueError):
    """A setting that is missing or invalid; the message names the variable."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise ValueError("must be a port number from 1 to 65535")
    return value


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        parsed = urlparse(text)
        if parsed.scheme not in schemes or not parsed.hostname:
            raise ValueError(f"must be a URL with scheme {' or '.join(schemes)} and a host")
        return text

    return parse


def _secret(text: str) -> str:
    if len(text) < 16:
        raise ValueError("must be at least 16 characters")
    return text


def _api_keys(text: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in text.split(",") if key.strip())
    if not keys:
        raise ValueError("must list at least one key, separated by commas")
    if any(len(key) < 16 for key in keys):
        raise ValueError("every key must be at least 16 characters")
    return keys


def _gateway_id(text: str) -> str:
    if not is_valid_id(text):
        raise ValueError("must be 1 to 64 of A-Z a-z 0-9 _ -")
    return text


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text

    return parse


def _log_level(text: str) -> str:
    return _choice("DEBUG", "INFO", "WARNING", "ERROR")(text.upper())


def _setting(
    env: str, default: Any, parse: Callable[[str], Any], doc: str, unit: str = ""
) -> Any:
    meta = {"env": env, "parse": parse, "doc": doc, "unit": unit, "required": default is None}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class Settings:
    nats_url: str = _setting(
        "MIMO_NATS_URL", "nats://127.0.0.1:4222", _url("nats", "tls"), "NATS server URL")
    redis_url: str = _setting(
        "MIMO_REDIS_URL", "redis://127.0.0.1:6379/0", _url("redis", "rediss", "unix"),
        "Valkey or Redis URL (used by workers only)")
    gateway_host: str = _setting(
        "MIMO_GATEWAY_HOST", "127.0.0.1", str, "address the WebSocket gateway listens on")
    gateway_port: int = _setting(
        "MIMO_GATEWAY_PORT", 8800, _port, "port the WebSocket gateway listens on")
    gateway_id: str = _setting(
        "MIMO_GATEWAY_ID", "", _gateway_id, "gateway id on the bus (random at start when empty)")
    api_host: str = _setting("MIMO_API_HOST", "127.0.0.1", str, "address the HTTP API listens on")
    api_port: int = _setting("MIMO_API_PORT", 8000, _port, "port the HTTP API listens on")
    jwt_secret: str = _setting(
        "MIMO_JWT_SECRET", None, _secret, "HS256 secret that signs client tokens (required)")
    api_keys: tuple[str, ...] = _setting(
        "MIMO_API_KEYS", None, _api_keys, "comma-separated API keys for REST (required)")
    log_level: str = _setting("MIMO_LOG_LEVEL", "INFO", _log_level, "log level")

    max_frame: int = _setting(
        "MIMO_MAX_FRAME", 65536, _positive_int, "largest client frame; larger closes with 1009",
        "bytes")
    max_body: int = _setting(
        "MIMO_MAX_BODY", 4096, _positive_int, "largest encoded message body; larger gets 4004",
        "bytes")
    request_timeout: float = _setting(
        "MIMO_REQUEST_TIMEOUT", 5.0, _positive_float, "how long a bus request waits for a worker",
        "seconds")

    token_leeway: float = _setting(
        "MIMO_TOKEN_LEEWAY", 30.0, float, "clock skew allowed on token exp, nbf and iat",
        "seconds")
    token_ttl: int = _setting(
        "MIMO_TOKEN_TTL", 86400, _positive_int, "lifetime of tokens issued by the platform",
        "seconds")
    session_policy: str = _setting(
        "MIMO_SESSION_POLICY", "single", _choice("single", "per-platform"),
        "single: one live session per user; per-platform: one per platform class")
    session_check_interval: float = _setting(
        "MIMO_SESSION_CHECK_INTERVAL", 15.0, _positive_float,
        "how often a gateway rechecks its sessions' versions", "seconds")
    heartbeat: float = _setting(
        "MIMO_HEARTBEAT", 30.0, _positive_float, "interval between pings, sent to clients at login",
        "seconds")
    heartbeat_timeout: float = _setting(
        "MIMO_HEARTBEAT_TIMEOUT", 0.0, float,
        "idle time before close 4009; 0 means twice MIMO_HEARTBEAT", "seconds")

    room_max_members: int = _setting(
        "MIMO_ROOM_MAX_MEMBERS", 100_000, _positive_int, "default max_members of a new room")
    room_max_members_limit: int = _setting(
        "MIMO_ROOM_MAX_MEMBERS_LIMIT", 1_000_000, _positive_int, "upper bound of max_members")
    presence_interval: float = _setting(
        "MIMO_PRESENCE_INTERVAL", 2.0, _positive_float,
        "how often a gateway refreshes its presence reports", "seconds")
    presence_ttl: float = _setting(
        "MIMO_PRESENCE_TTL", 6.0, _positive_float,
        "how long a gateway's presence lasts without a refresh", "seconds")
    online_notify_interval: float = _setting(
        "MIMO_ONLINE_NOTIFY_INTERVAL", 3.0, _positive_float,
        "shortest interval between room.online notices of one room", "seconds")

    user_rate: float = _setting(
        "MIMO_USER_RATE", 20.0, _positive_float, "commands per user, sustained", "per second")
    user_burst: int = _setting(
        "MIMO_USER_BURST", 40, _positive_int, "commands per user, burst")
    room_rate: float = _setting(
        "MIMO_ROOM_RATE", 200.0, _positive_float, "messages per room, sustained", "per second")
    room_burst: int = _setting(
        "MIMO_ROOM_BURST", 400, _positive_int, "messages per room, burst")
    dedup_window: float = _setting(
        "MIMO_DEDUP_WINDOW", 120.0, _positive_float,
        "how long a cid's receipt is kept for retries", "seconds")

    inbox_max_per_user: int = _setting(
        "MIMO_INBOX_MAX_PER_USER", 1000, _positive_int,
        "pending personal messages per user; more are refused with 4005")
    inbox_max_age: float = _setting(
        "MIMO_INBOX_MAX_AGE", 7 * 86400.0, _positive_float,
        "how long an unacked personal message is kept", "seconds")
    ack_timeout: float = _setting(
        "MIMO_ACK_TIMEOUT", 5.0, _positive_float,
        "wait for a client ack before the first redelivery", "seconds")
    ack_backoff_max: float = _setting(
        "MIMO_ACK_BACKOFF_MAX", 60.0, _positive_float,
        "longest wait between redeliveries (the wait doubles each time)", "seconds")
    history_max_per_room: int = _setting(
        "MIMO_HISTORY_MAX_PER_ROOM", 1000, _positive_int, "room messages kept for resume, per room")
    history_max_age: float = _setting(
        "MIMO_HISTORY_MAX_AGE", 3600.0, _positive_float, "how long room history is kept",
        "seconds")
    gap_hold: float = _setting(
        "MIMO_GAP_HOLD", 0.2, _positive_float,
        "how long a gateway holds later seqs for a missing one before a gap", "seconds")

    batch_window: float = _setting(
        "MIMO_BATCH_WINDOW", 0.05, float,
        "longest wait to merge room messages into one frame", "seconds")
    batch_max: int = _setting(
        "MIMO_BATCH_MAX", 100, _positive_int, "most room messages in one batch frame")
    outbound_high_water: int = _setting(
        "MIMO_OUTBOUND_HIGH_WATER", 256 * 1024, _positive_int,
        "queued bytes per connection past which low and normal messages are shed", "bytes")
    outbound_limit: int = _setting(
        "MIMO_OUTBOUND_LIMIT", 8 * 1024 * 1024, _positive_int,
        "queued bytes per connection; a connection that would pass it is closed with 4008",
        "bytes")
    slow_close_after: float = _setting(
        "MIMO_SLOW_CLOSE_AFTER", 5.0, _positive_float,
        "time over the high-water mark before close 4008", "seconds")

    @property
    def idle_timeout(self) -> float:
        return self.heartbeat_timeout if self.heartbeat_timeout > 0 else 2 * self.heartbeat


ENV_FILE = ".env"


def read_env_file(path: str = ENV_FILE) -> dict[str, str]:
    """Read the `NAME=value` lines of a `.env` file, or nothing when the file is absent."""
    values: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as file:
            for line in file:
                line = line.strip()
                if not line or line.startswith("#") or "=" not in line:
                    continue
                name, value = line.split("=", 1)
                values[name.strip()] = value.strip().strip('"').strip("'")
    except FileNotFoundError:
        pass
    return values


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting from `environ`.

    By default that is the process environment over the `.env` file of the working
    directory, so each process of the `Procfile` also runs on its own, without honcho.
    """
    if environ is None:
        environ = {**read_env_file(), **os.environ}
    values: dict[str, Any] = {}
    for item in dataclasses.fields(Settings):
        meta = item.metadata
        raw = environ.get(meta["env"])
        if raw is None or raw == "":
            if meta["required"]:
                raise SettingsError(f"{meta['env']} is missing: set it to {meta['doc']}")
            continue
        try:
            values[item.name] = meta["parse"](raw)
        except ValueError as error:
            raise SettingsError(f"{meta['env']}={raw!r} is invalid: {error}") from None
    return Settings(**values)


def load_or_exit() -> Settings:
    """Read the settings, or print the failing variable and exit with status 2."""
    try:
        return load()
    except SettingsError as error:
        print(f"mimo: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def markdown_table() -> str:
    """Format every setting as a Markdown table, for the README."""
    rows = ["| variable | default | unit | meaning |", "|---|---|---|---|"]
    for item in dataclasses.fields(Settings):
        meta = item.metadata
        default = "(required)" if meta["required"] else item.default
        if isinstance(default, tuple):
            default = ",".join(default)
        if default == "":
            default = "(empty)"
        rows.append(f"| `{meta['env']}` | {default} | {meta['unit']} | {meta['doc']} |")
    return "\n".join(rows)
