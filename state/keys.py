"""Every Valkey key, built in one place. Ids are validated before they get here."""

from bus.subjects import check_id


class UserKeys:
    """The keys of one user, all in the user's slot `{u:<uid>}`."""

    __slots__ = ("uid", "tag")

    def __init__(self, uid: str) -> None:
        self.uid = check_id(uid)
        self.tag = f"{{u:{uid}}}"

    @property
    def profile(self) -> str:
        return f"{self.tag}:profile"  # hash: created (ms), registered_by

    @property
    def session_version(self) -> str:
        return f"{self.tag}:sver"  # integer, incremented by every login

    @property
    def sessions(self) -> str:
        return f"{self.tag}:sessions"  # hash: session id -> JSON session info

    @property
    def ended(self) -> str:
        return f"{self.tag}:ended"  # hash: session id -> code that ended it

    @property
    def revoked_at(self) -> str:
        return f"{self.tag}:revoked_at"  # ms: tokens issued at or before it are revoked

    @property
    def revoked_tokens(self) -> str:
        return f"{self.tag}:revoked_tokens"  # zset: token fingerprint -> token expiry (ms)

    @property
    def rooms(self) -> str:
        return f"{self.tag}:rooms"  # set of room ids (an index, checked against the room)

    @property
    def ban(self) -> str:
        return f"{self.tag}:ban"  # until (ms, -1 = until lifted), with a matching expiry

    @property
    def mute(self) -> str:
        return f"{self.tag}:mute"  # until (ms, -1 = until lifted), with a matching expiry

    @property
    def blocks(self) -> str:
        return f"{self.tag}:blocks"  # zset: blocked uid -> time blocked (ms)

    @property
    def rate(self) -> str:
        return f"{self.tag}:rate"  # token bucket: t (tokens), ts (ms)

    @property
    def audit(self) -> str:
        return f"{self.tag}:audit"  # list of JSON audit entries, newest first

    def cid(self, cid: str) -> str:
        return f"{self.tag}:cid:{cid}"  # "pending" or the JSON receipt of a send


class RoomKeys:
    """The keys of one room, all in the room's slot `{r:<room>}`."""

    __slots__ = ("room", "tag")

    def __init__(self, room: str) -> None:
        self.room = check_id(room)
        self.tag = f"{{r:{room}}}"

    @property
    def meta(self) -> str:
        return f"{self.tag}:meta"  # hash: name, owner, max_members, created, muted_all, rate

    @property
    def seq(self) -> str:
        return f"{self.tag}:seq"  # latest room seq; kept after destroy so a new room continues

    @property
    def members(self) -> str:
        return f"{self.tag}:members"  # hash: uid -> role (owner, admin, member)

    @property
    def mutes(self) -> str:
        return f"{self.tag}:mutes"  # hash: uid -> until (ms, -1 = until lifted)

    @property
    def bans(self) -> str:
        return f"{self.tag}:bans"  # hash: uid -> until (ms, -1 = until lifted)

    @property
    def rate(self) -> str:
        return f"{self.tag}:rate"  # token bucket of room messages

    @property
    def gateways(self) -> str:
        return f"{self.tag}:gws"  # zset: gateway id -> presence expiry (ms)

    def online_on(self, gateway: str) -> str:
        return f"{self.tag}:on:{gateway}"  # hash: uid -> 1, users online on that gateway

    @property
    def online(self) -> str:
        return f"{self.tag}:online"  # hash: uid -> number of gateways it is online on

    @property
    def notified(self) -> str:
        return f"{self.tag}:notified"  # hash: count, ts of the last room.online notice

    @property
    def audit(self) -> str:
        return f"{self.tag}:audit"  # list of JSON audit entries, newest first

    def cid(self, uid: str, cid: str) -> str:
        return f"{self.tag}:cid:{uid}:{cid}"  # JSON receipt of a room send, for retries


def gateway_rooms(gateway: str) -> str:
    """Set of rooms where `gateway` reported presence, for cleanup after it dies."""
    return f"{{g:{check_id(gateway)}}}:rooms"


GATEWAYS = "{gateways}:alive"  # zset: gateway id -> presence expiry (ms)
AUDIT_ALL = "{audit}:all"  # list of JSON audit entries, newest first
USERS_ALL = "{users}:all"  # set of registered user ids


def metric_day(day: str, name: str) -> str:
    """A daily counter (`day` is YYYY-MM-DD, UTC); unique counts are HyperLogLogs."""
    return f"{{metrics}}:{day}:{name}"
