"""Room and personal sends, the pending list, acks and room history for resume.

Guarantees: a personal message's receipt is sent only after JetStream's publish ack; a room
message's receipt only after the history stream stored it. A retry with the same `cid` within
the dedup window returns the stored receipt and delivers nothing twice.
"""

import json
import logging
from typing import Any

import msgspec
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

from bus import subjects
from bus.codes import Code, CommandError
from bus.commands import Ack, PendingList, Send
from bus.types import (
    InboxMessage,
    Request,
    RoomMessage,
    encode,
    inbox_message_decoder,
    room_message_decoder,
)
from state import keys
from workers.runtime import WorkerContext, now_ms
from workers.shared import decode_command

log = logging.getLogger("mimo.chat")

HISTORY_FETCH_TIMEOUT = 2.0  # seconds to read one room's history for a resume
INBOX_FULL_ERROR = 10077  # JetStream: maximum messages per subject exceeded


class HistoryQuery(msgspec.Struct, kw_only=True):
    room: str
    after: int
    limit: int = 1000




def room_mid(room: str, seq: int) -> str:
    return f"{room}:{seq}"


def personal_msg(seq: int, message: InboxMessage) -> dict[str, Any]:
    """Build the client object of a stored personal message."""
    return {"op": "msg", "mid": str(seq), "from": message.sender, "to": message.to,
            "body": message.body, "ts": message.ts, "seq": seq, "ack": True,
            "priority": message.priority}


class ChatService:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.window_ms = int(self.settings.dedup_window * 1000)

    async def send(self, data: bytes) -> dict:
        request = decode_command(data, Send)
        cmd: Send = request.cmd  # type: ignore[assignment]
        actor = request.actor
        if (cmd.to is None) == (cmd.room is None):
            raise CommandError(Code.INVALID_COMMAND, "send needs exactly one of to and room")
        sender = actor.uid

        if sender is not None:
            user = keys.UserKeys(sender)
            code, stored, until = await self.ctx.scripts.user_send(
                keys=[user.cid(cmd.cid), user.ban, user.mute, user.rate],
                args=[self.settings.user_rate, self.settings.user_burst, self.window_ms,
                      0 if actor.api else 1],
            )
            if stored:
                return json.loads(stored)
            if code == Code.USER_BANNED:
                raise CommandError(Code.USER_BANNED, f"user {sender} is banned")
            if code == Code.USER_MUTED:
                raise CommandError(Code.USER_MUTED, f"user {sender} is muted until {until}")
            if code == Code.USER_RATE_LIMITED:
                raise CommandError(Code.USER_RATE_LIMITED, f"too many commands from {sender}")
            if not actor.api:
                self.ctx.counters.unique("active_users", sender)
        elif cmd.to is not None:
            raise CommandError(Code.INVALID_COMMAND, "a personal message needs a sender")

        if cmd.room is not None:
            receipt = await self._send_room(request, cmd, sender)
        else:
            receipt = await self._send_personal(cmd, sender)  # type: ignore[arg-type]
        if sender is not None:
            self.ctx.spawn(
                self.ctx.redis.set(keys.UserKeys(sender).cid(cmd.cid), json.dumps(receipt),
                                   px=self.window_ms),
                f"store receipt uid={sender} cid={cmd.cid}",
            )
        return receipt

    async def _send_room(self, request: Request, cmd: Send, sender: str | None) -> dict:
        room = cmd.room
        assert room is not None
        room_keys = keys.RoomKeys(room)
        dedup_uid = sender if sender is not None else f"~{request.actor.api or 'system'}"
        code, seq, ts, role, stored = await self.ctx.scripts.room_send(
            keys=[room_keys.meta, room_keys.members, room_keys.mutes, room_keys.seq,
                  room_keys.rate, room_keys.cid(dedup_uid, cmd.cid)],
            args=[sender or "", self.settings.room_rate, self.settings.room_burst,
                  self.window_ms],
        )
        if code == Code.ROOM_NOT_FOUND:
            raise CommandError(Code.ROOM_NOT_FOUND, f"room {room} does not exist")
        if code == Code.NOT_A_MEMBER:
            raise CommandError(Code.NOT_A_MEMBER, f"user {sender} has not joined room {room}")
        if code == Code.ROOM_MUTED:
            what = "all members are muted" if ts == -1 else f"user {sender} is muted until {ts}"
            raise CommandError(Code.ROOM_MUTED, f"room {room}: {what}")
        if code == Code.ROOM_RATE_LIMITED:
            raise CommandError(Code.ROOM_RATE_LIMITED, f"too many messages in room {room}")

        duplicate = bool(stored)
        if duplicate:
            previous = json.loads(stored)
            seq, ts = previous["seq"], previous["ts"]
        priority = cmd.priority
        if priority == "high" and role not in ("owner", "admin", "system") and not duplicate:
            priority = "normal"
        message = RoomMessage(mid=room_mid(room, seq), room=room, seq=seq, sender=sender,
                              body=cmd.body, ts=ts, priority=priority)
        # A retry publishes the same seq again: history deduplicates it by Nats-Msg-Id and
        # gateways drop a seq they already delivered.
        await self.ctx.js.publish(
            subjects.room_msg(room), encode(message),
            headers={"Nats-Msg-Id": subjects.room_msg_id(room, seq)},
        )
        if not duplicate:
            self.ctx.counters.add("room_up")
        return {"cid": cmd.cid, "mid": message.mid, "seq": seq, "ts": ts}

    async def _send_personal(self, cmd: Send, sender: str) -> dict:
        to = cmd.to
        assert to is not None
        recipient = keys.UserKeys(to)
        pipe = self.ctx.redis.pipeline(transaction=False)
        pipe.exists(recipient.profile)
        pipe.zscore(recipient.blocks, sender)
        exists, blocked = await pipe.execute()
        if not exists:
            raise CommandError(Code.USER_NOT_FOUND, f"user {to} does not exist")
        if blocked is not None:
            raise CommandError(Code.BLOCKED, f"user {to} has blocked user {sender}")

        ts = now_ms()
        message = InboxMessage(sender=sender, to=to, body=cmd.body, ts=ts, cid=cmd.cid,
                               priority=cmd.priority)
        try:
            ack = await self.ctx.js.publish(
                subjects.inbox(to), encode(message),
                headers={"Nats-Msg-Id": subjects.inbox_msg_id(sender, cmd.cid)},
            )
        except APIError as error:
            if error.err_code == INBOX_FULL_ERROR or "maximum messages per subject" in str(
                error.description
            ):
                raise CommandError(Code.INBOX_FULL, f"the pending inbox of {to} is full") from None
            raise
        if ack.duplicate:
            stored = await self.ctx.js.get_msg(subjects.INBOX_STREAM, seq=ack.seq, direct=True)
            ts = inbox_message_decoder.decode(stored.data).ts
        else:
            self.ctx.counters.add("p2p_up")
        return {"cid": cmd.cid, "mid": str(ack.seq), "seq": ack.seq, "ts": ts}

    async def pending(self, data: bytes) -> dict:
        request = decode_command(data, PendingList)
        cmd: PendingList = request.cmd  # type: ignore[assignment]
        uid = request.actor.uid
        if uid is None:
            raise CommandError(Code.INVALID_COMMAND, "pending needs a user")
        await self.ctx.count_command(request.actor)
        start = 1
        if cmd.after is not None:
            if not cmd.after.isdigit():
                raise CommandError(Code.INVALID_COMMAND, f"invalid after {cmd.after!r}")
            start = int(cmd.after) + 1
        subject = subjects.inbox(uid)
        messages: list[dict] = []
        more = False
        while True:
            try:
                stored = await self.ctx.js.get_msg(subjects.INBOX_STREAM, seq=start,
                                                   subject=subject, next=True, direct=True)
            except NotFoundError:
                break
            if len(messages) == cmd.limit:
                more = True
                break
            messages.append(personal_msg(stored.seq, inbox_message_decoder.decode(stored.data)))
            start = stored.seq + 1
        return {"messages": messages, "more": more}

    async def ack(self, data: bytes) -> dict:
        request = decode_command(data, Ack)
        cmd: Ack = request.cmd  # type: ignore[assignment]
        uid = request.actor.uid
        if uid is None:
            raise CommandError(Code.INVALID_COMMAND, "ack needs a user")
        subject = subjects.inbox(uid)
        acked = 0
        for mid in dict.fromkeys(cmd.mids):
            if not mid.isdigit():
                continue
            try:
                stored = await self.ctx.js.get_msg(subjects.INBOX_STREAM, seq=int(mid),
                                                   direct=True)
            except NotFoundError:
                continue
            # Only the owner of the inbox can remove a message from it.
            if stored.subject != subject:
                continue
            try:
                if await self.ctx.js.delete_msg(subjects.INBOX_STREAM, int(mid)):
                    acked += 1
            except NotFoundError:
                continue
        if acked:
            self.ctx.counters.add("p2p_delivered", acked)
        return {"acked": acked}

    async def history(self, data: bytes) -> dict:
        """Room messages after seq `after` that history still holds, oldest first."""
        query = msgspec.msgpack.decode(data, type=HistoryQuery)
        subject = subjects.room_msg(query.room)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            filter_subject=subject,
            inactive_threshold=10.0,
            mem_storage=True,
        )
        messages: list[RoomMessage] = []
        first: int | None = None
        try:
            info = await self.ctx.js.stream_info(subjects.ROOM_HISTORY_STREAM,
                                                 subjects_filter=subject)
            available = int((info.state.subjects or {}).get(subject, 0))
        except NotFoundError:
            available = 0
        if available:
            sub = await self.ctx.js.pull_subscribe(subject, stream=subjects.ROOM_HISTORY_STREAM,
                                                   config=config)
            try:
                remaining = available
                while remaining > 0:
                    batch = await sub.fetch(min(remaining, 256), timeout=HISTORY_FETCH_TIMEOUT)
                    remaining -= len(batch)
                    for msg in batch:
                        message = room_message_decoder.decode(msg.data)
                        if first is None:
                            first = message.seq
                        if message.seq > query.after:
                            messages.append(message)
            except TimeoutError:
                log.warning("history read timed out room=%s read=%d of %d", query.room,
                            available - remaining, available)
            finally:
                await sub.unsubscribe()
        messages = messages[:query.limit]
        return {"messages": [msgspec.to_builtins(m) for m in messages], "first": first}


async def setup(ctx: WorkerContext) -> None:
    from bus.streams import ensure_streams

    await ensure_streams(ctx.js, ctx.settings)
    service = ChatService(ctx)
    ctx.service.route(subjects.CHAT_SEND, service.send)
    ctx.service.route(subjects.CHAT_PENDING, service.pending)
    ctx.service.route(subjects.CHAT_ACK, service.ack)
    ctx.service.route(subjects.CHAT_HISTORY, service.history)
