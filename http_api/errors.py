"""The API's single error shape, `{"code": <protocol code or -1>, "error": "..."}`, and its
HTTP status for each protocol code."""

import logging

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from bus.codes import Code, CommandError

log = logging.getLogger("mimo.api")

# HTTP status of each protocol code a worker may return. Code -1 is not listed: it is 503
# when no worker responded and 500 when a worker failed.
STATUS = {
    Code.AUTH_FAILED: 401,
    Code.USER_BANNED: 403, Code.USER_MUTED: 403, Code.ROOM_MUTED: 403, Code.ROOM_BANNED: 403,
    Code.NOT_A_MEMBER: 403, Code.PERMISSION_DENIED: 403, Code.BLOCKED: 403,
    Code.USER_NOT_FOUND: 404, Code.ROOM_NOT_FOUND: 404,
    Code.ROOM_FULL: 409, Code.ROOM_EXISTS: 409,
    Code.USER_RATE_LIMITED: 429, Code.ROOM_RATE_LIMITED: 429, Code.INBOX_FULL: 429,
    Code.INVALID_COMMAND: 400, Code.BODY_TOO_LARGE: 400,
}


class ErrorBody(msgspec.Struct):
    """The body of every error response."""

    code: int
    error: str


class ApiError(Exception):
    """An error with its HTTP status and protocol code, raised by route handlers."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> ApiError:
    """Build a 400 with code 4003 for input that passed the schema but is still invalid."""
    return ApiError(400, Code.INVALID_COMMAND, message)


def unavailable(message: str) -> ApiError:
    """Build a 503 with code -1 for a worker or NATS that did not respond."""
    return ApiError(503, Code.INTERNAL, message)


def _error(status: int, code: int, message: str) -> Response:
    return Response({"code": int(code), "error": message}, status_code=status)


def _handle_api_error(request: Request, exc: ApiError) -> Response:
    return _error(exc.status, exc.code, exc.message)


def _handle_command_error(request: Request, exc: CommandError) -> Response:
    if exc.code == Code.INTERNAL:
        # bus.connection.call raises code -1 only when no worker responded.
        return _error(503, Code.INTERNAL, exc.message)
    return _error(STATUS.get(exc.code, 400), exc.code, exc.message)


def _public_name(request: Request, key: str) -> str:
    """The name a client sends for handler argument `key` (e.g. `from` for `start`)."""
    try:
        parameter = request.route_handler.parsed_fn_signature.parameters[key]
        alias = getattr(parameter.kwarg_definition, "query", None)
    except (AttributeError, KeyError):
        return key
    return alias or key


def _describe_validation(request: Request, exc: ValidationException) -> str:
    """Name each failing field of a body or query, e.g. `body.name: Expected str`."""
    if not isinstance(exc.extra, list) or not exc.extra:
        return str(exc.detail)
    parts = []
    for item in exc.extra:
        if not isinstance(item, dict):
            parts.append(str(item))
            continue
        key = _public_name(request, str(item.get("key") or ""))
        source = item.get("source") or ""
        source = getattr(source, "value", source)  # litestar's ParamType enum
        where = ".".join(str(part) for part in (source, key) if part)
        message = item.get("message") or "invalid value"
        parts.append(f"{where}: {message}" if where else str(message))
    return "; ".join(parts)


def _handle_validation(request: Request, exc: ValidationException) -> Response:
    detail = _describe_validation(request, exc)
    return _error(422, Code.INVALID_COMMAND, f"invalid request: {detail}")


def _handle_http(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 401:
        return _error(401, Code.AUTH_FAILED, exc.detail)
    if exc.status_code == 413:
        # Litestar rejects a body over its request size limit before any route runs.
        return _error(400, Code.BODY_TOO_LARGE, "request body too large: a message body may "
                      "be at most MIMO_MAX_BODY bytes")
    if exc.status_code >= 500:
        return _error(exc.status_code, Code.INTERNAL, exc.detail)
    return _error(exc.status_code, Code.INVALID_COMMAND, exc.detail)


def _handle_other(request: Request, exc: Exception) -> Response:
    log.exception("request failed method=%s path=%s", request.method, request.url.path)
    return _error(500, Code.INTERNAL, "internal error")


HANDLERS = {
    ApiError: _handle_api_error,
    CommandError: _handle_command_error,
    ValidationException: _handle_validation,
    HTTPException: _handle_http,
    Exception: _handle_other,
}
