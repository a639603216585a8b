"""A terminal chat client: log in, join a room (creating it when absent), print what arrives
and send each line typed. `/to USER text` sends a personal message; `/quit` leaves."""

import argparse
import asyncio
import itertools
import json
import sys
from datetime import datetime

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mimo import settings as settings_module
from mimo import tokens

ROOM_NOT_FOUND = 2000


def _show(obj: dict) -> None:
    op = obj.get("op")
    if op == "msg":
        when = datetime.fromtimestamp(obj["ts"] / 1000).strftime("%H:%M:%S")
        where = f"#{obj['room']}" if "room" in obj else "(private)"
        body = obj["body"]
        text = body.get("text", json.dumps(body)) if isinstance(body, dict) else json.dumps(body)
        print(f"[{when}] {where} {obj.get('from') or 'system'}: {text}", flush=True)
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
        print(f"logged in as {args.user} in #{args.room}; type a message, /to USER text, "
              "or /quit", flush=True)

        try:
            for number in itertools.count(1):
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line or line.strip() == "/quit":
                    break
                line = line.rstrip("\n")
                if not line:
                    continue
                cid = f"{login['session']}-{number}"
                if line.startswith("/to "):
                    _, to, text = (line.split(" ", 2) + [""])[:3]
                    result = await request("send", to=to, cid=cid, body={"text": text})
                else:
                    result = await request("send", room=args.room, cid=cid, body={"text": line})
                if result["code"] != 0:
                    print(f"! send: {result['error']} (code {result['code']})", flush=True)
        except ConnectionClosed as closed:
            print(f"connection closed: {closed}", file=sys.stderr)
        finally:
            reader.cancel()
    return 0
