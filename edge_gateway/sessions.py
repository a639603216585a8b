"""This gateway's users: their control and inbox subscriptions, kicks and version checks.

The control subscription of a user exists before the gateway asks the auth worker to log
the user in, so a kick published by a racing login on another gateway cannot be missed: a
kick that arrives while this login is in flight is remembered and applied to it as soon as
its version is known. Kicks travel over plain NATS and can be lost in a reconnect, so
`check_sessions` also asks the auth worker which sessions are still live.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from bus import subjects
from bus.codes import Close, Code
from bus.types import Kick, MuteNotice, RoomRemoved, user_control_decoder

if TYPE_CHECKING:
    from edge_gateway.connection import Connection
    from edge_gateway.gateway import Gateway

log = logging.getLogger("mimo.gateway.sessions")

# The close code that goes with the code of a `kicked` notice.
KICK_CLOSE = {
    Code.KICKED_BY_NEWER_LOGIN: Close.NEWER_LOGIN,
    Code.USER_BANNED: Close.USER_BANNED,
    Code.FORCED_LOGOUT: Close.FORCED_LOGOUT,
}


class UserEntry:
    __slots__ = ("uid", "connections", "logins", "subscription", "kick_floor")

    def __init__(self, uid: str) -> None:
        self.uid = uid
        self.connections: set[Connection] = set()
        self.logins = 0  # logins in flight
        self.subscription: Subscription | None = None  # user.<uid>.*: control and inbox
        # Kicks that arrived while a login was in flight: platform class -> version floor.
        self.kick_floor: dict[str | None, tuple[int, int]] = {}


class Sessions:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.users: dict[str, UserEntry] = {}

    async def begin_login(self, uid: str) -> UserEntry:
        entry = self.users.get(uid)
        if entry is None:
            entry = self.users[uid] = UserEntry(uid)
            entry.subscription = await self.gateway.nc.subscribe(
                subjects.user_all(uid), cb=self._callback(entry))
        entry.logins += 1
        return entry

    async def end_login(self, entry: UserEntry, conn: Connection | None) -> int | None:
        """Finish a login; `conn` is None when it failed. Returns the code of a kick that
        arrived during the login and already ends this session, or None."""
        entry.logins -= 1
        if conn is None:
            self._maybe_drop(entry)
            return None
        entry.connections.add(conn)
        kicked = None
        for cls in (None, conn.platform_class):
            floor = entry.kick_floor.get(cls)
            if floor is not None and conn.version < floor[0]:
                kicked = floor[1]
        if entry.logins == 0:
            entry.kick_floor.clear()
        return kicked

    def remove(self, conn: Connection) -> None:
        if conn.uid is None:
            return
        entry = self.users.get(conn.uid)
        if entry is None:
            return
        entry.connections.discard(conn)
        self._maybe_drop(entry)

    def _maybe_drop(self, entry: UserEntry) -> None:
        if entry.connections or entry.logins > 0:
            return
        self.users.pop(entry.uid, None)
        if entry.subscription is not None:
            subscription, entry.subscription = entry.subscription, None
            self.gateway.spawn(subscription.unsubscribe(), f"unsubscribe uid={entry.uid}")

    def _callback(self, entry: UserEntry):  # noqa: ANN202
        async def on_user_message(msg: Msg) -> None:
            if msg.subject.endswith(".inbox"):
                self.gateway.on_personal_message(entry, msg)
                return
            try:
                control = user_control_decoder.decode(msg.data)
            except msgspec.DecodeError:
                log.error("undecodable control message uid=%s", entry.uid)
                return
            if isinstance(control, Kick):
                self._apply_kick(entry, control)
            elif isinstance(control, RoomRemoved):
                self.gateway.remove_from_room(entry, control)
            elif isinstance(control, MuteNotice):
                notice = {"op": "muted", "until": control.until}
                if control.room is not None:
                    notice["room"] = control.room
                for conn in list(entry.connections):
                    conn.push(notice)
        return on_user_message

    def _apply_kick(self, entry: UserEntry, kick: Kick) -> None:
        if entry.logins > 0 and kick.session is None:
            current = entry.kick_floor.get(kick.platform_class)
            if current is None or current[0] < kick.below_version:
                entry.kick_floor[kick.platform_class] = (kick.below_version, kick.code)
        for conn in list(entry.connections):
            if kick.session is not None and conn.session != kick.session:
                continue
            if kick.platform_class is not None and conn.platform_class != kick.platform_class:
                continue
            if kick.session is None and conn.version >= kick.below_version:
                continue
            self.gateway.kick(conn, kick.code, kick.error)
