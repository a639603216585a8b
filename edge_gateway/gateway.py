"""The gateway: accepts WebSocket connections and turns client commands into bus requests.

Each connection's commands are processed one at a time, in the order received, so one
sender's messages on one connection get increasing seqs in send order, and a command's reply
is queued before anything that the command causes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable
from typing import Any

import jwt
import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from bus import commands, subjects
from bus.codes import Close, Code, CommandError
from bus.connection import call
from bus.types import (
    Actor,
    LoginRequest,
    LogoutRequest,
    Request,
    RoomRemoved,
    inbox_message_decoder,
    platform_class,
)
from edge_gateway import background
from edge_gateway.codec import CODECS, JSON, FrameError
from edge_gateway.connection import Connection, Unacked
from edge_gateway.outbound import Frame, Outbound
from edge_gateway.presence import PresenceReporter
from edge_gateway.rooms import Member, RoomChannel, RoomHub, gap_notice
from edge_gateway.sessions import KICK_CLOSE, Sessions, UserEntry
from edge_gateway.stats import Stats, publish_loop
from mimo.logs import RateLimitedLog
from mimo.settings import Settings

log = logging.getLogger("mimo.gateway")
rare = RateLimitedLog(log)

INVALID_FRAMES_MAX = 50  # invalid frames within INVALID_FRAMES_WINDOW before close 1008
INVALID_FRAMES_WINDOW = 10.0  # seconds
PENDING_AT_LOGIN_MAX = 5000  # pending messages delivered at login; the rest via `pending`

# Commands forwarded to a worker as they are; the reply's data becomes the client's reply.
FORWARD = {
    "room.destroy": subjects.ROOMS_DESTROY,
    "room.list": subjects.ROOMS_LIST,
    "room.admin": subjects.ROOMS_ADMIN,
    "send": subjects.CHAT_SEND,
    "pending": subjects.CHAT_PENDING,
    "room.mute": subjects.MOD_ROOM_MUTE,
    "room.unmute": subjects.MOD_ROOM_UNMUTE,
    "room.kick": subjects.MOD_ROOM_KICK,
    "room.unban": subjects.MOD_ROOM_UNBAN,
    "room.mute_all": subjects.MOD_ROOM_MUTE_ALL,
    "block": subjects.MOD_BLOCK,
    "unblock": subjects.MOD_UNBLOCK,
    "blocks": subjects.MOD_BLOCKS,
}


def reply(cmd: Any, data: dict[str, Any] | None = None, op: str | None = None) -> dict:
    result: dict[str, Any] = {"op": op or commands.op_of(cmd)}
    if cmd.id is not None:
        result["id"] = cmd.id
    result["code"] = 0
    if data:
        result.update(data)
    return result


def error_reply(op: str, request_id: Any, code: int, message: str) -> dict:
    result: dict[str, Any] = {"op": op}
    if request_id is not None:
        result["id"] = request_id
    result["code"] = int(code)
    result["error"] = message
    return result


def resume_items(room: str, since: int, latest: int, messages: list[dict]) -> list[dict]:
    """Build the replay of `room` after seq `since` up to `latest`, in seq order, with a `gap`
    for every range that history no longer holds."""
    items: list[dict] = []
    expected = since + 1
    for message in messages:
        seq = message["seq"]
        if seq < expected or seq > latest:
            continue
        if seq > expected:
            items.append(gap_notice(room, expected, seq - 1))
        items.append({"op": "msg", "mid": message["mid"], "from": message["sender"],
                      "room": room, "body": message["body"], "ts": message["ts"], "seq": seq,
                      "ack": False, "priority": message["priority"]})
        expected = seq + 1
    if expected <= latest:
        items.append(gap_notice(room, expected, latest))
    return items


class Gateway:
    def __init__(self, settings: Settings, nc: Client, gateway_id: str) -> None:
        self.settings = settings
        self.nc = nc
        self.id = gateway_id
        self.stats = Stats()
        self.connections: set[Connection] = set()
        self.hub = RoomHub(self)
        self.presence = PresenceReporter(self)
        self.sessions = Sessions(self)
        self._tasks: set[asyncio.Task] = set()

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        async def on_broadcast(msg: Msg) -> None:
            await background.on_broadcast(self, msg)

        await self.nc.subscribe(subjects.BROADCAST_ALL, cb=on_broadcast)
        for coro, what in (
            (self.presence.run(), "presence reports"),
            (publish_loop(self), "stats reports"),
            (background.liveness_loop(self), "liveness checks"),
            (background.session_check_loop(self), "session checks"),
        ):
            self.spawn(coro, what)
        await self.presence.flush(renew=True)

    def spawn(self, coro: Awaitable[Any], what: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed gateway=%s: %s", self.id, what)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        for conn in list(self.connections):
            self.close(conn, Close.GOING_AWAY, "gateway going away")
        await asyncio.sleep(0.2)
        for task in list(self._tasks):
            task.cancel()

    async def on_nats_reconnected(self) -> None:
        """Kicks may have been lost while NATS was away: recheck every session now."""
        self.spawn(background.check_sessions(self), "session check after reconnect")
        self.spawn(self.presence.flush(renew=True), "presence renewal after reconnect")

    # --- connections -------------------------------------------------------------------------

    async def handle(self, ws: ServerConnection) -> None:
        codec = CODECS[ws.subprotocol or JSON]
        address = "%s:%s" % ws.remote_address[:2] if ws.remote_address else ""
        conn = Connection(ws, codec, address)
        conn.outbound = Outbound(
            ws,
            encode_frame=codec.encode_frame,
            high_water=self.settings.outbound_high_water,
            limit=self.settings.outbound_limit,
            slow_close_after=self.settings.slow_close_after,
            on_slow=lambda: self._slow_consumer(conn),
            on_shed=self.stats.count_shed,
        )
        self.connections.add(conn)
        try:
            await self._read(conn)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("connection failed gateway=%s uid=%s", self.id, conn.uid)
            self.close(conn, Close.INTERNAL_ERROR, "internal error")
        finally:
            if conn.close_task is not None:
                # Returning from the handler would close with 1000: let our close code win.
                await asyncio.gather(conn.close_task, return_exceptions=True)
            await self._cleanup(conn)

    async def _read(self, conn: Connection) -> None:
        invalid_times: list[float] = []
        async for frame in conn.ws:
            now = time.monotonic()
            conn.last_seen = now
            try:
                cmd = conn.codec.decode(frame, self.settings.max_body)
            except FrameError as error:
                self._reply_frame_error(conn, error)
                invalid_times = [t for t in invalid_times if now - t < INVALID_FRAMES_WINDOW]
                invalid_times.append(now)
                if len(invalid_times) > INVALID_FRAMES_MAX:
                    self.close(conn, Close.POLICY_VIOLATION, "too many invalid frames")
                    return
                continue
            await self._dispatch(conn, cmd)
            if conn.closing:
                return

    def _reply_frame_error(self, conn: Connection, error: FrameError) -> None:
        op = error.op or error.unknown_op or "error"
        message = error.message
        if error.unknown_op is not None:
            message = f"unknown op {error.unknown_op!r}"
        self.stats.count_command(op if error.op else "invalid", int(error.code))
        conn.push(error_reply(op, error.request_id, error.code, message))

    async def _cleanup(self, conn: Connection) -> None:
        conn.closing = True
        conn.outbound.close()
        for room in list(conn.rooms):
            self.hub.detach(room, conn)
        conn.rooms.clear()
        self.sessions.remove(conn)
        self.connections.discard(conn)
        if conn.uid is not None and conn.session is not None:
            request = LogoutRequest(uid=conn.uid, session=conn.session)
            self.spawn(call(self.nc, subjects.AUTH_LOGOUT, request,
                            self.settings.request_timeout),
                       f"session removal uid={conn.uid}")
            log.info("disconnected uid=%s session=%s", conn.uid, conn.session)

    def close(self, conn: Connection, code: int, reason: str) -> None:
        """Close `conn` with `code`; frames already queued are dropped."""
        conn.closing = True
        conn.outbound.close()
        conn.close_task = asyncio.create_task(self._close(conn, code, reason))

    def close_after_queued(self, conn: Connection, code: int, reason: str) -> None:
        """Close `conn` with `code` once the frames already queued are written."""
        conn.closing = True

        async def close_later() -> None:
            deadline = time.monotonic() + 2.0
            while conn.outbound.queued_bytes and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0)
            conn.outbound.close()
            await self._close(conn, code, reason)

        conn.close_task = asyncio.create_task(close_later())

    async def _close(self, conn: Connection, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(conn.ws.close(code, reason), timeout=3.0)
        except (TimeoutError, ConnectionClosed, OSError):
            pass
        finally:
            if conn.ws.transport is not None:
                conn.ws.transport.abort()

    def kick(self, conn: Connection, code: int, error: str) -> None:
        if conn.closing:
            return
        close_code = KICK_CLOSE.get(Code(code), Close.NEWER_LOGIN)
        log.info("session kicked uid=%s session=%s code=%d", conn.uid, conn.session, code)
        conn.push({"op": "kicked", "code": int(code), "error": error or "session ended"})
        self.close_after_queued(conn, close_code, error or "session ended")

    def _slow_consumer(self, conn: Connection) -> None:
        if conn.closing:
            return
        rare.log(logging.WARNING, "slow", "slow consumer closed uid=%s queued=%d bytes",
                 conn.uid, conn.outbound.queued_bytes)
        self.stats.count_drop("slow_consumer_closed")
        self.close(conn, Close.SLOW_CONSUMER, "slow consumer")

    # --- commands ----------------------------------------------------------------------------

    async def _dispatch(self, conn: Connection, cmd: commands.Command) -> None:
        op = commands.op_of(cmd)
        try:
            if isinstance(cmd, commands.Login):
                await self._login(conn, cmd)
                return
            if conn.uid is None:
                raise CommandError(Code.NOT_LOGGED_IN, f"{op} before login: log in first")
            if isinstance(cmd, commands.Ping):
                conn.push(reply(cmd, op="pong"))
            elif isinstance(cmd, commands.Logout):
                await self._logout(conn, cmd)
            elif isinstance(cmd, commands.RoomJoin):
                await self._room_join(conn, cmd)
            elif isinstance(cmd, commands.RoomLeave):
                await self._room_leave(conn, cmd)
            elif isinstance(cmd, commands.RoomCreate):
                await self._room_create(conn, cmd)
            elif isinstance(cmd, commands.Ack):
                await self._ack(conn, cmd)
            else:
                data = await self._call(conn, FORWARD[op], cmd)
                conn.push(reply(cmd, data))
            self.stats.count_command(op, 0)
        except CommandError as error:
            self.stats.count_command(op, int(error.code))
            if error.code == Code.INTERNAL:
                rare.log(logging.ERROR, f"internal:{op}", "command failed op=%s uid=%s: %s",
                         op, conn.uid, error.message)
            conn.push(error_reply(op, cmd.id, error.code, error.message))

    async def _call(self, conn: Connection, subject: str, cmd: Any, internal: bool = False
                    ) -> dict[str, Any]:
        actor = Actor(uid=conn.uid, session=conn.session, gateway=self.id, internal=internal)
        result = await call(self.nc, subject, Request(actor=actor, cmd=cmd),
                            self.settings.request_timeout)
        if result.code != Code.OK:
            raise CommandError(Code(result.code), result.error)
        return result.data

    async def _login(self, conn: Connection, cmd: commands.Login) -> None:
        if conn.uid is not None or conn.logging_in:
            raise CommandError(Code.INVALID_COMMAND, "already logged in on this connection")
        try:
            claimed = jwt.decode(cmd.token, options={"verify_signature": False})
            uid = subjects.check_id(claimed.get("sub"))
        except (jwt.PyJWTError, subjects.InvalidId, AttributeError):
            raise CommandError(Code.AUTH_FAILED, "login failed: malformed token") from None

        conn.logging_in = True
        conn.platform_class = platform_class(cmd.platform)
        session = secrets.token_hex(8)
        entry = await self.sessions.begin_login(uid)
        request = LoginRequest(token=cmd.token, session=session, gateway=self.id,
                               platform=cmd.platform, device=cmd.device, sdk=cmd.sdk,
                               address=conn.address)
        try:
            result = await call(self.nc, subjects.AUTH_LOGIN, request,
                                self.settings.request_timeout)
        except BaseException:
            await self.sessions.end_login(entry, None)
            conn.logging_in = False
            raise
        conn.logging_in = False
        if result.code != Code.OK or conn.closing:
            await self.sessions.end_login(entry, None)
            if result.code != Code.OK:
                raise CommandError(Code(result.code), result.error)
            return

        data = result.data
        conn.uid, conn.session, conn.version = uid, session, int(data["version"])
        kicked = await self.sessions.end_login(entry, conn)
        self.stats.logins += 1
        conn.push(reply(cmd, {"uid": uid, "session": session, "rooms": data["rooms"],
                              "pending": data["pending"], "heartbeat": data["heartbeat"]}))
        if kicked is not None:
            # A newer login won the race while this one was in flight.
            self.kick(conn, kicked, "logged in on another device")
            return
        log.info("logged in uid=%s session=%s version=%d", uid, session, conn.version)

        since = cmd.since or {}
        await self._attach_rooms(conn, list(data["rooms"]), since)
        await self._deliver_pending(conn)

    async def _attach_rooms(self, conn: Connection, rooms: list[str], since: dict[str, int]
                            ) -> None:
        """Join `conn` to rooms it is already a member of, resuming those in `since`."""
        if not rooms:
            return
        channels = [await self.hub.acquire(room) for room in rooms]
        try:
            seqs = (await self.call_raw(subjects.ROOMS_SEQS, {"rooms": rooms}))["seqs"]
        except CommandError:
            for channel in channels:
                self.hub.release(channel)
            raise
        for channel in channels:
            latest = int(seqs.get(channel.room, 0))
            channel.start_at(latest)
            if conn.closing:
                self.hub.release(channel)
                continue
            resume_from = since.get(channel.room)
            member = self.hub.attach(channel, conn, resuming=resume_from is not None)
            if resume_from is not None:
                await self._resume(channel, member, resume_from, latest)

    async def call_raw(self, subject: str, payload: Any) -> dict[str, Any]:
        result = await call(self.nc, subject, payload, self.settings.request_timeout)
        if result.code != Code.OK:
            raise CommandError(Code(result.code), result.error)
        return result.data

    async def _resume(self, channel: RoomChannel, member: Member, since: int, latest: int
                      ) -> None:
        messages: list[dict] = []
        if since < latest:
            try:
                data = await self.call_raw(subjects.CHAT_HISTORY,
                                            {"room": channel.room, "after": since,
                                             "limit": latest - since})
                messages = data["messages"]
            except CommandError as error:
                log.error("history read failed room=%s: %s", channel.room, error.message)
        items = resume_items(channel.room, since, latest, messages)
        if member.conn.closing or channel.members.get(member.conn) is not member:
            return
        self.hub.finish_resume(channel, member, items, max(since, latest))

    async def _deliver_pending(self, conn: Connection) -> None:
        """Deliver the user's pending personal messages in mid order, then the live ones that
        arrived meanwhile, each once."""
        after: str | None = None
        delivered = 0
        try:
            while delivered < PENDING_AT_LOGIN_MAX and not conn.closing:
                page = await self._call(conn, subjects.CHAT_PENDING,
                                        commands.PendingList(limit=500, after=after),
                                        internal=True)
                for message in page["messages"]:
                    self._deliver_personal(conn, message["mid"], message)
                    delivered += 1
                if not page["more"] or not page["messages"]:
                    break
                after = page["messages"][-1]["mid"]
        except CommandError as error:
            log.error("pending delivery failed uid=%s: %s", conn.uid, error.message)
        buffered, conn.inbox_buffer = conn.inbox_buffer or [], None
        for _, mid, message in sorted(buffered, key=lambda item: item[0]):
            self._deliver_personal(conn, mid, message)

    def _deliver_personal(self, conn: Connection, mid: str, message: dict) -> None:
        if mid in conn.unacked or conn.closing:
            return
        data = conn.codec.encode_frame(message)
        wait = self.settings.ack_timeout
        conn.unacked[mid] = Unacked(data, time.monotonic() + wait, min(2 * wait,
                                    self.settings.ack_backoff_max))
        conn.outbound.push(Frame(data))
        self.stats.delivered_p2p += 1

    def on_personal_message(self, entry: UserEntry, msg: Msg) -> None:
        """Deliver a stored personal message, republished by the inbox stream, to the user's
        connections; one still receiving its pending messages gets it after them."""
        try:
            seq = int(msg.headers["Nats-Sequence"]) if msg.headers else 0
            stored = inbox_message_decoder.decode(msg.data)
        except (KeyError, ValueError, msgspec.DecodeError):
            rare.log(logging.ERROR, "inbox-decode", "undecodable inbox message uid=%s",
                     entry.uid)
            self.stats.count_drop("undecodable")
            return
        mid = str(seq)
        message = {"op": "msg", "mid": mid, "from": stored.sender, "to": stored.to,
                   "body": stored.body, "ts": stored.ts, "seq": seq, "ack": True,
                   "priority": stored.priority}
        for conn in list(entry.connections):
            if conn.inbox_buffer is not None:
                conn.inbox_buffer.append((seq, mid, message))
            else:
                self._deliver_personal(conn, mid, message)

    async def _logout(self, conn: Connection, cmd: commands.Logout) -> None:
        conn.push(reply(cmd))
        if conn.uid is not None and conn.session is not None:
            await self.call_raw(subjects.AUTH_LOGOUT,
                                 LogoutRequest(uid=conn.uid, session=conn.session))
        self.close_after_queued(conn, Close.NORMAL, "logout")

    async def _room_create(self, conn: Connection, cmd: commands.RoomCreate) -> None:
        data = await self._call(conn, subjects.ROOMS_CREATE, cmd)
        conn.push(reply(cmd, {"room": data["room"]}))
        await self._attach_rooms(conn, [data["room"]], {})

    async def _room_join(self, conn: Connection, cmd: commands.RoomJoin) -> None:
        channel = await self.hub.acquire(cmd.room)
        try:
            data = await self._call(conn, subjects.ROOMS_JOIN, cmd)
        except BaseException:
            self.hub.release(channel)
            raise
        latest = int(data["seq"])
        conn.push(reply(cmd, {"room": cmd.room, "online": data["online"],
                              "members": data["members"], "seq": latest}))
        channel.start_at(latest)
        if conn.closing:
            self.hub.release(channel)
            return
        member = self.hub.attach(channel, conn, resuming=cmd.since is not None)
        if cmd.since is not None:
            await self._resume(channel, member, cmd.since, latest)

    async def _room_leave(self, conn: Connection, cmd: commands.RoomLeave) -> None:
        await self._call(conn, subjects.ROOMS_LEAVE, cmd)
        self.hub.detach(cmd.room, conn)
        conn.rooms.discard(cmd.room)
        conn.outbound.drop_room(cmd.room)
        conn.push(reply(cmd, {"room": cmd.room}))

    async def _ack(self, conn: Connection, cmd: commands.Ack) -> None:
        entry = self.sessions.users.get(conn.uid or "")
        for other in entry.connections if entry else (conn,):
            for mid in cmd.mids:
                other.unacked.pop(mid, None)
        data = await self._call(conn, subjects.CHAT_ACK, cmd)
        conn.push(reply(cmd, data))

    def remove_from_room(self, entry: UserEntry, removed: RoomRemoved) -> None:
        """Tell every session of the user that it lost a room (a kick with ban)."""
        for conn in list(entry.connections):
            if removed.room in conn.rooms:
                self.hub.detach(removed.room, conn)
                conn.rooms.discard(removed.room)
                conn.outbound.drop_room(removed.room)
            conn.push({"op": "kicked", "code": removed.code, "room": removed.room,
                       "error": removed.error or f"removed from room {removed.room}"})
