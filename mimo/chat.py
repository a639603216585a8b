"""A terminal chat client: log in, join a room (creating it when absent), print what arrives
and send each line typed. `/to USER text` sends a personal message, `/help` lists the
commands and `/quit` leaves."""

import argparse
import asyncio
import itertools
import json
import sys
import threading
from datetime import datetime

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mimo import settings as settings_module
from mimo import tokens

ROOM_NOT_FOUND = 2000
HELP = "type a message for the room, /to USER text for a personal message, /quit to leave"


def _text(body: object) -> str:
    """Show a body as people write it: a string as it is, {"text": ...} by its text."""
    if isinstance(body, str):
        return body
    if isinstance(body, dict) and isinstance(body.get("text"), str):
        return body["text"]
    return json.dumps(body, ensure_ascii=False)


def _read_lines(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue) -> None:
    """Feed standard input to `lines` from a daemon thread; None marks its end."""
    for line in sys.stdin:
        loop.call_soon_threadsafe(lines.put_nowait, line)
    loop.call_soon_threadsafe(lines.put_nowait, None)


def _show(obj: dict) -> None:
    op = obj.get("op")
    if op == "msg":
        when = datetime.fromtimestamp(obj["ts"] / 1000).strftime("%H:%M:%S")
        where = f"#{obj['room']}" if "room" in obj else "(private)"
        print(f"[{when}] {where} {obj.get('from') or 'system'}: {_text(obj['body'])}",
              flush=True)
    elif op in ("gap", "kicked", "room.destroyed", "muted", "broadcast", "room.online"):
        print(f"* {json.dumps(obj, ensure_ascii=False)}", flush=True)
    elif obj.get("code", 0) != 0:
        print(f"! {op}: {obj.get('error')} (code {obj.get('code')})", flush=True)


async def run_chat(args: argparse.Namespace) -> int:
    settings = settings_module.load_or_exit()
    token = args.token or tokens.issue(args.user, settings.jwt_secret, settings.token_ttl)
    url = args.url or f"ws://{settings.gateway_host}:{settings.gateway_port}/ws"
    ids = itertools.count(1)
    replies: dict[int, asyncio.Future] = {}

    async with connect(url, subprotocols=["mimo.v1.json"]) as ws:

        async def request(op: str, **fields: object) -> dict:
            request_id = next(ids)
            future = asyncio.get_running_loop().create_future()
            replies[request_id] = future
            await ws.send(json.dumps({"op": op, "id": request_id, **fields}))
            return await future

        async def receive() -> None:
            try:
                async for frame in ws:
                    data = json.loads(frame)
                    for obj in data if isinstance(data, list) else [data]:
                        future = replies.pop(obj.get("id"), None) if "id" in obj else None
                        if future is not None:
                            future.set_result(obj)
                            continue
                        _show(obj)
                        if obj.get("op") == "msg" and obj.get("ack"):
                            await ws.send(json.dumps({"op": "ack", "mids": [obj["mid"]]}))
            finally:
                for future in replies.values():
                    if not future.done():
                        future.set_exception(ConnectionClosed(None, None))

        reader = asyncio.create_task(receive())
        login = await request("login", token=token, platform="pc", sdk="mimo-chat")
        if login["code"] != 0:
            print(f"login failed: {login['error']}", file=sys.stderr)
            return 1
        joined = await request("room.join", room=args.room)
        if joined["code"] == ROOM_NOT_FOUND:
            joined = await request("room.create", room=args.room, name=args.room)
        if joined["code"] != 0:
            print(f"cannot enter room {args.room}: {joined['error']}", file=sys.stderr)
            return 1
        print(f"logged in as {args.user} in #{args.room}; {HELP}", flush=True)

        lines: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        threading.Thread(target=_read_lines, args=(loop, lines), daemon=True).start()
        try:
            for number in itertools.count(1):
                next_line = asyncio.ensure_future(lines.get())
                done, _ = await asyncio.wait({next_line, reader},
                                             return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    next_line.cancel()
                    print(f"connection closed ({ws.close_code}: {ws.close_reason})",
                          file=sys.stderr)
                    return 1
                line = next_line.result()
                if line is None or line.strip() == "/quit":
                    break
                line = line.rstrip("\n")
                if not line:
                    continue
                if line.strip() == "/help":
                    print(HELP, flush=True)
                    continue
                cid = f"{login['session']}-{number}"
                if line.startswith("/to"):
                    parts = line.split(" ", 2)
                    if len(parts) < 3 or not parts[2]:
                        print("usage: /to USER text", flush=True)
                        continue
                    result = await request("send", to=parts[1], cid=cid,
                                           body={"text": parts[2]})
                else:
                    result = await request("send", room=args.room, cid=cid, body={"text": line})
                if result["code"] != 0:
                    print(f"! send: {result['error']} (code {result['code']})", flush=True)
        except ConnectionClosed as closed:
            print(f"connection closed: {closed}", file=sys.stderr)
            return 1
        finally:
            reader.cancel()
    return 0
