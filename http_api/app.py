"""The Litestar application. Every operation goes to the workers over the bus."""

import hashlib
import hmac
import logging
import secrets
from typing import Any, Literal

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from nats.aio.client import Client

from bus import body as body_checks
from bus import commands, subjects
from bus.codes import Code, CommandError
from bus.connection import call, connect_with_retry
from bus.types import Actor
from bus.types import Request as BusRequest
from mimo import tokens
from mimo.settings import Settings

# HTTP status of each protocol code.
STATUS = {
    Code.INTERNAL: 500, Code.AUTH_FAILED: 401, Code.USER_BANNED: 403, Code.USER_NOT_FOUND: 404,
    Code.USER_MUTED: 403, Code.ROOM_NOT_FOUND: 404, Code.ROOM_FULL: 409, Code.ROOM_MUTED: 403,
    Code.ROOM_BANNED: 403, Code.NOT_A_MEMBER: 403, Code.PERMISSION_DENIED: 403,
    Code.ROOM_EXISTS: 409, Code.BLOCKED: 403, Code.USER_RATE_LIMITED: 429,
    Code.ROOM_RATE_LIMITED: 429, Code.INVALID_COMMAND: 400, Code.BODY_TOO_LARGE: 400,
    Code.INBOX_FULL: 429,
}


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error(status: int, code: int, message: str) -> Response:
    return Response({"code": int(code), "error": message}, status_code=status)


def _handle_api_error(request: Request, exc: ApiError) -> Response:
    return _error(exc.status, exc.code, exc.message)


def _handle_command_error(request: Request, exc: CommandError) -> Response:
    if exc.code == Code.INTERNAL:
        return _error(503, Code.INTERNAL, exc.message)
    return _error(STATUS.get(exc.code, 400), exc.code, exc.message)


def _handle_validation(request: Request, exc: ValidationException) -> Response:
    detail = exc.extra if exc.extra else exc.detail
    return _error(422, Code.INVALID_COMMAND, f"invalid request: {detail}")


def _handle_http(request: Request, exc: HTTPException) -> Response:
    code = Code.AUTH_FAILED if exc.status_code == 401 else Code.INVALID_COMMAND
    return _error(exc.status_code, code, exc.detail)


def _handle_other(request: Request, exc: Exception) -> Response:
    logging.getLogger("mimo.api").exception("request failed path=%s", request.url.path)
    return _error(HTTP_500_INTERNAL_SERVER_ERROR, Code.INTERNAL, "internal error")


def key_label(key: str) -> str:
    """The audit actor of a REST call: `api:` and the first 8 hex digits of the key's SHA-256."""
    return "api:" + hashlib.sha256(key.encode()).hexdigest()[:8]


def authenticate(request: Request) -> str:
    """Return the audit label of the request's API key, or raise 401."""
    settings: Settings = request.app.state.settings
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() == "bearer" and key:
        for candidate in settings.api_keys:
            if hmac.compare_digest(candidate.encode(), key.encode()):
                return key_label(candidate)
    raise ApiError(401, Code.AUTH_FAILED, "missing or invalid API key: send "
                   "'Authorization: Bearer KEY' with a key from MIMO_API_KEYS")


def nats(request: Request) -> Client:
    return request.app.state.nc


class TokenRequest(msgspec.Struct):
    uid: commands.Id
    ttl: int | None = None


class RoomMessageRequest(msgspec.Struct):
    body: Any
    sender: commands.Id | None = msgspec.field(default=None, name="from")
    priority: Literal["high", "normal", "low"] = "normal"
    cid: commands.ClientMsgId | None = None


@get("/healthz", summary="Process is up")
async def healthz() -> dict:
    return {"status": "ok"}


@post("/v1/tokens", summary="Issue a client token", status_code=201)
async def issue_token(request: Request, data: TokenRequest) -> dict:
    authenticate(request)
    settings: Settings = request.app.state.settings
    ttl = data.ttl or settings.token_ttl
    if ttl <= 0:
        raise ApiError(400, Code.INVALID_COMMAND, "ttl must be a positive number of seconds")
    return {"token": tokens.issue(data.uid, settings.jwt_secret, ttl), "expires_in": ttl}


@post("/v1/rooms/{room:str}/messages", summary="Send a room message", status_code=201)
async def room_message(request: Request, room: str, data: RoomMessageRequest) -> dict:
    label = authenticate(request)
    settings: Settings = request.app.state.settings
    if not subjects.is_valid_id(room):
        raise ApiError(400, Code.INVALID_COMMAND, f"invalid room id {room!r}")
    body_checks.check_body(data.body, body_checks.json_size(data.body), settings.max_body)
    cid = data.cid or f"api-{secrets.token_hex(12)}"
    cmd = commands.Send(cid=cid, body=data.body, room=room, priority=data.priority)
    actor = Actor(uid=data.sender, api=label)
    reply = await call(nats(request), subjects.CHAT_SEND, BusRequest(actor=actor, cmd=cmd),
                       settings.request_timeout)
    if reply.code != Code.OK:
        raise CommandError(Code(reply.code), reply.error)
    return reply.data


def create_app(settings: Settings) -> Litestar:
    async def startup(app: Litestar) -> None:
        app.state.nc = await connect_with_retry(settings.nats_url, "mimo-api")

    async def shutdown(app: Litestar) -> None:
        await app.state.nc.drain()

    return Litestar(
        route_handlers=[healthz, issue_token, room_message],
        on_startup=[startup],
        on_shutdown=[shutdown],
        state=State({"settings": settings}),
        exception_handlers={
            ApiError: _handle_api_error,
            CommandError: _handle_command_error,
            ValidationException: _handle_validation,
            HTTPException: _handle_http,
            Exception: _handle_other,
        },
    )
