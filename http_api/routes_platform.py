"""Tokens, personal messages, broadcasts, the audit log, daily metrics, health and metrics."""

import asyncio
import secrets
import time
from datetime import UTC, datetime

from litestar import Request, Response, get, post
from litestar.params import Parameter

from bus import body as body_checks
from bus import commands, subjects
from bus.codes import Code
from bus.connection import call
from bus.types import Actor, Broadcast, UserRequest, encode
from bus.types import Request as BusRequest
from http_api.auth import authenticate
from http_api.bus_calls import ask, check_id, nats_client
from http_api.errors import unavailable
from http_api.metrics import CONTENT_TYPE, Aggregator
from http_api.schemas import BroadcastRequest, PersonalMessageRequest, TokenRequest
from mimo import tokens
from mimo.settings import Settings

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
READY_PROBE_ID = "readyz-probe"  # user and room id the readiness probes ask about
READY_TIMEOUT = 2.0  # seconds each worker kind has to answer a readiness probe


@get("/healthz", summary="Process is up", tags=["health"])
async def healthz() -> dict:
    return {"status": "ok"}


def _probes() -> dict[str, tuple[str, object]]:
    """One harmless request per worker kind; the auth and rooms probes also read Valkey."""
    today = datetime.now(UTC).date().isoformat()
    return {
        "auth": (subjects.AUTH_SESSIONS, UserRequest(uid=READY_PROBE_ID)),
        "rooms": (subjects.ROOMS_METRICS, {"start": today, "end": today}),
        "chat": (subjects.CHAT_HISTORY, {"room": READY_PROBE_ID, "after": 0, "limit": 1}),
        "moderation": (subjects.MOD_BLOCKS, BusRequest(
            actor=Actor(uid=READY_PROBE_ID, api="api:readyz"), cmd=commands.Blocks(limit=1))),
    }


@get("/readyz", summary="NATS, Valkey and every worker kind answer", tags=["health"],
     description="200 when NATS is connected and each worker kind answered a probe (the auth "
                 "and rooms probes read Valkey); otherwise 503 with the failing checks.")
async def readyz(request: Request) -> Response:
    nc = nats_client(request)
    checks: dict[str, str] = {"nats": "ok" if nc.is_connected else "not connected"}

    async def probe(subject: str, payload: object) -> str:
        try:
            reply = await call(nc, subject, payload, READY_TIMEOUT)
        except Exception as error:  # no responders, timeout, or NATS down
            return f"no answer: {error}"
        if reply.code == Code.INTERNAL:
            return f"failed: {reply.error}"
        return "ok"

    probes = _probes()
    if checks["nats"] == "ok":
        results = await asyncio.gather(*(probe(subject, payload)
                                         for subject, payload in probes.values()))
        checks.update(zip(probes, results, strict=True))
        checks["valkey"] = "ok" if checks["auth"] == "ok" and checks["rooms"] == "ok" \
            else "unknown: the auth or rooms probe failed"
    ready = all(value == "ok" for value in checks.values())
    return Response({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@post("/v1/tokens", summary="Issue a client token", status_code=201, tags=["users"],
      description="Returns a JWT for `uid` that is valid for `ttl` seconds "
                  "(default MIMO_TOKEN_TTL).")
async def issue_token(request: Request, data: TokenRequest) -> dict:
    authenticate(request)
    settings: Settings = request.app.state.settings
    ttl = data.ttl or settings.token_ttl
    return {"token": tokens.issue(data.uid, settings.jwt_secret, ttl), "expires_in": ttl}


@post("/v1/messages", summary="Send a personal message", status_code=201, tags=["messages"],
      description="Passes the sender's ban, mute and the recipient's block checks (not the "
                  "sender's rate limit). Returns the receipt: `mid`, `seq`, `ts`.")
async def personal_message(request: Request, data: PersonalMessageRequest) -> dict:
    label = authenticate(request)
    settings: Settings = request.app.state.settings
    body_checks.check_body(data.body, body_checks.json_size(data.body), settings.max_body)
    cid = data.cid or f"api-{secrets.token_hex(12)}"
    cmd = commands.Send(cid=cid, body=data.body, to=data.to, priority=data.priority)
    return await ask(request, subjects.CHAT_SEND,
                     BusRequest(actor=Actor(uid=data.sender, api=label), cmd=cmd))


@post("/v1/broadcast", summary="Broadcast to every connection", status_code=202,
      tags=["messages"],
      description="Every gateway pushes `{\"op\": \"broadcast\", \"body\", \"ts\"}` to each "
                  "connection it has. Delivery is best effort: nothing is stored.")
async def broadcast(request: Request, data: BroadcastRequest) -> dict:
    authenticate(request)
    settings: Settings = request.app.state.settings
    body_checks.check_body(data.body, body_checks.json_size(data.body), settings.max_body)
    ts = int(time.time() * 1000)
    try:
        await nats_client(request).publish(subjects.BROADCAST_ALL,
                                           encode(Broadcast(body=data.body, ts=ts)))
    except Exception as error:
        raise unavailable(f"broadcast failed: {error}") from None
    return {"ts": ts}


@get("/v1/moderation/audit", summary="Read the moderation audit log", tags=["moderation"],
     description="Newest first; filter by `room`, by target `uid`, and by `since` (ms). "
                 "Paged: a `cursor` is returned while older matching entries remain.")
async def audit_log(
    request: Request,
    room: str | None = Parameter(default=None, description="Only entries of this room"),
    uid: str | None = Parameter(default=None, description="Only entries targeting this user"),
    since: int = Parameter(default=0, ge=0, description="Only entries at or after (ms)"),
    limit: int = Parameter(default=100, ge=1, le=1000, description="Maximum entries"),
    cursor: str | None = Parameter(default=None, max_length=64,
                                   description="`cursor` of the previous page"),
) -> dict:
    label = authenticate(request)
    if room is not None:
        check_id(room, "room id")
    if uid is not None:
        check_id(uid, "user id")
    query = {"room": room, "uid": uid, "since": since, "limit": limit, "cursor": cursor,
             "actor": label}
    return await ask(request, subjects.MOD_AUDIT, query)


@get("/v1/metrics/daily", summary="Daily counters over a date range", tags=["metrics"],
     description="One row per day (UTC) from `from` to `to`, at most 366 days. `login_users` "
                 "and `active_users` are HyperLogLog estimates (standard error 0.81 %); the "
                 "other counters are exact.")
async def daily_metrics(
    request: Request,
    start: str = Parameter(query="from", pattern=DATE_PATTERN, description="YYYY-MM-DD"),
    end: str = Parameter(query="to", pattern=DATE_PATTERN, description="YYYY-MM-DD"),
) -> dict:
    authenticate(request)
    return await ask(request, subjects.ROOMS_METRICS, {"start": start, "end": end})


@get("/v1/stats/overview", summary="Live connections and message rates", tags=["metrics"],
     description="Connections per gateway and messages per second over the last 10 s, "
                 "aggregated from gateway and worker reports.")
async def overview(request: Request) -> dict:
    authenticate(request)
    aggregator: Aggregator = request.app.state.aggregator
    return aggregator.overview()


@get("/metrics", summary="Prometheus metrics", tags=["metrics"], media_type=CONTENT_TYPE,
     description="Text exposition format 0.0.4. Not authenticated, like most scrape "
                 "targets: bind the API to a private address.")
async def prometheus(request: Request) -> Response:
    aggregator: Aggregator = request.app.state.aggregator
    return Response(aggregator.render(), media_type=CONTENT_TYPE)


ROUTES = [
    healthz, readyz, issue_token, personal_message, broadcast, audit_log, daily_metrics,
    overview, prometheus,
]
