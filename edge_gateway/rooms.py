"""Room fan-out on one gateway: one subscription per room with local members.

A `RoomChannel` puts the room's messages in seq order (holding a later seq up to `gap_hold`
seconds for a missing one, then sending a `gap`), merges them over `batch_window` seconds or
`batch_max` messages, encodes each batch once per subprotocol and queues the same bytes on
every local member's connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from bus import subjects
from bus.types import (
    RoomDestroyed,
    RoomMessage,
    RoomOnline,
    room_event_decoder,
    room_message_decoder,
)
from edge_gateway.codec import CODECS, JSON, MSGPACK
from edge_gateway.outbound import PRIORITY_RANK, RANK_NEVER_SHED, Frame, gap_notice
from mimo.logs import RateLimitedLog

if TYPE_CHECKING:
    from edge_gateway.connection import Connection
    from edge_gateway.gateway import Gateway

log = logging.getLogger("mimo.gateway.rooms")
rare = RateLimitedLog(log)

def client_msg(message: RoomMessage) -> dict[str, Any]:
    return {"op": "msg", "mid": message.mid, "from": message.sender, "room": message.room,
            "body": message.body, "ts": message.ts, "seq": message.seq, "ack": False,
            "priority": message.priority}


class Member:
    """A connection's membership of one room on this gateway.

    While `buffer` is a list, the member is resuming from history and live items wait there.
    `outbound` and `text` are copied from the connection because `flush` reads them for every
    member of every batch.
    """

    __slots__ = ("conn", "outbound", "text", "buffer")

    def __init__(self, conn: Connection, resuming: bool) -> None:
        self.conn = conn
        self.outbound = conn.outbound
        self.text = conn.codec.text
        self.buffer: list[dict[str, Any]] | None = [] if resuming else None


class RoomChannel:
    def __init__(self, room: str, hub: RoomHub) -> None:
        self.room = room
        self.hub = hub
        self.members: dict[Connection, Member] = {}
        self.users: dict[str, int] = {}  # uid -> local connections in this room
        self.pending_joins = 0  # joins in flight that subscribed ahead of their reply
        self.subscription: Subscription | None = None
        self.next_seq: int | None = None  # None until a join reply gives the latest seq
        self.held: dict[int, RoomMessage] = {}
        self._hold_timer: asyncio.TimerHandle | None = None
        self._batch: list[dict[str, Any]] = []
        self._batch_rank = 0
        self._batch_from = 0
        self._batch_to = 0
        self._flush_timer: asyncio.TimerHandle | None = None

    # --- ordering ---------------------------------------------------------------------------

    def start_at(self, latest_seq: int) -> None:
        """Start ordering after `latest_seq` unless already started; deliver what waited."""
        if self.next_seq is None:
            self.next_seq = latest_seq + 1
            for seq in [seq for seq in self.held if seq <= latest_seq]:
                del self.held[seq]
            self._drain_held()
            if self.held:
                self._arm_hold()

    def on_message(self, message: RoomMessage) -> None:
        if self.next_seq is None:
            self.held[message.seq] = message
            return
        if message.seq < self.next_seq or message.seq in self.held:
            self.hub.gateway.stats.count_drop("duplicate")
            return
        if message.seq == self.next_seq:
            self._emit_message(message)
            self.next_seq += 1
            self._drain_held()
            if not self.held and self._hold_timer is not None:
                self._hold_timer.cancel()
                self._hold_timer = None
            return
        self.held[message.seq] = message
        self._arm_hold()

    def _drain_held(self) -> None:
        assert self.next_seq is not None
        while self.next_seq in self.held:
            self._emit_message(self.held.pop(self.next_seq))
            self.next_seq += 1

    def _arm_hold(self) -> None:
        if self._hold_timer is None:
            loop = asyncio.get_running_loop()
            self._hold_timer = loop.call_later(self.hub.settings.gap_hold, self._hold_expired)

    def _hold_expired(self) -> None:
        self._hold_timer = None
        if not self.held or self.next_seq is None:
            return
        lowest = min(self.held)
        if lowest > self.next_seq:
            rare.log(logging.INFO, f"gap:{self.room}", "gap room=%s from=%d to=%d",
                     self.room, self.next_seq, lowest - 1)
            self._emit(gap_notice(self.room, self.next_seq, lowest - 1), RANK_NEVER_SHED,
                       self.next_seq, lowest - 1)
            self.next_seq = lowest
        self._drain_held()
        if self.held:
            self._arm_hold()

    # --- batching ---------------------------------------------------------------------------

    def _emit_message(self, message: RoomMessage) -> None:
        self._emit(client_msg(message), PRIORITY_RANK.get(message.priority, 1), message.seq,
                   message.seq)

    def _emit(self, item: dict[str, Any], rank: int, from_seq: int, to_seq: int) -> None:
        if not self._batch:
            self._batch_from = from_seq
            self._batch_rank = rank
        else:
            self._batch_rank = max(self._batch_rank, rank)
        self._batch_to = to_seq
        self._batch.append(item)
        if len(self._batch) >= self.hub.settings.batch_max or self.hub.settings.batch_window <= 0:
            self.flush()
        elif self._flush_timer is None:
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(self.hub.settings.batch_window, self.flush)

    def flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if not self._batch:
            return

        items, self._batch = self._batch, []
        payload: Any = items[0] if len(items) == 1 else items
        batch = (self._batch_rank, self.room, self._batch_from, self._batch_to, items)
        json_frame = msgpack_frame = b""
        delivered = 0
        # The hot loop of fan-out: per member, one lookup of the shared bytes and one call.
        for member in self.members.values():
            if member.buffer is not None:
                member.buffer.extend(items)
                continue
            if member.text:
                if not json_frame:
                    json_frame = CODECS[JSON].encode_frame(payload)
                member.outbound.push_batch(json_frame, batch)
            else:
                if not msgpack_frame:
                    msgpack_frame = CODECS[MSGPACK].encode_frame(payload)
                member.outbound.push_batch(msgpack_frame, batch)
            delivered += 1

        stats = self.hub.gateway.stats
        now_ms = time.time() * 1000
        messages = 0
        for item in items:
            if item["op"] == "msg":
                messages += 1
                stats.observe_fanout(max(0.0, now_ms - item["ts"]) / 1000)
        stats.delivered_room += delivered * messages

    def broadcast(self, item: dict[str, Any]) -> None:
        """Queue one object (an event) on every member, encoded once per subprotocol."""
        self.flush()
        encoded: dict[str, bytes] = {}
        for member in self.members.values():
            codec = member.conn.codec
            data = encoded.get(codec.name)
            if data is None:
                data = encoded[codec.name] = codec.encode_frame(item)
            member.conn.outbound.push(Frame(data))

    def close(self) -> None:
        for timer in (self._hold_timer, self._flush_timer):
            if timer is not None:
                timer.cancel()
        self._hold_timer = self._flush_timer = None


class RoomHub:
    """The gateway's room channels and their subscriptions."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.settings = gateway.settings
        self.nc: Client = gateway.nc
        self.channels: dict[str, RoomChannel] = {}

    async def acquire(self, room: str) -> RoomChannel:
        """Return the room's channel, subscribed, counting one join in flight.

        The subscription exists before the join request goes out, so no message published
        after the join reply is missed. Pair every call with `attach` or `release`.
        """
        channel = self.channels.get(room)
        if channel is None:
            channel = self.channels[room] = RoomChannel(room, self)
            channel.subscription = await self.nc.subscribe(
                subjects.room_all(room), cb=self._callback(channel)
            )
        channel.pending_joins += 1
        return channel

    def _callback(self, channel: RoomChannel) -> Callable[[Msg], Any]:
        async def on_msg(msg: Msg) -> None:
            try:
                if msg.subject.endswith(".msg"):
                    channel.on_message(room_message_decoder.decode(msg.data))
                else:
                    self._on_event(channel, room_event_decoder.decode(msg.data))
            except msgspec.DecodeError:
                rare.log(logging.ERROR, "decode", "undecodable room payload subject=%s",
                         msg.subject)
                self.gateway.stats.count_drop("undecodable")
            except Exception:
                log.exception("room delivery failed room=%s", channel.room)
        return on_msg

    def _on_event(self, channel: RoomChannel, event: Any) -> None:
        if isinstance(event, RoomOnline):
            channel.broadcast({"op": "room.online", "room": event.room, "online": event.online})
        elif isinstance(event, RoomDestroyed):
            channel.broadcast({"op": "room.destroyed", "room": event.room})
            for conn in list(channel.members):
                self.detach(channel.room, conn)
                conn.rooms.discard(channel.room)

    def attach(self, channel: RoomChannel, conn: Connection, resuming: bool) -> Member:
        """Make `conn` a member after a successful join; ends one join in flight."""
        channel.pending_joins -= 1
        member = channel.members.get(conn)
        if member is None:
            member = channel.members[conn] = Member(conn, resuming)
            uid = conn.uid or ""
            count = channel.users.get(uid, 0)
            channel.users[uid] = count + 1
            if count == 0:
                self.gateway.presence.add(channel.room, uid)
        elif resuming and member.buffer is None:
            member.buffer = []
        conn.rooms.add(channel.room)
        return member

    def release(self, channel: RoomChannel) -> None:
        """End one join in flight that failed, and drop the channel if no member needs it."""
        channel.pending_joins -= 1
        self._maybe_drop(channel)

    def detach(self, room: str, conn: Connection) -> None:
        channel = self.channels.get(room)
        if channel is None or channel.members.pop(conn, None) is None:
            return
        uid = conn.uid or ""
        count = channel.users.get(uid, 0) - 1
        if count <= 0:
            channel.users.pop(uid, None)
            self.gateway.presence.remove(room, uid)
        else:
            channel.users[uid] = count
        self._maybe_drop(channel)

    def _maybe_drop(self, channel: RoomChannel) -> None:
        if channel.members or channel.pending_joins > 0:
            return
        channel.flush()
        channel.close()
        self.channels.pop(channel.room, None)
        if channel.subscription is not None:
            subscription, channel.subscription = channel.subscription, None
            self.gateway.spawn(subscription.unsubscribe(), f"unsubscribe room={channel.room}")

    def finish_resume(self, channel: RoomChannel, member: Member, items: list[dict],
                      upto: int) -> None:
        """Send a resuming member its replay (gaps and messages up to seq `upto`, in seq
        order), then the live items that waited, skipping what the replay covered."""
        conn = member.conn
        last = upto
        for item in member.buffer or ():
            to_seq = item["seq"] if item["op"] == "msg" else item["to_seq"]
            if to_seq <= last:
                continue
            items.append(item)
            last = to_seq
        member.buffer = None
        size = self.settings.batch_max
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            payload = chunk[0] if len(chunk) == 1 else chunk
            conn.outbound.push(Frame(conn.codec.encode_frame(payload)))
        self.gateway.stats.delivered_room += sum(1 for item in items if item["op"] == "msg")


__all__ = ["RoomHub", "RoomChannel", "Member", "gap_notice", "JSON", "MSGPACK"]
